/** Small metric batches the service and fan-out tests share. */
import type { ExponentialHistogramDataPoint, MetricsBatch } from '../../src/model/index.js';

/** One gauge point `g{a="b"}` = v of resource service.name=s. */
export function batch(v = 1): MetricsBatch {
  return {
    resourceMetrics: [
      {
        schemaUrl: '',
        resource: { attributes: { 'service.name': 's' }, droppedAttributesCount: 0 },
        scopeMetrics: [
          {
            schemaUrl: '',
            scope: { name: 'x', version: '', attributes: {}, droppedAttributesCount: 0 },
            metrics: [
              {
                kind: 'gauge',
                name: 'g',
                unit: '',
                description: '',
                points: [{ attributes: { a: 'b' }, startTimeUnixNano: 0n, timeUnixNano: 1700000000123456789n, flags: 0, value: v }],
              },
            ],
          },
        ],
      },
    ],
  };
}

/** An exponential histogram point at `time` (empty buckets unless `p` sets them). */
export function expPoint(time: bigint, p: Partial<ExponentialHistogramDataPoint>): ExponentialHistogramDataPoint {
  return {
    attributes: {},
    startTimeUnixNano: 0n,
    timeUnixNano: time,
    flags: 0,
    count: 0,
    sum: 0,
    scale: 0,
    zeroCount: 0,
    zeroThreshold: 0,
    positive: { offset: 0, bucketCounts: [] },
    negative: { offset: 0, bucketCounts: [] },
    ...p,
  };
}
