/**
 * Checkpoints of a pull store's running totals (issue 15 item 4): restarting
 * metricport, or moving a cluster partition to another node, continues every
 * counter where it was instead of restarting it from zero (which Prometheus
 * counts in `resets()`, and which loses the increase of the last period).
 *
 * The byte format is versioned and self-checking (the contract with the
 * cluster side: /work/coord/contracts/pullstore-checkpoint.md, and
 * docs/exporters/prometheus.md "Restarts"); little-endian:
 *
 *     header : "MPCK" | u8 version=1 | u8 0 | u16 0 | f64 written_at_ms | u32 n_families | u32 n_series
 *     string : u32 byte_length | UTF-8
 *     family : string name | u8 type (0 counter, 1 gauge, 2 histogram, 3 summary) | string help | string unit | f64 mul | f64 div
 *     series : u32 family_index | u16 tag | u8 kind | u8 flags | string key | [string ctx when flags bit 0] | i64 start_ns | i64 time_ns | payload
 *              (flags bit 0: the key is split: `key` holds the series' own labels and `ctx` the labels
 *              shared by its resource and scope, rendered as key + ',' + ctx)
 *       kind 0 float f64 · 1 int64 i64 · 2 bigint string · 3 histogram · 4 exponential histogram · 5 summary · 6 empty
 *     trailer: u32 CRC-32 of every byte before it
 *
 * restoreCheckpoint() validates the whole buffer before it applies anything,
 * creates only the series that are absent (a series that already got a point
 * keeps it) and never goes beyond `max_series`.
 */
import { crc32 } from 'node:zlib';
import type { ExpState } from '../model/exphist.js';
import { V_FLOAT, V_INT, type CumulativeStore, type FamilyInfo, type HistState, type SeriesType, type SummaryState } from './cumulative.js';

const CHECKPOINT_MAGIC = 'MPCK';
export const CHECKPOINT_VERSION = 2;
const TYPES: SeriesType[] = ['counter', 'gauge', 'histogram', 'summary'];
const K_FLOAT = 0,
  K_INT64 = 1,
  K_BIG = 2,
  K_HIST = 3,
  K_EXP = 4,
  K_SUMMARY = 5,
  K_EMPTY = 6;
const MIN_I64 = -(2n ** 63n);
const MAX_I64 = 2n ** 63n - 1n;

export class CheckpointError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export interface CheckpointSelect {
  /** only the series carrying one of these partition tags (0 = untagged); omitted = every series */
  tags?: Iterable<number>;
}

export interface RestoreReport {
  /** series created from the checkpoint */
  series: number;
  /** series the store already had (a point came first): kept as they are */
  skipped_existing: number;
  /** series not restored because the store is at max_series */
  skipped_cap: number;
  /** series whose family name is taken by another type */
  skipped_conflict: number;
  families: number;
  /** when the checkpoint was written (ms) */
  written_at_ms: number;
}

class Writer {
  buf = Buffer.allocUnsafe(64 * 1024);
  off = 0;
  private need(n: number): void {
    if (this.off + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.off + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.off);
    this.buf = b;
  }
  u8(v: number): void {
    this.need(1);
    this.buf[this.off++] = v;
  }
  u16(v: number): void {
    this.need(2);
    this.buf.writeUInt16LE(v, this.off);
    this.off += 2;
  }
  u32(v: number): void {
    this.need(4);
    this.buf.writeUInt32LE(v, this.off);
    this.off += 4;
  }
  i32(v: number): void {
    this.need(4);
    this.buf.writeInt32LE(v, this.off);
    this.off += 4;
  }
  f64(v: number): void {
    this.need(8);
    this.buf.writeDoubleLE(v, this.off);
    this.off += 8;
  }
  i64(v: bigint): void {
    this.need(8);
    this.buf.writeBigInt64LE(v, this.off);
    this.off += 8;
  }
  str(s: string): void {
    const max = s.length * 3;
    this.need(4 + max);
    const n = this.buf.write(s, this.off + 4, 'utf8');
    this.buf.writeUInt32LE(n, this.off);
    this.off += 4 + n;
  }
  f64s(a: readonly number[]): void {
    this.u32(a.length);
    for (const v of a) this.f64(v);
  }
}

class Reader {
  off = 0;
  constructor(
    private readonly b: Buffer,
    private readonly end: number,
  ) {}
  private need(n: number, what: string): void {
    if (this.off + n > this.end) throw new CheckpointError(`truncated checkpoint: ${what} at byte ${this.off} runs past the end (${this.end})`, this.off);
  }
  u8(w = 'a byte'): number {
    this.need(1, w);
    return this.b[this.off++] as number;
  }
  u16(w = 'a u16'): number {
    this.need(2, w);
    const v = this.b.readUInt16LE(this.off);
    this.off += 2;
    return v;
  }
  u32(w = 'a u32'): number {
    this.need(4, w);
    const v = this.b.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }
  i32(w = 'an i32'): number {
    this.need(4, w);
    const v = this.b.readInt32LE(this.off);
    this.off += 4;
    return v;
  }
  f64(w = 'an f64'): number {
    this.need(8, w);
    const v = this.b.readDoubleLE(this.off);
    this.off += 8;
    return v;
  }
  i64(w = 'an i64'): bigint {
    this.need(8, w);
    const v = this.b.readBigInt64LE(this.off);
    this.off += 8;
    return v;
  }
  str(w = 'a string'): string {
    const n = this.u32(w);
    this.need(n, w);
    const s = this.b.toString('utf8', this.off, this.off + n);
    this.off += n;
    return s;
  }
  f64s(w: string, max: number): number[] {
    const n = this.u32(w);
    if (n > max) throw new CheckpointError(`${w} at byte ${this.off - 4}: ${n} values, more than ${max}`, this.off - 4);
    this.need(n * 8, w);
    const a = new Array<number>(n);
    for (let i = 0; i < n; i++) a[i] = this.f64();
    return a;
  }
}

/** The checkpoint of the selected series (every series without `sel`). Synchronous. */
export function encodeCheckpoint(store: CumulativeStore, sel: CheckpointSelect = {}, now = Date.now()): Buffer {
  const tags = sel.tags === undefined ? undefined : new Set(sel.tags);
  const w = new Writer();
  w.buf.write(CHECKPOINT_MAGIC, 0, 'latin1');
  w.off = 4;
  w.u8(CHECKPOINT_VERSION);
  w.u8(0);
  w.u16(0);
  w.f64(now);
  const countsAt = w.off;
  w.u32(0);
  w.u32(0);
  // families first (only those with a selected series), then the series
  const famIndex = new Map<FamilyInfo, number>();
  const ids: number[] = [];
  for (const f of store.families.values()) {
    for (const id of f.series.values()) {
      if (tags !== undefined && !tags.has(store.tag(id))) continue;
      if (!famIndex.has(f.info)) famIndex.set(f.info, famIndex.size);
      ids.push(id);
    }
  }
  for (const info of famIndex.keys()) {
    w.str(info.name);
    w.u8(TYPES.indexOf(info.type));
    w.str(info.help);
    w.str(info.unit);
    w.f64(info.mul ?? 1);
    w.f64(info.div ?? 1);
  }
  for (const id of ids) {
    const fam = store.family(id);
    w.u32(famIndex.get(fam.info) as number);
    w.u16(store.tag(id));
    const e = store.exp(id);
    const h = store.hist(id);
    const sm = store.summary(id);
    const type = fam.info.type;
    let kind: number;
    if (type === 'histogram') kind = e !== undefined ? K_EXP : h !== undefined ? K_HIST : K_EMPTY;
    else if (type === 'summary') kind = sm !== undefined ? K_SUMMARY : K_EMPTY;
    else {
      const vk = store.valueKind(id);
      if (vk === V_FLOAT) kind = K_FLOAT;
      else if (vk === V_INT) kind = K_INT64;
      else {
        const v = store.value(id) as bigint;
        kind = v >= MIN_I64 && v <= MAX_I64 ? K_INT64 : K_BIG;
      }
    }
    w.u8(kind);
    const parts = store.keyParts(id);
    const split = store.isSplit(id);
    w.u8(split ? 1 : 0);
    w.str(parts.key);
    if (split) w.str(parts.ctx);
    w.i64(store.start(id));
    w.i64(store.time(id));
    switch (kind) {
      case K_FLOAT:
        w.f64(store.num(id));
        break;
      case K_INT64:
        w.i64(store.value(id) as bigint);
        break;
      case K_BIG:
        w.str((store.value(id) as bigint).toString());
        break;
      case K_HIST: {
        const x = h as HistState;
        w.f64(x.count);
        w.f64(x.sum);
        w.f64s(x.bounds);
        w.f64s(x.counts);
        break;
      }
      case K_EXP: {
        const x = e as ExpState;
        w.i32(x.scale);
        w.f64(x.zeroCount);
        w.f64(x.zeroThreshold);
        w.f64(x.count);
        w.f64(x.sum);
        w.f64(x.min ?? NaN);
        w.f64(x.max ?? NaN);
        w.i32(x.pos.offset);
        w.f64s(x.pos.counts);
        w.i32(x.neg.offset);
        w.f64s(x.neg.counts);
        break;
      }
      case K_SUMMARY: {
        const x = sm as SummaryState;
        w.f64(x.count);
        w.f64(x.sum);
        w.u32(x.quantiles.length);
        for (const q of x.quantiles) {
          w.f64(q.quantile);
          w.f64(q.value);
        }
        break;
      }
    }
  }
  w.buf.writeUInt32LE(famIndex.size, countsAt);
  w.buf.writeUInt32LE(ids.length, countsAt + 4);
  const body = w.buf.subarray(0, w.off);
  const out = Buffer.allocUnsafe(w.off + 4);
  body.copy(out);
  out.writeUInt32LE(crc32(body), w.off);
  return out;
}

interface Decoded {
  families: FamilyInfo[];
  series: Array<{
    fam: number;
    tag: number;
    key: string;
    ctx: string | undefined;
    start: bigint;
    time: bigint;
    value?: number | bigint;
    hist?: HistState;
    exp?: ExpState;
    summary?: SummaryState;
  }>;
  written: number;
}

const MAX_BUCKETS = 1 << 16;

/** Parse and check a checkpoint; throws CheckpointError naming the byte offset. */
export function decodeCheckpoint(input: Uint8Array): Decoded {
  const b = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (b.length < 28) throw new CheckpointError(`not a checkpoint: ${b.length} bytes, shorter than a header`, 0);
  if (b.toString('latin1', 0, 4) !== CHECKPOINT_MAGIC)
    throw new CheckpointError(`not a checkpoint: magic ${JSON.stringify(b.toString('latin1', 0, 4))} at byte 0, expected "${CHECKPOINT_MAGIC}"`, 0);
  if (b[4] !== CHECKPOINT_VERSION)
    throw new CheckpointError(`checkpoint version ${b[4]} at byte 4 is not supported (this metricport reads version ${CHECKPOINT_VERSION})`, 4);
  const end = b.length - 4;
  const want = b.readUInt32LE(end);
  const got = crc32(b.subarray(0, end));
  if (want !== got) throw new CheckpointError(`checkpoint CRC mismatch: trailer at byte ${end} says ${want.toString(16)}, content is ${got.toString(16)}`, end);
  const r = new Reader(b, end);
  r.off = 8;
  const written = r.f64('written_at_ms');
  const nf = r.u32('n_families');
  const ns = r.u32('n_series');
  const families: FamilyInfo[] = [];
  for (let i = 0; i < nf; i++) {
    const at = r.off;
    const name = r.str('family name');
    const t = r.u8('family type');
    const type = TYPES[t];
    if (type === undefined) throw new CheckpointError(`family ${i} at byte ${at}: unknown type ${t}`, at);
    const help = r.str('family help');
    const unit = r.str('family unit');
    const mul = r.f64('family mul');
    const div = r.f64('family div');
    families.push({ name, type, help, unit, ...(mul !== 1 ? { mul } : {}), ...(div !== 1 ? { div } : {}) });
  }
  const series: Decoded['series'] = [];
  for (let i = 0; i < ns; i++) {
    const at = r.off;
    const fam = r.u32('series family');
    if (fam >= nf) throw new CheckpointError(`series ${i} at byte ${at}: family ${fam} of ${nf}`, at);
    const tag = r.u16('series tag');
    const kind = r.u8('series kind');
    const flags = r.u8('series flags');
    if (flags > 1) throw new CheckpointError(`series ${i} at byte ${at}: unknown flags ${flags}`, at);
    const key = r.str('series key');
    const ctx = (flags & 1) !== 0 ? r.str('series context') : undefined;
    const start = r.i64('series start');
    const time = r.i64('series time');
    const s: Decoded['series'][number] = { fam, tag, key, ctx, start, time };
    switch (kind) {
      case K_FLOAT:
        s.value = r.f64('value');
        break;
      case K_INT64:
        s.value = r.i64('value');
        break;
      case K_BIG: {
        const t = r.str('value');
        if (!/^-?\d{1,4000}$/.test(t))
          throw new CheckpointError(`series ${i} at byte ${at}: integer value ${JSON.stringify(t.slice(0, 40))} is not decimal`, at);
        s.value = BigInt(t);
        break;
      }
      case K_HIST: {
        const count = r.f64('histogram count');
        const sum = r.f64('histogram sum');
        const bounds = r.f64s('histogram bounds', MAX_BUCKETS);
        const counts = r.f64s('histogram counts', MAX_BUCKETS + 1);
        if (counts.length !== bounds.length + 1)
          throw new CheckpointError(`series ${i} at byte ${at}: ${counts.length} bucket counts for ${bounds.length} bounds`, at);
        s.hist = { bounds, counts, count, sum };
        break;
      }
      case K_EXP: {
        const scale = r.i32('scale');
        const zeroCount = r.f64('zero count');
        const zeroThreshold = r.f64('zero threshold');
        const count = r.f64('count');
        const sum = r.f64('sum');
        const min = r.f64('min');
        const max = r.f64('max');
        const po = r.i32('positive offset');
        const pc = r.f64s('positive buckets', MAX_BUCKETS);
        const no = r.i32('negative offset');
        const nc = r.f64s('negative buckets', MAX_BUCKETS);
        s.exp = {
          scale,
          zeroCount,
          zeroThreshold,
          count,
          sum,
          pos: { offset: po, counts: pc },
          neg: { offset: no, counts: nc },
          ...(Number.isNaN(min) ? {} : { min }),
          ...(Number.isNaN(max) ? {} : { max }),
        };
        break;
      }
      case K_SUMMARY: {
        const count = r.f64('summary count');
        const sum = r.f64('summary sum');
        const n = r.u32('quantiles');
        if (n > MAX_BUCKETS) throw new CheckpointError(`series ${i} at byte ${at}: ${n} quantiles`, at);
        const quantiles = [];
        for (let q = 0; q < n; q++) quantiles.push({ quantile: r.f64('quantile'), value: r.f64('quantile value') });
        s.summary = { count, sum, quantiles };
        break;
      }
      case K_EMPTY:
        break;
      default:
        throw new CheckpointError(`series ${i} at byte ${at}: unknown value kind ${kind}`, at);
    }
    series.push(s);
  }
  if (r.off !== end) throw new CheckpointError(`checkpoint has ${end - r.off} bytes after its last series (byte ${r.off})`, r.off);
  return { families, series, written };
}

/**
 * Apply a checkpoint: the absent series are created with their running
 * totals (a restored series counts as seen now for expiry). The buffer is
 * checked whole first: a CheckpointError leaves the store untouched.
 */
export function restoreCheckpoint(store: CumulativeStore, buf: Uint8Array): RestoreReport {
  const d = decodeCheckpoint(buf);
  const rep: RestoreReport = { series: 0, skipped_existing: 0, skipped_cap: 0, skipped_conflict: 0, families: d.families.length, written_at_ms: d.written };
  for (const s of d.series) {
    const v = {
      ...(s.value !== undefined ? { value: s.value } : {}),
      ...(s.hist !== undefined ? { hist: s.hist } : {}),
      ...(s.exp !== undefined ? { exp: s.exp } : {}),
      ...(s.summary !== undefined ? { summary: s.summary } : {}),
    };
    switch (store.restoreSeries(d.families[s.fam] as FamilyInfo, s.key, s.ctx, s.tag, s.start, s.time, v)) {
      case 'ok':
        rep.series++;
        break;
      case 'exists':
        rep.skipped_existing++;
        break;
      case 'cap':
        rep.skipped_cap++;
        break;
      case 'type_conflict':
        rep.skipped_conflict++;
        break;
    }
  }
  return rep;
}

/** Remove the series of partitions this node no longer serves; returns how many. */
export function dropTags(store: CumulativeStore, tags: Iterable<number>): number {
  return store.removeTagged(new Set(tags));
}

// --- the live pull stores of this process, for the cluster side ---
const stores = new Map<string, CumulativeStore>();
const listeners = new Set<(id: string, store: CumulativeStore, added: boolean) => void>();

/** The pull stores running in this process by exporter id (e.g. `prometheus`, `circonus/pull`). */
export function pullStores(): ReadonlyMap<string, CumulativeStore> {
  return stores;
}

/** Called for every pull store registered or unregistered from now on; returns the unsubscribe. */
export function onPullStore(cb: (id: string, store: CumulativeStore, added: boolean) => void): () => void {
  listeners.add(cb);
  return () => {
    listeners.delete(cb);
  };
}

export function registerPullStore(id: string, store: CumulativeStore): void {
  stores.set(id, store);
  for (const cb of listeners) {
    try {
      cb(id, store, true);
    } catch {
      /* a listener's failure is its own */
    }
  }
}

export function unregisterPullStore(id: string, store: CumulativeStore): void {
  if (stores.get(id) !== store) return;
  stores.delete(id);
  for (const cb of listeners) {
    try {
      cb(id, store, false);
    } catch {
      /* a listener's failure is its own */
    }
  }
}
