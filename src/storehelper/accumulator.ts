/**
 * The period accumulator of the push metric stores (semantics.md §1–§4, §6).
 *
 * Points are bucketed by **point time** into windows `[k·P, (k+1)·P)` aligned
 * to the Unix epoch; arrival time only decides when a window closes
 * (`end + lateness`). Per series (§1 key) and window:
 * - gauge, summary, cumulative sum/histogram sent as is: last value by point time;
 * - delta sum: add; delta histogram: add bucket by bucket (same bounds; other
 *   bounds close the old series version and start a new one, counted);
 * - cumulative sum/histogram with `cumulative: delta`: turned into a delta at
 *   ingest with the exact reset and first-point rules of §4, then added.
 * - gauges carrying a window aggregate (metric sets, semantics.md §7): the
 *   windows inside one period combine (uniques and percentiles merge their
 *   sketches, min/max combine, ...) instead of keeping the last value.
 * A point covering an interval `(start, time]` (a delta, or a gauge with a
 * start) belongs to the window holding its last instant, so a point stamped
 * with its window's end stays in that window.
 * A point for a closed window is late: deltas fold into the earliest open
 * window (counted `late`), last-value kinds are dropped (counted `stale`).
 * A point more than one period in the future is taken as arriving now
 * (counted `future`). Series are capped (`series_limit` drops) and expire
 * after `seriesExpiryMs` without a point (counted `expired`), with their
 * cumulative baselines.
 *
 * Exponential histograms become explicit-bucket histograms at ingest (each
 * exponential bucket one fixed bucket, src/model/exphist.ts); delta points of
 * one period merge exactly at the exponential level whatever their ranges.
 */
import { canonicalAttributes } from '../model/attributes.js';
import { expToFixed, explicitFromExpMetric, mergeExpStates, type ExpState } from '../model/exphist.js';
import type { Attributes, AttrValue, MetricsBatch, QuantileValue, WindowAggregate } from '../model/metrics.js';
import { FLAG_NO_RECORDED_VALUE, Temporality } from '../model/metrics.js';

export type StoreKind = 'gauge' | 'sum' | 'histogram' | 'summary';
/** What the emitted value means: last value, increase within the window, or the running total as the source reported it. */
export type StoreTemporality = 'gauge' | 'delta' | 'cumulative';

/** One series, shared by all its emitted points. */
export interface SeriesMeta {
  readonly key: string;
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly kind: StoreKind;
  readonly temporality: StoreTemporality;
  readonly monotonic: boolean;
  /** point attributes */
  readonly attrs: Attributes;
  /** the selected resource attributes (`resource_attributes`) */
  readonly resource: Attributes;
  /** resource `host.name`, when present */
  readonly host: string | undefined;
}

export interface HistogramValue {
  count: number;
  sum: number;
  min: number | undefined;
  max: number | undefined;
  bounds: number[];
  counts: number[];
  /** converted from an exponential histogram: the exact state (merges stay exact when the bucket ranges differ) */
  exp?: ExpState;
}

export interface SummaryValue { count: number; sum: number; quantiles: QuantileValue[] }

/** One point for a store: one series in one closed window. */
export interface StorePoint {
  meta: SeriesMeta;
  /** window start, ns */
  start: bigint;
  /** window end, ns (the point's timestamp at the store) */
  time: bigint;
  /** gauge and sum value: bigint when the source sent integers */
  value: number | bigint;
  hist: HistogramValue | undefined;
  summary: SummaryValue | undefined;
  /** point time of the last value kept (last-value kinds) */
  seen: bigint;
}

export interface AccumulatorOptions {
  /** period in ms (≥ 1000) */
  periodMs: number;
  /** lateness in ms; default 10 % of the period */
  latenessMs?: number;
  maxSeries: number;
  seriesExpiryMs: number;
  /** how cumulative monotonic sums and cumulative histograms are emitted */
  cumulative: 'delta' | 'cumulative';
  /** resource attribute keys copied onto series */
  resourceAttributes: readonly string[];
  /** wall clock in ms */
  now?: () => number;
  /** metricport's start time in ms (§4 first-point rule); default: construction time */
  startedAtMs?: number;
}

export interface AccumulatorCounters {
  /** points taken in */
  points: number;
  /** late delta points folded into the earliest open window */
  late: number;
  /** late last-value points dropped */
  stale: number;
  /** points more than a period ahead, taken as now */
  future: number;
  /** cumulative points older than the series' last point, dropped */
  out_of_order: number;
  /** points of new series beyond max_series, dropped */
  series_limit: number;
  /** series forgotten after series_expiry */
  expired: number;
  /** cumulative resets detected (§4) */
  resets: number;
  /** first cumulative points kept only as a baseline (§4) */
  baselines: number;
  /** histogram bounds changed within a window: old version closed, new started */
  bounds_changed: number;
  /** points flagged "no recorded value", skipped */
  no_value: number;
  /** points of unknown metric kinds, dropped (exponential histograms are converted, not dropped) */
  unsupported: number;
  /** NaN / infinite delta values, dropped */
  invalid: number;
}

interface CumState { start: bigint; lastTime: bigint; last: number | bigint; count: number; sum: number; counts: number[] | undefined; bounds: number[] | undefined }

interface Series { meta: SeriesMeta; lastSeen: number; cum: CumState | undefined }

interface HeldAggregate { agg: WindowAggregate; owned: boolean }

interface Window { k: number; start: bigint; end: bigint; cells: Map<string, StorePoint>; retired: StorePoint[]; aggs: Map<string, HeldAggregate> | undefined }

const NS_PER_MS = 1_000_000n;

function sameBounds(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function addValues(a: number | bigint, b: number | bigint): number | bigint {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a + b;
  return Number(a) + Number(b);
}

function lessThan(a: number | bigint, b: number | bigint): boolean {
  return typeof a === 'bigint' && typeof b === 'bigint' ? a < b : Number(a) < Number(b);
}

function subValues(a: number | bigint, b: number | bigint): number | bigint {
  if (typeof a === 'bigint' && typeof b === 'bigint') return a - b;
  return Number(a) - Number(b);
}

export class PeriodAccumulator {
  readonly periodMs: number;
  readonly latenessMs: number;
  private readonly periodNs: bigint;
  private readonly o: AccumulatorOptions;
  private readonly now: () => number;
  private readonly startedAtNs: bigint;
  private readonly series = new Map<string, Series>();
  private readonly windows = new Map<number, Window>();
  /** every window below this index is closed */
  private openFrom: number;
  readonly counters: AccumulatorCounters = {
    points: 0, late: 0, stale: 0, future: 0, out_of_order: 0, series_limit: 0, expired: 0,
    resets: 0, baselines: 0, bounds_changed: 0, no_value: 0, unsupported: 0, invalid: 0,
  };

  constructor(o: AccumulatorOptions) {
    this.o = o;
    this.periodMs = Math.max(1, Math.round(o.periodMs));
    this.latenessMs = o.latenessMs !== undefined && o.latenessMs > 0 ? o.latenessMs : Math.round(this.periodMs / 10);
    this.periodNs = BigInt(this.periodMs) * NS_PER_MS;
    this.now = o.now ?? Date.now;
    this.startedAtNs = BigInt(Math.floor(o.startedAtMs ?? this.now())) * NS_PER_MS;
    this.openFrom = Math.floor((this.now() - this.latenessMs) / this.periodMs);
  }

  /** series currently tracked */
  seriesCount(): number { return this.series.size; }
  /** every window below this index is closed (flushed) */
  openFromIndex(): number { return this.openFrom; }
  /** after a restart, before replaying a write-ahead log: windows from `k` on are open again */
  reopenFrom(k: number): void { this.openFrom = k; }
  /**
   * After add(): the highest window any point of the batch went into (late
   * deltas count with the window they folded into); -Infinity when none.
   * The disk queue's write-ahead log keeps a batch until that window closed.
   */
  lastMaxWindow = -Infinity;
  /** windows held (open) */
  windowCount(): number { return this.windows.size; }

  /** Wall time (ms) at which the earliest held window closes, or the next window boundary + lateness when none is held. */
  nextCloseMs(): number {
    let k = Infinity;
    for (const w of this.windows.keys()) if (w < k) k = w;
    if (k === Infinity) k = Math.max(this.openFrom, Math.floor(this.now() / this.periodMs));
    return (k + 1) * this.periodMs + this.latenessMs;
  }

  private window(k: number): Window {
    let w = this.windows.get(k);
    if (w === undefined) {
      const start = BigInt(k) * this.periodNs;
      w = { k, start, end: start + this.periodNs, cells: new Map(), retired: [], aggs: undefined };
      this.windows.set(k, w);
    }
    return w;
  }

  /**
   * Take in a batch. Synchronous; never throws on data.
   * `replay` (write-ahead log after a restart): skip the points whose window
   * — or, for a point that was late when first taken in, the window it folded
   * into then (`openFromAtAdd`) — is below `skipBelow` (already flushed).
   */
  add(batch: MetricsBatch, replay?: { openFromAtAdd: number; skipBelow: number }): void {
    this.lastMaxWindow = -Infinity;
    const nowMs = this.now();
    const nowNs = BigInt(Math.floor(nowMs)) * NS_PER_MS;
    const futureLimit = nowNs + this.periodNs;
    const c = this.counters;
    for (const rm of batch.resourceMetrics) {
      const rattrs = rm.resource.attributes;
      const resKey = canonicalAttributes(rattrs);
      let selected: Attributes | undefined;
      const hostV = rattrs['host.name'];
      const host = typeof hostV === 'string' && hostV !== '' ? hostV : undefined;
      for (const sm of rm.scopeMetrics) {
        const scopeKey = resKey + '\u0001' + sm.scope.name + '\u0001' + sm.scope.version;
        for (const m0 of sm.metrics) {
          const m = m0.kind === 'exponentialHistogram' ? explicitFromExpMetric(m0) : m0;
          if (m.kind !== 'gauge' && m.kind !== 'sum' && m.kind !== 'histogram' && m.kind !== 'summary') {
            // a kind this accumulator does not know (a future model addition)
            const n = (m as { points?: unknown[] }).points?.length ?? 0;
            c.points += n;
            c.unsupported += n;
            continue;
          }
          let temporality: StoreTemporality;
          let monotonic = false;
          let cumToDelta = false;
          if (m.kind === 'gauge' || m.kind === 'summary') temporality = 'gauge';
          else if (m.kind === 'sum') {
            monotonic = m.isMonotonic;
            if (m.temporality === Temporality.Delta) temporality = 'delta';
            else if (!m.isMonotonic) temporality = 'gauge'; // cumulative non-monotonic: a level
            else { temporality = this.o.cumulative; cumToDelta = this.o.cumulative === 'delta'; }
          } else {
            monotonic = true;
            if (m.temporality === Temporality.Delta) temporality = 'delta';
            else { temporality = this.o.cumulative; cumToDelta = this.o.cumulative === 'delta'; }
          }
          const kind: StoreKind = m.kind;
          const metricKey = scopeKey + '\u0001' + m.name + '\u0001' + m.unit + '\u0001' + kind + '\u0001' +
            (m.kind === 'sum' || m.kind === 'histogram' ? m.temporality : 0) + (monotonic ? 'm' : '') + '\u0001';
          for (const p of m.points as Array<{ attributes: Attributes; timeUnixNano: bigint; startTimeUnixNano: bigint; flags: number }>) {
            c.points++;
            if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) { c.no_value++; continue; }
            const key = metricKey + canonicalAttributes(p.attributes);
            let s = this.series.get(key);
            if (s === undefined) {
              if (this.series.size >= this.o.maxSeries) { c.series_limit++; continue; }
              if (selected === undefined) selected = this.selectResource(rattrs);
              s = {
                meta: { key, name: m.name, unit: m.unit, description: m.description, kind, temporality, monotonic, attrs: p.attributes, resource: selected, host },
                lastSeen: nowMs,
                cum: undefined,
              };
              this.series.set(key, s);
            }
            s.lastSeen = nowMs;
            let t = p.timeUnixNano;
            if (t > futureLimit || t <= 0n) { if (t > futureLimit) c.future++; t = nowNs; }
            // an interval (start, t] belongs to the window holding its last instant
            const st = p.startTimeUnixNano;
            const tb = t === p.timeUnixNano && st > 0n && st < t && !cumToDelta && (temporality === 'delta' || kind === 'gauge') ? t - 1n : t;
            let k = Number(tb / this.periodNs);
            if (replay !== undefined && Math.max(k, replay.openFromAtAdd) < replay.skipBelow) { c.points--; continue; }
            const late = k < this.openFrom;
            const eff = late ? this.openFrom : k;
            if (eff > this.lastMaxWindow) this.lastMaxWindow = eff;
            if (temporality === 'delta') {
              let value: number | bigint | undefined;
              let hist: HistogramValue | undefined;
              if (cumToDelta) {
                const d = this.cumulativeDelta(s, p as never, t);
                if (d === undefined) continue;
                value = d.value;
                hist = d.hist;
              } else if (kind === 'histogram') {
                hist = histOf(p as never);
              } else {
                value = (p as unknown as { value: number | bigint }).value;
              }
              if (typeof value === 'number' && !Number.isFinite(value)) { c.invalid++; continue; }
              if (late) { c.late++; k = this.openFrom; }
              this.addDelta(this.window(k), s.meta, value, hist, t);
            } else {
              if (late) { c.stale++; continue; }
              this.setLast(this.window(k), s.meta, p as never, t);
            }
          }
        }
      }
    }
  }

  private selectResource(r: Attributes): Attributes {
    const out: Attributes = {};
    for (const k of this.o.resourceAttributes) {
      const v = r[k];
      if (v !== undefined) out[k] = v as AttrValue;
    }
    return out;
  }

  /** §4: the increase since the series' last cumulative point, or undefined (baseline only / out of order). */
  private cumulativeDelta(s: Series, p: { startTimeUnixNano: bigint; value?: number | bigint; count?: number; sum?: number; bucketCounts?: number[]; explicitBounds?: number[] }, t: bigint): { value: number | bigint | undefined; hist: HistogramValue | undefined } | undefined {
    const isHist = s.meta.kind === 'histogram';
    const value: number | bigint = isHist ? (p.count as number) : (p.value as number | bigint);
    const st = s.cum;
    const fresh = (): CumState => ({
      start: p.startTimeUnixNano, lastTime: t, last: value,
      count: p.count ?? 0, sum: p.sum ?? 0,
      counts: isHist ? (p.bucketCounts as number[]).slice() : undefined,
      bounds: isHist ? (p.explicitBounds as number[]).slice() : undefined,
    });
    const full = (): { value: number | bigint | undefined; hist: HistogramValue | undefined } =>
      isHist ? { value: undefined, hist: histOf(p as never) } : { value, hist: undefined };
    if (st === undefined) {
      s.cum = fresh();
      if (p.startTimeUnixNano !== 0n && p.startTimeUnixNano >= this.startedAtNs) return full();
      this.counters.baselines++;
      return undefined;
    }
    if (t < st.lastTime) { this.counters.out_of_order++; return undefined; }
    const boundsChanged = isHist && !sameBounds(st.bounds as number[], p.explicitBounds as number[]);
    if (p.startTimeUnixNano !== st.start || lessThan(value, st.last) || boundsChanged) {
      this.counters.resets++;
      const restartedAfter = p.startTimeUnixNano > st.lastTime;
      s.cum = fresh();
      if (restartedAfter) return full();
      return isHist ? { value: undefined, hist: { count: 0, sum: 0, min: undefined, max: undefined, bounds: (p.explicitBounds as number[]).slice(), counts: new Array((p.bucketCounts as number[]).length).fill(0) } } : { value: typeof value === 'bigint' ? 0n : 0, hist: undefined };
    }
    let out: { value: number | bigint | undefined; hist: HistogramValue | undefined };
    if (isHist) {
      const bc = p.bucketCounts as number[];
      const prev = st.counts as number[];
      const counts = new Array<number>(bc.length);
      for (let i = 0; i < bc.length; i++) counts[i] = (bc[i] as number) - (prev[i] ?? 0);
      out = { value: undefined, hist: { count: (p.count as number) - st.count, sum: (p.sum ?? 0) - st.sum, min: undefined, max: undefined, bounds: (p.explicitBounds as number[]).slice(), counts } };
      st.counts = bc.slice();
      st.count = p.count as number;
      st.sum = p.sum ?? 0;
    } else {
      out = { value: subValues(value, st.last), hist: undefined };
    }
    st.last = value;
    st.lastTime = t;
    return out;
  }

  private addDelta(w: Window, meta: SeriesMeta, value: number | bigint | undefined, hist: HistogramValue | undefined, t: bigint): void {
    const cell = w.cells.get(meta.key);
    if (cell === undefined) {
      w.cells.set(meta.key, { meta, start: w.start, time: w.end, value: value ?? 0, hist: hist === undefined ? undefined : copyHist(hist), summary: undefined, seen: t });
      return;
    }
    if (t > cell.seen) cell.seen = t;
    if (hist === undefined) { cell.value = addValues(cell.value, value ?? 0); return; }
    const h = cell.hist as HistogramValue;
    if (h.exp !== undefined && hist.exp !== undefined) {
      // both from exponential histograms: merge exactly, then fixed buckets again
      h.exp = mergeExpStates(h.exp, hist.exp);
      const f = expToFixed(h.exp);
      h.bounds = f.bounds;
      h.counts = f.counts;
      h.count += hist.count;
      h.sum += hist.sum;
      if (hist.min !== undefined) h.min = h.min === undefined ? hist.min : Math.min(h.min, hist.min);
      if (hist.max !== undefined) h.max = h.max === undefined ? hist.max : Math.max(h.max, hist.max);
      return;
    }
    if (!sameBounds(h.bounds, hist.bounds)) {
      this.counters.bounds_changed++;
      w.retired.push(cell);
      w.cells.set(meta.key, { meta, start: w.start, time: w.end, value: 0, hist: copyHist(hist), summary: undefined, seen: t });
      return;
    }
    h.count += hist.count;
    h.sum += hist.sum;
    if (hist.min !== undefined) h.min = h.min === undefined ? hist.min : Math.min(h.min, hist.min);
    if (hist.max !== undefined) h.max = h.max === undefined ? hist.max : Math.max(h.max, hist.max);
    for (let i = 0; i < h.counts.length; i++) h.counts[i] = (h.counts[i] as number) + (hist.counts[i] as number);
  }

  /** §7: a windowed gauge's state merges with the other windows of the period; false when it cannot (then last value wins). */
  private mergeAggregate(w: Window, meta: SeriesMeta, agg: WindowAggregate, value: number | bigint, t: bigint): boolean {
    const aggs = w.aggs ??= new Map();
    const cell = w.cells.get(meta.key);
    if (cell === undefined) {
      w.cells.set(meta.key, { meta, start: w.start, time: w.end, value, hist: undefined, summary: undefined, seen: t });
      aggs.set(meta.key, { agg, owned: false });
      return true;
    }
    const held = aggs.get(meta.key);
    if (held === undefined || held.agg.kind !== agg.kind) { aggs.delete(meta.key); return false; }
    // the first state may be shared with other consumers of the batch: merge into a copy
    if (!held.owned) { held.agg = held.agg.clone(); held.owned = true; }
    held.agg.mergeFrom(agg);
    cell.value = held.agg.value();
    if (t > cell.seen) cell.seen = t;
    return true;
  }

  private setLast(w: Window, meta: SeriesMeta, p: { value?: number | bigint; count?: number; sum?: number; bucketCounts?: number[]; explicitBounds?: number[]; min?: number; max?: number; quantileValues?: QuantileValue[]; aggregate?: WindowAggregate }, t: bigint): void {
    if (p.aggregate !== undefined && meta.kind === 'gauge' && this.mergeAggregate(w, meta, p.aggregate, p.value as number | bigint, t)) return;
    const cell = w.cells.get(meta.key);
    if (cell !== undefined && t < cell.seen) return; // an older point within the window: the later one stays
    const kind = meta.kind;
    const hist = kind === 'histogram' ? histOf(p as never) : undefined;
    const summary = kind === 'summary' ? { count: p.count as number, sum: p.sum as number, quantiles: p.quantileValues as QuantileValue[] } : undefined;
    const value = kind === 'gauge' || kind === 'sum' ? (p.value as number | bigint) : 0;
    if (cell === undefined) {
      w.cells.set(meta.key, { meta, start: w.start, time: w.end, value, hist, summary, seen: t });
    } else {
      cell.value = value; cell.hist = hist; cell.summary = summary; cell.seen = t;
    }
  }

  /**
   * Close every window whose `end + lateness` has passed (all windows when
   * `all`), expire idle series, and return the closed windows' points in
   * window order.
   */
  collect(all = false): StorePoint[] {
    const nowMs = this.now();
    const openFrom = Math.floor((nowMs - this.latenessMs) / this.periodMs);
    const ks: number[] = [];
    for (const k of this.windows.keys()) if (all || k < openFrom) ks.push(k);
    ks.sort((a, b) => a - b);
    const out: StorePoint[] = [];
    for (const k of ks) {
      const w = this.windows.get(k) as Window;
      this.windows.delete(k);
      for (const r of w.retired) out.push(r);
      for (const cell of w.cells.values()) out.push(cell);
    }
    if (openFrom > this.openFrom) this.openFrom = openFrom;
    if (all && ks.length > 0) this.openFrom = Math.max(this.openFrom, (ks[ks.length - 1] as number) + 1);
    // expiry: forget series not seen for seriesExpiryMs
    const cutoff = nowMs - this.o.seriesExpiryMs;
    for (const [key, s] of this.series) {
      if (s.lastSeen < cutoff) { this.series.delete(key); this.counters.expired++; }
    }
    return out;
  }
}

function histOf(p: { count: number; sum?: number; min?: number; max?: number; bucketCounts: number[]; explicitBounds: number[]; exp?: ExpState }): HistogramValue {
  const h: HistogramValue = { count: p.count, sum: p.sum ?? 0, min: p.min, max: p.max, bounds: p.explicitBounds, counts: p.bucketCounts };
  if (p.exp !== undefined) h.exp = p.exp;
  return h;
}

function copyHist(h: HistogramValue): HistogramValue {
  const c: HistogramValue = { count: h.count, sum: h.sum, min: h.min, max: h.max, bounds: h.bounds, counts: h.counts.slice() };
  if (h.exp !== undefined) c.exp = h.exp; // states are never changed in place (merges make new ones)
  return c;
}
