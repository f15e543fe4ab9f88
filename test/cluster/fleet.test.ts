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
import type { ClusterStatus } from './helpers.js';

const PERIOD_S = 3;

function config(influx: string, db: string, cluster: string): string {
  return `receivers:
  errors: { endpoint: "{{OTLP}}" }
processors:
  metricsets:
    period: ${PERIOD_S}s
    allowed_lateness: 1s
    cluster_wait: 4s
    zero_fill: false
    scope: cluster
    unique: { exact_threshold: 32 }
    sets:
      - name: Fleet
        metrics:
          - { name: ByVersion, group_by: [app.version], aggregates: [count, unique(guid), sum(ms), min(ms), max(ms), mean(ms), first(ms), last(ms), p99(ms)] }
          - { name: All, aggregates: [count, unique(guid), sum(ms)] }
exporters:
  influxdb: { endpoint: ${influx}, db: ${db}, period: ${PERIOD_S}s, lateness: 10s, compression: none, retry_on_failure: { initial_interval: 100ms } }
service:
  pipelines:
    errors: { receivers: [errors], processors: [metricsets], exporters: [influxdb] }
${cluster}`;
}

function clusterYaml(nats: string, nodeId: string): string {
  return `  cluster:
    name: fleet
    node_id: ${nodeId}
    partitions: 8
    lease_ttl: 3s
    heartbeat: 250ms
    nats: { servers: [${nats}] }
`;
}

interface Row { key: string; time: number; value: number }

async function rows(influx: InfluxDBPeer, db: string): Promise<Row[]> {
  const r = await influx.query(db, 'SELECT * FROM /.*/ GROUP BY *');
  const out: Row[] = [];
  for (const s of r[0]?.series ?? []) {
    const vi = s.columns.indexOf('value');
    for (const v of s.values) out.push({ key: `${s.name}${JSON.stringify(s.tags ?? {})}`, time: Number(v[0]), value: Number(v[vi]) });
  }
  return out.sort((a, b) => a.time - b.time || a.key.localeCompare(b.key));
}

async function status(m: Started): Promise<{ processors: Array<{ id: string; counters?: Record<string, unknown> } & Record<string, unknown>> }> {
  return (await (await fetch(`${m.adminUrl}/api/v1/status`, { signal: AbortSignal.timeout(2000) })).json()) as never;
}

async function emitted(m: Started): Promise<number> {
  const st = await status(m);
  const p = st.processors.find((x) => x.id === 'metricsets') as Record<string, unknown> | undefined;
  return Number((p?.emitted_points ?? (p?.counters as Record<string, unknown> | undefined)?.emitted_points) ?? NaN);
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
}

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
    const replicas = await Promise.all(['a', 'b', 'c', 'd'].map((id) => startMetricport(config(influx!.url, 'fleet', clusterYaml(nats!.url, id)))));
    procs.push(...replicas);
    const single = await startMetricport(config(influx!.url, 'single', ''));
    procs.push(single);
    // every replica joined and sees four publishers
    await waitFor(async () => {
      for (const m of replicas) {
        const st = (await (await fetch(`${m.adminUrl}/api/v1/cluster`)).json()) as ClusterStatus & { fleet?: Record<string, { publishers?: string[] }> };
        if (!st.ready || st.nodes.filter((n) => n.live).length !== 4 || (st.fleet?.metricsets?.publishers?.length ?? 0) !== 4) return false;
      }
      return true;
    }, { timeoutMs: 30_000, what: 'four replicas joined, each publishing' });

    // three windows of events, sent as they happen (event time = now): each batch whole to the single instance, round-robin to the replicas
    const r = rng(11);
    const t0 = Date.now();
    let sent = 0;
    while (Date.now() - t0 < 3 * PERIOD_S * 1000) {
      const batch: string[][] = [[], [], [], []];
      const all: string[] = [];
      for (let i = 0; i < 40; i++) {
        // distinct event times (µs apart): first/last between publishers are decided by event time alone (a tie is merge order)
        const line = JSON.stringify({ timestamp: new Date(Date.now()).toISOString().replace('Z', `${String(sent % 1000).padStart(3, '0')}Z`), attributes: { 'app.version': `2.${Math.floor(r() * 4)}`, guid: `u-${Math.floor(r() * 300)}`, ms: Math.floor(r() * 1000) } });
        all.push(line);
        batch[sent % 4]!.push(line);
        sent++;
      }
      const post = async (m: Started, lines: string[]) => {
        if (lines.length === 0) return;
        const res = await fetch(`${m.otlpUrl}/v1/errors`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.join('\n') });
        expect(res.status, await res.text()).to.equal(200);
      };
      await Promise.all([post(single, all), ...replicas.map((m, i) => post(m, batch[i]!))]);
      await new Promise((res) => setTimeout(res, 100));
    }
    // every window exported by both (the single instance's windows are the reference); the replicas' total points equal the single instance's
    let want: Row[] = [];
    let got: Row[] = [];
    let e1 = 0;
    let e4 = 0;
    await waitFor(async () => {
      e1 = await emitted(single);
      e4 = (await Promise.all(replicas.map(emitted))).reduce((a, b) => a + b, 0);
      want = await rows(influx!, 'single');
      got = await rows(influx!, 'fleet');
      const lastEventWindowEnd = (Math.floor(Date.now() / 1000 / PERIOD_S) * PERIOD_S);
      return e1 > 0 && e1 === e4 && want.length > 0 && want.length === got.length && Date.now() / 1000 > lastEventWindowEnd + 1 && new Set(want.map((x) => x.time)).size >= 3;
    }, { timeoutMs: 40_000, intervalMs: 500, what: 'both databases complete' }).catch((err: Error) => {
      throw new Error(`${err.message}: single ${want.length} rows / ${e1} points emitted, fleet ${got.length} rows / ${e4} points; fleet status: ${replicas.map((m) => m.output().split('\n').filter((l) => /warn|error/i.test(l)).slice(-3).join('\n')).join('\n')}`);
    });
    const diff = (a: Row[], b: Row[]) => a.filter((x) => !b.some((y) => y.key === x.key && y.time === x.time && y.value === x.value)).map((x) => `${x.time} ${x.key}=${x.value}`);
    expect({ onlyFleet: diff(got, want), onlySingle: diff(want, got) }).to.deep.equal({ onlyFleet: [], onlySingle: [] });
    expect(got).to.deep.equal(want);
    // it was not trivial: every aggregate present, uniques past the exact threshold (HyperLogLog registers merged)
    const names = new Set(want.map((x) => x.key.split('{')[0]));
    for (const n of ['ByVersion.count', 'ByVersion.unique.guid', 'ByVersion.sum.ms', 'ByVersion.min.ms', 'ByVersion.max.ms', 'ByVersion.first.ms', 'ByVersion.last.ms', 'ByVersion.p99.ms', 'All.unique.guid']) expect(names.has(n), n).to.equal(true);
    expect(Math.max(...want.filter((x) => x.key.startsWith('All.unique.guid')).map((x) => x.value))).to.be.above(32);
    // the owners' counters: everything merged, nothing late
    const fleets = await Promise.all(replicas.map(async (m) => ((await (await fetch(`${m.adminUrl}/api/v1/cluster`)).json()) as { fleet: Record<string, { owner: Record<string, number>; publishing: Record<string, number> }> }).fleet.metricsets!));
    expect(fleets.reduce((a, f) => a + f.owner.partials_late!, 0)).to.equal(0);
    expect(fleets.reduce((a, f) => a + f.owner.partials_merged!, 0)).to.be.above(0);
    expect(fleets.reduce((a, f) => a + f.publishing.published!, 0)).to.be.above(0);
  });
});
