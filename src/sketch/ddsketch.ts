/**
 * DDSketch (Masson, Rim, Lee: "DDSketch: a fast and fully-mergeable quantile
 * sketch with relative-error guarantees", VLDB 2019): logarithmic buckets so
 * that every quantile is answered within a relative error α (default 1 %) of
 * a value of the input at that rank.
 *
 * - Positive values go to bucket ⌈log_γ(v)⌉ with γ = (1+α)/(1−α); negative
 *   values to a mirrored store; |v| below `minIndexable` counts as zero.
 * - Bounded: at most `maxBuckets` buckets per sign (default 2,048, enough for
 *   values spanning 10^-9..10^9 at 1 %); beyond that the lowest buckets
 *   collapse into one (the low quantiles lose accuracy first, as in the paper).
 * - `merge` adds bucket counts (same α required): mergeable across windows and
 *   replicas. count, sum, min and max are kept exactly alongside; quantiles
 *   are clamped into [min, max].
 * - `toJSON`/`fromJSON` round-trip exactly.
 */

const DD_DEFAULT_RELATIVE_ACCURACY = 0.01;
const DD_DEFAULT_MAX_BUCKETS = 2048;

export interface DDSketchOptions {
  /** 0 < α < 1 (default 0.01) */
  relativeAccuracy?: number;
  /** per sign (default 2,048) */
  maxBuckets?: number;
}

export interface DDSketchJson {
  v: 1;
  alpha: number;
  maxBuckets: number;
  count: number;
  zero: number;
  sum: number;
  min: number | null;
  max: number | null;
  /** bucket index → count */
  pos: Record<string, number>;
  neg: Record<string, number>;
}

class Store {
  readonly bins = new Map<number, number>();
  constructor(private readonly maxBuckets: number) {}

  add(index: number, n: number): void {
    const c = this.bins.get(index);
    if (c !== undefined) {
      this.bins.set(index, c + n);
      return;
    }
    this.bins.set(index, n);
    if (this.bins.size > this.maxBuckets) this.collapseLowest();
  }

  /** merge the two lowest buckets (counts move up one bucket) */
  private collapseLowest(): void {
    const keys = [...this.bins.keys()].sort((a, b) => a - b);
    const lo = keys[0]!;
    const next = keys[1]!;
    this.bins.set(next, this.bins.get(next)! + this.bins.get(lo)!);
    this.bins.delete(lo);
  }

  sortedKeys(): number[] {
    return [...this.bins.keys()].sort((a, b) => a - b);
  }
}

export class DDSketch {
  readonly relativeAccuracy: number;
  readonly maxBuckets: number;
  private readonly gamma: number;
  private readonly logGamma: number;
  private readonly minIndexable: number;
  private readonly pos: Store;
  private readonly neg: Store;
  private zero = 0;
  private n = 0;
  private total = 0;
  private lo = Infinity;
  private hi = -Infinity;

  constructor(opts: DDSketchOptions = {}) {
    const a = opts.relativeAccuracy ?? DD_DEFAULT_RELATIVE_ACCURACY;
    const mb = opts.maxBuckets ?? DD_DEFAULT_MAX_BUCKETS;
    if (!(a > 0 && a < 1)) throw new RangeError(`DDSketch relative accuracy must be in (0, 1), got ${a}`);
    if (!Number.isInteger(mb) || mb < 2) throw new RangeError(`DDSketch maxBuckets must be an integer ≥ 2, got ${mb}`);
    this.relativeAccuracy = a;
    this.maxBuckets = mb;
    this.gamma = (1 + a) / (1 - a);
    this.logGamma = Math.log(this.gamma);
    this.minIndexable = Math.max(Number.MIN_VALUE * this.gamma, 1e-300);
    this.pos = new Store(mb);
    this.neg = new Store(mb);
  }

  get count(): number {
    return this.n;
  }
  get sum(): number {
    return this.total;
  }
  get min(): number | undefined {
    return this.n === 0 ? undefined : this.lo;
  }
  get max(): number | undefined {
    return this.n === 0 ? undefined : this.hi;
  }

  /** Add a finite value (`n` times); non-finite values are ignored and return false. */
  add(v: number, n = 1): boolean {
    if (!Number.isFinite(v) || !(n > 0)) return false;
    if (v > this.minIndexable) this.pos.add(this.index(v), n);
    else if (v < -this.minIndexable) this.neg.add(this.index(-v), n);
    else this.zero += n;
    this.n += n;
    this.total += v * n;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
    return true;
  }

  private index(v: number): number {
    return Math.ceil(Math.log(v) / this.logGamma);
  }

  /** the representative value of bucket i: within α of every value in it */
  private value(i: number): number {
    return (2 * Math.pow(this.gamma, i)) / (this.gamma + 1);
  }

  /** The q-quantile (0 ≤ q ≤ 1), lower rank convention (rank = ⌊q·(n−1)⌋); undefined when empty. */
  quantile(q: number): number | undefined {
    if (this.n === 0 || !(q >= 0 && q <= 1)) return undefined;
    const rank = Math.floor(q * (this.n - 1));
    let seen = 0;
    let out: number | undefined;
    const negKeys = this.neg.sortedKeys();
    for (let j = negKeys.length - 1; j >= 0 && out === undefined; j--) {
      const k = negKeys[j]!;
      seen += this.neg.bins.get(k)!;
      if (seen > rank) out = -this.value(k);
    }
    if (out === undefined) {
      seen += this.zero;
      if (seen > rank) out = 0;
    }
    if (out === undefined) {
      for (const k of this.pos.sortedKeys()) {
        seen += this.pos.bins.get(k)!;
        if (seen > rank) {
          out = this.value(k);
          break;
        }
      }
    }
    out ??= this.hi;
    return Math.min(this.hi, Math.max(this.lo, out));
  }

  /** Add every value of `other` (same relative accuracy), in place. */
  merge(other: DDSketch): this {
    if (other.relativeAccuracy !== this.relativeAccuracy)
      throw new RangeError(`cannot merge DDSketch of relative accuracy ${other.relativeAccuracy} into ${this.relativeAccuracy}`);
    for (const [k, c] of other.pos.bins) this.pos.add(k, c);
    for (const [k, c] of other.neg.bins) this.neg.add(k, c);
    this.zero += other.zero;
    this.n += other.n;
    this.total += other.total;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
    return this;
  }

  toJSON(): DDSketchJson {
    const dump = (s: Store) => {
      const o: Record<string, number> = {};
      for (const k of s.sortedKeys()) o[String(k)] = s.bins.get(k)!;
      return o;
    };
    return {
      v: 1,
      alpha: this.relativeAccuracy,
      maxBuckets: this.maxBuckets,
      count: this.n,
      zero: this.zero,
      sum: this.total,
      min: this.n === 0 ? null : this.lo,
      max: this.n === 0 ? null : this.hi,
      pos: dump(this.pos),
      neg: dump(this.neg),
    };
  }

  /** Rebuild from `toJSON()` output; throws RangeError with the reason on malformed input. */
  static fromJSON(j: unknown): DDSketch {
    if (j === null || typeof j !== 'object') throw new RangeError('DDSketch JSON must be an object');
    const o = j as Partial<DDSketchJson>;
    if (o.v !== 1) throw new RangeError(`unsupported DDSketch JSON version ${JSON.stringify(o.v)}`);
    const s = new DDSketch({ relativeAccuracy: Number(o.alpha), maxBuckets: Number(o.maxBuckets) });
    const num = (x: unknown, what: string): number => {
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new RangeError(`DDSketch JSON: ${what} must be a finite number`);
      return x;
    };
    let n = num(o.zero, 'zero');
    s.zero = n;
    for (const [name, store] of [
      ['pos', s.pos],
      ['neg', s.neg],
    ] as const) {
      const bins = o[name];
      if (bins === null || typeof bins !== 'object') throw new RangeError(`DDSketch JSON: ${name} must be an object`);
      for (const [k, c] of Object.entries(bins)) {
        const idx = Number(k);
        if (!Number.isInteger(idx)) throw new RangeError(`DDSketch JSON: bucket index ${JSON.stringify(k)} is not an integer`);
        if (num(c, `${name}[${k}]`) <= 0) throw new RangeError(`DDSketch JSON: ${name}[${k}] must be positive`);
        store.add(idx, c);
        n += c;
      }
    }
    if (num(o.count, 'count') !== n) throw new RangeError(`DDSketch JSON: count ${o.count} differs from the bucket total ${n}`);
    s.n = n;
    s.total = num(o.sum, 'sum');
    if (n > 0) {
      s.lo = num(o.min, 'min');
      s.hi = num(o.max, 'max');
    }
    return s;
  }
}
