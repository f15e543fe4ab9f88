/**
 * Fleet-wide metric sets (scope: cluster) end to end: four replicas of the
 * built service in one cluster on a real nats-server, each receiving a
 * round-robin quarter of an error-event stream on POST /v1/errors, and one
 * single instance (no cluster) receiving all of it; every instance writes to
 * a real InfluxDB (the replicas into one database, the single instance into
 * another). For every window both databases hold the same series with equal
 * values: counts, sums, min/max, first/last, uniques (the single instance's
 * HyperLogLog estimate: past the exact threshold), p99 (one sketch); and the
 * replicas together emitted exactly as many points as the single instance
 * (one series per group, not per instance).
 */
import { expect } from 'chai';
import { startInfluxDB, startNats, usePeer, type InfluxDBPeer, type NatsPeer } from '../harness/peers.js';
import { waitFor } from '../harness/ports.js';
import { startMetricport, type Started } from '../e2e/metricport.js';
import { clusterView, clusterYaml, emitted, EventStream, expectSameRows, fleetConfig, influxRows, PERIOD_S, postEvents, type Row } from './fleethelpers.js';

describe('fleet-wide metric sets (scope: cluster): exact across instances', function () {
  this.timeout(180_000);
  let nats: NatsPeer | undefined;
  let influx: InfluxDBPeer | undefined;
  const procs: Started[] = [];
  before(async function () {
    await usePeer(this, 'nats', 'influxdb');
    [nats, influx] = await Promise.all([startNats(), startInfluxDB()]);
    await influx.createDatabase('fleet');
    await influx.createDatabase('single');
  });
  after(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop()));
    await nats?.stop();
    await influx?.stop();
  });

  it('four replicas given a quarter each write the same series and values as one instance given everything', async () => {
    const replicas = await Promise.all(
      ['a', 'b', 'c', 'd'].map((id) => startMetricport(fleetConfig({ influx: influx!.url, db: 'fleet', cluster: clusterYaml([nats!.url], id) }))),
    );
    procs.push(...replicas);
    const single = await startMetricport(fleetConfig({ influx: influx!.url, db: 'single' }));
    procs.push(single);
    // every replica joined and sees four publishers
    await waitFor(
      async () => {
        for (const m of replicas) {
          const st = await clusterView(m);
          if (!st.ready || st.nodes.filter((n) => n.live).length !== 4 || (st.fleet?.metricsets?.publishers?.length ?? 0) !== 4) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, what: 'four replicas joined, each publishing' },
    );

    // three windows of events, sent as they happen (event time = now): each batch whole to the single instance, round-robin to the replicas
    const events = new EventStream(11);
    const t0 = Date.now();
    let sent = 0;
    while (Date.now() - t0 < 3 * PERIOD_S * 1000) {
      const all = events.batch(40);
      const parts: string[][] = [[], [], [], []];
      for (const line of all) parts[sent++ % 4]!.push(line);
      await Promise.all([postEvents(single, all), ...replicas.map((m, i) => postEvents(m, parts[i]!))]);
      await new Promise((res) => setTimeout(res, 100));
    }
    // every window exported by both (the single instance's windows are the reference); the replicas' total points equal the single instance's
    let want: Row[] = [];
    let got: Row[] = [];
    let e1 = 0;
    let e4 = 0;
    await waitFor(
      async () => {
        e1 = await emitted(single);
        e4 = (await Promise.all(replicas.map(emitted))).reduce((a, b) => a + b, 0);
        want = await influxRows(influx!, 'single');
        got = await influxRows(influx!, 'fleet');
        const lastEventWindowEnd = Math.floor(Date.now() / 1000 / PERIOD_S) * PERIOD_S;
        return (
          e1 > 0 &&
          e1 === e4 &&
          want.length > 0 &&
          want.length === got.length &&
          Date.now() / 1000 > lastEventWindowEnd + 1 &&
          new Set(want.map((x) => x.time)).size >= 3
        );
      },
      { timeoutMs: 40_000, intervalMs: 500, what: 'both databases complete' },
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}: single ${want.length} rows / ${e1} points emitted, fleet ${got.length} rows / ${e4} points; fleet status: ${replicas
          .map((m) =>
            m
              .output()
              .split('\n')
              .filter((l) => /warn|error/i.test(l))
              .slice(-3)
              .join('\n'),
          )
          .join('\n')}`,
      );
    });
    expectSameRows(got, want);
    // it was not trivial: every aggregate present, uniques past the exact threshold (HyperLogLog registers merged)
    const names = new Set(want.map((x) => x.key.split('{')[0]));
    for (const n of [
      'ByVersion.count',
      'ByVersion.unique.guid',
      'ByVersion.sum.ms',
      'ByVersion.min.ms',
      'ByVersion.max.ms',
      'ByVersion.first.ms',
      'ByVersion.last.ms',
      'ByVersion.p99.ms',
      'All.unique.guid',
    ])
      expect(names.has(n), n).to.equal(true);
    expect(Math.max(...want.filter((x) => x.key.startsWith('All.unique.guid')).map((x) => x.value))).to.be.above(32);
    // the owners' counters: everything merged, nothing late
    const fleets = await Promise.all(replicas.map(async (m) => (await clusterView(m)).fleet!.metricsets!));
    expect(fleets.reduce((a, f) => a + f.owner!.partials_late!, 0)).to.equal(0);
    expect(fleets.reduce((a, f) => a + f.owner!.partials_merged!, 0)).to.be.above(0);
    expect(fleets.reduce((a, f) => a + f.publishing!.published!, 0)).to.be.above(0);
  });
});
