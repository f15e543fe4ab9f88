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

  it('keeps the estimate it had when count() scanned every register (pinned values; the kept histogram matches a rebuilt one)', () => {
    // count() reads a histogram of register values kept as registers change (adds, conversion, merges);
    // these figures are what the former full scan gave for the same inputs, and fromJSON rebuilds the histogram by a scan
    const got: number[][] = [];
    for (const [n, p, t] of [
      [100_000, 14, 1024],
      [5_000, 12, 0],
      [3_000, 14, 1024],
      [250_000, 10, 64],
    ] as const) {
      const a = new HyperLogLog({ precision: p, threshold: t });
      const b = new HyperLogLog({ precision: p, threshold: t });
      for (let i = 0; i < n; i++) (i % 3 ? a : b).addString(`v-${i}`);
      const m = a.clone().merge(b);
      got.push([a.count(), b.count(), m.count(), HyperLogLog.fromJSON(m.toJSON()).count()]);
    }
    expect(got).to.deep.equal([
      [67178, 33325, 100364, 100364],
      [3352, 1663, 5067, 5067],
      [2016, 1000, 3020, 3020],
      [167853, 80182, 247924, 247924],
    ]);
  });

  it('listNonZero (Explore): merging a sparse or a dense sketch gives the same registers as without the list', () => {
    for (const [n, kept] of [
      [1_500, true],
      [3_000, false],
      [40_000, false],
    ] as const) {
      // 1,500 values set fewer than 2^14 / 8 = 2,048 registers (the list is used); 3,000 and 40,000 more (it is dropped)
      const listed = new HyperLogLog({ listNonZero: true });
      const plain = new HyperLogLog();
      for (let i = 0; i < n; i++) {
        listed.addString(`u-${i}`);
        plain.addString(`u-${i}`);
      }
      expect((listed as unknown as { nz?: unknown }).nz !== undefined, `list kept for ${n}`).to.equal(kept);
      const base = filled(0, 5_000);
      const viaList = base.clone().merge(listed);
      const viaScan = base.clone().merge(plain);
      expect(viaList.toJSON()).to.deep.equal(viaScan.toJSON());
      expect(viaList.count()).to.equal(viaScan.count());
      expect(listed.toJSON()).to.deep.equal(plain.toJSON());
      // into an empty sketch too (the merge target's own histogram and list follow)
      const into = new HyperLogLog({ threshold: 0, listNonZero: true }).merge(listed);
      expect(into.toJSON().registers).to.equal(plain.toJSON().registers);
      expect(into.count()).to.equal(plain.count());
    }
  });

  it('a table reused from another sketch starts empty (exact counts stay exact)', () => {
    // A grows through tables of 256, 512 and 1,024 slots and gives them up; B grows into them next
    const a = filled(0, 1_000);
    expect(a.count()).to.equal(1_000);
    const b = filled(10_000, 10_600);
    expect(b.count()).to.equal(600);
    const c = filled(20_000, 20_900);
    for (let i = 0; i < 100; i++) c.addString(`fp-${i}`);
    expect(c.count()).to.equal(1_000);
    expect(c.isExact).to.equal(true);
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
