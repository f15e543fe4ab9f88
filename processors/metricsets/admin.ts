/**
 * What the admin server shows about metric sets: the definitions
 * (GET /api/v1/metricsets) and the open windows' current values
 * (GET /api/v1/metricsets/<set>/preview), read from every running
 * `metricsets` processor.
 */
import type { Component } from '../../src/component.js';
import type { MetricSetsProcessor } from './processor.js';

export interface ComponentLookup {
  components(kind: 'processor', type?: string): Array<{ id: string; type: string; pipeline?: string; component: Component }>;
}

function processors(svc: ComponentLookup): Array<{ id: string; pipeline?: string; p: MetricSetsProcessor }> {
  return svc.components('processor', 'metricsets').map((c) => ({ id: c.id, ...(c.pipeline !== undefined ? { pipeline: c.pipeline } : {}), p: c.component as MetricSetsProcessor }));
}

/** Every metric set with its metrics, output series and the processor that runs it. */
export function listMetricSets(svc: ComponentLookup): { metricsets: Array<Record<string, unknown>> } {
  const out: Array<Record<string, unknown>> = [];
  for (const { id, pipeline, p } of processors(svc)) {
    for (const def of p.definitions()) {
      out.push({ ...def, processor: id, ...(pipeline !== undefined ? { pipeline } : {}), period_ms: p.engine.o.periodMs, allowed_lateness_ms: p.engine.o.latenessMs });
    }
  }
  return { metricsets: out };
}

/** The open windows of one set, per processor running it; undefined when no processor has the set. */
export function previewMetricSet(svc: ComponentLookup, set: string): Record<string, unknown> | undefined {
  const found = processors(svc).filter(({ p }) => p.specs.some((s) => s.set === set));
  if (found.length === 0) return undefined;
  return {
    metricset: set,
    previews: found.map(({ id, pipeline, p }) => ({ processor: id, ...(pipeline !== undefined ? { pipeline } : {}), windows: p.preview(set) })),
  };
}
