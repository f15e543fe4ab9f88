/**
 * Distinct counting: an exact set up to a threshold, then HyperLogLog.
 *
 * - Values are hashed to 53 bits (`hash53`); the exact phase keeps those
 *   hashes in an open-addressing Float64Array (8 bytes a value, load ≤ 1/2),
 *   so it is exact up to hash collisions (≈ n²/2^54).
 * - Past `threshold` distinct values (default 1,024) the set converts into a
 *   HyperLogLog of precision `p` (default 14: 2^14 one-byte registers =
 *   16 KiB, standard error 1.04/√2^14 ≈ 0.81 %). The estimate is Ertl's
 *   improved raw estimator ("New cardinality estimation algorithms for
 *   HyperLogLog sketches", 2017), which needs no bias tables and is accurate
 *   from 0 to billions.
 * - Memory per sketch: at most max(16 × threshold, 2^p) bytes plus ~100 bytes
 *   of object overhead (16 KiB at the defaults).
 * - `merge` is the union: exact ∪ exact stays exact while it fits, otherwise
 *   register-wise max. Merging is commutative and associative, so replicas'
 *   partial results combine in any order.
 * - `toJSON`/`fromJSON` round-trip exactly (registers as base64).
 */
import { hash53 } from './hash.js';

const HLL_DEFAULT_PRECISION = 14;
const HLL_DEFAULT_THRESHOLD = 1024;

export interface HllOptions {
  /** register index bits, 4..18 (default 14) */
  precision?: number;
  /** distinct values kept exactly before converting to registers (default 1,024; 0 = registers from the start) */
  threshold?: number;
  /**
   * Also list the registers that are not zero while they are fewer than 2^p / 8, so merging this
   * sketch into another visits those instead of all 2^p (Explore's short-lived per-bucket sketches,
   * merged into the table's totals; up to 2^p / 4 bytes more while the list is kept). Default false.
   */
  listNonZero?: boolean;
}

export interface HllJson {
  v: 1;
  p: number;
  t: number;
  /** the exact phase: the 53-bit hashes */
  exact?: number[];
  /** the register phase: 2^p bytes, base64 */
  registers?: string;
}

const SEED_STRING = 0;
const SEED_OTHER = 0x5f3759df;
const INITIAL_SLOTS = 8;

/**
 * Exact-phase tables a sketch gave up (grown out of, or converted to
 * registers), for the next sketch that grows to that size: a window's
 * sketches all pass through the same sizes, and without reuse the tables
 * left behind are twice the last one (and, in an Explore query over a million
 * events, tens of MiB that trigger full collections). Bounded: tables of
 * POOL_MIN_SLOTS or more slots, at most POOL_MAX_BYTES in all.
 */
const pool = new Map<number, Float64Array[]>();
const POOL_MIN_SLOTS = 256;
const POOL_MAX_BYTES = 1 << 20;
let pooledBytes = 0;

function takeTable(slots: number): Float64Array {
  const t = pool.get(slots)?.pop();
  if (t === undefined) return new Float64Array(slots);
  pooledBytes -= t.byteLength;
  t.fill(0);
  return t;
}

function giveTable(t: Float64Array): void {
  if (t.length < POOL_MIN_SLOTS || pooledBytes + t.byteLength > POOL_MAX_BYTES) return;
  let l = pool.get(t.length);
  if (l === undefined) pool.set(t.length, (l = []));
  l.push(t);
  pooledBytes += t.byteLength;
}

/** The hash of an attribute value: strings hashed as they are; other types by a typed form under another seed (so "1" and 1 differ). */
export function hashValue(v: unknown): number {
  if (typeof v === 'string') return hash53(v, SEED_STRING);
  if (typeof v === 'number') return hash53('d' + String(v), SEED_OTHER);
  if (typeof v === 'bigint') return hash53('i' + v.toString(), SEED_OTHER);
  if (typeof v === 'boolean') return hash53(v ? 'T' : 'F', SEED_OTHER);
  return hash53('j' + JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)), SEED_OTHER);
}

export class HyperLogLog {
  readonly precision: number;
  readonly threshold: number;
  /** exact phase: open-addressing table of hashes (0 = empty), or undefined once in the register phase */
  private table: Float64Array | undefined;
  private size = 0;
  private registers: Uint8Array | undefined;
  /** register phase: how many registers hold each value 0..q+1 (kept as registers change, so count() is O(q)) */
  private hist: Float64Array | undefined;
  /** divisor that leaves the register index: 2^(53-p) */
  private readonly shift: number;
  /** bits below the index (q in Ertl's paper) */
  private readonly q: number;
  /** 2^(q-32): divides the q bits below the index into their upper 32 bits */
  private readonly lowDiv: number;
  private readonly listNonZero: boolean;
  /** register phase with listNonZero: the indices of the registers that are not zero (undefined once too many) */
  private nz: Uint16Array | Uint32Array | undefined;
  private nzLen = 0;

  constructor(opts: HllOptions = {}) {
    const p = opts.precision ?? HLL_DEFAULT_PRECISION;
    const t = opts.threshold ?? HLL_DEFAULT_THRESHOLD;
    if (!Number.isInteger(p) || p < 4 || p > 18) throw new RangeError(`HyperLogLog precision must be an integer 4..18, got ${p}`);
    if (!Number.isInteger(t) || t < 0) throw new RangeError(`HyperLogLog threshold must be a non-negative integer, got ${t}`);
    this.precision = p;
    this.threshold = t;
    this.q = 53 - p;
    this.shift = 2 ** this.q;
    this.lowDiv = 2 ** (this.q - 32);
    this.listNonZero = opts.listNonZero === true;
    if (t > 0) this.table = new Float64Array(INITIAL_SLOTS);
    else this.setRegisters();
  }

  /** Enter the register phase with these registers (the histogram counted from them; none given: all zero). */
  private setRegisters(regs?: Uint8Array): void {
    const hist = new Float64Array(this.q + 2);
    if (regs === undefined) {
      regs = new Uint8Array(1 << this.precision);
      hist[0] = regs.length;
    } else for (let i = 0; i < regs.length; i++) hist[regs[i]!]!++;
    this.registers = regs;
    this.hist = hist;
    if (this.listNonZero && hist[0] === regs.length) {
      const n = regs.length >> 3;
      this.nz = this.precision <= 16 ? new Uint16Array(n) : new Uint32Array(n);
      this.nzLen = 0;
    }
  }

  /** Register idx goes from `old` to `rank` (> old): the histogram and the list of non-zero registers follow. */
  private raised(idx: number, old: number, rank: number): void {
    const hist = this.hist!;
    hist[old]!--;
    hist[rank]!++;
    const nz = this.nz;
    if (old === 0 && nz !== undefined) {
      if (this.nzLen < nz.length) nz[this.nzLen++] = idx;
      else this.nz = undefined;
    }
  }

  /** true while every value is still counted exactly */
  get isExact(): boolean {
    return this.registers === undefined;
  }

  /** Bytes held by the data structures (exact table or registers). */
  get byteSize(): number {
    return this.registers !== undefined ? this.registers.length : (this.table as Float64Array).byteLength;
  }

  /** Add a string value. */
  addString(s: string): void {
    this.addHash(hash53(s, SEED_STRING));
  }

  /** Add any attribute value (typed: "1" and 1 are different values). */
  add(v: unknown): void {
    this.addHash(typeof v === 'string' ? hash53(v, SEED_STRING) : hashValue(v));
  }

  /** Add a 53-bit hash as produced by `hash53`/`hashValue`. */
  addHash(h: number): void {
    const regs = this.registers;
    if (regs !== undefined) {
      this.addToRegisters(regs, h);
      return;
    }
    if (h === 0) h = 1; // 0 marks an empty slot
    const table = this.table as Float64Array;
    const mask = table.length - 1;
    // the low bits of a uniform hash are uniform: start there and probe linearly
    // (h & mask: ToInt32 keeps h mod 2^32, so this is (h mod 2^32) & mask without a float modulo)
    let i = h & mask;
    for (;;) {
      const x = table[i]!;
      if (x === h) return;
      if (x === 0) break;
      i = (i + 1) & mask;
    }
    if (this.size >= this.threshold) {
      this.toRegisters();
      this.addToRegisters(this.registers!, h);
      return;
    }
    table[i] = h;
    this.size++;
    if (this.size * 2 > table.length) this.grow();
  }

  private grow(): void {
    const old = this.table as Float64Array;
    const table = takeTable(old.length * 2);
    const mask = table.length - 1;
    for (let j = 0; j < old.length; j++) {
      const h = old[j]!;
      if (h === 0) continue;
      let i = h & mask;
      while (table[i] !== 0) i = (i + 1) & mask;
      table[i] = h;
    }
    this.table = table;
    giveTable(old);
  }

  private toRegisters(): void {
    const table = this.table as Float64Array;
    this.table = undefined;
    this.size = 0;
    this.setRegisters();
    const regs = this.registers!;
    for (let j = 0; j < table.length; j++) {
      const h = table[j]!;
      if (h !== 0) this.addToRegisters(regs, h);
    }
    giveTable(table);
  }

  private addToRegisters(regs: Uint8Array, h: number): void {
    const idx = Math.floor(h / this.shift);
    const w = h - idx * this.shift; // q bits
    // rank = leading zeros of w within q bits, + 1 (q + 1 when w = 0)
    let rank: number;
    const top = Math.floor(w / this.lowDiv); // the upper 32 bits of w (q > 32 for p ≤ 18)
    if (top !== 0) rank = Math.clz32(top) + 1;
    else {
      // top = 0: w has only its low q - 32 bits
      rank = w === 0 ? this.q + 1 : 32 + (Math.clz32(w) - (32 - (this.q - 32))) + 1;
    }
    const old = regs[idx]!;
    if (rank > old) {
      regs[idx] = rank;
      this.raised(idx, old, rank);
    }
  }

  /** The number of distinct values (exact in the exact phase, else the estimate rounded). */
  count(): number {
    if (this.registers === undefined) return this.size;
    return Math.round(estimate(this.hist!, this.registers.length, this.q));
  }

  /** The union of this and `other`, in place. Both must have the same precision. */
  merge(other: HyperLogLog): this {
    if (other.precision !== this.precision) throw new RangeError(`cannot merge HyperLogLog of precision ${other.precision} into precision ${this.precision}`);
    if (other.registers === undefined) {
      const t = other.table as Float64Array;
      for (let j = 0; j < t.length; j++) {
        const h = t[j]!;
        if (h !== 0) this.addHash(h);
      }
      return this;
    }
    if (this.registers === undefined) this.toRegisters();
    const a = this.registers as Uint8Array;
    const b = other.registers;
    // a sparse sketch that lists its non-zero registers: visit those, else every register
    const nz = other.nz;
    const n = nz !== undefined ? other.nzLen : a.length;
    for (let k = 0; k < n; k++) {
      const j = nz !== undefined ? nz[k]! : k;
      const x = b[j]!;
      const y = a[j]!;
      if (x > y) {
        a[j] = x;
        this.raised(j, y, x);
      }
    }
    return this;
  }

  clone(): HyperLogLog {
    return HyperLogLog.fromJSON(this.toJSON());
  }

  toJSON(): HllJson {
    if (this.registers !== undefined) {
      return {
        v: 1,
        p: this.precision,
        t: this.threshold,
        registers: Buffer.from(this.registers.buffer, this.registers.byteOffset, this.registers.length).toString('base64'),
      };
    }
    const exact: number[] = [];
    const t = this.table as Float64Array;
    for (let j = 0; j < t.length; j++) if (t[j] !== 0) exact.push(t[j]!);
    exact.sort((x, y) => x - y);
    return { v: 1, p: this.precision, t: this.threshold, exact };
  }

  /** Rebuild from `toJSON()` output; throws RangeError with the reason on malformed input. */
  static fromJSON(j: unknown): HyperLogLog {
    if (j === null || typeof j !== 'object') throw new RangeError('HyperLogLog JSON must be an object');
    const o = j as Partial<HllJson>;
    if (o.v !== 1) throw new RangeError(`unsupported HyperLogLog JSON version ${JSON.stringify(o.v)}`);
    if (typeof o.p !== 'number' || typeof o.t !== 'number') throw new RangeError('HyperLogLog JSON needs numbers p and t');
    if (o.registers !== undefined) {
      const h = new HyperLogLog({ precision: o.p, threshold: 0 });
      const bytes = Buffer.from(String(o.registers), 'base64');
      if (bytes.length !== 1 << o.p) throw new RangeError(`HyperLogLog registers must be ${1 << o.p} bytes, got ${bytes.length}`);
      for (let i = 0; i < bytes.length; i++) {
        if (bytes[i]! > h.q + 1) throw new RangeError(`HyperLogLog register ${i} holds ${bytes[i]}, above the maximum ${h.q + 1}`);
      }
      h.registers!.set(bytes);
      h.setRegisters(h.registers); // the histogram of these registers
      (h as { threshold: number }).threshold = o.t;
      return h;
    }
    if (!Array.isArray(o.exact)) throw new RangeError('HyperLogLog JSON needs "exact" or "registers"');
    const h = new HyperLogLog({ precision: o.p, threshold: Math.max(o.t, 1) });
    (h as { threshold: number }).threshold = o.t;
    if (o.t === 0) {
      h.table = undefined;
      h.setRegisters();
    }
    for (const x of o.exact) {
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0)
        throw new RangeError(`HyperLogLog exact hash must be a non-negative safe integer, got ${JSON.stringify(x)}`);
      h.addHash(x);
    }
    return h;
  }
}

/** Ertl's improved raw estimator, from the histogram `c` of the m registers' values. */
function estimate(c: Float64Array, m: number, q: number): number {
  let z = m * tau(1 - c[q + 1]! / m);
  for (let k = q; k >= 1; k--) z = 0.5 * (z + c[k]!);
  z += m * sigma(c[0]! / m);
  return (m * m) / (2 * Math.LN2 * z);
}

function sigma(x: number): number {
  if (x === 1) return Infinity;
  let y = 1;
  let z = x;
  for (;;) {
    x *= x;
    const zp = z;
    z += x * y;
    y += y;
    if (z === zp) return z;
  }
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let y = 1;
  let z = 1 - x;
  for (;;) {
    x = Math.sqrt(x);
    const zp = z;
    y *= 0.5;
    z -= (1 - x) * (1 - x) * y;
    if (z === zp) return z / 3;
  }
}
