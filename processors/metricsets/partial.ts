/**
 * Scope cluster (docs/cluster.md): a closed window as mergeable partials, one
 * entry per (metric, group), and the owner's merge of everyone's entries back
 * into one window. Pure: the engine's own state (Group: count, HyperLogLogs,
 * numeric accumulators with their DDSketches) on the wire and back, so the
 * merged window builds exactly the metrics one instance seeing every event
 * would have built: counts and sums add, min/max combine, first/last keep the
 * earliest/latest event time (a tie between publishers: the one merged
 * first/last), uniques take the union of the exact sets or registers (equal
 * to the single instance's estimate), percentiles merge their sketches.
 *
 * Entry: [metricKey, groupKey, attrs, count, hlls, nums], metricKey =
 * "set\0metric", groupKey = the engine's key ("" without group_by, OVERFLOW_KEY
 * for the __overflow__ group), nums = per numeric attribute
 * [n, sum, min, max, first, firstT, last, lastT, sketch | 0].
 */
import type { Attributes } from '../../src/model/metrics.js';
import { DDSketch } from '../../src/sketch/ddsketch.js';
import { HyperLogLog } from '../../src/sketch/hll.js';
import { attrsFromWire, attrsToWire, partitionOf } from '../../src/fleet/wire.js';
import { Group, type MetricSetsEngine, type NumAcc, type Window } from './engine.js';

const OVERFLOW_KEY = '\u0002overflow';

function metricKey(set: string, metric: string): string {
  return `${set}\u0000${metric}`;
}

/** The partition of a group: (set, metric, group key) hashed into the cluster's partitions. */
export function groupPartition(partitions: number, set: string, metric: string, groupKey: string): number {
  return partitionOf(partitions, set, metric, groupKey);
}

function numToWire(a: NumAcc): unknown[] {
  return [a.n, a.sum, a.min, a.max, a.first, a.firstT.toString(), a.last, a.lastT.toString(), a.sketch !== undefined ? a.sketch.toJSON() : 0];
}

function groupEntry(mk: string, key: string, g: Group): string {
  return JSON.stringify([mk, key, attrsToWire(g.attrs), g.count, g.hlls.map((h) => h.toJSON()), g.nums.map(numToWire)]);
}

/** The entries of a closed window, by partition (every partition gets a list, possibly empty: the owner counts publishers, not entries). */
export function windowEntries(engine: MetricSetsEngine, w: Window, partitions: number): string[][] {
  const out: string[][] = Array.from({ length: partitions }, () => []);
  engine.specs.forEach((spec, m) => {
    const mw = w.metrics[m]!;
    const mk = metricKey(spec.set, spec.name);
    const put = (key: string, g: Group): void => {
      out[groupPartition(partitions, spec.set, spec.name, key)]!.push(groupEntry(mk, key, g));
    };
    if (mw.single !== undefined) put('', mw.single);
    for (const [key, g] of mw.groups) put(key, g);
    if (mw.overflow !== undefined) put(OVERFLOW_KEY, mw.overflow);
  });
  return out;
}

/** metricKey → index into the engine's specs */
export function metricIndex(engine: MetricSetsEngine): Map<string, number> {
  return new Map(engine.specs.map((s, m) => [metricKey(s.set, s.name), m]));
}

function mergeNum(into: NumAcc, w: unknown, path: string): void {
  if (!Array.isArray(w) || w.length !== 9) throw new Error(`${path}: a numeric accumulator is [n, sum, min, max, first, firstT, last, lastT, sketch]`);
  const [n, sum, min, max, first, firstT, last, lastT, sk] = w as [number, number, number, number, number, string, number, string, unknown];
  if (typeof n !== 'number' || typeof sum !== 'number') throw new Error(`${path}: n and sum must be numbers`);
  if (sk !== 0 && into.sketch !== undefined) into.sketch.merge(DDSketch.fromJSON(sk));
  if (n === 0) return;
  const ft = BigInt(firstT);
  const lt = BigInt(lastT);
  if (into.n === 0) {
    into.min = min;
    into.max = max;
    into.first = first;
    into.firstT = ft;
    into.last = last;
    into.lastT = lt;
  } else {
    if (min < into.min) into.min = min;
    if (max > into.max) into.max = max;
    if (ft < into.firstT) {
      into.first = first;
      into.firstT = ft;
    }
    if (lt >= into.lastT) {
      into.last = last;
      into.lastT = lt;
    }
  }
  into.n += n;
  into.sum += sum;
}

/**
 * Merge one publisher's entries into the owner's window. Throws (with the
 * entry's position) on an entry this config cannot take: an unknown metric
 * (the publisher runs another config), or sketches of other settings.
 */
export function mergeEntries(engine: MetricSetsEngine, index: Map<string, number>, w: Window, entries: readonly unknown[]): void {
  const o = engine.o;
  entries.forEach((raw, ei) => {
    const path = `entry ${ei}`;
    if (!Array.isArray(raw) || raw.length !== 6) throw new Error(`${path}: not [metric, group, attrs, count, hlls, nums]`);
    const [mk, key, attrsW, count, hlls, nums] = raw as [string, string, unknown, number, unknown[], unknown[]];
    const m = index.get(mk);
    if (m === undefined)
      throw new Error(`${path}: metric ${JSON.stringify(String(mk).replace('\u0000', '/'))} is not in this config (every node must run the same metric sets)`);
    const spec = engine.specs[m]!;
    if (!Array.isArray(hlls) || hlls.length !== spec.uniqueAttrs.length || !Array.isArray(nums) || nums.length !== spec.numAttrs.length)
      throw new Error(`${path}: the aggregates of ${spec.set}/${spec.name} differ from this config's`);
    const mw = w.metrics[m]!;
    let g: Group | undefined;
    if (key === '') g = mw.single;
    else if (key === OVERFLOW_KEY) g = mw.overflow;
    else g = mw.groups.get(key);
    if (g === undefined) {
      const attrs: Attributes = attrsFromWire(attrsW);
      g = new Group(attrs, spec, o);
      if (key === '') mw.single = g;
      else if (key === OVERFLOW_KEY) mw.overflow = g;
      else mw.groups.set(key, g);
    }
    g.count += Number(count);
    hlls.forEach((h, j) => {
      g!.hlls[j]!.merge(HyperLogLog.fromJSON(h));
    });
    nums.forEach((x, j) => mergeNum(g!.nums[j]!, x, `${path}.nums[${j}]`));
  });
}

/** Zero-fill only the group-less metrics whose partition is `partition` (every owner builds its own partitions). */
export function zeroFillOwner(engine: MetricSetsEngine, partitions: number, partition: number): (m: number) => boolean {
  return (m) => {
    const s = engine.specs[m]!;
    return groupPartition(partitions, s.set, s.name, '') === partition;
  };
}
