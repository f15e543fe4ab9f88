import { validateSchema } from '../../../src/config/schema.js';
import type { Event } from '../../../src/model/events.js';
import type { Attributes, GaugeMetric, MetricsBatch, SumMetric } from '../../../src/model/metrics.js';
import { compileMetricSets, metricsetsConfigSchema, type MetricSetsConfig } from '../../../processors/metricsets/config.js';
import { MetricSetsEngine } from '../../../processors/metricsets/engine.js';
import { engineOptions } from '../../../processors/metricsets/processor.js';

export const S = 1_000_000_000n;
export const T0 = 1_700_000_040n * S; // a multiple of 60 s: 1700000040 = 28333334 × 60

export function config(raw: Record<string, unknown>): MetricSetsConfig {
  const { value, issues } = validateSchema(metricsetsConfigSchema, raw, '');
  if (issues.length > 0) throw new Error(JSON.stringify(issues));
  return value as unknown as MetricSetsConfig;
}

export function engine(raw: Record<string, unknown>, mode: 'wall' | 'replay' = 'replay', nowMs?: number): MetricSetsEngine {
  const cfg = config(raw);
  const issues: never[] = [];
  const specs = compileMetricSets(cfg, issues);
  if (issues.length > 0) throw new Error(JSON.stringify(issues));
  return new MetricSetsEngine(specs, engineOptions(cfg, mode), nowMs);
}

export function ev(t: bigint, attributes: Attributes): Event {
  return { timeUnixNano: t, attributes };
}

export interface Row {
  window: bigint;
  end: bigint;
  set: string;
  name: string;
  kind: string;
  temporality?: number;
  monotonic?: boolean;
  attrs: string;
  value: number;
}

/** Flatten batches into rows sorted for comparison. */
export function rows(batches: MetricsBatch[]): Row[] {
  const out: Row[] = [];
  for (const b of batches)
    for (const rm of b.resourceMetrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) {
          for (const p of (m as SumMetric | GaugeMetric).points) {
            out.push({
              window: p.startTimeUnixNano,
              end: p.timeUnixNano,
              set: String(sm.scope.attributes['metricset.name']),
              name: m.name,
              kind: m.kind,
              ...(m.kind === 'sum' ? { temporality: m.temporality, monotonic: m.isMonotonic } : {}),
              attrs: JSON.stringify(Object.entries(p.attributes).sort()),
              value: Number(p.value),
            });
          }
        }
  return out;
}

/** name|attrs → value for one window */
export function valuesOf(rs: Row[], window: bigint): Record<string, number> {
  const o: Record<string, number> = {};
  for (const r of rs) if (r.window === window) o[`${r.name}|${r.attrs}`] = r.value;
  return o;
}

export function attrsKey(a: Record<string, unknown>): string {
  return JSON.stringify(Object.entries(a).sort());
}
