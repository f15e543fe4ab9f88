/** The period accumulator against semantics.md §1–§4 and §6, on a fake clock. */
import { expect } from 'chai';
import { PeriodAccumulator, type StorePoint } from '../../src/storehelper/accumulator.js';
import { S, batch, gauge, hist, histogram, num, sum } from './util.js';

const T0 = 1_700_000_000; // seconds, a multiple of 10
function make(over: Partial<ConstructorParameters<typeof PeriodAccumulator>[0]> = {}) {
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
    ...over,
  });
  return { acc, clock };
}
const t = (s: number): bigint => BigInt(s) * S;
const brief = (ps: StorePoint[]) =>
  ps.map((p) => ({ name: p.meta.name, start: Number(p.start / S), time: Number(p.time / S), value: p.value, attrs: p.meta.attrs }));

describe('storehelper: period accumulator (semantics.md)', () => {
  it('§2/§3 delta sums add within an epoch-aligned window by point time; emitted with start = window start, time = window end, at end + lateness', () => {
    const { acc, clock } = make();
    clock.ms = (T0 + 3) * 1000;
    acc.add(
      batch([sum('req', [num(t(T0 + 1), 2n, { r: 'a' }), num(t(T0 + 9), 3n, { r: 'a' }), num(t(T0 + 10), 5n, { r: 'a' }), num(t(T0 + 2), 7n, { r: 'b' })])]),
    );
    clock.ms = (T0 + 10) * 1000 + 999; // end + lateness − 1 ms
    expect(acc.collect()).to.deep.equal([]);
    clock.ms = (T0 + 11) * 1000;
    expect(brief(acc.collect())).to.deep.equal([
      { name: 'req', start: T0, time: T0 + 10, value: 5n, attrs: { r: 'a' } },
      { name: 'req', start: T0, time: T0 + 10, value: 7n, attrs: { r: 'b' } },
    ]);
    clock.ms = (T0 + 21) * 1000;
    expect(brief(acc.collect())).to.deep.equal([{ name: 'req', start: T0 + 10, time: T0 + 20, value: 5n, attrs: { r: 'a' } }]);
  });

  it('§1 attribute values are typed: "1" and 1 are two series; double and int values stay apart', () => {
    const { acc, clock } = make();
    acc.add(batch([sum('x', [num(t(T0 + 1), 1, { k: '1' }), num(t(T0 + 1), 2, { k: 1n }), num(t(T0 + 2), 4, { k: 1n })])]));
    clock.ms = (T0 + 11) * 1000;
    expect(brief(acc.collect()).map((p) => p.value)).to.deep.equal([1, 6]);
    expect(acc.seriesCount()).to.equal(2);
  });

  it('§3 gauges keep the last value by point time, not arrival order', () => {
    const { acc, clock } = make();
    acc.add(batch([gauge('temp', [num(t(T0 + 8), 30), num(t(T0 + 2), 10), num(t(T0 + 5), 20)])]));
    clock.ms = (T0 + 11) * 1000;
    expect(brief(acc.collect())).to.deep.equal([{ name: 'temp', start: T0, time: T0 + 10, value: 30, attrs: {} }]);
  });

  it('§2 late delta points fold into the earliest open window (counted late); late gauges are dropped (counted stale)', () => {
    const { acc, clock } = make();
    clock.ms = (T0 + 11) * 1000;
    acc.collect(); // window [T0, T0+10) is now closed
    acc.add(batch([sum('req', [num(t(T0 + 5), 4n)]), gauge('temp', [num(t(T0 + 5), 1)])]));
    expect(acc.counters.late).to.equal(1);
    expect(acc.counters.stale).to.equal(1);
    clock.ms = (T0 + 21) * 1000;
    expect(brief(acc.collect())).to.deep.equal([{ name: 'req', start: T0 + 10, time: T0 + 20, value: 4n, attrs: {} }]);
  });

  it('§2 a point more than one period ahead is taken as arriving now, counted', () => {
    const { acc, clock } = make();
    acc.add(batch([sum('req', [num(t(T0 + 3600), 1n)])]));
    expect(acc.counters.future).to.equal(1);
    clock.ms = (T0 + 11) * 1000;
    expect(brief(acc.collect())).to.deep.equal([{ name: 'req', start: T0, time: T0 + 10, value: 1n, attrs: {} }]);
  });

  it('§4 cumulative → delta: first point before our start is a baseline; increases; a restart after the last point counts from zero; a decrease without restart time is a new baseline', () => {
    const { acc, clock } = make();
    const c = (time: number, v: number, start: number) => sum('c', [num(t(time), BigInt(v), {}, t(start))], 'cumulative');
    acc.add(batch([c(T0 + 1, 100, T0 - 50)])); // began before we started: baseline only
    acc.add(batch([c(T0 + 2, 130, T0 - 50)])); // +30
    acc.add(batch([c(T0 + 4, 5, T0 + 3)])); // restarted at T0+3 > last point time T0+2: +5
    acc.add(batch([c(T0 + 5, 9, T0 + 3)])); // +4
    acc.add(batch([c(T0 + 6, 2, T0 + 3)])); // decrease, same start: reset, baseline 2, +0
    acc.add(batch([c(T0 + 7, 3, T0 + 3)])); // +1
    expect(acc.counters.baselines).to.equal(1);
    expect(acc.counters.resets).to.equal(2);
    clock.ms = (T0 + 11) * 1000;
    expect(brief(acc.collect()).map((p) => p.value)).to.deep.equal([30n + 5n + 4n + 0n + 1n]);
  });

  it('§4 the first point of a series that began after our start counts in full; out-of-order cumulative points are dropped, counted', () => {
    const { acc, clock } = make();
    acc.add(batch([sum('c', [num(t(T0 + 2), 7n, {}, t(T0 + 1))], 'cumulative')]));
    acc.add(batch([sum('c', [num(t(T0 + 1), 5n, {}, t(T0 + 1))], 'cumulative')]));
    expect(acc.counters.out_of_order).to.equal(1);
    clock.ms = (T0 + 11) * 1000;
    expect(brief(acc.collect()).map((p) => p.value)).to.deep.equal([7n]);
  });

  it('cumulative: "cumulative" keeps the last running total as is', () => {
    const { acc, clock } = make({ cumulative: 'cumulative' });
    acc.add(batch([sum('c', [num(t(T0 + 1), 100n, {}, t(T0 - 50)), num(t(T0 + 2), 130n, {}, t(T0 - 50))], 'cumulative')]));
    clock.ms = (T0 + 11) * 1000;
    const ps = acc.collect();
    expect(ps.map((p) => [p.value, p.meta.temporality])).to.deep.equal([[130n, 'cumulative']]);
  });

  it('§3 delta histograms merge bucket by bucket; changed bounds close the old version (counted)', () => {
    const { acc, clock } = make();
    acc.add(batch([histogram('lat', [hist(t(T0 + 1), [1, 5], [1, 2, 0], 4, {}, 0n, [0.5, 3]), hist(t(T0 + 2), [1, 5], [0, 1, 3], 30, {}, 0n, [2, 9])])]));
    clock.ms = (T0 + 11) * 1000;
    const [p] = acc.collect();
    expect(p!.hist).to.deep.equal({ count: 7, sum: 34, min: 0.5, max: 9, bounds: [1, 5], counts: [1, 3, 3] });
    acc.add(batch([histogram('lat', [hist(t(T0 + 11), [1, 5], [1, 0, 0], 1), hist(t(T0 + 12), [2], [4, 0], 2)])]));
    clock.ms = (T0 + 21) * 1000;
    const ps = acc.collect();
    expect(acc.counters.bounds_changed).to.equal(1);
    expect(ps.map((x) => [x.hist!.bounds, x.hist!.counts])).to.deep.equal([
      [
        [1, 5],
        [1, 0, 0],
      ],
      [[2], [4, 0]],
    ]);
  });

  it('§4 cumulative histograms become per-bucket deltas', () => {
    const { acc, clock } = make();
    acc.add(batch([histogram('lat', [hist(t(T0 + 1), [1], [1, 1], 3, {}, t(T0))], 'cumulative')]));
    acc.add(batch([histogram('lat', [hist(t(T0 + 2), [1], [4, 2], 9, {}, t(T0))], 'cumulative')]));
    clock.ms = (T0 + 11) * 1000;
    const [p] = acc.collect();
    expect(p!.hist).to.deep.include({ count: 6, sum: 9, counts: [4, 2] });
  });

  it('§6 series are capped (drops counted) and expire after series_expiry (counted)', () => {
    const { acc, clock } = make({ maxSeries: 2, seriesExpiryMs: 30_000 });
    acc.add(batch([gauge('g', [num(t(T0 + 1), 1, { i: 1n }), num(t(T0 + 1), 2, { i: 2n }), num(t(T0 + 1), 3, { i: 3n })])]));
    expect(acc.counters.series_limit).to.equal(1);
    expect(acc.seriesCount()).to.equal(2);
    clock.ms = (T0 + 40) * 1000;
    expect(acc.collect()).to.have.length(2);
    expect(acc.counters.expired).to.equal(2);
    expect(acc.seriesCount()).to.equal(0);
  });

  it('collect(true) (shutdown) flushes the open window too', () => {
    const { acc } = make();
    acc.add(batch([sum('req', [num(t(T0 + 1), 1n)])]));
    expect(acc.collect()).to.deep.equal([]);
    expect(brief(acc.collect(true))).to.deep.equal([{ name: 'req', start: T0, time: T0 + 10, value: 1n, attrs: {} }]);
  });
});
