/**
 * The mergeable state behind each gauge of a metric set window
 * (`NumberDataPoint.aggregate`, semantics.md §7): a push store whose period
 * spans several windows of the set combines them exactly: uniques and
 * percentiles merge their sketches (the union, not the sum), min/max combine,
 * mean adds sum and count, first/last keep the earliest/latest by event time.
 *
 * The states reference the window's own sketches (no copy at emission; the
 * engine drops a window once it is built); a store clones the first state of
 * a period before merging into it.
 */
import type { WindowAggregate } from '../../src/model/metrics.js';
import { DDSketch } from '../../src/sketch/ddsketch.js';
import { HyperLogLog } from '../../src/sketch/hll.js';

abstract class Base implements WindowAggregate {
  abstract readonly kind: string;
  abstract clone(): WindowAggregate;
  abstract mergeFrom(other: WindowAggregate): void;
  abstract value(): number | bigint;
  toJSON(): undefined {
    return undefined;
  }
}

export class UniqueState extends Base {
  readonly kind: string;
  constructor(readonly hll: HyperLogLog) {
    super();
    this.kind = `unique/p${hll.precision}`;
  }
  clone(): UniqueState {
    return new UniqueState(this.hll.clone());
  }
  mergeFrom(other: WindowAggregate): void {
    this.hll.merge((other as UniqueState).hll);
  }
  value(): bigint {
    return BigInt(this.hll.count());
  }
}

export class QuantileState extends Base {
  readonly kind: string;
  constructor(
    readonly sketch: DDSketch,
    readonly q: number,
  ) {
    super();
    this.kind = `quantile/${q}/a${sketch.relativeAccuracy}`;
  }
  clone(): QuantileState {
    return new QuantileState(DDSketch.fromJSON(this.sketch.toJSON()), this.q);
  }
  mergeFrom(other: WindowAggregate): void {
    this.sketch.merge((other as QuantileState).sketch);
  }
  value(): number {
    return this.sketch.quantile(this.q) ?? 0;
  }
}

export class MinState extends Base {
  readonly kind = 'min';
  constructor(public v: number) {
    super();
  }
  clone(): MinState {
    return new MinState(this.v);
  }
  mergeFrom(other: WindowAggregate): void {
    const o = (other as MinState).v;
    if (o < this.v) this.v = o;
  }
  value(): number {
    return this.v;
  }
}

export class MaxState extends Base {
  readonly kind = 'max';
  constructor(public v: number) {
    super();
  }
  clone(): MaxState {
    return new MaxState(this.v);
  }
  mergeFrom(other: WindowAggregate): void {
    const o = (other as MaxState).v;
    if (o > this.v) this.v = o;
  }
  value(): number {
    return this.v;
  }
}

export class MeanState extends Base {
  readonly kind = 'mean';
  constructor(
    public sum: number,
    public n: number,
  ) {
    super();
  }
  clone(): MeanState {
    return new MeanState(this.sum, this.n);
  }
  mergeFrom(other: WindowAggregate): void {
    const o = other as MeanState;
    this.sum += o.sum;
    this.n += o.n;
  }
  value(): number {
    return this.sum / this.n;
  }
}

/** first (earliest event time wins; on a tie the window merged first) or last (latest wins; on a tie the window merged last) */
export class EdgeState extends Base {
  constructor(
    readonly kind: 'first' | 'last',
    public v: number,
    public t: bigint,
  ) {
    super();
  }
  clone(): EdgeState {
    return new EdgeState(this.kind, this.v, this.t);
  }
  mergeFrom(other: WindowAggregate): void {
    const o = other as EdgeState;
    if (this.kind === 'first' ? o.t < this.t : o.t >= this.t) {
      this.v = o.v;
      this.t = o.t;
    }
  }
  value(): number {
    return this.v;
  }
}
