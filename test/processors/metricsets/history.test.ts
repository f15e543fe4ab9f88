/**
 * The Explore history (history.ts) and the query over it (explore.ts): the
 * columnar path of the engine gives exactly what the live path gives for the
 * same events (so a preview and an exported metric cannot disagree), the
 * history is bounded by bytes and by age with the drops counted, and a query
 * answers the seed's "group by app.version, unique(_tx), unique(guid)" with
 * exact values.
 */
import { expect } from 'chai';
import { EventHistory, encodeChunk, SEAL_EVENTS } from '../../../processors/metricsets/history.js';
import { explore, ExploreError } from '../../../processors/metricsets/explore.js';
import type { Event } from '../../../src/model/events.js';
import { config, engine, ev, rows, S, T0 } from './helpers.js';
import { prng as rng } from '../../helpers/prng.js';

function randomEvents(seed: number, n: number, spanS: number): Event[] {
  const r = rng(seed);
  const out: Event[] = [];
  for (let i = 0; i < n; i++) {
    const a: Record<string, string | number | bigint | boolean> = { _tx: `tx${Math.floor(r() * n * 2)}`, guid: `g${Math.floor(r() * 40)}` };
    if (r() < 0.9) a['app.version'] = `1.${Math.floor(r() * 4)}`;
    if (r() < 0.7) a['error.type'] = ['Crash', 'Hang', 'OOM'][Math.floor(r() * 3)]!;
    if (r() < 0.5) a.latency_ms = Math.floor(r() * 1000);
    if (r() < 0.2) a.latency_ms = String(Math.floor(r() * 100)); // numeric strings count as numbers
    if (r() < 0.05) a.latency_ms = 'n/a';
    if (r() < 0.3) a.count = BigInt(Math.floor(r() * 5));
    if (r() < 0.3) a.crashed = r() < 0.5;
    out.push(ev(T0 + BigInt(Math.floor(r() * spanS * 1e9)), a));
  }
  return out;
}

describe('metricsets: the Explore history', () => {
  const sets = [
    {
      name: 'S',
      metrics: [
        { name: 'All', aggregates: ['count', 'unique(_tx)', 'unique(guid)'] },
        {
          name: 'ByVersion',
          group_by: ['app.version'],
          aggregates: [
            'count',
            'unique(guid)',
            'sum(latency_ms)',
            'min(latency_ms)',
            'max(latency_ms)',
            'mean(latency_ms)',
            'first(latency_ms)',
            'last(latency_ms)',
            'p90(latency_ms)',
          ],
        },
        {
          name: 'ByTypeVersion',
          filter: { 'error.type': { in: ['Crash', 'Hang'] } },
          group_by: ['error.type', 'app.version'],
          group_by_defaults: { 'app.version': 'unknown' },
          aggregates: ['count', 'unique(_tx)', 'sum(count)'],
        },
        {
          name: 'Slow',
          filter: { any: [{ latency_ms: { gte: 500 } }, { crashed: true }], not: { guid: 'g1' } },
          group_by: ['crashed'],
          aggregates: ['count', 'max(latency_ms)'],
        },
        { name: 'Capped', group_by: ['guid'], aggregates: ['count'] },
      ],
    },
  ];

  for (const seed of [1, 2, 3, 4]) {
    it(`the columnar path gives exactly the live path's windows and counters (seed ${seed})`, () => {
      const events = randomEvents(seed, 3000, 600);
      const raw = { period: '60s', max_groups: 25, unique: { exact_threshold: 16 }, sets };
      const live = engine(raw);
      live.add(events, 0);
      const col = engine(raw);
      // several chunks of odd sizes, out of time order inside each
      let scanned = 0;
      for (let i = 0; i < events.length; i += 777) scanned += col.addColumns(encodeChunk(events.slice(i, i + 777), 0), -(2n ** 62n), 2n ** 62n);
      expect(scanned).to.equal(events.length);
      const a = rows(live.flushAll());
      const b = rows(col.flushAll());
      expect(a.length).to.be.greaterThan(50);
      expect(b).to.deep.equal(a);
      expect(col.counters).to.deep.equal(live.counters);
      // the max_groups cap was reached, so the overflow path was compared too
      expect(live.counters[4]!.overflow).to.be.greaterThan(0);
      expect(live.counters[2]!.matched).to.be.greaterThan(0);
    });
  }

  it('a dictionary per attribute; one whose values are nearly all new skips its lookups (a repeat then gets its own entry)', () => {
    const events: Event[] = [];
    for (let i = 0; i < 2000; i++) events.push(ev(T0 + BigInt(i), { _tx: i === 1999 ? 'tx-5' : `tx-${i}`, guid: `g${i % 40}`, same: 'tx-7' }));
    const c = encodeChunk(events, 0);
    const col = (k: string) => c.cols[c.keyIndex.get(k)!]!;
    const values = (k: string) => [...col(k)].map((id) => c.dict[id - 1]);
    // every value reads back as it was
    expect(values('_tx')).to.deep.equal(events.map((e) => e.attributes._tx));
    expect(values('guid')).to.deep.equal(events.map((e) => e.attributes.guid));
    // guid: 40 entries; same: 1 (its own dictionary: not shared with _tx's "tx-7"); _tx: one per event, the late repeat of tx-5 included
    expect(new Set(col('guid')).size).to.equal(40);
    expect(new Set(col('same')).size).to.equal(1);
    expect(new Set(col('_tx')).size).to.equal(2000);
    expect(c.dict.length).to.equal(2000 + 40 + 1);
  });

  it('skips events outside the time range, at the boundaries exactly', () => {
    const events = [ev(T0, { a: 'x' }), ev(T0 + 10n * S - 1n, { a: 'x' }), ev(T0 + 10n * S, { a: 'x' }), ev(T0 + 20n * S, { a: 'y' })];
    const e = engine({ period: '60s', sets: [{ name: 'S', metrics: [{ name: 'M', group_by: ['a'], aggregates: ['count'] }] }] });
    expect(e.addColumns(encodeChunk(events, 0), T0 + 1n, T0 + 20n * S)).to.equal(2);
    expect(rows(e.flushAll()).map((r) => [r.attrs, r.value])).to.deep.equal([[JSON.stringify([['a', 'x']]), 2]]);
  });

  it('is bounded by bytes: the oldest chunks go first and are counted', () => {
    let now = 1_000_000;
    const h = new EventHistory({ maxAgeMs: 3_600_000, maxBytes: 600_000 }, () => now);
    const events = randomEvents(9, SEAL_EVENTS * 4, 60);
    for (let i = 0; i < events.length; i += 100) {
      now += 1;
      h.append(events.slice(i, i + 100));
    }
    h.seal();
    const st = h.stats();
    expect(st.bytes).to.be.at.most(600_000);
    expect(st.dropped_by_bytes).to.be.greaterThan(0);
    expect(st.events + st.dropped_by_bytes).to.equal(events.length);
    expect(st.dropped_by_age).to.equal(0);
    expect(st.bytes_per_event).to.be.within(20, 200);
  });

  it('is bounded by age: chunks older than max_age are dropped and counted', () => {
    let now = 1_000_000;
    const h = new EventHistory({ maxAgeMs: 60_000, maxBytes: 64 << 20 }, () => now);
    h.append(randomEvents(5, 1000, 10));
    h.seal();
    now += 30_000;
    h.append(randomEvents(6, 500, 10));
    expect(h.events).to.equal(1500);
    now += 31_000; // the first 1000 are 61 s old, the next 500 are 31 s old
    const st = h.stats();
    expect(st.events).to.equal(500);
    expect(st.dropped_by_age).to.equal(1000);
    now += 30_000;
    expect(h.stats().events).to.equal(0);
    expect(h.droppedByAge).to.equal(1500);
  });

  describe('explore()', () => {
    const nowMs = Number(T0 / 1_000_000n) + 600_000;
    const cfg = config({ period: '60s' });
    /** the seed's example: 3 versions, each with known distinct _tx and guid */
    function seeded(): EventHistory {
      const h = new EventHistory({ maxAgeMs: 3_600_000, maxBytes: 64 << 20 }, () => nowMs);
      const events: Event[] = [];
      const spec: Array<[string, number, number]> = [
        ['2.0.0', 120, 7],
        ['2.1.0', 45, 3],
        ['1.9.9', 9, 9],
      ];
      for (const [v, txs, users] of spec) {
        for (let i = 0; i < txs; i++) {
          // every _tx twice (a resend): unique must not count it twice
          for (const dup of [0, 1])
            events.push(
              ev(T0 + BigInt(i % 300) * S + BigInt(dup), { _tx: `${v}-tx${i}`, guid: `${v}-u${i % users}`, 'app.version': v, '<script>': '<b>x</b>' }),
            );
        }
      }
      h.append(events);
      return h;
    }

    it('group by app.version, unique(_tx), unique(guid): the exact values, biggest first', () => {
      const r = explore(seeded(), cfg, { group_by: ['app.version'], aggregates: ['unique(_tx)', 'unique(guid)'], from: '1h' }, nowMs);
      expect(r.rows).to.deep.equal([
        { group: { 'app.version': '2.0.0' }, values: [120, 7] },
        { group: { 'app.version': '2.1.0' }, values: [45, 3] },
        { group: { 'app.version': '1.9.9' }, values: [9, 9] },
      ]);
      expect(r.events_scanned).to.equal(2 * (120 + 45 + 9));
      expect(r.groups_total).to.equal(3);
      expect(r.bucket_ms).to.equal(60_000);
      expect(r.outputs).to.deep.equal(['<metric>.unique._tx', '<metric>.unique.guid']);
      // the chart: per bucket of one period, the values the processor sends for that window
      const s = r.series[0]!;
      expect(s.aggregate).to.equal('unique(_tx)');
      expect(s.times.length).to.equal(60); // the buckets of the hour
      const t0 = s.times.indexOf(Number(T0 / 1_000_000n));
      expect(t0).to.equal(50);
      const v200 = s.groups.find((g) => g.group['app.version'] === '2.0.0')!;
      expect(v200.values.slice(t0 - 1, t0 + 3)).to.deep.equal([null, 60, 60, null]);
      expect(v200.values.filter((v) => v !== null)).to.deep.equal([60, 60]);
    });

    it('limit and offset page through the rows; a filter narrows them', () => {
      const h = seeded();
      const p2 = explore(h, cfg, { group_by: ['app.version'], aggregates: ['count'], limit: 1, offset: 1 }, nowMs);
      expect(p2.rows).to.deep.equal([{ group: { 'app.version': '2.1.0' }, values: [90] }]);
      expect(p2.groups_total).to.equal(3);
      const f = explore(h, cfg, { filter: { 'app.version': { regex: '^2\\.' } }, aggregates: ['count', 'unique(guid)'] }, nowMs);
      expect(f.rows).to.deep.equal([{ group: {}, values: [330, 10] }]);
      expect(f.events_matched).to.equal(330);
    });

    it('a time frame outside the events finds nothing; many buckets are grown by whole periods', () => {
      const h = seeded();
      const empty = explore(h, cfg, { aggregates: ['count'], from: '1m', to: new Date(nowMs - 3_600_000).toISOString() }, nowMs);
      expect(empty.rows).to.deep.equal([]);
      expect(empty.events_scanned).to.equal(0);
      const wide = explore(h, cfg, { aggregates: ['count'], from: '24h' }, nowMs);
      expect(wide.bucket_ms).to.equal(720_000);
      expect(wide.rows).to.deep.equal([{ group: {}, values: [348] }]);
    });

    it('bad queries: every error with its key path', () => {
      const h = seeded();
      const bad = (q: unknown): ExploreError => {
        try {
          explore(h, cfg, q, nowMs);
        } catch (e) {
          return e as ExploreError;
        }
        throw new Error('no error');
      };
      const e1 = bad({ aggregates: ['uniq(_tx)', 'count(x)'], group_by: ['a', 'a'], from: 'yesterday-ish' });
      expect(e1).to.be.instanceOf(ExploreError);
      expect(e1.errors.map((e) => e.path)).to.deep.equal(['from']);
      const e2 = bad({ aggregates: ['uniq(_tx)', 'count(x)'], group_by: ['a', 'a'], filter: { x: { frobnicate: 1 } } });
      expect(e2.errors.map((e) => e.path)).to.deep.equal(['filter.x.frobnicate', 'group_by[1]', 'aggregates[0]', 'aggregates[1]']);
      expect(e2.errors[2]!.message).to.match(/unknown aggregate "uniq\(_tx\)"/);
      const e3 = bad({ aggregates: [], colour: 'red', limit: -1 });
      expect(e3.errors.map((e) => e.path)).to.deep.equal(['colour', 'aggregates', 'limit']);
    });
  });
});
