/** src/model/exphist.ts: an exponential histogram point as explicit buckets (what every push store and the Prometheus store write). */
import { expect } from 'chai';
import { explicitFromExpPoint } from '../../src/model/exphist.js';
import { expPoint as ep } from '../helpers/batches.js';

const S = 1_000_000_000n;
const T0 = 1_700_000_000; // seconds
const t = (s: number): bigint => BigInt(s) * S;

describe('model: exponential histogram → explicit buckets (explicitFromExpPoint)', () => {
  it('one point: each exponential bucket one fixed bucket (upper bounds base^(i+1), negatives -base^i), zero bucket ≤ threshold, +Inf empty', () => {
    // scale 0 (base 2): negative index 0 = [-2,-1) ×4, zero ×1, positive (1,2] ×1, (2,4] ×2, (4,8] ×3
    const p = explicitFromExpPoint(
      ep(t(T0), {
        count: 11,
        sum: 20,
        zeroCount: 1,
        negative: { offset: 0, bucketCounts: [4] },
        positive: { offset: 0, bucketCounts: [1, 2, 3] },
        min: -1.5,
        max: 7,
      }),
    );
    expect({ bounds: p.explicitBounds, counts: p.bucketCounts, count: p.count, sum: p.sum, min: p.min, max: p.max }).to.deep.equal({
      bounds: [-1, 0, 2, 4, 8],
      counts: [4, 1, 1, 2, 3, 0],
      count: 11,
      sum: 20,
      min: -1.5,
      max: 7,
    });
    // scale 1 (base √2): positive offset 2 covers (2, 2√2]
    const q = explicitFromExpPoint(ep(t(T0), { scale: 1, count: 2, sum: 5, positive: { offset: 2, bucketCounts: [1, 1] } }));
    expect(q.explicitBounds).to.deep.equal([0, Math.pow(2, 3 / 2), 4]);
    expect(q.bucketCounts).to.deep.equal([0, 1, 1, 0]);
  });
});
