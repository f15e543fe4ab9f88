/**
 * Windows across components (semantics.md §7): a windowing processor (one
 * whose factory declares `window`, e.g. metricsets) feeds push stores
 * (exporters with a `period`). Each store's period must be a multiple of the
 * window (a store period spanning several windows combines them; a shorter or
 * unaligned one would cut windows apart), and a store's explicit `lateness`
 * must exceed the processor's emit delay, or every window would reach the
 * store after its period closed.
 */
import type { ConfigIssue } from '../errors.js';
import type { PipelineConfig, ServiceConfig } from './service-config.js';

interface Upstream {
  processor: string;
  periodMs: number;
  emitDelayMs: number;
}

function fmt(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** Per exporter id: the windowing processors upstream of it (through pipeline links too). */
function windowsByExporter(cfg: ServiceConfig): Map<string, Upstream[]> {
  const byId = new Map(cfg.pipelines.map((p) => [p.id, p]));
  const out = new Map<string, Upstream[]>();
  const seen = new Set<string>();
  const reach = (p: PipelineConfig, ups: Upstream[], trail: Set<string>): void => {
    for (const e of p.exporters) {
      let list = out.get(e);
      if (list === undefined) {
        list = [];
        out.set(e, list);
      }
      for (const u of ups) {
        const key = `${e}|${u.processor}|${u.periodMs}|${u.emitDelayMs}`;
        if (!seen.has(key)) {
          seen.add(key);
          list.push(u);
        }
      }
    }
    // pipelines taking this pipeline's output (`pipeline/<id>` receivers), when the config has them
    for (const q of cfg.pipelines) {
      const inputs = (q as { inputs?: string[] }).inputs ?? [];
      if (inputs.includes(p.id) && !trail.has(q.id)) reach(q, [...ups, ...windowsOf(cfg, q)], new Set([...trail, q.id]));
    }
  };
  for (const p of cfg.pipelines) {
    const ups = windowsOf(cfg, p);
    if (ups.length > 0 && byId.has(p.id)) reach(p, ups, new Set([p.id]));
  }
  return out;
}

function windowsOf(cfg: ServiceConfig, p: PipelineConfig): Upstream[] {
  const ups: Upstream[] = [];
  for (const pr of p.processors) {
    const c = cfg.processors.get(pr.id);
    const w = c?.factory.window?.(c.config as never);
    if (w !== undefined) ups.push({ processor: pr.id, ...w });
  }
  return ups;
}

/** Issues for stores whose period or lateness does not fit the windows feeding them (paths under `exporters.<id>`). */
export function checkWindows(cfg: ServiceConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [id, ups] of windowsByExporter(cfg)) {
    const c = cfg.exporters.get(id)?.config;
    if (c === undefined || typeof c.period !== 'number') continue; // not a push store
    const period = c.period;
    for (const u of ups) {
      if (period % u.periodMs !== 0) {
        issues.push({
          path: `exporters.${id}.period`,
          severity: 'error',
          message: `${fmt(period)} is not a multiple of the window of processors.${u.processor} (period ${fmt(u.periodMs)}): a store fed by a metric set needs a period of ${fmt(u.periodMs)} or a multiple of it (e.g. ${fmt(u.periodMs * Math.max(1, Math.round(period / u.periodMs)))})`,
        });
      }
      if (typeof c.lateness === 'number' && c.lateness > 0 && c.lateness <= u.emitDelayMs) {
        issues.push({
          path: `exporters.${id}.lateness`,
          severity: 'error',
          message: `${fmt(c.lateness)} is not longer than the allowed lateness of processors.${u.processor} (${fmt(u.emitDelayMs)}): its windows would reach this store after the period closed; use more, or 0s (automatic: the allowed lateness + 10 % of the period)`,
        });
      }
    }
  }
  return issues;
}

/** The longest emit delay of the windowing processors upstream of each exporter (ms). */
export function upstreamDelays(cfg: ServiceConfig): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, ups] of windowsByExporter(cfg)) {
    let d = 0;
    for (const u of ups) if (u.emitDelayMs > d) d = u.emitDelayMs;
    if (d > 0) out.set(id, d);
  }
  return out;
}
