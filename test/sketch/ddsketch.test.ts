import { expect } from 'chai';
import { DDSketch } from '../../src/sketch/ddsketch.js';

/** exact lower-rank quantile, the convention DDSketch follows */
function exactQ(sorted: number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

describe('sketch: DDSketch', () => {
  it('answers p50/p90/p95/p99 within 1% relative error (log-normal latencies)', () => {
    const r = rng(7);
    const values: number[] = [];
    const s = new DDSketch();
    for (let i = 0; i < 100_000; i++) {
      const v = Math.exp(3 + 1.5 * (r() + r() + r() - 1.5));
      values.push(v);
      s.add(v);
    }
    values.sort((a, b) => a - b);
    for (const q of [0, 0.5, 0.9, 0.95, 0.99, 1]) {
      const want = exactQ(values, q);
      expect(Math.abs(s.quantile(q)! - want) / want, `q=${q}`).to.be.at.most(0.01);
    }
    expect(s.count).to.equal(100_000);
    expect(s.min).to.equal(values[0]);
    expect(s.max).to.equal(values[values.length - 1]);
  });

  it('handles zero and negative values', () => {
    const s = new DDSketch();
    for (const v of [-100, -10, 0, 0, 10, 100]) s.add(v);
    expect(s.quantile(0)).to.equal(-100);
    expect(Math.abs(s.quantile(0.2)! + 10)).to.be.at.most(0.1);
    expect(s.quantile(0.4)).to.equal(0);
    expect(s.quantile(1)).to.equal(100);
    expect(s.sum).to.equal(0);
  });

  it('ignores non-finite values and answers undefined when empty', () => {
    const s = new DDSketch();
    expect(s.add(NaN)).to.equal(false);
    expect(s.add(Infinity)).to.equal(false);
    expect(s.quantile(0.5)).to.equal(undefined);
    expect(s.quantile(2)).to.equal(undefined);
  });

  it('merge equals the sketch of all values, and round-trips through JSON', () => {
    const a = new DDSketch();
    const b = new DDSketch();
    const all = new DDSketch();
    for (let i = 1; i <= 1000; i++) {
      (i % 3 === 0 ? a : b).add(i);
      all.add(i);
    }
    a.merge(b);
    expect(a.toJSON()).to.deep.equal(all.toJSON());
    expect(Math.abs(a.quantile(0.99)! - 990) / 990).to.be.at.most(0.01);
    const back = DDSketch.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    expect(back.toJSON()).to.deep.equal(a.toJSON());
    expect(back.quantile(0.5)).to.equal(a.quantile(0.5));
  });

  it('stays bounded: at most maxBuckets buckets per sign', () => {
    const s = new DDSketch({ maxBuckets: 64 });
    for (let e = -200; e <= 200; e++) s.add(10 ** (e / 10));
    expect(Object.keys(s.toJSON().pos).length).to.be.at.most(64);
    expect(Math.abs(s.quantile(1)! - 1e20) / 1e20).to.be.at.most(0.01);
  });

  it('rejects malformed JSON and mismatched merges with the reason', () => {
    expect(() => DDSketch.fromJSON({ v: 1, alpha: 0.01, maxBuckets: 10, count: 5, zero: 0, sum: 0, min: 0, max: 0, pos: { 1: 1 }, neg: {} })).to.throw(
      RangeError,
      'count 5 differs from the bucket total 1',
    );
    expect(() => DDSketch.fromJSON({ v: 1, alpha: 0.01, maxBuckets: 10, count: 1, zero: 0, sum: 0, min: 0, max: 0, pos: { x: 1 }, neg: {} })).to.throw(
      RangeError,
      'not an integer',
    );
    expect(() => new DDSketch({ relativeAccuracy: 0.01 }).merge(new DDSketch({ relativeAccuracy: 0.02 }))).to.throw(RangeError, 'relative accuracy');
    expect(() => new DDSketch({ relativeAccuracy: 1 })).to.throw(RangeError, '(0, 1)');
  });
});
