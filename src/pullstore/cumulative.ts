/**
 * Running cumulative totals per series (semantics.md §5), for the stores that
 * are scraped or want cumulative values: Prometheus, OpenMetrics, Circonus
 * pull (and a later Circonus `H`).
 *
 * Per input kind:
 * | input | output | rule |
 * |---|---|---|
 * | gauge | gauge | last value by point time (older points are stale, counted) |
 * | delta monotonic sum | counter | running total from the first point; exact for integers (bigint) |
 * | cumulative monotonic sum | counter | passed through; a start-time change or a decrease is a reset (counted, `created` moves) |
 * | delta non-monotonic sum | gauge | gauge of the running total |
 * | cumulative non-monotonic sum | gauge | passed through |
 * | delta histogram | histogram | added bucket by bucket; other bounds → the series restarts (counted) |
 * | cumulative histogram | histogram | passed through with reset detection |
 * | exponential histogram | histogram | accumulated (delta) or kept (cumulative) exponentially, rendered as fixed buckets (exphist.ts) |
 * | summary | summary | last |
 *
 * Memory: at most `maxSeries` series (a new series beyond the cap evicts the
 * least recently updated one, counted as evicted "cap"); a series not updated
 * for `expiryMs` is removed (counted "expired"; 0 = never) and its next point
 * starts a new total with a new start, which scrapers correctly see as a
 * reset. The recency order is kept at one-second granularity, so eviction
 * and expiry cost O(1) per series.
 *
 * What a series is called (name, labels) is decided by a `SeriesKeyer`, so
 * the same store serves Prometheus labels and Circonus stream tags.
 */
import {
  FLAG_NO_RECORDED_VALUE, Temporality,
  type Attributes, type HistogramDataPoint, type Metric, type MetricsBatch, type NumberDataPoint, type QuantileValue, type Resource, type Scope,
} from '../model/index.js';
import { DEFAULT_MAX_EXP_BUCKETS, expFromPoint, mergeExp, type ExpState } from '../model/exphist.js';

/** What a family is exposed as (Prometheus' metric types; Circonus maps them to its own). */
export type SeriesType = 'counter' | 'gauge' | 'histogram' | 'summary';

export interface FamilyInfo {
  /** unique family key (the rendered name) */
  name: string;
  type: SeriesType;
  help: string;
  /** the unit the name carries (UCUM, e.g. `s`, `By`) */
  unit: string;
  /** rendered values are `value * mul / div` (unit conversion to a base unit); default 1 */
  mul?: number;
  div?: number;
}

export interface SeriesKeyer {
  /** the family an OTLP metric lands in as `type` (a name already taken by another type drops the points, counted "type_conflict") */
  family(m: Metric, type: SeriesType): FamilyInfo;
  /** a context string for a resource + scope pair (labels shared by its series) */
  context(resource: Resource, scope: Scope): string;
  /** the series key (rendered labels/tags) for a point's attributes in a context */
  series(attrs: Attributes, ctx: string): string;
  /** called once per resource per batch (e.g. to set `target_info`) */
  onResource?(resource: Resource, store: CumulativeStore): void;
}

export interface HistState { bounds: number[]; counts: number[]; count: number; sum: number }

export interface Series {
  readonly key: string;
  readonly fam: Family;
  /** start of the running total (exposed as `_created`) */
  start: bigint;
  /** time of the last point */
  time: bigint;
  /** wall ms of the last update, and of the last move in the recency order */
  seen: number;
  moved: number;
  /** counter / gauge value */
  value: number | bigint;
  hist: HistState | undefined;
  exp: ExpState | undefined;
  summary: { count: number; sum: number; quantiles: QuantileValue[] } | undefined;
  /** recency list links (least recently moved first) */
  prev: Series | undefined;
  next: Series | undefined;
}

export interface Family {
  readonly info: FamilyInfo;
  readonly series: Map<string, Series>;
}

export interface CumulativeOptions {
  /** default 100,000 */
  maxSeries?: number;
  /** ms without an update after which a series is dropped; 0 = never (default 5 min) */
  expiryMs?: number;
  /** buckets per sign kept for exponential histograms (default 160) */
  maxExpBuckets?: number;
  now?: () => number;
}

export interface CumulativeCounters {
  points: number;
  series_created: number;
  evicted_cap: number;
  evicted_expired: number;
  resets: number;
  /** points not applied, by reason */
  dropped: Record<string, number>;
}

const TOUCH_GRANULARITY_MS = 1000;

export class CumulativeStore {
  readonly families = new Map<string, Family>();
  // recency order as an intrusive doubly-linked list: O(1) move, evict and
  // expire (a Set's iterator would skip over deleted slots at its head)
  private head: Series | undefined;
  private tail: Series | undefined;
  private count = 0;
  readonly maxSeries: number;
  expiryMs: number;
  private readonly maxExp: number;
  private readonly now: () => number;
  readonly counters: CumulativeCounters = { points: 0, series_created: 0, evicted_cap: 0, evicted_expired: 0, resets: 0, dropped: {} };
  /** called with the number of series removed and why (for telemetry) */
  onEvict: ((n: number, reason: 'cap' | 'expired') => void) | undefined;
  onDrop: ((n: number, reason: string) => void) | undefined;

  constructor(opts: CumulativeOptions = {}) {
    this.maxSeries = Math.max(1, opts.maxSeries ?? 100_000);
    this.expiryMs = opts.expiryMs ?? 300_000;
    this.maxExp = opts.maxExpBuckets ?? DEFAULT_MAX_EXP_BUCKETS;
    this.now = opts.now ?? Date.now;
  }

  get size(): number { return this.count; }

  private link(s: Series): void {
    s.prev = this.tail;
    s.next = undefined;
    if (this.tail !== undefined) this.tail.next = s; else this.head = s;
    this.tail = s;
    this.count++;
  }

  private unlink(s: Series): void {
    if (s.prev !== undefined) s.prev.next = s.next; else this.head = s.next;
    if (s.next !== undefined) s.next.prev = s.prev; else this.tail = s.prev;
    s.prev = undefined;
    s.next = undefined;
    this.count--;
  }

  private drop(reason: string, n = 1): void {
    this.counters.dropped[reason] = (this.counters.dropped[reason] ?? 0) + n;
    this.onDrop?.(n, reason);
  }

  /** Apply every point of a batch. */
  ingest(batch: MetricsBatch, keyer: SeriesKeyer): void {
    const now = this.now();
    this.expire(now);
    for (const rm of batch.resourceMetrics) {
      keyer.onResource?.(rm.resource, this);
      for (const sm of rm.scopeMetrics) {
        const ctx = keyer.context(rm.resource, sm.scope);
        for (const m of sm.metrics) this.ingestMetric(m, ctx, keyer, now);
      }
    }
  }

  private ingestMetric(m: Metric, ctx: string, keyer: SeriesKeyer, now: number): void {
    let type: SeriesType;
    switch (m.kind) {
      case 'gauge': type = 'gauge'; break;
      case 'sum': type = m.isMonotonic ? 'counter' : 'gauge'; break;
      case 'histogram': case 'exponentialHistogram': type = 'histogram'; break;
      case 'summary': type = 'summary'; break;
    }
    const n = m.points.length;
    if (n === 0) return;
    this.counters.points += n;
    const fam = this.family(keyer.family(m, type));
    if (fam === undefined) { this.drop('type_conflict', n); return; }
    const delta = 'temporality' in m && m.temporality === Temporality.Delta;
    for (let i = 0; i < n; i++) {
      const p = m.points[i]!;
      const key = keyer.series(p.attributes, ctx);
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        // a staleness marker: the series ended
        const s = fam.series.get(key);
        if (s !== undefined) this.remove(s);
        continue;
      }
      switch (m.kind) {
        case 'gauge': this.applyNumber(fam, key, p as NumberDataPoint, 'last', now); break;
        case 'sum': this.applyNumber(fam, key, p as NumberDataPoint, delta ? 'add' : (m.isMonotonic ? 'cumulative' : 'last'), now); break;
        case 'histogram': this.applyHist(fam, key, p as HistogramDataPoint, delta, now); break;
        case 'exponentialHistogram': this.applyExp(fam, key, m.points[i]!, delta, now); break;
        case 'summary': {
          const sp = m.points[i]!;
          const s = this.get(fam, key, sp.startTimeUnixNano, sp.timeUnixNano, now);
          if (s === undefined) break;
          if (s.summary !== undefined && sp.timeUnixNano < s.time) { this.drop('out_of_order'); break; }
          s.summary = { count: sp.count, sum: sp.sum, quantiles: sp.quantileValues };
          if (sp.startTimeUnixNano !== 0n) s.start = sp.startTimeUnixNano;
          this.touch(s, sp.timeUnixNano, now);
          break;
        }
      }
    }
  }

  /** Set a gauge directly (e.g. `target_info`). */
  setGauge(info: FamilyInfo, key: string, value: number, time: bigint): void {
    const fam = this.family(info);
    if (fam === undefined) { this.drop('type_conflict'); return; }
    const now = this.now();
    const s = this.get(fam, key, time, time, now);
    if (s === undefined) return;
    s.value = value;
    this.touch(s, time, now);
  }

  private family(info: FamilyInfo): Family | undefined {
    let f = this.families.get(info.name);
    if (f === undefined) {
      f = { info, series: new Map() };
      this.families.set(info.name, f);
    } else if (f.info.type !== info.type) {
      return undefined;
    }
    return f;
  }

  /** The series for key, created (evicting at the cap) when new. */
  private get(fam: Family, key: string, start: bigint, time: bigint, now: number): Series | undefined {
    return fam.series.get(key) ?? this.create(fam, key, start, time, now);
  }

  /** A new series (evicting the least recently updated one at the cap). */
  private create(fam: Family, key: string, start: bigint, time: bigint, now: number): Series {
    if (this.count >= this.maxSeries) {
      const oldest = this.head;
      if (oldest !== undefined) {
        this.remove(oldest);
        this.counters.evicted_cap++;
        this.onEvict?.(1, 'cap');
        // the evicted series may have been its family's last: keep this family listed
        if (this.families.get(fam.info.name) !== fam) this.families.set(fam.info.name, fam);
      }
    }
    const s: Series = { key, fam, start: start === 0n ? time : start, time: 0n, seen: now, moved: now, value: 0, hist: undefined, exp: undefined, summary: undefined, prev: undefined, next: undefined };
    fam.series.set(key, s);
    this.link(s);
    this.counters.series_created++;
    return s;
  }

  private touch(s: Series, time: bigint, now: number): void {
    if (time > s.time) s.time = time;
    s.seen = now;
    if (now - s.moved >= TOUCH_GRANULARITY_MS && s !== this.tail) {
      this.unlink(s);
      this.link(s);
      s.moved = now;
    } else if (now - s.moved >= TOUCH_GRANULARITY_MS) {
      s.moved = now;
    }
  }

  private remove(s: Series): void {
    this.unlink(s);
    s.fam.series.delete(s.key);
    if (s.fam.series.size === 0) this.families.delete(s.fam.info.name);
  }

  private applyNumber(fam: Family, key: string, p: NumberDataPoint, mode: 'last' | 'add' | 'cumulative', now: number): void {
    const v = p.value;
    if (typeof v === 'number' && Number.isNaN(v) && mode !== 'last') { this.drop('nan'); return; }
    // one hash lookup per point: get() only for a new series
    let s = fam.series.get(key);
    const isNew = s === undefined;
    if (s === undefined) s = this.create(fam, key, p.startTimeUnixNano, p.timeUnixNano, now);
    if (mode === 'add') {
      if (fam.info.type === 'counter' && (typeof v === 'bigint' ? v < 0n : v < 0)) { this.drop('negative_delta'); return; }
      const cur = s.value;
      s.value = typeof cur === 'bigint' && typeof v === 'bigint' ? cur + v : (isNew ? v : Number(cur) + Number(v));
    } else if (mode === 'cumulative') {
      if (!isNew) {
        const startChanged = p.startTimeUnixNano !== 0n && p.startTimeUnixNano !== s.start;
        if (!startChanged && p.timeUnixNano < s.time) { this.drop('out_of_order'); return; }
        if (startChanged || Number(v) < Number(s.value)) {
          this.counters.resets++;
          s.start = p.startTimeUnixNano !== 0n ? p.startTimeUnixNano : p.timeUnixNano;
        }
      }
      s.value = v;
    } else {
      if (!isNew && p.timeUnixNano < s.time) { this.drop('out_of_order'); return; }
      s.value = v;
    }
    this.touch(s, p.timeUnixNano, now);
  }

  private applyHist(fam: Family, key: string, p: HistogramDataPoint, delta: boolean, now: number): void {
    if (p.bucketCounts.length !== 0 && p.bucketCounts.length !== p.explicitBounds.length + 1) { this.drop('malformed_histogram'); return; }
    const s = this.get(fam, key, p.startTimeUnixNano, p.timeUnixNano, now);
    if (s === undefined) return;
    const counts = p.bucketCounts.length === 0 ? [p.count] : p.bucketCounts;
    const bounds = p.bucketCounts.length === 0 ? [] : p.explicitBounds;
    const h = s.hist;
    if (delta) {
      if (h === undefined) {
        s.hist = { bounds: bounds.slice(), counts: counts.slice(), count: p.count, sum: p.sum ?? 0 };
      } else if (!sameBounds(h.bounds, bounds)) {
        // never merge mismatched buckets: the series restarts with the new bounds
        this.counters.resets++;
        s.start = p.startTimeUnixNano !== 0n ? p.startTimeUnixNano : p.timeUnixNano;
        s.hist = { bounds: bounds.slice(), counts: counts.slice(), count: p.count, sum: p.sum ?? 0 };
      } else {
        for (let i = 0; i < counts.length; i++) h.counts[i] = (h.counts[i] as number) + (counts[i] as number);
        h.count += p.count;
        h.sum += p.sum ?? 0;
      }
    } else {
      if (h !== undefined) {
        const startChanged = p.startTimeUnixNano !== 0n && p.startTimeUnixNano !== s.start;
        if (!startChanged && p.timeUnixNano < s.time) { this.drop('out_of_order'); return; }
        if (startChanged || p.count < h.count) {
          this.counters.resets++;
          s.start = p.startTimeUnixNano !== 0n ? p.startTimeUnixNano : p.timeUnixNano;
        }
      }
      s.hist = { bounds, counts, count: p.count, sum: p.sum ?? 0 };
    }
    this.touch(s, p.timeUnixNano, now);
  }

  private applyExp(fam: Family, key: string, p: import('../model/index.js').ExponentialHistogramDataPoint, delta: boolean, now: number): void {
    const s = this.get(fam, key, p.startTimeUnixNano, p.timeUnixNano, now);
    if (s === undefined) return;
    if (delta && s.exp !== undefined) {
      s.exp = mergeExp(s.exp, p, this.maxExp);
    } else {
      if (!delta && s.exp !== undefined) {
        const startChanged = p.startTimeUnixNano !== 0n && p.startTimeUnixNano !== s.start;
        if (!startChanged && p.timeUnixNano < s.time) { this.drop('out_of_order'); return; }
        if (startChanged || p.count < s.exp.count) {
          this.counters.resets++;
          s.start = p.startTimeUnixNano !== 0n ? p.startTimeUnixNano : p.timeUnixNano;
        }
      }
      s.exp = expFromPoint(p, this.maxExp);
    }
    this.touch(s, p.timeUnixNano, now);
  }

  /** Remove series not updated for `expiryMs`. Called on ingest and before every render. */
  expire(now = this.now()): void {
    const ttl = this.expiryMs;
    if (ttl <= 0) return;
    let n = 0;
    let s = this.head;
    while (s !== undefined && now - s.moved > ttl) {
      const next = s.next;
      if (now - s.seen > ttl) { this.remove(s); n++; }
      s = next;
    }
    if (n > 0) {
      this.counters.evicted_expired += n;
      this.onEvict?.(n, 'expired');
    }
  }
}

function sameBounds(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
