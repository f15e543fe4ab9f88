/** Exponential histograms in the push stores: converted to explicit buckets (src/model/exphist.ts), merged exactly within a period, never dropped as unsupported. */
import { expect } from 'chai';
import { encodeLines } from '../../exporters/influxdb/encode.js';
import type { ExponentialHistogramDataPoint, Metric } from '../../src/model/index.js';
import { PeriodAccumulator } from '../../src/storehelper/accumulator.js';
import { S, batch } from './util.js';
import { expPoint as ep } from '../helpers/batches.js';

const T0 = 1_700_000_000; // seconds, a multiple of 10
const t = (s: number): bigint => BigInt(s) * S;

const expMetric = (name: string, points: ExponentialHistogramDataPoint[], temporality: 1 | 2 = 1): Metric => ({
  kind: 'exponentialHistogram',
  name,
  unit: 's',
  description: '',
  temporality,
  points,
});

function acc(cumulative: 'delta' | 'cumulative' = 'delta') {
  return new PeriodAccumulator({
    periodMs: 10_000,
    latenessMs: 0,
    maxSeries: 100,
    seriesExpiryMs: 600_000,
    cumulative,
    resourceAttributes: [],
    now: () => (T0 + 5) * 1000,
    startedAtMs: 0,
  });
}

describe('storehelper: exponential histograms become explicit-bucket histograms', () => {
  it('delta points of one period with different ranges and scales merge exactly into one point (not unsupported, not a bounds change)', () => {
    const a = acc();
    a.add(
      batch([
        expMetric('lat', [
          ep(t(T0 + 1), { count: 3, sum: 5, positive: { offset: 0, bucketCounts: [1, 2] }, min: 1.5, max: 3 }),
          ep(t(T0 + 2), { count: 3, sum: 18, positive: { offset: 2, bucketCounts: [3] }, min: 5, max: 7 }),
          // scale 1: (2√2, 4] ×2 lands in (2,4] at scale 0
          ep(t(T0 + 3), { scale: 1, count: 2, sum: 7, positive: { offset: 3, bucketCounts: [2] }, min: 3.2, max: 3.8 }),
        ]),
      ]),
    );
    const pts = a.collect(true);
    expect(pts).to.have.length(1);
    const h = pts[0]!.hist!;
    expect({ bounds: h.bounds, counts: h.counts, count: h.count, sum: h.sum, min: h.min, max: h.max }).to.deep.equal({
      bounds: [0, 2, 4, 8],
      counts: [0, 1, 4, 3, 0],
      count: 8,
      sum: 30,
      min: 1.5,
      max: 7,
    });
    expect(pts[0]!.time).to.equal(t(T0 + 10));
    expect(a.counters.unsupported).to.equal(0);
    expect(a.counters.bounds_changed).to.equal(0);
    // what a store writes: InfluxDB line protocol with cumulative le_ fields
    const line = encodeLines(pts, { fieldName: 'value', precision: 's' }).text;
    expect(line).to.equal('lat count=8i,sum=30,min=1.5,max=7,le_0=0i,le_2=1i,le_4=5i,le_8=8i,le_+Inf=8i 1700000010\n');
  });

  it('cumulative exponential histograms in a cumulative store: the last point, as fixed buckets', () => {
    const a = acc('cumulative');
    a.add(
      batch([
        expMetric(
          'lat',
          [
            ep(t(T0 + 1), { startTimeUnixNano: t(T0 - 100), count: 2, sum: 3, positive: { offset: 0, bucketCounts: [2] } }),
            ep(t(T0 + 4), { startTimeUnixNano: t(T0 - 100), count: 5, sum: 9, positive: { offset: 0, bucketCounts: [2, 3] } }),
          ],
          2,
        ),
      ]),
    );
    const h = a.collect(true)[0]!.hist!;
    expect({ bounds: h.bounds, counts: h.counts, count: h.count }).to.deep.equal({ bounds: [0, 2, 4], counts: [0, 2, 3, 0], count: 5 });
  });
});
