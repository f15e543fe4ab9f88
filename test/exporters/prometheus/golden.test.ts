/**
 * Golden test of the Prometheus exposition (issue 19): a seeded input of
 * 100k series of every kind (delta and cumulative counters, int and double,
 * gauges with NaN/±Inf, unit scaling, explicit and exponential histograms
 * with bound changes, summaries, resets, out-of-order points, staleness
 * markers, escaping, target_info, several resources and scopes), rendered in
 * text 0.0.4 and OpenMetrics, must stay byte-identical to what the code
 * rendered before the store's compact representation (the hashes below were
 * recorded on that code, commit "golden test" of issue 19). A second store at
 * a cap below the input and with expiry checks the eviction and expiry order.
 *
 * A change of the exposition that is intended (a new rule) re-records the
 * hashes: run with GOLDEN_PRINT=1 and paste them, saying why in the commit.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { CumulativeStore } from '../../../src/pullstore/cumulative.js';
import { renderBytes } from '../../../exporters/prometheus/exposition.js';
import { feedGolden } from './golden-input.js';

function digest(b: Buffer): string {
  return `${b.length}:${createHash('sha256').update(b).digest('hex')}`;
}

// recorded on the code before the compact store (see the header)
const GOLDEN = {
  full: {
    series: 101_594,
    text: '22576656:88fb73d51bc23e167a8a22631eca8e0150e6f7c458b3abd9b6139d2e83251a59',
    openmetrics: '33832999:d9e2fd720b6b4853304e806f570fac99ee3ec2ee952b0f033c100d9626c168e9',
  },
  capped: {
    series: 70_100,
    text: '15652807:388a4aa048e4d70a70638c4555a95f4c11c1a69c81cb2700b12293ed5d27fcf4',
    openmetrics: '23380078:dc7f2169ddb090f97e83acf3a9ed3a9295645ae1bd666c145c0f7a5a05ab921d',
  },
};

describe('prometheus: golden exposition of 100k seeded series (byte-identical across store representations)', function () {
  this.timeout(120_000);

  it('renders the full store exactly as recorded (text 0.0.4 and OpenMetrics)', () => {
    const clock = { now: 1_700_000_000_000 };
    const store = new CumulativeStore({ maxSeries: 1_000_000, expiryMs: 0, now: () => clock.now });
    feedGolden(store, clock);
    const got = { series: store.size, text: digest(renderBytes(store, 'text')), openmetrics: digest(renderBytes(store, 'openmetrics')) };
    if (process.env.GOLDEN_PRINT === '1') console.log('full', JSON.stringify(got));
    expect(store.counters.resets).to.be.greaterThan(0);
    expect(Object.keys(store.counters.dropped).sort()).to.deep.equal(['negative_delta', 'out_of_order']);
    expect(got).to.deep.equal(GOLDEN.full);
  });

  it('renders a capped, expiring store exactly as recorded (eviction and expiry order)', () => {
    const clock = { now: 1_700_000_000_000 };
    const store = new CumulativeStore({ maxSeries: 90_000, expiryMs: 15_000, now: () => clock.now });
    feedGolden(store, clock);
    store.expire(clock.now);
    const got = { series: store.size, text: digest(renderBytes(store, 'text')), openmetrics: digest(renderBytes(store, 'openmetrics')) };
    if (process.env.GOLDEN_PRINT === '1') console.log('capped', JSON.stringify(got));
    expect(store.counters.evicted_cap).to.be.greaterThan(0);
    expect(store.counters.evicted_expired).to.be.greaterThan(0);
    expect(store.counters.resets).to.be.greaterThan(0);
    expect(got).to.deep.equal(GOLDEN.capped);
  });
});
