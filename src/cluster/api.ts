/**
 * What components see of the cluster (through `Host.cluster`): leases with
 * fencing tokens and stores whose writes carry the token. No NATS code here:
 * components import only these types, and the NATS client is loaded (by
 * src/run.ts, dynamically) only when `service.cluster` is configured.
 *
 * The one rule a lease holder keeps: **every write is checked at write
 * time**, never only at acquire time. A grant's stores refuse a write (with
 * LeaseLostError) when the holder's own clock says the lease may have
 * expired, and the write itself is a compare-and-set on the guarded key's
 * revision, which a successor bumps (its claim) before it reads the key. So a
 * holder that was paused past the TTL cannot overwrite what its successor
 * wrote, and before it hands data downstream it calls `check()`.
 */
import { MetricportError } from '../errors.js';

/** The lease was lost (expired, taken over, handed over, NATS unreachable past the TTL). Never retried by the holder. */
export class LeaseLostError extends MetricportError {
  constructor(message: string) {
    super('MP_LEASE_LOST', message);
    this.name = 'LeaseLostError';
  }
}

export function isLeaseLost(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === 'MP_LEASE_LOST';
}

/** Watermarks of one poller: ms since the epoch, the exclusive end of what was accepted downstream (semantics.md §9). */
export interface WatermarkStore {
  /** the stored watermark; undefined when there is none (`onProblem` hears about unreadable ones) */
  load(key: string, onProblem?: (message: string) => void): Promise<number | undefined>;
  save(key: string, ms: number): Promise<void>;
}

/** Small JSON records in the cluster's KV under a lease (the fleet owners' window marks); writes carry the fencing token. */
export interface StateStore {
  /** claims the key for this grant (a later write of an older holder fails), then returns what it held */
  load(key: string): Promise<Record<string, unknown> | undefined>;
  save(key: string, fields: Record<string, unknown>): Promise<void>;
}

/** A held lease. Its `signal` aborts when the lease is lost; its stores refuse writes from then on. */
export interface LeaseGrant {
  readonly name: string;
  /** the fencing token: the KV revision at which this node acquired (or was handed) the lease; larger for every later holder */
  readonly token: number;
  readonly signal: AbortSignal;
  /** false once the holder's clock says the lease may have expired (3/4 of the TTL since the last renewal was sent) or it was lost */
  valid(): boolean;
  /**
   * Before handing data downstream: throws LeaseLostError unless the lease is
   * valid and every key this grant wrote still holds this grant's revision.
   */
  check(): Promise<void>;
  /** watermarks in the cluster's KV under this lease, keyed `<namespace>.<key>`; every write carries the fencing token */
  watermarks(namespace: string): WatermarkStore;
  /** JSON records in the cluster's KV under this lease, keyed `<namespace>.<key>` (letters, digits, `_`, `-`, `.`) */
  state(namespace: string): StateStore;
}

/** One message of partials: `data` for partition `partition`; `id` makes a resend a no-op (JetStream's duplicate window). */
export interface PartialMessage {
  partition: number;
  id: string;
  data: Uint8Array;
}

/** A partial read back by the owner of its partition. */
export interface PartialDelivery {
  /** the stream sequence: an owner resumes from it after a move */
  seq: number;
  data: Uint8Array;
  /** messages of this partition's subject after this one when it was delivered (0: caught up) */
  pending: number;
}

/** What a publisher of one channel announces in its heartbeat. */
export interface PublisherInfo {
  node_id: string;
  /** the node's current run (random per process start): `<node_id>.<instance>` identifies a publisher */
  instance: string;
  /** the first window (index) this publisher's current run closes */
  from: number;
  /** period in ms */
  period: number;
}

/**
 * The fleet-wide aggregation channel of one component (scope: cluster,
 * docs/cluster.md): publish partials into the partitioned stream (durably
 * queued first, sent in order), see which nodes publish, and read the
 * partials of a partition this node owns.
 */
export interface FleetChannel {
  readonly id: string;
  /** announce (in this node's heartbeat) that it publishes this channel from window `from` on */
  announce(info: { from: number; period: number }): void;
  /** queue on disk (resolves once durable), then publish in order, retrying while NATS is away */
  send(messages: PartialMessage[]): Promise<void>;
  /** live nodes announcing this channel (heartbeat within lease_ttl) */
  publishers(): PublisherInfo[];
  /**
   * Read partition `partition`'s partials of this channel from stream sequence
   * `fromSeq` (1 = the start of what the stream keeps) until `signal` aborts;
   * `onMessage` is called in stream order; `onCaughtUp` once nothing older is pending.
   */
  read(partition: number, fromSeq: number, signal: AbortSignal, onMessage: (d: PartialDelivery) => void, onCaughtUp: () => void): void;
  /** queue and publish counters (status, GET /api/v1/cluster) */
  status(): Record<string, number>;
  /** stop sending; what is queued stays on disk for the next start */
  close(deadline: AbortSignal): Promise<void>;
}

/** A named lease a component asks for (a run-once poller: `poller.<receiver id>`). */
export interface Lease {
  /** resolves with a grant once this node holds the lease; undefined when `signal` aborted first */
  acquire(signal: AbortSignal): Promise<LeaseGrant | undefined>;
  /** give the lease up now and hand it to another live node (graceful stop); safe when not held */
  release(): Promise<void>;
}

export interface ClusterHost {
  readonly name: string;
  readonly nodeId: string;
  /** this process's run of the node (random per start); a fleet publisher is `<nodeId>.<instanceId>` */
  readonly instanceId: string;
  readonly partitions: number;
  /** the lease `name` (letters, digits, `_`, `-`, `.`), shared by every node that asks for it */
  lease(name: string): Lease;
  /** partitions this node holds now, with their grants (part 2: the owner merges and exports a partition's windows) */
  ownedPartitions(): ReadonlyMap<number, LeaseGrant>;
  /** the fleet channel of component `id` (opened on first call; one per component) */
  fleet(id: string): FleetChannel;
  /** a component's part of GET /api/v1/cluster (the fleet owners' per-partition lag); `undefined` removes it */
  report(id: string, status: (() => Record<string, unknown>) | undefined): void;
  /**
   * The watermark a run-once poller's lease holder last saved under
   * `<namespace>.<key>`, read without claiming anything (for previews and
   * status on any node); undefined when there is none or NATS cannot be read.
   */
  readWatermark(namespace: string, key: string): Promise<number | undefined>;
  /** GET /api/v1/cluster (no secrets) */
  status(): Record<string, unknown>;
  /** degraded while NATS is unreachable or the node could not join */
  health(): { degraded: boolean; reason?: string; since?: string };
}

/** The lease name of a run-once poller: `poller.<receiver id>`. */
export function pollerLease(receiverId: string): string {
  return `poller.${receiverId}`;
}

/** The per-receiver option `cluster: { run: once | everywhere }`. */
export const clusterRunField = {
  type: 'object' as const,
  doc: 'With service.cluster configured: "once" runs this poller on exactly one node of the cluster at a time (by lease; its watermarks live in the cluster\'s KV), "everywhere" on every node with local watermarks. Without a cluster it always runs here.',
  fields: {
    run: {
      type: 'enum' as const,
      values: ['once', 'everywhere'] as const,
      default: 'once',
      doc: 'once (one node by lease, shared watermarks) or everywhere (every node, local watermarks)',
    },
  },
};
