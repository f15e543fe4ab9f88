/**
 * Pull stores in a cluster (issue 15 item 4, cluster side), the built service
 * against a real nats-server and a real Prometheus scraping every replica
 * (one job, the three replicas as targets, `instance` dropped by
 * metric_relabel_configs as docs/cluster.md says): the merged series of a
 * partition are served by its owner; stopping that owner (SIGTERM) moves the
 * partition, whose running totals the next owner restores from KV, so over
 * the whole run every counter's `resets()` is 0 and its total equals the one
 * single instance (no cluster) given every event serves.
 */
import { expect } from 'chai';
import { startNats, startPrometheus, usePeer, type NatsPeer, type PrometheusPeer } from '../harness/peers.js';
import { freePort, waitFor } from '../harness/ports.js';
import { startMetricport, type Started } from '../e2e/metricport.js';
import { groupPartition } from '../../processors/metricsets/partial.js';
import { clusterView, clusterYaml, EventStream, PERIOD_S, postEvents } from './fleethelpers.js';

const TOKEN = 'fleet0prom0token0abcdef012345678';

function config(port: number, cluster: string): string {
  return `receivers:
  errors: { endpoint: "{{OTLP}}" }
processors:
  metricsets:
    period: ${PERIOD_S}s
    allowed_lateness: 1s
    cluster_wait: 4s
    zero_fill: false
    scope: cluster
    sets:
      - name: Fleet
        metrics:
          - { name: ByVersion, group_by: [app.version], aggregates: [count, sum(ms)] }
exporters:
  prometheus: { endpoint: "127.0.0.1:${port}", token: "${TOKEN}" }
service:
  pipelines:
    errors: { receivers: [errors], processors: [metricsets], exporters: [prometheus] }
${cluster}`;
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

describe('pull stores in a cluster: a real Prometheus scraping every replica sees exact totals and no reset when a partition moves', function () {
  this.timeout(180_000);
  let nats: NatsPeer | undefined;
  let prom: PrometheusPeer | undefined;
  const procs: Started[] = [];
  before(async function () {
    await usePeer(this, 'nats', 'prometheus');
    nats = await startNats();
  });
  after(async () => {
    await prom?.stop();
    await Promise.all(procs.splice(0).map((p) => p.stop()));
    await nats?.stop();
  });

  it("totals equal to one instance, resets() == 0 across an owner's stop", async () => {
    const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
    const ids = ['a', 'b', 'c'];
    const replicas = await Promise.all(ids.map((id, i) => startMetricport(config(ports[i]!, clusterYaml([nats!.url], id)))));
    procs.push(...replicas);
    const single = await startMetricport(config(ports[3]!, ''));
    procs.push(single);
    prom = await startPrometheus({
      scrapeTargets: [
        {
          job: 'fleet',
          target: `127.0.0.1:${ports[0]}`,
          moreTargets: [`127.0.0.1:${ports[1]}`, `127.0.0.1:${ports[2]}`],
          metricsPath: `/${TOKEN}/metrics`,
          metricRelabelConfigs: [{ action: 'labeldrop', regex: 'instance' }],
        },
        { job: 'single', target: `127.0.0.1:${ports[3]}`, metricsPath: `/${TOKEN}/metrics` },
      ],
      scrapeInterval: '1s',
    });
    await waitFor(
      async () => {
        for (const m of replicas) {
          const v = await clusterView(m);
          if (!v.ready || (v.fleet?.metricsets?.publishers?.length ?? 0) !== 3) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, what: 'three replicas joined, each publishing' },
    );
    const events = new EventStream(5);
    let sent = 0;
    const send = async (to: Started[], ms: number) => {
      const t0 = Date.now();
      while (Date.now() - t0 < ms) {
        const all = events.batch(30);
        const parts: string[][] = to.map(() => []);
        for (const line of all) parts[sent++ % to.length]!.push(line);
        await Promise.all([postEvents(single, all), ...to.map((m, i) => postEvents(m, parts[i]!))]);
        await sleep(100);
      }
    };
    await send(replicas, 3 * PERIOD_S * 1000);
    // the owner of group 2.0's partition is stopped (graceful: its partitions are handed over); the others carry on
    const p = groupPartition(8, 'Fleet', 'ByVersion', '2.0');
    const holder = (await clusterView(replicas[0]!)).partitions.find((x) => x.partition === p)?.holder;
    const victim = replicas[ids.indexOf(String(holder))]!;
    expect(victim, `the holder of partition ${p}`).to.not.equal(undefined);
    // Prometheus has seen the running totals on the victim first
    await waitFor(async () => (await prom!.queryValues('ByVersion_count_total{job="fleet",app_version="2.0"}')).length === 1, {
      timeoutMs: 20_000,
      what: 'the 2.0 series scraped from its owner',
    });
    await victim.stop();
    const rest = replicas.filter((m) => m !== victim);
    await send(rest, 3 * PERIOD_S * 1000);
    // every group's total in the fleet job equals the single instance's, and no counter ever went down
    const totals = async (job: string) =>
      Object.fromEntries((await prom!.queryValues(`ByVersion_count_total{job="${job}"}`)).map((r) => [r.metric.app_version, r.value]));
    let want: Record<string, number> = {};
    let got: Record<string, number> = {};
    await waitFor(
      async () => {
        want = await totals('single');
        got = await totals('fleet');
        return Object.keys(want).length === 4 && Object.values(want).reduce((a, b) => a + b, 0) === sent && JSON.stringify(got) === JSON.stringify(want);
      },
      { timeoutMs: 40_000, intervalMs: 500, what: "every event counted, fleet totals equal to the single instance's" },
    ).catch((err: Error) => {
      throw new Error(`${err.message}: sent ${sent}, single ${JSON.stringify(want)}, fleet ${JSON.stringify(got)}`);
    });
    const resets = await prom!.queryValues('resets(ByVersion_count_total{job="fleet"}[10m])');
    expect(resets.length).to.equal(4);
    for (const r of resets) expect(r.value, `resets of ${r.metric.app_version}`).to.equal(0);
    const sums = await prom!.queryValues('resets(ByVersion_sum_ms_total{job="fleet"}[10m])');
    for (const r of sums) expect(r.value, `resets of the sum of ${r.metric.app_version}`).to.equal(0);
  });
});
