/**
 * Aggregation of StatsD lines per flush window (arrival time, windows aligned
 * to the Unix epoch: [k·P, (k+1)·P)). No I/O: the receiver feeds parsed lines
 * and calls `flush(windowStartMs, windowEndMs)`, which returns a MetricsBatch.
 *
 * Output, `naming: otel` (default):
 *   c      → sum, delta, monotonic: Σ value / rate (a negative increment is refused, counted)
 *   g      → gauge: last value (`+`/`-` adjust it); re-sent every flush while `keep_gauges`
 *   ms/h/d → histogram, delta (explicit bounds, count and sum weighted by 1/rate, min, max)
 *            + one gauge `<name>.p<pct>` per percentile (exact nearest rank while a series
 *            holds ≤ timer_exact_samples samples in the window, then DDSketch at 1 %)
 *   s      → gauge: distinct members in the window (exact, then HyperLogLog)
 *   tags   → point attributes (`k:v` → k="v", `k` → k="")
 * Lines with `|T<unix>` (c and g) are not aggregated: each becomes its own
 * point at that time (as the Datadog Agent does).
 *
 * Output, `naming: etsy`: the names and numbers Etsy statsd's graphite backend
 * writes (legacy namespace), every one a gauge: `stats.<k>` (per-second rate),
 * `stats_counts.<k>`, `stats.timers.<k>.<stat>`, `stats.gauges.<k>`,
 * `stats.sets.<k>.count`; idle counters, timers and sets keep reporting 0 as
 * Etsy does (deleteIdleStats off) until they expire.
 *
 * Memory: at most `max_series` series (lines for new series beyond it are
 * dropped and counted as `series_limit`); a series not updated for
 * `idle_expiry` is forgotten; timers hold at most timer_exact_samples raw
 * values each, then a bounded DDSketch; sets at most 16 KiB each.
 */
import { DDSketch } from '../../src/sketch/ddsketch.js';
import { HyperLogLog } from '../../src/sketch/hll.js';
import { setAttr } from '../../src/model/attributes.js';
import {
  emptyResource,
  Temporality,
  type Attributes,
  type GaugeMetric,
  type HistogramMetric,
  type Metric,
  type MetricsBatch,
  type NumberDataPoint,
  type SumMetric,
} from '../../src/model/metrics.js';
import { attrsFromWire, attrsToWire, partitionOf } from '../../src/fleet/wire.js';
import { etsyPctName, etsySanitize, etsyTimerStats, nearestRank } from './etsy.js';
import { memberHash, parseTags, type MetricType, type ParsedLine } from './parser.js';

export interface EtsyNaming {
  global_prefix: string;
  counts_prefix: string;
  timers_prefix: string;
  gauges_prefix: string;
  sets_prefix: string;
  percent_threshold: number[];
  send_idle_stats: boolean;
  sanitize_names: boolean;
}

export interface AggregatorOptions {
  flushIntervalMs: number;
  naming: 'otel' | 'etsy';
  percentiles: number[];
  histogramBuckets: number[];
  keepGauges: boolean;
  idleExpiryMs: number;
  maxSeries: number;
  timerExactSamples: number;
  relativeAccuracy: number;
  etsy: EtsyNaming;
}

export type DropReason = 'series_limit' | 'negative_counter' | 'timestamp_limit';

const SCOPE = { name: 'metricport/statsd', version: '', attributes: {}, droppedAttributesCount: 0 };
const NS = 1_000_000n;

class Series {
  /** window index of the last update */
  last = -1;
  /** updated in the current window */
  dirty = false;
  // counter
  sum = 0;
  // gauge
  value = 0;
  hasValue = false;
  /** arrival time (ms) of the gauge's last value: between replicas (scope cluster) the latest wins */
  gaugeAt = 0;
  // timer / histogram / distribution
  n = 0;
  wcount = 0;
  tsum = 0;
  wsum = 0;
  min = Infinity;
  max = -Infinity;
  samples: Float64Array | undefined;
  sketch: DDSketch | undefined;
  buckets: Float64Array | undefined;
  // set
  set: HyperLogLog | undefined;
  constructor(
    readonly name: string,
    readonly type: MetricType,
    readonly attrs: Attributes,
    readonly canon: string,
  ) {}
}

/**
 * The spellings (name, type, tag list as written) seen so far, found from a
 * parsed line without decoding a string or hashing one in a Map per line:
 * open addressing on the hash the parser computed while scanning, then a
 * byte comparison of name and tags against the packet. Keys live in one byte
 * arena (name then tags); a slot holds the entry and its hash side by side,
 * and an entry's offset and lengths are adjacent too, so a lookup touches a
 * few cache lines rather than one typed array per field (the receiver meets
 * them cold: each datagram comes after Node's own per-datagram work).
 */
class SpellingTable {
  /** per slot: [entry + 1 (0 = empty), hash] */
  private slots = new Int32Array(2048);
  private mask = 1023;
  private arena = new Uint8Array(16384);
  private used = 0;
  /** per entry: [hash, arena offset, name length, tags length] (the tags follow the name in the arena) */
  private meta = new Int32Array(2048);
  series: Series[] = [];

  get size(): number {
    return this.series.length;
  }

  find(l: ParsedLine): Series | undefined {
    const h = l.hash;
    const slots = this.slots;
    const mask = this.mask;
    const meta = this.meta;
    const src = l.bytes;
    const ns = l.nameStart;
    const nl = l.nameEnd - ns;
    const ts = l.tagsStart;
    const tl = l.tagsEnd - ts;
    const arena = this.arena;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const at = slots[2 * i] as number;
      if (at === 0) return undefined;
      if (slots[2 * i + 1] !== h) continue;
      const m = 4 * (at - 1);
      if (meta[m + 2] !== nl || meta[m + 3] !== tl) continue;
      const o = meta[m + 1] as number;
      let n = 0;
      while (n < nl && arena[o + n] === src[ns + n]) n++;
      if (n !== nl) continue;
      const ot = o + nl;
      n = 0;
      while (n < tl && arena[ot + n] === src[ts + n]) n++;
      if (n !== tl) continue;
      const s = this.series[at - 1] as Series;
      if (s.type === l.type) return s;
    }
  }

  add(l: ParsedLine, series: Series): void {
    this.push(l.hash, l.bytes, l.nameStart, l.nameEnd - l.nameStart, l.tagsStart, l.tagsEnd - l.tagsStart, series);
    if (this.series.length * 2 > this.mask + 1) this.reindex();
    else this.place(this.series.length - 1);
  }

  private push(h: number, src: Uint8Array, ns: number, nl: number, ts: number, tl: number, series: Series): void {
    const k = this.series.length;
    if (4 * k + 4 > this.meta.length) {
      const y = new Int32Array(this.meta.length * 2);
      y.set(this.meta);
      this.meta = y;
    }
    if (this.used + nl + tl > this.arena.length) {
      let size = this.arena.length * 2;
      while (size < this.used + nl + tl) size *= 2;
      const a = new Uint8Array(size);
      a.set(this.arena.subarray(0, this.used));
      this.arena = a;
    }
    const m = 4 * k;
    this.meta[m] = h;
    this.meta[m + 1] = this.used;
    this.meta[m + 2] = nl;
    this.meta[m + 3] = tl;
    this.arena.set(src.subarray(ns, ns + nl), this.used);
    this.used += nl;
    this.arena.set(src.subarray(ts, ts + tl), this.used);
    this.used += tl;
    this.series[k] = series;
  }

  /** Keep only the spellings whose series `keep` accepts (after expiry); the arena is compacted. */
  retain(keep: (s: Series) => boolean): void {
    const old = { arena: this.arena, meta: this.meta, series: this.series };
    this.arena = new Uint8Array(Math.max(16384, this.used));
    this.used = 0;
    this.meta = new Int32Array(Math.max(2048, old.meta.length));
    this.series = [];
    for (let k = 0; k < old.series.length; k++) {
      const s = old.series[k] as Series;
      if (!keep(s)) continue;
      const m = 4 * k;
      const off = old.meta[m + 1] as number;
      const nl = old.meta[m + 2] as number;
      this.push(old.meta[m] as number, old.arena, off, nl, off + nl, old.meta[m + 3] as number, s);
    }
    this.reindex();
  }

  private reindex(): void {
    let size = 1024;
    while (size < this.series.length * 2 + 2) size *= 2;
    this.slots = new Int32Array(2 * size);
    this.mask = size - 1;
    for (let k = 0; k < this.series.length; k++) this.place(k);
  }

  private place(k: number): void {
    const mask = this.mask;
    const h = this.meta[4 * k] as number;
    let i = h & mask;
    while (this.slots[2 * i] !== 0) i = (i + 1) & mask;
    this.slots[2 * i] = k + 1;
    this.slots[2 * i + 1] = h;
  }
}

interface Stamped {
  series: Series;
  value: number;
  timeMs: number;
}

function attrsOf(tags: string): { attrs: Attributes; canon: string } {
  const pairs = parseTags(tags);
  if (pairs.length > 1) pairs.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0));
  const attrs: Attributes = {};
  let canon = '';
  for (const [k, v] of pairs) {
    setAttr(attrs, k, v);
    canon += k + ':' + v + ',';
  }
  return { attrs, canon };
}

export class Aggregator {
  /** by (name, type, tags) as written: no key string to build per line */
  private readonly spellings = new SpellingTable();
  /** by canonical key (tags sorted): two spellings of one tag set are one series */
  private readonly byCanon = new Map<string, Series>();
  private stamped: Stamped[] = [];
  private window = 0;
  readonly dropped: Record<DropReason, number> = { series_limit: 0, negative_counter: 0, timestamp_limit: 0 };
  /** samples (values) taken into the aggregates */
  samples = 0;

  constructor(private readonly o: AggregatorOptions) {}

  get seriesCount(): number {
    return this.byCanon.size;
  }

  /** Take a parsed line. `nowMs` decides the window; returns false when dropped (counted). */
  add(l: ParsedLine, nowMs: number): boolean {
    const type = l.type;
    let s = this.spellings.find(l);
    if (s === undefined) {
      s = this.lookup(l);
      if (s === undefined) {
        this.dropped.series_limit++;
        return false;
      }
    }
    const w = this.window;
    if (s.last !== w) {
      s.last = w;
    }
    const rate = l.sampleRate;
    const values = l.values;
    const cnt = l.count;
    if (l.timestamp !== 0 && (type === 'c' || type === 'g')) return this.addStamped(s, l, nowMs);
    switch (type) {
      case 'c': {
        let add = 0;
        for (let i = 0; i < cnt; i++) {
          const v = values[i] as number;
          if (v < 0 && this.o.naming === 'otel') {
            this.dropped.negative_counter++;
            continue;
          }
          add += v / rate;
          this.samples++;
        }
        s.sum += add;
        s.dirty = true;
        return true;
      }
      case 'g': {
        const d = l.deltas;
        for (let i = 0; i < cnt; i++) {
          const v = values[i] as number;
          s.value = d[i] && s.hasValue ? s.value + v : v;
          s.hasValue = true;
        }
        s.gaugeAt = nowMs;
        this.samples += cnt;
        s.dirty = true;
        return true;
      }
      case 's': {
        let set = s.set;
        if (set === undefined) {
          set = new HyperLogLog();
          s.set = set;
        }
        for (let i = 0; i < cnt; i++) set.addHash(memberHash(l, i));
        this.samples += cnt;
        s.dirty = true;
        return true;
      }
      default: {
        const weight = 1 / rate;
        for (let i = 0; i < cnt; i++) this.observe(s, values[i] as number, weight);
        this.samples += cnt;
        s.dirty = true;
        return true;
      }
    }
  }

  private addStamped(s: Series, l: ParsedLine, nowMs: number): boolean {
    if (this.stamped.length + l.count > this.o.maxSeries) {
      this.dropped.timestamp_limit += l.count;
      return false;
    }
    let t = l.timestamp * 1000;
    // from the future beyond one period: taken as now
    if (t > nowMs + this.o.flushIntervalMs) t = nowMs;
    for (let i = 0; i < l.count; i++) {
      const v = l.values[i] as number;
      if (l.type === 'c' && v < 0 && this.o.naming === 'otel') {
        this.dropped.negative_counter++;
        continue;
      }
      this.stamped.push({ series: s, value: l.type === 'c' ? v / l.sampleRate : v, timeMs: t });
      this.samples++;
    }
    return true;
  }

  private observe(s: Series, v: number, weight: number): void {
    s.n++;
    s.wcount += weight;
    s.tsum += v;
    s.wsum += v * weight;
    if (v < s.min) s.min = v;
    if (v > s.max) s.max = v;
    const sk = s.sketch;
    if (sk !== undefined) {
      sk.add(v, weight);
    } else {
      let buf = s.samples;
      const cap = this.o.timerExactSamples;
      if (s.n > cap) {
        const nsk = new DDSketch({ relativeAccuracy: this.o.relativeAccuracy });
        if (buf !== undefined) for (let i = 0; i < s.n - 1; i++) nsk.add(buf[i] as number, 1);
        nsk.add(v, weight);
        s.sketch = nsk;
        s.samples = undefined;
      } else {
        if (buf === undefined || buf.length < s.n) {
          const nb = new Float64Array(Math.min(cap, Math.max(16, (buf?.length ?? 0) * 2)));
          if (buf !== undefined) nb.set(buf);
          buf = nb;
          s.samples = buf;
        }
        buf[s.n - 1] = v;
      }
    }
    if (this.o.naming === 'otel') {
      const bounds = this.o.histogramBuckets;
      let b = s.buckets;
      if (b === undefined) {
        b = new Float64Array(bounds.length + 1);
        s.buckets = b;
      }
      let i = 0;
      while (i < bounds.length && v > (bounds[i] as number)) i++;
      b[i] = (b[i] as number) + weight;
    }
  }

  private lookup(l: ParsedLine): Series | undefined {
    const name = l.name;
    const tags = l.tags;
    const { attrs, canon } = attrsOf(tags);
    const ckey = l.type + '\x00' + name + '\x00' + canon;
    let s = this.byCanon.get(ckey);
    if (s === undefined) {
      if (this.byCanon.size >= this.o.maxSeries) return undefined;
      s = new Series(name, l.type, attrs, ckey);
      this.byCanon.set(ckey, s);
    }
    // spellings of known series are bounded too
    if (this.spellings.size < 2 * this.o.maxSeries) this.spellings.add(l, s);
    return s;
  }

  /**
   * Close the current window [startMs, endMs) and return its metrics, then
   * reset per-window state and expire idle series.
   */
  flush(startMs: number, endMs: number): MetricsBatch {
    const metrics = this.o.naming === 'etsy' ? this.emitEtsy(startMs, endMs) : this.emitOtel(startMs, endMs);
    return this.endWindow(metrics);
  }

  /** series emitted by emitOtel/emitEtsy: none while closing a window as partials (only the |T points stay local) */
  private skipSeries = false;

  /**
   * Scope cluster: close the window as mergeable partials, one entry per
   * series that would have been emitted, by partition (a hash of type, name
   * and tags), and the points of lines with their own timestamp (`|T`), which
   * stay local (each was sent to one replica). Resets the window as flush does.
   */
  flushPartials(startMs: number, endMs: number, partitions: number): { entries: string[][]; local: MetricsBatch } {
    const entries: string[][] = Array.from({ length: partitions }, () => []);
    const etsy = this.o.naming === 'etsy';
    const idle = etsy && this.o.etsy.send_idle_stats;
    for (const s of this.byCanon.values()) {
      let send: boolean;
      if (s.type === 'g') send = s.hasValue && (s.dirty || this.o.keepGauges);
      else if (s.type === 's') send = (s.dirty && s.set !== undefined) || idle;
      else if (s.type === 'c') send = s.dirty || idle;
      else send = (s.dirty && s.n > 0) || idle;
      if (send) {
        const row = [
          s.type,
          s.name,
          s.canon,
          attrsToWire(s.attrs),
          s.sum,
          s.value,
          s.hasValue ? 1 : 0,
          s.gaugeAt,
          s.n,
          s.wcount,
          s.tsum,
          s.wsum,
          s.n > 0 ? s.min : 0,
          s.n > 0 ? s.max : 0,
          s.samples !== undefined ? Array.from(s.samples.subarray(0, s.n)) : null,
          s.sketch !== undefined ? s.sketch.toJSON() : null,
          s.buckets !== undefined ? Array.from(s.buckets) : null,
          s.set !== undefined ? s.set.toJSON() : null,
        ];
        entries[partitionOf(partitions, 'statsd', s.type + s.name, s.canon)]!.push(JSON.stringify(row));
      }
      if (s.type !== 'g') this.reset(s);
      else s.dirty = false;
    }
    this.skipSeries = true;
    try {
      const metrics = etsy ? this.emitEtsy(startMs, endMs) : this.emitOtel(startMs, endMs);
      return { entries, local: this.endWindow(metrics) };
    } finally {
      this.skipSeries = false;
    }
  }

  /**
   * The owner's side: merge one replica's entries into this (per-window)
   * aggregator; `flush` then builds the window as one instance would have.
   * Throws naming the entry when one cannot be read.
   */
  mergePartial(entries: readonly unknown[]): void {
    entries.forEach((raw, ei) => {
      if (!Array.isArray(raw) || raw.length !== 18) throw new Error(`entry ${ei}: not a statsd series partial`);
      const [type, name, canon, attrsW, sum, value, hasValue, gaugeAt, n, wcount, tsum, wsum, min, max, samples, sketch, buckets, set] = raw as [
        MetricType,
        string,
        string,
        unknown,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number[] | null,
        unknown,
        number[] | null,
        unknown,
      ];
      let s = this.byCanon.get(canon);
      if (s === undefined) {
        if (this.byCanon.size >= this.o.maxSeries) {
          this.dropped.series_limit++;
          return;
        }
        s = new Series(String(name), type, attrsFromWire(attrsW), String(canon));
        this.byCanon.set(canon, s);
      }
      s.last = this.window;
      s.dirty = true;
      switch (type) {
        case 'c':
          s.sum += Number(sum);
          break;
        case 'g':
          if (hasValue === 1 && (!s.hasValue || gaugeAt >= s.gaugeAt)) {
            s.value = value;
            s.gaugeAt = gaugeAt;
            s.hasValue = true;
          }
          break;
        case 's':
          if (set !== null) {
            const h = HyperLogLog.fromJSON(set);
            if (s.set === undefined) s.set = h;
            else s.set.merge(h);
          }
          break;
        default: {
          if (n === 0) break;
          const cap = this.o.timerExactSamples;
          if (s.sketch === undefined && samples !== null && s.n + n <= cap) {
            const buf = new Float64Array(Math.max(16, s.n + n));
            if (s.samples !== undefined) buf.set(s.samples.subarray(0, s.n));
            buf.set(samples, s.n);
            s.samples = buf;
          } else {
            let sk = s.sketch;
            if (sk === undefined) {
              sk = new DDSketch({ relativeAccuracy: this.o.relativeAccuracy });
              if (s.samples !== undefined) for (let i = 0; i < s.n; i++) sk.add(s.samples[i] as number, 1);
              s.sketch = sk;
              s.samples = undefined;
            }
            if (sketch !== null) sk.merge(DDSketch.fromJSON(sketch));
            else if (samples !== null) for (const v of samples) sk.add(v, 1);
          }
          if (s.n === 0 || min < s.min) s.min = min;
          if (s.n === 0 || max > s.max) s.max = max;
          s.n += n;
          s.wcount += wcount;
          s.tsum += tsum;
          s.wsum += wsum;
          if (buckets !== null) {
            if (s.buckets === undefined) s.buckets = new Float64Array(buckets.length);
            if (s.buckets.length !== buckets.length) throw new Error(`entry ${ei}: histogram_buckets differ from this config's`);
            for (let i = 0; i < buckets.length; i++) s.buckets[i] = (s.buckets[i] as number) + (buckets[i] as number);
          }
        }
      }
    });
  }

  private endWindow(metrics: Metric[]): MetricsBatch {
    this.stamped = [];
    this.window++;
    // expiry: a series idle longer than idle_expiry windows is forgotten
    const maxIdle = Math.max(1, Math.ceil(this.o.idleExpiryMs / this.o.flushIntervalMs));
    const w = this.window;
    let removedAny = false;
    for (const [k, s] of this.byCanon) {
      if (w - s.last > maxIdle) {
        this.byCanon.delete(k);
        removedAny = true;
      }
    }
    if (removedAny) this.spellings.retain((s) => this.byCanon.get(s.canon) === s);
    return metrics.length === 0
      ? { resourceMetrics: [] }
      : { resourceMetrics: [{ resource: emptyResource(), scopeMetrics: [{ scope: { ...SCOPE, attributes: {} }, metrics, schemaUrl: '' }], schemaUrl: '' }] };
  }

  private reset(s: Series): void {
    s.dirty = false;
    s.sum = 0;
    if (s.n !== 0 || s.sketch !== undefined) {
      s.n = 0;
      s.wcount = 0;
      s.tsum = 0;
      s.wsum = 0;
      s.min = Infinity;
      s.max = -Infinity;
      s.sketch = undefined;
      if (s.buckets !== undefined) s.buckets.fill(0);
    }
    s.set = undefined;
  }

  private emitOtel(startMs: number, endMs: number): Metric[] {
    const start = BigInt(startMs) * NS;
    const end = BigInt(endMs) * NS;
    const byName = new Map<string, Metric>();
    const get = <M extends Metric>(key: string, make: () => M): M => {
      let m = byName.get(key);
      if (m === undefined) {
        m = make();
        byName.set(key, m);
      }
      return m as M;
    };
    const sumOf = (name: string) =>
      get<SumMetric>('c\x00' + name, () => ({ kind: 'sum', name, description: '', unit: '', temporality: Temporality.Delta, isMonotonic: true, points: [] }));
    const gaugeOf = (name: string, unit = '') => get<GaugeMetric>('g\x00' + name, () => ({ kind: 'gauge', name, description: '', unit, points: [] }));
    const pt = (attrs: Attributes, value: number, t0: bigint, t1: bigint): NumberDataPoint => ({
      attributes: attrs,
      startTimeUnixNano: t0,
      timeUnixNano: t1,
      flags: 0,
      value,
    });
    const pcts = this.o.percentiles;
    const bounds = this.o.histogramBuckets;
    for (const s of this.skipSeries ? [] : this.byCanon.values()) {
      switch (s.type) {
        case 'c':
          if (s.dirty) sumOf(s.name).points.push(pt(s.attrs, s.sum, start, end));
          break;
        case 'g':
          if (s.hasValue && (s.dirty || this.o.keepGauges)) gaugeOf(s.name).points.push(pt(s.attrs, s.value, start, end));
          break;
        case 's':
          if (s.dirty && s.set !== undefined) gaugeOf(s.name).points.push(pt(s.attrs, s.set.count(), start, end));
          break;
        default: {
          if (!s.dirty || s.n === 0) break;
          const unit = s.type === 'ms' ? 'ms' : '';
          const h = get<HistogramMetric>('h\x00' + s.name, () => ({
            kind: 'histogram',
            name: s.name,
            description: '',
            unit,
            temporality: Temporality.Delta,
            points: [],
          }));
          const b = s.buckets as Float64Array;
          const counts: number[] = new Array(b.length);
          let count = 0;
          for (let i = 0; i < b.length; i++) {
            const c = Math.round(b[i] as number);
            counts[i] = c;
            count += c;
          }
          h.points.push({
            attributes: s.attrs,
            startTimeUnixNano: start,
            timeUnixNano: end,
            flags: 0,
            count,
            sum: s.wsum,
            bucketCounts: counts,
            explicitBounds: bounds.slice(),
            min: s.min,
            max: s.max,
          });
          const sorted = s.samples !== undefined ? s.samples.subarray(0, s.n).sort() : undefined;
          for (const p of pcts) {
            const v = sorted !== undefined ? nearestRank(sorted, s.n, p) : (s.sketch?.quantile(p / 100) ?? NaN);
            if (Number.isFinite(v)) gaugeOf(`${s.name}.p${etsyPctName(p)}`, unit).points.push(pt(s.attrs, v, start, end));
          }
        }
      }
      this.reset(s);
    }
    for (const st of this.stamped) {
      const t = BigInt(st.timeMs) * NS;
      if (st.series.type === 'c') sumOf(st.series.name).points.push(pt(st.series.attrs, st.value, t - BigInt(this.o.flushIntervalMs) * NS, t));
      else gaugeOf(st.series.name).points.push(pt(st.series.attrs, st.value, t, t));
    }
    return [...byName.values()];
  }

  private emitEtsy(startMs: number, endMs: number): Metric[] {
    const e = this.o.etsy;
    const end = BigInt(endMs) * NS;
    const start = BigInt(startMs) * NS;
    const out: Metric[] = [];
    const byName = new Map<string, GaugeMetric>();
    const put = (name: string, attrs: Attributes, v: number, t = end): void => {
      let m = byName.get(name);
      if (m === undefined) {
        m = { kind: 'gauge', name, description: '', unit: '', points: [] };
        byName.set(name, m);
        out.push(m);
      }
      m.points.push({ attributes: attrs, startTimeUnixNano: start, timeUnixNano: t, flags: 0, value: v });
    };
    const key = (s: Series) => (e.sanitize_names ? etsySanitize(s.name) : s.name);
    const join = (...parts: string[]) => parts.filter((p) => p !== '').join('.');
    const secs = this.o.flushIntervalMs / 1000;
    for (const s of this.skipSeries ? [] : this.byCanon.values()) {
      const idleOk = e.send_idle_stats;
      switch (s.type) {
        case 'c':
          if (s.dirty || idleOk) {
            put(join(e.global_prefix, key(s)), s.attrs, s.sum / secs);
            put(join(e.counts_prefix, key(s)), s.attrs, s.sum);
          }
          break;
        case 'g':
          if (s.hasValue && (s.dirty || this.o.keepGauges)) put(join(e.global_prefix, e.gauges_prefix, key(s)), s.attrs, s.value);
          break;
        case 's':
          if (s.dirty || idleOk) put(join(e.global_prefix, e.sets_prefix, key(s), 'count'), s.attrs, s.set?.count() ?? 0);
          break;
        default: {
          if (!s.dirty && !idleOk) break;
          const base = join(e.global_prefix, e.timers_prefix, key(s));
          let stats: Array<[string, number]>;
          if (s.samples !== undefined || s.n === 0) {
            const sorted = s.samples !== undefined ? s.samples.subarray(0, s.n).sort() : new Float64Array(0);
            stats = etsyTimerStats(sorted, s.n, s.wcount, e.percent_threshold, this.o.flushIntervalMs);
          } else {
            stats = this.sketchTimerStats(s);
          }
          for (const [k, v] of stats) put(`${base}.${k}`, s.attrs, v);
        }
      }
      this.reset(s);
    }
    for (const st of this.stamped) {
      const k = e.sanitize_names ? etsySanitize(st.series.name) : st.series.name;
      const t = BigInt(st.timeMs) * NS;
      if (st.series.type === 'c') put(join(e.counts_prefix, k), st.series.attrs, st.value, t);
      else put(join(e.global_prefix, e.gauges_prefix, k), st.series.attrs, st.value, t);
    }
    return out;
  }

  /** Past timer_exact_samples: what a sketch can tell (no per-threshold sums). */
  private sketchTimerStats(s: Series): Array<[string, number]> {
    const sk = s.sketch as DDSketch;
    const out: Array<[string, number]> = [];
    const n = s.n;
    for (const pct of this.o.etsy.percent_threshold) {
      const inT = Math.round((Math.abs(pct) / 100) * n);
      if (inT === 0) continue;
      const q = pct > 0 ? pct / 100 : 1 - Math.abs(pct) / 100;
      out.push([`count_${etsyPctName(pct)}`, inT], [`${pct > 0 ? 'upper' : 'lower'}_${etsyPctName(pct)}`, sk.quantile(q) ?? NaN]);
    }
    const mean = s.tsum / n;
    out.push(
      ['upper', s.max],
      ['lower', s.min],
      ['count', s.wcount],
      ['count_ps', s.wcount / (this.o.flushIntervalMs / 1000)],
      ['sum', s.tsum],
      ['mean', mean],
      ['median', sk.quantile(0.5) ?? NaN],
    );
    return out;
  }
}
