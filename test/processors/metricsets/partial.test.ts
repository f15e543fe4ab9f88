/**
 * Scope cluster, the pure part: four engines each see a round-robin quarter
 * of an event stream, one engine sees all of it; the owner-side merge of the
 * four engines' partials (by partition, through the wire encoding) builds the
 * same metrics as the single engine: counts, sums, min/max, first/last equal,
 * uniques equal to the single instance's estimate (exact sets past the
 * threshold become the same registers), percentiles from the same sketch.
 */
import { expect } from 'chai';
import type { Event } from '../../../src/model/events.js';
import { chunkEntries, decodeEnvelope, encodeEnvelope, valueFromWire, valueToWire } from '../../../src/fleet/wire.js';
import { mergeEntries, metricIndex, windowEntries, zeroFillOwner } from '../../../processors/metricsets/partial.js';
import { engine, ev, rows, S, T0 } from './helpers.js';

const P = 60n * S;
const SETS = {
  period: '60s',
  unique: { exact_threshold: 64, precision: 12 },
  sets: [
    {
      name: 'Fleet',
      metrics: [
        {
          name: 'ByVersion',
          group_by: ['app.version'],
          aggregates: ['count', 'unique(guid)', 'sum(ms)', 'min(ms)', 'max(ms)', 'mean(ms)', 'first(ms)', 'last(ms)', 'p50(ms)', 'p99(ms)'],
        },
        { name: 'All', aggregates: ['count', 'unique(guid)', 'sum(ms)'] },
        { name: 'Empty', filter: { never: { equals: 'x' } }, aggregates: ['count'] },
      ],
    },
  ],
};

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

describe('metricsets scope cluster: partials merged by the owners equal one instance', () => {
  it('4 publishers, 16 partitions, 3 windows: every series equal to the single instance, one series per group', () => {
    const r = rng(7);
    const events: Event[] = [];
    for (let i = 0; i < 6000; i++) {
      const w = BigInt(i % 3);
      // distinct event times (first/last have no ties), integer values (sums exact in any order)
      const t = T0 + w * P + BigInt(i) * 1_000_000n;
      events.push(ev(t, { 'app.version': `2.${Math.floor(r() * 5)}`, guid: `u-${Math.floor(r() * 900)}`, ms: Math.floor(r() * 5000) - 100, n: 1n }));
    }
    const single = engine(SETS);
    single.add(events, 0);
    const pubs = [0, 1, 2, 3].map(() => engine(SETS));
    events.forEach((e, i) => pubs[i % 4]!.add([e], 0));
    const PARTS = 16;
    const owner = engine(SETS);
    const index = metricIndex(owner);
    const want = rows(single.flushAll());
    const got = [];
    for (let k = 0; k < 3; k++) {
      const kk = Number(T0 / P) + k;
      // every publisher's closed window, through the wire (envelope, chunks of at most 4 KiB)
      const byPart: unknown[][][] = Array.from({ length: PARTS }, () => []);
      for (const [pi, pub] of pubs.entries()) {
        const w = pub.flushAllWindows(0).find((x) => x.k === kk) ?? pub.emptyWindow(kk);
        // flushAllWindows takes every window out: put the others back for the next round by re-adding is not possible, so close one by one
        windowEntries(pub, w, PARTS).forEach((entries, p) => {
          const chunks = chunkEntries(entries, 4096);
          chunks.forEach((c, i) => {
            const env = decodeEnvelope(encodeEnvelope({ c: 'metricsets', pub: `n${pi}`, from: 0, k: kk, P: 60000, p, i, n: chunks.length }, c));
            byPart[p]!.push(env.e);
          });
        });
        // the remaining windows go back into a fresh engine of this publisher
        const rest = events.filter((e, i) => i % 4 === pi && e.timeUnixNano >= BigInt(kk + 1) * P);
        pubs[pi] = engine(SETS);
        pubs[pi]!.add(rest, 0);
      }
      for (let p = 0; p < PARTS; p++) {
        const w = owner.emptyWindow(kk);
        for (const entries of byPart[p]!) mergeEntries(owner, index, w, entries);
        const b = owner.buildWindow(w, zeroFillOwner(owner, PARTS, p));
        if (b !== undefined) got.push(b);
      }
    }
    const g = rows(got);
    const key = (x: { window: bigint; name: string; attrs: string }) => `${x.window}|${x.name}|${x.attrs}`;
    const sort = (a: typeof g) => [...a].sort((x, y) => key(x).localeCompare(key(y)));
    // one series per group: no key twice
    expect(new Set(g.map(key)).size).to.equal(g.length);
    expect(sort(g)).to.deep.equal(sort(want));
    // the data had uniques past the exact threshold (registers), and the zero-filled group-less metric exists once per window
    expect(want.filter((x) => x.name === 'ByVersion.unique.guid').every((x) => x.value > 64)).to.equal(true);
    expect(g.filter((x) => x.name === 'Empty.count').map((x) => x.value)).to.deep.equal([0, 0, 0]);
  });

  it('an entry of another config is refused with its position, the window unharmed', () => {
    const owner = engine(SETS);
    const w = owner.emptyWindow(1);
    expect(() => mergeEntries(owner, metricIndex(owner), w, [['Other\u0000M', '', {}, 1, [], []]])).to.throw(
      /entry 0: metric "Other\/M" is not in this config/,
    );
    expect(() => mergeEntries(owner, metricIndex(owner), w, [['Fleet\u0000All', '', {}, 1, [], []]])).to.throw(/entry 0: the aggregates of Fleet\/All differ/);
    expect(owner.buildWindow(w, () => false)).to.equal(undefined);
  });

  it('attribute values keep their type on the wire', () => {
    for (const v of ['1', 1, 1n, true, null, 1.5, Number.POSITIVE_INFINITY, new Uint8Array([1, 2]), ['a', 2n], { k: 3n }]) {
      expect(valueFromWire(JSON.parse(JSON.stringify(valueToWire(v))))).to.deep.equal(v);
    }
  });

  it('chunks stay under the byte bound and keep every entry', () => {
    const entries = Array.from({ length: 100 }, (_, i) => JSON.stringify(['m', `g${i}`, 'x'.repeat(100)]));
    const chunks = chunkEntries(entries, 1000);
    expect(chunks.flat()).to.deep.equal(entries);
    for (const c of chunks) expect(c.join(',').length).to.be.at.most(1000);
    expect(chunkEntries([])).to.deep.equal([[]]);
  });
});
