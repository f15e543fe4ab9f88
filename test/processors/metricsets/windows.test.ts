import { expect } from 'chai';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { MetricsBatch } from '../../../src/model/metrics.js';
import { silentLogger } from '../../../src/logger.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { compileOrThrow, MetricSetsProcessor } from '../../../processors/metricsets/processor.js';
import { attrsKey, config, engine, ev, rows, S, T0, valuesOf } from './helpers.js';

const P = 60n * S;
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const T0_MS = Number(T0 / 1_000_000n);
const COUNT = { sets: [{ name: 'S', metrics: [{ name: 'C', aggregates: ['count'] }] }] };

describe('metricsets engine: windows by event time, lateness, late and future events', () => {
  it('out-of-order events within the lateness land in their own window; later ones are counted as late, not folded forward', () => {
    // wall clock starts inside window T0; lateness = one period (default)
    const e = engine(COUNT, 'wall', T0_MS + 10_000);
    e.add([ev(T0 + 5n * S, {}), ev(T0 - 30n * S, {}) /* previous window, still open until T0 + 60 s */], T0_MS + 10_000);
    // at T0 + 59 s nothing has closed yet
    expect(e.closeDue(T0_MS + 59_000)).to.deep.equal([]);
    // window [T0-60, T0) closes at T0 + 60 s
    let out = rows(e.closeDue(T0_MS + 60_000));
    expect(out.map((r) => [r.window, r.value])).to.deep.equal([[T0 - P, 1]]);
    // an event for it now is late: dropped and counted
    expect(e.add([ev(T0 - 1n, {}), ev(T0 + 70n * S, {})], T0_MS + 61_000)).to.deep.equal({ accepted: 1, late: 1, future: 0 });
    expect(e.late).to.equal(1);
    // an out-of-order event for the open window T0 still counts there
    e.add([ev(T0 + 59n * S, {})], T0_MS + 100_000);
    out = rows(e.closeDue(T0_MS + 120_000));
    expect(out.map((r) => [r.window, r.value])).to.deep.equal([[T0, 2]]);
    out = rows(e.closeDue(T0_MS + 180_000));
    expect(out.map((r) => [r.window, r.value])).to.deep.equal([[T0 + P, 1]]);
  });

  it('allowed_lateness: 0 closes a window at its end', () => {
    const e = engine({ ...COUNT, allowed_lateness: '0s' }, 'wall', T0_MS + 1000);
    e.add([ev(T0 + S, {})], T0_MS + 1000);
    expect(rows(e.closeDue(T0_MS + 60_000)).map((r) => r.value)).to.deep.equal([1]);
    expect(e.add([ev(T0 + 2n * S, {})], T0_MS + 60_001).late).to.equal(1);
  });

  it('an event more than one period in the future is taken as arriving now, and counted', () => {
    const e = engine(COUNT, 'wall', T0_MS + 1000);
    expect(e.add([ev(T0 + 3600n * S, {}), ev(T0 + 60n * S, {})], T0_MS + 1000)).to.deep.equal({ accepted: 2, late: 0, future: 1 });
    const rs = rows(e.flushAll());
    expect(rs.map((r) => [r.window, r.value])).to.deep.equal([
      [T0, 1],
      [T0 + P, 1],
    ]);
  });

  it('zero_fill: a metric without group_by emits count 0 for windows without events; grouped metrics emit nothing', () => {
    const e = engine(
      {
        sets: [
          {
            name: 'S',
            metrics: [
              { name: 'C', aggregates: ['count', 'unique(guid)', 'max(x)'] },
              { name: 'G', group_by: ['v'], aggregates: ['count'] },
            ],
          },
        ],
      },
      'wall',
      T0_MS + 1000,
    );
    const rs = rows(e.closeDue(T0_MS + 180_000));
    expect(rs.map((r) => [r.window, r.name, r.value])).to.deep.equal([
      [T0, 'C.count', 0],
      [T0, 'C.unique.guid', 0],
      [T0 + P, 'C.count', 0],
      [T0 + P, 'C.unique.guid', 0],
    ]);
    const off = engine({ zero_fill: false, ...COUNT }, 'wall', T0_MS + 1000);
    expect(off.closeDue(T0_MS + 180_000)).to.deep.equal([]);
  });

  it('cardinality cap: 1,000,000 distinct fingerprints stay within max_groups (10,000), the rest counted in __overflow__, memory flat', function () {
    this.timeout(120_000);
    const e = engine({ sets: [{ name: 'S', metrics: [{ name: 'ByFp', group_by: ['fingerprint'], aggregates: ['count', 'unique(guid)'] }] }] });
    const batch = (from: number) => Array.from({ length: 10_000 }, (_, i) => ev(T0 + BigInt(i), { fingerprint: `fp-${from + i}`, guid: `u-${i % 100}` }));
    e.add(batch(0), 0);
    e.add(batch(10_000), 0); // warm up: the cap is reached here
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    for (let from = 20_000; from < 1_000_000; from += 10_000) e.add(batch(from), 0);
    gc();
    const grown = process.memoryUsage().heapUsed - heap0;
    expect(e.counters[0]!.overflow).to.equal(990_000);
    const rs = rows(e.flushAll());
    const counts = rs.filter((r) => r.name === 'ByFp.count');
    expect(counts.length).to.equal(10_001);
    const v = valuesOf(rs, T0);
    expect(v[`ByFp.count|${attrsKey({ fingerprint: '__overflow__' })}`]).to.equal(990_000);
    expect(v[`ByFp.unique.guid|${attrsKey({ fingerprint: '__overflow__' })}`]).to.equal(100);
    expect(v[`ByFp.count|${attrsKey({ fingerprint: 'fp-9999' })}`]).to.equal(1);
    // 980,000 further distinct values after the cap: the heap may not grow with them
    console.log(`      heap growth over 980,000 distinct values past the cap: ${(grown / 2 ** 20).toFixed(2)} MiB`);
    expect(grown, `heap grew by ${(grown / 2 ** 20).toFixed(1)} MiB`).to.be.below(16 * 2 ** 20);
  });
});

describe('metricsets processor: timer, shutdown, status', () => {
  it('emits closed windows on its own clock, flushes open ones on shutdown (twice is safe) and counts late events', async () => {
    const got: MetricsBatch[] = [];
    let now = T0_MS + 1000;
    const tel = new ServiceTelemetry();
    const cfg = config({ period: '60s', ...COUNT });
    const p = new MetricSetsProcessor(
      { id: 'metricsets', logger: silentLogger(), telemetry: tel, stateDir: '/nonexistent', pipeline: 'errors' },
      cfg,
      compileOrThrow('metricsets', cfg),
      {
        consume: async (b) => {
          got.push(b);
        },
      },
      () => now,
    );
    await p.start({ logger: silentLogger(), telemetry: tel, stateDir: '/nonexistent' });
    await p.consume({ events: [ev(T0 + S, {}), ev(T0 + 2n * S, {})] });
    expect(p.preview('S')).to.deep.equal([
      {
        start: '2023-11-14T22:14:00.000Z',
        end: '2023-11-14T22:15:00.000Z',
        closes_at: '2023-11-14T22:16:00.000Z',
        series: [{ name: 'C.count', metric: 'C', aggregate: 'count', kind: 'sum', points: [{ attributes: {}, value: 2 }] }],
      },
    ]);
    now = T0_MS + 120_000;
    await p.tick();
    expect(rows(got).map((r) => [r.window, r.value])).to.deep.equal([[T0, 2]]);
    await p.consume({ events: [ev(T0 + 3n * S, {}), ev(T0 + 61n * S, {})] });
    expect(p.status()).to.include({ late_events: 1, incoming: 4, dropped: 1, open_windows: 1 });
    await p.shutdown(AbortSignal.timeout(1000));
    await p.shutdown(AbortSignal.timeout(1000));
    expect(rows(got).map((r) => [r.window, r.value])).to.deep.equal([
      [T0, 2],
      [T0 + 60n * S, 1],
    ]);
    expect(p.definitions()).to.deep.equal([
      {
        name: 'S',
        metrics: [
          {
            name: 'C',
            filter: null,
            group_by: [],
            group_by_defaults: {},
            aggregates: ['count'],
            series: [{ name: 'C.count', aggregate: 'count', kind: 'sum', temporality: 'delta', attributes: [] }],
          },
        ],
      },
    ]);
    await tel.shutdown();
  });

  it('a downstream failure drops the window, counts it, and never rejects the timer', async () => {
    let now = T0_MS + 1000;
    const tel = new ServiceTelemetry();
    const cfg = config(COUNT);
    const p = new MetricSetsProcessor(
      { id: 'm', logger: silentLogger(), telemetry: tel, stateDir: '/x' },
      cfg,
      compileOrThrow('m', cfg),
      {
        consume: async () => {
          throw new Error('store down');
        },
      },
      () => now,
    );
    await p.consume({ events: [ev(T0, {})] });
    now = T0_MS + 120_000;
    await p.tick();
    expect(p.status()).to.include({ emit_failed_points: 1, last_error: 'store down' });
    await p.shutdown(AbortSignal.timeout(100));
    await tel.shutdown();
  });
});

describe('metricsets config validation', () => {
  it('reports every bad aggregate, filter, group_by default and duplicate with its path', () => {
    expect(() =>
      compileOrThrow(
        'metricsets',
        config({
          sets: [
            {
              name: 'A',
              metrics: [
                {
                  name: 'M',
                  aggregates: ['count(x)', 'unique', 'median(x)', 'sum(x)', 'sum(x)'],
                  group_by: ['a', 'a'],
                  group_by_defaults: { b: 'x' },
                  filter: { x: { regex: '(' }, y: { lt: 'abc' }, z: { between: 1 }, any: [] },
                },
                { name: 'M', aggregates: ['count'] },
              ],
            },
            { name: 'A', metrics: [{ name: 'N', aggregates: ['count'] }] },
          ],
        }),
      ),
    )
      .to.throw()
      .that.satisfies((e: { issues: Array<{ path: string; message: string }> }) => {
        const m = e.issues.map((i) => `${i.path}: ${i.message}`);
        const want = [
          'processors.metricsets.sets[0].metrics[0].aggregates[0]: count takes no attribute',
          'processors.metricsets.sets[0].metrics[0].aggregates[1]: unique needs an attribute, e.g. unique(guid)',
          'processors.metricsets.sets[0].metrics[0].aggregates[2]: unknown aggregate "median(x)"',
          'processors.metricsets.sets[0].metrics[0].aggregates[4]: duplicate aggregate sum(x)',
          'processors.metricsets.sets[0].metrics[0].group_by[1]: "a" is listed twice',
          'processors.metricsets.sets[0].metrics[0].group_by_defaults.b: "b" is not in group_by',
          'processors.metricsets.sets[0].metrics[0].filter.x.regex: invalid regular expression',
          'processors.metricsets.sets[0].metrics[0].filter.y.lt: lt needs a number, got "abc"',
          'processors.metricsets.sets[0].metrics[0].filter.z.between: unknown operator "between"',
          'processors.metricsets.sets[0].metrics[0].filter.any: any needs a non-empty list of filters',
          'processors.metricsets.sets[0].metrics[1].name: duplicate metric name "M" in set "A"',
          'processors.metricsets.sets[1].name: duplicate metric set name "A"',
        ];
        for (const w of want)
          expect(
            m.some((x) => x.startsWith(w)),
            `${w}\n in ${m.join('\n')}`,
          ).to.equal(true);
        expect(m.length).to.equal(want.length);
        return true;
      });
  });
});
