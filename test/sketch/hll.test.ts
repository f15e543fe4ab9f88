import { expect } from 'chai';
import { hash53 } from '../../src/sketch/hash.js';
import { HyperLogLog, hashValue } from '../../src/sketch/hll.js';

function filled(from: number, to: number, opts?: ConstructorParameters<typeof HyperLogLog>[0]): HyperLogLog {
  const h = new HyperLogLog(opts);
  for (let i = from; i < to; i++) h.addString(`fp-${i}`);
  return h;
}

describe('sketch: hash53', () => {
  it('is deterministic, 53-bit, and spreads sequential keys', () => {
    expect(hash53('abc')).to.equal(hash53('abc'));
    expect(hash53('abc')).to.not.equal(hash53('abd'));
    expect(hash53('')).to.be.a('number');
    const buckets = new Array(16).fill(0);
    for (let i = 0; i < 160_000; i++) {
      const h = hash53(`user-${i}`);
      if (!Number.isSafeInteger(h) || h < 0) throw new Error(`bad hash ${h}`);
      buckets[Math.floor(h / 2 ** 49)]++;
    }
    // each top-4-bit bucket within 3% of 10,000
    for (const b of buckets) expect(b).to.be.within(9_700, 10_300);
  });
  it('separates types: "1", 1, 1n and true hash differently', () => {
    const hs = new Set(['1', 1, 1n, true, 'true'].map(hashValue));
    expect(hs.size).to.equal(5);
  });
});

describe('sketch: HyperLogLog', () => {
  it('is exact up to the threshold (1,024 by default), then converts to 16 KiB of registers', () => {
    const h = new HyperLogLog();
    for (let i = 0; i < 1024; i++) {
      h.addString(`v${i}`);
      h.addString(`v${i}`);
    }
    expect(h.isExact).to.equal(true);
    expect(h.count()).to.equal(1024);
    expect(h.byteSize).to.equal(16 * 1024); // 2,048 slots × 8 bytes
    h.addString('one more');
    expect(h.isExact).to.equal(false);
    expect(h.byteSize).to.equal(16384);
    expect(Math.abs(h.count() - 1025)).to.be.at.most(10);
  });

  for (const n of [10_000, 100_000, 1_000_000]) {
    it(`estimates ${n.toLocaleString('en')} distinct values within 2%`, () => {
      const h = filled(0, n);
      const est = h.count();
      expect(Math.abs(est - n) / n, `estimate ${est}`).to.be.below(0.02);
      expect(h.byteSize).to.equal(16384);
      // duplicates change nothing
      for (let i = 0; i < 1000; i++) h.addString(`fp-${i}`);
      expect(h.count()).to.equal(est);
    });
  }

  it('estimates within 2% at other sizes and for other key shapes (no bias band)', () => {
    for (const n of [2_000, 20_000, 40_000, 60_000, 80_000, 300_000]) {
      const h = new HyperLogLog();
      for (let i = 0; i < n; i++) h.addString(`${(i * 2654435761) % 4294967296}-${i}`);
      expect(Math.abs(h.count() - n) / n, `n=${n} est=${h.count()}`).to.be.below(0.02);
    }
  });

  it('merge equals the sketch of the union (registers identical), in any order', () => {
    const a = filled(0, 600_000);
    const b = filled(400_000, 1_000_000);
    const u = filled(0, 1_000_000);
    const ab = a.clone().merge(b);
    const ba = b.clone().merge(a);
    expect(ab.toJSON()).to.deep.equal(u.toJSON());
    expect(ba.toJSON()).to.deep.equal(u.toJSON());
    expect(Math.abs(ab.count() - 1_000_000) / 1e6).to.be.below(0.02);
  });

  it('merging exact sets stays exact while the union fits, and converts when it does not', () => {
    const a = filled(0, 300);
    const b = filled(200, 500);
    a.merge(b);
    expect(a.isExact).to.equal(true);
    expect(a.count()).to.equal(500);
    const c = filled(0, 700).merge(filled(700, 1400));
    expect(c.isExact).to.equal(false);
    expect(c.toJSON()).to.deep.equal(filled(0, 1400).toJSON());
    // exact into registers and registers into exact
    const big = filled(0, 5000);
    const small = filled(4990, 5010);
    expect(big.clone().merge(small).toJSON()).to.deep.equal(filled(0, 5010).toJSON());
    expect(small.clone().merge(big).toJSON()).to.deep.equal(filled(0, 5010).toJSON());
  });

  it('serialises and restores both phases exactly', () => {
    for (const h of [filled(0, 10), filled(0, 50_000), new HyperLogLog()]) {
      const j = JSON.parse(JSON.stringify(h.toJSON()));
      const back = HyperLogLog.fromJSON(j);
      expect(back.toJSON()).to.deep.equal(h.toJSON());
      expect(back.count()).to.equal(h.count());
    }
  });

  it('rejects malformed JSON and bad options with the reason', () => {
    expect(() => HyperLogLog.fromJSON(null)).to.throw(RangeError, 'must be an object');
    expect(() => HyperLogLog.fromJSON({ v: 2, p: 14, t: 0 })).to.throw(RangeError, 'version');
    expect(() => HyperLogLog.fromJSON({ v: 1, p: 14, t: 0, registers: 'AAAA' })).to.throw(RangeError, 'must be 16384 bytes, got 3');
    expect(() => HyperLogLog.fromJSON({ v: 1, p: 14, t: 10, exact: [-1] })).to.throw(RangeError, 'non-negative safe integer');
    expect(() => HyperLogLog.fromJSON({ v: 1, p: 14, t: 10 })).to.throw(RangeError, '"exact" or "registers"');
    expect(() => new HyperLogLog({ precision: 20 })).to.throw(RangeError, '4..18');
    expect(() => filled(0, 10).merge(new HyperLogLog({ precision: 12 }))).to.throw(RangeError, 'precision 12 into precision 14');
  });
});
