import { expect } from 'chai';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { decodeMetricsJson } from '../../src/otlp/json.js';
import type { Metric, MetricsBatch } from '../../src/model/index.js';
import { waitFor } from '../harness/ports.js';
import { startMetricport, ROOT, type Started } from './metricport.js';
import { DataPointType, hrToNs, sendWithSdk } from './sdk.js';

const CONFIG = `
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:
  file: { path: "{{DIR}}/out.jsonl", flush_interval: 0s }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [file] }
`;

function readBatches(mp: Started): MetricsBatch[] {
  const f = join(mp.dir, 'out.jsonl');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => decodeMetricsJson(l).data);
}

function allMetrics(batches: MetricsBatch[]): Metric[] {
  return batches.flatMap((b) => b.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics)));
}

async function waitForMetric(mp: Started, name: string): Promise<{ batches: MetricsBatch[]; metric: Metric }> {
  let found: { batches: MetricsBatch[]; metric: Metric } | undefined;
  await waitFor(
    () => {
      const batches = readBatches(mp);
      const metric = allMetrics(batches).find((m) => m.name === name);
      if (metric) found = { batches, metric };
      return metric !== undefined;
    },
    { timeoutMs: 10_000, what: `metric ${name} in the file exporter's output` },
  );
  return found!;
}

/** Assert that every metric the SDK sent is in the file, value for value. */
function expectSameAsSdk(sent: ResourceMetrics[], got: MetricsBatch[]): number {
  const metrics = allMetrics(got);
  let checked = 0;
  for (const rm of sent) {
    for (const sm of rm.scopeMetrics) {
      for (const md of sm.metrics) {
        const found = metrics.find((x) => x.name === md.descriptor.name);
        expect(found, `metric ${md.descriptor.name}`).to.not.equal(undefined);
        const m = found!;
        expect(m.unit).to.equal(md.descriptor.unit);
        expect(m.description).to.equal(md.descriptor.description);
        expect(m.points.length).to.equal(md.dataPoints.length);
        for (const dp of md.dataPoints as Array<{
          startTime: [number, number];
          endTime: [number, number];
          attributes: Record<string, unknown>;
          value: unknown;
        }>) {
          const attrs = Object.fromEntries(Object.entries(dp.attributes).map(([k, v]) => [k, typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : v]));
          const p = (
            m.points as unknown as Array<{ attributes: Record<string, unknown>; startTimeUnixNano: bigint; timeUnixNano: bigint; value?: number | bigint }>
          ).find(
            (x) =>
              JSON.stringify(x.attributes, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) ===
              JSON.stringify(attrs, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)),
          );
          expect(p, `${md.descriptor.name} point ${JSON.stringify(dp.attributes)}`).to.not.equal(undefined);
          expect(p!.timeUnixNano).to.equal(hrToNs(dp.endTime));
          expect(p!.startTimeUnixNano).to.equal(hrToNs(dp.startTime));
          switch (md.dataPointType) {
            case DataPointType.SUM:
              expect(m.kind).to.equal('sum');
              if (m.kind === 'sum') {
                expect(m.isMonotonic).to.equal((md as { isMonotonic: boolean }).isMonotonic);
                expect(m.temporality).to.equal(md.aggregationTemporality === 0 ? 1 : 2);
              }
              expect(Number(p!.value!)).to.equal(dp.value);
              break;
            case DataPointType.GAUGE:
              expect(m.kind).to.equal('gauge');
              expect(Number(p!.value!)).to.equal(dp.value);
              break;
            case DataPointType.HISTOGRAM: {
              expect(m.kind).to.equal('histogram');
              const v = dp.value as { buckets: { boundaries: number[]; counts: number[] }; sum: number; count: number; min: number; max: number };
              expect(p).to.deep.include({
                count: v.count,
                sum: v.sum,
                min: v.min,
                max: v.max,
                explicitBounds: v.buckets.boundaries,
                bucketCounts: v.buckets.counts,
              });
              break;
            }
            case DataPointType.EXPONENTIAL_HISTOGRAM: {
              expect(m.kind).to.equal('exponentialHistogram');
              const v = dp.value as {
                count: number;
                sum: number;
                scale: number;
                zeroCount: number;
                positive: { offset: number; bucketCounts: number[] };
                negative: { offset: number; bucketCounts: number[] };
                min: number;
                max: number;
              };
              expect(p).to.deep.include({ count: v.count, sum: v.sum, scale: v.scale, zeroCount: v.zeroCount, min: v.min, max: v.max });
              expect((p as unknown as { positive: unknown }).positive).to.deep.equal(v.positive);
              break;
            }
          }
          checked++;
        }
      }
    }
  }
  return checked;
}

describe('e2e: real OpenTelemetry JS clients → otlp receiver → file exporter', function () {
  this.timeout(60_000);
  let mp: Started;
  before(async () => {
    mp = await startMetricport(CONFIG);
  });
  after(async () => {
    await mp?.stop();
  });

  for (const encoding of ['json', 'proto'] as const) {
    it(`exports every instrument kind with @opentelemetry/exporter-metrics-otlp-${encoding === 'json' ? 'http' : 'proto'} and the file matches value for value`, async () => {
      const run = await sendWithSdk(`${mp.otlpUrl}/v1/metrics`, encoding);
      expect(run.results.map((r) => r.code)).to.deep.equal([0]);
      const { batches } = await waitForMetric(mp, 'e2e.queue.depth');
      const mine = batches.filter((b) => b.resourceMetrics.some((rm) => rm.resource.attributes['service.name'] === `e2e-${encoding}`));
      expect(mine).to.have.length(1);
      const rm = mine[0]!.resourceMetrics[0]!;
      expect(rm.resource.attributes['service.version']).to.equal('1.2.3');
      expect(rm.resource.attributes['host.cores']).to.equal(2n);
      expect(rm.scopeMetrics[0]!.scope).to.include({ name: 'e2e-meter', version: '0.0.1' });
      const checked = expectSameAsSdk(run.sent, mine);
      // counter ×2 attribute sets, up-down counter, histogram, exponential histogram, gauge, observable gauge
      expect(checked).to.equal(7);
    });
  }

  it('keeps nanosecond timestamps that do not fit in a double, in JSON (string and number) and gzip', async () => {
    const body = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'exact' } }] },
          scopeMetrics: [
            {
              scope: { name: 's' },
              metrics: [
                {
                  name: 'exact.sum',
                  sum: {
                    aggregationTemporality: 2,
                    isMonotonic: true,
                    dataPoints: [
                      {
                        asInt: '9007199254740993',
                        startTimeUnixNano: '1700000000000000001',
                        timeUnixNano: '1700000000123456789',
                        attributes: [{ key: 'k', value: { intValue: '-9007199254740993' } }],
                      },
                    ],
                  },
                },
                {
                  name: 'exact.summary',
                  summary: {
                    dataPoints: [
                      {
                        count: '4',
                        sum: 10.5,
                        timeUnixNano: '1700000000123456789',
                        quantileValues: [
                          { quantile: 0.5, value: 2 },
                          { quantile: 0.99, value: 4.5 },
                        ],
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    const text = JSON.stringify(body).replace('"1700000000000000001"', '1700000000000000001');
    const res = await fetch(`${mp.otlpUrl}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(text),
    });
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({});
    const { metric } = await waitForMetric(mp, 'exact.summary');
    const sum = allMetrics(readBatches(mp)).find((m) => m.name === 'exact.sum')!;
    expect(sum.points[0]).to.deep.include({ startTimeUnixNano: 1700000000000000001n, timeUnixNano: 1700000000123456789n, value: 9007199254740993n });
    expect(sum.points[0]!.attributes.k).to.equal(-9007199254740993n);
    expect(metric.kind).to.equal('summary');
    expect(metric.points[0]).to.deep.include({
      count: 4,
      sum: 10.5,
      timeUnixNano: 1700000000123456789n,
      quantileValues: [
        { quantile: 0.5, value: 2 },
        { quantile: 0.99, value: 4.5 },
      ],
    });
    // and the raw line in the file carries the exact decimal string
    expect(readFileSync(join(mp.dir, 'out.jsonl'), 'utf8')).to.contain('"timeUnixNano":"1700000000123456789"');
  });

  it('accepts the Forge App metrics sample (asInt as a JSON number, delta sums)', async () => {
    const sample = readFileSync(join(ROOT, 'test/fixtures/forge-sample.json'), 'utf8');
    const res = await fetch(`${mp.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: sample });
    expect(res.status).to.equal(200);
    const { metric } = await waitForMetric(mp, 'forge_backend_invocation_count');
    expect(metric.kind).to.equal('sum');
    if (metric.kind !== 'sum') return;
    expect(metric.temporality).to.equal(1);
    expect(metric.points[0]).to.deep.include({ value: 70n, startTimeUnixNano: 1687497375656000000n, timeUnixNano: 1687497375662000000n });
    expect(metric.points[0]!.attributes).to.deep.include({ appVersion: '4.64.0', functionKey: 'updateStatusTitle' });
    const expected = JSON.parse(sample) as {
      resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<{ name: string; sum: { dataPoints: Array<{ asInt: number }> } }> }> }>;
    };
    const sent = expected.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
    const got = allMetrics(readBatches(mp));
    for (const s of sent) {
      const g = got.find((m) => m.name === s.name);
      expect(g, s.name).to.not.equal(undefined);
      expect(g!.points.map((p) => (p as { value: bigint }).value)).to.deep.equal(s.sum.dataPoints.map((d) => BigInt(d.asInt)));
    }
  });
});
