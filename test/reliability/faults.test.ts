/**
 * Fault injection against each push store family, end to end (the built
 * service, OTLP in):
 * - TCP: graphite → a real carbon-cache;
 * - HTTP: influxdb → a real InfluxDB 1.x, datadog → its test double;
 * each behind a FaultProxy (test/storehelper/faultproxy.ts) that refuses
 * connections, resets mid-request, stalls 30 s, answers a 5xx storm or 429
 * with Retry-After. A second service points every store at a name under
 * `.invalid` (DNS failure) and recovers through a reload.
 *
 * After every phase the counters explain every point, exactly, per store:
 * sent + Σ dropped (by reason) + queued = produced, from /api/v1/status and
 * from /metrics; what arrived at the store equals `sent` (graphite: sent =
 * lines carbon got + lines a reset swallowed after the kernel took them —
 * Carbon plaintext has no acknowledgement). During faults /healthz stays 200
 * (retries never run out here, and `unhealthy_after_periods: 60` outlasts every
 * phase: failing hard is test/e2e/health.test.ts) and the queue never exceeds
 * its bound.
 */
import { expect } from 'chai';
import { startCarbon, startInfluxDB, usePeer, type CarbonPeer, type InfluxDBPeer } from '../harness/peers.js';
import { waitFor } from '../harness/ports.js';
import { HttpDouble } from '../storehelper/double.js';
import { FaultProxy, type FaultMode } from '../storehelper/faultproxy.js';
import { startMetricport, type Started } from '../e2e/metricport.js';

const DD_KEY = 'SECRET-dd-key-5c1e9a7b3d';
const INFLUX_PASSWORD = 'SECRET-influx-pw-8d2f4a6c';
const STORES = ['influxdb', 'graphite', 'datadog'] as const;
type StoreId = (typeof STORES)[number];
const CAPACITY = 40;

interface St {
  id: string;
  sent: number;
  failed: number;
  dropped: Record<string, number>;
  queue_size: number;
  queue_capacity: number;
  last_error: string | null;
  consecutive_failures: number;
}

const storesYaml = (ep: { influx: string; carbonHost: string; carbonPort: number; dd: string }, retry: string): string => `
  influxdb:
    endpoint: "${ep.influx}"
    db: mp
    username: metricport
    password: "${INFLUX_PASSWORD}"
    precision: s
    period: 1s
    unhealthy_after_periods: 60
    resource_attributes: []
    timeout: 2s
    retry_on_failure: ${retry}
    sending_queue: { sizer: items, queue_size: ${CAPACITY}, num_consumers: 1 }
  graphite:
    host: ${ep.carbonHost}
    port: ${ep.carbonPort}
    tag_mode: path
    period: 1s
    unhealthy_after_periods: 60
    resource_attributes: []
    timeout: 2s
    retry_on_failure: ${retry}
    sending_queue: { sizer: items, queue_size: ${CAPACITY}, num_consumers: 1 }
  datadog:
    endpoint: "${ep.dd}"
    api_key: "${DD_KEY}"
    period: 1s
    unhealthy_after_periods: 60
    resource_attributes: []
    timeout: 2s
    retry_on_failure: ${retry}
    sending_queue: { sizer: items, queue_size: ${CAPACITY}, num_consumers: 1 }
`;

class Driver {
  produced = 0;
  private next = 0;
  /** largest queue_size seen per store while polling */
  readonly maxQueue: Record<string, number> = {};
  /** /metrics counters before this driver's exporters existed (a reload replaces the status counters; the Prometheus counters run on) */
  base = '';
  constructor(
    readonly mp: Started,
    readonly series = 'fault_p',
  ) {}

  /** n gauge points, each its own series (attribute i), so every point is one store point */
  async post(n: number): Promise<void> {
    const now = String(BigInt(Date.now()) * 1_000_000n);
    const dataPoints = [];
    for (let k = 0; k < n; k++)
      dataPoints.push({ asDouble: this.next + 0.5, timeUnixNano: now, attributes: [{ key: 'i', value: { stringValue: String(this.next++) } }] });
    const body = JSON.stringify({
      resourceMetrics: [
        { resource: { attributes: [] }, scopeMetrics: [{ scope: { name: 'faults' }, metrics: [{ name: this.series, gauge: { dataPoints } }] }] },
      ],
    });
    const r = await fetch(`${this.mp.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(r.status, await r.text()).to.equal(200);
    this.produced += n;
  }

  async status(): Promise<Record<string, St>> {
    const j = (await (await fetch(`${this.mp.adminUrl}/api/v1/status`)).json()) as { exporters: St[] };
    const out = Object.fromEntries(j.exporters.map((e) => [e.id, e]));
    for (const [id, s] of Object.entries(out)) {
      this.maxQueue[id] = Math.max(this.maxQueue[id] ?? 0, s.queue_size);
      expect(s.queue_size, `${id} queue within its bound`).to.be.at.most(s.queue_capacity);
    }
    return out;
  }

  async healthz(): Promise<number> {
    return (await fetch(`${this.mp.adminUrl}/healthz`)).status;
  }

  /** wait until `ids` hold nothing in flight (queue empty, every point sent or dropped), then check status against /metrics exactly */
  async settle(ids: readonly string[], timeoutMs = 30_000): Promise<Record<string, St>> {
    let st: Record<string, St> = {};
    const acct = (s: St) => s.sent + Object.values(s.dropped).reduce((a, b) => a + b, 0) + s.queue_size;
    await waitFor(
      async () => {
        st = await this.status();
        return ids.every((id) => st[id]!.queue_size === 0 && acct(st[id]!) === this.produced);
      },
      { timeoutMs, what: `settled at ${this.produced} produced: ${JSON.stringify(ids.map((id) => [id, st[id]?.sent, st[id]?.dropped, st[id]?.queue_size]))}` },
    );
    const m = await (await fetch(`${this.mp.adminUrl}/metrics`)).text();
    for (const id of ids) {
      const s = st[id]!;
      expect(acct(s), `${id}: sent + dropped + queued = produced`).to.equal(this.produced);
      const c = (name: string, reason?: string) => counter(m, name, id, reason) - counter(this.base, name, id, reason);
      expect(c('metricport_exporter_sent_items_total'), `${id} /metrics sent`).to.equal(s.sent);
      for (const [reason, n] of Object.entries(s.dropped))
        expect(c('metricport_exporter_dropped_items_total', reason), `${id} /metrics dropped ${reason}`).to.equal(n);
      expect(c('metricport_exporter_dropped_items_total'), `${id} /metrics dropped (all reasons)`).to.equal(
        Object.values(s.dropped).reduce((a, b) => a + b, 0),
      );
      expect(counter(m, 'metricport_exporter_queue_size', id), `${id} /metrics queue`).to.equal(0);
    }
    return st;
  }

  /** wait until every store in `ids` counted at least `more` further failed items (items of failed attempts), checking health and bounds meanwhile */
  async failing(ids: readonly string[], prev: Record<string, St>, more: number, timeoutMs = 15_000): Promise<Record<string, St>> {
    let st: Record<string, St> = {};
    await waitFor(
      async () => {
        st = await this.status();
        expect(await this.healthz(), 'healthz during the fault').to.equal(200);
        return ids.every((id) => st[id]!.failed >= (prev[id]?.failed ?? 0) + more);
      },
      { timeoutMs, what: `failures counted: ${JSON.stringify(ids.map((id) => [id, st[id]?.failed, st[id]?.last_error]))}` },
    );
    return st;
  }
}

/** sum of a counter's samples for one exporter (and reason), from the Prometheus text */
function counter(text: string, name: string, exporter: string, reason?: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!line.includes(`exporter="${exporter}"`)) continue;
    if (reason !== undefined && !line.includes(`reason="${reason}"`)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

const lines = (s: string, series: string) => s.split('\n').filter((l) => l.startsWith(`${series}.`)).length;

describe('reliability: fault injection per push store family (graphite → carbon, influxdb → InfluxDB, datadog → double)', function () {
  this.timeout(240_000);
  let influx: InfluxDBPeer | undefined;
  let carbon: CarbonPeer | undefined;
  let dd: HttpDouble | undefined;
  const px: Partial<Record<StoreId, FaultProxy>> = {};
  let mp: Started | undefined;
  let d: Driver;

  before(async function () {
    await usePeer(this, 'influxdb', 'carbon');
    dd = new HttpDouble();
    [influx, carbon] = await Promise.all([startInfluxDB(), startCarbon(), dd.start()]);
    await influx.createDatabase('mp');
    px.influxdb = new FaultProxy(influx.port);
    px.graphite = new FaultProxy(carbon.linePort);
    px.graphite.halfUpstream = false;
    px.graphite.stallThen = 'forward';
    px.datadog = new FaultProxy(dd.port);
    await Promise.all(Object.values(px).map((p) => p.start()));
    mp = await startMetricport(`
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:${storesYaml(
      { influx: `http://127.0.0.1:${px.influxdb.port}`, carbonHost: '127.0.0.1', carbonPort: px.graphite.port, dd: `http://127.0.0.1:${px.datadog.port}` },
      '{ initial_interval: 200ms, max_interval: 1s, max_elapsed_time: 0s }',
    )}
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [influxdb, graphite, datadog] }
`);
    d = new Driver(mp);
  });
  after(async () => {
    await mp?.stop();
    await Promise.all(Object.values(px).map((p) => p.stop()));
    await Promise.all([influx?.stop(), carbon?.stop(), dd?.stop()]);
  });

  const setAll = (mode: FaultMode, ids: readonly StoreId[] = STORES) => Promise.all(ids.map((id) => px[id]!.set(mode)));
  /** points the datadog double answered 2xx for */
  const ddPoints = (): number => {
    let n = 0;
    for (const r of dd!.requests) {
      expect(r.headers['dd-api-key']).to.equal(DD_KEY);
      for (const s of (JSON.parse(r.body.toString()) as { series: Array<{ metric: string; points: unknown[] }> }).series)
        if (s.metric === 'fault_p') n += s.points.length;
    }
    return n;
  };
  const influxCount = async (): Promise<number> => {
    const res = await influx!.query('mp', 'SELECT count("value") FROM "fault_p"');
    return Number(res[0]?.series?.[0]?.values[0]?.[1] ?? 0);
  };
  /** what reached each store equals what metricport counts as sent */
  const arrivals = async (st: Record<string, St>, graphiteTimeoutMs = 15_000): Promise<void> => {
    let ic = -1;
    await waitFor(
      async () => {
        ic = await influxCount();
        return ic === st.influxdb!.sent;
      },
      { timeoutMs: 15_000, what: `InfluxDB has ${st.influxdb!.sent} points (has ${ic})` },
    );
    expect(ddPoints(), 'datadog double points').to.equal(st.datadog!.sent);
    const g = px.graphite!;
    await waitFor(() => lines(g.tapped, 'fault_p') + lines(g.swallowed, 'fault_p') === st.graphite!.sent, {
      timeoutMs: graphiteTimeoutMs,
      what: `carbon lines ${lines(g.tapped, 'fault_p')} + swallowed ${lines(g.swallowed, 'fault_p')} = sent ${st.graphite!.sent}`,
    });
  };

  it('baseline: every point arrives, counters exact', async () => {
    await d.post(5);
    const st = await d.settle(STORES);
    for (const id of STORES) expect(st[id]).to.deep.include({ sent: 5, dropped: {}, failed: 0 });
    await arrivals(st);
    const path = px.graphite!.tapped.split('\n')[0]!.split(' ')[0]!;
    expect(path).to.match(/^fault_p\.(i\.)?0$/);
    let w: Array<{ value: number | null }> = [];
    await waitFor(
      async () => {
        w = (await carbon!.fetchWhisper(path)).filter((p) => p.value !== null);
        return w.length > 0;
      },
      { timeoutMs: 15_000, what: 'carbon stored fault_p.0' },
    );
    expect(w.map((p) => p.value)).to.deep.equal([0.5]);
  });

  it('refused connections: healthy, queue bounded, overflow dropped as queue_full (counted), then recovery', async () => {
    let st = await d.status();
    await setAll('refuse');
    await d.post(10); // job A: in flight, retried
    st = await d.failing(STORES, st, 20);
    for (const id of STORES) expect(st[id]!.last_error, id).to.match(/ECONNREFUSED/);
    await d.post(30); // job B: queued (30 of 40)
    await waitFor(
      async () => {
        const s = await d.status();
        return STORES.every((id) => s[id]!.queue_size === 30);
      },
      { timeoutMs: 10_000, what: 'job B queued' },
    );
    await d.post(30); // job C: does not fit → dropped, queue_full
    await waitFor(
      async () => {
        const s = await d.status();
        return STORES.every((id) => s[id]!.dropped.queue_full === 30);
      },
      { timeoutMs: 10_000, what: 'job C dropped queue_full' },
    );
    expect(await d.healthz()).to.equal(200);
    await setAll('pass');
    st = await d.settle(STORES);
    for (const id of STORES) {
      expect(st[id]).to.deep.include({ sent: 45, dropped: { queue_full: 30 }, consecutive_failures: 0 });
      expect(d.maxQueue[id], `${id} max queue`).to.equal(30);
    }
    await arrivals(st);
  });

  it('resets mid-request: HTTP stores retry and lose nothing; graphite: what the kernel took before the reset is counted sent and accounted for', async () => {
    let st = await d.status();
    const sent0 = Object.fromEntries(STORES.map((id) => [id, st[id]!.sent]));
    await setAll('reset');
    await d.post(8);
    st = await d.failing(['influxdb', 'datadog'], st, 16);
    for (const id of ['influxdb', 'datadog']) expect(st[id]!.last_error, id).to.match(/ECONNRESET|socket hang up|cut short|EPIPE/);
    await waitFor(() => px.graphite!.accepted.reset >= 1, { timeoutMs: 10_000, what: 'graphite reset' });
    expect(await d.healthz()).to.equal(200);
    await setAll('pass');
    st = await d.settle(STORES);
    for (const id of ['influxdb', 'datadog']) expect(st[id]!.sent - sent0[id]!, id).to.equal(8);
    await arrivals(st);
    // graphite: each point either reached carbon or sits in the bytes a reset swallowed
    expect(lines(px.graphite!.tapped, 'fault_p')).to.equal(st.graphite!.sent - lines(px.graphite!.swallowed, 'fault_p'));
  });

  it('30 s stalls: the 2 s store timeout cuts each HTTP attempt; carbon reads the stalled bytes 30 s later; nothing lost', async () => {
    let st = await d.status();
    await setAll('stall');
    const t0 = Date.now();
    await d.post(6);
    st = await d.failing(['influxdb', 'datadog'], st, 12, 12_000); // two timed-out attempts each, well before 30 s
    expect(Date.now() - t0).to.be.below(15_000);
    for (const id of ['influxdb', 'datadog']) expect(st[id]!.last_error, id).to.equal('send attempt timed out after 2000 ms');
    const m = await (await fetch(`${mp!.adminUrl}/metrics`)).text();
    for (const id of ['influxdb', 'datadog']) expect(counter(m, 'metricport_exporter_send_failed_items_total', id, 'timeout')).to.be.at.least(12);
    expect(px.graphite!.stalled()).to.equal(1);
    expect(await d.healthz()).to.equal(200);
    await setAll('pass');
    st = await d.settle(STORES);
    const tapped = lines(px.graphite!.tapped, 'fault_p');
    await arrivals(st, 45_000);
    expect(lines(px.graphite!.tapped, 'fault_p') - tapped, 'carbon got the stalled lines').to.equal(6);
    expect(Date.now() - t0, 'carbon read them after the 30 s stall').to.be.at.least(29_000);
  });

  it('5xx storm (HTTP stores): retried until the store answers again, no point lost; graphite unaffected', async () => {
    let st = await d.status();
    const sent0 = Object.fromEntries(STORES.map((id) => [id, st[id]!.sent]));
    for (const id of ['influxdb', 'datadog'] as const) px[id]!.answer = { status: 503, reason: 'Service Unavailable' };
    await setAll('http', ['influxdb', 'datadog']);
    await d.post(7);
    st = await d.failing(['influxdb', 'datadog'], st, 7 * 5);
    for (const id of ['influxdb', 'datadog']) expect(st[id]!.last_error, id).to.match(/^HTTP 503 Service Unavailable from 127\.0\.0\.1:\d+$/);
    for (const id of ['influxdb', 'datadog'] as const) px[id]!.answer = { status: 500, reason: 'Internal Server Error' };
    await d.failing(['influxdb', 'datadog'], st, 7 * 2);
    await setAll('pass', ['influxdb', 'datadog']);
    st = await d.settle(STORES);
    for (const id of STORES) expect(st[id]!.sent - sent0[id]!, id).to.equal(7);
    await arrivals(st);
  });

  it('429 with Retry-After: 2 — the next attempt waits 2 s (not the 200 ms backoff); then delivered', async () => {
    let st = await d.status();
    for (const id of ['influxdb', 'datadog'] as const) {
      px[id]!.answer = { status: 429, reason: 'Too Many Requests', headers: { 'Retry-After': '2' } };
      px[id]!.requestsAt.length = 0;
      px[id]!.answered.length = 0;
    }
    await setAll('http', ['influxdb', 'datadog']);
    await d.post(4);
    st = await d.failing(['influxdb', 'datadog'], st, 4 * 3, 20_000);
    for (const id of ['influxdb', 'datadog'] as const) {
      const p = px[id]!;
      expect(st[id]!.last_error).to.match(/^HTTP 429 Too Many Requests from /);
      for (let i = 1; i < p.requestsAt.length; i++) expect(p.requestsAt[i]! - p.answered[i - 1]!, `${id} gap ${i}`).to.be.at.least(1_950);
    }
    await setAll('pass', ['influxdb', 'datadog']);
    st = await d.settle(STORES);
    await arrivals(st);
  });
});

describe('reliability: DNS failure (every store at a name under .invalid), then recovery by reload', function () {
  this.timeout(120_000);
  let influx: InfluxDBPeer | undefined;
  let carbon: CarbonPeer | undefined;
  let dd: HttpDouble | undefined;
  let mp: Started | undefined;

  before(async function () {
    await usePeer(this, 'influxdb', 'carbon');
    dd = new HttpDouble();
    [influx, carbon] = await Promise.all([startInfluxDB(), startCarbon(), dd.start()]);
    await influx.createDatabase('mp');
  });
  after(async () => {
    await mp?.stop();
    await Promise.all([influx?.stop(), carbon?.stop(), dd?.stop()]);
  });

  it('ENOTFOUND is retried then dropped as retries_exhausted (counted exactly), /healthz reports it, the receiver keeps accepting; a reload to reachable stores recovers', async () => {
    const cfg = (ep: Parameters<typeof storesYaml>[0]) => `
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:${storesYaml(ep, '{ initial_interval: 200ms, max_interval: 500ms, max_elapsed_time: 2s }')}
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [influxdb, graphite, datadog] }
`;
    mp = await startMetricport(
      cfg({ influx: 'http://influx.metricport.invalid:8086', carbonHost: 'carbon.metricport.invalid', carbonPort: 2003, dd: 'http://dd.metricport.invalid:9' }),
    );
    const d = new Driver(mp);
    await d.post(5);
    let st = await d.settle(STORES);
    for (const id of STORES) {
      expect(st[id]!.sent, id).to.equal(0);
      expect(st[id]!.dropped, id).to.deep.equal({ retries_exhausted: 5 });
      expect(st[id]!.last_error, id).to.match(/ENOTFOUND|EAI_AGAIN/);
    }
    const h = (await (await fetch(`${mp.adminUrl}/healthz`)).json()) as { status: string; components: Array<{ id: string; healthy: boolean }> };
    expect(h.status).to.equal('unhealthy');
    expect(
      h.components
        .filter((c) => !c.healthy)
        .map((c) => c.id)
        .sort(),
    ).to.deep.equal(['datadog', 'graphite', 'influxdb']);
    await d.post(3); // the receiver still answers 200
    st = await d.settle(STORES);
    for (const id of STORES) expect(st[id]!.dropped, id).to.deep.equal({ retries_exhausted: 8 });

    // recovery: the same config with reachable names
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    writeFileSync(
      join(mp.dir, 'config.yaml'),
      cfg({ influx: `http://127.0.0.1:${influx!.port}`, carbonHost: '127.0.0.1', carbonPort: carbon!.linePort, dd: dd!.url }).replaceAll(
        '{{OTLP}}',
        `127.0.0.1:${mp.otlpPort}`,
      ),
    );
    const r = await fetch(`${mp.adminUrl}/api/v1/reload`, { method: 'POST' });
    expect(r.status, await r.text()).to.equal(200);
    const d2 = new Driver(mp);
    d2.base = await (await fetch(`${mp.adminUrl}/metrics`)).text();
    await d2.post(4);
    st = await d2.settle(STORES);
    for (const id of STORES) expect(st[id]).to.deep.include({ sent: 4, dropped: {} });
    await waitFor(async () => (await fetch(`${mp!.adminUrl}/healthz`)).status === 200, { timeoutMs: 10_000, what: 'healthy after the reload' });
    expect(mp.output()).to.not.contain(DD_KEY).and.not.contain(INFLUX_PASSWORD);
  });
});
