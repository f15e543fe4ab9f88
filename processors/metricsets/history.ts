/**
 * The recent events a `metricsets` processor has seen, kept for Explore
 * (`POST /api/v1/explore`, the console): bounded by age and by bytes, oldest
 * dropped first and counted.
 *
 * Compact form: events are appended to a small pending list (references to the
 * batch's events, which are never mutated once sent) and sealed, every
 * SEAL_EVENTS events or when a query comes, into a columnar chunk: times as
 * offsets from the chunk's first time (a Float64Array), the attribute names
 * once per chunk, and per attribute a column of dictionary ids into the
 * chunk's values (a Uint32Array; 0 = the event lacks it). Each attribute
 * finds its values' ids in a dictionary of its own; one whose values are
 * nearly all new (a transaction id) stops looking them up after UNIQUE_PROBE
 * values and gives each its own entry (a later repeat too: a query reads the
 * values, so its results are the same). A query
 * runs the metric-set engine over the chunks (`MetricSetsEngine.addColumns`),
 * so Explore and the exported metric aggregate with the same code.
 */
import type { Event } from '../../src/model/events.js';
import type { AttrValue } from '../../src/model/metrics.js';
import { canonicalValue } from '../../src/model/attributes.js';

/** A columnar block of events; see the module comment. */
export interface ColumnChunk {
  n: number;
  /** the smallest event time of the block (ns); offsets count from it */
  baseNs: bigint;
  minNs: bigint;
  maxNs: bigint;
  /** per event: time − baseNs, in ns (an integer below 2^53) */
  offs: Float64Array;
  keys: string[];
  keyIndex: Map<string, number>;
  /** per key: dictionary id + 1 per event, 0 = missing */
  cols: Uint32Array[];
  /** the distinct attribute values of the block */
  dict: AttrValue[];
  /** per dictionary entry: its hash (hashValue), filled on first use by a query (NaN = not yet) */
  hashes?: Float64Array;
  /** estimated bytes held */
  bytes: number;
  /** wall time (ms) of the last event appended to it */
  arrivedMs: number;
}

export interface HistoryOptions {
  /** keep events at most this long after they arrived (ms) */
  maxAgeMs: number;
  /** keep at most this many bytes (estimated); the oldest chunks are dropped first */
  maxBytes: number;
}

export interface HistoryStats {
  events: number;
  chunks: number;
  bytes: number;
  max_bytes: number;
  max_age_ms: number;
  oldest: string | null;
  newest: string | null;
  dropped_by_age: number;
  dropped_by_bytes: number;
  bytes_per_event: number;
}

/** Events per sealed chunk. */
export const SEAL_EVENTS = 8192;
/** The bytes a chunk costs besides its arrays. */
const CHUNK_OVERHEAD = 256;
/** The bytes a pending event is charged (its object is held until sealed). */
const PENDING_EVENT_BYTES = 200;
/**
 * After this many values of an attribute in a block, one whose values were at
 * least 95 % new is stored without its dictionary lookup (a repeated value then
 * gets an entry of its own: queries read values, so the results are the same).
 */
const UNIQUE_PROBE = 512;
/** A time span longer than this (ns) cannot be an offset in a Float64Array: the block is split. */
const MAX_SPAN_NS = 2n ** 52n;

function valueBytes(v: AttrValue): number {
  switch (typeof v) {
    case 'string':
      return 16 + 2 * v.length;
    case 'number':
    case 'boolean':
      return 16;
    case 'bigint':
      return 24;
    default:
      return 64 + JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x instanceof Uint8Array ? x.length : x)).length;
  }
}

/** Encode events (already sorted or not) into one columnar chunk. */
export function encodeChunk(events: readonly Event[], arrivedMs: number): ColumnChunk {
  const n = events.length;
  let minNs = events[0]!.timeUnixNano;
  let maxNs = minNs;
  for (let i = 1; i < n; i++) {
    const t = events[i]!.timeUnixNano;
    if (t < minNs) minNs = t;
    if (t > maxNs) maxNs = t;
  }
  const offs = new Float64Array(n);
  const keyIndex = new Map<string, number>();
  const keys: string[] = [];
  const cols: Uint32Array[] = [];
  const dict: AttrValue[] = [];
  // string values: a dictionary per attribute (small and hot for low-cardinality ones); an attribute
  // whose values are nearly all new (a transaction id) stops looking them up: each gets its own entry
  const strIds: Array<Map<string, number> | null> = [];
  const looked: number[] = [];
  const fresh: number[] = [];
  const otherIds = new Map<string, number>();
  let bytes = CHUNK_OVERHEAD + 8 * n;
  // events of a batch mostly share their time and list their attributes in the same order:
  // the last time's offset and the last event's key order are reused (no BigInt arithmetic, no key lookup)
  let lastT: bigint | undefined;
  let lastOff = 0;
  const order: string[] = [];
  const orderKi: number[] = [];
  for (let i = 0; i < n; i++) {
    const e = events[i]!;
    const t = e.timeUnixNano;
    if (t !== lastT) {
      lastT = t;
      lastOff = Number(t - minNs);
    }
    offs[i] = lastOff;
    const a = e.attributes;
    let pos = 0;
    for (const k in a) {
      const v = a[k];
      if (v === undefined) continue;
      let ki: number | undefined;
      if (order[pos] === k) ki = orderKi[pos]!;
      else {
        ki = keyIndex.get(k);
        if (ki === undefined) {
          ki = keys.length;
          keyIndex.set(k, ki);
          keys.push(k);
          cols.push(new Uint32Array(n));
          bytes += 4 * n + 16 + 2 * k.length;
        }
        order[pos] = k;
        orderKi[pos] = ki;
      }
      pos++;
      let id: number | undefined;
      if (typeof v === 'string') {
        let ids = strIds[ki];
        if (ids === undefined) {
          ids = strIds[ki] = new Map();
          looked[ki] = 0;
          fresh[ki] = 0;
        }
        id = ids === null ? undefined : ids.get(v);
        if (id === undefined) {
          id = dict.length + 1;
          dict.push(v);
          bytes += valueBytes(v) + 24;
          if (ids !== null) {
            ids.set(v, id);
            fresh[ki]!++;
          }
        }
        if (ids !== null && ++looked[ki]! === UNIQUE_PROBE && fresh[ki]! >= UNIQUE_PROBE * 0.95) strIds[ki] = null;
      } else {
        const ck = typeof v + ':' + canonicalValue(v);
        id = otherIds.get(ck);
        if (id === undefined) {
          id = dict.length + 1;
          otherIds.set(ck, id);
          dict.push(v);
          bytes += valueBytes(v) + 24;
        }
      }
      cols[ki]![i] = id;
    }
  }
  return { n, baseNs: minNs, minNs, maxNs, offs, keys, keyIndex, cols, dict, bytes, arrivedMs };
}

export class EventHistory {
  private readonly chunks: ColumnChunk[] = [];
  private pending: Event[] = [];
  private pendingArrivedMs = 0;
  private sealedBytes = 0;
  private sealedEvents = 0;
  droppedByAge = 0;
  droppedByBytes = 0;

  constructor(
    readonly o: HistoryOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** Keep a batch's events (their objects are referenced until the next seal, never copied or changed). */
  append(events: readonly Event[]): void {
    if (events.length === 0) return;
    const now = this.now();
    for (let i = 0; i < events.length; i++) this.pending.push(events[i]!);
    this.pendingArrivedMs = now;
    if (this.pending.length >= SEAL_EVENTS) this.seal();
    else if (this.pending.length * PENDING_EVENT_BYTES + this.sealedBytes > this.o.maxBytes) this.seal();
    this.evict(now);
  }

  /** Turn the pending events into columnar chunks. */
  seal(): void {
    const p = this.pending;
    if (p.length === 0) return;
    this.pending = [];
    // a block spanning more than 2^52 ns (52 days) is split so its offsets stay exact
    let start = 0;
    while (start < p.length) {
      let end = Math.min(p.length, start + SEAL_EVENTS);
      let lo = p[start]!.timeUnixNano;
      let hi = lo;
      for (let i = start + 1; i < end; i++) {
        const t = p[i]!.timeUnixNano;
        const nlo = t < lo ? t : lo;
        const nhi = t > hi ? t : hi;
        if (nhi - nlo >= MAX_SPAN_NS) {
          end = i;
          break;
        }
        lo = nlo;
        hi = nhi;
      }
      const c = encodeChunk(p.slice(start, end), this.pendingArrivedMs);
      this.chunks.push(c);
      this.sealedBytes += c.bytes;
      this.sealedEvents += c.n;
      start = end;
    }
    this.evict(this.now());
  }

  private evict(now: number): void {
    const cutoff = now - this.o.maxAgeMs;
    while (this.chunks.length > 0) {
      const c = this.chunks[0]!;
      const byAge = c.arrivedMs < cutoff;
      const byBytes = this.sealedBytes + this.pending.length * PENDING_EVENT_BYTES > this.o.maxBytes;
      if (!byAge && !byBytes) break;
      this.chunks.shift();
      this.sealedBytes -= c.bytes;
      this.sealedEvents -= c.n;
      if (byAge) this.droppedByAge += c.n;
      else this.droppedByBytes += c.n;
    }
    // pending events past the age limit (nothing arrived for a long time) go too
    if (this.pending.length > 0 && this.pendingArrivedMs < cutoff) {
      this.droppedByAge += this.pending.length;
      this.pending = [];
    }
  }

  /** The chunks to query (the pending events sealed first, expired ones dropped). */
  snapshot(): readonly ColumnChunk[] {
    this.seal();
    this.evict(this.now());
    return this.chunks.slice();
  }

  get events(): number {
    return this.sealedEvents + this.pending.length;
  }
  get bytes(): number {
    return this.sealedBytes + this.pending.length * PENDING_EVENT_BYTES;
  }

  /** Attribute names with how many events carry each, and their most frequent values (for suggestions). */
  attributes(maxValues = 20, scanChunks = 64): Array<{ name: string; events: number; values: Array<{ value: unknown; events: number }> }> {
    const chunks = this.snapshot();
    const names = new Map<string, { events: number; values: Map<string, { value: unknown; events: number }> }>();
    for (const c of chunks.slice(-scanChunks)) {
      for (let ki = 0; ki < c.keys.length; ki++) {
        const name = c.keys[ki]!;
        let e = names.get(name);
        if (e === undefined) {
          e = { events: 0, values: new Map() };
          names.set(name, e);
        }
        const col = c.cols[ki]!;
        const counts = new Map<number, number>();
        for (let i = 0; i < c.n; i++) {
          const id = col[i]!;
          if (id !== 0) counts.set(id, (counts.get(id) ?? 0) + 1);
        }
        for (const [id, k] of counts) {
          e.events += k;
          // values of near-unique attributes (_tx) are not worth suggesting; keep the map bounded
          if (e.values.size > 4 * maxValues && !e.values.has(String(c.dict[id - 1]))) continue;
          const v = c.dict[id - 1]!;
          const key = typeof v === 'string' ? v : canonicalValue(v);
          const cur = e.values.get(key);
          if (cur === undefined) e.values.set(key, { value: typeof v === 'bigint' ? v.toString() : v, events: k });
          else cur.events += k;
        }
      }
    }
    return [...names]
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([name, e]) => ({
        name,
        events: e.events,
        values: [...e.values.values()].sort((a, b) => b.events - a.events).slice(0, maxValues),
      }));
  }

  stats(): HistoryStats {
    const chunks = this.snapshot();
    let oldest: bigint | undefined;
    let newest: bigint | undefined;
    for (const c of chunks) {
      if (oldest === undefined || c.minNs < oldest) oldest = c.minNs;
      if (newest === undefined || c.maxNs > newest) newest = c.maxNs;
    }
    const iso = (ns: bigint | undefined) => (ns === undefined ? null : new Date(Number(ns / 1_000_000n)).toISOString());
    return {
      events: this.sealedEvents,
      chunks: chunks.length,
      bytes: this.sealedBytes,
      max_bytes: this.o.maxBytes,
      max_age_ms: this.o.maxAgeMs,
      oldest: iso(oldest),
      newest: iso(newest),
      dropped_by_age: this.droppedByAge,
      dropped_by_bytes: this.droppedByBytes,
      bytes_per_event: this.sealedEvents === 0 ? 0 : Math.round(this.sealedBytes / this.sealedEvents),
    };
  }
}
