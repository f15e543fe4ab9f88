/**
 * The debug exporter's formatting: pure functions from a batch to log
 * entries (fields + message), so they can be tested as data. Values that
 * JSON cannot hold (bigint, bytes, NaN) become strings.
 */
import type { AttrValue, Attributes, EventBatch, Metric, MetricsBatch } from '../../src/model/index.js';
import { countMetrics, countPoints } from '../../src/model/index.js';

export type Verbosity = 'basic' | 'normal' | 'detailed';
export const VERBOSITIES: readonly Verbosity[] = ['basic', 'normal', 'detailed'];

export interface LogEntry {
  fields: Record<string, unknown>;
  msg: string;
}

/** An attribute value in a shape JSON (and so the logger) can carry. */
function loggable(v: AttrValue): unknown {
  switch (typeof v) {
    case 'bigint':
      return v.toString();
    case 'number':
      return Number.isFinite(v) ? v : String(v);
    case 'string':
    case 'boolean':
      return v;
    default:
      if (v === null) return null;
      if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
      if (Array.isArray(v)) return v.map(loggable);
      return loggableAttributes(v);
  }
}

function loggableAttributes(a: Attributes): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(a)) {
    const v = loggable(a[k] as AttrValue);
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
  }
  return out;
}

const num = (v: number | bigint): unknown => loggable(v);

function pointFields(m: Metric, i: number): Record<string, unknown> {
  const p = m.points[i]!;
  const base: Record<string, unknown> = {
    attributes: loggableAttributes(p.attributes),
    start_time_unix_nano: p.startTimeUnixNano.toString(),
    time_unix_nano: p.timeUnixNano.toString(),
  };
  if (p.flags !== 0) base.flags = p.flags;
  switch (m.kind) {
    case 'gauge':
    case 'sum': {
      const q = m.points[i]!;
      base.value = num(q.value);
      base.value_type = typeof q.value === 'bigint' ? 'int' : 'double';
      break;
    }
    case 'histogram': {
      const q = m.points[i]!;
      Object.assign(base, {
        count: q.count,
        sum: q.sum !== undefined ? num(q.sum) : undefined,
        min: q.min !== undefined ? num(q.min) : undefined,
        max: q.max !== undefined ? num(q.max) : undefined,
        bucket_counts: q.bucketCounts,
        explicit_bounds: q.explicitBounds.map(num),
      });
      break;
    }
    case 'exponentialHistogram': {
      const q = m.points[i]!;
      Object.assign(base, {
        count: q.count,
        sum: q.sum !== undefined ? num(q.sum) : undefined,
        min: q.min !== undefined ? num(q.min) : undefined,
        max: q.max !== undefined ? num(q.max) : undefined,
        scale: q.scale,
        zero_count: q.zeroCount,
        zero_threshold: q.zeroThreshold,
        positive: q.positive,
        negative: q.negative,
      });
      break;
    }
    case 'summary': {
      const q = m.points[i]!;
      Object.assign(base, {
        count: q.count,
        sum: num(q.sum),
        quantile_values: q.quantileValues.map((x) => ({ quantile: num(x.quantile), value: num(x.value) })),
      });
      break;
    }
  }
  if (p.exemplars !== undefined && p.exemplars.length > 0) base.exemplars = p.exemplars.length;
  for (const k of Object.keys(base)) if (base[k] === undefined) delete base[k];
  return base;
}

function metricFields(m: Metric): Record<string, unknown> {
  const f: Record<string, unknown> = { metric: m.name, kind: m.kind, unit: m.unit, points: m.points.length };
  if (m.kind === 'sum') {
    f.temporality = m.temporality;
    f.monotonic = m.isMonotonic;
  }
  if (m.kind === 'histogram' || m.kind === 'exponentialHistogram') f.temporality = m.temporality;
  return f;
}

/**
 * basic: one entry per batch with counts. normal: that, then one per metric
 * (name, kind, point count). detailed: that, then one per data point with
 * every field — for debugging only: it logs every point.
 */
export function formatMetrics(batch: MetricsBatch, verbosity: Verbosity): LogEntry[] {
  const out: LogEntry[] = [
    {
      fields: { signal: 'metrics', resource_metrics: batch.resourceMetrics.length, metrics: countMetrics(batch), data_points: countPoints(batch) },
      msg: 'metrics batch',
    },
  ];
  if (verbosity === 'basic') return out;
  batch.resourceMetrics.forEach((rm, ri) => {
    const resource = verbosity === 'detailed' ? loggableAttributes(rm.resource.attributes) : undefined;
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        if (verbosity === 'normal') {
          out.push({ fields: { ...metricFields(m), resource_index: ri }, msg: 'metric' });
          continue;
        }
        for (let i = 0; i < m.points.length; i++) {
          out.push({
            fields: {
              metric: m.name,
              kind: m.kind,
              unit: m.unit,
              resource,
              scope: sm.scope.name,
              scope_version: sm.scope.version,
              point_index: i,
              ...pointFields(m, i),
            },
            msg: 'data point',
          });
        }
      }
    }
  });
  return out;
}

/** basic: one entry per batch; normal: one per event (time, attribute names); detailed: one per event with every attribute. */
export function formatEvents(batch: EventBatch, verbosity: Verbosity): LogEntry[] {
  const out: LogEntry[] = [{ fields: { signal: 'events', events: batch.events.length }, msg: 'events batch' }];
  if (verbosity === 'basic') return out;
  for (const e of batch.events) {
    const fields: Record<string, unknown> = { time_unix_nano: e.timeUnixNano.toString() };
    if (verbosity === 'normal') fields.attribute_keys = Object.keys(e.attributes);
    else fields.attributes = loggableAttributes(e.attributes);
    out.push({ fields, msg: 'event' });
  }
  return out;
}
