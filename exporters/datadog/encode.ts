/**
 * Store points → Datadog series bodies (protocols.md §2). Pure.
 *
 * Type mapping (the period is the `interval` of every count):
 * - gauge (and cumulative non-monotonic sums) → gauge;
 * - delta sums and per-period deltas of cumulative sums → count;
 * - histogram → `<name>.count` and `<name>.sum` counts, `<name>.min`/`<name>.max`
 *   gauges when known, and `<name>.bucket` counts per bucket tagged
 *   `lower_bound:<b>`/`upper_bound:<b>` (`inf` for the open ends);
 * - summary → `<name>.count`/`<name>.sum` gauges (running totals) and
 *   `<name>.quantile` gauges tagged `quantile:<q>`.
 * Tags `key:value` from the selected resource attributes and the point
 * attributes; `host.name` goes to `resources` (v2) / `host` (v1). Points older
 * than one hour (the intake drops them) are dropped here and counted.
 */
import { valueToString } from '../../src/model/attributes.js';
import type { Attributes } from '../../src/model/metrics.js';
import type { StorePoint } from '../../src/storehelper/accumulator.js';

const DD_MAX_AGE_SECONDS = 3600;

/** Datadog metric names: start with a letter, ASCII letters, digits, `_` and `.`, at most 200 characters. */
export function sanitizeMetricName(name: string): string {
  let s = name.replace(/[^A-Za-z0-9_.]/g, '_');
  s = s.replace(/^[^A-Za-z]+/, '');
  if (s === '') s = 'metric';
  return s.slice(0, 200);
}

function tagsOf(p: StorePoint): string[] {
  const m = new Map<string, string>();
  const add = (a: Attributes): void => {
    for (const k in a) {
      if (k === 'host.name') continue;
      m.set(k, valueToString(a[k] ?? null));
    }
  };
  add(p.meta.resource);
  add(p.meta.attrs);
  const out: string[] = [];
  for (const [k, v] of m) out.push(v === '' ? k : `${k}:${v}`);
  return out;
}

interface Row {
  metric: string;
  type: 'count' | 'gauge';
  ts: number;
  value: number;
  tags: string[];
  host: string | undefined;
}

function rowsOf(p: StorePoint, out: Row[]): void {
  const ts = Number(p.time / 1_000_000_000n);
  const tags = tagsOf(p);
  const name = sanitizeMetricName(p.meta.name);
  const host = p.meta.host;
  const add = (suffix: string, type: 'count' | 'gauge', value: number, extra?: string[]): void => {
    if (!Number.isFinite(value)) return;
    out.push({ metric: suffix === '' ? name : (name + suffix).slice(0, 200), type, ts, value, tags: extra ? [...tags, ...extra] : tags, host });
  };
  const kind = p.meta.kind;
  if (kind === 'histogram' && p.hist !== undefined) {
    const h = p.hist;
    add('.count', 'count', h.count);
    add('.sum', 'count', h.sum);
    if (h.min !== undefined) add('.min', 'gauge', h.min);
    if (h.max !== undefined) add('.max', 'gauge', h.max);
    for (let i = 0; i < h.counts.length; i++) {
      const lo = i === 0 ? '-inf' : String(h.bounds[i - 1]);
      const hi = i < h.bounds.length ? String(h.bounds[i]) : 'inf';
      add('.bucket', 'count', h.counts[i] as number, [`lower_bound:${lo}`, `upper_bound:${hi}`]);
    }
  } else if (kind === 'summary' && p.summary !== undefined) {
    add('.count', 'gauge', p.summary.count);
    add('.sum', 'gauge', p.summary.sum);
    for (const q of p.summary.quantiles) add('.quantile', 'gauge', q.value, [`quantile:${q.quantile}`]);
  } else {
    add('', p.meta.temporality === 'delta' ? 'count' : 'gauge', Number(p.value));
  }
}

export interface DatadogEncodeResult {
  json: string;
  n: number;
  tooOld: number;
}

/** `{"series":[...]}` for `/api/v2/series` (api: v2) or `/api/v1/series` (api: v1). */
export function encodeSeries(points: readonly StorePoint[], o: { api: 'v1' | 'v2'; intervalSeconds: number; nowMs: number }): DatadogEncodeResult {
  const rows: Row[] = [];
  const minTs = Math.floor(o.nowMs / 1000) - DD_MAX_AGE_SECONDS;
  let n = 0;
  let tooOld = 0;
  for (const p of points) {
    if (Number(p.time / 1_000_000_000n) < minTs) {
      tooOld++;
      continue;
    }
    rowsOf(p, rows);
    n++;
  }
  const interval = Math.max(1, Math.round(o.intervalSeconds));
  const series = rows.map((r) => {
    if (o.api === 'v2') {
      const s: Record<string, unknown> = { metric: r.metric, type: r.type === 'count' ? 1 : 3 };
      if (r.type === 'count') s.interval = interval;
      s.points = [{ timestamp: r.ts, value: r.value }];
      if (r.host !== undefined) s.resources = [{ name: r.host, type: 'host' }];
      s.tags = r.tags;
      return s;
    }
    const s: Record<string, unknown> = { metric: r.metric, type: r.type };
    if (r.type === 'count') s.interval = interval;
    s.points = [[r.ts, r.value]];
    if (r.host !== undefined) s.host = r.host;
    s.tags = r.tags;
    return s;
  });
  return { json: JSON.stringify({ series }), n, tooOld };
}
