/**
 * The metrics data model, mirroring OTLP (opentelemetry/proto/metrics/v1).
 *
 * Decoded once at the edge (receivers/otlp, pollers, processors that produce
 * metrics) and shared by every component. Times are nanoseconds since the Unix
 * epoch as `bigint`, so `1700000000123456789` survives exactly. Integer values
 * (`asInt`, attribute `intValue`) are `bigint`; doubles are `number`; the
 * typeof tells them apart, so `intValue: 1` and `doubleValue: 1` stay distinct.
 * Histogram counts are `number` (exact up to 2^53).
 */

/** An attribute value: OTLP AnyValue. A plain object is a kvlist; Uint8Array is bytes. */
export type AttrValue = string | boolean | number | bigint | Uint8Array | AttrValue[] | KvList | null;
export interface KvList {
  [key: string]: AttrValue;
}
/** Attributes keyed by name. Keys are unique (the last occurrence wins on decode). */
export type Attributes = Record<string, AttrValue>;

export interface Resource {
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface Scope {
  name: string;
  version: string;
  attributes: Attributes;
  droppedAttributesCount: number;
}

export const Temporality = { Unspecified: 0, Delta: 1, Cumulative: 2 } as const;
export type Temporality = (typeof Temporality)[keyof typeof Temporality];

/** Data point flag bit 0: no recorded value (a staleness marker). */
export const FLAG_NO_RECORDED_VALUE = 1;

export interface Exemplar {
  filteredAttributes: Attributes;
  timeUnixNano: bigint;
  value: number | bigint;
  /** lower-case hex, '' when absent */
  spanId: string;
  traceId: string;
}

interface PointBase {
  attributes: Attributes;
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  flags: number;
  exemplars?: Exemplar[];
}

export interface NumberDataPoint extends PointBase {
  /** `bigint` for asInt, `number` for asDouble. */
  value: number | bigint;
  /**
   * Gauges computed over a window (metric sets: unique, percentiles, min,
   * max, mean, first, last) carry their mergeable state, so that a store whose
   * period spans several windows combines them exactly (semantics.md §7)
   * instead of keeping the last value. Never encoded; absent elsewhere.
   */
  aggregate?: WindowAggregate;
}

/** The mergeable state behind a windowed gauge (see NumberDataPoint.aggregate). */
export interface WindowAggregate {
  /** how states combine, e.g. "unique/p14/t1024"; only equal kinds merge */
  readonly kind: string;
  /** a private copy, safe to merge into (the original is shared with other consumers) */
  clone(): WindowAggregate;
  /** fold another window's state of the same kind into this one, in place */
  mergeFrom(other: WindowAggregate): void;
  /** the value the state stands for */
  value(): number | bigint;
  /** never serialised with the point */
  toJSON(): undefined;
}

export interface HistogramDataPoint extends PointBase {
  count: number;
  sum?: number;
  bucketCounts: number[];
  explicitBounds: number[];
  min?: number;
  max?: number;
}

export interface ExpHistogramBuckets {
  offset: number;
  bucketCounts: number[];
}

export interface ExponentialHistogramDataPoint extends PointBase {
  count: number;
  sum?: number;
  scale: number;
  zeroCount: number;
  positive: ExpHistogramBuckets;
  negative: ExpHistogramBuckets;
  min?: number;
  max?: number;
  zeroThreshold: number;
}

export interface QuantileValue {
  quantile: number;
  value: number;
}

export interface SummaryDataPoint extends PointBase {
  count: number;
  sum: number;
  quantileValues: QuantileValue[];
}

interface MetricBase {
  name: string;
  description: string;
  unit: string;
  /** Metric.metadata (field 12), kept when present. */
  metadata?: Attributes;
}

export interface GaugeMetric extends MetricBase {
  kind: 'gauge';
  points: NumberDataPoint[];
}
export interface SumMetric extends MetricBase {
  kind: 'sum';
  temporality: Temporality;
  isMonotonic: boolean;
  points: NumberDataPoint[];
}
export interface HistogramMetric extends MetricBase {
  kind: 'histogram';
  temporality: Temporality;
  points: HistogramDataPoint[];
}
export interface ExponentialHistogramMetric extends MetricBase {
  kind: 'exponentialHistogram';
  temporality: Temporality;
  points: ExponentialHistogramDataPoint[];
}
export interface SummaryMetric extends MetricBase {
  kind: 'summary';
  points: SummaryDataPoint[];
}

export type Metric = GaugeMetric | SumMetric | HistogramMetric | ExponentialHistogramMetric | SummaryMetric;
export type MetricKind = Metric['kind'];

export interface ScopeMetrics {
  scope: Scope;
  metrics: Metric[];
  schemaUrl: string;
}
export interface ResourceMetrics {
  resource: Resource;
  scopeMetrics: ScopeMetrics[];
  schemaUrl: string;
}

/** One unit of metrics flowing through a pipeline (an ExportMetricsServiceRequest). */
export interface MetricsBatch {
  resourceMetrics: ResourceMetrics[];
}

export function emptyResource(): Resource {
  return { attributes: {}, droppedAttributesCount: 0 };
}

/** Number of data points in a batch (the unit every counter counts in). */
export function countPoints(batch: MetricsBatch): number {
  let n = 0;
  for (const rm of batch.resourceMetrics) {
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) n += m.points.length;
    }
  }
  return n;
}

/** Number of metrics in a batch. */
export function countMetrics(batch: MetricsBatch): number {
  let n = 0;
  for (const rm of batch.resourceMetrics) for (const sm of rm.scopeMetrics) n += sm.metrics.length;
  return n;
}
