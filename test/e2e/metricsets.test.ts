/**
 * End to end: error events POSTed as JSON, NDJSON and as OTLP logs by the
 * real @opentelemetry/sdk-logs + exporter-logs-otlp-http client → errors/otlp
 * receivers → metricsets → the file exporter, the prometheus store scraped
 * by a real Prometheus, and the influxdb push store writing to a real
 * InfluxDB (one store with the set's period, one with twice it: the two
 * windows merged, uniques as the union); expected numbers for two
 * consecutive periods.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { startInfluxDB, startPrometheus, usePeer, type InfluxDBPeer, type PrometheusPeer } from '../harness/peers.js';
import { freePort, waitFor } from '../harness/ports.js';
import { startMetricport, type Started } from './metricport.js';

const PERIOD_MS = 2000;
const TOKEN = 'SECRET-e2e-metricsets-token-0123';

interface FilePoint {
  name: string;
  start: bigint;
  value: number;
  attrs: Record<string, string>;
}

function filePoints(file: string): FilePoint[] {
  if (!existsSync(file)) return [];
  const out: FilePoint[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const req = JSON.parse(line);
    for (const rm of req.resourceMetrics ?? [])
      for (const sm of rm.scopeMetrics ?? [])
        for (const m of sm.metrics ?? []) {
          for (const p of (m.sum ?? m.gauge).dataPoints) {
            const attrs: Record<string, string> = {};
            for (const a of p.attributes ?? []) attrs[a.key] = a.value.stringValue;
            out.push({ name: m.name, start: BigInt(p.startTimeUnixNano), value: Number(p.asInt ?? p.asDouble), attrs });
          }
        }
  }
  return out;
}

/** measurement{tags}@time(ns) → value, for every Errors.* series in the database */
async function influxValues(influx: InfluxDBPeer, db: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const r of await influx.query(db, 'SELECT * FROM /^Errors\\./')) {
    for (const s of r.series ?? []) {
      const cols = s.columns;
      for (const row of s.values) {
        const tags: Record<string, unknown> = {};
        cols.forEach((c, i) => {
          if (c !== 'time' && c !== 'value' && row[i] !== null) tags[c] = row[i];
        });
        out[`${s.name}${JSON.stringify(tags)}@${BigInt(row[cols.indexOf('time')] as number)}`] = row[cols.indexOf('value')] as number;
      }
    }
  }
  return out;
}

describe('e2e: error events → metricsets → file, a real Prometheus and a real InfluxDB, two consecutive periods', function () {
  this.timeout(90_000);
  let mp: Started | undefined;
  let prom: PrometheusPeer | undefined;
  let influx: InfluxDBPeer | undefined;
  let promPort = 0;

  before(async function () {
    await usePeer(this, 'prometheus', 'influxdb');
    influx = await startInfluxDB();
    await influx.createDatabase('errors');
    await influx.createDatabase('errors2x');
    promPort = await freePort();
    mp = await startMetricport(`
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
  errors: { endpoint: "{{OTLP}}" }
processors:
  metricsets:
    period: ${PERIOD_MS}ms
    allowed_lateness: 500ms
    sets:
      - name: E2E
        metrics:
          - name: Errors
            group_by: [app.version]
            group_by_defaults: { app.version: none }
            aggregates: [count, unique(_tx), unique(guid)]
exporters:
  file: { path: "{{DIR}}/out.jsonl", flush_interval: 100ms }
  prometheus: { endpoint: "127.0.0.1:${promPort}", token: ${TOKEN} }
  influxdb: { endpoint: "${influx.url}", db: errors, period: ${PERIOD_MS}ms }
  influxdb/2x: { endpoint: "${influx.url}", db: errors2x, period: ${2 * PERIOD_MS}ms }
service:
  pipelines:
    errors: { receivers: [errors, otlp], processors: [metricsets], exporters: [file, prometheus, influxdb, influxdb/2x] }
`);
    prom = await startPrometheus({ scrapeTargets: [{ target: `127.0.0.1:${promPort}`, metricsPath: `/${TOKEN}/metrics` }], scrapeInterval: '1s' });
  });
  after(async () => {
    await prom?.stop();
    await mp?.stop();
    await influx?.stop();
  });

  it('JSON, NDJSON and SDK log records land in their windows with exact counts and uniques', async () => {
    const started = mp!;
    const P = BigInt(PERIOD_MS) * 1_000_000n;
    // start at the beginning of the next window, so that both batches are sent well before their windows close;
    // an even window, so that A and B share one period of the 2x store
    const k0 = Math.floor(Date.now() / PERIOD_MS) + 1;
    const k = k0 % 2 === 0 ? k0 : k0 + 1;
    await waitFor(() => Date.now() >= k * PERIOD_MS + 50, { timeoutMs: 10_000, what: 'the next even window to begin' });
    const tA = BigInt(k) * P;
    const tB = tA + P;
    const post = async (body: string, ct: string) => {
      const r = await fetch(`${started.otlpUrl}/v1/errors`, { method: 'POST', headers: { 'content-type': ct }, body });
      return { status: r.status, body: await r.json() };
    };
    const iso = (ns: bigint) => new Date(Number(ns / 1_000_000n)).toISOString();

    // window A: 3 events by JSON array (2.0), 2 by NDJSON (2.0, none), 2 by the SDK (2.1) → 7 events
    expect(
      await post(
        JSON.stringify([
          { timestamp: iso(tA + 10_000_000n), attributes: { _tx: 'a1', guid: 'u1', 'app.version': '2.0' } },
          { timestamp: String(tA + 20_000_000n), attributes: { _tx: 'a2', guid: 'u1', 'app.version': '2.0' } },
          { timestamp: Number(tA / 1_000_000n) + 30, attributes: { _tx: 'a2', guid: 'u2', 'app.version': '2.0' } },
        ]),
        'application/json',
      ),
    ).to.deep.equal({ status: 200, body: { accepted: 3, rejected: 0 } });
    expect(
      await post(
        [
          JSON.stringify({ timestamp: Number(tA / 1_000_000_000n) + 0.04, attributes: { _tx: 'a3', guid: 'u3', 'app.version': '2.0' } }),
          '{ this line is broken',
          JSON.stringify({ timestamp: iso(tA + 50_000_000n), attributes: { _tx: 'a4', guid: 'u3' } }),
        ].join('\n'),
        'application/x-ndjson',
      ),
    ).to.deep.include({ status: 200 });

    const provider = new LoggerProvider({
      processors: [new SimpleLogRecordProcessor({ exporter: new OTLPLogExporter({ url: `${started.otlpUrl}/v1/logs` }) })],
    });
    const logger = provider.getLogger('e2e');
    const emit = (t: bigint, attrs: Record<string, string>, severityNumber = SeverityNumber.ERROR) =>
      logger.emit({ timestamp: new Date(Number(t / 1_000_000n)), severityNumber, severityText: 'ERROR', body: 'crash', attributes: attrs });
    emit(tA + 60_000_000n, { _tx: 'a5', guid: 'u4', 'app.version': '2.1' });
    emit(tA + 70_000_000n, { _tx: 'a6', guid: 'u4', 'app.version': '2.1', 'exception.type': 'E' }, SeverityNumber.WARN);
    emit(tA + 80_000_000n, { _tx: 'a7', guid: 'u5', 'app.version': '2.1' }, SeverityNumber.INFO); // filtered: below ERROR, no exception.*
    await provider.forceFlush();

    // window B
    await waitFor(() => Date.now() >= Number(tB / 1_000_000n) + 50, { timeoutMs: 5_000, what: 'window B to begin' });
    expect(
      (await post(JSON.stringify({ timestamp: iso(tB + 1_000_000n), attributes: { _tx: 'b1', guid: 'u9', 'app.version': '2.1' } }), 'application/json')).status,
    ).to.equal(200);
    emit(tB + 2_000_000n, { _tx: 'b2', guid: 'u4', 'app.version': '2.1' }); // u4 was seen in A too: 2 users in B, 2 (not 3) over A and B
    await provider.forceFlush();
    await provider.shutdown();

    const file = join(started.dir, 'out.jsonl');
    await waitFor(() => filePoints(file).some((p) => p.start === tB), { timeoutMs: 10_000, what: 'window B in the file' });
    const byWindow = (start: bigint) =>
      Object.fromEntries(
        filePoints(file)
          .filter((p) => p.start === start)
          .map((p) => [`${p.name}${JSON.stringify(p.attrs)}`, p.value]),
      );
    expect(byWindow(tA)).to.deep.equal({
      'Errors.count{"app.version":"2.0"}': 4,
      'Errors.count{"app.version":"none"}': 1,
      'Errors.count{"app.version":"2.1"}': 2,
      'Errors.unique._tx{"app.version":"2.0"}': 3,
      'Errors.unique._tx{"app.version":"none"}': 1,
      'Errors.unique._tx{"app.version":"2.1"}': 2,
      'Errors.unique.guid{"app.version":"2.0"}': 3,
      'Errors.unique.guid{"app.version":"none"}': 1,
      'Errors.unique.guid{"app.version":"2.1"}': 1,
    });
    expect(byWindow(tB)).to.deep.equal({
      'Errors.count{"app.version":"2.1"}': 2,
      'Errors.unique._tx{"app.version":"2.1"}': 2,
      'Errors.unique.guid{"app.version":"2.1"}': 2,
    });

    // the real Prometheus: the delta counts accumulate into a counter (A + B), the uniques show the last window
    const counts = async () => Object.fromEntries((await prom!.queryValues('{__name__=~"Errors_count.*"}')).map((s) => [s.metric.app_version, s.value]));
    await waitFor(async () => (await counts())['2.1'] === 4, { timeoutMs: 15_000, what: 'Prometheus to show the 2.1 counter after window B' });
    expect(await counts()).to.deep.equal({ '2.0': 4, none: 1, '2.1': 4 });
    const guids = Object.fromEntries((await prom!.queryValues('{__name__=~"Errors_unique.*guid.*"}')).map((s) => [s.metric.app_version, s.value]));
    expect(guids['2.1']).to.equal(2);

    // the real InfluxDB, store period = the window: each window's numbers at its own end (tA + P, tB + P)
    const endA = tA + P;
    const endB = tB + P;
    await waitFor(async () => Object.keys(await influxValues(influx!, 'errors')).some((key) => key.endsWith(`@${endB}`)), {
      timeoutMs: 15_000,
      what: 'InfluxDB to hold window B',
    });
    expect(await influxValues(influx!, 'errors')).to.deep.equal({
      [`Errors.count{"app.version":"2.0"}@${endA}`]: 4,
      [`Errors.count{"app.version":"none"}@${endA}`]: 1,
      [`Errors.count{"app.version":"2.1"}@${endA}`]: 2,
      [`Errors.unique._tx{"app.version":"2.0"}@${endA}`]: 3,
      [`Errors.unique._tx{"app.version":"none"}@${endA}`]: 1,
      [`Errors.unique._tx{"app.version":"2.1"}@${endA}`]: 2,
      [`Errors.unique.guid{"app.version":"2.0"}@${endA}`]: 3,
      [`Errors.unique.guid{"app.version":"none"}@${endA}`]: 1,
      [`Errors.unique.guid{"app.version":"2.1"}@${endA}`]: 1,
      [`Errors.count{"app.version":"2.1"}@${endB}`]: 2,
      [`Errors.unique._tx{"app.version":"2.1"}@${endB}`]: 2,
      [`Errors.unique.guid{"app.version":"2.1"}@${endB}`]: 2,
    });
    // store period = 2 windows: A and B in one point at tA + 2P; counts add, uniques are the union (2.1: users u4, u9 = 2, not 1 + 2)
    await waitFor(async () => Object.keys(await influxValues(influx!, 'errors2x')).length > 0, { timeoutMs: 15_000, what: 'InfluxDB to hold the 2x period' });
    expect(await influxValues(influx!, 'errors2x')).to.deep.equal({
      [`Errors.count{"app.version":"2.0"}@${endB}`]: 4,
      [`Errors.count{"app.version":"none"}@${endB}`]: 1,
      [`Errors.count{"app.version":"2.1"}@${endB}`]: 4,
      [`Errors.unique._tx{"app.version":"2.0"}@${endB}`]: 3,
      [`Errors.unique._tx{"app.version":"none"}@${endB}`]: 1,
      [`Errors.unique._tx{"app.version":"2.1"}@${endB}`]: 4,
      [`Errors.unique.guid{"app.version":"2.0"}@${endB}`]: 3,
      [`Errors.unique.guid{"app.version":"none"}@${endB}`]: 1,
      [`Errors.unique.guid{"app.version":"2.1"}@${endB}`]: 2,
    });

    // status: the filtered INFO record is counted at the receiver, the broken NDJSON line as rejected
    const status = (await (await fetch(`${started.adminUrl}/api/v1/status`)).json()) as { receivers: Array<{ id: string; counters: Record<string, number> }> };
    expect(status.receivers.find((r) => r.id === 'otlp')!.counters.filtered_log_records).to.equal(1);
    expect(status.receivers.find((r) => r.id === 'errors')!.counters).to.deep.include({ accepted: 6, rejected: 1 });
    const defs = (await (await fetch(`${started.adminUrl}/api/v1/metricsets`)).json()) as {
      metricsets: Array<{ name: string; processor: string; period_ms: number }>;
    };
    expect(defs.metricsets.map((m) => [m.name, m.processor, m.period_ms])).to.deep.equal([['E2E', 'metricsets', 2000]]);
    const prev = await fetch(`${started.adminUrl}/api/v1/metricsets/E2E/preview`);
    expect(prev.status).to.equal(200);
    expect(((await prev.json()) as { metricset: string }).metricset).to.equal('E2E');
    expect((await fetch(`${started.adminUrl}/api/v1/metricsets/Nope/preview`)).status).to.equal(404);
  });
});
