import { expect } from 'chai';
import { Temporality } from '../../../src/model/metrics.js';
import { attrsKey, engine, ev, rows, S, T0, valuesOf } from './helpers.js';

const P = 60n * S;

/** The seed's four common metrics. */
const SEED_SETS = [
  {
    name: 'Common',
    metrics: [
      { name: 'Errors', aggregates: ['unique(_tx)'] },
      { name: 'ErrorsAndUsers', aggregates: ['unique(_tx)', 'unique(guid)'] },
      { name: 'ErrorsByFingerprint', group_by: ['fingerprint'], aggregates: ['unique(_tx)'] },
      { name: 'ErrorsAndUsersByVersion', group_by: ['app.version'], aggregates: ['unique(_tx)', 'unique(guid)', 'count'] },
    ],
  },
];

/** deterministic pseudo-random stream */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

describe('metricsets engine: exact answers', () => {
  it("the seed's four metrics over three windows match a brute-force count per window and group", () => {
    const r = rng(42);
    const events = [];
    // expected: window → { tx set, guid set, per fp tx set, per version {tx, guid, count} }
    const want = new Map<
      bigint,
      { tx: Set<string>; guid: Set<string>; fp: Map<string, Set<string>>; ver: Map<string, { tx: Set<string>; guid: Set<string>; n: number }> }
    >();
    for (let i = 0; i < 3000; i++) {
      const w = BigInt(i % 3);
      const t = T0 + w * P + BigInt(Math.floor(r() * 60_000)) * 1_000_000n;
      const tx = `tx-${Math.floor(i / 2)}`; // every tx appears twice (same window: i and i+1 differ in window, so dupes across windows too)
      const guid = `user-${Math.floor(r() * 200)}`;
      const fp = `fp-${Math.floor(r() * 25)}`;
      const ver = `1.${Math.floor(r() * 4)}`;
      events.push(ev(t, { _tx: tx, guid, fingerprint: fp, 'app.version': ver }));
      const k = T0 + w * P;
      let x = want.get(k);
      if (x === undefined) {
        x = { tx: new Set(), guid: new Set(), fp: new Map(), ver: new Map() };
        want.set(k, x);
      }
      x.tx.add(tx);
      x.guid.add(guid);
      if (!x.fp.has(fp)) x.fp.set(fp, new Set());
      x.fp.get(fp)!.add(tx);
      if (!x.ver.has(ver)) x.ver.set(ver, { tx: new Set(), guid: new Set(), n: 0 });
      const v = x.ver.get(ver)!;
      v.tx.add(tx);
      v.guid.add(guid);
      v.n++;
    }
    const e = engine({ sets: SEED_SETS });
    expect(e.add(events, 0)).to.deep.equal({ accepted: 3000, late: 0, future: 0 });
    const rs = rows(e.flushAll());
    expect(new Set(rs.map((x) => x.window))).to.deep.equal(new Set(want.keys()));
    for (const [k, x] of want) {
      const got = valuesOf(rs, k);
      const exp: Record<string, number> = {
        [`Errors.unique._tx|[]`]: x.tx.size,
        [`ErrorsAndUsers.unique._tx|[]`]: x.tx.size,
        [`ErrorsAndUsers.unique.guid|[]`]: x.guid.size,
      };
      for (const [fp, s] of x.fp) exp[`ErrorsByFingerprint.unique._tx|${attrsKey({ fingerprint: fp })}`] = s.size;
      for (const [ver, v] of x.ver) {
        const a = attrsKey({ 'app.version': ver });
        exp[`ErrorsAndUsersByVersion.unique._tx|${a}`] = v.tx.size;
        exp[`ErrorsAndUsersByVersion.unique.guid|${a}`] = v.guid.size;
        exp[`ErrorsAndUsersByVersion.count|${a}`] = v.n;
      }
      expect(got).to.deep.equal(exp);
      expect(rs.filter((x2) => x2.window === k).every((x2) => x2.end === k + P)).to.equal(true);
    }
    // 1000 events per window, 500 distinct tx in each
    expect(valuesOf(rs, T0)['Errors.unique._tx|[]']).to.equal(1000);
  });

  it('count and sum are delta sums (count monotonic); unique, min, max, mean, first, last, percentiles are gauges', () => {
    const e = engine({
      sets: [
        {
          name: 'S',
          metrics: [{ name: 'M', aggregates: ['count', 'sum(x)', 'unique(x)', 'min(x)', 'max(x)', 'mean(x)', 'first(x)', 'last(x)', 'p50(x)', 'p99(x)'] }],
        },
      ],
    });
    e.add([ev(T0 + 1n, { x: 5 })], 0);
    const rs = rows(e.flushAll());
    const kinds = Object.fromEntries(rs.map((r) => [r.name, [r.kind, r.temporality, r.monotonic]]));
    expect(kinds).to.deep.equal({
      'M.count': ['sum', Temporality.Delta, true],
      'M.sum.x': ['sum', Temporality.Delta, false],
      'M.unique.x': ['gauge', undefined, undefined],
      'M.min.x': ['gauge', undefined, undefined],
      'M.max.x': ['gauge', undefined, undefined],
      'M.mean.x': ['gauge', undefined, undefined],
      'M.first.x': ['gauge', undefined, undefined],
      'M.last.x': ['gauge', undefined, undefined],
      'M.p50.x': ['gauge', undefined, undefined],
      'M.p99.x': ['gauge', undefined, undefined],
    });
    expect(rs.every((r) => r.window === T0 && r.end === T0 + P)).to.equal(true);
  });

  it('sum, min, max, mean, first and last per group and window; first/last by event time, ties by arrival', () => {
    const e = engine({
      sets: [
        {
          name: 'S',
          metrics: [{ name: 'Lat', group_by: ['route'], aggregates: ['count', 'sum(ms)', 'min(ms)', 'max(ms)', 'mean(ms)', 'first(ms)', 'last(ms)'] }],
        },
      ],
    });
    e.add(
      [
        ev(T0 + 30n * S, { route: '/a', ms: 30 }),
        ev(T0 + 10n * S, { route: '/a', ms: 10 }), // earlier event time, later arrival: becomes first
        ev(T0 + 50n * S, { route: '/a', ms: 50 }),
        ev(T0 + 50n * S, { route: '/a', ms: 55 }), // tie at the latest time: the later arrival is last
        ev(T0 + 5n * S, { route: '/b', ms: '7.5' }), // numeric string
        ev(T0 + 6n * S, { route: '/b', ms: 2n }), // integer attribute
        ev(T0 + 7n * S, { route: '/b', ms: 'n/a' }), // not numeric: counted, ignored by numeric aggregates
        ev(T0 + P + 1n, { route: '/a', ms: 1000 }), // next window
      ],
      0,
    );
    expect(e.counters[0]!.non_numeric).to.equal(1);
    const rs = rows(e.flushAll());
    const a = attrsKey({ route: '/a' });
    const b = attrsKey({ route: '/b' });
    expect(valuesOf(rs, T0)).to.deep.equal({
      [`Lat.count|${a}`]: 4,
      [`Lat.sum.ms|${a}`]: 145,
      [`Lat.min.ms|${a}`]: 10,
      [`Lat.max.ms|${a}`]: 55,
      [`Lat.mean.ms|${a}`]: 36.25,
      [`Lat.first.ms|${a}`]: 10,
      [`Lat.last.ms|${a}`]: 55,
      [`Lat.count|${b}`]: 3,
      [`Lat.sum.ms|${b}`]: 9.5,
      [`Lat.min.ms|${b}`]: 2,
      [`Lat.max.ms|${b}`]: 7.5,
      [`Lat.mean.ms|${b}`]: 4.75,
      [`Lat.first.ms|${b}`]: 7.5,
      [`Lat.last.ms|${b}`]: 2,
    });
    expect(valuesOf(rs, T0 + P)).to.deep.equal({
      [`Lat.count|${a}`]: 1,
      [`Lat.sum.ms|${a}`]: 1000,
      [`Lat.min.ms|${a}`]: 1000,
      [`Lat.max.ms|${a}`]: 1000,
      [`Lat.mean.ms|${a}`]: 1000,
      [`Lat.first.ms|${a}`]: 1000,
      [`Lat.last.ms|${a}`]: 1000,
    });
  });

  it('percentiles within 1% of the exact rank value', () => {
    const e = engine({ sets: [{ name: 'S', metrics: [{ name: 'L', aggregates: ['p50(ms)', 'p90(ms)', 'p95(ms)', 'p99(ms)'] }] }] });
    const evs = [];
    for (let i = 1; i <= 1000; i++) evs.push(ev(T0 + BigInt(i), { ms: i }));
    e.add(evs, 0);
    const v = valuesOf(rows(e.flushAll()), T0);
    for (const [q, exact] of [
      ['p50', 500],
      ['p90', 900],
      ['p95', 950],
      ['p99', 990],
    ] as const) {
      expect(Math.abs(v[`L.${q}.ms|[]`]! - exact) / exact, q).to.be.at.most(0.01);
    }
  });

  it('window boundaries are exact to the nanosecond and aligned to the epoch', () => {
    const e = engine({ period: '60s', sets: [{ name: 'S', metrics: [{ name: 'C', aggregates: ['count'] }] }] });
    e.add([ev(T0 - 1n, {}), ev(T0, {}), ev(T0 + P - 1n, {}), ev(T0 + P, {})], 0);
    const rs = rows(e.flushAll());
    expect(rs.map((r) => [r.window, r.value])).to.deep.equal([
      [T0 - P, 1],
      [T0, 2],
      [T0 + P, 1],
    ]);
  });

  it('group_by: a missing attribute takes its default or drops the event for that metric (counted); typed values stay distinct', () => {
    const e = engine({
      sets: [
        {
          name: 'S',
          metrics: [
            { name: 'ByVer', group_by: ['app.version'], group_by_defaults: { 'app.version': 'unknown' }, aggregates: ['count'] },
            { name: 'ByVerStrict', group_by: ['app.version'], aggregates: ['count'] },
            { name: 'ByTwo', group_by: ['os', 'code'], aggregates: ['count'] },
          ],
        },
      ],
    });
    e.add([ev(T0, { 'app.version': '1.0', os: 'ios', code: 1 }), ev(T0, { os: 'ios', code: '1' }), ev(T0, { 'app.version': 'unknown', os: 'android' })], 0);
    expect(e.counters.map((c) => c.missing_group_by)).to.deep.equal([0, 1, 1]);
    expect(valuesOf(rows(e.flushAll()), T0)).to.deep.equal({
      [`ByVer.count|${attrsKey({ 'app.version': '1.0' })}`]: 1,
      [`ByVer.count|${attrsKey({ 'app.version': 'unknown' })}`]: 2,
      [`ByVerStrict.count|${attrsKey({ 'app.version': '1.0' })}`]: 1,
      [`ByVerStrict.count|${attrsKey({ 'app.version': 'unknown' })}`]: 1,
      [`ByTwo.count|${attrsKey({ os: 'ios', code: 1 })}`]: 1,
      [`ByTwo.count|${attrsKey({ os: 'ios', code: '1' })}`]: 1,
    });
  });
});

describe('metricsets engine: filters, every operator', () => {
  const events = [
    { level: 'error', code: 500, os: 'windows 10', user: 'a' },
    { level: 'fatal', code: 503, os: 'linux', user: 'b', crashed: true },
    { level: 'warn', code: 404, os: 'Windows 11', user: 'c' },
    { level: 'error', code: '200', os: 'macos', crashed: false },
    { level: 'info', os: 'linux', user: 'd' },
  ];
  const cases: Array<[string, unknown, number]> = [
    ['equals', { level: { equals: 'error' } }, 2],
    ['scalar shorthand', { level: 'error' }, 2],
    ['equals number vs string', { code: { equals: 200 } }, 1],
    ['equals boolean', { crashed: true }, 1],
    ['not_equals (missing satisfies)', { level: { not_equals: 'error' } }, 3],
    ['in', { level: { in: ['error', 'fatal'] } }, 3],
    ['not_in', { level: { not_in: ['error', 'fatal'] } }, 2],
    ['regex (anywhere)', { os: { regex: '(?i)^win'.replace('(?i)', '') } }, 1],
    ['regex case-insensitive class', { os: { regex: '^[Ww]indows' } }, 2],
    ['contains', { os: { contains: 'dows' } }, 2],
    ['exists', { user: { exists: true } }, 4],
    ['exists false', { user: { exists: false } }, 1],
    ['not_exists', { crashed: { not_exists: true } }, 3],
    ['lt', { code: { lt: 500 } }, 2],
    ['lte', { code: { lte: 500 } }, 3],
    ['gt', { code: { gt: 500 } }, 1],
    ['gte', { code: { gte: 500 } }, 2],
    ['range (two operators)', { code: { '>=': 400, '<': 504 } }, 3],
    ['implicit all of entries', { level: 'error', user: { exists: true } }, 1],
    ['any', { any: [{ level: 'fatal' }, { code: { lt: 300 } }] }, 2],
    ['all', { all: [{ os: { contains: 'linux' } }, { user: { exists: true } }] }, 2],
    ['nested any in all', { all: [{ any: [{ level: 'error' }, { level: 'warn' }] }, { code: { gte: 404 } }] }, 2],
    ['not', { not: { os: 'linux' } }, 3],
    ['attribute form', { all: [{ attribute: 'level', in: ['info', 'warn'] }] }, 2],
  ];
  for (const [label, filter, n] of cases) {
    it(`${label}: ${JSON.stringify(filter)} → ${n}`, () => {
      const e = engine({ sets: [{ name: 'S', metrics: [{ name: 'M', filter, aggregates: ['count'] }] }] });
      e.add(
        events.map((a) => ev(T0, a as never)),
        0,
      );
      expect(valuesOf(rows(e.flushAll()), T0)['M.count|[]'] ?? 0).to.equal(n);
    });
  }
});
