/**
 * Exponential histograms for stores that only know fixed buckets: the
 * Prometheus and Circonus pull stores (accumulated exponentially, rendered
 * as fixed buckets) and the push stores' period accumulator (each point
 * converted to an explicit-bucket histogram, exact merges within a period).
 *
 * - `ExpState` accumulates exponential histogram points: merging two at
 *   different scales downscales to the smaller one (semantics.md §3), and the
 *   bucket span per sign is kept within `maxBuckets` by downscaling further.
 * - `expToFixed` turns one into explicit buckets: each exponential bucket of
 *   the span becomes one fixed bucket whose upper bound (`le`) is the bucket's
 *   upper boundary `base^(index+1)` with `base = 2^(2^-scale)`; the zero
 *   bucket's upper bound is the zero threshold; negative buckets come first
 *   with upper bounds `-base^index`. Nothing is dropped: counts are exact,
 *   only the resolution is that of the input (or coarser after downscaling).
 *
 * Pure functions.
 */
import type { ExponentialHistogramDataPoint, ExponentialHistogramMetric, HistogramDataPoint, HistogramMetric } from './metrics.js';

export interface ExpBuckets {
  offset: number;
  counts: number[];
}

export interface ExpState {
  scale: number;
  zeroCount: number;
  zeroThreshold: number;
  pos: ExpBuckets;
  neg: ExpBuckets;
  count: number;
  sum: number;
  min?: number;
  max?: number;
}

export const DEFAULT_MAX_EXP_BUCKETS = 160;

function trimmed(b: { offset: number; bucketCounts: number[] } | ExpBuckets): ExpBuckets {
  const counts = 'counts' in b ? b.counts : b.bucketCounts;
  let lo = 0;
  let hi = counts.length;
  while (lo < hi && counts[lo] === 0) lo++;
  while (hi > lo && counts[hi - 1] === 0) hi--;
  return { offset: b.offset + lo, counts: counts.slice(lo, hi) };
}

/** Downscale buckets by `d` (each step halves the resolution). */
function downscale(b: ExpBuckets, d: number): ExpBuckets {
  if (d <= 0 || b.counts.length === 0) return b;
  const first = b.offset >> d;
  const last = (b.offset + b.counts.length - 1) >> d;
  const counts = new Array<number>(last - first + 1).fill(0);
  for (let i = 0; i < b.counts.length; i++) {
    const idx = ((b.offset + i) >> d) - first;
    counts[idx] = (counts[idx] as number) + (b.counts[i] as number);
  }
  return { offset: first, counts };
}

function span(a: ExpBuckets, b: ExpBuckets, d: number): number {
  const parts = [a, b].filter((x) => x.counts.length > 0);
  if (parts.length === 0) return 0;
  const lo = Math.min(...parts.map((x) => x.offset >> d));
  const hi = Math.max(...parts.map((x) => (x.offset + x.counts.length - 1) >> d));
  return hi - lo + 1;
}

function addBuckets(a: ExpBuckets, b: ExpBuckets): ExpBuckets {
  if (a.counts.length === 0) return { offset: b.offset, counts: b.counts.slice() };
  if (b.counts.length === 0) return a;
  const lo = Math.min(a.offset, b.offset);
  const hi = Math.max(a.offset + a.counts.length, b.offset + b.counts.length);
  const counts = new Array<number>(hi - lo).fill(0);
  for (let i = 0; i < a.counts.length; i++) counts[a.offset - lo + i] = (counts[a.offset - lo + i] as number) + (a.counts[i] as number);
  for (let i = 0; i < b.counts.length; i++) counts[b.offset - lo + i] = (counts[b.offset - lo + i] as number) + (b.counts[i] as number);
  return { offset: lo, counts };
}

/** An ExpState from one point (copied), downscaled to fit `maxBuckets` per sign. */
export function expFromPoint(p: ExponentialHistogramDataPoint, maxBuckets = DEFAULT_MAX_EXP_BUCKETS): ExpState {
  const s: ExpState = {
    scale: p.scale,
    zeroCount: p.zeroCount,
    zeroThreshold: p.zeroThreshold,
    pos: trimmed(p.positive),
    neg: trimmed(p.negative),
    count: p.count,
    sum: p.sum ?? 0,
  };
  if (p.min !== undefined) s.min = p.min;
  if (p.max !== undefined) s.max = p.max;
  return fit(s, maxBuckets);
}

function fit(s: ExpState, maxBuckets: number): ExpState {
  let d = 0;
  const empty = { offset: 0, counts: [] };
  while (d < 64 && (span(s.pos, empty, d) > maxBuckets || span(s.neg, empty, d) > maxBuckets)) d++;
  if (d === 0) return s;
  return { ...s, scale: s.scale - d, pos: downscale(s.pos, d), neg: downscale(s.neg, d) };
}

/** Merge point `p` into `into` (returns a new state; `into` is not changed). */
export function mergeExp(into: ExpState, p: ExponentialHistogramDataPoint, maxBuckets = DEFAULT_MAX_EXP_BUCKETS): ExpState {
  const b = expFromPoint(p, maxBuckets);
  let scale = Math.min(into.scale, b.scale);
  let da = into.scale - scale;
  let db = b.scale - scale;
  while (span(downscale(into.pos, da), downscale(b.pos, db), 0) > maxBuckets || span(downscale(into.neg, da), downscale(b.neg, db), 0) > maxBuckets) {
    scale--;
    da++;
    db++;
  }
  const out: ExpState = {
    scale,
    zeroCount: into.zeroCount + b.zeroCount,
    zeroThreshold: Math.max(into.zeroThreshold, b.zeroThreshold),
    pos: addBuckets(downscale(into.pos, da), downscale(b.pos, db)),
    neg: addBuckets(downscale(into.neg, da), downscale(b.neg, db)),
    count: into.count + b.count,
    sum: into.sum + b.sum,
  };
  const min = into.min === undefined ? b.min : b.min === undefined ? into.min : Math.min(into.min, b.min);
  const max = into.max === undefined ? b.max : b.max === undefined ? into.max : Math.max(into.max, b.max);
  if (min !== undefined) out.min = min;
  if (max !== undefined) out.max = max;
  return out;
}

/** Upper boundary of positive bucket `index` at `scale`: base^(index+1). */
function bucketUpper(scale: number, index: number): number {
  return Math.pow(2, (index + 1) * Math.pow(2, -scale));
}

/**
 * Fixed buckets for an ExpState: `bounds` ascending (upper bounds, `le`),
 * `counts` per bucket (not cumulative) with one more entry for +Inf (always 0
 * here: the last bound covers the largest value).
 */
export function expToFixed(s: ExpState): { bounds: number[]; counts: number[] } {
  const bounds: number[] = [];
  const counts: number[] = [];
  const push = (le: number, c: number) => {
    if (bounds.length > 0 && le <= (bounds[bounds.length - 1] as number)) {
      // not increasing (zero threshold wider than the first bucket): fold into the previous bucket
      counts[counts.length - 1] = (counts[counts.length - 1] as number) + c;
      return;
    }
    bounds.push(le);
    counts.push(c);
  };
  for (let i = s.neg.counts.length - 1; i >= 0; i--) {
    // negative bucket index k covers [-base^(k+1), -base^k): upper bound -base^k
    push(-bucketUpper(s.scale, s.neg.offset + i - 1), s.neg.counts[i] as number);
  }
  push(s.zeroThreshold, s.zeroCount);
  for (let i = 0; i < s.pos.counts.length; i++) push(bucketUpper(s.scale, s.pos.offset + i), s.pos.counts[i] as number);
  counts.push(0);
  return { bounds, counts };
}

/** Merge two states (neither is changed): scales aligned down, span kept within `maxBuckets` per sign. */
export function mergeExpStates(a: ExpState, b: ExpState, maxBuckets = DEFAULT_MAX_EXP_BUCKETS): ExpState {
  const asPoint = (s: ExpState): ExponentialHistogramDataPoint => ({
    attributes: {},
    startTimeUnixNano: 0n,
    timeUnixNano: 0n,
    flags: 0,
    count: s.count,
    sum: s.sum,
    scale: s.scale,
    zeroCount: s.zeroCount,
    zeroThreshold: s.zeroThreshold,
    positive: { offset: s.pos.offset, bucketCounts: s.pos.counts },
    negative: { offset: s.neg.offset, bucketCounts: s.neg.counts },
    ...(s.min !== undefined ? { min: s.min } : {}),
    ...(s.max !== undefined ? { max: s.max } : {}),
  });
  return mergeExp(a, asPoint(b), maxBuckets);
}

/** An explicit-bucket point converted from an exponential one; `exp` keeps the exact state for merging. */
export type ConvertedHistogramPoint = HistogramDataPoint & { exp: ExpState };

/** One exponential point as an explicit-bucket point (bounds and counts of `expToFixed`; count, sum, min, max kept). */
export function explicitFromExpPoint(p: ExponentialHistogramDataPoint, maxBuckets = DEFAULT_MAX_EXP_BUCKETS): ConvertedHistogramPoint {
  const exp = expFromPoint(p, maxBuckets);
  const f = expToFixed(exp);
  const out: ConvertedHistogramPoint = {
    attributes: p.attributes,
    startTimeUnixNano: p.startTimeUnixNano,
    timeUnixNano: p.timeUnixNano,
    flags: p.flags,
    count: p.count,
    explicitBounds: f.bounds,
    bucketCounts: f.counts,
    exp,
  };
  if (p.sum !== undefined) out.sum = p.sum;
  if (p.min !== undefined) out.min = p.min;
  if (p.max !== undefined) out.max = p.max;
  return out;
}

/** An exponential histogram metric as an explicit-bucket one (same name, unit, temporality). */
export function explicitFromExpMetric(m: ExponentialHistogramMetric, maxBuckets = DEFAULT_MAX_EXP_BUCKETS): HistogramMetric {
  const points = new Array<ConvertedHistogramPoint>(m.points.length);
  for (let i = 0; i < m.points.length; i++) points[i] = explicitFromExpPoint(m.points[i] as ExponentialHistogramDataPoint, maxBuckets);
  return { kind: 'histogram', name: m.name, unit: m.unit, description: m.description, temporality: m.temporality, points };
}
