/**
 * Run-once pollers over a cluster of three replicas (child processes, real
 * NATS, real PostgreSQL, real InfluxDB, the Forge GraphQL double): a 14-day
 * Forge backfill (1,344 windows of 15 min) and a 3-day SQL backfill (5-min
 * chunks) are asked for once across the cluster and every point lands once
 * in InfluxDB; the lease holder killed with SIGKILL mid-backfill is replaced
 * within lease_ttl + one poll interval, and, restarted, polls nothing again;
 * a holder frozen with SIGSTOP past the TTL, then resumed, neither moves the
 * watermark (every write in KV, in revision order, carries a non-decreasing
 * fencing token) nor delivers a window its successor delivered.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import {
  PeerGroup,
  startInfluxDB,
  startNatsCluster,
  startPostgres,
  usePeer,
  type InfluxDBPeer,
  type NatsClusterPeer,
  type PostgresPeer,
} from '../harness/peers.js';
import { waitFor } from '../harness/ports.js';
import { Gateway, type GatewayCall } from '../receivers/forge/gateway.js';
import { APP_UUID, EMAIL, ENV, T0, TOKEN } from '../receivers/forge/helpers.js';
import type { ReplicaArgs } from './replica.js';
import { oneWindowPoint } from './helpers.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'replica.js');
const WINDOW = 15 * 60_000;
const FORGE_WINDOWS = 14 * 96;
const TTL = 3000;
const HEARTBEAT = 250;

interface Replica {
  id: string;
  proc: ChildProcess;
  out(): string;
  exited: Promise<void>;
  stateDir: string;
}

/** Forge windows asked for: contiguous from the 14-day start to T0's last whole minute. */
function forgeStarts(calls: GatewayCall[]): number[] {
  return [...new Set(calls.map((c) => c.start))].sort((a, b) => a - b);
}

describe('cluster run-once: forge and importer on exactly one of three replicas (real NATS, PostgreSQL, InfluxDB)', function () {
  this.timeout(240_000);
  const peers = new PeerGroup();
  let nats: NatsClusterPeer;
  let pg: PostgresPeer;
  let influx: InfluxDBPeer;
  let nc: NatsConnection | undefined;
  const dirs: string[] = [];
  const replicas: Replica[] = [];
  let seq = 0;

  before(async function () {
    await usePeer(this, 'nats', 'postgres', 'influxdb');
    [nats, pg, influx] = await Promise.all([
      peers.start('nats', () => startNatsCluster({ size: 1 })),
      peers.start('pg', () => startPostgres({ own: true })),
      peers.start('influx', () => startInfluxDB()),
    ]);
    nc = await connect({ servers: nats.urls });
  });
  afterEach(async () => {
    for (const r of replicas.splice(0)) {
      if (r.proc.exitCode === null && r.proc.signalCode === null) {
        r.proc.kill('SIGCONT');
        r.proc.kill('SIGKILL');
      }
      await r.exited;
    }
  });
  after(async () => {
    await nc?.close();
    await peers.stopAll();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function setup() {
    const name = `ro${++seq}`;
    const dir = mkdtempSync(join(tmpdir(), 'mp-runonce-'));
    dirs.push(dir);
    const db = `runonce_${seq}`;
    await influx.createDatabase(db);
    await pg.psql(`drop table if exists samples; drop table if exists asked;
      create table samples(t timestamptz primary key, v double precision);
      create table asked(node text, from_ts timestamptz, to_ts timestamptz, at timestamptz default clock_timestamp());
      insert into samples select g, extract(epoch from g) / 60 from generate_series(date_trunc('minute', now()) - interval '3 days 10 minutes', date_trunc('minute', now()), interval '1 minute') g;`);
    const gw = await new Gateway({ now: () => T0, email: EMAIL, token: TOKEN, maxPerMinute: Infinity, respond: oneWindowPoint }).start();
    const deliveries = join(dir, 'deliveries.ndjson');
    const start = (id: string): Replica => {
      const stateDir = join(dir, id);
      const a: ReplicaArgs = {
        nodeId: id,
        stateDir,
        gatewayUrl: gw.url,
        deliveries,
        cluster: { name, nats: { servers: nats.urls }, partitions: 4, lease_ttl: `${TTL}ms`, heartbeat: `${HEARTBEAT}ms` },
        pg: { host: pg.host, port: pg.port, database: pg.database, user: pg.user },
        influx: { url: influx.url, db },
      };
      const proc = spawn(process.execPath, [CHILD, JSON.stringify(a)], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => {
        out += d;
      });
      proc.stderr!.on('data', (d: Buffer) => {
        out += d;
      });
      const r: Replica = { id, proc, out: () => out, exited: new Promise((res) => proc.once('exit', () => res())), stateDir };
      replicas.push(r);
      return r;
    };
    return { name, db, gw, deliveries, start };
  }

  /** The replica that logged "this node polls now" (forge) or "imports now" (importer) last. */
  function holder(rs: Replica[], what: 'polls' | 'imports'): Replica | undefined {
    let best: { r: Replica; at: number } | undefined;
    for (const r of rs) {
      for (const line of r.out().split('\n')) {
        if (!line.includes(`run-once: this node ${what} now`)) continue;
        const at = Date.parse((JSON.parse(line) as { time: string }).time);
        if (best === undefined || at > best.at) best = { r, at };
      }
    }
    return best?.r;
  }

  function deliveriesOf(file: string): Array<{ node: string; kind: string; times: string[] }> {
    return existsSync(file)
      ? readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l))
      : [];
  }

  async function influxCount(db: string, kind: string): Promise<{ count: number; sum: number }> {
    const r = await influx.query(db, `SELECT count(value), sum(value) FROM "${kind}"`);
    const v = r[0]?.series?.[0]?.values?.[0];
    return v === undefined ? { count: 0, sum: 0 } : { count: Number(v[1]), sum: Number(v[2]) };
  }

  async function asked(): Promise<Array<{ node: string; from: number; to: number }>> {
    const out = await pg.psql(`select node, extract(epoch from from_ts) * 1000, extract(epoch from to_ts) * 1000 from asked order by from_ts, at`);
    return out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => {
        const [node, f, t] = l.split('|');
        return { node: node!, from: Number(f), to: Number(t) };
      });
  }

  async function expectedSql(from: number, to: number): Promise<{ count: number; sum: number }> {
    const [c, s] = (
      await pg.psql(`select count(*), coalesce(sum(v), 0) from samples where t >= to_timestamp(${from / 1000}) and t < to_timestamp(${to / 1000})`)
    )
      .trim()
      .split('|');
    return { count: Number(c), sum: Number(s) };
  }

  it('three replicas: each backfill runs on one node; kill -9 of the holder mid-backfill: taken over within TTL + one poll interval, nothing skipped; the restarted one polls nothing done', async () => {
    const s = await setup();
    try {
      const rs = [s.start('a'), s.start('b'), s.start('c')];
      await waitFor(() => s.gw.calls.length >= 300, {
        timeoutMs: 60_000,
        intervalMs: 5,
        what: '300 forge windows',
        abortIf: () => {
          for (const r of rs) if (r.proc.exitCode !== null) throw new Error(r.out());
        },
      });
      const victim = holder(rs, 'polls')!;
      expect(victim, 'a forge lease holder').to.not.equal(undefined);
      const callsAtKill = s.gw.calls.length;
      const killedAt = performance.now();
      victim.proc.kill('SIGKILL');
      await victim.exited;
      // another replica takes over: its first call comes within TTL + one poll interval (the standby's heartbeat) + margin
      await waitFor(() => s.gw.calls.length > callsAtKill, { timeoutMs: 20_000, intervalMs: 5, what: 'a forge call after the kill' });
      const takeoverMs = performance.now() - killedAt;
      expect(takeoverMs).to.be.below(TTL + 200 + 2 * HEARTBEAT + 1000);
      // restart the killed one on its state dir while the others finish
      const deliveredBeforeRestart = new Set(deliveriesOf(s.deliveries).flatMap((d) => d.times.map((t) => `${d.kind}:${t}`)));
      const linesBeforeRestart = deliveriesOf(s.deliveries).length;
      const again = s.start(`${victim.id}`);
      const live = rs.filter((r) => r !== victim).concat(again);
      await waitFor(() => forgeStarts(s.gw.calls).length === FORGE_WINDOWS, { timeoutMs: 120_000, intervalMs: 20, what: 'every forge window asked for' });
      const callsDone = s.gw.calls.length;
      // the SQL backfill reaches the present: the last chunk ends at this minute
      await waitFor(
        async () => {
          const a = await asked();
          return a.length > 0 && a[a.length - 1]!.to >= Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
        },
        { timeoutMs: 120_000, intervalMs: 100, what: 'the SQL backfill caught up' },
      );
      await new Promise((res) => setTimeout(res, 1000)); // idle passes: nothing more may be asked for
      expect(s.gw.calls.length, 'no forge window asked for again after the backfill').to.equal(callsDone);
      expect(s.gw.violations).to.deep.equal([]);

      // forge: contiguous windows from T0 − 14 d; each asked for once, but the one in flight at the kill (at most)
      const starts = forgeStarts(s.gw.calls);
      expect(starts.length).to.equal(FORGE_WINDOWS);
      for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).to.equal(WINDOW);
      expect(s.gw.calls.length).to.be.within(FORGE_WINDOWS, FORGE_WINDOWS + 1);
      const twice = s.gw.calls.length - FORGE_WINDOWS;
      // every window's point once in InfluxDB
      await waitFor(async () => (await influxCount(s.db, 'forge')).count === FORGE_WINDOWS, {
        timeoutMs: 10_000,
        what: `InfluxDB has ${FORGE_WINDOWS} forge points`,
      });
      // delivered once each across the cluster, but the window delivered and not yet recorded at the kill (at most one)
      const forgeDeliveries = deliveriesOf(s.deliveries)
        .filter((d) => d.kind === 'forge')
        .flatMap((d) => d.times);
      expect(new Set(forgeDeliveries).size).to.equal(FORGE_WINDOWS);
      expect(forgeDeliveries.length).to.be.within(FORGE_WINDOWS, FORGE_WINDOWS + 1);
      // the restarted replica delivered nothing that was delivered before it came back
      const afterRestart = deliveriesOf(s.deliveries)
        .slice(linesBeforeRestart)
        .filter((d) => d.node === victim.id)
        .flatMap((d) => d.times.map((t) => `${d.kind}:${t}`));
      expect(afterRestart.filter((t) => deliveredBeforeRestart.has(t))).to.deep.equal([]);

      // SQL: the chunks tile [start, end) without a gap; each asked for once but the one in flight at the kill
      const a = await asked();
      const froms = [...new Set(a.map((x) => x.from))];
      expect(a.length).to.be.within(froms.length, froms.length + 1);
      for (let i = 1; i < froms.length; i++) expect(froms[i]).to.equal(a.find((x) => x.from === froms[i - 1])!.to);
      const exp = await expectedSql(a[0]!.from, a[a.length - 1]!.to);
      expect(exp.count).to.be.above(4000);
      await waitFor(async () => (await influxCount(s.db, 'importer')).count === exp.count, { timeoutMs: 10_000, what: `InfluxDB has ${exp.count} SQL points` });
      expect((await influxCount(s.db, 'importer')).sum).to.equal(exp.sum);
      // the watermarks in KV are where the backfills ended
      const kv = await new Kvm(nc!).open(`mp_${s.name}_state`);
      const fw = (await kv.get(`wm.forge.${APP_UUID}.${ENV}`))!.json<{ watermark_ms: number; token: number }>();
      expect(fw.watermark_ms).to.equal(Math.max(...s.gw.calls.map((c) => c.end)));
      const iw = (await kv.get('wm.importer.minutes'))!.json<{ watermark_ms: number }>();
      expect(iw.watermark_ms).to.equal(a[a.length - 1]!.to);
      for (const r of live) expect(r.proc.exitCode, r.out()).to.equal(null);
      process.stdout.write(
        `      (takeover after kill -9: ${Math.round(takeoverMs)} ms; forge windows asked twice: ${twice}, delivered twice: ${forgeDeliveries.length - FORGE_WINDOWS}; SQL queries ${a.length} for ${froms.length} chunks)\n`,
      );
    } finally {
      await s.gw.stop();
    }
  });

  it('SIGSTOP past the TTL, then SIGCONT: the frozen holder neither moves the watermark nor delivers a window its successor did (KV and store)', async () => {
    const s = await setup();
    const kvWrites: Array<{ key: string; revision: number; token: number; watermark_ms: number | null; node: string }> = [];
    const kvm = new Kvm(nc!);
    const first = s.start('a');
    // the first replica creates the buckets; watch every watermark write from the start
    let w: Awaited<ReturnType<Awaited<ReturnType<Kvm['open']>>['watch']>> | undefined;
    await waitFor(
      async () => {
        try {
          w = await (await kvm.open(`mp_${s.name}_state`)).watch({ key: 'wm.>', include: 'history' });
          return true;
        } catch {
          return false;
        }
      },
      { timeoutMs: 15_000, intervalMs: 50, what: 'the state bucket' },
    );
    void (async () => {
      for await (const e of w!)
        if (e.operation === 'PUT') {
          const v = e.json<{ token: number; watermark_ms?: number; node: string }>();
          kvWrites.push({ key: e.key, revision: e.revision, token: v.token, watermark_ms: v.watermark_ms ?? null, node: v.node });
        }
    })();
    try {
      const rs = [first, s.start('b'), s.start('c')];
      await waitFor(() => s.gw.calls.length >= 300, { timeoutMs: 60_000, intervalMs: 5, what: '300 forge windows' });
      const frozen = holder(rs, 'polls')!;
      frozen.proc.kill('SIGSTOP');
      const stoppedAt = s.gw.calls.length;
      // what the frozen replica had recorded as delivered when it froze: a window it was exporting at that moment (handed
      // downstream after its check, the store write in flight) is recorded only after SIGCONT
      const linesAtFreeze = deliveriesOf(s.deliveries).length;
      await waitFor(() => s.gw.calls.length > stoppedAt + 50, { timeoutMs: 20_000, intervalMs: 10, what: 'a successor polls' });
      await new Promise((res) => setTimeout(res, TTL)); // well past the TTL
      frozen.proc.kill('SIGCONT');
      await waitFor(() => forgeStarts(s.gw.calls).length === FORGE_WINDOWS, { timeoutMs: 120_000, intervalMs: 20, what: 'every forge window asked for' });
      await new Promise((res) => setTimeout(res, 1500));
      w!.stop();
      // KV: per key, in revision order, the token never decreases and the watermark never goes back
      for (const key of new Set(kvWrites.map((x) => x.key))) {
        const ws = kvWrites.filter((x) => x.key === key).sort((p, q) => p.revision - q.revision);
        for (let i = 1; i < ws.length; i++) {
          expect(ws[i]!.token, `${key} rev ${ws[i]!.revision} by ${ws[i]!.node}`).to.be.at.least(ws[i - 1]!.token);
          if (ws[i]!.watermark_ms !== null && ws[i - 1]!.watermark_ms !== null) expect(ws[i]!.watermark_ms!).to.be.at.least(ws[i - 1]!.watermark_ms!);
        }
      }
      const forgeWrites = kvWrites.filter((x) => x.key.startsWith('wm.forge.')).sort((p, q) => p.revision - q.revision);
      const succession = forgeWrites.map((x) => x.node).filter((n, i, all) => i === 0 || all[i - 1] !== n);
      expect(succession.filter((n) => n === frozen.id).length, `writers in order: ${succession.join(' → ')}`).to.be.at.most(2); // before the freeze, and only after taking the lease again later
      expect(succession.length, 'the lease moved to a successor').to.be.at.least(2);
      expect(succession[0]).to.equal(frozen.id);
      // the store: every window once; nothing the successor delivered was delivered again by the frozen one, but the one
      // window the frozen replica had already handed downstream when it froze (its check passed before the freeze, its
      // store write completed after SIGCONT; the successor polled it again as the watermark had not moved: docs/cluster.md,
      // "What remains"). That window, if any, is the frozen replica's first record after the freeze; or, when the freeze
      // came after its store write but before its watermark write, its last record before the freeze.
      const all = deliveriesOf(s.deliveries);
      const firstAfterFreeze = all.findIndex((d, i) => i >= linesAtFreeze && d.node === frozen.id && d.kind === 'forge');
      let lastBeforeFreeze = -1;
      for (let i = 0; i < Math.min(linesAtFreeze, all.length); i++) if (all[i]!.node === frozen.id && all[i]!.kind === 'forge') lastBeforeFreeze = i;
      const seen = new Map<string, string>();
      const twice: string[] = [];
      all.forEach((d, i) => {
        if (d.kind !== 'forge') return;
        for (const t of d.times) {
          if (seen.has(t)) {
            const what = `window ending ${new Date(Number(t)).toISOString()} delivered by ${seen.get(t)} and again by ${d.node} (record ${i}, frozen replica's last record before the freeze: ${lastBeforeFreeze}, first after it: ${firstAfterFreeze})`;
            const firstOf = all.findIndex((x) => x.kind === 'forge' && x.times.includes(t));
            expect(i === firstAfterFreeze || (seen.get(t) === frozen.id && (firstOf === firstAfterFreeze || firstOf === lastBeforeFreeze)), what).to.equal(
              true,
            );
            twice.push(t);
          }
          seen.set(t, d.node);
        }
      });
      expect(twice.length, `windows delivered twice: ${twice.join(', ')}`).to.be.at.most(1);
      expect(seen.size).to.equal(FORGE_WINDOWS);
      await waitFor(async () => (await influxCount(s.db, 'forge')).count === FORGE_WINDOWS, { timeoutMs: 10_000, what: 'InfluxDB forge points' });
      expect(s.gw.violations).to.deep.equal([]);
    } finally {
      await s.gw.stop();
    }
  });
});
