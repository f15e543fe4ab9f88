/**
 * The cluster layer against a real nats-server (JetStream KV): partitions
 * split over the live nodes with exactly one holder each, handed over at once
 * on a graceful stop and taken over after the TTL when a node vanishes; a
 * run-once lease has one holder; its fenced watermark store refuses a holder
 * whose lease a successor took (the write-time check).
 */
import { expect } from 'chai';
import { performance } from 'node:perf_hooks';
import { startNats, startNatsCluster, usePeer, type NatsPeer } from '../harness/peers.js';
import { waitFor } from '../harness/ports.js';
import type { ClusterNode } from '../../src/cluster/node.js';
import { LeaseLostError } from '../../src/cluster/api.js';
import { badPartitions, newNode, type ClusterStatus } from './helpers.js';

describe('cluster: membership, partition leases, fencing (real NATS JetStream)', function () {
  this.timeout(60_000);
  let nats: NatsPeer | undefined;
  const nodes: ClusterNode[] = [];
  let seq = 0;
  before(async function () {
    await usePeer(this, 'nats');
    nats = await startNats();
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.shutdown(AbortSignal.timeout(5000))));
  });
  after(async () => {
    await nats?.stop();
  });

  const cfg = (extra: Record<string, unknown> = {}) => ({
    name: `t${++seq}`,
    nats: { servers: [nats!.url] },
    partitions: 8,
    lease_ttl: '3s',
    heartbeat: '250ms',
    ...extra,
  });
  const start = (id: string, c: Record<string, unknown>) => {
    const n = newNode(id, c);
    nodes.push(n);
    n.start();
    return n;
  };
  const st = (n: ClusterNode) => n.status() as unknown as ClusterStatus;

  it('three nodes: every partition has exactly one live holder, each node some; a graceful stop hands its partitions over in < 1 s', async () => {
    const c = cfg();
    const a = start('a', c),
      b = start('b', c),
      d = start('d', c);
    const live = ['a', 'b', 'd'];
    await waitFor(
      () =>
        [a, b, d].every((n) => {
          const s = st(n);
          return badPartitions(s, live).length === 0 && new Set(s.partitions.map((p) => p.holder)).size === 3;
        }),
      { timeoutMs: 15_000, what: 'partitions split over a, b, d' },
    );
    // every node agrees, and what it says matches what each holds (a recipient adopts a handed-over lease when its watch delivers it)
    await waitFor(() => [a, b, d].flatMap((n) => [...n.ownedPartitions().keys()]).length === 8, { timeoutMs: 5000, what: 'handed-over partitions adopted' });
    const owned = new Map<string, number[]>([
      ['a', [...a.ownedPartitions().keys()]],
      ['b', [...b.ownedPartitions().keys()]],
      ['d', [...d.ownedPartitions().keys()]],
    ]);
    const all = [...owned.values()].flat().sort((x, y) => x - y);
    expect(all).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const n of [a, b, d]) for (const p of st(n).partitions) expect(owned.get(p.holder!)).to.include(p.partition);
    // graceful stop of b: its partitions go to a and d without a gap
    const fromB = owned.get('b')!;
    const t0 = performance.now();
    let gap = false;
    const watch = setInterval(() => {
      if (badPartitions(st(a), ['a', 'b', 'd']).length > 0) gap = true;
    }, 5);
    await b.shutdown(AbortSignal.timeout(5000));
    nodes.splice(nodes.indexOf(b), 1);
    await waitFor(() => fromB.every((p) => a.ownedPartitions().has(p) || d.ownedPartitions().has(p)), {
      timeoutMs: 5000,
      intervalMs: 5,
      what: "b's partitions held by a or d",
    });
    const handoverMs = performance.now() - t0;
    clearInterval(watch);
    expect(handoverMs).to.be.below(1000);
    expect(gap, 'a partition without a holder during the handover').to.equal(false);
    await waitFor(() => badPartitions(st(a), ['a', 'd']).length === 0 && badPartitions(st(d), ['a', 'd']).length === 0, {
      timeoutMs: 5000,
      what: 'a and d agree',
    });
    expect(a.counters.handovers_in + d.counters.handovers_in).to.be.at.least(fromB.length);
  });

  it('a node that vanishes without a word loses its partitions after the TTL; a run-once lease has one holder; a fenced write from the old holder is refused', async () => {
    const c = cfg();
    const a = start('a', c),
      b = start('b', c);
    const stopA = new AbortController(),
      stopB = new AbortController();
    const ga = a.lease('poller.forge').acquire(stopA.signal);
    const gb = b.lease('poller.forge').acquire(stopB.signal);
    const first = await Promise.race([ga, gb]);
    expect(first).to.not.equal(undefined);
    const holder = first!;
    const [hNode, other] = (await Promise.race([ga.then(() => 'a'), gb.then(() => 'b')])) === 'a' ? [a, b] : [b, a];
    const wm = holder.watermarks('forge');
    expect(await wm.load('env1')).to.equal(undefined);
    await wm.save('env1', 1000);
    await holder.check();
    // the other node does not get it while it is held, and its view (fed by the KV watch, which can lag under load) names the holder
    let otherGranted = false;
    void (other === a ? ga : gb).then(() => (otherGranted = true));
    const row = () => (other.status().leases as Array<{ lease: string; holder: string | null; held_here?: boolean }>).find((l) => l.lease === 'poller.forge');
    await waitFor(
      () => {
        if (row()?.holder !== hNode.nodeId) throw new Error(`it shows ${JSON.stringify(row())}`);
        return true;
      },
      { timeoutMs: 10_000, what: `the other node's view to name ${hNode.nodeId} as the holder` },
    );
    await new Promise((r) => setTimeout(r, 1000)); // (time for a wrong grant to show up; nothing is awaited on it)
    expect(otherGranted, 'the other node was granted a held lease').to.equal(false);
    expect(row()).to.include({ holder: hNode.nodeId });
    expect(row()?.held_here).to.equal(undefined);
    // the holder's NATS goes away (its connection is closed under it): the lease lapses locally, then expires in KV; the other node takes it over
    const t0 = performance.now();
    await (hNode as unknown as { nc: { close(): Promise<void> } }).nc.close();
    const g2 = await (other === a ? ga : gb);
    const takeoverMs = performance.now() - t0;
    expect(g2).to.not.equal(undefined);
    expect(g2!.token).to.be.above(holder.token);
    expect(takeoverMs).to.be.below(3000 + 1500);
    // the old grant was already unusable before the successor could get it (3/4 TTL on its own clock)
    expect(holder.valid()).to.equal(false);
    // the successor claims and continues from the shared watermark
    const wm2 = g2!.watermarks('forge');
    expect(await wm2.load('env1')).to.equal(1000);
    await wm2.save('env1', 2000);
    // the old holder's write is refused at write time
    let err: unknown;
    try {
      await wm.save('env1', 1500);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(LeaseLostError);
    stopA.abort();
    stopB.abort();
  });
  it('a watermark save its lapsed lease kept from landing is made when NATS is back, so another node taking the lease continues from it', async () => {
    // a one-server "cluster": killed and started again on the same port and store
    const down = await startNatsCluster({ size: 1 });
    try {
      const c = cfg({ nats: { servers: down.urls } });
      const a = start('a', c);
      const stopA = new AbortController();
      const g = (await a.lease('poller.forge').acquire(stopA.signal))!;
      const wm = g.watermarks('forge');
      expect(await wm.load('env1')).to.equal(undefined);
      await wm.save('env1', 1000);
      // the window after 1000 is delivered downstream; NATS goes away before its watermark is saved
      await down.nodes[0]!.kill('SIGKILL');
      await waitFor(() => a.connection() === undefined, { timeoutMs: 10_000, what: 'a lost NATS' });
      let saveErr: unknown;
      try {
        await wm.save('env1', 2000);
      } catch (e) {
        saveErr = e;
      }
      expect(saveErr, 'the save fails while NATS is down').to.not.equal(undefined);
      await waitFor(() => !g.valid(), { timeoutMs: 10_000, what: "a's grant to lapse (3/4 of lease_ttl)" });
      await down.nodes[0]!.start();
      await waitFor(() => a.connection() !== undefined, { timeoutMs: 15_000, what: 'a reconnected' });
      // a makes the save it could not make, as its token still holds the key (nobody wrote since)
      const kv = (a as unknown as { stateKv: { get(k: string): Promise<{ operation: string; json<T>(): T } | null> } }).stateKv;
      await waitFor(
        async () => {
          const e = await kv.get('wm.forge.env1');
          const v = e?.json<{ watermark_ms?: number; token?: number }>();
          if (v?.watermark_ms !== 2000) throw new Error(`the KV holds ${JSON.stringify(v)}`);
          expect(v.token).to.equal(g.token);
          return true;
        },
        { timeoutMs: 15_000, what: 'the KV to hold the watermark a saved after the reconnect' },
      );
      expect((st(a) as unknown as { counters: { unsaved_flushed: number } }).counters.unsaved_flushed).to.equal(1);
      // a goes (it still wants the lease and could take it again first; here another node must take it over)
      nodes.splice(nodes.indexOf(a), 1);
      await a.shutdown(AbortSignal.timeout(5000));
      // another node takes the lease over and continues from 2000: the window before it is not polled again
      const b = start('b', c);
      const stopB = new AbortController();
      const g2 = (await b.lease('poller.forge').acquire(stopB.signal))!;
      expect(g2.token).to.be.above(g.token);
      expect(await g2.watermarks('forge').load('env1')).to.equal(2000);
      // and the lapsed grant's writes stay refused
      let late: unknown;
      try {
        await wm.save('env1', 3000);
      } catch (e) {
        late = e;
      }
      expect(late).to.be.instanceOf(LeaseLostError);
      expect(await g2.watermarks('forge').load('env1')).to.equal(2000);
      stopA.abort();
      stopB.abort();
    } finally {
      await Promise.all(nodes.splice(0).map((n) => n.shutdown(AbortSignal.timeout(5000))));
      await down.stop();
    }
  });
  it('after its own NATS outage a node still expects the publishers it heard before (one lease_ttl for their heartbeats), then drops one that is gone', async () => {
    // a one-server "cluster": killed and started again on the same port and store
    const down = await startNatsCluster({ size: 1 });
    try {
      const c = cfg({ nats: { servers: down.urls } });
      const a = start('a', c),
        b = start('b', c);
      a.announce('metricsets', { from: 0, period: 1000 });
      b.announce('metricsets', { from: 0, period: 1000 });
      const pubs = () =>
        a
          .publishersOf('metricsets')
          .map((p) => p.node_id)
          .sort();
      await waitFor(() => pubs().join() === 'a,b', { timeoutMs: 15_000, what: 'a sees both publishers' });
      // b goes away for good while NATS is down; a cannot tell that from the outage itself
      await (b as unknown as { nc: { close(): Promise<void> } }).nc.close();
      await down.nodes[0]!.kill('SIGKILL');
      await waitFor(() => a.connection() === undefined, { timeoutMs: 10_000, what: 'a lost NATS' });
      await new Promise((r) => setTimeout(r, 3000 + 1000)); // longer than lease_ttl without any heartbeat (the point of the test)
      expect(pubs(), 'while NATS is down, b (live when it went down) is still expected').to.deep.equal(['a', 'b']);
      await down.nodes[0]!.start();
      await waitFor(() => a.connection() !== undefined, { timeoutMs: 15_000, intervalMs: 10, what: 'a reconnected' });
      const back = performance.now();
      expect(pubs(), 'right after the reconnect, before any heartbeat of b could arrive').to.deep.equal(['a', 'b']);
      // b never heartbeats again: it drops out one lease_ttl after a is back
      await waitFor(() => pubs().join() === 'a', { timeoutMs: 10_000, intervalMs: 50, what: 'b dropped' });
      expect(performance.now() - back).to.be.within(2500, 6000);
    } finally {
      await Promise.all(nodes.splice(0).map((n) => n.shutdown(AbortSignal.timeout(5000))));
      await down.stop();
    }
  });
});
