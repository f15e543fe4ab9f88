/**
 * The owner side of the fleet-wide aggregation (scope: cluster,
 * docs/cluster.md), shared by every component that publishes partials: for
 * each partition this node holds, read the partition's partials from the
 * stream, merge them per window, and export each window **once** when every
 * publisher alive for it has sent its partial, or `wait` after the window
 * closed. NATS code stays behind `Host.cluster` (src/cluster/api.ts).
 *
 * The mark of a partition (the cluster's KV, `st.fleet.<channel>.p<n>`,
 * written under the partition lease's fencing token after the merged window
 * was accepted downstream): `exported` (the last window exported, windows go
 * out in order), `seen` (the last stream sequence read then) and `resume`
 * (where a new owner starts reading: the first sequence of the oldest window
 * still open). A new owner neither exports a finished window again (its
 * partials, re-read, are skipped) nor drops an unfinished one (re-read from
 * `resume`). A partial of an exported window read after `seen` is late:
 * counted, never merged.
 *
 * One window can be exported twice only if an owner dies between the store
 * accepting the window and the mark being written (well under a second); a
 * store keyed by series and timestamp (InfluxDB, Graphite, VictoriaMetrics)
 * overwrites it with the same values.
 */
import { createHash } from 'node:crypto';
import type { Counter } from '@opentelemetry/api';
import { isLeaseLost, type ClusterHost, type FleetChannel, type LeaseGrant, type PartialDelivery, type StateStore } from '../cluster/api.js';
import type { Logger } from '../logger.js';
import type { MetricsBatch } from '../model/metrics.js';
import { RateLimitedLog } from '../ratelimitedlog.js';
import type { Telemetry } from '../telemetry.js';
import { dropTags, encodeCheckpoint, pullStores, restoreCheckpoint } from '../pullstore/checkpoint.js';
import { PARTITION_ATTRIBUTE } from '../pullstore/cumulative.js';
import { decodeEnvelope } from './wire.js';

/** The pull stores' partition tag of partition p (0 is "untagged", a single instance). */
function pullTag(p: number): number {
  return p + 1;
}

/** a checkpoint of one store and partition larger than this (base64) is not written (KV values travel in one NATS message) */
const MAX_CHECKPOINT_B64 = 700 * 1024;

/**
 * Pull stores in a cluster (Prometheus, Circonus pull): the running totals of
 * a partition's series, checkpointed into KV (`st.fleet.pull.p<n>`) after
 * every merged window the owner exported, and restored by the next owner of
 * the partition before it exports anything, so a scraper sees no counter
 * reset when the partition moves. Once per partition grant on a node (every
 * component's FleetOwner shares it).
 */
const restored = new WeakMap<LeaseGrant, Promise<void>>();

function restorePull(grant: LeaseGrant, p: number, warn: (key: string, message: string) => void): Promise<void> {
  let r = restored.get(grant);
  if (r === undefined) {
    r = (async () => {
      const stores = pullStores();
      if (stores.size === 0) return;
      const cur = await grant.state('fleet').load(`pull.p${p}`);
      const saved = (cur?.stores ?? {}) as Record<string, unknown>;
      for (const [id, store] of stores) {
        const b64 = saved[id];
        if (typeof b64 !== 'string') continue;
        try {
          restoreCheckpoint(store, Buffer.from(b64, 'base64'));
        } catch (err) {
          warn(
            `restore\u0000${id}`,
            `cannot restore the running totals of partition ${p} for pull store ${id}: ${(err as Error).message}; its counters start again on this node`,
          );
        }
      }
    })();
    restored.set(grant, r);
  }
  return r;
}

async function checkpointPull(grant: LeaseGrant, p: number, warn: (key: string, message: string) => void): Promise<void> {
  const stores = pullStores();
  if (stores.size === 0) return;
  const out: Record<string, string> = {};
  for (const [id, store] of stores) {
    const b64 = encodeCheckpoint(store, { tags: [pullTag(p)] }).toString('base64');
    if (b64.length > MAX_CHECKPOINT_B64) {
      warn(
        `ckpt\u0000${id}`,
        `the running totals of partition ${p} in pull store ${id} take ${b64.length} bytes, more than a KV value may (${MAX_CHECKPOINT_B64}): not checkpointed (use more partitions)`,
      );
      continue;
    }
    out[id] = b64;
  }
  await grant.state('fleet').save(`pull.p${p}`, { stores: out, at: new Date().toISOString() });
}

export interface FleetAdapter<W> {
  readonly periodMs: number;
  readonly latenessMs: number;
  /** how long after a window closes (end + lateness) the owner waits for publishers that have not sent */
  readonly waitMs: number;
  newWindow(k: number): W;
  /** merge one message's entries; throws (naming the entry) on entries this config cannot take */
  merge(w: W, entries: readonly unknown[]): void;
  build(k: number, w: W, partition: number): MetricsBatch | undefined;
}

export interface FleetOwnerOptions<W> {
  id: string;
  cluster: ClusterHost;
  channel: FleetChannel;
  adapter: FleetAdapter<W>;
  deliver(batch: MetricsBatch): Promise<void>;
  logger: Logger;
  telemetry: Telemetry;
  now?: () => number;
  tickMs?: number;
}

interface Mark {
  exported: number | null;
  seen: number;
  resume: number;
}

interface PendingWindow<W> {
  k: number;
  w: W;
  /** publisher → chunks expected and received */
  got: Map<string, { n: number; have: Set<number> }>;
  firstSeq: number;
  partials: number;
  /** partials carrying entries */
  nonEmpty: number;
  attempts: number;
  retryAt: number;
}

class PartitionOwner<W> {
  readonly ac = new AbortController();
  mark: Mark = { exported: null, seen: 0, resume: 1 };
  loaded = false;
  caughtUp = false;
  busy = false;
  maxSeq = 0;
  readonly windows = new Map<number, PendingWindow<W>>();
  /** ids merged into the last exported windows: a second copy is a duplicate, not late */
  readonly recent = new Map<number, Set<string>>();
  constructor(
    readonly p: number,
    readonly grant: LeaseGrant,
    readonly store: StateStore,
  ) {}
}

function markNamespace(id: string): string {
  return `fleet.${createHash('sha256').update(id).digest('hex').slice(0, 12)}`;
}

export class FleetOwner<W> {
  private readonly parts = new Map<number, PartitionOwner<W>>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly now: () => number;
  private readonly warnings: RateLimitedLog;
  readonly counters = {
    partials_merged: 0,
    partials_late: 0,
    partials_duplicate: 0,
    partials_invalid: 0,
    windows_exported: 0,
    windows_export_failed: 0,
    windows_without_all_publishers: 0,
    partitions_taken: 0,
    partitions_released: 0,
  };
  private readonly c: Record<'merged' | 'late' | 'dup' | 'invalid' | 'windows' | 'failed', Counter>;
  private readonly attrs: { component: string };
  /** delay from window close (end + lateness) to the export of its last window, ms */
  lastDelayMs: number | undefined;

  constructor(private readonly o: FleetOwnerOptions<W>) {
    this.now = o.now ?? Date.now;
    this.warnings = new RateLimitedLog(o.logger);
    this.attrs = { component: o.id };
    const m = o.telemetry.meter;
    this.c = {
      merged: m.createCounter('metricport_fleet_partials_merged', {
        description: 'Partials (one publisher, window and partition, per message) merged by this node as a partition owner, by component',
      }),
      late: m.createCounter('metricport_fleet_partials_late', {
        description: 'Partials that arrived after their window was exported (counted, never merged), by component',
      }),
      dup: m.createCounter('metricport_fleet_partials_duplicate', { description: 'Second copies of a partial the owner already held (dropped), by component' }),
      invalid: m.createCounter('metricport_fleet_partials_invalid', {
        description: 'Partials refused: unreadable, another period, or entries of another config (every node must run the same metric sets), by component',
      }),
      windows: m.createCounter('metricport_fleet_windows_exported', { description: 'Merged windows of a partition handed to the pipeline, by component' }),
      failed: m.createCounter('metricport_fleet_windows_export_failed', {
        description: 'Merged windows the pipeline refused three times (dropped, counted), by component',
      }),
    };
    o.telemetry.gauge(
      'metricport_fleet_windows_waiting',
      'Windows of owned partitions waiting for partials or their deadline, by component',
      this.attrs,
      () => {
        let n = 0;
        for (const po of this.parts.values()) n += po.windows.size;
        return n;
      },
    );
  }

  start(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.o.cluster.report(this.o.id, () => this.status());
    const every = this.o.tickMs ?? 200;
    this.timer = setInterval(() => {
      this.sync();
      this.tick();
    }, every);
    this.timer.unref();
  }

  /** Follow the partitions this node holds: take new ones, drop lost ones. */
  private sync(): void {
    const owned = this.o.cluster.ownedPartitions();
    for (const [p, po] of this.parts) {
      if (owned.get(p) !== po.grant || po.grant.signal.aborted) this.release(po);
    }
    for (const [p, grant] of owned) {
      if (this.parts.has(p) || grant.signal.aborted) continue;
      const po = new PartitionOwner<W>(p, grant, grant.state(markNamespace(this.o.id)));
      this.parts.set(p, po);
      this.counters.partitions_taken++;
      void this.take(po);
    }
  }

  private release(po: PartitionOwner<W>): void {
    po.ac.abort();
    if (this.parts.get(po.p) === po) this.parts.delete(po.p);
    // its series are served by the partition's next owner now (restored from the checkpoint)
    for (const store of pullStores().values()) dropTags(store, [pullTag(po.p)]);
    restored.delete(po.grant);
    this.counters.partitions_released++;
  }

  private async take(po: PartitionOwner<W>): Promise<void> {
    try {
      const m = await po.store.load(`p${po.p}`);
      if (m !== undefined) {
        po.mark = { exported: typeof m.exported === 'number' ? m.exported : null, seen: Number(m.seen) || 0, resume: Math.max(1, Number(m.resume) || 1) };
      }
    } catch (err) {
      this.warnings.warn(
        `take\u0000${po.p}`,
        { component: this.o.id, partition: po.p },
        `cannot read the mark of partition ${po.p}: ${(err as Error).message}; trying again`,
      );
      this.release(po);
      return;
    }
    try {
      await restorePull(po.grant, po.p, (k, m) => this.warnings.warn(k, { component: this.o.id, partition: po.p }, m));
    } catch (err) {
      if (isLeaseLost(err)) {
        this.release(po);
        return;
      }
      this.warnings.warn(
        'restore',
        { component: this.o.id, partition: po.p },
        `cannot read the checkpointed running totals of partition ${po.p}: ${(err as Error).message}`,
      );
    }
    if (po.ac.signal.aborted) return;
    po.loaded = true;
    this.o.channel.read(
      po.p,
      po.mark.resume,
      po.ac.signal,
      (d) => this.onMessage(po, d),
      () => {
        po.caughtUp = true;
      },
    );
  }

  private onMessage(po: PartitionOwner<W>, d: PartialDelivery): void {
    if (po.ac.signal.aborted) return;
    if (d.seq > po.maxSeq) po.maxSeq = d.seq;
    let env;
    try {
      env = decodeEnvelope(d.data);
    } catch (err) {
      this.invalid(po.p, `an unreadable partial (sequence ${d.seq}): ${(err as Error).message}`);
      return;
    }
    if (env.c !== this.o.id) return;
    if (env.P !== this.o.adapter.periodMs) {
      this.invalid(po.p, `a partial of publisher ${env.pub} with period ${env.P} ms, not ${this.o.adapter.periodMs} ms (every node must run the same config)`);
      return;
    }
    const ex = po.mark.exported;
    const pid = `${env.pub}#${env.i}`;
    if (ex !== null && env.k <= ex) {
      if (po.recent.get(env.k)?.has(pid) === true) {
        this.dup();
        return;
      }
      // a late partial without entries loses nothing (the replica saw nothing for this partition): not counted
      if (d.seq > po.mark.seen && env.e.length > 0) {
        this.counters.partials_late++;
        this.c.late.add(1, this.attrs);
        this.warnings.warn(
          'late',
          { component: this.o.id, partition: po.p, publisher: env.pub },
          `a partial arrived after its window (${new Date(env.k * env.P).toISOString()}) was exported: counted as late, not merged (a publisher cut off from NATS for longer than allowed_lateness + cluster_wait?)`,
        );
      }
      return;
    }
    let pw = po.windows.get(env.k);
    if (pw === undefined) {
      pw = { k: env.k, w: this.o.adapter.newWindow(env.k), got: new Map(), firstSeq: d.seq, partials: 0, nonEmpty: 0, attempts: 0, retryAt: 0 };
      po.windows.set(env.k, pw);
    }
    let g = pw.got.get(env.pub);
    if (g === undefined) {
      g = { n: env.n, have: new Set() };
      pw.got.set(env.pub, g);
    }
    if (g.have.has(env.i)) {
      this.dup();
      return;
    }
    try {
      this.o.adapter.merge(pw.w, env.e);
    } catch (err) {
      this.invalid(po.p, `a partial of publisher ${env.pub}: ${(err as Error).message}`);
      g.have.add(env.i);
      return;
    }
    g.have.add(env.i);
    pw.partials++;
    if (env.e.length > 0) pw.nonEmpty++;
    this.counters.partials_merged++;
    this.c.merged.add(1, this.attrs);
  }

  private dup(): void {
    this.counters.partials_duplicate++;
    this.c.dup.add(1, this.attrs);
  }

  private invalid(p: number, message: string): void {
    this.counters.partials_invalid++;
    this.c.invalid.add(1, this.attrs);
    this.warnings.warn('invalid', { component: this.o.id, partition: p }, `refused ${message}`);
  }

  private expected(k: number): string[] {
    return this.o.channel
      .publishers()
      .filter((p) => p.period === this.o.adapter.periodMs && p.from <= k)
      .map((p) => `${p.node_id}.${p.instance}`);
  }

  /** window k closes (publishers send) at end + lateness; the owner waits `wait` more for missing publishers */
  private deadline(k: number): number {
    const a = this.o.adapter;
    return (k + 1) * a.periodMs + a.latenessMs + a.waitMs;
  }

  private complete(pw: PendingWindow<W>): boolean {
    for (const g of pw.got.values()) if (g.have.size < g.n) return false;
    const exp = this.expected(pw.k);
    if (exp.length === 0) return false;
    for (const pub of exp) if (!pw.got.has(pub)) return false;
    return true;
  }

  private tick(): void {
    const now = this.now();
    for (const po of this.parts.values()) {
      if (!po.loaded || !po.caughtUp || po.busy || po.windows.size === 0) continue;
      const k = Math.min(...po.windows.keys());
      const pw = po.windows.get(k)!;
      if (now < pw.retryAt) continue;
      const full = this.complete(pw);
      if (!full && now < this.deadline(k)) continue;
      po.busy = true;
      void this.export(po, pw, full).finally(() => {
        po.busy = false;
      });
    }
  }

  private async export(po: PartitionOwner<W>, pw: PendingWindow<W>, full: boolean): Promise<void> {
    const built = pw.nonEmpty;
    try {
      const batch = this.o.adapter.build(pw.k, pw.w, po.p);
      // the partition on the resource: pull stores tag the series with it (never rendered)
      if (batch !== undefined) for (const rm of batch.resourceMetrics) rm.resource.attributes[PARTITION_ATTRIBUTE] = pullTag(po.p);
      await po.grant.check();
      if (batch !== undefined) {
        try {
          await this.o.deliver(batch);
        } catch (err) {
          pw.attempts++;
          if (pw.attempts < 3) {
            pw.retryAt = this.now() + 1000 * pw.attempts;
            this.warnings.warn(
              'deliver',
              { component: this.o.id, partition: po.p },
              `the pipeline refused a merged window (${(err as Error).message}); retrying`,
            );
            return;
          }
          this.counters.windows_export_failed++;
          this.c.failed.add(1, this.attrs);
          this.warnings.warn(
            'deliver',
            { component: this.o.id, partition: po.p },
            `the pipeline refused a merged window three times (${(err as Error).message}); it is dropped (counted in metricport_fleet_windows_export_failed)`,
          );
        }
      }
      // the running totals first: a crash before the mark re-exports the window (counted twice), never loses it from the totals
      if (batch !== undefined) await checkpointPull(po.grant, po.p, (k, m) => this.warnings.warn(k, { component: this.o.id, partition: po.p }, m));
      po.windows.delete(pw.k);
      let resume = po.maxSeq + 1;
      for (const x of po.windows.values()) if (x.firstSeq < resume) resume = x.firstSeq;
      const mark: Mark = { exported: pw.k, seen: po.maxSeq, resume };
      await po.store.save(`p${po.p}`, { ...mark, exported_window_end: new Date((pw.k + 1) * this.o.adapter.periodMs).toISOString() });
      po.mark = mark;
      po.recent.set(pw.k, new Set([...pw.got].flatMap(([pub, g]) => [...g.have].map((i) => `${pub}#${i}`))));
      for (const k of po.recent.keys()) if (k < pw.k - 4) po.recent.delete(k);
      if (!full) this.counters.windows_without_all_publishers++;
      this.counters.windows_exported++;
      this.c.windows.add(1, this.attrs);
      this.lastDelayMs = this.now() - ((pw.k + 1) * this.o.adapter.periodMs + this.o.adapter.latenessMs);
      // merged into the window while it was being exported: too late for it
      if (pw.nonEmpty > built) {
        this.counters.partials_late += pw.nonEmpty - built;
        this.c.late.add(pw.nonEmpty - built, this.attrs);
      }
    } catch (err) {
      if (isLeaseLost(err)) {
        this.release(po);
        return;
      }
      pw.retryAt = this.now() + 1000;
      this.warnings.warn(
        'mark',
        { component: this.o.id, partition: po.p },
        `cannot export window ${new Date(pw.k * this.o.adapter.periodMs).toISOString()} of partition ${po.p}: ${(err as Error).message}; retrying`,
      );
    }
  }

  /** Per partition this node owns: windows waiting, partials pending, publishers heard from (GET /api/v1/cluster). */
  status(): Record<string, unknown> {
    const partitions = [...this.parts.values()]
      .sort((a, b) => a.p - b.p)
      .map((po) => {
        const ks = [...po.windows.keys()].sort((a, b) => a - b);
        const oldest = ks.length > 0 ? po.windows.get(ks[0]!)! : undefined;
        let pending = 0;
        for (const pw of po.windows.values()) pending += pw.partials;
        return {
          partition: po.p,
          caught_up: po.caughtUp,
          windows_waiting: ks.length,
          partials_pending: pending,
          ...(oldest !== undefined
            ? {
                oldest_window: new Date(oldest.k * this.o.adapter.periodMs).toISOString(),
                publishers_heard: [...oldest.got.keys()].sort(),
                publishers_expected: this.expected(oldest.k).sort(),
                deadline: new Date(this.deadline(oldest.k)).toISOString(),
              }
            : {}),
          exported_through: po.mark.exported === null ? null : new Date((po.mark.exported + 1) * this.o.adapter.periodMs).toISOString(),
        };
      });
    return { owner: { ...this.counters, ...(this.lastDelayMs !== undefined ? { last_export_delay_ms: this.lastDelayMs } : {}), partitions } };
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    for (const po of [...this.parts.values()]) this.release(po);
    this.o.cluster.report(this.o.id, undefined);
  }
}
