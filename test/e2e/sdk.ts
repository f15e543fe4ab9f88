/**
 * Helpers around the real OpenTelemetry JS SDK: a MeterProvider whose reader
 * exports through the real OTLP/HTTP exporters (JSON or protobuf), with a
 * recording wrapper so the test knows exactly what was sent.
 */
import { ValueType } from '@opentelemetry/api';
import { OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';

export function hrToNs(t: [number, number]): bigint {
  return BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
}

/** Records every ResourceMetrics handed to the real exporter, then delegates. */
class Recording implements PushMetricExporter {
  readonly sent: ResourceMetrics[] = [];
  constructor(private readonly inner: PushMetricExporter) {}
  export(m: ResourceMetrics, cb: (r: { code: number; error?: Error }) => void): void {
    this.sent.push(m);
    this.inner.export(m, (r) => cb(r as never));
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  selectAggregationTemporality(k: never): AggregationTemporality {
    return (
      (this.inner as unknown as { selectAggregationTemporality?: (k: never) => AggregationTemporality }).selectAggregationTemporality?.(k) ??
      AggregationTemporality.CUMULATIVE
    );
  }
}

export interface SdkRun {
  sent: ResourceMetrics[];
  results: Array<{ code: number; error?: Error }>;
}

/** Record one of every instrument kind, export once through the real exporter, shut down. */
export async function sendWithSdk(url: string, encoding: 'json' | 'proto', temporality: 'delta' | 'cumulative' = 'cumulative'): Promise<SdkRun> {
  const pref = temporality === 'delta' ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE;
  const Exp = encoding === 'json' ? JsonExporter : ProtoExporter;
  const inner = new Exp({ url, temporalityPreference: pref, timeoutMillis: 5000 }) as unknown as PushMetricExporter;
  const results: SdkRun['results'] = [];
  const rec = new Recording(inner);
  const origExport = rec.export.bind(rec);
  rec.export = (m, cb) =>
    origExport(m, (r) => {
      results.push(r);
      cb(r);
    });
  const reader = new PeriodicExportingMetricReader({ exporter: rec, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': `e2e-${encoding}`, 'service.version': '1.2.3', 'host.cores': 2 }),
    readers: [reader],
    views: [{ instrumentName: 'e2e.latency.exp', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('e2e-meter', '0.0.1');
  const counter = meter.createCounter('e2e.requests', { unit: '{request}', description: 'requests', valueType: ValueType.INT });
  counter.add(5, { route: '/a', ok: true });
  counter.add(7, { route: '/b', ok: false });
  meter.createUpDownCounter('e2e.inflight', { valueType: ValueType.INT }).add(-3, { pool: 'p1' });
  const hist = meter.createHistogram('e2e.latency', { unit: 'ms', advice: { explicitBucketBoundaries: [1, 10, 100] } });
  for (const v of [0.5, 3, 42, 420]) hist.record(v, { route: '/a' });
  const exph = meter.createHistogram('e2e.latency.exp', { unit: 's' });
  for (const v of [0.001, 0.01, 0.1, 1, 10]) exph.record(v);
  meter.createGauge('e2e.temperature', { unit: 'Cel' }).record(21.5, { room: 'lab' });
  meter.createObservableGauge('e2e.queue.depth').addCallback((o) => o.observe(12.25, { q: 'x' }));
  // shutdown collects and exports exactly once
  await provider.shutdown();
  return { sent: rec.sent, results };
}

export { DataPointType };
