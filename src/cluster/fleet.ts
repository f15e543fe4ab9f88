/**
 * The fleet channel on NATS JetStream (scope: cluster, docs/cluster.md);
 * loaded only with the cluster node.
 *
 * Stream `mp_<C>_partials`, subjects `mp.<C>.partials.<partition>.<channel>`
 * (channel = a hash of the component id): file storage, the cluster's
 * replicas, limits retention (`fleet.max_age`), JetStream's duplicate window
 * (`fleet.duplicate_window`) so a resend of a message id is a no-op.
 *
 * Publishing: `send` puts one window's messages as one entry into an LMDB
 * queue in `<state_dir>/cluster/fleet/<channel>` (resolves once on disk); one
 * consumer publishes the entries in order, waiting and retrying while NATS is
 * away, so partials wait on disk and arrive in window order. A crash while an
 * entry is being sent resends it after the restart: the message ids make that
 * a no-op.
 *
 * Reading: an ordered consumer per (partition, channel) filtered on the
 * subject, from the sequence the owner asks for; recreated from the next
 * sequence after an error.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Counter } from '@opentelemetry/api';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { DiskQueue, type Codec } from '../exporterhelper/diskqueue.js';
import type { Logger } from '../logger.js';
import { RateLimitedLog } from '../ratelimitedlog.js';
import type { Telemetry } from '../telemetry.js';
import type { FleetChannel, PartialDelivery, PartialMessage, PublisherInfo } from './api.js';
import type { ClusterConfig } from './config.js';

/** What the channel needs of its node. */
export interface FleetHost {
  readonly cfg: ClusterConfig;
  readonly nodeId: string;
  /** the connection while NATS is connected and the node joined */
  connection(): NatsConnection | undefined;
  announce(id: string, info: { from: number; period: number } | undefined): void;
  publishersOf(id: string): PublisherInfo[];
  readonly stateDir: string | undefined;
}

/** The channel token of a component id: what its subjects and queue directory are named by. */
function channelToken(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 12);
}

function streamName(cluster: string): string {
  return `mp_${cluster}_partials`;
}
function partialSubject(cluster: string, partition: number, token: string): string {
  return `mp.${cluster}.partials.${partition}.${token}`;
}

/** one queue entry: [u32 count]{[u32 partition][u16 idLen][id][u32 len][data]}… */
const itemCodec: Codec<PartialMessage[]> = {
  encode(msgs) {
    let len = 4;
    const ids = msgs.map((m) => Buffer.from(m.id));
    msgs.forEach((m, i) => {
      len += 10 + ids[i]!.length + m.data.length;
    });
    const out = Buffer.allocUnsafe(len);
    out.writeUInt32LE(msgs.length, 0);
    let o = 4;
    msgs.forEach((m, i) => {
      const id = ids[i]!;
      out.writeUInt32LE(m.partition, o);
      out.writeUInt16LE(id.length, o + 4);
      out.set(id, o + 6);
      o += 6 + id.length;
      out.writeUInt32LE(m.data.length, o);
      out.set(m.data, o + 4);
      o += 4 + m.data.length;
    });
    return out;
  },
  decode(b) {
    const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
    const n = buf.readUInt32LE(0);
    const out: PartialMessage[] = [];
    let o = 4;
    for (let i = 0; i < n; i++) {
      const partition = buf.readUInt32LE(o);
      const idLen = buf.readUInt16LE(o + 4);
      const id = buf.toString('utf8', o + 6, o + 6 + idLen);
      o += 6 + idLen;
      const len = buf.readUInt32LE(o);
      if (o + 4 + len > buf.length) throw new Error('queue entry truncated');
      out.push({ partition, id, data: Uint8Array.prototype.slice.call(buf, o + 4, o + 4 + len) });
      o += 4 + len;
    }
    return out;
  },
};

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function errMsg(err: unknown): string {
  return (err as Error)?.message ?? String(err);
}

/** The stream, made once per connection by whichever channel needs it first. */
const streams = new WeakMap<NatsConnection, Promise<void>>();

async function ensureStream(nc: NatsConnection, cfg: ClusterConfig): Promise<void> {
  let p = streams.get(nc);
  if (p === undefined) {
    p = (async () => {
      const jsm = await jetstreamManager(nc, { timeout: cfg.nats.timeout });
      const name = streamName(cfg.name);
      const want = {
        name,
        subjects: [`mp.${cfg.name}.partials.>`],
        storage: 'file' as const,
        retention: 'limits' as const,
        num_replicas: cfg.replicas,
        max_age: cfg.fleet.max_age * 1_000_000,
        duplicate_window: Math.min(cfg.fleet.duplicate_window, cfg.fleet.max_age) * 1_000_000,
        max_msg_size: -1,
        discard: 'old' as const,
      };
      try {
        await jsm.streams.info(name);
      } catch {
        try {
          await jsm.streams.add(want as never);
        } catch (err) {
          if (!/already in use|exists/i.test(errMsg(err))) throw err;
        }
      }
    })();
    streams.set(nc, p);
    p.catch(() => streams.delete(nc));
  }
  return p;
}

export class NatsFleetChannel implements FleetChannel {
  readonly token: string;
  private readonly queue: DiskQueue<PartialMessage[]> | undefined;
  private readonly stop = new AbortController();
  private readonly warnings: RateLimitedLog;
  readonly counters = {
    published: 0,
    published_bytes: 0,
    duplicates: 0,
    publish_errors: 0,
    queued_windows: 0,
    dropped_windows: 0,
    dropped_messages: 0,
    delivered: 0,
    reader_restarts: 0,
  };
  private readonly c: { pub: Counter; dup: Counter; err: Counter; drop: Counter };
  private readonly attrs: { component: string };
  private lastAnnounce: { from: number; period: number } | undefined;
  /** in-memory queue when there is no state directory (tests of the node alone) */
  private readonly memory: PartialMessage[][] = [];
  private memoryWake: (() => void) | undefined;

  constructor(
    readonly id: string,
    private readonly host: FleetHost,
    logger: Logger,
    telemetry: Telemetry,
  ) {
    this.token = channelToken(id);
    this.warnings = new RateLimitedLog(logger);
    this.attrs = { component: id };
    const m = telemetry.meter;
    this.c = {
      pub: m.createCounter('metricport_cluster_partials_published', {
        description: 'Messages of partials this node published (JetStream acknowledged them), by component',
      }),
      dup: m.createCounter('metricport_cluster_partials_publish_duplicates', {
        description:
          'Messages JetStream acknowledged as duplicates of a message id it had (a resend after a lost acknowledgement or a restart: a no-op), by component',
      }),
      err: m.createCounter('metricport_cluster_partials_publish_errors', {
        description: 'Failed publish attempts (NATS away, timeouts); the message stays queued and is retried, by component',
      }),
      drop: m.createCounter('metricport_cluster_partials_dropped', {
        description: 'Messages of partials dropped from the full disk queue (fleet.queue_max_size), oldest first, by component',
      }),
    };
    telemetry.gauge(
      'metricport_cluster_partials_queued_bytes',
      'Bytes of partials waiting on disk to be published, by component',
      this.attrs,
      () => this.queue?.size() ?? 0,
    );
    const dir = host.stateDir;
    if (dir !== undefined) {
      this.queue = new DiskQueue<PartialMessage[]>(
        { dir: join(dir, 'cluster', 'fleet', this.token), maxBytes: host.cfg.fleet.queue_max_size, numConsumers: 1, overflow: 'drop_oldest' },
        itemCodec,
        (item) => {
          this.counters.dropped_windows++;
          this.counters.dropped_messages += item.length;
          this.c.drop.add(item.length, this.attrs);
          this.warnings.warn(
            'queue_full',
            { component: id },
            `the disk queue of partials is full (service.cluster.fleet.queue_max_size ${host.cfg.fleet.queue_max_size} bytes): the oldest window's partials were dropped (NATS unreachable for long? raise queue_max_size)`,
          );
        },
      );
      this.queue.start((item, signal) => this.publishAll(item, signal));
    } else {
      void this.memoryLoop();
    }
  }

  announce(info: { from: number; period: number }): void {
    this.lastAnnounce = info;
    this.host.announce(this.id, info);
  }

  async send(messages: PartialMessage[]): Promise<void> {
    this.counters.queued_windows++;
    if (this.queue !== undefined) {
      await this.queue.offer(messages, 1);
      return;
    }
    this.memory.push(messages);
    this.memoryWake?.();
  }

  private async memoryLoop(): Promise<void> {
    const signal = this.stop.signal;
    while (!signal.aborted) {
      const item = this.memory[0];
      if (item === undefined) {
        await new Promise<void>((r) => {
          this.memoryWake = r;
          signal.addEventListener('abort', () => r(), { once: true });
        });
        continue;
      }
      await this.publishAll(item, signal);
      if (!signal.aborted) this.memory.shift();
    }
  }

  /** Publish every message of one window (in parallel), retrying the unacknowledged ones until they are or `signal` aborts. */
  private async publishAll(item: PartialMessage[], signal: AbortSignal): Promise<void> {
    const left = new Set(item.keys());
    let backoff = 250;
    while (left.size > 0 && !signal.aborted) {
      const nc = this.host.connection();
      if (nc === undefined) {
        await sleep(200, signal);
        continue;
      }
      let js: JetStreamClient;
      try {
        await ensureStream(nc, this.host.cfg);
        js = jetstream(nc, { timeout: this.host.cfg.nats.timeout });
      } catch (err) {
        this.failed(`cannot create the stream ${streamName(this.host.cfg.name)}: ${errMsg(err)}`);
        await sleep(backoff, signal);
        backoff = Math.min(5000, backoff * 2);
        continue;
      }
      await Promise.all(
        [...left].map(async (i) => {
          const m = item[i]!;
          try {
            const ack = await js.publish(partialSubject(this.host.cfg.name, m.partition, this.token), m.data, {
              msgID: m.id,
              timeout: this.host.cfg.nats.timeout,
            });
            left.delete(i);
            if (ack.duplicate) {
              this.counters.duplicates++;
              this.c.dup.add(1, this.attrs);
            } else {
              this.counters.published++;
              this.counters.published_bytes += m.data.length;
              this.c.pub.add(1, this.attrs);
            }
          } catch (err) {
            this.failed(`cannot publish partials (they stay queued and are retried): ${errMsg(err)}`);
          }
        }),
      );
      if (left.size > 0) {
        await sleep(backoff, signal);
        backoff = Math.min(5000, backoff * 2);
      }
    }
  }

  private failed(message: string): void {
    this.counters.publish_errors++;
    this.c.err.add(1, this.attrs);
    this.warnings.warn('publish', { component: this.id }, message);
  }

  publishers(): PublisherInfo[] {
    return this.host.publishersOf(this.id);
  }

  read(partition: number, fromSeq: number, signal: AbortSignal, onMessage: (d: PartialDelivery) => void, onCaughtUp: () => void): void {
    void (async () => {
      let next = Math.max(1, fromSeq);
      let caughtUp = false;
      const caught = (): void => {
        if (!caughtUp) {
          caughtUp = true;
          onCaughtUp();
        }
      };
      while (!signal.aborted && !this.stop.signal.aborted) {
        const nc = this.host.connection();
        if (nc === undefined) {
          await sleep(200, signal);
          continue;
        }
        try {
          await ensureStream(nc, this.host.cfg);
          const js = jetstream(nc, { timeout: this.host.cfg.nats.timeout });
          const c = await js.consumers.get(streamName(this.host.cfg.name), {
            filter_subjects: partialSubject(this.host.cfg.name, partition, this.token),
            deliver_policy: 'by_start_sequence' as never,
            opt_start_seq: next,
          });
          const info = await c.info(true);
          if (info.num_pending === 0) caught();
          const msgs = await c.consume({ max_messages: 256 });
          const onAbort = (): void => {
            void msgs.close();
          };
          signal.addEventListener('abort', onAbort, { once: true });
          this.stop.signal.addEventListener('abort', onAbort, { once: true });
          // watchdog: a consumer that stopped delivering while messages wait (its server died, a reset that did not take) is recreated from the next sequence
          let seenAt = next;
          const dog = setInterval(() => {
            void c.info().then(
              (i) => {
                if (i.num_pending > 0 && next === seenAt) {
                  this.counters.reader_restarts++;
                  void msgs.close();
                }
                seenAt = next;
              },
              () => {
                this.counters.reader_restarts++;
                void msgs.close();
              },
            );
          }, 3000);
          dog.unref();
          try {
            for await (const m of msgs) {
              if (signal.aborted) break;
              next = m.seq + 1;
              this.counters.delivered++;
              onMessage({ seq: m.seq, data: m.data, pending: m.info.pending });
              if (m.info.pending === 0) caught();
            }
          } finally {
            clearInterval(dog);
            signal.removeEventListener('abort', onAbort);
            this.stop.signal.removeEventListener('abort', onAbort);
          }
        } catch (err) {
          if (signal.aborted) break;
          this.warnings.warn(
            `read\u0000${partition}`,
            { component: this.id, partition },
            `cannot read the partials of partition ${partition}: ${errMsg(err)}; retrying`,
          );
        }
        await sleep(500, signal);
      }
    })();
  }

  status(): Record<string, number> {
    return { ...this.counters, queued_bytes: this.queue?.size() ?? 0, queued_entries: this.queue !== undefined ? this.queue.entries() : this.memory.length };
  }

  /** Stop announcing and reading; publish what is queued for at most 2 s (or until `deadline`); the rest stays on disk for the next start. */
  async close(deadline: AbortSignal): Promise<void> {
    this.host.announce(this.id, undefined);
    const soon = AbortSignal.any([deadline, AbortSignal.timeout(2000)]);
    if (this.queue !== undefined) await this.queue.drain(soon);
    this.stop.abort();
  }

  get announced(): { from: number; period: number } | undefined {
    return this.lastAnnounce;
  }
}
