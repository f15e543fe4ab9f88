/**
 * The accumulator's compact representation (issue 19): a series keeps only
 * its canonical key, its attributes are rebuilt from it when a window is
 * emitted (every value type exactly), and ids of expired series are reused
 * without mixing windows.
 */
import { expect } from 'chai';
import { canonicalAttributes } from '../../src/model/attributes.js';
import type { Attributes } from '../../src/model/index.js';
import { PeriodAccumulator, parseCanonicalAttributes } from '../../src/storehelper/accumulator.js';
import { S, batch, gauge, num, sum } from './util.js';

const T0 = 1_700_000_000;

describe('storehelper: compact accumulator', () => {
  it('attributes come back from the canonical key with their types: strings with quotes/escapes/braces, numbers (NaN, ±Inf), bigints, booleans, null, bytes, arrays, kvlists, __proto__', () => {
    const cases: Attributes[] = [
      {},
      { a: 'x' },
      { s: 'q"u\\o,t=e}]{[', n: 1.5, neg: -2, nan: NaN, inf: Infinity, ninf: -Infinity, i: 12345678901234567890n, t: true, f: false, z: null },
      { b: new Uint8Array([0, 1, 254, 255]), arr: ['a', 1, 2n, [true, null], { k: 'v' }], kv: { inner: { deep: 'x,y}' }, n: 3 } },
      JSON.parse('{"__proto__": "p", "ünï": "ç"}') as Attributes,
    ];
    for (const a of cases) {
      const canon = canonicalAttributes(a);
      const back = parseCanonicalAttributes('7\u0001' + canon, 2);
      expect(canonicalAttributes(back), canon).to.equal(canon);
      expect(Object.keys(back)).to.deep.equal(Object.keys(a).sort());
    }
    const back = parseCanonicalAttributes(canonicalAttributes({ b: new Uint8Array([1, 2]), n: NaN }));
    expect(back.b).to.be.instanceOf(Uint8Array);
    expect(Number.isNaN(back.n as number)).to.equal(true);
  });

  it('emitted meta: the metric fields, the selected resource, host, and the point attributes', () => {
    const clock = { ms: T0 * 1000 };
    const acc = new PeriodAccumulator({
      periodMs: 10_000,
      latenessMs: 1_000,
      maxSeries: 100,
      seriesExpiryMs: 60_000,
      cumulative: 'delta',
      resourceAttributes: ['service.name'],
      now: () => clock.ms,
      startedAtMs: T0 * 1000,
    });
    acc.add(
      batch([sum('req', [num(BigInt(T0 + 1) * S, 2n, { route: '/a', code: 200n })], 'delta', true, 'By')], {
        'service.name': 'shop',
        'host.name': 'h1',
        pod: 'p1',
      }),
    );
    clock.ms = (T0 + 11) * 1000;
    const [p] = acc.collect();
    expect(p!.meta).to.deep.include({
      name: 'req',
      unit: 'By',
      kind: 'sum',
      temporality: 'delta',
      monotonic: true,
      resource: { 'service.name': 'shop' },
      host: 'h1',
      attrs: { code: 200n, route: '/a' },
    });
    expect(p!.value).to.equal(2n);
  });

  it('ids of expired series are reused; a series with a cell in an open window is not expired under it', () => {
    const clock = { ms: T0 * 1000 };
    const acc = new PeriodAccumulator({
      periodMs: 10_000,
      latenessMs: 1_000,
      maxSeries: 100,
      seriesExpiryMs: 5_000,
      cumulative: 'delta',
      resourceAttributes: [],
      now: () => clock.ms,
      startedAtMs: T0 * 1000,
    });
    acc.add(batch([gauge('g', [num(BigInt(T0 + 1) * S, 1, { k: 'old' })])]));
    clock.ms = (T0 + 11) * 1000;
    expect(acc.collect().map((p) => p.meta.attrs)).to.deep.equal([{ k: 'old' }]);
    expect(acc.counters.expired).to.equal(1); // last seen 11 s ago, its window emitted
    acc.add(batch([gauge('g', [num(BigInt(T0 + 12) * S, 2, { k: 'new' })])]));
    clock.ms = (T0 + 18) * 1000; // 'new' last seen 7 s ago (> expiry) but its window [T0+10, T0+20) is open
    expect(acc.collect()).to.deep.equal([]);
    expect(acc.seriesCount()).to.equal(1);
    clock.ms = (T0 + 21) * 1000;
    expect(acc.collect().map((p) => [p.meta.attrs, p.value])).to.deep.equal([[{ k: 'new' }, 2]]);
    expect(acc.seriesCount()).to.equal(0);
    expect(acc.counters.expired).to.equal(2);
  });
});
