/**
 * The built service with `service.cluster`, as a user runs it: the NATS
 * client is loaded only when a cluster is configured (checked on the modules
 * the process resolved); the service starts and serves while NATS is down
 * (/healthz 200 "degraded") and joins once it is up; membership churn
 * 1 → 3 → 1 with every partition owned by exactly one live node at every
 * 100 ms check of GET /api/v1/cluster, handover on a graceful stop < 1 s;
 * `metricport cluster` prints the same view.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { startNats, startNatsCluster, usePeer, type NatsClusterPeer } from '../harness/peers.js';
import { waitFor } from '../harness/ports.js';
import { BIN, startMetricport, type Started } from '../e2e/metricport.js';
import { badPartitions, type ClusterStatus } from './helpers.js';

const TRACE = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), 'trace-modules.js')).href;

function yaml(cluster: string): string {
  return `receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:
  nop: {}
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [nop] }
${cluster}`;
}

function clusterYaml(name: string, servers: string[], nodeId: string): string {
  return `  cluster:
    name: ${name}
    node_id: ${nodeId}
    partitions: 12
    lease_ttl: 3s
    heartbeat: 250ms
    nats: { servers: [${servers.join(', ')}] }
`;
}

async function clusterStatus(m: Started): Promise<ClusterStatus> {
  return (await (await fetch(`${m.adminUrl}/api/v1/cluster`, { signal: AbortSignal.timeout(2000) })).json()) as ClusterStatus;
}

describe('cluster end to end (the built service, real nats-server)', function () {
  this.timeout(120_000);
  let nats: NatsClusterPeer | undefined;
  const procs: Started[] = [];
  const dirs: string[] = [];
  before(async function () {
    await usePeer(this, 'nats');
    nats = await startNatsCluster({ size: 1 });
  });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop()));
  });
  after(async () => {
    await nats?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('without service.cluster no NATS module is loaded; with it, the client is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-trace-'));
    dirs.push(dir);
    const plain = join(dir, 'plain.txt');
    const a = await startMetricport(yaml(''), { env: { NODE_OPTIONS: `--import ${TRACE}`, MP_TRACE_MODULES: plain } });
    procs.push(a);
    const withCluster = join(dir, 'cluster.txt');
    const b = await startMetricport(yaml(`${clusterYaml('lazy', [nats!.urls[0]!], 'b')}`), {
      env: { NODE_OPTIONS: `--import ${TRACE}`, MP_TRACE_MODULES: withCluster },
    });
    procs.push(b);
    await waitFor(async () => (await clusterStatus(b)).ready, { timeoutMs: 10_000, what: 'b joined' });
    const mods = (f: string) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .filter((l) => l !== '');
    expect(mods(plain).length, "the trace saw the service's own modules").to.be.above(50);
    expect(mods(plain).filter((u) => u.includes('/@nats-io/') || u.includes('/src/cluster/node.js'))).to.deep.equal([]);
    expect(mods(withCluster).some((u) => u.includes('/@nats-io/transport-node/'))).to.equal(true);
    expect(mods(withCluster).some((u) => u.includes('/src/cluster/node.js'))).to.equal(true);
    // and the plain instance says so
    expect(await (await fetch(`${a.adminUrl}/api/v1/cluster`)).json()).to.have.property('enabled', false);
  });

  it('starts and serves while NATS is down (/healthz 200, degraded), joins when NATS comes up', async () => {
    const n0 = nats!.nodes[0]!;
    await n0.kill('SIGKILL');
    try {
      const t0 = performance.now();
      const m = await startMetricport(yaml(clusterYaml('down', [n0.url], 'solo')));
      procs.push(m);
      expect(performance.now() - t0).to.be.below(10_000);
      const h = await fetch(`${m.adminUrl}/healthz`);
      expect(h.status).to.equal(200);
      const body = (await h.json()) as { status: string; degraded?: Array<{ component: string; reason: string }> };
      expect(body.status).to.equal('degraded');
      expect(body.degraded?.[0]?.component).to.equal('cluster');
      expect(body.degraded?.[0]?.reason).to.match(/NATS unreachable/);
      // the pipelines serve meanwhile
      const r = await fetch(`${m.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceMetrics":[]}' });
      expect(r.status).to.equal(200);
      expect((await clusterStatus(m)).nats.state).to.not.equal('connected');
      await n0.start();
      await waitFor(
        async () => {
          const s = await clusterStatus(m);
          return s.ready && s.nats.state === 'connected' && badPartitions(s, ['solo']).length === 0;
        },
        { timeoutMs: 15_000, what: 'joined after NATS came up, owning every partition' },
      );
      expect(((await (await fetch(`${m.adminUrl}/healthz`)).json()) as { status: string }).status).to.equal('ok');
    } finally {
      await n0.start();
    }
  });

  it('NATS user/password: joins with the right one, degraded with the wrong one; the password never shows (logs, status, cluster API); counters on /metrics', async () => {
    const secret = 'SECRET-nats-pw-7f3a';
    const authed = await startNats({ user: 'mp', password: secret });
    try {
      const cfg = (name: string) =>
        yaml(`  cluster:
    name: ${name}
    node_id: auth1
    lease_ttl: 3s
    heartbeat: 250ms
    nats:
      servers: [${authed.url}]
      user: mp
      password: \${env:NATS_PASSWORD}
`);
      const good = await startMetricport(cfg('auth'), { env: { NATS_PASSWORD: secret } });
      procs.push(good);
      await waitFor(async () => (await clusterStatus(good)).ready, { timeoutMs: 10_000, what: 'joined with the password' });
      const bad = await startMetricport(cfg('auth2'), { env: { NATS_PASSWORD: 'SECRET-wrong-pw-1' } });
      procs.push(bad);
      await waitFor(async () => ((await (await fetch(`${bad.adminUrl}/healthz`)).json()) as { status: string }).status === 'degraded', {
        timeoutMs: 10_000,
        what: 'degraded with a wrong password',
      });
      await waitFor(async () => /[Aa]uthorization/.test(JSON.stringify(await (await fetch(`${bad.adminUrl}/api/v1/cluster`)).json())), {
        timeoutMs: 10_000,
        what: 'the authorization error in the cluster API',
      });
      const metrics = await (await fetch(`${good.adminUrl}/metrics`)).text();
      expect(metrics).to.match(/^metricport_cluster_lease_acquisitions_total\{kind="partition"\} 16$/m);
      expect(metrics).to.match(/^metricport_cluster_nats_connected 1$/m);
      expect(metrics).to.match(/^metricport_cluster_members 1$/m);
      for (const m of [good, bad]) {
        for (const path of ['/api/v1/status', '/api/v1/cluster', '/healthz', '/metrics']) {
          const text = await (await fetch(`${m.adminUrl}${path}`)).text();
          expect(text, path).to.not.include('SECRET-');
        }
      }
      expect(good.output() + bad.output()).to.not.include('SECRET-');
    } finally {
      await authed.stop();
    }
  });

  it('churn 1 → 3 → 1: at every 100 ms check each partition has exactly one live holder; a graceful stop hands over in < 1 s; metricport cluster shows it', async () => {
    const url = nats!.urls[0]!;
    const r1 = await startMetricport(yaml(clusterYaml('churn', [url], 'r1')));
    procs.push(r1);
    await waitFor(async () => badPartitions(await clusterStatus(r1), ['r1']).length === 0, { timeoutMs: 15_000, what: 'r1 owns every partition' });
    const live = new Set(['r1']);
    const violations: string[] = [];
    let checks = 0;
    let stopChecks = false;
    // the checker: every 100 ms, from r1's GET /api/v1/cluster
    const checker = (async () => {
      while (!stopChecks) {
        const started = performance.now();
        const snapshot = [...live];
        const s = await clusterStatus(r1);
        const bad = badPartitions(s, [...live, ...snapshot]);
        if (bad.length > 0) violations.push(`${new Date().toISOString()} live=${snapshot.join(',')}: ${JSON.stringify(bad)}`);
        checks++;
        await new Promise((res) => setTimeout(res, Math.max(0, 100 - (performance.now() - started))));
      }
    })();
    const byHolder = async (id: string) => (await clusterStatus(r1)).partitions.filter((p) => p.holder === id).length;
    /** wait until the checker has looked `n` more times (each phase is checked, however slow a loaded machine makes a check) */
    const moreChecks = async (n: number, phase: string): Promise<void> => {
      const from = checks;
      await waitFor(() => checks >= from + n, { timeoutMs: 30_000, intervalMs: 20, what: `${n} checks ${phase}` });
    };
    live.add('r2'); // a candidate as soon as its process exists
    const r2 = await startMetricport(yaml(clusterYaml('churn', [url], 'r2')));
    procs.push(r2);
    await waitFor(async () => (await byHolder('r2')) > 0, { timeoutMs: 15_000, what: 'r2 got partitions' });
    live.add('r3');
    const r3 = await startMetricport(yaml(clusterYaml('churn', [url], 'r3')));
    procs.push(r3);
    await waitFor(async () => (await byHolder('r3')) > 0 && (await byHolder('r2')) > 0 && (await byHolder('r1')) > 0, {
      timeoutMs: 15_000,
      what: 'three owners',
    });
    await moreChecks(5, 'with three owners');
    // `metricport cluster` against r1
    const cli = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn(process.execPath, [BIN, 'cluster', '--admin-endpoint', `127.0.0.1:${r1.adminPort}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => {
        out += d;
      });
      p.stderr.on('data', (d: Buffer) => {
        out += d;
      });
      p.once('exit', (code) => resolve({ code, out }));
    });
    expect(cli.code, cli.out).to.equal(0);
    expect(cli.out).to.match(/cluster churn {2}node r1/);
    for (const id of ['r1 *', 'r2', 'r3']) expect(cli.out).to.include(id);
    expect(cli.out, cli.out).to.match(/nats: connected to (nats:\/\/)?127\.0\.0\.1:\d+, rtt \d+ ms/);
    // graceful stops, one by one: the partitions move within a second
    const handovers: number[] = [];
    for (const [m, id] of [
      [r3, 'r3'],
      [r2, 'r2'],
    ] as const) {
      const t0 = performance.now();
      const stopped = m.stop('SIGTERM');
      await waitFor(async () => (await byHolder(id)) === 0, { timeoutMs: 5000, intervalMs: 20, what: `${id}'s partitions handed over` });
      handovers.push(performance.now() - t0);
      await stopped;
      procs.splice(procs.indexOf(m), 1);
      live.delete(id);
      await moreChecks(3, `after ${id} stopped`);
    }
    stopChecks = true;
    await checker;
    expect(violations).to.deep.equal([]);
    expect(checks).to.be.above(10);
    for (const ms of handovers) expect(ms).to.be.below(1000);
    expect(badPartitions(await clusterStatus(r1), ['r1'])).to.deep.equal([]);
  });
});
