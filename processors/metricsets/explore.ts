/**
 * Explore: an ad-hoc metric over the recent events a `metricsets` processor
 * kept (history.ts), in the metric-set vocabulary (filter, group_by,
 * aggregates) plus a time frame, a bucket and a limit
 * (`POST /api/v1/explore`, the console's Explore page).
 *
 * The query is compiled by `compileMetricSets` and aggregated by a
 * `MetricSetsEngine` in replay mode with the processor's own options
 * (max_groups, unique and percentile precision) and the bucket as its period:
 * a bucket equal to the processor's period shows, per window, the values the
 * processor sends for that window. The table merges the buckets with the
 * aggregates' own merge (aggregate.ts): uniques are unions, not sums.
 */
import { parseDuration } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import type { MetricsBatch, NumberDataPoint, WindowAggregate } from '../../src/model/metrics.js';
import { compileMetricSets, type MetricSetsConfig } from './config.js';
import { MetricSetsEngine, OVERFLOW } from './engine.js';
import type { EventHistory } from './history.js';

export interface ExploreQuery {
  filter?: unknown;
  group_by?: string[];
  group_by_defaults?: Record<string, string>;
  aggregates: string[];
  /** "1h" (that long before `to`), an ISO time or epoch milliseconds; default 1h */
  from?: string | number;
  /** "now", an ISO time or epoch milliseconds; default now */
  to?: string | number;
  /** bucket length ("60s"); default the processor's period, grown to at most MAX_BUCKETS buckets */
  bucket?: string | number;
  /** table rows (default 100, at most 10,000) */
  limit?: number;
  /** rows to skip (pagination) */
  offset?: number;
  /** groups drawn per aggregate in the chart series (default 10) */
  series_limit?: number;
}

export interface ExploreRow {
  group: Record<string, unknown>;
  values: Array<number | null>;
}
export interface ExploreResult {
  from: string;
  to: string;
  bucket_ms: number;
  period_ms: number;
  group_by: string[];
  aggregates: string[];
  /** names of the output series the metric would have (ExploreResult.aggregates order) */
  outputs: string[];
  events_scanned: number;
  events_matched: number;
  groups_total: number;
  offset: number;
  rows: ExploreRow[];
  /** per aggregate: bucket start times (epoch ms) and the top groups' values per bucket (null = no value) */
  series: Array<{ aggregate: string; times: number[]; groups: Array<{ group: Record<string, unknown>; values: Array<number | null> }> }>;
  took_ms: number;
}

export class ExploreError extends Error {
  constructor(
    message: string,
    readonly errors: Array<{ path: string; message: string }>,
    readonly status = 400,
  ) {
    super(message);
  }
}

const MAX_BUCKETS = 120;
const MAX_LIMIT = 10_000;
const QUERY_KEYS = ['filter', 'group_by', 'group_by_defaults', 'aggregates', 'from', 'to', 'bucket', 'limit', 'offset', 'series_limit', 'processor'];

function parseTime(v: unknown, nowMs: number, toMs: number | undefined, path: string, errors: ConfigIssue[]): number | undefined {
  if (v === undefined || v === null || v === '' || v === 'now') return toMs === undefined ? nowMs : toMs - 3_600_000;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const rel = parseDuration(v.replace(/^-/, ''));
    if (rel !== undefined && !/^\d{4}-/.test(v)) return (toMs ?? nowMs) - rel;
    const t = Date.parse(v);
    if (Number.isFinite(t)) return t;
  }
  errors.push({
    path,
    message: `expected "now", a duration before "to" such as "1h", an ISO time or epoch milliseconds, got ${JSON.stringify(v)}`,
    severity: 'error',
  });
  return undefined;
}

/** Check a query body; throws ExploreError with every problem and its key path. */
function parseQuery(body: unknown, nowMs: number, periodMs: number): { q: ExploreQuery; fromMs: number; toMs: number; bucketMs: number } {
  const errors: ConfigIssue[] = [];
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ExploreError('the query must be a JSON object with "aggregates" (and optionally filter, group_by, from, to, bucket, limit)', [
      { path: '', message: 'expected a JSON object' },
    ]);
  const q = body as ExploreQuery & Record<string, unknown>;
  for (const k of Object.keys(q))
    if (!QUERY_KEYS.includes(k)) errors.push({ path: k, message: `unknown key (valid: ${QUERY_KEYS.join(', ')})`, severity: 'error' });
  if (!Array.isArray(q.aggregates) || q.aggregates.length === 0)
    errors.push({ path: 'aggregates', message: 'needs at least one aggregate, e.g. ["count"] or ["unique(_tx)", "unique(guid)"]', severity: 'error' });
  if (q.group_by !== undefined && (!Array.isArray(q.group_by) || q.group_by.some((g) => typeof g !== 'string')))
    errors.push({ path: 'group_by', message: 'expected a list of attribute names', severity: 'error' });
  const toMs = parseTime(q.to, nowMs, undefined, 'to', errors);
  const fromMs = toMs === undefined ? undefined : parseTime(q.from, nowMs, toMs, 'from', errors);
  if (fromMs !== undefined && toMs !== undefined && fromMs >= toMs)
    errors.push({ path: 'from', message: `must be before "to" (${new Date(toMs).toISOString()})`, severity: 'error' });
  let bucketMs = periodMs;
  if (q.bucket !== undefined && q.bucket !== null && q.bucket !== '') {
    const b = parseDuration(q.bucket);
    if (b === undefined || b < 1)
      errors.push({ path: 'bucket', message: `expected a duration such as "60s", got ${JSON.stringify(q.bucket)}`, severity: 'error' });
    else bucketMs = b;
  }
  for (const k of ['limit', 'offset', 'series_limit'] as const) {
    const v = q[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_LIMIT))
      errors.push({ path: k, message: `expected an integer 0..${MAX_LIMIT}`, severity: 'error' });
  }
  if (errors.length > 0)
    throw new ExploreError(
      `the query is invalid (${errors.length} error${errors.length === 1 ? '' : 's'})`,
      errors.map((e) => ({ path: e.path, message: e.message })),
    );
  // too many buckets: grow the bucket by whole periods (so a bucket stays a union of the processor's windows)
  const span = toMs! - fromMs!;
  if (span / bucketMs > MAX_BUCKETS) {
    const unit = bucketMs;
    bucketMs = Math.ceil(span / MAX_BUCKETS / unit) * unit;
  }
  return { q, fromMs: fromMs!, toMs: toMs!, bucketMs };
}

function jsonValue(v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
function num(v: number | bigint): number {
  return typeof v === 'bigint' ? Number(v) : v;
}

/** Run a query over a history with the processor's options. */
export function explore(history: EventHistory, cfg: MetricSetsConfig, body: unknown, nowMs = Date.now()): ExploreResult {
  const started = performance.now();
  const { q, fromMs, toMs, bucketMs } = parseQuery(body, nowMs, cfg.period);
  const issues: ConfigIssue[] = [];
  const metric = {
    name: 'explore',
    description: '',
    filter: q.filter ?? undefined,
    group_by: q.group_by ?? [],
    group_by_defaults: q.group_by_defaults ?? {},
    aggregates: q.aggregates,
  };
  const specs = compileMetricSets({ ...cfg, sets: [{ name: 'explore', metrics: [metric] }] }, issues);
  const errs = issues.filter((i) => i.severity === 'error');
  if (errs.length > 0) {
    throw new ExploreError(
      `the query is invalid (${errs.length} error${errs.length === 1 ? '' : 's'})`,
      errs.map((i) => ({ path: i.path.replace(/^sets\[0\]\.metrics\[0\]\./, ''), message: i.message })),
    );
  }
  const spec = specs[0]!;
  const engine = new MetricSetsEngine(specs, {
    periodMs: bucketMs,
    latenessMs: 0,
    maxGroups: cfg.max_groups,
    zeroFill: false,
    hllThreshold: cfg.unique.exact_threshold,
    hllPrecision: cfg.unique.precision,
    ddAccuracy: cfg.percentiles.relative_accuracy,
    mode: 'replay',
  });
  const fromNs = BigInt(Math.floor(fromMs)) * 1_000_000n;
  const toNs = BigInt(Math.floor(toMs)) * 1_000_000n;
  let scanned = 0;
  for (const c of history.snapshot()) scanned += engine.addColumns(c, fromNs, toNs);
  const batches: MetricsBatch[] = engine.flushAll();
  // per aggregate output name → per group key → per bucket
  const aggIndex = new Map(spec.aggs.map((a, i) => [a.output, i]));
  const times: number[] = [];
  interface Acc {
    group: Record<string, unknown>;
    totals: Array<number | null>;
    states: Array<WindowAggregate | undefined>;
    perBucket: Array<Map<number, number>>;
  }
  const groups = new Map<string, Acc>();
  for (const b of batches) {
    for (const sm of b.resourceMetrics[0]?.scopeMetrics ?? []) {
      for (const m of sm.metrics) {
        const ai = aggIndex.get(m.name);
        if (ai === undefined) continue;
        const kind = spec.aggs[ai]!.kind;
        for (const p of m.points as NumberDataPoint[]) {
          const tMs = Number(p.startTimeUnixNano / 1_000_000n);
          const key = JSON.stringify(spec.groupBy.map((g) => jsonValue(p.attributes[g])));
          let acc = groups.get(key);
          if (acc === undefined) {
            const group: Record<string, unknown> = {};
            for (const g of spec.groupBy) group[g] = jsonValue(p.attributes[g]);
            acc = { group, totals: spec.aggs.map(() => null), states: spec.aggs.map(() => undefined), perBucket: spec.aggs.map(() => new Map()) };
            groups.set(key, acc);
          }
          const v = num(p.value);
          acc.perBucket[ai]!.set(tMs, v);
          if (kind === 'count' || kind === 'sum') acc.totals[ai] = (acc.totals[ai] ?? 0) + v;
          else if (p.aggregate !== undefined) {
            const st = acc.states[ai];
            if (st === undefined) acc.states[ai] = p.aggregate.clone();
            else st.mergeFrom(p.aggregate);
          }
        }
      }
    }
  }
  // every bucket of the time frame, so a chart shows the gaps
  for (let k = Math.floor(fromMs / bucketMs); k * bucketMs < toMs; k++) times.push(k * bucketMs);
  const all = [...groups.values()].map((g) => {
    g.states.forEach((s, i) => {
      if (s !== undefined) g.totals[i] = num(s.value());
    });
    return g;
  });
  // biggest first by the first aggregate, the overflow group last
  all.sort((a, b) => {
    const ao = Object.values(a.group).includes(OVERFLOW) ? 1 : 0;
    const bo = Object.values(b.group).includes(OVERFLOW) ? 1 : 0;
    if (ao !== bo) return ao - bo;
    return (b.totals[0] ?? -Infinity) - (a.totals[0] ?? -Infinity) || JSON.stringify(a.group).localeCompare(JSON.stringify(b.group));
  });
  const limit = q.limit ?? 100;
  const offset = q.offset ?? 0;
  const seriesLimit = q.series_limit ?? 10;
  const matched = engine.counters[0]!.matched;
  return {
    from: new Date(fromMs).toISOString(),
    to: new Date(toMs).toISOString(),
    bucket_ms: bucketMs,
    period_ms: cfg.period,
    group_by: spec.groupBy,
    aggregates: spec.aggs.map((a) => a.text),
    outputs: spec.aggs.map((a) => a.output.replace(/^explore\./, '<metric>.')),
    events_scanned: scanned,
    events_matched: matched,
    groups_total: all.length,
    offset,
    rows: all.slice(offset, offset + limit).map((g) => ({ group: g.group, values: g.totals })),
    series: spec.aggs.map((a, ai) => ({
      aggregate: a.text,
      times,
      groups: all.slice(0, seriesLimit).map((g) => ({ group: g.group, values: times.map((t) => g.perBucket[ai]!.get(t) ?? null) })),
    })),
    took_ms: Math.round((performance.now() - started) * 10) / 10,
  };
}
