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

export interface SummaryValue {
  count: number;
  sum: number;
  quantiles: QuantileValue[];
}

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

interface CumState {
  start: bigint;
  lastTime: bigint;
  last: number | bigint;
  count: number;
  sum: number;
  counts: number[] | undefined;
  bounds: number[] | undefined;
}

/** What the series of one metric share (one per metric, resource and scope): their SeriesMeta minus key and attributes. */
interface MetricInfo {
  readonly key: string;
  readonly idx: number;
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly kind: StoreKind;
  readonly temporality: StoreTemporality;
  readonly monotonic: boolean;
  readonly resource: Attributes;
  readonly host: string | undefined;
  /** series of this metric held */
  refs: number;
}

interface HeldAggregate {
  agg: WindowAggregate;
  owned: boolean;
}

/** how a cell value is read: a float, an integer ≤ 2^53 in the float column, a bigint in the side map */
const V_FLOAT = 0;
const V_INT = 1;
const V_BIG = 2;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;
const NO_CELL = -1;

/**
 * The cells of one window, columnar: cell c holds series `id[c]`, in the
 * order the series first appeared in the window (the emission order).
 * `cellOf[seriesId]` finds a series' cell (−1: none).
 */
class Cells {
  n = 0;
  id = new Int32Array(16);
  val = new Float64Array(16);
  kind = new Uint8Array(16);
  seen = new BigInt64Array(16);
  cellOf: Int32Array;
  big: Map<number, bigint> | undefined;
  hist: Map<number, HistogramValue> | undefined;
  summary: Map<number, SummaryValue> | undefined;
  constructor(seriesCapacity: number) {
    this.cellOf = new Int32Array(Math.max(16, seriesCapacity)).fill(NO_CELL);
  }
  find(sid: number): number {
    return sid < this.cellOf.length ? (this.cellOf[sid] as number) : NO_CELL;
  }
  add(sid: number): number {
    if (sid >= this.cellOf.length) {
      const c = new Int32Array(Math.max(sid + 1, Math.ceil(this.cellOf.length * 1.5))).fill(NO_CELL);
      c.set(this.cellOf);
      this.cellOf = c;
    }
    if (this.n === this.id.length) {
      const cap = Math.ceil(this.n * 1.5);
      const id = new Int32Array(cap);
      id.set(this.id);
      this.id = id;
      const val = new Float64Array(cap);
      val.set(this.val);
      this.val = val;
      const kind = new Uint8Array(cap);
      kind.set(this.kind);
      this.kind = kind;
      const seen = new BigInt64Array(cap);
      seen.set(this.seen);
      this.seen = seen;
    }
    const c = this.n++;
    this.id[c] = sid;
    this.cellOf[sid] = c;
    this.val[c] = 0;
    this.kind[c] = V_FLOAT;
    this.seen[c] = 0n;
    return c;
  }
  value(c: number): number | bigint {
    const k = this.kind[c];
    if (k === V_FLOAT) return this.val[c] as number;
    if (k === V_INT) return BigInt(this.val[c] as number);
    return (this.big as Map<number, bigint>).get(c) as bigint;
  }
  setValue(c: number, v: number | bigint): void {
    if (this.kind[c] === V_BIG) this.big?.delete(c);
    if (typeof v === 'number') {
      this.val[c] = v;
      this.kind[c] = V_FLOAT;
      return;
    }
    if (v <= MAX_SAFE && v >= MIN_SAFE) {
      this.val[c] = Number(v);
      this.kind[c] = V_INT;
      return;
    }
    this.val[c] = 0;
    this.kind[c] = V_BIG;
    (this.big ??= new Map()).set(c, v);
  }
  /** addValues(): bigint + bigint stays exact, anything else adds as numbers */
  addValue(c: number, v: number | bigint): void {
    const k = this.kind[c];
    if (typeof v === 'bigint' && k !== V_FLOAT) {
      if (k === V_INT && v <= MAX_SAFE && v >= MIN_SAFE) {
        const s = (this.val[c] as number) + Number(v);
        if (Number.isSafeInteger(s)) {
          this.val[c] = s;
          return;
        }
      }
      this.setValue(c, (this.value(c) as bigint) + v);
      return;
    }
    this.setValue(c, Number(this.value(c)) + Number(v));
  }
}

interface Window {
  k: number;
  start: bigint;
  end: bigint;
  cells: Cells;
  retired: StorePoint[];
  aggs: Map<number, HeldAggregate> | undefined;
}

/** A copy of a string that is one flat sequential string (keys are concatenations, which V8 keeps as trees: 2× the memory). */
let flatSink = 0;
function flat(s: string): string {
  flatSink ^= (s as unknown as number) | 0;
  return s;
}
/** (keeps the flattening above from being optimised away: exported so the sink is observable) @public */
export function flattenedKeys(): number {
  return flatSink;
}

/**
 * The attributes of a canonical attribute string (canonicalAttributes,
 * src/model/attributes.ts), in its key order: series keep only that string,
 * and their attributes are rebuilt when a window is emitted.
 */
export function parseCanonicalAttributes(s: string, from = 0, to = s.length): Attributes {
  const out: Attributes = {};
  let i = from;
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (i < to) {
      const ch = s.charCodeAt(i);
      if (ch === 92) {
        i += 2;
        continue;
      } // backslash escape
      i++;
      if (ch === 34) break;
    }
    return JSON.parse(s.slice(start, i)) as string;
  };
  const token = (): string => {
    const start = i;
    while (i < to) {
      const ch = s.charCodeAt(i);
      if (ch === 44 || ch === 93 || ch === 125) break;
      i++;
    }
    return s.slice(start, i);
  };
  const value = (): AttrValue => {
    const ch = s[i];
    switch (ch) {
      case '"':
        return str();
      case 'd':
        i++;
        return Number(token());
      case 'i':
        i++;
        return BigInt(token());
      case 'T':
        i++;
        return true;
      case 'F':
        i++;
        return false;
      case 'N':
        i++;
        return null;
      case 'b':
        i++;
        return new Uint8Array(Buffer.from(token(), 'base64'));
      case '[': {
        i++;
        const arr: AttrValue[] = [];
        while (i < to && s[i] !== ']') {
          arr.push(value());
          if (s[i] === ',') i++;
        }
        i++;
        return arr as AttrValue;
      }
      case '{': {
        i++;
        let depth = 1;
        const start = i;
        // the nested canonical string ends at its matching brace (strings may hold braces: skip them)
        while (i < to && depth > 0) {
          const c = s.charCodeAt(i);
          if (c === 34) {
            str();
            continue;
          }
          if (c === 123) depth++;
          else if (c === 125) depth--;
          i++;
        }
        return parseCanonicalAttributes(s, start, i - 1) as AttrValue;
      }
      default:
        throw new Error(`canonical attributes: unexpected ${JSON.stringify(ch)} at ${i}`);
    }
  };
  while (i < to) {
    const k = str();
    i++; // '='
    const v = value();
    if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    else out[k] = v;
    if (s[i] === ',') i++;
  }
  return out;
}

const NS_PER_MS = 1_000_000n;

function sameBounds(a: number[], b: number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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
  // metrics (name, unit, kind, resource, scope): shared by their series
  private readonly metrics = new Map<string, MetricInfo>();
  private metricTable: Array<MetricInfo | undefined> = [];
  private metricFree: number[] = [];
  // series: key (metric index + canonical attributes, flat) → id; columns by id
  private readonly series = new Map<string, number>();
  private capacity = 0;
  private nextId = 0;
  private freeIds: number[] = [];
  private keys: string[] = [];
  private metricOf = new Int32Array(0);
  private lastSeen = new Float64Array(0);
  /** cumulative → delta state (§4), only for the series that need it */
  private readonly cum = new Map<number, CumState>();
  private readonly windows = new Map<number, Window>();
  /** every window below this index is closed */
  private openFrom: number;
  readonly counters: AccumulatorCounters = {
    points: 0,
    late: 0,
    stale: 0,
    future: 0,
    out_of_order: 0,
    series_limit: 0,
    expired: 0,
    resets: 0,
    baselines: 0,
    bounds_changed: 0,
    no_value: 0,
    unsupported: 0,
    invalid: 0,
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
  seriesCount(): number {
    return this.series.size;
  }
  /** every window below this index is closed (flushed) */
  openFromIndex(): number {
    return this.openFrom;
  }
  /** after a restart, before replaying a write-ahead log: windows from `k` on are open again */
  reopenFrom(k: number): void {
    this.openFrom = k;
  }
  /**
   * After add(): the highest window any point of the batch went into (late
   * deltas count with the window they folded into); -Infinity when none.
   * The disk queue's write-ahead log keeps a batch until that window closed.
   */
  lastMaxWindow = -Infinity;
  /** windows held (open) */
  windowCount(): number {
    return this.windows.size;
  }

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
      w = { k, start, end: start + this.periodNs, cells: new Cells(this.capacity), retired: [], aggs: undefined };
      this.windows.set(k, w);
    }
    return w;
  }

  private metric(key: string, make: () => Omit<MetricInfo, 'key' | 'idx' | 'refs'>): MetricInfo {
    let m = this.metrics.get(key);
    if (m === undefined) {
      const idx = this.metricFree.pop() ?? this.metricTable.length;
      m = { ...make(), key: flat(key), idx, refs: 0 };
      this.metrics.set(m.key, m);
      this.metricTable[idx] = m;
    }
    return m;
  }

  private newSeries(key: string, m: MetricInfo, nowMs: number): number {
    let id = this.freeIds.pop();
    if (id === undefined) {
      if (this.nextId >= this.capacity) {
        const cap = this.capacity === 0 ? 1024 : Math.ceil(this.capacity * 1.5);
        const mo = new Int32Array(cap);
        mo.set(this.metricOf);
        this.metricOf = mo;
        const ls = new Float64Array(cap);
        ls.set(this.lastSeen);
        this.lastSeen = ls;
        this.capacity = cap;
      }
      id = this.nextId++;
    }
    const k = flat(key);
    this.keys[id] = k;
    this.metricOf[id] = m.idx;
    this.lastSeen[id] = nowMs;
    m.refs++;
    this.series.set(k, id);
    return id;
  }

  /** The SeriesMeta of a series (built when its points are emitted; attributes from its canonical key). */
  private meta(id: number): SeriesMeta {
    const m = this.metricTable[this.metricOf[id] as number] as MetricInfo;
    const key = this.keys[id] as string;
    const attrs = parseCanonicalAttributes(key, key.indexOf('\u0001') + 1);
    return {
      key,
      name: m.name,
      unit: m.unit,
      description: m.description,
      kind: m.kind,
      temporality: m.temporality,
      monotonic: m.monotonic,
      attrs,
      resource: m.resource,
      host: m.host,
    };
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
            else if (!m.isMonotonic)
              temporality = 'gauge'; // cumulative non-monotonic: a level
            else {
              temporality = this.o.cumulative;
              cumToDelta = this.o.cumulative === 'delta';
            }
          } else {
            monotonic = true;
            if (m.temporality === Temporality.Delta) temporality = 'delta';
            else {
              temporality = this.o.cumulative;
              cumToDelta = this.o.cumulative === 'delta';
            }
          }
          const kind: StoreKind = m.kind;
          const metricKey =
            scopeKey +
            '\u0001' +
            m.name +
            '\u0001' +
            m.unit +
            '\u0001' +
            kind +
            '\u0001' +
            (m.kind === 'sum' || m.kind === 'histogram' ? m.temporality : 0) +
            (monotonic ? 'm' : '') +
            '\u0001';
          let info: MetricInfo | undefined;
          let prefix = '';
          for (const p of m.points as Array<{ attributes: Attributes; timeUnixNano: bigint; startTimeUnixNano: bigint; flags: number }>) {
            c.points++;
            if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
              c.no_value++;
              continue;
            }
            if (info === undefined || this.metricTable[info.idx] !== info) {
              if (selected === undefined) selected = this.selectResource(rattrs);
              const sel = selected;
              info = this.metric(metricKey, () => ({
                name: m.name,
                unit: m.unit,
                description: m.description,
                kind,
                temporality,
                monotonic,
                resource: sel,
                host,
              }));
              prefix = info.idx.toString(36) + '\u0001';
            }
            const key = prefix + canonicalAttributes(p.attributes);
            let sid = this.series.get(key);
            if (sid === undefined) {
              if (this.series.size >= this.o.maxSeries) {
                c.series_limit++;
                continue;
              }
              sid = this.newSeries(key, info, nowMs);
            }
            this.lastSeen[sid] = nowMs;
            let t = p.timeUnixNano;
            if (t > futureLimit || t <= 0n) {
              if (t > futureLimit) c.future++;
              t = nowNs;
            }
            // an interval (start, t] belongs to the window holding its last instant
            const st = p.startTimeUnixNano;
            const tb = t === p.timeUnixNano && st > 0n && st < t && !cumToDelta && (temporality === 'delta' || kind === 'gauge') ? t - 1n : t;
            let k = Number(tb / this.periodNs);
            if (replay !== undefined && Math.max(k, replay.openFromAtAdd) < replay.skipBelow) {
              c.points--;
              continue;
            }
            const late = k < this.openFrom;
            const eff = late ? this.openFrom : k;
            if (eff > this.lastMaxWindow) this.lastMaxWindow = eff;
            if (temporality === 'delta') {
              let value: number | bigint | undefined;
              let hist: HistogramValue | undefined;
              if (cumToDelta) {
                const d = this.cumulativeDelta(sid, kind, p as never, t);
                if (d === undefined) continue;
                value = d.value;
                hist = d.hist;
              } else if (kind === 'histogram') {
                hist = histOf(p as never);
              } else {
                value = (p as unknown as { value: number | bigint }).value;
              }
              if (typeof value === 'number' && !Number.isFinite(value)) {
                c.invalid++;
                continue;
              }
              if (late) {
                c.late++;
                k = this.openFrom;
              }
              this.addDelta(this.window(k), sid, value, hist, t);
            } else {
              if (late) {
                c.stale++;
                continue;
              }
              this.setLast(this.window(k), sid, kind, p as never, t);
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
  private cumulativeDelta(
    sid: number,
    kind: StoreKind,
    p: { startTimeUnixNano: bigint; value?: number | bigint; count?: number; sum?: number; bucketCounts?: number[]; explicitBounds?: number[] },
    t: bigint,
  ): { value: number | bigint | undefined; hist: HistogramValue | undefined } | undefined {
    const isHist = kind === 'histogram';
    const value: number | bigint = isHist ? (p.count as number) : (p.value as number | bigint);
    const st = this.cum.get(sid);
    const fresh = (): CumState => ({
      start: p.startTimeUnixNano,
      lastTime: t,
      last: value,
      count: p.count ?? 0,
      sum: p.sum ?? 0,
      counts: isHist ? (p.bucketCounts as number[]).slice() : undefined,
      bounds: isHist ? (p.explicitBounds as number[]).slice() : undefined,
    });
    const full = (): { value: number | bigint | undefined; hist: HistogramValue | undefined } =>
      isHist ? { value: undefined, hist: histOf(p as never) } : { value, hist: undefined };
    if (st === undefined) {
      this.cum.set(sid, fresh());
      if (p.startTimeUnixNano !== 0n && p.startTimeUnixNano >= this.startedAtNs) return full();
      this.counters.baselines++;
      return undefined;
    }
    if (t < st.lastTime) {
      this.counters.out_of_order++;
      return undefined;
    }
    const boundsChanged = isHist && !sameBounds(st.bounds as number[], p.explicitBounds as number[]);
    if (p.startTimeUnixNano !== st.start || lessThan(value, st.last) || boundsChanged) {
      this.counters.resets++;
      const restartedAfter = p.startTimeUnixNano > st.lastTime;
      this.cum.set(sid, fresh());
      if (restartedAfter) return full();
      return isHist
        ? {
            value: undefined,
            hist: {
              count: 0,
              sum: 0,
              min: undefined,
              max: undefined,
              bounds: (p.explicitBounds as number[]).slice(),
              counts: new Array((p.bucketCounts as number[]).length).fill(0),
            },
          }
        : { value: typeof value === 'bigint' ? 0n : 0, hist: undefined };
    }
    let out: { value: number | bigint | undefined; hist: HistogramValue | undefined };
    if (isHist) {
      const bc = p.bucketCounts as number[];
      const prev = st.counts as number[];
      const counts = new Array<number>(bc.length);
      for (let i = 0; i < bc.length; i++) counts[i] = (bc[i] as number) - (prev[i] ?? 0);
      out = {
        value: undefined,
        hist: {
          count: (p.count as number) - st.count,
          sum: (p.sum ?? 0) - st.sum,
          min: undefined,
          max: undefined,
          bounds: (p.explicitBounds as number[]).slice(),
          counts,
        },
      };
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

  /** a cell as the point it will be emitted as */
  private point(w: Window, c: number, meta: SeriesMeta): StorePoint {
    const cells = w.cells;
    return {
      meta,
      start: w.start,
      time: w.end,
      value: cells.value(c),
      hist: cells.hist?.get(c),
      summary: cells.summary?.get(c),
      seen: cells.seen[c] as bigint,
    };
  }

  private addDelta(w: Window, sid: number, value: number | bigint | undefined, hist: HistogramValue | undefined, t: bigint): void {
    const cells = w.cells;
    let c = cells.find(sid);
    if (c === NO_CELL) {
      c = cells.add(sid);
      cells.setValue(c, value ?? 0);
      if (hist !== undefined) (cells.hist ??= new Map()).set(c, copyHist(hist));
      cells.seen[c] = t;
      return;
    }
    if (t > (cells.seen[c] as bigint)) cells.seen[c] = t;
    if (hist === undefined) {
      cells.addValue(c, value ?? 0);
      return;
    }
    const h = cells.hist?.get(c) as HistogramValue;
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
      w.retired.push(this.point(w, c, this.meta(sid)));
      cells.setValue(c, 0);
      (cells.hist as Map<number, HistogramValue>).set(c, copyHist(hist));
      cells.seen[c] = t;
      return;
    }
    h.count += hist.count;
    h.sum += hist.sum;
    if (hist.min !== undefined) h.min = h.min === undefined ? hist.min : Math.min(h.min, hist.min);
    if (hist.max !== undefined) h.max = h.max === undefined ? hist.max : Math.max(h.max, hist.max);
    for (let i = 0; i < h.counts.length; i++) h.counts[i] = (h.counts[i] as number) + (hist.counts[i] as number);
  }

  /** §7: a windowed gauge's state merges with the other windows of the period; false when it cannot (then last value wins). */
  private mergeAggregate(w: Window, sid: number, agg: WindowAggregate, value: number | bigint, t: bigint): boolean {
    const aggs = (w.aggs ??= new Map());
    const cells = w.cells;
    let c = cells.find(sid);
    if (c === NO_CELL) {
      c = cells.add(sid);
      cells.setValue(c, value);
      cells.seen[c] = t;
      aggs.set(c, { agg, owned: false });
      return true;
    }
    const held = aggs.get(c);
    if (held === undefined || held.agg.kind !== agg.kind) {
      aggs.delete(c);
      return false;
    }
    // the first state may be shared with other consumers of the batch: merge into a copy
    if (!held.owned) {
      held.agg = held.agg.clone();
      held.owned = true;
    }
    held.agg.mergeFrom(agg);
    cells.setValue(c, held.agg.value());
    if (t > (cells.seen[c] as bigint)) cells.seen[c] = t;
    return true;
  }

  private setLast(
    w: Window,
    sid: number,
    kind: StoreKind,
    p: {
      value?: number | bigint;
      count?: number;
      sum?: number;
      bucketCounts?: number[];
      explicitBounds?: number[];
      min?: number;
      max?: number;
      quantileValues?: QuantileValue[];
      aggregate?: WindowAggregate;
    },
    t: bigint,
  ): void {
    if (p.aggregate !== undefined && kind === 'gauge' && this.mergeAggregate(w, sid, p.aggregate, p.value as number | bigint, t)) return;
    const cells = w.cells;
    let c = cells.find(sid);
    if (c !== NO_CELL && t < (cells.seen[c] as bigint)) return; // an older point within the window: the later one stays
    const hist = kind === 'histogram' ? histOf(p as never) : undefined;
    const summary = kind === 'summary' ? { count: p.count as number, sum: p.sum as number, quantiles: p.quantileValues as QuantileValue[] } : undefined;
    const value = kind === 'gauge' || kind === 'sum' ? (p.value as number | bigint) : 0;
    if (c === NO_CELL) c = cells.add(sid);
    cells.setValue(c, value);
    if (hist !== undefined) (cells.hist ??= new Map()).set(c, hist);
    else cells.hist?.delete(c);
    if (summary !== undefined) (cells.summary ??= new Map()).set(c, summary);
    else cells.summary?.delete(c);
    cells.seen[c] = t;
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
    // one meta per series for this collect (shared by its points in several windows)
    const metas = new Map<number, SeriesMeta>();
    for (const k of ks) {
      const w = this.windows.get(k) as Window;
      this.windows.delete(k);
      for (const r of w.retired) out.push(r);
      const cells = w.cells;
      for (let c = 0; c < cells.n; c++) {
        const sid = cells.id[c] as number;
        let meta = metas.get(sid);
        if (meta === undefined) {
          meta = this.meta(sid);
          metas.set(sid, meta);
        }
        out.push(this.point(w, c, meta));
      }
    }
    if (openFrom > this.openFrom) this.openFrom = openFrom;
    if (all && ks.length > 0) this.openFrom = Math.max(this.openFrom, (ks[ks.length - 1] as number) + 1);
    // expiry: forget series not seen for seriesExpiryMs (one still in an open window waits for it to close)
    const cutoff = nowMs - this.o.seriesExpiryMs;
    const open = [...this.windows.values()];
    for (const [key, sid] of this.series) {
      if ((this.lastSeen[sid] as number) >= cutoff) continue;
      if (open.some((w) => w.cells.find(sid) !== NO_CELL)) continue;
      this.series.delete(key);
      this.cum.delete(sid);
      this.keys[sid] = '';
      const m = this.metricTable[this.metricOf[sid] as number] as MetricInfo;
      if (--m.refs === 0) {
        this.metrics.delete(m.key);
        this.metricTable[m.idx] = undefined;
        this.metricFree.push(m.idx);
      }
      this.freeIds.push(sid);
      this.counters.expired++;
    }
    return out;
  }
}

function histOf(p: {
  count: number;
  sum?: number;
  min?: number;
  max?: number;
  bucketCounts: number[];
  explicitBounds: number[];
  exp?: ExpState;
}): HistogramValue {
  const h: HistogramValue = { count: p.count, sum: p.sum ?? 0, min: p.min, max: p.max, bounds: p.explicitBounds, counts: p.bucketCounts };
  if (p.exp !== undefined) h.exp = p.exp;
  return h;
}

function copyHist(h: HistogramValue): HistogramValue {
  const c: HistogramValue = { count: h.count, sum: h.sum, min: h.min, max: h.max, bounds: h.bounds, counts: h.counts.slice() };
  if (h.exp !== undefined) c.exp = h.exp; // states are never changed in place (merges make new ones)
  return c;
}
