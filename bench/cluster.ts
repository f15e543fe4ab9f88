/**
 * Scenario `cluster-leases`: three metricport replicas (the built service)
 * with a run-once `forge` receiver (polling a local GraphQL double) on a
 * nats-server with JetStream, default lease_ttl (10 s) and heartbeat (2 s).
 *
 * - failover after kill -9: SIGKILL the replica holding `poller.forge`, time
 *   until another replica's GET /api/v1/cluster shows it holding the lease;
 *   the killed one is restarted on its state dir before the next round;
 *   median of `--rounds` (default 10). Anchor: lease_ttl (the ratio is what
 *   the design promises: ≤ 1 + heartbeat/ttl + a little).
 * - handover after SIGTERM: the same, with a graceful stop.
 * - lease traffic per node and minute, idle: the KV operations each node
 *   counts (metricport_cluster_kv_operations) and the NATS server's messages
 *   and bytes in and out (GET /varz), over `--traffic` seconds (default 60),
 *   per node and per minute. Anchor: heartbeats per minute.
 *
 * Writes a section into docs/performance.md (unless --no-write).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../src/paths.js';
import { startNats } from '../test/harness/peers.js';
import { freePort } from '../test/harness/ports.js';
import { Gateway } from '../test/receivers/forge/gateway.js';
import { APP_ID, EMAIL, ENV, TOKEN } from '../test/receivers/forge/helpers.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ROUNDS = opt('rounds', 10);
const TRAFFIC_S = opt('traffic', 60);
const WRITE = !args.includes('--no-write');
const TTL_MS = 10_000;
const HEARTBEAT_MS = 2000;
const PARTITIONS = 16;

interface Replica {
  id: string;
  proc: ChildProcess;
  admin: string;
  exited: Promise<void>;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function status(r: Replica): Promise<{ leases: Array<{ lease: string; token?: number }>; counters: Record<string, number> } | undefined> {
  try {
    return (await (await fetch(`${r.admin}/api/v1/cluster`, { signal: AbortSignal.timeout(500) })).json()) as never;
  } catch {
    return undefined;
  }
}

async function holds(r: Replica): Promise<boolean> {
  const s = await status(r);
  return s?.leases.some((l) => l.lease === 'poller.forge' && l.token !== undefined) === true;
}

export async function clusterLeasesScenario(): Promise<void> {
  const root = packageRoot();
  const nats = await startNats();
  const gw = await new Gateway({
    now: () => Date.now(),
    email: EMAIL,
    token: TOKEN,
    maxPerMinute: Infinity,
    respond: () => ({ kind: 'data', resourceMetrics: [] }),
  }).start();
  const dir = mkdtempSync(join(tmpdir(), 'mp-bench-cluster-'));
  const replicas = new Map<string, Replica>();
  const start = async (id: string): Promise<Replica> => {
    const adminPort = await freePort();
    const cfg = join(dir, `${id}.yaml`);
    writeFileSync(
      cfg,
      `receivers:
  forge:
    app_id: ${APP_ID}
    environments: [${ENV}]
    email: ${EMAIL}
    api_token: ${TOKEN}
    endpoint: ${gw.url}
    history: 15m
exporters:
  nop: {}
service:
  cluster:
    name: bench
    node_id: ${id}
    partitions: ${PARTITIONS}
    lease_ttl: ${TTL_MS}ms
    heartbeat: ${HEARTBEAT_MS}ms
    nats: { servers: [${nats.url}] }
  pipelines:
    metrics: { receivers: [forge], exporters: [nop] }
`,
    );
    const proc = spawn(
      process.execPath,
      [
        join(root, 'dist/src/bin/metricport.js'),
        'run',
        '--config',
        cfg,
        '--admin-endpoint',
        `127.0.0.1:${adminPort}`,
        '--state-dir',
        join(dir, id),
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    const r: Replica = { id, proc, admin: `http://127.0.0.1:${adminPort}`, exited: new Promise((res) => proc.once('exit', () => res())) };
    replicas.set(id, r);
    for (let i = 0; i < 200 && (await status(r)) === undefined; i++) await new Promise((res) => setTimeout(res, 50));
    return r;
  };
  const holder = async (): Promise<Replica | undefined> => {
    for (const r of replicas.values()) if (await holds(r)) return r;
    return undefined;
  };
  const waitHolder = async (not: Replica): Promise<Replica> => {
    for (;;) {
      for (const r of replicas.values()) if (r !== not && (await holds(r))) return r;
      await new Promise((res) => setTimeout(res, 10));
    }
  };
  try {
    for (const id of ['r1', 'r2', 'r3']) await start(id);
    while ((await holder()) === undefined) await new Promise((res) => setTimeout(res, 50));
    console.log(`3 replicas, lease_ttl ${TTL_MS} ms, heartbeat ${HEARTBEAT_MS} ms, ${PARTITIONS} partitions; ${ROUNDS} rounds each`);
    const measure = async (signal: NodeJS.Signals): Promise<number[]> => {
      const out: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const h = (await holder())!;
        const t0 = performance.now();
        h.proc.kill(signal);
        const next = await waitHolder(h);
        out.push(performance.now() - t0);
        await h.exited;
        replicas.delete(h.id);
        await start(h.id);
        console.log(`  ${signal} ${h.id} → ${next.id}: ${Math.round(out[out.length - 1]!)} ms`);
        await new Promise((res) => setTimeout(res, HEARTBEAT_MS));
      }
      return out;
    };
    const kill = await measure('SIGKILL');
    const term = await measure('SIGTERM');

    // idle lease traffic
    const varz = async () =>
      (await (await fetch(`${nats.monitorUrl}/varz`)).json()) as { in_msgs: number; out_msgs: number; in_bytes: number; out_bytes: number };
    const ops = async () => {
      let n = 0;
      for (const r of replicas.values()) n += (await status(r))?.counters.kv_ops ?? 0;
      return n;
    };
    await new Promise((res) => setTimeout(res, 2 * HEARTBEAT_MS));
    const v0 = await varz();
    const o0 = await ops();
    const t0 = performance.now();
    await new Promise((res) => setTimeout(res, TRAFFIC_S * 1000));
    const v1 = await varz();
    const o1 = await ops();
    const mins = (performance.now() - t0) / 60_000;
    const n = replicas.size;
    const perNodeMin = (x: number) => x / n / mins;
    const traffic = {
      kvOps: perNodeMin(o1 - o0),
      inMsgs: perNodeMin(v1.in_msgs - v0.in_msgs),
      outMsgs: perNodeMin(v1.out_msgs - v0.out_msgs),
      inKiB: perNodeMin(v1.in_bytes - v0.in_bytes) / 1024,
      outKiB: perNodeMin(v1.out_bytes - v0.out_bytes) / 1024,
    };
    const heartbeatsPerMin = 60_000 / HEARTBEAT_MS;
    const summary = [
      `failover after kill -9 (another replica holds the poller lease): median ${(median(kill) / 1000).toFixed(2)} s over ${kill.length} rounds (min ${(Math.min(...kill) / 1000).toFixed(2)}, max ${(Math.max(...kill) / 1000).toFixed(2)}) = ${(median(kill) / TTL_MS).toFixed(2)} × lease_ttl (bound: lease_ttl + heartbeat = ${((TTL_MS + HEARTBEAT_MS) / TTL_MS).toFixed(2)} ×)`,
      `handover on SIGTERM: median ${Math.round(median(term))} ms (min ${Math.round(Math.min(...term))}, max ${Math.round(Math.max(...term))}; includes the admin API poll every 10 ms) = ${(median(term) / TTL_MS).toFixed(3)} × lease_ttl`,
      `idle lease traffic per node and minute (3 nodes, ${PARTITIONS} partitions, one poller lease): ${Math.round(traffic.kvOps)} KV operations (${(traffic.kvOps / heartbeatsPerMin).toFixed(1)} per heartbeat); at the NATS server ${Math.round(traffic.inMsgs)} messages in / ${Math.round(traffic.outMsgs)} out, ${traffic.inKiB.toFixed(0)} KiB in / ${traffic.outKiB.toFixed(0)} KiB out`,
    ];
    console.log(summary.join('\n'));
    if (WRITE) {
      const section = [
        '<!-- bench:cluster-leases:start -->',
        `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --scenario cluster-leases\` (three replicas of the built service with a run-once \`forge\` receiver against a local GraphQL double, one nats-server 2.9 with JetStream, all on this machine; lease_ttl ${TTL_MS / 1000} s, heartbeat ${HEARTBEAT_MS / 1000} s, ${PARTITIONS} partitions; the holder found through each replica's GET /api/v1/cluster, polled every 10 ms; traffic over ${TRAFFIC_S} s idle) on ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}.`,
        '',
        '| | median | min | max | × lease_ttl |',
        '|---|---:|---:|---:|---:|',
        `| failover after kill -9 | ${(median(kill) / 1000).toFixed(2)} s | ${(Math.min(...kill) / 1000).toFixed(2)} s | ${(Math.max(...kill) / 1000).toFixed(2)} s | ${(median(kill) / TTL_MS).toFixed(2)} |`,
        `| handover on SIGTERM | ${Math.round(median(term))} ms | ${Math.round(Math.min(...term))} ms | ${Math.round(Math.max(...term))} ms | ${(median(term) / TTL_MS).toFixed(3)} |`,
        '',
        ...summary.map((s) => `- ${s}`),
        '<!-- bench:cluster-leases:end -->',
      ].join('\n');
      const docPath = join(root, 'docs/performance.md');
      let doc = readFileSync(docPath, 'utf8');
      if (doc.includes('<!-- bench:cluster-leases:start -->'))
        doc = doc.replace(/<!-- bench:cluster-leases:start -->[\s\S]*<!-- bench:cluster-leases:end -->/, section);
      else doc = doc.trimEnd() + '\n\n## Cluster: lease failover and lease traffic\n' + section + '\n';
      writeFileSync(docPath, doc);
      console.log(`wrote ${docPath}`);
    }
  } finally {
    for (const r of replicas.values()) {
      r.proc.kill('SIGKILL');
      await r.exited;
    }
    await gw.stop();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
