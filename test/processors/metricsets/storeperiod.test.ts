/**
 * semantics.md §7, last rule: one metric set feeding stores with different
 * periods. A store period that is a multiple of the set's window combines the
 * windows exactly (counts/sums add, min/max combine, uniques and percentiles
 * merge their sketches); `validate` rejects a period that is not a multiple.
 */
import { expect } from 'chai';
import { createInflux } from '../../../exporters/influxdb/exporter.js';
import { checkConfig } from '../../../src/config/service-config.js';
import type { MetricsBatch, NumberDataPoint } from '../../../src/model/metrics.js';
import { registry } from '../../../src/registry.js';
import { DDSketch } from '../../../src/sketch/ddsketch.js';
import { HyperLogLog } from '../../../src/sketch/hll.js';
import { PeriodAccumulator, type StorePoint } from '../../../src/storehelper/accumulator.js';
import { settings } from '../../exporterhelper/fakes.js';
import { influxCfg } from '../../storehelper/util.js';
import { S, T0, engine, ev } from './helpers.js';

const MIN = 60n * S;

const SET = {
  period: '60s',
  sets: [
    {
      name: 'X',
      metrics: [
        {
          name: 'E',
          group_by: ['v'],
          aggregates: ['count', 'unique(guid)', 'sum(ms)', 'min(ms)', 'max(ms)', 'mean(ms)', 'first(ms)', 'last(ms)', 'p50(ms)', 'p99(ms)'],
        },
      ],
    },
  ],
};

function store(periodMs: number): PeriodAccumulator {
  // created at T0 (every window from T0 on is open), fed when both windows have been emitted; collect(true) closes everything
  const clock = { ms: Number(T0 / 1_000_000n) };
  const acc = new PeriodAccumulator({
    periodMs,
    latenessMs: 1000,
    maxSeries: 1000,
    seriesExpiryMs: 3_600_000,
    cumulative: 'cumulative',
    resourceAttributes: [],
    now: () => clock.ms,
  });
  clock.ms += 2 * 60_000 + 1_000;
  return acc;
}

function byName(points: StorePoint[]): Record<string, { start: bigint; time: bigint; value: number | bigint }[]> {
  const o: Record<string, { start: bigint; time: bigint; value: number | bigint }[]> = {};
  for (const p of points) (o[`${p.meta.name}${JSON.stringify(p.meta.attrs)}`] ??= []).push({ start: p.start, time: p.time, value: p.value });
  return o;
}

function gaugePoint(b: MetricsBatch, name: string): NumberDataPoint {
  for (const sm of b.resourceMetrics[0]!.scopeMetrics) for (const m of sm.metrics) if (m.name === name) return m.points[0] as NumberDataPoint;
  throw new Error(`no ${name}`);
}

describe('metricsets → a store with a longer period (semantics.md §7)', () => {
  // window 1 [T0, T0+60s): guids u1 u2 u3, ms 5 1 9 ; window 2 [T0+60s, T0+120s): guids u2 u3 u4 u5, ms 7 3 4 20
  const w1 = [ev(T0 + 1n * S, { v: 'a', guid: 'u1', ms: 5 }), ev(T0 + 2n * S, { v: 'a', guid: 'u2', ms: 1 }), ev(T0 + 3n * S, { v: 'a', guid: 'u3', ms: 9 })];
  const w2 = [
    ev(MIN + T0 + 1n * S, { v: 'a', guid: 'u2', ms: 7 }),
    ev(MIN + T0 + 2n * S, { v: 'a', guid: 'u3', ms: 3 }),
    ev(MIN + T0 + 5n * S, { v: 'a', guid: 'u4', ms: 4 }),
    ev(MIN + T0 + 9n * S, { v: 'a', guid: 'u5', ms: 20 }),
  ];

  function windows(): MetricsBatch[] {
    const e = engine(SET);
    e.add([...w1, ...w2], 0);
    const out = e.flushAll();
    expect(out).to.have.length(2);
    return out;
  }

  it('two 1-minute windows in a 2-minute store period: the unique count of the union (5), not the sum (7) or the last (4); counts and sums add, min/max combine, mean/first/last/percentiles over both', () => {
    const [a, b] = windows();
    const acc = store(120_000);
    acc.add(a!);
    acc.add(b!);
    const got = byName(acc.collect(true));
    const all = [5, 1, 9, 7, 3, 4, 20];
    const dd = new DDSketch();
    for (const x of all) dd.add(x);
    const one = (v: number | bigint) => [{ start: T0, time: T0 + 2n * MIN, value: v }];
    expect(got).to.deep.equal({
      'E.count{"v":"a"}': one(7n),
      'E.unique.guid{"v":"a"}': one(5n),
      'E.sum.ms{"v":"a"}': one(49),
      'E.min.ms{"v":"a"}': one(1),
      'E.max.ms{"v":"a"}': one(20),
      'E.mean.ms{"v":"a"}': one(7),
      'E.first.ms{"v":"a"}': one(5),
      'E.last.ms{"v":"a"}': one(20),
      'E.p50.ms{"v":"a"}': one(dd.quantile(0.5)!),
      'E.p99.ms{"v":"a"}': one(dd.quantile(0.99)!),
    });
    // the windows' own points are untouched (the store merged into a copy)
    expect(gaugePoint(a!, 'E.unique.guid').value).to.equal(3n);
    expect(gaugePoint(a!, 'E.unique.guid').aggregate!.value()).to.equal(3n);
    expect(gaugePoint(b!, 'E.unique.guid').aggregate!.value()).to.equal(4n);
  });

  it('a store with the same period keeps each window as it is, stamped with its own end (not shifted into the next period)', () => {
    const [a, b] = windows();
    const acc = store(60_000);
    acc.add(a!);
    acc.add(b!);
    const got = byName(acc.collect(true));
    expect(got['E.unique.guid{"v":"a"}']).to.deep.equal([
      { start: T0, time: T0 + MIN, value: 3n },
      { start: T0 + MIN, time: T0 + 2n * MIN, value: 4n },
    ]);
    expect(got['E.count{"v":"a"}']).to.deep.equal([
      { start: T0, time: T0 + MIN, value: 3n },
      { start: T0 + MIN, time: T0 + 2n * MIN, value: 4n },
    ]);
    expect(got['E.first.ms{"v":"a"}']).to.deep.equal([
      { start: T0, time: T0 + MIN, value: 5 },
      { start: T0 + MIN, time: T0 + 2n * MIN, value: 7 },
    ]);
  });

  it('beyond the exact threshold (HyperLogLog registers): the merged store value equals the sketch of the union', () => {
    const e = engine({ ...SET, unique: { exact_threshold: 16 } });
    const events = [];
    for (let i = 0; i < 3000; i++) events.push(ev(T0 + BigInt(i) * 1_000_000n, { v: 'a', guid: `g${i}` }));
    for (let i = 2000; i < 6000; i++) events.push(ev(T0 + MIN + BigInt(i) * 1_000_000n, { v: 'a', guid: `g${i}` }));
    e.add(events, 0);
    const [a, b] = e.flushAll();
    const union = new HyperLogLog({ threshold: 16 });
    for (let i = 0; i < 6000; i++) union.add(`g${i}`);
    const acc = store(120_000);
    acc.add(a!);
    acc.add(b!);
    const got = byName(acc.collect(true))['E.unique.guid{"v":"a"}']!;
    expect(got).to.deep.equal([{ start: T0, time: T0 + 2n * MIN, value: BigInt(union.count()) }]);
    expect(Math.abs(union.count() - 6000) / 6000).to.be.below(0.02);
    expect(Number(gaugePoint(a!, 'E.unique.guid').value) + Number(gaugePoint(b!, 'E.unique.guid').value)).to.be.above(6900); // the sum would be ≈ 7000
  });

  it('a zero-filled (empty) window merges as an empty set', () => {
    const e = engine(
      { period: '60s', sets: [{ name: 'Z', metrics: [{ name: 'N', aggregates: ['count', 'unique(guid)'] }] }] },
      'wall',
      Number(T0 / 1_000_000n),
    );
    e.add([ev(T0 + S, { guid: 'u1' }), ev(T0 + 2n * S, { guid: 'u2' })], Number(T0 / 1_000_000n));
    const out = e.closeDue(Number((T0 + 3n * MIN) / 1_000_000n)); // window 1 with events, window 2 zero-filled
    expect(out).to.have.length(2);
    const acc = store(120_000);
    for (const b of out) acc.add(b);
    const got = byName(acc.collect(true));
    expect(got['N.unique.guid{}']).to.deep.equal([{ start: T0, time: T0 + 2n * MIN, value: 2n }]);
    expect(got['N.count{}']).to.deep.equal([{ start: T0, time: T0 + 2n * MIN, value: 2n }]);
  });
});

describe('validate: store periods vs metric set windows (semantics.md §7)', () => {
  const cfg = (influx: string, allowed = '') => `
receivers:
  errors: { endpoint: "127.0.0.1:4318" }
processors:
  metricsets:
    period: 60s
${allowed}
    sets: [{ name: S, metrics: [{ name: N, aggregates: [count] }] }]
exporters:
  influxdb: { endpoint: "http://127.0.0.1:8086", db: d${influx} }
  influxdb/b: { endpoint: "http://127.0.0.1:8086", db: d, period: 180s }
service:
  pipelines:
    errors: { receivers: [errors], processors: [metricsets], exporters: [influxdb, influxdb/b] }
`;
  const errors = (text: string) =>
    checkConfig(text, 'c.yaml', registry, {})
      .issues.filter((i) => i.severity === 'error')
      .map((i) => ({ path: i.path, message: i.message, line: i.line }));

  it('accepts the window itself and multiples of it (60s, 120s, 180s)', () => {
    expect(errors(cfg(''))).to.deep.equal([]);
    expect(errors(cfg(', period: 120s'))).to.deep.equal([]);
  });

  it("rejects a store period that is not a multiple, at the store's period key, with the line", () => {
    expect(errors(cfg(', period: 90s'))).to.deep.equal([
      {
        path: 'exporters.influxdb.period',
        line: 10,
        message:
          '90s is not a multiple of the window of processors.metricsets (period 60s): a store fed by a metric set needs a period of 60s or a multiple of it (e.g. 120s)',
      },
    ]);
    expect(errors(cfg(', period: 30s')).map((i) => i.path)).to.deep.equal(['exporters.influxdb.period']);
  });

  it("rejects an explicit store lateness not longer than the set's allowed lateness; 0s (automatic) is fine", () => {
    expect(errors(cfg(', lateness: 20s', '    allowed_lateness: 30s'))).to.deep.equal([
      {
        path: 'exporters.influxdb.lateness',
        line: 10,
        message:
          '20s is not longer than the allowed lateness of processors.metricsets (30s): its windows would reach this store after the period closed; use more, or 0s (automatic: the allowed lateness + 10 % of the period)',
      },
    ]);
    expect(errors(cfg(', lateness: 31s', '    allowed_lateness: 30s'))).to.deep.equal([]);
  });

  it("a store fed by a metric set keeps its periods open for the set's windows: automatic lateness = allowed lateness + 10 % of the period", () => {
    const plain = createInflux(settings('influxdb'), influxCfg('http://127.0.0.1:1', { period: 120_000 }));
    expect(plain.accumulator.latenessMs).to.equal(12_000);
    const fed = createInflux({ ...settings('influxdb'), upstreamDelayMs: 60_000 }, influxCfg('http://127.0.0.1:1', { period: 120_000 }));
    expect(fed.accumulator.latenessMs).to.equal(72_000);
    const explicit = createInflux({ ...settings('influxdb'), upstreamDelayMs: 60_000 }, influxCfg('http://127.0.0.1:1', { period: 120_000, lateness: 90_000 }));
    expect(explicit.accumulator.latenessMs).to.equal(90_000);
  });
});
