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
  return svc
    .components('processor', 'metricsets')
    .map((c) => ({ id: c.id, ...(c.pipeline !== undefined ? { pipeline: c.pipeline } : {}), p: c.component as MetricSetsProcessor }));
}

/** Every metric set with its metrics, output series and the processor that runs it. */
export function listMetricSets(svc: ComponentLookup): { metricsets: Array<Record<string, unknown>> } {
  const out: Array<Record<string, unknown>> = [];
  for (const { id, pipeline, p } of processors(svc)) {
    for (const def of p.definitions()) {
      out.push({
        ...def,
        processor: id,
        ...(pipeline !== undefined ? { pipeline } : {}),
        period_ms: p.engine.o.periodMs,
        allowed_lateness_ms: p.engine.o.latenessMs,
      });
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

/** The metricsets processors keeping a history, the first one or the one named. */
function historyOf(svc: ComponentLookup, id: string | undefined): { id: string; p: MetricSetsProcessor } | { status: number; error: string } {
  const all = processors(svc);
  if (all.length === 0)
    return { status: 409, error: 'no metricsets processor runs: Explore reads the events a metricsets processor receives; add one to an events pipeline' };
  const pick = id === undefined || id === '' ? (all.find((x) => x.p.history !== undefined) ?? all[0]!) : all.find((x) => x.id === id);
  if (pick === undefined) return { status: 404, error: `no metricsets processor ${JSON.stringify(id)} (running: ${all.map((x) => x.id).join(', ')})` };
  if (pick.p.history === undefined) return { status: 409, error: `processor ${pick.id} keeps no history (history.enabled: false)` };
  return { id: pick.id, p: pick.p };
}

/** POST /api/v1/explore */
export async function exploreRoute(svc: ComponentLookup, raw: Buffer): Promise<{ status?: number; json: unknown }> {
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8') || 'null');
  } catch (e) {
    return { status: 400, json: { error: `the body is not JSON: ${(e as Error).message}`, errors: [] } };
  }
  const id =
    body !== null && typeof body === 'object' && typeof (body as { processor?: unknown }).processor === 'string'
      ? (body as { processor: string }).processor
      : undefined;
  const h = historyOf(svc, id);
  if ('error' in h) return { status: h.status, json: { error: h.error, errors: [] } };
  const { explore, ExploreError } = await import('./explore.js');
  try {
    return { json: { processor: h.id, ...explore(h.p.history!, h.p.cfg, body), history: h.p.history!.stats() } };
  } catch (e) {
    if (e instanceof ExploreError) return { status: e.status, json: { error: e.message, errors: e.errors } };
    throw e;
  }
}

/** GET /api/v1/explore/attributes: attribute names and frequent values, for the query builder. */
export function exploreAttributes(svc: ComponentLookup, id: string | undefined): { status?: number; json: unknown } {
  const h = historyOf(svc, id);
  if ('error' in h) return { status: h.status, json: { error: h.error } };
  return {
    json: {
      processor: h.id,
      period_ms: h.p.cfg.period,
      processors: processors(svc).map((x) => ({ id: x.id, history: x.p.history !== undefined })),
      attributes: h.p.history!.attributes(),
      history: h.p.history!.stats(),
    },
  };
}
