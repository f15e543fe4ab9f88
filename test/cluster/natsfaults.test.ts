/**
 * NATS faults under a running 14-day Forge backfill over three replicas
 * (lease_ttl 15 s: a JetStream R3 stream needs a few seconds to elect a new
 * leader after losing one, and a lease survives what takes < 3/4 of the TTL)
 * (child processes) on a three-node NATS JetStream cluster, buckets with
 * three replicas: the NATS server the lease holder is connected to is killed
 * (the holder reconnects to another, keeps its lease, nothing is polled
 * twice); then the whole NATS cluster is down for 30 s (the pollers pause
 * within 3/4 of the lease TTL, nobody holds the lease meanwhile, they resume
 * after; every window asked for and delivered, at most the one in flight at
 * the lapse twice).
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { startNatsCluster, usePeer, type NatsClusterPeer } from '../harness/peers.js';
import { waitFor } from '../harness/ports.js';
import { Gateway } from '../receivers/forge/gateway.js';
import { EMAIL, T0, TOKEN } from '../receivers/forge/helpers.js';
import type { ReplicaArgs } from './replica.js';
import { oneWindowPoint } from './helpers.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'replica.js');
const FORGE_WINDOWS = 14 * 96;
const TTL = 15_000;
const HEARTBEAT = 1000;

interface Replica {
  id: string;
  proc: ChildProcess;
  out(): string;
  exited: Promise<void>;
  statusFile: string;
}
interface Status {
  node_id: string;
  nats: { state: string; server: string | null; reconnects: number };
  leases: Array<{ lease: string; holder: string | null; token?: number }>;
  counters: Record<string, number>;
}

describe('cluster run-once under NATS faults (three-node NATS JetStream cluster, R3 buckets)', function () {
  this.timeout(300_000);
  let nats: NatsClusterPeer | undefined;
  const dirs: string[] = [];
  const replicas: Replica[] = [];
  let seq = 0;

  before(async function () {
    await usePeer(this, 'nats');
    nats = await startNatsCluster({ size: 3 });
  });
  afterEach(async () => {
    for (const r of replicas.splice(0)) {
      if (r.proc.exitCode === null && r.proc.signalCode === null) r.proc.kill('SIGKILL');
      await r.exited;
    }
    for (const n of nats?.nodes ?? []) await n.start();
  });
  after(async () => {
    await nats?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function setup() {
    const name = `nf${++seq}`;
    const dir = mkdtempSync(join(tmpdir(), 'mp-natsfaults-'));
    dirs.push(dir);
    const gw = await new Gateway({ now: () => T0, email: EMAIL, token: TOKEN, maxPerMinute: Infinity, respond: oneWindowPoint }).start();
    const deliveries = join(dir, 'deliveries.ndjson');
    const start = (id: string, seed: string): Replica => {
      const stateDir = join(dir, id);
      const a: ReplicaArgs = {
        nodeId: id,
        stateDir,
        gatewayUrl: gw.url,
        deliveries,
        cluster: { name, nats: { servers: [seed] }, replicas: 3, partitions: 4, lease_ttl: `${TTL}ms`, heartbeat: `${HEARTBEAT}ms` },
      };
      const proc = spawn(process.execPath, [CHILD, JSON.stringify(a)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => {
        out += d;
      });
      proc.stderr!.on('data', (d: Buffer) => {
        out += d;
      });
      const r: Replica = { id, proc, out: () => out, exited: new Promise((res) => proc.once('exit', () => res())), statusFile: `${stateDir}.status.json` };
      replicas.push(r);
      return r;
    };
    const status = (r: Replica): Status | undefined => {
      try {
        return JSON.parse(readFileSync(r.statusFile, 'utf8')) as Status;
      } catch {
        return undefined;
      }
    };
    const delivered = (): string[] =>
      existsSync(deliveries)
        ? readFileSync(deliveries, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
            .flatMap((l) => (JSON.parse(l) as { times: string[] }).times)
        : [];
    const rs = nats!.nodes.map((n, i) => start(['a', 'b', 'c'][i]!, n.url));
    const holderOf = (): { r: Replica; st: Status } | undefined => {
      for (const r of rs) {
        const st = status(r);
        if (st?.leases.find((l) => l.lease === 'poller.forge')?.token !== undefined) return { r, st };
      }
      return undefined;
    };
    return { gw, rs, status, delivered, holderOf };
  }

  it('the NATS server the holder is connected to is killed: it reconnects to another, keeps its lease; nothing polled twice', async () => {
    const s = await setup();
    try {
      await waitFor(() => s.gw.calls.length >= 300, { timeoutMs: 90_000, intervalMs: 10, what: '300 forge windows' });
      const h = s.holderOf()!;
      expect(h, 'a holder').to.not.equal(undefined);
      const server = h.st.nats.server!;
      const victim = nats!.nodes.find((n) => n.url.endsWith(`:${server.split(':').pop()}`))!;
      expect(victim, `the NATS node at ${server}`).to.not.equal(undefined);
      const token = h.st.leases.find((l) => l.lease === 'poller.forge')!.token!;
      await victim.kill('SIGKILL');
      await waitFor(() => new Set(s.gw.calls.map((c) => c.start)).size === FORGE_WINDOWS, {
        timeoutMs: 120_000,
        intervalMs: 50,
        what: 'every window asked for',
      });
      const after = s.status(h.r)!;
      expect(after.nats.server).to.not.equal(server);
      expect(after.nats.reconnects).to.be.at.least(1);
      expect(
        after.leases.find((l) => l.lease === 'poller.forge')?.token,
        `the same lease (same token) all along; holder's log:\n${h.r
          .out()
          .split('\n')
          .filter((l) => /lost|NATS|renew/.test(l))
          .join('\n')}`,
      ).to.equal(token);
      expect(after.counters.losses).to.equal(0);
      expect(s.gw.calls.length, 'nothing asked for twice').to.equal(FORGE_WINDOWS);
      // the last window asked for is written to the deliveries file a moment after its call
      await waitFor(() => s.delivered().length >= FORGE_WINDOWS, { timeoutMs: 30_000, intervalMs: 50, what: 'every window delivered' });
      await new Promise((res) => setTimeout(res, 1000)); // (and nothing more after it)
      const d = s.delivered();
      expect(d.length).to.equal(FORGE_WINDOWS);
      expect(new Set(d).size).to.equal(FORGE_WINDOWS);
      expect(s.gw.violations).to.deep.equal([]);
    } finally {
      await s.gw.stop();
    }
  });

  it('NATS fully down for 30 s: pollers pause (no holder meanwhile), resume after; every window asked for and delivered, at most the one in flight at the lapse twice', async () => {
    const s = await setup();
    try {
      await waitFor(() => s.gw.calls.length >= 300, { timeoutMs: 90_000, intervalMs: 10, what: '300 forge windows' });
      const t0 = performance.now();
      await Promise.all(nats!.nodes.map((n) => n.kill('SIGKILL')));
      const callsAtOutage = s.gw.calls.length;
      // within 3/4 of the TTL (plus the window in flight) every holder has stopped
      await new Promise((res) => setTimeout(res, TTL * 0.75 + 1500));
      const callsPaused = s.gw.calls.length;
      const holdersDuring: string[] = [];
      while (performance.now() - t0 < 30_000) {
        for (const r of s.rs) {
          const st = s.status(r);
          if (st?.leases.some((l) => l.token !== undefined)) holdersDuring.push(r.id);
        }
        await new Promise((res) => setTimeout(res, 200));
      }
      expect(s.gw.calls.length, 'no forge call while NATS is down (after 3/4 TTL)').to.equal(callsPaused);
      expect(holdersDuring, 'no replica holds a lease while NATS is down').to.deep.equal([]);
      for (const r of s.rs) expect(s.status(r)!.nats.state).to.not.equal('connected');
      await Promise.all(nats!.nodes.map((n) => n.start()));
      await waitFor(() => new Set(s.gw.calls.map((c) => c.start)).size === FORGE_WINDOWS, {
        timeoutMs: 180_000,
        intervalMs: 50,
        what: 'every window asked for after NATS came back',
      });
      await new Promise((res) => setTimeout(res, 1000));
      // at most the window in flight when the lease lapsed is asked for again; it is delivered again only when
      // another replica took the lease after the outage (docs/cluster.md, "NATS fully down"): at most one window twice
      expect(s.gw.calls.length).to.be.within(FORGE_WINDOWS, FORGE_WINDOWS + 1);
      const d = s.delivered();
      expect(new Set(d).size).to.equal(FORGE_WINDOWS);
      const twice = d.filter((t, i) => d.indexOf(t) !== i);
      expect(twice.length, `at most one window delivered twice: ${twice.join(', ')}`).to.be.at.most(1);
      expect(d.length - FORGE_WINDOWS).to.equal(twice.length);
      expect(callsAtOutage).to.be.below(FORGE_WINDOWS);
      expect(s.gw.violations).to.deep.equal([]);
    } finally {
      await s.gw.stop();
    }
  });
});
