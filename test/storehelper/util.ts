/** Builders for store tests: batches with one metric, store configs with fast retries. */
import type { Attributes, HistogramDataPoint, Metric, MetricsBatch, NumberDataPoint } from '../../src/model/metrics.js';
import { Temporality } from '../../src/model/metrics.js';
import type { StoreConfig } from '../../src/storehelper/config.js';
import { PeriodAccumulator } from '../../src/storehelper/accumulator.js';

export const S = 1_000_000_000n;

export function num(time: bigint, value: number | bigint, attributes: Attributes = {}, start = 0n): NumberDataPoint {
  return { attributes, startTimeUnixNano: start, timeUnixNano: time, flags: 0, value };
}

export function hist(
  time: bigint,
  bounds: number[],
  counts: number[],
  sum: number,
  attributes: Attributes = {},
  start = 0n,
  minmax?: [number, number],
): HistogramDataPoint {
  const p: HistogramDataPoint = {
    attributes,
    startTimeUnixNano: start,
    timeUnixNano: time,
    flags: 0,
    count: counts.reduce((a, b) => a + b, 0),
    sum,
    bucketCounts: counts,
    explicitBounds: bounds,
  };
  if (minmax !== undefined) {
    p.min = minmax[0];
    p.max = minmax[1];
  }
  return p;
}

export function gauge(name: string, points: NumberDataPoint[], unit = ''): Metric {
  return { kind: 'gauge', name, description: '', unit, points };
}
export function sum(name: string, points: NumberDataPoint[], temporality: 'delta' | 'cumulative' = 'delta', monotonic = true, unit = ''): Metric {
  return {
    kind: 'sum',
    name,
    description: '',
    unit,
    temporality: temporality === 'delta' ? Temporality.Delta : Temporality.Cumulative,
    isMonotonic: monotonic,
    points,
  };
}
export function histogram(name: string, points: HistogramDataPoint[], temporality: 'delta' | 'cumulative' = 'delta', unit = ''): Metric {
  return { kind: 'histogram', name, description: '', unit, temporality: temporality === 'delta' ? Temporality.Delta : Temporality.Cumulative, points };
}

export function batch(metrics: Metric[], resource: Attributes = { 'service.name': 'shop' }): MetricsBatch {
  return {
    resourceMetrics: [
      {
        resource: { attributes: resource, droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeMetrics: [{ scope: { name: 's', version: '1', attributes: {}, droppedAttributesCount: 0 }, schemaUrl: '', metrics }],
      },
    ],
  };
}

export function storeCfg(over: Partial<StoreConfig> = {}): StoreConfig {
  return {
    period: 1000,
    lateness: 0,
    max_series: 100_000,
    series_expiry: 900_000,
    cumulative: 'cumulative',
    resource_attributes: ['service.name'],
    unhealthy_after_periods: 3,
    timeout: 2000,
    retry_on_failure: { enabled: true, initial_interval: 50, max_interval: 200, max_elapsed_time: 20_000, multiplier: 1.5, randomization_factor: 0 },
    sending_queue: { enabled: true, num_consumers: 1, queue_size: 1000, sizer: 'requests', drop_policy: 'refuse' },
    ...over,
  };
}

const T0 = 1_700_000_000;
/** the store points of a batch stamped in [T0, T0+10): one accumulator, 10 s period, everything flushed */
export function pointsOf(b: MetricsBatch, cumulative: 'delta' | 'cumulative' = 'delta') {
  const acc = new PeriodAccumulator({
    periodMs: 10_000,
    latenessMs: 0,
    maxSeries: 1000,
    seriesExpiryMs: 600_000,
    cumulative,
    resourceAttributes: ['service.name'],
    now: () => T0 * 1000,
    startedAtMs: 0,
  });
  acc.add(b);
  return acc.collect(true);
}

import type { GraphiteConfig } from '../../exporters/graphite/factory.js';
import type { InfluxConfig } from '../../exporters/influxdb/factory.js';
export function graphiteCfg(port: number, over: Partial<GraphiteConfig> = {}): GraphiteConfig {
  return {
    ...storeCfg(),
    host: '127.0.0.1',
    port,
    prefix: '',
    tag_mode: 'tags',
    template: '{name}.{tags}',
    cumulative: 'delta',
    resource_attributes: [],
    ...over,
  };
}
export function influxCfg(endpoint: string, over: Partial<InfluxConfig> = {}): InfluxConfig {
  return {
    ...storeCfg(),
    endpoint,
    api_version: 'v1',
    db: 'mp',
    rp: '',
    username: '',
    password: '',
    org: '',
    bucket: '',
    token: '',
    precision: 'ns',
    compression: 'gzip',
    field_name: 'value',
    max_payload_size: 5_000_000,
    resource_attributes: [],
    ...over,
  };
}
