/**
 * Datadog series → the metrics model (docs/receivers/datadog.md "Mapping").
 * Pure: no I/O, no clock except the `now` passed in.
 *
 * - `gauge` and unspecified (v2 type 0, v1 without `type`) → gauge.
 * - `count` → delta sum over [ts − interval, ts] (a zero-length window when
 *   the interval is unknown); monotonic when every point of the series is
 *   ≥ 0, else non-monotonic.
 * - `rate` → with `rate: count` (default) and an interval > 0: the delta sum
 *   value × interval over [ts − interval, ts], i.e. the count the client
 *   turned into a per-second rate, restored, so that stores that accumulate
 *   (Prometheus counters, period sums) and a `rate()` over them give back the
 *   per-second value; without an interval (or `rate: gauge`) → gauge of the
 *   per-second value.
 * - distribution points (`/api/v1/distribution_points`, raw samples per
 *   point) → one delta histogram point per `[ts, [values]]`: exponential
 *   (base-2, scale chosen so the samples fit in `max_buckets`, at most
 *   `max_scale`) or, with `explicit_bounds`, explicit buckets; count, sum,
 *   min and max exact.
 * - tags `key:value` (split at the first colon) → point attributes (string
 *   values); a tag without a colon → the attribute with the empty string
 *   (as the statsd receiver does, and what the datadog store writes back as
 *   the bare tag); a repeated key keeps its first value (the others counted
 *   as `duplicate_tag`); v1 `device` → attribute `device`.
 * - `host` (v1) or a v2 resource of type `host` → resource attribute
 *   `host.name`; other v2 resources → resource attribute `<type>` = name.
 * - `unit` (v2) → the metric's unit. `source_type_name` is not kept.
 *
 * Invalid series or points are rejected one by one, counted by reason, with
 * the first few messages (key paths like `series[3].points[0][1]`) for the
 * answer; the rest of the batch is unharmed.
 */
import { setAttr } from '../../src/model/attributes.js';
import {
  emptyResource,
  Temporality,
  type Attributes,
  type ExponentialHistogramDataPoint,
  type ExponentialHistogramMetric,
  type GaugeMetric,
  type HistogramDataPoint,
  type HistogramMetric,
  type Metric,
  type MetricsBatch,
  type NumberDataPoint,
  type ResourceMetrics,
  type SumMetric,
} from '../../src/model/metrics.js';

export type DdType = 'unspecified' | 'count' | 'rate' | 'gauge' | 'distribution' | string;

/** One series of any of the three bodies, decoded but not yet checked. */
export interface DdSeries {
  metric: unknown;
  type: DdType;
  interval: unknown;
  host: unknown;
  tags: unknown;
  unit: unknown;
  device?: unknown;
  resources?: Array<{ type: string; name: string }>;
  points: unknown;
  /** pair: `[ts, value]` (v1, protobuf); object: `{timestamp, value}` (v2 JSON); dist: `[ts, [values]]` */
  shape: 'pair' | 'object' | 'dist';
}

export const REJECT_REASONS = [
  'bad_series',
  'missing_metric',
  'bad_type',
  'bad_interval',
  'bad_host',
  'bad_tags',
  'too_many_tags',
  'bad_points',
  'bad_timestamp',
  'bad_value',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface MapOptions {
  rateAs: 'count' | 'gauge';
  maxTags: number;
  distributions: { explicitBounds: number[]; maxScale: number; maxBuckets: number };
  /** arrival time, ns: the time of a point sent with timestamp 0 (v2 "now") */
  nowNs: bigint;
}

export interface MapResult {
  batch: MetricsBatch;
  points: number;
  rejected: number;
  byReason: Partial<Record<RejectReason, number>>;
  /** at most MAX_MESSAGES, each naming its key path */
  errors: string[];
  duplicateTags: number;
}

/** The longest `interval` a series may have, in seconds (10 years). */
const MAX_INTERVAL_S = 315_360_000;

const MAX_MESSAGES = 10;
/** seconds; a larger timestamp is taken for milliseconds and refused */
const MAX_TS = 1e11;
const NS = 1_000_000_000n;
const SCOPE = { name: 'metricport/datadog', version: '', attributes: {}, droppedAttributesCount: 0 };

/** a series' key path for messages: as given, or `series[i]` for its index (formatted only when a message needs it) */
type Where = string | number;
function where(at: Where): string {
  return typeof at === 'number' ? `series[${at}]` : at;
}

function tsNanos(ts: number): bigint {
  return Number.isInteger(ts) ? BigInt(ts) * NS : BigInt(Math.round(ts * 1e6)) * 1000n;
}

/**
 * Tags split once: `"key:value"` → [key, value] (split at the first colon),
 * `"key"` → [key, ""]. The same tags come in every request; reusing the key
 * string also spares V8 internalising a fresh slice at every property store
 * (most of the mapping's time otherwise). Bounded: cleared when full.
 */
const TAG_CACHE_MAX = 65_536;
const tagCache = new Map<string, [string, string]>();

function splitTag(t: string): [string, string] {
  let kv = tagCache.get(t);
  if (kv !== undefined) return kv;
  const c = t.indexOf(':');
  kv = c < 0 ? [t, ''] : [t.slice(0, c), t.slice(c + 1)];
  if (tagCache.size >= TAG_CACHE_MAX) tagCache.clear();
  tagCache.set(t, kv);
  return kv;
}

/** `tag` into `attrs` (split at the first colon; an empty key skipped): true when its key was there already (the first value kept) */
function addTag(attrs: Attributes, tag: string): boolean {
  const kv = splitTag(tag);
  const k = kv[0];
  if (k === '') return false;
  // own keys hold strings: undefined means absent, except inherited names (toString...) checked the slow way
  if (attrs[k] !== undefined && Object.prototype.hasOwnProperty.call(attrs, k)) return true;
  if (k === '__proto__') setAttr(attrs, k, kv[1]);
  else attrs[k] = kv[1];
  return false;
}

/**
 * Tag sets, cached as a trie: the node reached by a series' tags, in their
 * order, holds the attributes they make (a template: a series gets a copy)
 * and how many of them were duplicates. A client sends the same tag sets in
 * every request, so a series' attributes cost a lookup per tag and one copy
 * instead of a split, a keyed load and a keyed store per tag. Bounded: sets
 * of at most TAG_TRIE_MAX_DEPTH tags, at most TAG_TRIE_MAX_NODES nodes (the
 * trie is dropped when full), at most TAG_TRIE_MAX_CHILDREN children a node
 * (a tag with ever new values, an id, would only churn it: the sets past
 * that are built the plain way).
 */
const TAG_TRIE_MAX_DEPTH = 32;
const TAG_TRIE_MAX_NODES = 16_384;
const TAG_TRIE_MAX_CHILDREN = 256;

class TagNode {
  children: Map<string, TagNode> | undefined;
  /** the child last looked up (a decoder hands out the same string object for the same bytes: compared by reference first) */
  lastTag: string | undefined;
  lastChild: TagNode | undefined;
  constructor(
    readonly attrs: Attributes,
    readonly dups: number,
  ) {}
}

let tagRoot = new TagNode({}, 0);
let tagNodes = 0;

/** the node of `tags` (at most TAG_TRIE_MAX_DEPTH); undefined when one is not a string or the set is not cached */
function tagNode(tags: unknown[]): TagNode | undefined {
  let node = tagRoot;
  for (let i = 0; i < tags.length; i++) {
    const t = tags[i];
    if (typeof t !== 'string') return undefined;
    let next = node.lastTag === t ? node.lastChild : node.children?.get(t);
    if (next === undefined) {
      // a tag with ever new values (an id): not cached past TAG_TRIE_MAX_CHILDREN of them, built the plain way
      if (node.children !== undefined && node.children.size >= TAG_TRIE_MAX_CHILDREN) return undefined;
      const attrs = { ...node.attrs };
      const dup = addTag(attrs, t);
      next = new TagNode(attrs, dup ? node.dups + 1 : node.dups);
      if (tagNodes >= TAG_TRIE_MAX_NODES) {
        // dropped; the nodes of this walk stay valid for it
        tagRoot = new TagNode({}, 0);
        tagNodes = 0;
      }
      (node.children ??= new Map()).set(t, next);
      tagNodes++;
    }
    node.lastTag = t;
    node.lastChild = next;
    node = next;
  }
  return node;
}

/** for tests: the tag caches' sizes and bounds */
export function tagCacheStats(): { splits: number; splitsMax: number; nodes: number; nodesMax: number; maxDepth: number; maxChildren: number } {
  return {
    splits: tagCache.size,
    splitsMax: TAG_CACHE_MAX,
    nodes: tagNodes,
    nodesMax: TAG_TRIE_MAX_NODES,
    maxDepth: TAG_TRIE_MAX_DEPTH,
    maxChildren: TAG_TRIE_MAX_CHILDREN,
  };
}

/** the metrics of one name: gauge, monotonic and non-monotonic sum without a unit in fields; the others by kind tag (+ unit) */
class ByName {
  g: GaugeMetric | undefined = undefined;
  m: SumMetric | undefined = undefined;
  s: SumMetric | undefined = undefined;
  other: Record<string, Metric> | undefined = undefined;
}

/** a resource's metrics: by name (the string the body carried, hashed once), then by kind tag (+ unit when set) */
interface ResourceSlot {
  rm: ResourceMetrics;
  metrics: Map<string, ByName>;
}

class Builder {
  readonly resources = new Map<string, ResourceSlot>();
  readonly out: ResourceMetrics[] = [];

  slot(host: string | undefined, extra: Array<{ type: string; name: string }> | undefined): ResourceSlot {
    let key = host ?? '';
    if (extra !== undefined) for (const r of extra) key += `\x00${r.type}=${r.name}`;
    let s = this.resources.get(key);
    if (s === undefined) {
      const resource = emptyResource();
      if (host !== undefined && host !== '') resource.attributes['host.name'] = host;
      if (extra !== undefined) for (const r of extra) setAttr(resource.attributes, r.type, r.name);
      const rm: ResourceMetrics = { resource, scopeMetrics: [{ scope: { ...SCOPE, attributes: {} }, metrics: [], schemaUrl: '' }], schemaUrl: '' };
      s = { rm, metrics: new Map() };
      this.resources.set(key, s);
      this.out.push(rm);
    }
    return s;
  }

  byName(slot: ResourceSlot, name: string): ByName {
    let b = slot.metrics.get(name);
    if (b === undefined) {
      b = new ByName();
      slot.metrics.set(name, b);
    }
    return b;
  }

  /** the metric of `kind` (g, m, s, h, e) and `unit` under `name`, made on first use */
  metric<M extends Metric>(slot: ResourceSlot, kind: string, name: string, unit: string, make: () => M): M {
    const b = this.byName(slot, name);
    const byKind = (b.other ??= {});
    const key = unit === '' ? kind : `${kind}\x00${unit}`;
    let m = byKind[key];
    if (m === undefined) {
      m = make();
      byKind[key] = m;
      (slot.rm.scopeMetrics[0] as { metrics: Metric[] }).metrics.push(m);
    }
    return m as M;
  }

  /** the common cases without a unit: a field each, no closure */
  gauge(slot: ResourceSlot, name: string): GaugeMetric {
    const b = this.byName(slot, name);
    let m = b.g;
    if (m === undefined) {
      m = { kind: 'gauge', name, description: '', unit: '', points: [] };
      b.g = m;
      (slot.rm.scopeMetrics[0] as { metrics: Metric[] }).metrics.push(m);
    }
    return m;
  }

  sum(slot: ResourceSlot, name: string, mono: boolean): SumMetric {
    const b = this.byName(slot, name);
    let m = mono ? b.m : b.s;
    if (m === undefined) {
      m = { kind: 'sum', name, description: '', unit: '', temporality: Temporality.Delta, isMonotonic: mono, points: [] };
      if (mono) b.m = m;
      else b.s = m;
      (slot.rm.scopeMetrics[0] as { metrics: Metric[] }).metrics.push(m);
    }
    return m;
  }
}

export class SeriesMapper {
  private readonly b = new Builder();
  private readonly r: MapResult;

  constructor(private readonly o: MapOptions) {
    this.r = { batch: { resourceMetrics: this.b.out }, points: 0, rejected: 0, byReason: {}, errors: [], duplicateTags: 0 };
  }

  result(): MapResult {
    return this.r;
  }

  reject(n: number, reason: RejectReason, message: string): void {
    this.r.rejected += n;
    this.r.byReason[reason] = (this.r.byReason[reason] ?? 0) + n;
    if (this.r.errors.length < MAX_MESSAGES) this.r.errors.push(message);
  }

  /** Map one series (`at`: its key path, e.g. `series[3]`, or its index i for `series[i]`). */
  add(s: DdSeries, at: Where): void {
    const pts = s.points;
    const npts = Array.isArray(pts) ? Math.max(1, pts.length) : 1;
    if (typeof s.metric !== 'string' || s.metric === '') {
      this.reject(npts, 'missing_metric', `${where(at)}.metric: must be a non-empty string`);
      return;
    }
    if (!Array.isArray(pts) || pts.length === 0) {
      this.reject(npts, 'bad_points', `${where(at)}.points: must be a non-empty array`);
      return;
    }
    let interval = 0;
    if (s.interval !== undefined && s.interval !== null) {
      if (typeof s.interval !== 'number' || !Number.isFinite(s.interval) || s.interval < 0) {
        this.reject(npts, 'bad_interval', `${where(at)}.interval: must be a number of seconds ≥ 0`);
        return;
      }
      if (s.interval > MAX_INTERVAL_S) {
        // beyond this the window's start is meaningless (and × 1e9 overflows past 1.8e299)
        this.reject(npts, 'bad_interval', `${where(at)}.interval: ${s.interval} s is longer than ${MAX_INTERVAL_S} s (10 years)`);
        return;
      }
      interval = s.interval;
    }
    let host: string | undefined;
    if (s.host !== undefined && s.host !== null) {
      if (typeof s.host !== 'string') {
        this.reject(npts, 'bad_host', `${where(at)}.host: must be a string`);
        return;
      }
      host = s.host;
    }
    let resources = s.resources;
    if (resources !== undefined) {
      let other: Array<{ type: string; name: string }> | undefined;
      for (const r of resources) {
        if (r.type === 'host') host = r.name;
        else if (r.type !== '') (other ??= []).push(r);
      }
      resources = other;
    }
    let attrs: Attributes;
    const tags = s.tags;
    if (tags !== undefined && tags !== null) {
      if (!Array.isArray(tags)) {
        this.reject(npts, 'bad_tags', `${where(at)}.tags: must be an array of strings`);
        return;
      }
      if (tags.length > this.o.maxTags) {
        this.reject(npts, 'too_many_tags', `${where(at)}.tags: ${tags.length} tags, more than max_tags_per_series (${this.o.maxTags})`);
        return;
      }
      const node = tags.length <= TAG_TRIE_MAX_DEPTH ? tagNode(tags as unknown[]) : undefined;
      if (node !== undefined) {
        this.r.duplicateTags += node.dups;
        attrs = { ...node.attrs };
      } else {
        attrs = {};
        for (let i = 0; i < tags.length; i++) {
          const t: unknown = tags[i];
          if (typeof t !== 'string') {
            this.reject(npts, 'bad_tags', `${where(at)}.tags[${i}]: must be a string`);
            return;
          }
          if (addTag(attrs, t)) this.r.duplicateTags++;
        }
      }
    } else attrs = {};
    if (typeof s.device === 'string' && s.device !== '' && !Object.prototype.hasOwnProperty.call(attrs, 'device')) attrs.device = s.device;
    const unit = typeof s.unit === 'string' ? s.unit : '';

    const slot = this.b.slot(host, resources);
    const name = s.metric;
    if (s.shape === 'dist') {
      this.distribution(slot, name, unit, pts, attrs, at);
      return;
    }

    let kind: 'gauge' | 'count' | 'rate-count';
    switch (s.type) {
      case 'gauge':
      case 'unspecified':
        kind = 'gauge';
        break;
      case 'count':
        kind = 'count';
        break;
      case 'rate':
        kind = this.o.rateAs === 'count' && interval > 0 ? 'rate-count' : 'gauge';
        break;
      default:
        this.reject(
          npts,
          'bad_type',
          `${where(at)}.type: ${JSON.stringify(s.type)} is not one of ${s.shape === 'object' ? '0 (unspecified), 1 (count), 2 (rate), 3 (gauge)' : 'gauge, count, rate'}`,
        );
        return;
    }

    // check the points first: the monotonic flag depends on all of them
    // (one point per series is the common case: no arrays then)
    const n = pts.length;
    let t0: bigint | undefined;
    let v0 = 0;
    let times: bigint[] | undefined;
    let values: number[] | undefined;
    let negative = false;
    const obj = s.shape === 'object';
    for (let i = 0; i < n; i++) {
      const p = pts[i];
      let ts: unknown;
      let v: unknown;
      if (obj) {
        if (p === null || typeof p !== 'object' || Array.isArray(p)) {
          this.reject(1, 'bad_points', `${where(at)}.points[${i}]: must be an object {timestamp, value}`);
          continue;
        }
        ts = (p as { timestamp?: unknown }).timestamp;
        v = (p as { value?: unknown }).value;
      } else {
        if (!Array.isArray(p) || p.length < 2) {
          this.reject(1, 'bad_points', `${where(at)}.points[${i}]: must be a [timestamp, value] pair`);
          continue;
        }
        ts = p[0];
        v = p[1];
      }
      const t = this.time(ts, at, i, obj ? '.timestamp' : '[0]');
      if (t === undefined) continue;
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        this.reject(1, 'bad_value', `${where(at)}.points[${i}]${obj ? '.value' : '[1]'}: must be a finite number`);
        continue;
      }
      if (v < 0) negative = true;
      const value = kind === 'rate-count' ? v * interval : v;
      if (t0 === undefined) {
        t0 = t;
        v0 = value;
        continue;
      }
      if (times === undefined) {
        times = [t0];
        values = [v0];
      }
      times.push(t);
      (values as number[]).push(value);
    }
    if (t0 === undefined) return;
    const count = times === undefined ? 1 : times.length;
    this.r.points += count;
    if (kind === 'gauge') {
      const m =
        unit === ''
          ? this.b.gauge(slot, name)
          : this.b.metric<GaugeMetric>(slot, 'g', name, unit, () => ({ kind: 'gauge', name, description: '', unit, points: [] }));
      if (times === undefined) {
        m.points.push({ attributes: attrs, startTimeUnixNano: 0n, timeUnixNano: t0, flags: 0, value: v0 });
        return;
      }
      for (let i = 0; i < count; i++) {
        m.points.push({
          attributes: i === 0 ? attrs : { ...attrs },
          startTimeUnixNano: 0n,
          timeUnixNano: times[i] as bigint,
          flags: 0,
          value: (values as number[])[i] as number,
        });
      }
      return;
    }
    const startOffset = this.offset(interval);
    const mono = !negative;
    const m =
      unit === ''
        ? this.b.sum(slot, name, mono)
        : this.b.metric<SumMetric>(slot, mono ? 'm' : 's', name, unit, () => ({
            kind: 'sum',
            name,
            description: '',
            unit,
            temporality: Temporality.Delta,
            isMonotonic: mono,
            points: [],
          }));
    if (times === undefined) {
      m.points.push({ attributes: attrs, startTimeUnixNano: t0 - startOffset, timeUnixNano: t0, flags: 0, value: v0 });
      return;
    }
    for (let i = 0; i < count; i++) {
      const t = times[i] as bigint;
      const p: NumberDataPoint = {
        attributes: i === 0 ? attrs : { ...attrs },
        startTimeUnixNano: t - startOffset,
        timeUnixNano: t,
        flags: 0,
        value: (values as number[])[i] as number,
      };
      m.points.push(p);
    }
  }

  private lastInterval = -1;
  private lastOffset = 0n;

  /** interval seconds → ns (the last one memoised: a request's series mostly share it) */
  private offset(interval: number): bigint {
    if (interval !== this.lastInterval) {
      this.lastInterval = interval;
      this.lastOffset = BigInt(Math.round(interval * 1e9));
    }
    return this.lastOffset;
  }

  private lastTs = -1;
  private lastNs = 0n;

  /** a timestamp in seconds → ns; 0 = now; undefined (rejected) when not a plausible number of seconds */
  private time(ts: unknown, at: Where, i: number, suffix: string): bigint | undefined {
    if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) {
      this.reject(1, 'bad_timestamp', `${where(at)}.points[${i}]${suffix}: must be a number of seconds since the Unix epoch`);
      return undefined;
    }
    if (ts > MAX_TS) {
      this.reject(1, 'bad_timestamp', `${where(at)}.points[${i}]${suffix}: ${ts} is too large for seconds since the Unix epoch (milliseconds?)`);
      return undefined;
    }
    if (ts === 0) return this.o.nowNs;
    // the points of one request mostly share their timestamp: the last conversion is memoised
    if (ts !== this.lastTs) {
      this.lastTs = ts;
      this.lastNs = tsNanos(ts);
    }
    return this.lastNs;
  }

  private distribution(slot: ResourceSlot, name: string, unit: string, pts: unknown[], attrs: Attributes, at: Where): void {
    const explicit = this.o.distributions.explicitBounds.length > 0;
    let first = true;
    for (let i = 0; i < pts.length; i++) {
      const p = pts[i];
      if (!Array.isArray(p) || p.length < 2 || !Array.isArray(p[1])) {
        this.reject(1, 'bad_points', `${where(at)}.points[${i}]: must be a [timestamp, [values...]] pair`);
        continue;
      }
      const t = this.time(p[0], at, i, '[0]');
      if (t === undefined) continue;
      const vs = p[1] as unknown[];
      let bad = -1;
      for (let j = 0; j < vs.length; j++) {
        const v = vs[j];
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          bad = j;
          break;
        }
      }
      if (bad >= 0) {
        this.reject(1, 'bad_value', `${where(at)}.points[${i}][1][${bad}]: must be a finite number`);
        continue;
      }
      if (vs.length === 0) {
        this.reject(1, 'bad_value', `${where(at)}.points[${i}][1]: no values`);
        continue;
      }
      const a = first ? attrs : { ...attrs };
      first = false;
      this.r.points++;
      if (explicit) {
        const m = this.b.metric<HistogramMetric>(slot, 'h', name, unit, () => ({
          kind: 'histogram',
          name,
          description: '',
          unit,
          temporality: Temporality.Delta,
          points: [],
        }));
        m.points.push(explicitPoint(vs as number[], this.o.distributions.explicitBounds, a, t));
      } else {
        const m = this.b.metric<ExponentialHistogramMetric>(slot, 'e', name, unit, () => ({
          kind: 'exponentialHistogram',
          name,
          description: '',
          unit,
          temporality: Temporality.Delta,
          points: [],
        }));
        m.points.push(exponentialPoint(vs as number[], this.o.distributions.maxScale, this.o.distributions.maxBuckets, a, t));
      }
    }
  }
}

function stats(vs: number[]): { sum: number; min: number; max: number } {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of vs) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { sum, min, max };
}

/** raw samples → an explicit-bucket point: bucket i counts bounds[i−1] < v ≤ bounds[i] (the last one v > every bound) */
export function explicitPoint(vs: number[], bounds: number[], attributes: Attributes, t: bigint): HistogramDataPoint {
  const counts = new Array<number>(bounds.length + 1).fill(0);
  for (const v of vs) {
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (v <= (bounds[mid] as number)) hi = mid;
      else lo = mid + 1;
    }
    counts[lo] = (counts[lo] as number) + 1;
  }
  const { sum, min, max } = stats(vs);
  return { attributes, startTimeUnixNano: t, timeUnixNano: t, flags: 0, count: vs.length, sum, bucketCounts: counts, explicitBounds: bounds.slice(), min, max };
}

/** the bucket index of |v| > 0 at `scale`: bucket i holds (base^i, base^(i+1)], base = 2^(2^−scale) */
export function expIndex(a: number, scale: number): number {
  return Math.ceil(Math.log2(a) * 2 ** scale) - 1;
}

/**
 * raw samples → a base-2 exponential point: indexes at `maxScale`, then the
 * scale lowered (index >> 1 per step) until each sign's buckets span at most
 * `maxBuckets`; zeros in the zero bucket (threshold 0).
 */
export function exponentialPoint(vs: number[], maxScale: number, maxBuckets: number, attributes: Attributes, t: bigint): ExponentialHistogramDataPoint {
  const pos: number[] = [];
  const neg: number[] = [];
  let zero = 0;
  for (const v of vs) {
    if (v > 0) pos.push(expIndex(v, maxScale));
    else if (v < 0) neg.push(expIndex(-v, maxScale));
    else zero++;
  }
  const range = (ix: number[]): [number, number] => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const i of ix) {
      if (i < lo) lo = i;
      if (i > hi) hi = i;
    }
    return [lo, hi];
  };
  const [plo, phi] = range(pos);
  const [nlo, nhi] = range(neg);
  let d = 0;
  const fits = (lo: number, hi: number, n: number): boolean => n === 0 || Math.floor(hi / 2 ** d) - Math.floor(lo / 2 ** d) + 1 <= maxBuckets;
  while (maxScale - d > -10 && !(fits(plo, phi, pos.length) && fits(nlo, nhi, neg.length))) d++;
  const buckets = (ix: number[], lo: number, hi: number): { offset: number; bucketCounts: number[] } => {
    if (ix.length === 0) return { offset: 0, bucketCounts: [] };
    const f = 2 ** d;
    const off = Math.floor(lo / f);
    const counts = new Array<number>(Math.floor(hi / f) - off + 1).fill(0);
    for (const i of ix) {
      const k = Math.floor(i / f) - off;
      counts[k] = (counts[k] as number) + 1;
    }
    return { offset: off, bucketCounts: counts };
  };
  const { sum, min, max } = stats(vs);
  return {
    attributes,
    startTimeUnixNano: t,
    timeUnixNano: t,
    flags: 0,
    count: vs.length,
    sum,
    scale: maxScale - d,
    zeroCount: zero,
    zeroThreshold: 0,
    positive: buckets(pos, plo, phi),
    negative: buckets(neg, nlo, nhi),
    min,
    max,
  };
}

/** v1 JSON series (`{"series":[{metric, points: [[ts, v]], type, interval, host, tags, device}]}`); `type` as a name or (leniently) the v2 number */
export function v1Series(o: Record<string, unknown>): DdSeries {
  return {
    metric: o.metric,
    type: v1Type(o.type),
    interval: o.interval,
    host: o.host,
    tags: o.tags,
    unit: undefined,
    device: o.device,
    points: o.points,
    shape: 'pair',
  };
}

/** a type name ("count") or the v2 enum number (1); anything else comes back as written, for the bad_type message */
export function v1Type(t: unknown): DdType {
  if (t === undefined || t === null) return 'unspecified';
  if (typeof t === 'string') return t;
  if (typeof t === 'number') return V2_TYPES[t] ?? String(t);
  return JSON.stringify(t);
}

const V2_TYPES: Record<number, DdType> = { 0: 'unspecified', 1: 'count', 2: 'rate', 3: 'gauge' };

/** v2 JSON series (`{"series":[{metric, type: 0..3, interval, points: [{timestamp, value}], resources, tags, unit}]}`) */
export function v2Series(o: Record<string, unknown>): DdSeries | string {
  let resources: Array<{ type: string; name: string }> | undefined;
  if (o.resources !== undefined && o.resources !== null) {
    if (!Array.isArray(o.resources)) return 'resources: must be an array of {name, type}';
    resources = [];
    for (let i = 0; i < o.resources.length; i++) {
      const r = o.resources[i] as { name?: unknown; type?: unknown } | null;
      if (r === null || typeof r !== 'object' || typeof r.name !== 'string' || typeof r.type !== 'string')
        return `resources[${i}]: must be {name: string, type: string}`;
      resources.push({ type: r.type, name: r.name });
    }
  }
  return {
    metric: o.metric,
    type: v1Type(o.type),
    interval: o.interval,
    host: undefined,
    tags: o.tags,
    unit: o.unit,
    resources,
    points: o.points,
    shape: 'object',
  };
}

/** `/api/v1/distribution_points` series (`{"series":[{metric, points: [[ts, [v...]]], host, tags, type: "distribution"}]}`) */
export function distSeries(o: Record<string, unknown>): DdSeries {
  return { metric: o.metric, type: 'distribution', interval: undefined, host: o.host, tags: o.tags, unit: undefined, points: o.points, shape: 'dist' };
}
