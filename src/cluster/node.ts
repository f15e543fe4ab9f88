/**
 * One metricport instance's part in a cluster (docs/cluster.md), on NATS
 * JetStream KV: no consensus of our own.
 *
 * Buckets (named after `service.cluster.name` = C):
 * - `mp_C_nodes`  (max_age = lease_ttl): one key per node, its heartbeat;
 *   a node that stops heartbeating disappears after the TTL.
 * - `mp_C_leases` (max_age = lease_ttl): `p.<n>` per partition and
 *   `poller.<receiver id>` per run-once poller. Acquire = create (the key is
 *   absent or deleted), renew = update with the last revision (CAS), hand
 *   over = update naming the successor, release = delete with the revision.
 *   The revision at which a node acquired (or was handed) a lease is its
 *   **fencing token**; later holders have larger ones.
 * - `mp_C_state` (no TTL, history 8): what lease holders write (watermarks,
 *   part 2's window marks), every value carrying the writer's token. A new
 *   holder first *claims* a key (CAS-writes its token), then reads it; an
 *   older holder's write is a CAS on the revision it last wrote, so it fails
 *   once the key was claimed. `meta.partitions` fixes the partition count.
 *
 * Start never waits for NATS: connecting, creating buckets and the tick loop
 * run in the background, reconnecting forever. Without NATS for 3/4 of the
 * TTL a holder stops using its leases (no two holders); health is degraded.
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Attributes, Counter } from '@opentelemetry/api';
import { connect, credsAuthenticator, type NatsConnection, type ConnectionOptions } from '@nats-io/transport-node';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { Logger } from '../logger.js';
import { RateLimitedLog } from '../ratelimitedlog.js';
import type { Telemetry } from '../telemetry.js';
import {
  LeaseLostError,
  type ClusterHost,
  type FleetChannel,
  type Lease,
  type LeaseGrant,
  type PublisherInfo,
  type StateStore,
  type WatermarkStore,
} from './api.js';
import { NatsFleetChannel, type FleetHost } from './fleet.js';
import { partitionLease, preferredNode } from './assign.js';
import type { ClusterConfig } from './config.js';

type ConnState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

interface LeaseValue {
  holder: string;
  at: string;
  handed_by?: string;
}
interface NodeValue {
  node_id: string;
  instance: string;
  version: string;
  started_at: string;
  heartbeat_at: string;
  wants: string[];
  admin?: string;
  fleet?: Record<string, { from: number; period: number }>;
}
interface StateValue {
  token: number;
  node: string;
  lease: string;
  at: string;
  [k: string]: unknown;
}

/** What this node knows of a lease from the watch (or its own writes). */
interface LeaseView {
  holder: string | undefined;
  revision: number;
  seenAt: number;
  deleted: boolean;
}

interface Held {
  name: string;
  token: number;
  /** revision of our last write to the lease key */
  revision: number;
  /** performance.now() until which we may use the lease */
  validUntil: number;
  acquiredAt: number;
  ac: AbortController;
  grant: Grant;
}

const HISTORY_STATE = 8;

function isWrongSequence(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10071 || /wrong last sequence|key exists/i.test(e?.message ?? '');
}

function errMsg(err: unknown): string {
  return (err as Error)?.message ?? String(err);
}

export interface ClusterNodeOptions {
  nodeId: string;
  logger: Logger;
  telemetry: Telemetry;
  version: string;
  /** the admin endpoint, shown to other nodes */
  admin?: string;
  /** the state directory: fleet channels keep their queues of partials under <stateDir>/cluster/fleet (in memory without one) */
  stateDir?: string;
}

export class ClusterNode implements ClusterHost, FleetHost {
  readonly name: string;
  readonly nodeId: string;
  readonly partitions: number;
  private readonly instance = randomBytes(6).toString('hex');
  private readonly logger: Logger;
  private nc: NatsConnection | undefined;
  private kvNodes: KV | undefined;
  private kvLeases: KV | undefined;
  private kvState: KV | undefined;
  private conn: ConnState = 'connecting';
  private connectedSince: number | undefined;
  private unreachableSince: number | undefined = Date.now();
  /** performance.now() when the connection was lost (undefined while connected) */
  private lostAt: number | undefined;
  /** after a reconnect: when the last connection was lost, and when it came back (publishersOf's grace) */
  private lostBefore: number | undefined;
  private backAt = 0;
  private server: string | undefined;
  private rttMs: number | undefined;
  private reconnects = 0;
  private lastError: string | null = null;
  private fatal: string | null = null;
  private ready = false;
  private stopped = false;
  private readonly stopAc = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private readonly startedAt = new Date();
  /** lease names this node wants (partitions always; pollers once asked) */
  private readonly wants = new Set<string>();
  private readonly waiters = new Map<string, Array<(g: Grant) => void>>();
  private readonly held = new Map<string, Held>();
  private readonly leaseView = new Map<string, LeaseView>();
  private readonly nodeView = new Map<string, { value: NodeValue; seenAt: number; revision: number }>();
  /** lease → performance.now() since it was seen without a live holder */
  private readonly unownedSince = new Map<string, number>();
  private watchers: Array<{ stop(): void }> = [];
  private lastOwnHeartbeatRev = 0;
  private ownHeartbeatSeenRev = 0;
  private heartbeatsUnseen = 0;
  private readonly warnings: RateLimitedLog;
  /**
   * @internal guarded writes a grant could not make before its lease lapsed
   * (NATS away), by key: made as soon as the connection is back
   * (`flushUnsaved`), or by a later grant of this node in its claim, in both
   * cases only if the key still holds that token (nobody wrote since), so
   * what was delivered downstream before the lapse is not polled again
   */
  readonly unsaved = new Map<string, { token: number; lease: string; fields: Record<string, unknown> }>();
  readonly counters = {
    acquisitions: 0,
    losses: 0,
    handovers_out: 0,
    handovers_in: 0,
    renewals: 0,
    renew_failures: 0,
    kv_ops: 0,
    watch_restarts: 0,
    unsaved_flushed: 0,
  };
  private flushing = false;
  private readonly c: { acq: Counter; loss: Counter; hand: Counter; ops: Counter };
  private readonly attrs = new Map<string, Attributes>();
  private readonly channels = new Map<string, NatsFleetChannel>();
  private readonly announced = new Map<string, { from: number; period: number }>();
  private readonly reports = new Map<string, () => Record<string, unknown>>();

  constructor(
    readonly cfg: ClusterConfig,
    private readonly opts: ClusterNodeOptions,
  ) {
    this.name = cfg.name;
    this.nodeId = opts.nodeId;
    this.partitions = cfg.partitions;
    this.logger = opts.logger;
    this.warnings = new RateLimitedLog(opts.logger);
    for (let p = 0; p < cfg.partitions; p++) this.wants.add(partitionLease(p));
    const m = opts.telemetry.meter;
    this.c = {
      acq: m.createCounter('metricport_cluster_lease_acquisitions', {
        description: 'Leases this node acquired (created, re-acquired or was handed), by kind (partition, poller)',
      }),
      loss: m.createCounter('metricport_cluster_lease_losses', {
        description: 'Leases this node lost without handing them over (expired, taken over, NATS unreachable past the TTL), by kind',
      }),
      hand: m.createCounter('metricport_cluster_lease_handovers', {
        description: 'Leases handed from one node to another, by direction (out: this node gave one, in: it was given one) and kind',
      }),
      ops: m.createCounter('metricport_cluster_kv_operations', {
        description: 'KV reads and writes this node made (heartbeats, renewals, claims, watermarks)',
      }),
    };
    const t = opts.telemetry;
    t.gauge('metricport_cluster_nats_connected', '1 while the NATS connection is up, else 0', {}, () => (this.conn === 'connected' ? 1 : 0));
    t.gauge('metricport_cluster_nats_rtt_seconds', 'Round-trip time to the NATS server, measured every heartbeat', {}, () => (this.rttMs ?? 0) / 1000);
    t.gauge('metricport_cluster_members', 'Live nodes this node sees (heartbeat within the lease TTL)', {}, () => this.liveNodes().length);
    t.gauge('metricport_cluster_partitions_owned', 'Partitions this node holds', {}, () => [...this.held.keys()].filter((n) => n.startsWith('p.')).length);
  }

  private kind(name: string): Attributes {
    const k = name.startsWith('p.') ? 'partition' : 'poller';
    let a = this.attrs.get(k);
    if (a === undefined) {
      a = { kind: k };
      this.attrs.set(k, a);
    }
    return a;
  }

  private op(n = 1): void {
    this.counters.kv_ops += n;
    this.c.ops.add(n);
  }

  /** Connect and join in the background; returns at once. */
  start(): void {
    if (this.ticking !== undefined || this.stopped) return;
    this.ticking = this.run().catch((err: unknown) => {
      this.lastError = errMsg(err);
      this.logger.error({ err: this.lastError }, 'cluster loop stopped unexpectedly (a bug; please report it)');
    });
  }

  private connectOptions(): ConnectionOptions {
    const n = this.cfg.nats;
    const o: ConnectionOptions = {
      servers: n.servers,
      name: `metricport-${this.cfg.name}-${this.nodeId}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      reconnectJitter: 200,
      timeout: Math.min(5000, n.timeout),
      pingInterval: Math.max(1000, Math.min(30_000, Math.floor(this.cfg.lease_ttl / 4))),
      maxPingOut: 2,
    };
    if (n.user !== '') {
      o.user = n.user;
      o.pass = n.password;
    }
    if (n.token !== '') o.token = n.token;
    if (n.creds_file !== '') o.authenticator = credsAuthenticator(new Uint8Array(readFileSync(n.creds_file)));
    const tls = n.tls;
    if (tls.ca_file !== '' || tls.cert_file !== '' || n.servers.some((s) => s.startsWith('tls://'))) {
      o.tls = { ...(tls.ca_file !== '' ? { caFile: tls.ca_file } : {}), ...(tls.cert_file !== '' ? { certFile: tls.cert_file, keyFile: tls.key_file } : {}) };
    }
    return o;
  }

  private async run(): Promise<void> {
    const signal = this.stopAc.signal;
    // connect: one attempt at a time (each within nats.timeout), retried every second until shutdown
    let nc: NatsConnection | undefined;
    while (!signal.aborted && nc === undefined) {
      try {
        const p = connect(this.connectOptions());
        this.pendingConnect = p;
        nc = await p;
      } catch (err) {
        this.recordError('connect', `cannot connect to NATS (${this.cfg.nats.servers.join(', ')}): ${errMsg(err)}`);
        await sleep(1000, signal);
      } finally {
        this.pendingConnect = undefined;
      }
    }
    if (nc === undefined) return;
    if (signal.aborted) {
      await nc.close().catch(() => undefined);
      return;
    }
    this.nc = nc;
    this.onConnected(nc.getServer());
    void this.watchStatus(nc);
    // buckets (JetStream may still be electing its leader: retry)
    while (!signal.aborted && this.kvState === undefined) {
      try {
        await this.openBuckets(nc);
      } catch (err) {
        this.recordError('buckets', `cannot open the cluster's KV buckets: ${errMsg(err)}`);
        await sleep(1000, signal);
      }
    }
    if (signal.aborted) return;
    // the partition count is fixed per cluster
    while (!signal.aborted && !this.ready && this.fatal === null) {
      try {
        await this.checkMeta();
      } catch (err) {
        this.recordError('meta', `cannot read the cluster's meta.partitions: ${errMsg(err)}`);
        await sleep(1000, signal);
      }
    }
    if (this.fatal !== null || signal.aborted) return;
    this.startWatchers();
    this.logger.info({ cluster: this.name, node_id: this.nodeId, server: this.server }, 'joined the cluster');
    await this.tick();
    this.schedule();
  }

  private pendingConnect: Promise<NatsConnection> | undefined;

  /** A held lease not renewed for 3/4 of the TTL is dropped on time, even while a tick waits on NATS. */
  private lapseTimer: NodeJS.Timeout | undefined;

  private checkLapses(): void {
    const now = performance.now();
    for (const h of [...this.held.values()]) if (now > h.validUntil) this.lose(h, `lease ${h.name} not renewed for 3/4 of lease_ttl (NATS unreachable?)`);
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.lapseTimer === undefined) {
      this.lapseTimer = setInterval(() => this.checkLapses(), Math.max(50, Math.floor(this.cfg.heartbeat / 2)));
      this.lapseTimer.unref();
    }
    this.timer = setTimeout(() => {
      void this.tick().finally(() => this.schedule());
    }, this.cfg.heartbeat);
    this.timer.unref();
  }

  private onConnected(server: string): void {
    this.conn = 'connected';
    this.server = server;
    this.connectedSince = Date.now();
    if (this.unreachableSince !== undefined && this.ready)
      this.logger.info({ server, unreachable_ms: Date.now() - this.unreachableSince }, 'NATS connection restored');
    this.unreachableSince = undefined;
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    try {
      for await (const s of nc.status()) {
        switch (s.type) {
          case 'disconnect':
            if (this.conn !== 'closed') {
              this.conn = 'reconnecting';
              this.unreachableSince ??= Date.now();
              this.lostAt ??= performance.now();
            }
            this.recordError('disconnect', `lost the NATS connection to ${s.server}; reconnecting`);
            break;
          case 'reconnect':
            this.reconnects++;
            if (this.lostAt !== undefined) {
              this.lostBefore = this.lostAt;
              this.backAt = performance.now();
              this.lostAt = undefined;
            }
            this.onConnected(s.server);
            this.restartWatchers();
            void this.flushUnsaved();
            break;
          case 'reconnecting':
            if (this.conn !== 'closed') this.conn = 'reconnecting';
            break;
          case 'error':
            this.recordError('error', `NATS: ${errMsg(s.error)}`);
            break;
          case 'close':
            this.conn = 'closed';
            break;
          default:
            break;
        }
      }
    } catch {
      /* the iterator ends with the connection */
    }
  }

  private async openBuckets(nc: NatsConnection): Promise<void> {
    const kvm = new Kvm(nc);
    const replicas = this.cfg.replicas;
    const ttl = this.cfg.lease_ttl;
    const open = async (name: string, opts: { history: number; ttl?: number }): Promise<KV> => {
      try {
        return await kvm.create(name, {
          history: opts.history,
          replicas,
          storage: 'file',
          ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
          timeout: this.cfg.nats.timeout,
        });
      } catch (err) {
        // a bucket made by another node with other settings: bind to it as it is
        const kv = await kvm.open(name, { timeout: this.cfg.nats.timeout });
        const st = await kv.status();
        if (opts.ttl !== undefined && st.ttl !== opts.ttl) {
          this.logger.warn(
            { bucket: name, bucket_ttl_ms: st.ttl, lease_ttl_ms: opts.ttl },
            `bucket ${name} has another TTL than service.cluster.lease_ttl; every node must use the same lease_ttl (${errMsg(err)})`,
          );
          if (st.ttl < opts.ttl)
            throw new Error(
              `bucket ${name} expires entries after ${st.ttl} ms, sooner than lease_ttl ${opts.ttl} ms: a lease could expire while its holder still uses it. Use the same lease_ttl on every node (or delete the bucket)`,
            );
        }
        return kv;
      }
    };
    const base = `mp_${this.name}`;
    this.kvNodes = await open(`${base}_nodes`, { history: 1, ttl });
    this.kvLeases = await open(`${base}_leases`, { history: 1, ttl });
    this.kvState = await open(`${base}_state`, { history: HISTORY_STATE });
  }

  private async checkMeta(): Promise<void> {
    const kv = this.kvState!;
    const mine = JSON.stringify({ partitions: this.partitions });
    this.op();
    const e = await kv.get('meta.partitions');
    if (e === null || e.operation !== 'PUT') {
      try {
        this.op();
        await kv.create('meta.partitions', mine);
        this.ready = true;
        return;
      } catch (err) {
        if (!isWrongSequence(err)) throw err;
        return; // another node wrote it first: read it next round
      }
    }
    const theirs = (e.json() as { partitions?: number }).partitions;
    if (theirs !== this.partitions) {
      this.fatal = `this node is configured with ${this.partitions} partitions but cluster "${this.name}" has ${String(theirs)} (service.cluster.partitions is fixed for the life of a cluster): not joining`;
      this.logger.error({ cluster: this.name, configured: this.partitions, cluster_partitions: theirs }, this.fatal);
      return;
    }
    this.ready = true;
  }

  // ---------------------------------------------------------------- watches

  private startWatchers(): void {
    if (this.stopped || this.kvNodes === undefined || this.kvLeases === undefined) return;
    const gen = {};
    this.watchGen = gen;
    const watch = async (kv: KV, onEntry: (e: KvWatchEntry) => void): Promise<void> => {
      while (!this.stopped && this.watchGen === gen) {
        try {
          const it = await kv.watch();
          this.watchers.push({ stop: () => it.stop() });
          for await (const e of it) {
            if (this.watchGen !== gen) break;
            onEntry(e);
          }
        } catch (err) {
          this.recordError('watch', `KV watch failed: ${errMsg(err)}`);
        }
        if (this.watchGen === gen) await sleep(500, this.stopAc.signal);
      }
    };
    this.lastLeaseEntryAt = performance.now();
    void watch(this.kvNodes, (e) => this.onNodeEntry(e));
    void watch(this.kvLeases, (e) => {
      this.lastLeaseEntryAt = performance.now();
      this.onLeaseEntry(e);
    });
  }

  private watchGen: object | undefined;
  private lastLeaseEntryAt = 0;

  private restartWatchers(): void {
    this.counters.watch_restarts++;
    for (const w of this.watchers) {
      try {
        w.stop();
      } catch {
        /* already stopped */
      }
    }
    this.watchers = [];
    this.watchGen = undefined;
    if (this.ready && !this.stopped) this.startWatchers();
  }

  private onNodeEntry(e: KvWatchEntry): void {
    if (e.operation !== 'PUT') {
      this.nodeView.delete(e.key);
      return;
    }
    let v: NodeValue;
    try {
      v = e.json<NodeValue>();
    } catch {
      return;
    }
    if (e.key === this.nodeId) {
      this.ownHeartbeatSeenRev = Math.max(this.ownHeartbeatSeenRev, e.revision);
      if (v.instance !== this.instance)
        this.recordError(
          'duplicate_node',
          `another instance heartbeats as node_id "${this.nodeId}": two running instances must never share a node_id (set service.cluster.node_id, or give each its own state directory)`,
        );
    }
    this.nodeView.set(e.key, { value: v, seenAt: performance.now(), revision: e.revision });
  }

  private onLeaseEntry(e: KvWatchEntry): void {
    const now = performance.now();
    if (e.operation !== 'PUT') {
      this.leaseView.set(e.key, { holder: undefined, revision: e.revision, seenAt: now, deleted: true });
      return;
    }
    let v: LeaseValue;
    try {
      v = e.json<LeaseValue>();
    } catch {
      return;
    }
    const prev = this.leaseView.get(e.key);
    if (prev !== undefined && prev.revision > e.revision) return;
    this.leaseView.set(e.key, { holder: v.holder, revision: e.revision, seenAt: now, deleted: false });
    const h = this.held.get(e.key);
    if (v.holder === this.nodeId) {
      if (h === undefined && v.handed_by !== undefined && v.handed_by !== this.nodeId && this.wants.has(e.key) && !this.stopped) {
        // handed to us: the handover write is our token; the TTL runs from it
        this.counters.handovers_in++;
        this.c.hand.add(1, { ...this.kind(e.key), direction: 'in' });
        this.grant(e.key, e.revision, now);
      } else if (h !== undefined && e.revision > h.revision) {
        h.revision = e.revision;
      }
    } else if (h !== undefined && e.revision > h.revision) {
      this.lose(h, `lease ${e.key} now held by ${v.holder}`);
    }
  }

  // ---------------------------------------------------------------- the tick

  private liveNodes(): string[] {
    const ttl = this.cfg.lease_ttl;
    const now = performance.now();
    const out: string[] = [];
    for (const [id, n] of this.nodeView) if (now - n.seenAt <= ttl && id !== this.nodeId) out.push(id);
    if (this.ready && !this.stopped && this.fatal === null) out.push(this.nodeId);
    return out.sort();
  }

  private candidates(lease: string, live: string[]): string[] {
    if (lease.startsWith('p.')) return live;
    return live.filter((id) => (id === this.nodeId ? this.wants.has(lease) : (this.nodeView.get(id)?.value.wants ?? []).includes(lease)));
  }

  /**
   * Who should take `name`: partitions follow rendezvous hashing; a poller
   * lease goes back to its last holder while that node is a live candidate
   * (it resumes where it stopped, e.g. after a NATS outage), else by hashing.
   */
  private preferred(name: string, cands: string[]): string | undefined {
    if (!name.startsWith('p.')) {
      // only a last holder that heartbeats after its lease lapsed (it lived through a NATS outage), not one that died with it
      const v = this.leaseView.get(name);
      const n = v?.holder !== undefined ? this.nodeView.get(v.holder) : undefined;
      if (v !== undefined && n !== undefined && cands.includes(v.holder!) && n.seenAt > v.seenAt + this.cfg.heartbeat) return v.holder;
    }
    return preferredNode(name, cands);
  }

  private async tick(): Promise<void> {
    if (this.stopped || !this.ready) return;
    // a held lease not renewed for 3/4 of the TTL is not used any more
    this.checkLapses();
    await this.heartbeat();
    // writes a lapse kept from landing, when the reconnect's attempt could not make them yet (JetStream not ready)
    if (this.unsaved.size > 0 && this.conn === 'connected') await this.flushUnsaved();
    await this.renewAll();
    await this.balance();
    try {
      if (this.nc !== undefined && this.conn === 'connected') this.rttMs = await this.nc.rtt();
    } catch {
      /* measured next time */
    }
  }

  private async heartbeat(): Promise<void> {
    const kv = this.kvNodes!;
    const v: NodeValue = {
      node_id: this.nodeId,
      instance: this.instance,
      version: this.opts.version,
      started_at: this.startedAt.toISOString(),
      heartbeat_at: new Date().toISOString(),
      wants: [...this.wants].filter((w) => !w.startsWith('p.')),
      ...(this.opts.admin !== undefined ? { admin: this.opts.admin } : {}),
      ...(this.announced.size > 0 ? { fleet: Object.fromEntries(this.announced) } : {}),
    };
    try {
      this.op();
      const rev = await kv.put(this.nodeId, JSON.stringify(v));
      // the watches must echo our own heartbeat, and (while any node holds a lease, renewed every heartbeat) lease writes; if one stays silent, restart them
      const leasesSilent = (this.held.size > 0 || this.liveNodes().length > 1) && performance.now() - this.lastLeaseEntryAt > 3 * this.cfg.heartbeat;
      if ((this.lastOwnHeartbeatRev > 0 && this.ownHeartbeatSeenRev < this.lastOwnHeartbeatRev) || leasesSilent) {
        if (++this.heartbeatsUnseen >= 3 || leasesSilent) {
          this.heartbeatsUnseen = 0;
          this.lastLeaseEntryAt = performance.now();
          this.recordError('watch', 'a KV watch stopped delivering; restarting it');
          this.restartWatchers();
        }
      } else this.heartbeatsUnseen = 0;
      this.lastOwnHeartbeatRev = rev;
      this.nodeView.set(this.nodeId, { value: v, seenAt: performance.now(), revision: rev });
    } catch (err) {
      this.recordError('heartbeat', `heartbeat failed: ${errMsg(err)}`);
    }
  }

  private async renewAll(): Promise<void> {
    const kv = this.kvLeases!;
    await Promise.all(
      [...this.held.values()].map(async (h) => {
        const sent = performance.now();
        try {
          this.op();
          const rev = await kv.update(
            h.name,
            JSON.stringify({ holder: this.nodeId, at: new Date().toISOString() } satisfies LeaseValue),
            h.revision,
            this.cfg.nats.timeout,
          );
          if (this.held.get(h.name) !== h) return;
          h.revision = rev;
          h.validUntil = sent + this.cfg.lease_ttl * 0.75;
          this.counters.renewals++;
          this.leaseView.set(h.name, { holder: this.nodeId, revision: rev, seenAt: performance.now(), deleted: false });
        } catch (err) {
          this.counters.renew_failures++;
          if (!isWrongSequence(err)) {
            this.recordError('renew', `cannot renew lease ${h.name}: ${errMsg(err)}`);
            return;
          }
          // the revision moved: a renewal of ours whose answer was lost (a NATS server failing over) still names us
          try {
            this.op();
            const e = await kv.get(h.name);
            if (this.held.get(h.name) !== h) return;
            const v = e !== null && e.operation === 'PUT' ? e.json<LeaseValue>() : undefined;
            if (v !== undefined && v.holder === this.nodeId && v.handed_by === undefined) {
              h.revision = Math.max(h.revision, e!.revision);
              return;
            }
            this.lose(h, `lease ${h.name} was taken over (now ${v === undefined ? 'free' : `held by ${v.holder}`} at revision ${e?.revision ?? '?'})`);
          } catch (err2) {
            this.recordError('renew', `cannot read lease ${h.name}: ${errMsg(err2)}`);
          }
        }
      }),
    );
  }

  private async balance(): Promise<void> {
    const kv = this.kvLeases!;
    const live = this.liveNodes();
    const now = performance.now();
    const ttl = this.cfg.lease_ttl;
    for (const name of [...this.wants]) {
      if (this.stopped) return;
      const cands = this.candidates(name, live);
      const preferred = this.preferred(name, cands);
      const h = this.held.get(name);
      if (h !== undefined) {
        // partitions follow the membership; pollers stay where they run
        if (name.startsWith('p.') && preferred !== undefined && preferred !== this.nodeId) await this.handOver(h, preferred);
        continue;
      }
      const view = this.leaseView.get(name);
      // a lease is renewed every heartbeat, so one not seen for the TTL has expired in KV too
      const owned = view !== undefined && !view.deleted && view.holder !== undefined && now - view.seenAt <= ttl;
      if (owned) {
        this.unownedSince.delete(name);
        continue;
      }
      let since = this.unownedSince.get(name);
      if (since === undefined) {
        since = now;
        this.unownedSince.set(name, now);
      }
      // the preferred node takes a free lease at once; any other candidate after two heartbeats (the preferred one may be stuck)
      if (preferred !== this.nodeId && now - since < 2 * this.cfg.heartbeat) continue;
      await this.tryAcquire(kv, name);
    }
  }

  private async tryAcquire(kv: KV, name: string): Promise<void> {
    const sent = performance.now();
    const value = JSON.stringify({ holder: this.nodeId, at: new Date().toISOString() } satisfies LeaseValue);
    try {
      this.op();
      const rev = await kv.create(name, value);
      this.grant(name, rev, sent);
    } catch (err) {
      if (!isWrongSequence(err)) {
        this.recordError('acquire', `cannot acquire lease ${name}: ${errMsg(err)}`);
        return;
      }
      // held by someone (or by us before a local lapse): look at it
      try {
        this.op();
        const e = await kv.get(name);
        if (e === null || e.operation !== 'PUT') return;
        const v = e.json<LeaseValue>();
        this.leaseView.set(name, { holder: v.holder, revision: e.revision, seenAt: performance.now(), deleted: false });
        if (v.holder === this.nodeId && !this.stopped) {
          // still ours in KV (we stopped using it while NATS was away): re-acquire with a CAS, which gives a new token
          this.op();
          const rev = await kv.update(name, value, e.revision, this.cfg.nats.timeout);
          this.grant(name, rev, sent);
        }
      } catch (err2) {
        if (!isWrongSequence(err2)) this.recordError('acquire', `cannot read lease ${name}: ${errMsg(err2)}`);
      }
    }
  }

  /**
   * Right after a reconnect: make each guarded write that a grant of this
   * node could not make before it lapsed, where the key still holds that
   * grant's token (a CAS on the revision just read: nobody wrote since, so no
   * later holder has claimed the key). A successor claiming the key after
   * this reads the saved watermark, so the window delivered just before the
   * outage is not polled and delivered again (before, that happened whenever
   * another node took the lease first). A write this node's valid grant of
   * the same lease can still make itself is left to it. Never rejects.
   */
  private async flushUnsaved(): Promise<void> {
    const kv = this.kvState;
    if (kv === undefined || this.flushing) return;
    this.flushing = true;
    try {
      for (const [key, u] of [...this.unsaved]) {
        if (this.stopped || this.unsaved.get(key) !== u) continue;
        const h = this.held.get(u.lease);
        if (h !== undefined && h.token === u.token && performance.now() <= h.validUntil) continue;
        try {
          this.op();
          const e = await kv.get(key);
          const cur = e !== null && e.operation === 'PUT' ? e.json<StateValue>() : undefined;
          if (this.unsaved.get(key) !== u) continue; // made or dropped meanwhile
          if (cur === undefined || cur.token !== u.token) {
            // written by a later holder (or gone): theirs now
            this.unsaved.delete(key);
            continue;
          }
          const next: StateValue = { ...u.fields, token: u.token, node: this.nodeId, lease: u.lease, at: new Date().toISOString() };
          this.op();
          await kv.update(key, JSON.stringify(next), e!.revision, this.cfg.nats.timeout);
          if (this.unsaved.get(key) === u) this.unsaved.delete(key);
          this.counters.unsaved_flushed++;
          this.logger.debug({ key, fencing_token: u.token }, 'saved a write its lapsed lease had kept from landing');
        } catch (err) {
          // someone wrote meanwhile (their claim decides), or NATS is away again (the next reconnect tries again)
          if (!isWrongSequence(err)) this.recordError('unsaved', `cannot save ${key} after the reconnect: ${errMsg(err)}`);
          else if (this.unsaved.get(key) === u) this.unsaved.delete(key);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private grant(name: string, token: number, sentAt: number): void {
    if (this.held.has(name) || this.stopped) return;
    const ac = new AbortController();
    const h: Held = {
      name,
      token,
      revision: token,
      validUntil: sentAt + this.cfg.lease_ttl * 0.75,
      acquiredAt: Date.now(),
      ac,
      grant: undefined as unknown as Grant,
    };
    h.grant = new Grant(this, h);
    this.held.set(name, h);
    this.unownedSince.delete(name);
    this.leaseView.set(name, { holder: this.nodeId, revision: token, seenAt: performance.now(), deleted: false });
    this.counters.acquisitions++;
    this.c.acq.add(1, this.kind(name));
    this.logger.debug({ lease: name, fencing_token: token }, 'lease acquired');
    const ws = this.waiters.get(name);
    if (ws !== undefined && ws.length > 0) {
      this.waiters.delete(name);
      for (const w of ws) w(h.grant);
    }
  }

  /** @internal the grant calls this when its store detects a successor */
  lose(h: Held, reason: string): void {
    if (this.held.get(h.name) !== h) return;
    this.held.delete(h.name);
    this.counters.losses++;
    this.c.loss.add(1, this.kind(h.name));
    h.ac.abort(new LeaseLostError(reason));
    this.recordError(`lost:${h.name}`, `${reason}; stopped using it`);
  }

  /** Give `h` to `to` (CAS on our revision): gap-free, the successor's token is this write's revision. */
  private async handOver(h: Held, to: string | undefined): Promise<void> {
    const kv = this.kvLeases;
    if (this.held.get(h.name) !== h) return;
    this.held.delete(h.name);
    h.ac.abort(new LeaseLostError(`lease ${h.name} handed over to ${to ?? 'nobody (released)'}`));
    if (kv === undefined) return;
    let revision = h.revision;
    for (let attempt = 1; ; attempt++) {
      try {
        this.op();
        if (to === undefined) await kv.delete(h.name, { previousSeq: revision });
        else {
          const rev = await kv.update(
            h.name,
            JSON.stringify({ holder: to, at: new Date().toISOString(), handed_by: this.nodeId } satisfies LeaseValue),
            revision,
            this.cfg.nats.timeout,
          );
          this.leaseView.set(h.name, { holder: to, revision: rev, seenAt: performance.now(), deleted: false });
        }
        this.counters.handovers_out++;
        this.c.hand.add(1, { ...this.kind(h.name), direction: 'out' });
        this.logger.debug({ lease: h.name, to: to ?? null }, 'lease handed over');
        return;
      } catch (err) {
        // a renewal of ours still in flight moved the revision: if the key still names us, hand over from there
        if (isWrongSequence(err) && attempt < 3) {
          try {
            this.op();
            const e = await kv.get(h.name);
            if (e !== null && e.operation === 'PUT' && e.json<LeaseValue>().holder === this.nodeId) {
              revision = e.revision;
              continue;
            }
          } catch {
            /* fall through */
          }
        }
        // not ours any more, or NATS away: it expires after the TTL
        this.recordError('handover', `cannot hand lease ${h.name} over: ${errMsg(err)}`);
        return;
      }
    }
  }

  // ---------------------------------------------------------------- ClusterHost

  lease(name: string): Lease {
    if (!/^[A-Za-z0-9_\-./]+$/.test(name) || name.startsWith('p.') || name.startsWith('meta.')) throw new Error(`invalid lease name ${JSON.stringify(name)}`);
    return {
      acquire: (signal) => this.acquire(name, signal),
      release: () => this.release(name),
    };
  }

  private acquire(name: string, signal: AbortSignal): Promise<LeaseGrant | undefined> {
    if (signal.aborted || this.stopped) return Promise.resolve(undefined);
    this.wants.add(name);
    const h = this.held.get(name);
    if (h !== undefined) return Promise.resolve(h.grant);
    return new Promise((resolve) => {
      const list = this.waiters.get(name) ?? [];
      const onGrant = (g: Grant): void => {
        signal.removeEventListener('abort', onAbort);
        resolve(g);
      };
      const onAbort = (): void => {
        const l = this.waiters.get(name);
        if (l !== undefined) {
          const i = l.indexOf(onGrant);
          if (i >= 0) l.splice(i, 1);
        }
        resolve(undefined);
      };
      list.push(onGrant);
      this.waiters.set(name, list);
      signal.addEventListener('abort', onAbort, { once: true });
      // do not wait for the next heartbeat when the lease looks free
      if (this.ready) void this.tryNow(name);
    });
  }

  private async tryNow(name: string): Promise<void> {
    const kv = this.kvLeases;
    if (kv === undefined || this.held.has(name) || this.stopped) return;
    const view = this.leaseView.get(name);
    if (view !== undefined && !view.deleted && performance.now() - view.seenAt <= this.cfg.lease_ttl) return;
    // free as far as we know: the preferred candidate (or the only one) tries at once, the others at the next heartbeats
    const cands = this.candidates(name, this.liveNodes());
    if (cands.length > 1 && this.preferred(name, cands) !== this.nodeId) return;
    await this.tryAcquire(kv, name);
  }

  /** Stop wanting the lease; hand it to the preferred other live candidate at once (or delete it). */
  private async release(name: string): Promise<void> {
    this.wants.delete(name);
    this.waiters.delete(name);
    const h = this.held.get(name);
    if (h === undefined) return;
    const others = this.candidates(name, this.liveNodes()).filter((n) => n !== this.nodeId);
    await this.handOver(h, preferredNode(name, others));
  }

  ownedPartitions(): ReadonlyMap<number, LeaseGrant> {
    const out = new Map<number, LeaseGrant>();
    for (const [name, h] of this.held) if (name.startsWith('p.')) out.set(Number(name.slice(2)), h.grant);
    return out;
  }

  async readWatermark(namespace: string, key: string): Promise<number | undefined> {
    const kv = this.kvState;
    if (kv === undefined) return undefined;
    try {
      this.op();
      const e = await kv.get(`wm.${namespace}.${key}`);
      const v = e !== null && e.operation === 'PUT' ? e.json<StateValue>().watermark_ms : undefined;
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    } catch {
      return undefined;
    }
  }

  fleet(id: string): FleetChannel {
    let ch = this.channels.get(id);
    if (ch === undefined) {
      ch = new NatsFleetChannel(id, this, this.logger.child({ fleet: id }), this.opts.telemetry);
      this.channels.set(id, ch);
    }
    return ch;
  }

  report(id: string, status: (() => Record<string, unknown>) | undefined): void {
    if (status === undefined) this.reports.delete(id);
    else this.reports.set(id, status);
  }

  /** @internal FleetHost */
  get stateDir(): string | undefined {
    return this.opts.stateDir;
  }

  /** @internal FleetHost: the connection while connected and joined */
  connection(): NatsConnection | undefined {
    return this.ready && !this.stopped && this.conn === 'connected' ? this.nc : undefined;
  }

  /** @internal FleetHost: carried by the next heartbeats */
  announce(id: string, info: { from: number; period: number } | undefined): void {
    if (info === undefined) this.announced.delete(id);
    else this.announced.set(id, info);
  }

  /**
   * @internal FleetHost: live nodes announcing channel `id` (this one
   * included). A node this one has not heard from only because this one lost
   * NATS still counts: while the connection is down, and for one lease_ttl
   * after it is back (time for its heartbeat to arrive), a node live when
   * the connection was lost is expected. An owner that judged by its stale
   * view would export a window the moment its own partial arrived, and count
   * the others' as late (test/cluster/node.test.ts).
   */
  publishersOf(id: string): PublisherInfo[] {
    const out: PublisherInfo[] = [];
    const live = new Set(this.liveNodes());
    const ttl = this.cfg.lease_ttl;
    const now = performance.now();
    const lost = this.lostAt ?? (now - this.backAt <= ttl ? this.lostBefore : undefined);
    for (const [nid, n] of this.nodeView) {
      if (nid === this.nodeId || (!live.has(nid) && (lost === undefined || lost - n.seenAt > ttl))) continue;
      const f = n.value.fleet?.[id];
      if (f !== undefined) out.push({ node_id: nid, instance: n.value.instance, from: f.from, period: f.period });
    }
    const mine = this.announced.get(id);
    if (mine !== undefined && live.has(this.nodeId)) out.push({ node_id: this.nodeId, instance: this.instance, from: mine.from, period: mine.period });
    return out;
  }

  /** this process's run of the node (publishers are `<node_id>.<instance>`) */
  get instanceId(): string {
    return this.instance;
  }

  /** @internal */
  get stateKv(): KV | undefined {
    return this.kvState;
  }
  /** @internal */
  get timeoutMs(): number {
    return this.cfg.nats.timeout;
  }
  /** @internal */
  countOp(n = 1): void {
    this.op(n);
  }

  // ---------------------------------------------------------------- shutdown, status

  /** Hand every lease over, leave the membership, close the connection; within the deadline. */
  async shutdown(deadline: AbortSignal): Promise<void> {
    if (this.stopped) return;
    await Promise.all([...this.channels.values()].map((c) => c.close(deadline).catch(() => undefined)));
    const live = this.liveNodes().filter((n) => n !== this.nodeId);
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.lapseTimer !== undefined) clearInterval(this.lapseTimer);
    const work = (async () => {
      if (this.ready && this.conn === 'connected') {
        await Promise.all(
          [...this.held.values()].map((h) =>
            this.handOver(
              h,
              preferredNode(h.name, h.name.startsWith('p.') ? live : live.filter((id) => (this.nodeView.get(id)?.value.wants ?? []).includes(h.name))),
            ),
          ),
        );
        try {
          this.op();
          await this.kvNodes?.delete(this.nodeId);
        } catch (err) {
          this.recordError('leave', `cannot remove this node's heartbeat: ${errMsg(err)}`);
        }
      }
      for (const h of [...this.held.values()]) {
        this.held.delete(h.name);
        h.ac.abort(new LeaseLostError('shutting down'));
      }
    })();
    await raceDeadline(work, deadline);
    this.stopAc.abort();
    for (const w of this.watchers) {
      try {
        w.stop();
      } catch {
        /* stopped */
      }
    }
    this.watchers = [];
    this.watchGen = undefined;
    const nc = this.nc;
    if (nc !== undefined)
      await raceDeadline(
        nc
          .drain()
          .catch(() => nc.close())
          .catch(() => undefined),
        deadline,
      );
    // a connect attempt under way: close what it yields
    this.pendingConnect?.then((c) => c.close()).catch(() => undefined);
    this.conn = 'closed';
    await raceDeadline(this.ticking ?? Promise.resolve(), deadline);
  }

  /** Degraded (not failed) while NATS is unreachable or the node could not join. */
  health(): { degraded: boolean; reason?: string; since?: string } {
    if (this.fatal !== null) return { degraded: true, reason: this.fatal };
    if (this.conn !== 'connected')
      return {
        degraded: true,
        reason: `NATS unreachable (${this.cfg.nats.servers.join(', ')}); run-once pollers pause, leases lapse after 3/4 of lease_ttl`,
        ...(this.unreachableSince !== undefined ? { since: new Date(this.unreachableSince).toISOString() } : {}),
      };
    if (!this.ready) return { degraded: true, reason: "connected to NATS, opening the cluster's KV buckets" };
    return { degraded: false };
  }

  status(): Record<string, unknown> {
    const now = performance.now();
    const wall = Date.now();
    const nodes = [...this.nodeView.entries()]
      .map(([id, n]) => ({
        node_id: id,
        self: id === this.nodeId,
        live: now - n.seenAt <= this.cfg.lease_ttl,
        last_heartbeat: n.value.heartbeat_at,
        seen_ms_ago: Math.round(now - n.seenAt),
        started_at: n.value.started_at,
        version: n.value.version,
        ...(n.value.admin !== undefined ? { admin: n.value.admin } : {}),
        pollers: n.value.wants,
      }))
      .sort((a, b) => a.node_id.localeCompare(b.node_id));
    const leaseRow = (name: string) => {
      const h = this.held.get(name);
      const v = this.leaseView.get(name);
      const fresh = v !== undefined && !v.deleted && now - v.seenAt <= this.cfg.lease_ttl;
      return {
        holder: h !== undefined ? this.nodeId : fresh ? (v!.holder ?? null) : null,
        revision: v?.revision ?? null,
        ...(h !== undefined ? { token: h.token, held_here: true, valid: now <= h.validUntil, acquired_at: new Date(h.acquiredAt).toISOString() } : {}),
      };
    };
    const partitions = Array.from({ length: this.partitions }, (_, p) => ({ partition: p, ...leaseRow(partitionLease(p)) }));
    const pollerNames = new Set<string>([...this.wants].filter((w) => !w.startsWith('p.')));
    for (const k of this.leaseView.keys()) if (!k.startsWith('p.')) pollerNames.add(k);
    const leases = [...pollerNames].sort().map((name) => ({ lease: name, ...leaseRow(name) }));
    return {
      enabled: true,
      cluster: this.name,
      node_id: this.nodeId,
      ready: this.ready,
      ...(this.fatal !== null ? { error: this.fatal } : {}),
      lease_ttl_ms: this.cfg.lease_ttl,
      heartbeat_ms: this.cfg.heartbeat,
      partitions_count: this.partitions,
      nats: {
        state: this.conn,
        servers: this.cfg.nats.servers,
        server: this.server ?? null,
        rtt_ms: this.rttMs ?? null,
        reconnects: this.reconnects,
        connected_since: this.connectedSince === undefined || this.conn !== 'connected' ? null : new Date(this.connectedSince).toISOString(),
        unreachable_since: this.unreachableSince === undefined ? null : new Date(this.unreachableSince).toISOString(),
        last_error: this.lastError,
      },
      nodes,
      partitions,
      leases,
      counters: { ...this.counters },
      ...(this.channels.size > 0 || this.reports.size > 0 ? { fleet: this.fleetStatus() } : {}),
      at: new Date(wall).toISOString(),
    };
  }

  /** Per component: its channel's queue and publish counters, its publishers, and what the component reports (the owners' per-partition lag). */
  private fleetStatus(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const id of new Set([...this.channels.keys(), ...this.reports.keys()])) {
      const ch = this.channels.get(id);
      let rep: Record<string, unknown> = {};
      try {
        rep = this.reports.get(id)?.() ?? {};
      } catch (err) {
        rep = { error: errMsg(err) };
      }
      out[id] = {
        ...(ch !== undefined ? { publishing: ch.status(), publishers: this.publishersOf(id).map((p) => `${p.node_id}.${p.instance}`) } : {}),
        ...rep,
      };
    }
    return out;
  }

  /** Kept for the status; logged at most once a minute per kind (never with a secret: messages name servers and keys only). */
  private recordError(kind: string, message: string): void {
    this.lastError = message;
    this.warnings.warn(kind, { cluster: this.name, node_id: this.nodeId }, message);
  }
}

/** A held lease as components see it; its stores write under the fencing token. */
class Grant implements LeaseGrant {
  readonly name: string;
  readonly token: number;
  /** guarded key → revision of this grant's last write (claim or save) */
  private readonly revs = new Map<string, number>();

  constructor(
    private readonly node: ClusterNode,
    private readonly h: Held,
  ) {
    this.name = h.name;
    this.token = h.token;
  }

  get signal(): AbortSignal {
    return this.h.ac.signal;
  }

  valid(): boolean {
    return !this.h.ac.signal.aborted && performance.now() <= this.h.validUntil;
  }

  private assertValid(): void {
    if (this.h.ac.signal.aborted) throw this.h.ac.signal.reason instanceof Error ? this.h.ac.signal.reason : new LeaseLostError(`lease ${this.name} lost`);
    if (performance.now() > this.h.validUntil) {
      this.node.lose(this.h, `lease ${this.name} not renewed for 3/4 of lease_ttl`);
      throw new LeaseLostError(`lease ${this.name} may have expired (not renewed for 3/4 of lease_ttl): not writing`);
    }
  }

  private kv(): KV {
    const kv = this.node.stateKv;
    if (kv === undefined) throw new LeaseLostError('the cluster KV is not open');
    return kv;
  }

  private fenced(key: string, theirs: number): never {
    const err = Object.assign(
      new LeaseLostError(`lease ${this.name}: ${key} was claimed by a later holder (token ${theirs} > ours ${this.token}); not writing`),
      { fenced: true },
    );
    this.node.lose(this.h, err.message);
    throw err;
  }

  /** Claim `key` (CAS-write our token) and return what it held. */
  async claim(key: string): Promise<StateValue | undefined> {
    const kv = this.kv();
    for (let attempt = 0; attempt < 5; attempt++) {
      this.assertValid();
      this.node.countOp();
      const e = await kv.get(key);
      const cur = e !== null && e.operation === 'PUT' ? e.json<StateValue>() : undefined;
      if (cur !== undefined && cur.token > this.token) this.fenced(key, cur.token);
      if (cur !== undefined && cur.token === this.token && e!.revision === this.revs.get(key)) return cur;
      // a write of ours that a lapsed lease kept from landing: still ours to make when nobody wrote since
      const u = this.node.unsaved.get(key);
      if (u !== undefined && (cur === undefined || cur.token !== u.token || u.token >= this.token)) this.node.unsaved.delete(key);
      const base: Record<string, unknown> | undefined =
        u !== undefined && cur !== undefined && cur.token === u.token && u.token < this.token ? { ...cur, ...u.fields } : cur;
      const next: StateValue = { ...(base ?? {}), token: this.token, node: this.node.nodeId, lease: this.name, at: new Date().toISOString() };
      try {
        this.assertValid();
        this.node.countOp();
        const rev =
          cur === undefined ? await kv.create(key, JSON.stringify(next)) : await kv.update(key, JSON.stringify(next), e!.revision, this.node.timeoutMs);
        this.revs.set(key, rev);
        this.node.unsaved.delete(key);
        return base as StateValue | undefined;
      } catch (err) {
        if (!isWrongSequence(err)) throw err;
        // someone wrote meanwhile: read again
      }
    }
    throw new LeaseLostError(`lease ${this.name}: cannot claim ${key} (it keeps changing)`);
  }

  /** CAS-write `fields` to `key` on the revision this grant last wrote. */
  async write(key: string, fields: Record<string, unknown>): Promise<void> {
    try {
      await this.writeOnce(key, fields);
      this.node.unsaved.delete(key);
    } catch (err) {
      // not fenced (nobody else wrote): remember it for this node's next grant (bounded by the keys a node writes)
      if ((err as { fenced?: boolean }).fenced !== true && this.node.unsaved.size < 10_000)
        this.node.unsaved.set(key, { token: this.token, lease: this.name, fields });
      throw err;
    }
  }

  private async writeOnce(key: string, fields: Record<string, unknown>): Promise<void> {
    const kv = this.kv();
    if (!this.revs.has(key)) await this.claim(key);
    for (let attempt = 0; attempt < 3; attempt++) {
      this.assertValid();
      const next: StateValue = { ...fields, token: this.token, node: this.node.nodeId, lease: this.name, at: new Date().toISOString() };
      try {
        this.node.countOp();
        const rev = await kv.update(key, JSON.stringify(next), this.revs.get(key)!, this.node.timeoutMs);
        this.revs.set(key, rev);
        return;
      } catch (err) {
        if (!isWrongSequence(err)) throw err;
        // the revision moved: a successor's claim (fenced), or our own write whose answer was lost
        this.node.countOp();
        const e = await kv.get(key);
        const cur = e !== null && e.operation === 'PUT' ? e.json<StateValue>() : undefined;
        if (cur === undefined || cur.token !== this.token) this.fenced(key, cur?.token ?? Number.MAX_SAFE_INTEGER);
        this.revs.set(key, e!.revision);
      }
    }
    throw new LeaseLostError(`lease ${this.name}: cannot write ${key}`);
  }

  async check(): Promise<void> {
    this.assertValid();
    const kv = this.kv();
    for (const [key, rev] of this.revs) {
      this.node.countOp();
      const e = await kv.get(key);
      if (e === null || e.revision !== rev) {
        const cur = e !== null && e.operation === 'PUT' ? e.json<StateValue>() : undefined;
        if (cur === undefined || cur.token !== this.token) this.fenced(key, cur?.token ?? Number.MAX_SAFE_INTEGER);
        this.revs.set(key, e!.revision);
      }
    }
    this.assertValid();
  }

  state(namespace: string): StateStore {
    const full = (key: string) => `st.${namespace}.${key}`;
    return {
      load: async (key) => {
        const cur = await this.claim(full(key));
        if (cur === undefined) return undefined;
        const { token: _t, node: _n, lease: _l, at: _a, ...fields } = cur;
        return fields;
      },
      save: (key, fields) => this.write(full(key), fields),
    };
  }

  watermarks(namespace: string): WatermarkStore {
    const full = (key: string) => `wm.${namespace}.${key}`;
    return {
      load: async (key, onProblem) => {
        const cur = await this.claim(full(key));
        if (cur === undefined || cur.watermark_ms === undefined || cur.watermark_ms === null) return undefined;
        if (typeof cur.watermark_ms !== 'number' || !Number.isFinite(cur.watermark_ms)) {
          onProblem?.(`the cluster KV holds no valid watermark_ms under ${full(key)}; starting from history`);
          return undefined;
        }
        return cur.watermark_ms;
      },
      save: (key, ms) => this.write(full(key), { watermark_ms: ms, watermark: new Date(ms).toISOString() }),
    };
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    t.unref();
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function raceDeadline<T>(p: Promise<T>, deadline: AbortSignal): Promise<T | undefined> {
  if (deadline.aborted) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(undefined);
    deadline.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        deadline.removeEventListener('abort', onAbort);
        resolve(v);
      },
      () => {
        deadline.removeEventListener('abort', onAbort);
        resolve(undefined);
      },
    );
  });
}
