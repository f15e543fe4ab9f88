import { expect } from 'chai';
import { Aggregator, type AggregatorOptions } from '../../../receivers/statsd/aggregator.js';
import { etsySanitize, etsyTimerStats } from '../../../receivers/statsd/etsy.js';
import { newParsedLine, parsePacket } from '../../../receivers/statsd/parser.js';
import type { GaugeMetric, HistogramMetric, Metric, MetricsBatch, SumMetric } from '../../../src/model/index.js';

const ETSY = {
  global_prefix: 'stats',
  counts_prefix: 'stats_counts',
  timers_prefix: 'timers',
  gauges_prefix: 'gauges',
  sets_prefix: 'sets',
  percent_threshold: [90],
  send_idle_stats: true,
  sanitize_names: true,
};

function agg(over: Partial<AggregatorOptions> = {}): Aggregator {
  return new Aggregator({
    flushIntervalMs: 10_000,
    naming: 'otel',
    percentiles: [50, 90],
    histogramBuckets: [10, 100],
    keepGauges: true,
    idleExpiryMs: 3_600_000,
    maxSeries: 1000,
    timerExactSamples: 1000,
    relativeAccuracy: 0.01,
    etsy: ETSY,
    ...over,
  });
}

function feed(a: Aggregator, text: string, now = 1_700_000_005_000): void {
  const l = newParsedLine();
  parsePacket(text, l, {
    line: (x) => a.add(x, now),
    bad: () => {
      throw new Error('bad line in test input');
    },
  });
}

function metrics(b: MetricsBatch): Map<string, Metric> {
  const m = new Map<string, Metric>();
  for (const rm of b.resourceMetrics) for (const sm of rm.scopeMetrics) for (const x of sm.metrics) m.set(`${x.kind}:${x.name}`, x);
  return m;
}

const W0 = 1_700_000_000_000;
const W1 = W0 + 10_000;

describe('statsd aggregation (otel naming)', () => {
  it('counters: Σ value/rate as a monotonic delta sum with the window as start/end; tags → attributes', () => {
    const a = agg();
    feed(a, 'req:1|c\nreq:2|c|@0.5\nreq:1|c|#route:/a\nreq:1|c|#route:/a');
    const m = metrics(a.flush(W0, W1)).get('sum:req') as SumMetric;
    expect(m.isMonotonic).to.equal(true);
    expect(m.temporality).to.equal(1);
    const pts = m.points.map((p) => [p.attributes, p.value, p.startTimeUnixNano, p.timeUnixNano]);
    expect(pts).to.deep.equal([
      [{}, 5, BigInt(W0) * 1_000_000n, BigInt(W1) * 1_000_000n],
      [{ route: '/a' }, 2, BigInt(W0) * 1_000_000n, BigInt(W1) * 1_000_000n],
    ]);
    // next window: an idle counter is not sent
    expect(metrics(a.flush(W1, W1 + 10_000)).has('sum:req')).to.equal(false);
  });

  it('tag order does not split a series', () => {
    const a = agg();
    feed(a, 'x:1|c|#a:1,b:2\nx:1|c|#b:2,a:1');
    const m = metrics(a.flush(W0, W1)).get('sum:x') as SumMetric;
    expect(m.points.map((p) => [p.attributes, p.value])).to.deep.equal([[{ a: '1', b: '2' }, 2]]);
  });

  it('gauges: last value, +/- adjust, kept across flushes when keep_gauges', () => {
    const a = agg();
    feed(a, 'g:10|g\ng:+5|g\ng:-3|g');
    expect((metrics(a.flush(W0, W1)).get('gauge:g') as GaugeMetric).points[0]!.value).to.equal(12);
    expect((metrics(a.flush(W1, W1 + 10_000)).get('gauge:g') as GaugeMetric).points[0]!.value).to.equal(12);
    const b = agg({ keepGauges: false });
    feed(b, 'g:10|g');
    b.flush(W0, W1);
    expect(metrics(b.flush(W1, W1 + 10_000)).has('gauge:g')).to.equal(false);
  });

  it('timers/histograms/distributions: histogram (weighted by 1/rate) + exact percentile gauges', () => {
    const a = agg();
    const lines = [];
    for (let i = 1; i <= 100; i++) lines.push(`t:${i}|ms`);
    lines.push('h:5:50:500|h|@0.5');
    feed(a, lines.join('\n'));
    const ms = metrics(a.flush(W0, W1));
    const t = ms.get('histogram:t') as HistogramMetric;
    expect(t.unit).to.equal('ms');
    expect(t.points[0]).to.include({ count: 100, sum: 5050, min: 1, max: 100 });
    expect(t.points[0]!.bucketCounts).to.deep.equal([10, 90, 0]);
    expect(t.points[0]!.explicitBounds).to.deep.equal([10, 100]);
    expect((ms.get('gauge:t.p50') as GaugeMetric).points[0]!.value).to.equal(50);
    expect((ms.get('gauge:t.p90') as GaugeMetric).points[0]!.value).to.equal(90);
    const h = ms.get('histogram:h') as HistogramMetric;
    expect(h.points[0]).to.include({ count: 6, sum: 1110, min: 5, max: 500 });
    expect(h.points[0]!.bucketCounts).to.deep.equal([2, 2, 2]);
  });

  it('past timer_exact_samples the percentiles come from DDSketch within its accuracy', () => {
    const a = agg({ timerExactSamples: 100, percentiles: [99] });
    const lines = [];
    for (let i = 1; i <= 10_000; i++) lines.push(`d:${i}|d`);
    feed(a, lines.join('\n'));
    const ms = metrics(a.flush(W0, W1));
    const p99 = (ms.get('gauge:d.p99') as GaugeMetric).points[0]!.value as number;
    expect(Math.abs(p99 - 9900) / 9900).to.be.below(0.02);
    expect((ms.get('histogram:d') as HistogramMetric).points[0]).to.include({ count: 10_000, sum: 50_005_000, min: 1, max: 10_000 });
  });

  it('sets: distinct members per window (exact below the HLL threshold)', () => {
    const a = agg();
    feed(a, 'u:a|s\nu:b|s\nu:a|s\nu:c:d|s');
    expect((metrics(a.flush(W0, W1)).get('gauge:u') as GaugeMetric).points[0]!.value).to.equal(4);
    feed(a, 'u:z|s');
    expect((metrics(a.flush(W1, W1 + 10_000)).get('gauge:u') as GaugeMetric).points[0]!.value).to.equal(1);
    const b = agg();
    const many = [];
    for (let i = 0; i < 50_000; i++) many.push(`v:${i}|s`);
    feed(b, many.join('\n'));
    const n = (metrics(b.flush(W0, W1)).get('gauge:v') as GaugeMetric).points[0]!.value as number;
    expect(Math.abs(n - 50_000) / 50_000).to.be.below(0.03);
  });

  it('|T timestamps: each line its own point at that time', () => {
    const a = agg();
    feed(a, 'g:7|g|T1700000001\nc:3|c|T1700000002');
    const ms = metrics(a.flush(W0, W1));
    expect((ms.get('gauge:g') as GaugeMetric).points.map((p) => [p.value, p.timeUnixNano])).to.deep.equal([[7, 1_700_000_001_000_000_000n]]);
    expect((ms.get('sum:c') as SumMetric).points.map((p) => [p.value, p.timeUnixNano])).to.deep.equal([[3, 1_700_000_002_000_000_000n]]);
  });

  it('bounded: series beyond max_series are dropped and counted; idle series expire', () => {
    const a = agg({ maxSeries: 3, idleExpiryMs: 20_000 });
    feed(a, 'a:1|c\nb:1|c\nc:1|c\nd:1|c\ne:1|g\na:1|c');
    expect(a.dropped.series_limit).to.equal(2);
    expect(a.seriesCount).to.equal(3);
    const m = metrics(a.flush(W0, W1)).get('sum:a') as SumMetric;
    expect(m.points[0]!.value).to.equal(2);
    a.flush(W1, W1 + 10_000);
    a.flush(W1 + 10_000, W1 + 20_000);
    expect(a.seriesCount).to.equal(0);
    feed(a, 'd:1|c');
    expect(a.seriesCount).to.equal(1);
  });

  it('series lookup from packet bytes (hash + byte compare): sums equal a reference keyed by decoded name and sorted tags, across many names, UTF-8, tag orders, expiry and re-creation', () => {
    // a seeded generator: names that share prefixes and suffixes, multi-byte UTF-8, tags in either order
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const names = Array.from({ length: 3000 }, (_, i) => (i % 7 === 0 ? `zähler.${i}.ü` : i % 5 === 0 ? `servers.host${i}.cpu.count` : `app.metric_${i}`));
    const a = agg({ maxSeries: 100_000, idleExpiryMs: 10_000 });
    let want = new Map<string, number>();
    const run = (pool: string[], packets: number) => {
      for (let p = 0; p < packets; p++) {
        const lines: string[] = [];
        for (let i = 0; i < 20; i++) {
          const name = pool[rnd(pool.length)]!;
          const v = 1 + rnd(5);
          const t = rnd(3);
          const tags = t === 0 ? '' : t === 1 ? '|#env:prod,zone:a' : '|#zone:a,env:prod';
          lines.push(`${name}:${v}|c${tags}`);
          const key = `${name}|${t === 0 ? '' : 'env=prod,zone=a'}`;
          want.set(key, (want.get(key) ?? 0) + v);
        }
        feed(a, lines.join('\n'));
      }
    };
    const check = (b: MetricsBatch) => {
      const got = new Map<string, number>();
      for (const rm of b.resourceMetrics)
        for (const sm of rm.scopeMetrics)
          for (const m of sm.metrics) {
            for (const p of (m as SumMetric).points)
              got.set(
                `${m.name}|${Object.entries(p.attributes)
                  .map(([k, v]) => `${k}=${String(v)}`)
                  .sort()
                  .join(',')}`,
                Number(p.value),
              );
          }
      expect(got.size).to.equal(want.size);
      for (const [k, v] of want) expect(got.get(k), k).to.equal(v);
      want = new Map();
    };
    run(names, 2000);
    check(a.flush(W0, W1));
    // only the first half stays active: the rest expires, then comes back as new series
    run(names.slice(0, 1500), 500);
    check(a.flush(W1, W1 + 10_000));
    run(names.slice(0, 1500), 500);
    check(a.flush(W1 + 10_000, W1 + 20_000));
    // the second half expired (idle for more than one window)
    expect(a.seriesCount).to.be.at.most(2 * 1500);
    run(names, 1000);
    check(a.flush(W1 + 20_000, W1 + 30_000));
    expect(a.seriesCount).to.be.greaterThan(2 * 1500);
  });

  it('negative counter increments are refused and counted (monotonic sums)', () => {
    const a = agg();
    feed(a, 'c:5|c\nc:-2|c');
    expect((metrics(a.flush(W0, W1)).get('sum:c') as SumMetric).points[0]!.value).to.equal(5);
    expect(a.dropped.negative_counter).to.equal(1);
  });
});

describe('statsd aggregation (etsy naming)', () => {
  function byName(b: MetricsBatch): Record<string, number> {
    const out: Record<string, number> = {};
    for (const rm of b.resourceMetrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) {
          expect(m.kind).to.equal('gauge');
          for (const p of (m as GaugeMetric).points) out[m.name] = p.value as number;
        }
    return out;
  }

  it("writes the names and values of Etsy statsd's graphite backend", () => {
    const a = agg({ naming: 'etsy' });
    feed(a, 'gorets:1|c|@0.1\nglork:320|ms\nglork:100|ms|@0.5\ngaugor:333|g\ngaugor:-10|g\nuniques:765|s\nuniques:766|s\nmy key/x:1|c');
    const got = byName(a.flush(W0, W1));
    expect(got).to.deep.include({
      'stats.gorets': 1,
      'stats_counts.gorets': 10,
      'stats.my_key-x': 0.1,
      'stats_counts.my_key-x': 1,
      'stats.gauges.gaugor': 323,
      'stats.sets.uniques.count': 2,
      'stats.timers.glork.count': 3,
      'stats.timers.glork.count_ps': 0.3,
      'stats.timers.glork.mean': 210,
      'stats.timers.glork.upper': 320,
      'stats.timers.glork.lower': 100,
      'stats.timers.glork.upper_90': 320,
      'stats.timers.glork.count_90': 2,
      'stats.timers.glork.median': 210,
      'stats.timers.glork.sum': 420,
      'stats.timers.glork.std': 110,
    });
    // idle: zeros for counters, timers, sets; the gauge keeps its value
    const idle = byName(a.flush(W1, W1 + 10_000));
    expect(idle).to.deep.equal({
      'stats.gorets': 0,
      'stats_counts.gorets': 0,
      'stats.my_key-x': 0,
      'stats_counts.my_key-x': 0,
      'stats.timers.glork.count': 0,
      'stats.timers.glork.count_ps': 0,
      'stats.gauges.gaugor': 323,
      'stats.sets.uniques.count': 0,
    });
  });

  it('etsyTimerStats matches Etsy process_metrics for thresholds 90 and -10', () => {
    const vals = [5, 1, 9, 3, 7, 2, 8, 6, 4, 10].sort((x, y) => x - y);
    const s = Object.fromEntries(etsyTimerStats(vals, vals.length, 10, [90, -10], 10_000));
    expect(s).to.include({
      count_90: 9,
      upper_90: 9,
      sum_90: 45,
      mean_90: 5,
      count_top10: 1,
      lower_top10: 10,
      sum_top10: 10,
      mean: 5.5,
      median: 5.5,
      upper: 10,
      lower: 1,
      count: 10,
      count_ps: 1,
      sum: 55,
      sum_squares: 385,
    });
    expect(etsySanitize('a b/c!d;e=f')).to.equal('a_b-cd;e=f');
  });
});
