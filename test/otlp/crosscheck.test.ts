/**
 * Cross-check against the real OpenTelemetry JS serializers: metrics recorded
 * with @opentelemetry/sdk-metrics (and logs with @opentelemetry/sdk-logs),
 * serialized by @opentelemetry/otlp-transformer in both encodings, decoded by
 * ours.
 */
import { expect } from 'chai';
import { ValueType } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, AggregationType, MeterProvider, MetricReader, type ResourceMetrics as SdkResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { JsonLogsSerializer, JsonMetricsSerializer, ProtobufLogsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import type { ExponentialHistogramMetric, GaugeMetric, HistogramMetric, Metric, MetricsBatch, SumMetric } from '../../src/model/metrics.js';
import { decodeLogsJson, decodeMetricsJson, encodeMetricsJson } from '../../src/otlp/json.js';
import { decodeLogsProto, decodeMetricsProto, encodeMetricsProto } from '../../src/otlp/proto.js';

class TestReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

type HrTime = [number, number];
const nanos = (t: HrTime): bigint => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

async function collect(temporality: AggregationTemporality): Promise<SdkResourceMetrics> {
  const reader = new TestReader({ aggregationTemporalitySelector: () => temporality });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({
      'service.name': 'crosscheck',
      'service.instance.id': 42,
      'deployment.ratio': 0.5,
      'feature.on': true,
      tags: ['a', 'b'],
    }),
    readers: [reader],
    views: [{ instrumentName: 'exp.latency', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('crosscheck.meter', '3.1.4');
  const counter = meter.createCounter('requests', { unit: '{request}', description: 'requests served', valueType: ValueType.INT });
  counter.add(5, { route: '/a' });
  counter.add(2, { route: '/a' });
  counter.add(1, { route: '/b', code: 200 });
  const dcounter = meter.createCounter('bytes', { unit: 'By' });
  dcounter.add(1.25);
  const updown = meter.createUpDownCounter('queue.depth', { valueType: ValueType.INT });
  updown.add(10);
  updown.add(-13);
  const hist = meter.createHistogram('latency', { unit: 'ms' });
  for (const v of [3, 7, 120, 5000]) hist.record(v, { route: '/a' });
  const exp = meter.createHistogram('exp.latency', { unit: 's' });
  for (const v of [0.001, 0.5, 2, 2, 300]) exp.record(v);
  exp.record(0);
  const gauge = meter.createGauge('temperature', { unit: 'Cel' });
  gauge.record(21.5, { room: 'lab' });
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).to.deep.equal([]);
  await provider.shutdown();
  return resourceMetrics;
}

function byName(b: MetricsBatch): Record<string, Metric> {
  const out: Record<string, Metric> = {};
  for (const rm of b.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) out[m.name] = m;
  return out;
}

function checkAgainstSdk(batch: MetricsBatch, sdk: SdkResourceMetrics, temporality: 1 | 2): void {
  expect(batch.resourceMetrics.length).to.equal(1);
  const rm = batch.resourceMetrics[0]!;
  expect(rm.resource.attributes).to.deep.equal({
    'service.name': 'crosscheck',
    'service.instance.id': 42n,
    'deployment.ratio': 0.5,
    'feature.on': true,
    tags: ['a', 'b'],
  });
  expect(rm.scopeMetrics[0]!.scope).to.deep.include({ name: 'crosscheck.meter', version: '3.1.4' });
  const ms = byName(batch);
  const sdkMetrics = Object.fromEntries(sdk.scopeMetrics[0]!.metrics.map((m) => [m.descriptor.name, m]));
  expect(Object.keys(ms).sort()).to.deep.equal(Object.keys(sdkMetrics).sort());

  const req = ms['requests'] as SumMetric;
  expect(req).to.deep.include({ kind: 'sum', temporality, isMonotonic: true, unit: '{request}', description: 'requests served' });
  const reqPoints = Object.fromEntries(req.points.map((p) => [p.attributes.route as string, p]));
  expect(reqPoints['/a']!.value).to.equal(7n);
  expect(reqPoints['/b']!.value).to.equal(1n);
  expect(reqPoints['/b']!.attributes).to.deep.equal({ route: '/b', code: 200n });
  const sdkReq = sdkMetrics['requests']!.dataPoints.find((p) => p.attributes.route === '/a')!;
  expect(reqPoints['/a']!.startTimeUnixNano).to.equal(nanos(sdkReq.startTime));
  expect(reqPoints['/a']!.timeUnixNano).to.equal(nanos(sdkReq.endTime));

  expect((ms['bytes'] as SumMetric).points[0]!.value).to.equal(1.25);
  const ud = ms['queue.depth'] as SumMetric;
  expect(ud).to.deep.include({ kind: 'sum', isMonotonic: false });
  expect(ud.points[0]!.value).to.equal(-3n);

  const h = ms['latency'] as HistogramMetric;
  expect(h.kind).to.equal('histogram');
  expect(h.temporality).to.equal(temporality);
  const hp = h.points[0]!;
  const sdkH = sdkMetrics['latency']!.dataPoints[0]!.value as {
    buckets: { boundaries: number[]; counts: number[] };
    count: number;
    sum: number;
    min: number;
    max: number;
  };
  expect(hp).to.deep.include({ count: 4, sum: 5130, min: 3, max: 5000 });
  expect(hp.explicitBounds).to.deep.equal(sdkH.buckets.boundaries);
  expect(hp.bucketCounts).to.deep.equal(sdkH.buckets.counts);
  expect(hp.bucketCounts.length).to.equal(hp.explicitBounds.length + 1);

  const e = ms['exp.latency'] as ExponentialHistogramMetric;
  expect(e.kind).to.equal('exponentialHistogram');
  const ep = e.points[0]!;
  const sdkE = sdkMetrics['exp.latency']!.dataPoints[0]!.value as {
    count: number;
    sum: number;
    min: number;
    max: number;
    scale: number;
    zeroCount: number;
    positive: { offset: number; bucketCounts: number[] };
    negative: { offset: number; bucketCounts: number[] };
  };
  expect(ep).to.deep.include({ count: 6, zeroCount: 1, scale: sdkE.scale, min: 0, max: 300 });
  expect(ep.sum).to.be.closeTo(304.501, 1e-9);
  expect(ep.positive).to.deep.equal({ offset: sdkE.positive.offset, bucketCounts: sdkE.positive.bucketCounts });
  expect(ep.negative).to.deep.equal({ offset: sdkE.negative.offset, bucketCounts: sdkE.negative.bucketCounts });

  const g = ms['temperature'] as GaugeMetric;
  expect(g.kind).to.equal('gauge');
  expect(g.points[0]).to.deep.include({ value: 21.5 });
  expect(g.points[0]!.attributes).to.deep.equal({ room: 'lab' });
}

describe('otlp cross-check with the OpenTelemetry JS serializers', () => {
  for (const [label, temporality, code] of [
    ['cumulative', AggregationTemporality.CUMULATIVE, 2],
    ['delta', AggregationTemporality.DELTA, 1],
  ] as const) {
    it(`protobuf (ProtobufMetricsSerializer), ${label}`, async () => {
      const sdk = await collect(temporality);
      const buf = ProtobufMetricsSerializer.serializeRequest(sdk)!;
      const r = decodeMetricsProto(buf);
      expect(r.errors).to.deep.equal([]);
      expect(r.rejected).to.equal(0);
      checkAgainstSdk(r.data, sdk, code);
    });

    it(`JSON (JsonMetricsSerializer), ${label}`, async () => {
      const sdk = await collect(temporality);
      const text = new TextDecoder().decode(JsonMetricsSerializer.serializeRequest(sdk));
      const r = decodeMetricsJson(text);
      expect(r.errors).to.deep.equal([]);
      expect(r.rejected).to.equal(0);
      checkAgainstSdk(r.data, sdk, code);
    });
  }

  it('both SDK encodings decode to the same model, which re-encodes losslessly', async () => {
    const sdk = await collect(AggregationTemporality.CUMULATIVE);
    const fromProto = decodeMetricsProto(ProtobufMetricsSerializer.serializeRequest(sdk)!).data;
    const fromJson = decodeMetricsJson(new TextDecoder().decode(JsonMetricsSerializer.serializeRequest(sdk))).data;
    expect(fromJson).to.deep.equal(fromProto);
    expect(decodeMetricsProto(encodeMetricsProto(fromProto)).data).to.deep.equal(fromProto);
    expect(decodeMetricsJson(encodeMetricsJson(fromProto)).data).to.deep.equal(fromProto);
  });

  it('logs: ProtobufLogsSerializer and JsonLogsSerializer output decodes to the same events', async () => {
    const exporter = new InMemoryLogRecordExporter();
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': 'svc', shared: 'resource' }),
      processors: [new SimpleLogRecordProcessor({ exporter })],
    });
    const logger = provider.getLogger('log.scope', '1.0.0');
    logger.emit({
      severityNumber: 17,
      severityText: 'ERROR',
      body: 'boom',
      eventName: 'app.error',
      timestamp: [1700000000, 123456789],
      attributes: { 'exception.type': 'TypeError', shared: 'record', count: 3 },
    });
    logger.emit({ severityNumber: 9, body: { msg: 'structured', n: 2 }, timestamp: [1700000001, 0] });
    await provider.forceFlush();
    const records = exporter.getFinishedLogRecords();
    expect(records.length).to.equal(2);
    const fromProto = decodeLogsProto(ProtobufLogsSerializer.serializeRequest(records)!);
    const fromJson = decodeLogsJson(new TextDecoder().decode(JsonLogsSerializer.serializeRequest(records)));
    expect(fromProto.rejected).to.equal(0);
    expect(fromJson.data).to.deep.equal(fromProto.data);
    const [a, b] = fromProto.data.events;
    expect(a!.timeUnixNano).to.equal(1700000000123456789n);
    expect(a!.attributes).to.deep.equal({
      'service.name': 'svc',
      shared: 'record',
      'otel.scope.name': 'log.scope',
      'otel.scope.version': '1.0.0',
      'exception.type': 'TypeError',
      count: 3n,
      'log.severity_number': 17,
      'log.severity_text': 'ERROR',
      'log.body': 'boom',
      'log.event_name': 'app.error',
    });
    expect(b!.timeUnixNano).to.equal(1700000001000000000n);
    expect(b!.attributes['log.body']).to.deep.equal({ msg: 'structured', n: 2n });
    await provider.shutdown();
  });
});
