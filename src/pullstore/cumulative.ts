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
 *
 * Representation (issue 19: ≤ 300 B per series at millions of series): a
 * series is an integer id. Its key (the rendered label string, flattened
 * once at creation and never rendered again) sits in one array, and its
 * numbers in typed arrays indexed by the id (family, start, last point time,
 * last update, recency links, value and how to read it, partition tag); the
 * only map is each family's key → id. No object per series: histograms,
 * exponential histograms and summaries keep their state in side maps by id,
 * and integers beyond 2^53 (exact bigint totals) in one more. Ids of removed
 * series are reused. Renders may run interleaved with ingest (a streamed
 * scrape, `beginRender`): series and families created after a render began
 * are not part of it, so no scrape shows a series twice.
 */
import {
  FLAG_NO_RECORDED_VALUE,
  Temporality,
  type Attributes,
  type HistogramDataPoint,
  type Metric,
  type MetricsBatch,
  type NumberDataPoint,
  type QuantileValue,
  type Resource,
  type Scope,
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
  /**
   * true: series() renders only the point's own labels, and the context
   * string is itself the rendered labels shared by the context's series,
   * appended after a comma. The store then keeps each context once instead
   * of in every key.
   */
  readonly splitsContext?: boolean;
  /** called once per resource per batch (e.g. to set `target_info`) */
  onResource?(resource: Resource, store: CumulativeStore): void;
}

export interface HistState {
  bounds: number[];
  counts: number[];
  count: number;
  sum: number;
}
export interface SummaryState {
  count: number;
  sum: number;
  quantiles: QuantileValue[];
}

export interface Family {
  readonly info: FamilyInfo;
  /** series key → series id, in creation order */
  readonly series: Map<string, number>;
  /** index in the store's family table */
  readonly idx: number;
  /** render epoch at creation (0 when no render was running): renders begun before skip it */
  born: number;
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

/** The resource attribute that tags series with a partition (cluster mode; never rendered). */
export const PARTITION_ATTRIBUTE = 'metricport.partition';

/** A partition tag from a resource attribute value: an integer 0..65535 (or its decimal string), else 0. */
function partitionTag(v: unknown): number {
  const n = typeof v === 'bigint' ? Number(v) : typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffff ? n : 0;
}

const TOUCH_GRANULARITY_MS = 1000;
const NONE = -1;
/** how a series' value is read: a float, an integer ≤ 2^53 held in the float column, a bigint in the side map */
export const V_FLOAT = 0;
export const V_INT = 1;
export const V_BIG = 2;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;
const INITIAL_CAPACITY = 1024;
/** any character outside ASCII (one that UTF-8 writes in more than one byte) */
const NON_ASCII = /[^\u0000-\u007f]/;

/** A copy of a string that is one flat sequential string (keys are often concatenations, which V8 keeps as trees). */
function flat(s: string): string {
  // a number conversion flattens the string in place (the young cons wrapper is dropped by the next scavenge)
  flatSink ^= (s as unknown as number) | 0;
  return s;
}
let flatSink = 0;
/** (keeps the flattening above from being optimised away: exported so the sink is observable) @public */
export function flattened(): number {
  return flatSink;
}

export class CumulativeStore {
  readonly families = new Map<string, Family>();
  /** families by index (free slots undefined) */
  private famTable: Array<Family | undefined> = [];
  private famFree: number[] = [];
  // --- per-series columns, indexed by series id ---
  private capacity = 0;
  private keys: string[] = [];
  private famOf = new Int32Array(0);
  private startA = new BigInt64Array(0);
  private timeA = new BigInt64Array(0);
  private seenA = new Float64Array(0);
  private movedA = new Float64Array(0);
  private prevA = new Int32Array(0);
  private nextA = new Int32Array(0);
  /** counter / gauge value (V_FLOAT, V_INT) */
  private valA = new Float64Array(0);
  private kindA = new Uint8Array(0);
  /** 1 when the series' key and its context are pure ASCII (a renderer may then write them a byte per character) */
  private asciiA = new Uint8Array(0);
  private tagA = new Uint16Array(0);
  private bornA = new Uint32Array(0);
  private readonly big = new Map<number, bigint>();
  private readonly hists = new Map<number, HistState>();
  private readonly exps = new Map<number, ExpState>();
  private readonly summaries = new Map<number, SummaryState>();
  /** contexts of split keys (splitsContext keyers): interned, counted by series, reused when free */
  private ctxOf = new Int32Array(0);
  private readonly ctxIds = new Map<string, number>();
  private ctxStr: string[] = [];
  private ctxAscii: boolean[] = [];
  private ctxRefs: number[] = [];
  private ctxFree: number[] = [];
  /** the context of the series being created (−1: the key is whole) */
  private curCtx = -1;
  private nextId = 0;
  private freeIds: number[] = [];
  // recency order as an intrusive doubly-linked list over ids: O(1) move, evict and expire
  private head = NONE;
  private tail = NONE;
  private count = 0;
  /** render epochs: `epoch` counts renders begun, `rendering` those still running */
  private epoch = 0;
  private rendering = 0;
  /** the partition tag of the points being ingested */
  private curTag = 0;
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

  get size(): number {
    return this.count;
  }

  // --- reading a series (renderers, checkpoints) ---
  /** the series' rendered key (its labels / tags) */
  key(id: number): string {
    return this.labels(this.keys[id] as string, id);
  }
  /** the rendered key of the series `id` listed under `mapKey` in its family (renderers iterate the family maps) */
  labels(mapKey: string, id: number): string {
    const c = this.ctxOf[id] as number;
    if (c < 0) return mapKey;
    const part = mapKey.slice(mapKey.indexOf('\u0001') + 1);
    const ctx = this.ctxStr[c] as string;
    return part === '' ? ctx : ctx === '' ? part : part + ',' + ctx;
  }
  /** a split key's two parts: the series' own labels and its context ('' when the key is whole) */
  keyParts(id: number): { key: string; ctx: string } {
    const c = this.ctxOf[id] as number;
    const k = this.keys[id] as string;
    if (c < 0) return { key: k, ctx: '' };
    return { key: k.slice(k.indexOf('\u0001') + 1), ctx: this.ctxStr[c] as string };
  }
  /** true when the series' key is split (its context kept apart) */
  isSplit(id: number): boolean {
    return (this.ctxOf[id] as number) >= 0;
  }
  family(id: number): Family {
    return this.famTable[this.famOf[id] as number] as Family;
  }
  start(id: number): bigint {
    return this.startA[id] as bigint;
  }
  time(id: number): bigint {
    return this.timeA[id] as bigint;
  }
  tag(id: number): number {
    return this.tagA[id] as number;
  }
  /** true when the series' rendered key (`key(id)`, context included) is pure ASCII: each character one byte in UTF-8 */
  asciiKey(id: number): boolean {
    return this.asciiA[id] === 1;
  }
  /** V_FLOAT, V_INT or V_BIG */
  valueKind(id: number): number {
    return this.kindA[id] as number;
  }
  /** the value as a number (exact unless V_BIG) */
  num(id: number): number {
    return this.kindA[id] === V_BIG ? Number(this.big.get(id)) : (this.valA[id] as number);
  }
  /** the value as the source typed it: a bigint for integer totals */
  value(id: number): number | bigint {
    const k = this.kindA[id];
    if (k === V_FLOAT) return this.valA[id] as number;
    if (k === V_INT) return BigInt(this.valA[id] as number);
    return this.big.get(id) as bigint;
  }
  hist(id: number): HistState | undefined {
    return this.hists.get(id);
  }
  exp(id: number): ExpState | undefined {
    return this.exps.get(id);
  }
  summary(id: number): SummaryState | undefined {
    return this.summaries.get(id);
  }

  /**
   * Begin a render that may run interleaved with ingest: returns its epoch;
   * `inRender(id|family, epoch)` tells what belongs to it. Call endRender() when done.
   */
  beginRender(): number {
    this.rendering++;
    return ++this.epoch >>> 0 || (this.epoch = 1);
  }
  endRender(): void {
    if (this.rendering > 0) this.rendering--;
  }
  /** true when the series existed when the render of `epoch` began */
  seriesInRender(id: number, epoch: number): boolean {
    const b = this.bornA[id] as number;
    return b === 0 || b < epoch;
  }
  familyInRender(f: Family, epoch: number): boolean {
    return f.born === 0 || f.born < epoch;
  }

  // --- writing a series' value ---
  private setValue(id: number, v: number | bigint): void {
    if (typeof v === 'number') {
      this.valA[id] = v;
      this.kindA[id] = V_FLOAT;
      this.big.delete(id);
      return;
    }
    if (v <= MAX_SAFE && v >= MIN_SAFE) {
      this.valA[id] = Number(v);
      this.kindA[id] = V_INT;
      this.big.delete(id);
      return;
    }
    this.valA[id] = 0;
    this.kindA[id] = V_BIG;
    this.big.set(id, v);
  }

  /** restore: a series with this state (used by checkpoint.ts); undefined when the key exists or the store is full */
  restoreSeries(
    info: FamilyInfo,
    key: string,
    ctx: string | undefined,
    tag: number,
    start: bigint,
    time: bigint,
    v: { value?: number | bigint; hist?: HistState; exp?: ExpState; summary?: SummaryState },
  ): 'ok' | 'exists' | 'cap' | 'type_conflict' {
    const fam = this.familyFor(info);
    if (fam === undefined) return 'type_conflict';
    const ci = ctx === undefined ? -1 : this.ctxId(ctx);
    const mapKey = ci < 0 ? key : this.ctxPrefix(ci) + key;
    if (fam.series.has(mapKey) || this.count >= this.maxSeries) {
      if (fam.series.size === 0) this.dropFamily(fam);
      if (ci >= 0 && this.ctxRefs[ci] === 0) this.freeCtx(ci);
      return fam.series.has(mapKey) ? 'exists' : 'cap';
    }
    const prevTag = this.curTag;
    const prevCtx = this.curCtx;
    this.curTag = tag;
    this.curCtx = ci;
    const id = this.create(fam, mapKey, start === 0n ? time : start, time, this.now());
    this.curTag = prevTag;
    this.curCtx = prevCtx;
    this.counters.series_created--; // restored, not created by a point
    this.timeA[id] = time;
    if (v.value !== undefined) this.setValue(id, v.value);
    if (v.hist !== undefined) this.hists.set(id, v.hist);
    if (v.exp !== undefined) this.exps.set(id, v.exp);
    if (v.summary !== undefined) this.summaries.set(id, v.summary);
    return 'ok';
  }

  /** Remove every series carrying one of `tags`; returns how many. */
  removeTagged(tags: ReadonlySet<number>): number {
    let n = 0;
    let id = this.head;
    while (id !== NONE) {
      const next = this.nextA[id] as number;
      if (tags.has(this.tagA[id] as number)) {
        this.remove(id);
        n++;
      }
      id = next;
    }
    return n;
  }

  /** Every live series id, in recency order (least recently updated first). */
  *ids(): IterableIterator<number> {
    let id = this.head;
    while (id !== NONE) {
      const next = this.nextA[id] as number;
      yield id;
      id = next;
    }
  }

  private grow(): void {
    const cap = this.capacity === 0 ? INITIAL_CAPACITY : Math.ceil(this.capacity * 1.5);
    const g = <T extends { length: number; set(a: ArrayLike<number | bigint>): void }>(old: T, make: (n: number) => T): T => {
      const a = make(cap);
      a.set(old as unknown as ArrayLike<number>);
      return a;
    };
    this.famOf = g(this.famOf, (n) => new Int32Array(n));
    this.startA = g(this.startA, (n) => new BigInt64Array(n));
    this.timeA = g(this.timeA, (n) => new BigInt64Array(n));
    this.seenA = g(this.seenA, (n) => new Float64Array(n));
    this.movedA = g(this.movedA, (n) => new Float64Array(n));
    this.prevA = g(this.prevA, (n) => new Int32Array(n));
    this.nextA = g(this.nextA, (n) => new Int32Array(n));
    this.valA = g(this.valA, (n) => new Float64Array(n));
    this.kindA = g(this.kindA, (n) => new Uint8Array(n));
    this.asciiA = g(this.asciiA, (n) => new Uint8Array(n));
    this.tagA = g(this.tagA, (n) => new Uint16Array(n));
    this.bornA = g(this.bornA, (n) => new Uint32Array(n));
    this.ctxOf = g(this.ctxOf, (n) => new Int32Array(n));
    this.capacity = cap;
  }

  private link(id: number): void {
    this.prevA[id] = this.tail;
    this.nextA[id] = NONE;
    if (this.tail !== NONE) this.nextA[this.tail] = id;
    else this.head = id;
    this.tail = id;
    this.count++;
  }

  private unlink(id: number): void {
    const p = this.prevA[id] as number;
    const n = this.nextA[id] as number;
    if (p !== NONE) this.nextA[p] = n;
    else this.head = n;
    if (n !== NONE) this.prevA[n] = p;
    else this.tail = p;
    this.prevA[id] = NONE;
    this.nextA[id] = NONE;
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
      this.curTag = partitionTag(rm.resource.attributes[PARTITION_ATTRIBUTE]);
      for (const sm of rm.scopeMetrics) {
        const ctx = keyer.context(rm.resource, sm.scope);
        let prefix = '';
        if (keyer.splitsContext === true) {
          this.curCtx = this.ctxId(ctx);
          prefix = this.ctxPrefix(this.curCtx);
        }
        for (const m of sm.metrics) this.ingestMetric(m, ctx, prefix, keyer, now);
        if (this.curCtx >= 0 && this.ctxRefs[this.curCtx] === 0) this.freeCtx(this.curCtx);
        this.curCtx = -1;
      }
      this.curTag = 0;
    }
  }

  /** the id of a context string (interned; freed when its last series goes) */
  private ctxId(ctx: string): number {
    let c = this.ctxIds.get(ctx);
    if (c === undefined) {
      c = this.ctxFree.pop() ?? this.ctxStr.length;
      this.ctxStr[c] = flat(ctx);
      this.ctxAscii[c] = !NON_ASCII.test(ctx);
      this.ctxRefs[c] = 0;
      this.ctxIds.set(this.ctxStr[c] as string, c);
    }
    return c;
  }
  private freeCtx(c: number): void {
    this.ctxIds.delete(this.ctxStr[c] as string);
    this.ctxStr[c] = '';
    this.ctxFree.push(c);
  }
  private ctxPrefix(c: number): string {
    return c.toString(36) + '\u0001';
  }

  private ingestMetric(m: Metric, ctx: string, prefix: string, keyer: SeriesKeyer, now: number): void {
    let type: SeriesType;
    switch (m.kind) {
      case 'gauge':
        type = 'gauge';
        break;
      case 'sum':
        type = m.isMonotonic ? 'counter' : 'gauge';
        break;
      case 'histogram':
      case 'exponentialHistogram':
        type = 'histogram';
        break;
      case 'summary':
        type = 'summary';
        break;
    }
    const n = m.points.length;
    if (n === 0) return;
    this.counters.points += n;
    const fam = this.familyFor(keyer.family(m, type));
    if (fam === undefined) {
      this.drop('type_conflict', n);
      return;
    }
    const delta = 'temporality' in m && m.temporality === Temporality.Delta;
    for (let i = 0; i < n; i++) {
      const p = m.points[i]!;
      const key = prefix + keyer.series(p.attributes, ctx);
      if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
        // a staleness marker: the series ended
        const id = fam.series.get(key);
        if (id !== undefined) this.remove(id);
        continue;
      }
      switch (m.kind) {
        case 'gauge':
          this.applyNumber(fam, key, p as NumberDataPoint, 'last', now);
          break;
        case 'sum':
          this.applyNumber(fam, key, p as NumberDataPoint, delta ? 'add' : m.isMonotonic ? 'cumulative' : 'last', now);
          break;
        case 'histogram':
          this.applyHist(fam, key, p as HistogramDataPoint, delta, now);
          break;
        case 'exponentialHistogram':
          this.applyExp(fam, key, m.points[i]!, delta, now);
          break;
        case 'summary': {
          const sp = m.points[i]!;
          const id = this.get(fam, key, sp.startTimeUnixNano, sp.timeUnixNano, now);
          const prev = this.summaries.get(id);
          if (prev !== undefined && sp.timeUnixNano < (this.timeA[id] as bigint)) {
            this.drop('out_of_order');
            break;
          }
          this.summaries.set(id, { count: sp.count, sum: sp.sum, quantiles: sp.quantileValues });
          if (sp.startTimeUnixNano !== 0n) this.startA[id] = sp.startTimeUnixNano;
          this.touch(id, sp.timeUnixNano, now);
          break;
        }
      }
    }
  }

  /** Set a gauge directly (e.g. `target_info`). */
  setGauge(info: FamilyInfo, key: string, value: number, time: bigint): void {
    const fam = this.familyFor(info);
    if (fam === undefined) {
      this.drop('type_conflict');
      return;
    }
    const now = this.now();
    const prevCtx = this.curCtx;
    this.curCtx = -1; // a whole key
    const id = this.get(fam, key, time, time, now);
    this.curCtx = prevCtx;
    this.setValue(id, value);
    this.touch(id, time, now);
  }

  private familyFor(info: FamilyInfo): Family | undefined {
    let f = this.families.get(info.name);
    if (f === undefined) {
      const idx = this.famFree.pop() ?? this.famTable.length;
      f = { info, series: new Map(), idx, born: this.rendering > 0 ? this.epoch : 0 };
      this.famTable[idx] = f;
      this.families.set(info.name, f);
    } else if (f.info.type !== info.type) {
      return undefined;
    }
    return f;
  }

  private dropFamily(f: Family): void {
    if (this.families.get(f.info.name) === f) this.families.delete(f.info.name);
    if (this.famTable[f.idx] === f) {
      this.famTable[f.idx] = undefined;
      this.famFree.push(f.idx);
    }
  }

  /** The series for key, created (evicting at the cap) when new. */
  private get(fam: Family, key: string, start: bigint, time: bigint, now: number): number {
    return fam.series.get(key) ?? this.create(fam, key, start, time, now);
  }

  /** A new series (evicting the least recently updated one at the cap). */
  private create(fam: Family, key: string, start: bigint, time: bigint, now: number): number {
    if (this.count >= this.maxSeries) {
      const oldest = this.head;
      if (oldest !== NONE) {
        this.remove(oldest);
        this.counters.evicted_cap++;
        this.onEvict?.(1, 'cap');
      }
    }
    // the family may have lost its last series (evicted just now, or a staleness
    // marker earlier in the batch): keep it listed
    if (this.famTable[fam.idx] !== fam) {
      if (!this.families.has(fam.info.name)) this.families.set(fam.info.name, fam);
      const idx = this.famFree.pop() ?? this.famTable.length;
      (fam as { idx: number }).idx = idx;
      this.famTable[idx] = fam;
    }
    let id = this.freeIds.pop();
    if (id === undefined) {
      if (this.nextId >= this.capacity) this.grow();
      id = this.nextId++;
    }
    this.keys[id] = flat(key);
    // checked once per new series, so a render can encode a chunk of ASCII-only lines without a UTF-8 pass
    this.asciiA[id] = (this.curCtx < 0 || this.ctxAscii[this.curCtx] === true) && !NON_ASCII.test(key) ? 1 : 0;
    this.famOf[id] = fam.idx;
    this.startA[id] = start === 0n ? time : start;
    this.timeA[id] = 0n;
    this.seenA[id] = now;
    this.movedA[id] = now;
    this.valA[id] = 0;
    this.kindA[id] = V_FLOAT;
    this.tagA[id] = this.curTag;
    this.bornA[id] = this.rendering > 0 ? this.epoch : 0;
    this.ctxOf[id] = this.curCtx;
    if (this.curCtx >= 0) this.ctxRefs[this.curCtx] = (this.ctxRefs[this.curCtx] as number) + 1;
    fam.series.set(this.keys[id] as string, id);
    this.link(id);
    this.counters.series_created++;
    return id;
  }

  private touch(id: number, time: bigint, now: number): void {
    if (time > (this.timeA[id] as bigint)) this.timeA[id] = time;
    this.seenA[id] = now;
    this.tagA[id] = this.curTag;
    if (now - (this.movedA[id] as number) >= TOUCH_GRANULARITY_MS) {
      if (id !== this.tail) {
        this.unlink(id);
        this.link(id);
      }
      this.movedA[id] = now;
    }
  }

  private remove(id: number): void {
    this.unlink(id);
    const fam = this.famTable[this.famOf[id] as number] as Family;
    fam.series.delete(this.keys[id] as string);
    if (fam.series.size === 0) this.dropFamily(fam);
    this.keys[id] = '';
    const c = this.ctxOf[id] as number;
    if (c >= 0) {
      this.ctxOf[id] = -1;
      const left = (this.ctxRefs[c] as number) - 1;
      this.ctxRefs[c] = left;
      // a context in use by the batch being ingested stays until the batch moves on
      if (left === 0 && c !== this.curCtx) this.freeCtx(c);
    }
    if (this.kindA[id] === V_BIG) this.big.delete(id);
    this.hists.delete(id);
    this.exps.delete(id);
    this.summaries.delete(id);
    this.freeIds.push(id);
  }

  private applyNumber(fam: Family, key: string, p: NumberDataPoint, mode: 'last' | 'add' | 'cumulative', now: number): void {
    const v = p.value;
    if (typeof v === 'number' && Number.isNaN(v) && mode !== 'last') {
      this.drop('nan');
      return;
    }
    // one hash lookup per point: get() only for a new series
    let id = fam.series.get(key);
    const isNew = id === undefined;
    if (id === undefined) id = this.create(fam, key, p.startTimeUnixNano, p.timeUnixNano, now);
    if (mode === 'add') {
      if (fam.info.type === 'counter' && (typeof v === 'bigint' ? v < 0n : v < 0)) {
        this.drop('negative_delta');
        return;
      }
      const kind = this.kindA[id];
      if (isNew) this.setValue(id, v);
      else if (typeof v === 'bigint' && kind !== V_FLOAT) {
        // exact integer total: in the float column while it stays ≤ 2^53
        let done = false;
        if (kind === V_INT && v <= MAX_SAFE && v >= MIN_SAFE) {
          const s = (this.valA[id] as number) + Number(v);
          if (Number.isSafeInteger(s)) {
            this.valA[id] = s;
            done = true;
          }
        }
        if (!done) this.setValue(id, (this.value(id) as bigint) + v);
      } else {
        this.valA[id] = this.num(id) + Number(v);
        if (kind !== V_FLOAT) {
          this.big.delete(id);
          this.kindA[id] = V_FLOAT;
        }
      }
    } else if (mode === 'cumulative') {
      if (!isNew) {
        const start = this.startA[id] as bigint;
        const startChanged = p.startTimeUnixNano !== 0n && p.startTimeUnixNano !== start;
        if (!startChanged && p.timeUnixNano < (this.timeA[id] as bigint)) {
          this.drop('out_of_order');
          return;
        }
        if (startChanged || Number(v) < this.num(id)) {
          this.counters.resets++;
          this.startA[id] = p.startTimeUnixNano !== 0n ? p.startTimeUnixNano : p.timeUnixNano;
        }
      }
      this.setValue(id, v);
    } else {
      if (!isNew && p.timeUnixNano < (this.timeA[id] as bigint)) {
        this.drop('out_of_order');
        return;
      }
      this.setValue(id, v);
    }
    this.touch(id, p.timeUnixNano, now);
  }

  private applyHist(fam: Family, key: string, p: HistogramDataPoint, delta: boolean, now: number): void {
    if (p.bucketCounts.length !== 0 && p.bucketCounts.length !== p.explicitBounds.length + 1) {
      this.drop('malformed_histogram');
      return;
    }
    const id = this.get(fam, key, p.startTimeUnixNano, p.timeUnixNano, now);
    const counts = p.bucketCounts.length === 0 ? [p.count] : p.bucketCounts;
    const bounds = p.bucketCounts.length === 0 ? [] : p.explicitBounds;
    const h = this.hists.get(id);
    if (delta) {
      if (h === undefined) {
        this.hists.set(id, { bounds: bounds.slice(), counts: counts.slice(), count: p.count, sum: p.sum ?? 0 });
      } else if (!sameBounds(h.bounds, bounds)) {
        // never merge mismatched buckets: the series restarts with the new bounds
        this.counters.resets++;
        this.startA[id] = p.startTimeUnixNano !== 0n ? p.startTimeUnixNano : p.timeUnixNano;
        this.hists.set(id, { bounds: bounds.slice(), counts: counts.slice(), count: p.count, sum: p.sum ?? 0 });
      } else {
        for (let i = 0; i < counts.length; i++) h.counts[i] = (h.counts[i] as number) + (counts[i] as number);
        h.count += p.count;
        h.sum += p.sum ?? 0;
      }
    } else {
      if (h !== undefined) {
        const startChanged = p.startTimeUnixNano !== 0n && p.startTimeUnixNano !== this.startA[id];
        if (!startChanged && p.timeUnixNano < (this.timeA[id] as bigint)) {
          this.drop('out_of_order');
          return;
        }
        if (startChanged || p.count < h.count) {
          this.counters.resets++;
          this.startA[id] = p.startTimeUnixNano !== 0n ? p.startTimeUnixNano : p.timeUnixNano;
        }
      }
      this.hists.set(id, { bounds, counts, count: p.count, sum: p.sum ?? 0 });
    }
    this.touch(id, p.timeUnixNano, now);
  }

  private applyExp(fam: Family, key: string, p: import('../model/index.js').ExponentialHistogramDataPoint, delta: boolean, now: number): void {
    const id = this.get(fam, key, p.startTimeUnixNano, p.timeUnixNano, now);
    const e = this.exps.get(id);
    if (delta && e !== undefined) {
      this.exps.set(id, mergeExp(e, p, this.maxExp));
    } else {
      if (!delta && e !== undefined) {
        const startChanged = p.startTimeUnixNano !== 0n && p.startTimeUnixNano !== this.startA[id];
        if (!startChanged && p.timeUnixNano < (this.timeA[id] as bigint)) {
          this.drop('out_of_order');
          return;
        }
        if (startChanged || p.count < e.count) {
          this.counters.resets++;
          this.startA[id] = p.startTimeUnixNano !== 0n ? p.startTimeUnixNano : p.timeUnixNano;
        }
      }
      this.exps.set(id, expFromPoint(p, this.maxExp));
    }
    this.touch(id, p.timeUnixNano, now);
  }

  /** Remove series not updated for `expiryMs`. Called on ingest and before every render. */
  expire(now = this.now()): void {
    const ttl = this.expiryMs;
    if (ttl <= 0) return;
    let n = 0;
    let id = this.head;
    while (id !== NONE && now - (this.movedA[id] as number) > ttl) {
      const next = this.nextA[id] as number;
      if (now - (this.seenA[id] as number) > ttl) {
        this.remove(id);
        n++;
      }
      id = next;
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
