/**
 * The windowed aggregation of the `metricsets` processor, without timers or
 * I/O: events in (with the caller's clock), closed windows out as metrics.
 * semantics.md §2 and §7:
 *
 * - window k of period P is [k·P, (k+1)·P), aligned to the Unix epoch, chosen
 *   by the event's own time;
 * - window k closes at wall time (k+1)·P + lateness; an event for a closed
 *   window is dropped and counted as late (never folded forward); an event
 *   more than one period in the future is taken as arriving now, counted;
 * - output points: start = window start, time = window end; `count` and
 *   `sum` are delta sums (count monotonic), every other aggregate a gauge
 *   carrying its mergeable state (`aggregate`, see aggregate.ts) so stores
 *   with a longer period combine windows exactly (§7);
 * - per metric and window at most `maxGroups` groups; further groups share the
 *   group `__overflow__` (every group_by attribute = "__overflow__"), counted.
 *
 * In `replay` mode (the `preview` command) there is no clock: nothing is late
 * and `flushAll()` emits every window.
 */
import { canonicalValue } from '../../src/model/attributes.js';
import type { Event } from '../../src/model/events.js';
import {
  Temporality,
  type AttrValue,
  type Attributes,
  type Metric,
  type MetricsBatch,
  type NumberDataPoint,
  type ScopeMetrics,
  type WindowAggregate,
} from '../../src/model/metrics.js';
import { DDSketch } from '../../src/sketch/ddsketch.js';
import { HyperLogLog, hashValue } from '../../src/sketch/hll.js';
import { EdgeState, MaxState, MeanState, MinState, QuantileState, UniqueState } from './aggregate.js';
import type { AggSpec, MetricSpec } from './config.js';
import type { ColumnChunk } from './history.js';
import { numericValue, TRUE } from './filter.js';

export const OVERFLOW = '__overflow__';
const SCOPE_NAME = 'metricport/metricsets';
const SET_ATTRIBUTE = 'metricset.name';
/** at most this many empty (zero-filled) windows are emitted when catching up after a pause */
const MAX_ZERO_FILL = 60;

export interface EngineOptions {
  periodMs: number;
  latenessMs: number;
  maxGroups: number;
  zeroFill: boolean;
  hllThreshold: number;
  hllPrecision: number;
  ddAccuracy: number;
  mode: 'wall' | 'replay';
}

export class NumAcc {
  n = 0;
  sum = 0;
  min = 0;
  max = 0;
  first = 0;
  firstT = 0n;
  last = 0;
  lastT = 0n;
  constructor(readonly sketch: DDSketch | undefined) {}
  add(x: number, t: bigint): void {
    if (this.n === 0) {
      this.min = this.max = this.first = this.last = x;
      this.firstT = this.lastT = t;
    } else {
      if (x < this.min) this.min = x;
      if (x > this.max) this.max = x;
      if (t < this.firstT) {
        this.first = x;
        this.firstT = t;
      }
      if (t >= this.lastT) {
        this.last = x;
        this.lastT = t;
      }
    }
    this.n++;
    this.sum += x;
    if (this.sketch !== undefined) this.sketch.add(x);
  }
}

export class Group {
  count = 0;
  readonly hlls: HyperLogLog[];
  readonly nums: NumAcc[];
  constructor(
    readonly attrs: Attributes,
    spec: MetricSpec,
    o: EngineOptions,
  ) {
    // replay (Explore): the window's sketches are merged into the query's totals, so they list their non-zero registers
    this.hlls = spec.uniqueAttrs.map(() => new HyperLogLog({ threshold: o.hllThreshold, precision: o.hllPrecision, listNonZero: o.mode === 'replay' }));
    this.nums = spec.sketch.map((s) => new NumAcc(s ? new DDSketch({ relativeAccuracy: o.ddAccuracy }) : undefined));
  }
}

class MetricWindow {
  readonly groups = new Map<string, Group>();
  single: Group | undefined;
  overflow: Group | undefined;
}

export class Window {
  readonly metrics: MetricWindow[];
  constructor(
    readonly k: number,
    readonly start: bigint,
    readonly end: bigint,
    n: number,
  ) {
    this.metrics = Array.from({ length: n }, () => new MetricWindow());
  }
}

/** Counters per metric, cumulative. */
export interface MetricCounters {
  matched: number;
  missing_group_by: number;
  overflow: number;
  non_numeric: number;
}

export interface AddResult {
  accepted: number;
  late: number;
  future: number;
}

export interface PreviewPoint {
  attributes: Record<string, unknown>;
  value: number | string;
}
export interface PreviewSeries {
  name: string;
  metric: string;
  aggregate: string;
  kind: 'sum' | 'gauge';
  points: PreviewPoint[];
}
export interface PreviewWindow {
  start: string;
  end: string;
  closes_at: string | null;
  series: PreviewSeries[];
}

function clearMemo1(memo: { groups: Array<unknown>; touched: number[] }): void {
  const t = memo.touched;
  for (let i = 0; i < t.length; i++) memo.groups[t[i]!] = undefined;
  t.length = 0;
}

export class MetricSetsEngine {
  readonly periodNs: bigint;
  readonly counters: MetricCounters[];
  late = 0;
  future = 0;
  private readonly windows = new Map<number, Window>();
  /** the first window not yet emitted (wall mode); windows before it are closed */
  private nextEmitK = -Infinity;
  private cur: Window | undefined;
  private curStart = 1n;
  private curEnd = 0n;
  private readonly overflowAttrs: Attributes[];
  /** addColumns, per metric with one group_by attribute: the group per dictionary id, reused across blocks (see memo1) */
  private colMemo: Array<{ groups: Array<Group | null | undefined>; touched: number[] } | undefined> = [];
  private readonly hasGroupless: boolean;
  /** zero-fill starts at the window the engine started in (earlier windows were not watched whole) */
  private zeroFromK = -Infinity;

  constructor(
    readonly specs: MetricSpec[],
    readonly o: EngineOptions,
    nowMs = Date.now(),
  ) {
    this.periodNs = BigInt(Math.round(o.periodMs * 1e6));
    this.counters = specs.map(() => ({ matched: 0, missing_group_by: 0, overflow: 0, non_numeric: 0 }));
    this.overflowAttrs = specs.map((s) => {
      const a: Attributes = {};
      for (const g of s.groupBy) a[g] = OVERFLOW;
      return a;
    });
    this.hasGroupless = specs.some((s) => s.groupBy.length === 0);
    if (o.mode === 'wall') {
      this.nextEmitK = Math.floor((nowMs - o.latenessMs) / o.periodMs);
      this.zeroFromK = Math.floor(nowMs / o.periodMs);
    }
  }

  /** Number of windows holding state. */
  get openWindows(): number {
    return this.windows.size;
  }

  /** Wall time (ms) at which the next window closes (wall mode). */
  nextCloseMs(): number {
    return (this.nextEmitK + 1) * this.o.periodMs + this.o.latenessMs;
  }

  private window(k: number): Window {
    let w = this.windows.get(k);
    if (w === undefined) {
      const start = BigInt(k) * this.periodNs;
      w = new Window(k, start, start + this.periodNs, this.specs.length);
      this.windows.set(k, w);
    }
    return w;
  }

  /** Aggregate events. `nowMs` is the wall clock (ignored in replay mode). */
  add(events: readonly Event[], nowMs: number): AddResult {
    const specs = this.specs;
    const ns = specs.length;
    const P = this.periodNs;
    let late = 0;
    let future = 0;
    let nowNs = -1n;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      let t = e.timeUnixNano;
      let w: Window;
      if (t >= this.curStart && t < this.curEnd) {
        w = this.cur!;
      } else {
        if (this.o.mode === 'wall') {
          if (nowNs < 0n) nowNs = BigInt(Math.floor(nowMs)) * 1_000_000n;
          if (t >= nowNs + P) {
            t = nowNs;
            future++;
          }
        }
        const k = Number(t >= 0n ? t / P : (t - P + 1n) / P);
        if (k < this.nextEmitK) {
          late++;
          continue;
        }
        w = this.window(k);
        this.cur = w;
        this.curStart = w.start;
        this.curEnd = w.end;
      }
      const a = e.attributes;
      for (let m = 0; m < ns; m++) this.addTo(w.metrics[m]!, m, specs[m]!, a, t);
    }
    this.late += late;
    this.future += future;
    return { accepted: events.length - late, late, future };
  }

  private addTo(mw: MetricWindow, m: number, spec: MetricSpec, a: Attributes, t: bigint): void {
    if (spec.filter !== TRUE && !spec.filter(a)) return;
    const c = this.counters[m]!;
    const gb = spec.groupBy;
    let g: Group | undefined;
    if (gb.length === 0) {
      g = mw.single ??= new Group({}, spec, this.o);
    } else {
      let key = '';
      for (let j = 0; j < gb.length; j++) {
        let v: AttrValue | undefined = a[gb[j]!];
        if (v === undefined) {
          v = spec.defaults[j];
          if (v === undefined) {
            c.missing_group_by++;
            return;
          }
        }
        const part = typeof v === 'string' ? v : '\u0001' + canonicalValue(v);
        key = j === 0 ? part : key + '\u0000' + part;
      }
      g = this.groupOf(mw, m, spec, key, a);
    }
    c.matched++;
    g.count++;
    const ua = spec.uniqueAttrs;
    for (let j = 0; j < ua.length; j++) {
      const v = a[ua[j]!];
      if (v !== undefined) g.hlls[j]!.add(v);
    }
    const na = spec.numAttrs;
    for (let j = 0; j < na.length; j++) {
      const v = a[na[j]!];
      if (v === undefined) continue;
      const x = typeof v === 'number' ? v : numericValue(v);
      if (!Number.isFinite(x)) {
        c.non_numeric++;
        continue;
      }
      g.nums[j]!.add(x, t);
    }
  }

  /**
   * The group of `key` in a metric's window, created on first use (with the
   * group_by values read from `a`), or the overflow group past max_groups.
   * Shared by add() and addColumns().
   */
  private groupOf(mw: MetricWindow, m: number, spec: MetricSpec, key: string, a: Attributes): Group {
    const c = this.counters[m]!;
    const gb = spec.groupBy;
    let g = mw.groups.get(key);
    if (g === undefined) {
      if (mw.groups.size >= this.o.maxGroups) {
        g = mw.overflow ??= new Group(this.overflowAttrs[m]!, spec, this.o);
        c.overflow++;
      } else {
        const attrs: Attributes = {};
        for (let j = 0; j < gb.length; j++) {
          const name = gb[j]!;
          const v = a[name];
          attrs[name] = v === undefined ? (spec.defaults[j] as string) : v;
        }
        g = new Group(attrs, spec, this.o);
        mw.groups.set(key, g);
      }
    } else if (g === mw.overflow) {
      c.overflow++;
    }
    return g;
  }

  /**
   * The per-dictionary-id group memo of metric m for a block of `size` ids:
   * one array per metric reused across blocks and windows, emptied by
   * resetting only the ids set since (a block holds thousands of distinct
   * values, a group_by attribute a few of them).
   */
  private memo1(m: number, size: number): { groups: Array<Group | null | undefined>; touched: number[] } {
    let memo = this.colMemo[m];
    if (memo === undefined) memo = this.colMemo[m] = { groups: [], touched: [] };
    else clearMemo1(memo);
    if (memo.groups.length < size) for (let i = memo.groups.length; i < size; i++) memo.groups.push(undefined);
    return memo;
  }

  /**
   * Aggregate a columnar block of events (the Explore history, history.ts)
   * exactly as add() would aggregate the same events one by one (replay mode
   * only; events outside [fromNs, toNs) are skipped): the same groups, the
   * same sketches and accumulators, the same output. What differs is only how
   * values are read: dictionary ids, with the filter's result, a value's hash
   * and its numeric form computed once per distinct value of the block.
   * Returns how many events of the block were in the range.
   */
  addColumns(c: ColumnChunk, fromNs: bigint, toNs: bigint): number {
    if (this.o.mode !== 'replay') throw new Error('addColumns is for replay mode (Explore)');
    const n = c.n;
    if (n === 0 || c.maxNs < fromNs || c.minNs >= toNs) return 0;
    const P = this.periodNs;
    const Pn = Number(P);
    const kb = c.baseNs >= 0n ? c.baseNs / P : (c.baseNs - P + 1n) / P;
    const rb = Number(c.baseNs - kb * P);
    const kbn = Number(kb);
    const whole = c.minNs >= fromNs && c.maxNs < toNs;
    const lo = whole ? -1 : Number(fromNs > c.baseNs ? fromNs - c.baseNs : -1n);
    const hi = whole ? Infinity : Number(toNs - c.baseNs);
    const dict = c.dict;
    const col = (name: string): Uint32Array | undefined => {
      const i = c.keyIndex.get(name);
      return i === undefined ? undefined : c.cols[i];
    };
    // per metric: what its filter, group_by and aggregates read, and caches by dictionary id
    const plans = this.specs.map((spec, m) => {
      const fAttrs = spec.filter === TRUE ? [] : spec.filterAttrs;
      return {
        spec,
        fCols: fAttrs.map((k) => col(k)),
        fNames: fAttrs,
        fMemo: new Map<string, boolean>(),
        fMemo1: fAttrs.length === 1 ? new Int8Array(dict.length + 1) : undefined,
        gCols: spec.groupBy.map((k) => col(k)),
        gMemo: new Map<string, Group | null>(),
        /** one group_by attribute: the group per dictionary id (undefined = not looked up in this window) */
        gMemo1: spec.groupBy.length === 1 ? this.memo1(m, dict.length + 1) : undefined,
        uCols: spec.uniqueAttrs.map((k) => col(k)),
        nCols: spec.numAttrs.map((k) => col(k)),
      };
    });
    // a value's hash is kept with the block: the next query over it skips hashing
    let hashes = c.hashes;
    if (hashes === undefined) {
      hashes = c.hashes = new Float64Array(dict.length);
      hashes.fill(NaN);
    }
    const nums = new Float64Array(dict.length);
    const numbered = new Uint8Array(dict.length);
    const row: Attributes = {};
    let winK = NaN;
    let w: Window | undefined;
    let inRange = 0;
    const ns = this.specs.length;
    for (let i = 0; i < n; i++) {
      const off = c.offs[i]!;
      if (off < lo || off >= hi) continue;
      inRange++;
      const k = kbn + Math.floor((rb + off) / Pn);
      if (k !== winK) {
        winK = k;
        w = this.window(k);
        for (const pl of plans) {
          pl.gMemo.clear();
          if (pl.gMemo1 !== undefined) clearMemo1(pl.gMemo1);
        }
      }
      let t: bigint | undefined;
      for (let m = 0; m < ns; m++) {
        const pl = plans[m]!;
        const spec = pl.spec;
        const mw = w!.metrics[m]!;
        // the filter, memoised per combination of the ids it reads
        if (spec.filter !== TRUE) {
          let ok: boolean;
          if (pl.fMemo1 !== undefined) {
            const fc = pl.fCols[0];
            const id = fc === undefined ? 0 : fc[i]!;
            const memo = pl.fMemo1[id]!;
            if (memo !== 0) ok = memo === 1;
            else {
              for (const kk in row) delete row[kk];
              if (id !== 0) row[pl.fNames[0]!] = dict[id - 1]!;
              ok = spec.filter(row);
              pl.fMemo1[id] = ok ? 1 : 2;
            }
          } else {
            let key = '';
            for (let j = 0; j < pl.fCols.length; j++) {
              const fc = pl.fCols[j];
              key += (fc === undefined ? 0 : fc[i]!) + ',';
            }
            const memo = pl.fMemo.get(key);
            if (memo !== undefined) ok = memo;
            else {
              for (const kk in row) delete row[kk];
              for (let j = 0; j < pl.fCols.length; j++) {
                const fc = pl.fCols[j];
                const id = fc === undefined ? 0 : fc[i]!;
                if (id !== 0) row[pl.fNames[j]!] = dict[id - 1]!;
              }
              ok = spec.filter(row);
              pl.fMemo.set(key, ok);
            }
          }
          if (!ok) continue;
        }
        const cnt = this.counters[m]!;
        const gb = spec.groupBy;
        let g: Group | undefined;
        if (gb.length === 0) {
          g = mw.single ??= new Group({}, spec, this.o);
        } else {
          let idKey = '';
          let id1 = 0;
          let hit: Group | null | undefined;
          if (pl.gMemo1 !== undefined) {
            const gc = pl.gCols[0];
            id1 = gc === undefined ? 0 : gc[i]!;
            hit = pl.gMemo1.groups[id1];
          } else {
            for (let j = 0; j < gb.length; j++) {
              const gc = pl.gCols[j];
              idKey += (gc === undefined ? 0 : gc[i]!) + ',';
            }
            hit = pl.gMemo.get(idKey);
          }
          if (hit === undefined) {
            // first time in this window: the same key as add() computes
            const a: Attributes = {};
            let key = '';
            hit = null;
            let missing = false;
            for (let j = 0; j < gb.length; j++) {
              const gc = pl.gCols[j];
              const id = gc === undefined ? 0 : gc[i]!;
              let v: AttrValue | undefined = id === 0 ? undefined : dict[id - 1];
              if (v !== undefined) a[gb[j]!] = v;
              if (v === undefined) {
                v = spec.defaults[j];
                if (v === undefined) {
                  missing = true;
                  break;
                }
              }
              const part = typeof v === 'string' ? v : '\u0001' + canonicalValue(v);
              key = j === 0 ? part : key + '\u0000' + part;
            }
            if (!missing) hit = this.groupOf(mw, m, spec, key, a);
            if (pl.gMemo1 !== undefined) {
              pl.gMemo1.groups[id1] = hit;
              pl.gMemo1.touched.push(id1);
            } else pl.gMemo.set(idKey, hit);
            if (hit === null) {
              cnt.missing_group_by++;
              continue;
            }
          } else if (hit === null) {
            cnt.missing_group_by++;
            continue;
          } else if (hit === mw.overflow) {
            // groupOf counts an overflow event on a miss; a memoised overflow is counted here
            cnt.overflow++;
          }
          g = hit;
        }
        cnt.matched++;
        g.count++;
        const uc = pl.uCols;
        for (let j = 0; j < uc.length; j++) {
          const cc = uc[j];
          const id = cc === undefined ? 0 : cc[i]!;
          if (id === 0) continue;
          let h = hashes[id - 1]!;
          if (h !== h) h = hashes[id - 1] = hashValue(dict[id - 1]);
          g.hlls[j]!.addHash(h);
        }
        const nc = pl.nCols;
        for (let j = 0; j < nc.length; j++) {
          const cc = nc[j];
          const id = cc === undefined ? 0 : cc[i]!;
          if (id === 0) continue;
          if (numbered[id - 1] === 0) {
            const v = dict[id - 1]!;
            nums[id - 1] = typeof v === 'number' ? v : numericValue(v);
            numbered[id - 1] = 1;
          }
          const x = nums[id - 1]!;
          if (!Number.isFinite(x)) {
            cnt.non_numeric++;
            continue;
          }
          t ??= c.baseNs + BigInt(off);
          g.nums[j]!.add(x, t);
        }
      }
    }
    return inRange;
  }

  /** Emit every window that has closed by `nowMs` (wall mode), oldest first; one batch per window. */
  closeDue(nowMs: number): MetricsBatch[] {
    const out: MetricsBatch[] = [];
    for (const w of this.closeDueWindows(nowMs, false)) {
      const b = this.buildWindow(w);
      if (b !== undefined) out.push(b);
    }
    return out;
  }

  /**
   * The windows that have closed by `nowMs` (wall mode), oldest first, taken
   * out of the engine. `contiguous`: every window since the last close, also
   * those without events (at most MAX_ZERO_FILL of them; scope cluster: the
   * owner of a partition waits for one partial per publisher and window).
   */
  closeDueWindows(nowMs: number, contiguous: boolean): Window[] {
    const lastOpen = Math.floor((nowMs - this.o.latenessMs) / this.o.periodMs);
    if (lastOpen <= this.nextEmitK) return [];
    const out: Window[] = [];
    const ks = [...this.windows.keys()].filter((k) => k < lastOpen);
    if (contiguous || (this.o.zeroFill && this.hasGroupless)) {
      for (let k = Math.max(this.nextEmitK, contiguous ? -Infinity : this.zeroFromK, lastOpen - MAX_ZERO_FILL); k < lastOpen; k++)
        if (!this.windows.has(k)) ks.push(k);
    }
    ks.sort((x, y) => x - y);
    for (const k of ks) {
      const w = this.windows.get(k) ?? this.emptyWindow(k);
      this.windows.delete(k);
      out.push(w);
    }
    this.nextEmitK = lastOpen;
    if (this.cur !== undefined && this.cur.k < lastOpen) {
      this.cur = undefined;
      this.curStart = 1n;
      this.curEnd = 0n;
    }
    return out;
  }

  /** A window without state (the owner's merge target, zero-filled windows). */
  emptyWindow(k: number): Window {
    return new Window(k, BigInt(k) * this.periodNs, BigInt(k + 1) * this.periodNs, this.specs.length);
  }

  /** The first window this engine closes (wall mode): what a publisher announces to the owners. */
  get firstWindow(): number {
    return this.nextEmitK;
  }

  /** Every window holding state, oldest first, taken out of the engine (shutdown with scope cluster). */
  flushAllWindows(nowMs: number): Window[] {
    const out = this.closeDueWindows(nowMs, true);
    const ks = [...this.windows.keys()].sort((x, y) => x - y);
    for (const k of ks) {
      out.push(this.windows.get(k)!);
      this.windows.delete(k);
      this.nextEmitK = Math.max(this.nextEmitK, k + 1);
    }
    this.cur = undefined;
    this.curStart = 1n;
    this.curEnd = 0n;
    return out;
  }

  /** Emit every window holding state (shutdown, replay), oldest first. Zero-fills up to `nowMs` in wall mode. */
  flushAll(nowMs?: number): MetricsBatch[] {
    const out = nowMs !== undefined && this.o.mode === 'wall' ? this.closeDue(nowMs) : [];
    const ks = [...this.windows.keys()].sort((x, y) => x - y);
    for (const k of ks) {
      const b = this.buildWindow(this.windows.get(k)!);
      this.windows.delete(k);
      if (b !== undefined) out.push(b);
      if (this.o.mode === 'wall') this.nextEmitK = Math.max(this.nextEmitK, k + 1);
    }
    this.cur = undefined;
    this.curStart = 1n;
    this.curEnd = 0n;
    return out;
  }

  /**
   * The metrics of one window: one ScopeMetrics per metric set. `zeroFillFor`
   * narrows zero-filling to some metrics (scope cluster: only the owner of the
   * partition of a group-less metric fills it).
   */
  buildWindow(w: Window, zeroFillFor?: (m: number) => boolean): MetricsBatch | undefined {
    const scopes = new Map<string, ScopeMetrics>();
    for (let m = 0; m < this.specs.length; m++) {
      const spec = this.specs[m]!;
      const mw = w.metrics[m]!;
      const groups: Group[] = spec.groupBy.length === 0 ? (mw.single !== undefined ? [mw.single] : []) : [...mw.groups.values()];
      if (mw.overflow !== undefined) groups.push(mw.overflow);
      const zero = groups.length === 0 && spec.groupBy.length === 0 && this.o.zeroFill && (zeroFillFor === undefined || zeroFillFor(m));
      const metrics: Metric[] = [];
      for (const agg of spec.aggs) {
        const points: NumberDataPoint[] = [];
        if (zero) {
          if (agg.kind === 'count') points.push(point({}, w, 0n));
          else if (agg.kind === 'unique')
            points.push(point({}, w, 0n, new UniqueState(new HyperLogLog({ threshold: this.o.hllThreshold, precision: this.o.hllPrecision }))));
          else if (agg.kind === 'sum') points.push(point({}, w, 0));
        } else {
          for (const g of groups) {
            const v = value(agg, g);
            if (v !== undefined) points.push(point(g.attrs, w, v, aggregateOf(agg, g)));
          }
        }
        if (points.length === 0) continue;
        metrics.push(toMetric(spec, agg, points, this.o.periodMs));
      }
      if (metrics.length === 0) continue;
      let sm = scopes.get(spec.set);
      if (sm === undefined) {
        sm = { scope: { name: SCOPE_NAME, version: '', attributes: { [SET_ATTRIBUTE]: spec.set }, droppedAttributesCount: 0 }, metrics: [], schemaUrl: '' };
        scopes.set(spec.set, sm);
      }
      sm.metrics.push(...metrics);
    }
    if (scopes.size === 0) return undefined;
    return { resourceMetrics: [{ resource: { attributes: {}, droppedAttributesCount: 0 }, scopeMetrics: [...scopes.values()], schemaUrl: '' }] };
  }

  /** The open windows' current values for one set (or every set), oldest window first. */
  preview(set?: string): PreviewWindow[] {
    const out: PreviewWindow[] = [];
    for (const k of [...this.windows.keys()].sort((x, y) => x - y)) {
      const w = this.windows.get(k)!;
      const b = this.buildWindow(w);
      const series: PreviewSeries[] = [];
      for (const sm of b?.resourceMetrics[0]?.scopeMetrics ?? []) {
        if (set !== undefined && sm.scope.attributes[SET_ATTRIBUTE] !== set) continue;
        for (const mt of sm.metrics) {
          const [metric, aggregate] = describeOutput(mt);
          series.push({
            name: mt.name,
            metric,
            aggregate,
            kind: mt.kind === 'sum' ? 'sum' : 'gauge',
            points: (mt.points as NumberDataPoint[]).map((p) => ({
              attributes: jsonAttrs(p.attributes),
              value: typeof p.value === 'bigint' ? Number(p.value) : p.value,
            })),
          });
        }
      }
      out.push({
        start: nsToIso(w.start),
        end: nsToIso(w.end),
        closes_at: this.o.mode === 'wall' ? new Date(Number(w.end / 1_000_000n) + this.o.latenessMs).toISOString() : null,
        series,
      });
    }
    return out;
  }
}

function jsonAttrs(a: Attributes): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k in a) {
    const v = a[k];
    o[k] = typeof v === 'bigint' ? v.toString() : v;
  }
  return o;
}

/** metric name and aggregate text carried in the output metric's metadata */
function describeOutput(mt: Metric): [string, string] {
  const md = mt.metadata ?? {};
  return [String(md['metricset.metric'] ?? ''), String(md['metricset.aggregate'] ?? '')];
}

function nsToIso(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const rest = ns % 1_000_000n;
  const iso = new Date(Number(ms)).toISOString();
  return rest === 0n ? iso : iso.replace('Z', '') + rest.toString().padStart(6, '0') + 'Z';
}

function point(attrs: Attributes, w: Window, value: number | bigint, aggregate?: WindowAggregate): NumberDataPoint {
  const p: NumberDataPoint = { attributes: attrs, startTimeUnixNano: w.start, timeUnixNano: w.end, flags: 0, value };
  if (aggregate !== undefined) p.aggregate = aggregate;
  return p;
}

/** The mergeable state of a gauge aggregate (undefined for the delta sums count and sum). */
function aggregateOf(agg: AggSpec, g: Group): WindowAggregate | undefined {
  switch (agg.kind) {
    case 'count':
    case 'sum':
      return undefined;
    case 'unique':
      return new UniqueState(g.hlls[agg.slot]!);
    default: {
      const acc = g.nums[agg.slot]!;
      switch (agg.kind) {
        case 'min':
          return new MinState(acc.min);
        case 'max':
          return new MaxState(acc.max);
        case 'mean':
          return new MeanState(acc.sum, acc.n);
        case 'first':
          return new EdgeState('first', acc.first, acc.firstT);
        case 'last':
          return new EdgeState('last', acc.last, acc.lastT);
        default:
          return new QuantileState(acc.sketch!, agg.q);
      }
    }
  }
}

function value(agg: AggSpec, g: Group): number | bigint | undefined {
  switch (agg.kind) {
    case 'count':
      return BigInt(g.count);
    case 'unique':
      return BigInt(g.hlls[agg.slot]!.count());
    case 'sum':
      return g.nums[agg.slot]!.sum;
    default: {
      const acc = g.nums[agg.slot]!;
      if (acc.n === 0) return undefined;
      switch (agg.kind) {
        case 'min':
          return acc.min;
        case 'max':
          return acc.max;
        case 'mean':
          return acc.sum / acc.n;
        case 'first':
          return acc.first;
        case 'last':
          return acc.last;
        default:
          return acc.sketch!.quantile(agg.q);
      }
    }
  }
}

function toMetric(spec: MetricSpec, agg: AggSpec, points: NumberDataPoint[], periodMs: number): Metric {
  const gb = spec.groupBy.length === 0 ? '' : ` by ${spec.groupBy.join(', ')}`;
  const description = spec.description !== '' ? spec.description : `${agg.text} of events per ${periodMs / 1000}s window${gb} (metric set ${spec.set})`;
  const metadata: Attributes = { 'metricset.metric': spec.name, 'metricset.aggregate': agg.text };
  // unit "1" only on count: on a gauge it would make Prometheus names end in _ratio
  const unit = agg.kind === 'count' ? '1' : '';
  if (agg.kind === 'count' || agg.kind === 'sum') {
    return { kind: 'sum', name: agg.output, description, unit, metadata, temporality: Temporality.Delta, isMonotonic: agg.kind === 'count', points };
  }
  return { kind: 'gauge', name: agg.output, description, unit, metadata, points };
}
