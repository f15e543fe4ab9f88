/**
 * The benchmark payload: 50 metrics × 20 points × 5 attributes per request
 * (1,000 data points), OTLP JSON and protobuf, built once.
 */
import type { Metric, MetricsBatch } from '../src/model/index.js';

export const METRICS_PER_REQUEST = 50;
export const POINTS_PER_METRIC = 20;
export const POINTS_PER_REQUEST = METRICS_PER_REQUEST * POINTS_PER_METRIC;

export function benchBatch(seed = 0): MetricsBatch {
  const t = 1700000000123456789n + BigInt(seed) * 1_000_000_000n;
  const metrics: Metric[] = [];
  for (let m = 0; m < METRICS_PER_REQUEST; m++) {
    const points = [];
    for (let p = 0; p < POINTS_PER_METRIC; p++) {
      points.push({
        attributes: {
          'http.route': `/api/v1/items/${p}`,
          'http.method': p % 2 ? 'GET' : 'POST',
          'http.status_code': BigInt(200 + (p % 3)),
          region: 'eu-west-1',
          'app.version': '4.64.0',
        },
        startTimeUnixNano: t - 60_000_000_000n,
        timeUnixNano: t,
        flags: 0,
        value: m % 2 === 0 ? BigInt(p * 7 + m) : p * 1.25 + m,
      });
    }
    metrics.push(
      m % 2 === 0
        ? { kind: 'sum', name: `bench.requests.${m}`, unit: '{request}', description: 'requests', temporality: 1, isMonotonic: true, points }
        : { kind: 'gauge', name: `bench.latency.${m}`, unit: 'ms', description: 'latency', points },
    );
  }
  return {
    resourceMetrics: [
      {
        schemaUrl: '',
        resource: { attributes: { 'service.name': 'bench', 'service.instance.id': 'i-1' }, droppedAttributesCount: 0 },
        scopeMetrics: [{ schemaUrl: '', scope: { name: 'bench', version: '1.0.0', attributes: {}, droppedAttributesCount: 0 }, metrics }],
      },
    ],
  };
}
