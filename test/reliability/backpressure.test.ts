/**
 * Backpressure end to end (docs/reliability.md): the built service with an
 * `influxdb` store on `sending_queue: { drop_policy: block }` and a tiny
 * queue, in front of a real InfluxDB behind the outage proxy, the store down
 * from the start. The REAL OpenTelemetry JS SDK (MeterProvider +
 * PeriodicExportingMetricReader + @opentelemetry/exporter-metrics-otlp-http,
 * delta temporality) sends continuously: every `add()` is one new series
 * (`seq`), so each produced point is countable in InfluxDB.
 *
 * While the store is down the queue fills and the receiver answers 503 with
 * `Retry-After: <period>`; the SDK's retrying transport waits exactly that
 * long (its diag log says so) and resends. Once the store is back the queue
 * drains, the retries are accepted, and InfluxDB holds exactly the points
 * the SDK produced: count = produced, sum = produced (every value is 1), no
 * seq missing, none twice — and no export the SDK reported as failed.
 * Run for the disk queue and for the memory queue.
 */
import { expect } from 'chai';
import { diag, DiagLogLevel, type DiagLogger } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { startInfluxDB, usePeer, type InfluxDBPeer } from '../harness/peers.js';
import { waitFor } from '../harness/ports.js';
import { OutageProxy } from '../storehelper/proxy.js';
import { startMetricport, type Started } from '../e2e/metricport.js';

const PERIOD_S = 2;
const METRIC = 'bp_seq';

/** What the SDK's own diagnostics said about retries (the transport logs each scheduled retry). */
class DiagRecorder implements DiagLogger {
  readonly retries: number[] = [];
  readonly other: string[] = [];
  private note(msg: string): void {
    const m = /^Scheduling export retry in (\d+)ms/.exec(msg);
    if (m !== null) this.retries.push(Number(m[1]));
    else if (this.other.length < 50) this.other.push(msg);
  }
  error(msg: string): void {
    this.note(msg);
  }
  warn(msg: string): void {
    this.note(msg);
  }
  info(msg: string): void {
    this.note(msg);
  }
  debug(): void {
    /* not needed */
  }
  verbose(msg: string): void {
    this.note(msg);
  }
}

/** Counts what the reader hands to the real exporter and every export result. */
class Counting implements PushMetricExporter {
  points = 0;
  exports = 0;
  readonly results: number[] = [];
  constructor(private readonly inner: OTLPMetricExporter) {}
  export(m: ResourceMetrics, cb: (r: { code: number; error?: Error }) => void): void {
    this.exports++;
    for (const sm of m.scopeMetrics) for (const md of sm.metrics) if (md.descriptor.name === METRIC) this.points += md.dataPoints.length;
    this.inner.export(m, (r) => {
      this.results.push(r.code);
      cb(r);
    });
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  selectAggregationTemporality(): AggregationTemporality {
    return AggregationTemporality.DELTA;
  }
}

interface ReceiverCounters {
  refused?: number;
  accepted?: number;
  responses?: Record<string, number>;
}

interface Node {
  id: string;
  counters?: ReceiverCounters;
}

async function status(mp: Started): Promise<{ receivers: Node[]; exporters: Array<Record<string, unknown> & { id: string }> }> {
  return (await (await fetch(`${mp.adminUrl}/api/v1/status`)).json()) as { receivers: Node[]; exporters: Array<Record<string, unknown> & { id: string }> };
}

async function receiverCounters(mp: Started): Promise<ReceiverCounters> {
  return (await status(mp)).receivers.find((r) => r.id === 'otlp')?.counters ?? {};
}

async function storeStatus(mp: Started): Promise<Record<string, unknown>> {
  return (await status(mp)).exporters.find((e) => e.id === 'influxdb') ?? {};
}

for (const storage of ['disk', 'memory'] as const) {
  describe(`reliability: backpressure, block queue (${storage}) full → 503 + Retry-After → the real OTel SDK retries → everything delivered`, function () {
    this.timeout(180_000);
    let influx: InfluxDBPeer | undefined;
    let proxy: OutageProxy | undefined;
    let mp: Started | undefined;
    let provider: MeterProvider | undefined;
    const db = `bp_${storage}`;

    before(async function () {
      await usePeer(this, 'influxdb');
      influx = await startInfluxDB();
      await influx.createDatabase(db);
      proxy = new OutageProxy(influx.port);
      await proxy.up();
      await proxy.down(); // the store starts down
    });
    after(async () => {
      diag.disable();
      await provider?.shutdown().catch(() => undefined);
      await mp?.stop('SIGKILL');
      await proxy?.down();
      await influx?.stop();
    });

    it('SDK sees 503 with Retry-After, retries, and every point it produced is in InfluxDB exactly once', async () => {
      const queue =
        storage === 'disk'
          ? '{ storage: disk, drop_policy: block, max_size: 1KiB, num_consumers: 1 }'
          : '{ storage: memory, drop_policy: block, queue_size: 1, num_consumers: 1 }';
      mp = await startMetricport(
        `
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:
  influxdb:
    endpoint: "http://127.0.0.1:${proxy!.port}"
    db: ${db}
    precision: ns
    compression: none
    period: ${PERIOD_S}s
    lateness: 200ms
    resource_attributes: []
    timeout: 2s
    retry_on_failure: { initial_interval: 100ms, max_interval: 300ms, max_elapsed_time: 0s }
    sending_queue: ${queue}
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [influxdb] }
`,
        { env: { METRICPORT_LOG_LEVEL: 'warn' } },
      );

      const rec = new DiagRecorder();
      diag.setLogger(rec, { logLevel: DiagLogLevel.VERBOSE, suppressOverrideMessage: true });
      // timeoutMillis bounds the SDK's retries (5 at most, each after Retry-After): 30 s covers them
      const exporter = new Counting(
        new OTLPMetricExporter({
          url: `${mp.otlpUrl}/v1/metrics`,
          temporalityPreference: AggregationTemporality.DELTA,
          timeoutMillis: 30_000,
          concurrencyLimit: 200,
        }),
      );
      provider = new MeterProvider({
        resource: resourceFromAttributes({ 'service.name': 'backpressure' }),
        readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 500, exportTimeoutMillis: 500 })],
      });
      const counter = provider.getMeter('bp').createCounter(METRIC);
      let produced = 0;
      const produce = (n: number): void => {
        for (let i = 0; i < n; i++) counter.add(1, { seq: String(produced++) });
      };
      // continuously: 10 new series every 20 ms
      const tick = setInterval(() => produce(10), 20);
      tick.unref();
      try {
        // the queue fills with the store down: the receiver refuses, the SDK schedules retries at Retry-After
        let c: ReceiverCounters = {};
        await waitFor(
          async () => {
            c = await receiverCounters(mp!);
            return (c.responses?.['503'] ?? 0) >= 4 && rec.retries.length >= 4;
          },
          {
            timeoutMs: 30_000,
            intervalMs: 100,
            what: `≥ 4 refusals seen by the receiver and the SDK (${JSON.stringify(c)}, SDK retries ${rec.retries.length})`,
          },
        );
        const down = await storeStatus(mp);
        expect(down.points_refused as number, 'points refused by the block queue').to.be.greaterThan(0);
        // the store returns while the SDK is still within its retries
        await proxy!.up();
        // keep producing until data flowed through the recovered pipeline (a refused export retried and accepted)
        const acceptedAtUp = c.accepted ?? 0;
        await waitFor(
          async () => {
            c = await receiverCounters(mp!);
            return (c.accepted ?? 0) > acceptedAtUp + 500;
          },
          { timeoutMs: 30_000, intervalMs: 100, what: 'points accepted after the store returned' },
        );
      } finally {
        clearInterval(tick);
      }
      // the last collection, and every pending export (retries included) settles
      await provider.shutdown();
      provider = undefined;
      diag.disable();

      // what the SDK saw: every export eventually succeeded; the retries waited Retry-After (= the store's period)
      expect(exporter.points, 'points the SDK exported').to.equal(produced);
      expect(exporter.results.length).to.equal(exporter.exports);
      expect(
        exporter.results.filter((r) => r !== 0),
        'exports the SDK reported failed',
      ).to.deep.equal([]);
      expect(rec.retries.length).to.be.at.least(4);
      expect([...new Set(rec.retries)], 'SDK retry delays (ms)').to.deep.equal([PERIOD_S * 1000]);

      // what the receiver counted: 503s with the refused points, never a 5xx other than 503, never 500
      const c = await receiverCounters(mp);
      const responses = c.responses ?? {};
      expect(Object.keys(responses).sort(), JSON.stringify(responses)).to.deep.equal(['200', '503']);
      expect(responses['503'])
        .to.be.at.least(rec.retries.length - 1)
        .and.at.most(rec.retries.length);
      expect(c.refused, 'refused items').to.be.greaterThan(0);
      expect(c.accepted, 'accepted items = produced').to.equal(produced);

      // InfluxDB: exactly what the SDK produced (each seq once, value 1)
      const q = async (sql: string): Promise<unknown[][]> => (await influx!.query(db, sql))[0]?.series?.[0]?.values ?? [];
      let count = 0;
      await waitFor(
        async () => {
          const v = (await q(`SELECT count("value") FROM "${METRIC}"`))[0]?.[1];
          count = typeof v === 'number' ? v : 0;
          return count >= produced;
        },
        { timeoutMs: 60_000, intervalMs: 500, what: `all ${produced} points in InfluxDB (last count ${count})` },
      );
      const sum = (await q(`SELECT sum("value") FROM "${METRIC}"`))[0]?.[1];
      const seqs = (await influx!.query(db, `SHOW TAG VALUES FROM "${METRIC}" WITH KEY = "seq"`))[0]?.series?.[0]?.values ?? [];
      const st = await storeStatus(mp);
      console.log(
        `      backpressure (${storage}): ${produced} points produced by the SDK in ${exporter.exports} exports, ${responses['503']} × 503 (Retry-After ${PERIOD_S}), ${rec.retries.length} SDK retries, ${c.refused} points refused then retried, ${st.points_refused as number} refused by the queue; InfluxDB count ${count}, sum ${String(sum)}, ${seqs.length} distinct seq; store dropped ${st.points_dropped as number}`,
      );
      expect(count).to.equal(produced);
      expect(sum).to.equal(produced);
      expect(seqs.length).to.equal(produced);
      expect(st.points_dropped, JSON.stringify(st.dropped)).to.equal(0);
    });
  });
}
