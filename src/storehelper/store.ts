/**
 * A push metric store: the period accumulator in front of the exporter
 * helper. Every period (and at shutdown) the closed windows are encoded by
 * the adapter, split into payloads under its size limit, and queued on the
 * helper, which sends them with its timeout, retries and bounded queue.
 *
 * An adapter supplies only:
 * - `encode(points, ctx)`: a pure function from store points to one request
 *   body (already compressed when the store wants that);
 * - `send(payload, abort)`: one attempt; it throws PermanentSendError for the
 *   store's permanent failures, PayloadTooLargeError to have the payload
 *   split in two and resent (HTTP 413), anything else is retried;
 * - its size limits and, for connection-oriented stores, start/shutdown.
 */
import { join } from 'node:path';
import type { CreateSettings, Exporter, Host } from '../component.js';
import { DiskQueue } from '../exporterhelper/diskqueue.js';
import type { QueueItem } from '../exporterhelper/exporter.js';
import { WriteAheadLog, jobCodec } from './durable.js';
import { RefusedError } from '../errors.js';
import { createExporter, type HelperExporter, type PushResult } from '../exporterhelper/exporter.js';
import type { MetricsBatch } from '../model/metrics.js';
import { RateLimitedLog } from '../ratelimitedlog.js';
import { PeriodAccumulator, type AccumulatorCounters, type StorePoint } from './accumulator.js';
import type { StoreConfig } from './config.js';

export interface EncodeContext {
  /** the store period in seconds (Datadog/Grafana `interval`) */
  periodSeconds: number;
  /** wall clock, ms (for stores that refuse too-old points) */
  nowMs: number;
}

export interface Encoded {
  body: Uint8Array;
  /** store points represented in body */
  n: number;
  /** store points the encoder could not represent, by reason (counted as dropped) */
  dropped?: Record<string, number>;
}

export interface Payload {
  points: readonly StorePoint[];
  body: Uint8Array;
  n: number;
}

/** Thrown by `send` when the store says the request is too large (HTTP 413): the payload is split in two and resent. */
export class PayloadTooLargeError extends Error {
  constructor(message = 'payload too large') {
    super(message);
    this.name = 'PayloadTooLargeError';
  }
}

export interface StoreAdapter {
  readonly type: string;
  /** largest body (as encoded, i.e. compressed when compressing) */
  readonly maxPayloadBytes: number;
  /** points per payload before size checks (default 10,000) */
  readonly maxPointsPerPayload?: number;
  /** encode each window separately (stores whose body is keyed by series, e.g. Circonus JSON) */
  readonly oneWindowPerPayload?: boolean;
  /** host:port for status (never a URL with credentials) */
  readonly endpoint: string;
  encode(points: readonly StorePoint[], ctx: EncodeContext): Encoded;
  send(p: Payload, abort: AbortSignal): Promise<void | PushResult>;
  start?(): Promise<void>;
  shutdown?(): Promise<void>;
  status?(): Record<string, unknown>;
}

interface Job {
  chunks: Payload[];
  n: number;
  rejected: number;
  messages: string[];
}

export interface StoreExporter extends Exporter<MetricsBatch> {
  status(): Record<string, unknown>;
  healthy(): boolean;
  /** for tests: close due windows and queue them now */
  flushNow(all?: boolean): Promise<void>;
  readonly accumulator: PeriodAccumulator;
}

export interface StoreTestHooks {
  now?: () => number;
  random?: () => number;
  startedAtMs?: number;
  /** called inside every write-ahead-log checkpoint's transaction: throw to inject a failed commit */
  checkpointFault?: () => void;
}

/** Split points into payloads under the adapter's limits; pure apart from the encoder. Points that alone exceed the limit are dropped (counted). */
export function encodeSplit(adapter: StoreAdapter, points: readonly StorePoint[], ctx: EncodeContext, dropped: Record<string, number>): Payload[] {
  const out: Payload[] = [];
  const maxN = Math.max(1, adapter.maxPointsPerPayload ?? 10_000);
  const build = (pts: readonly StorePoint[]): void => {
    if (pts.length === 0) return;
    const e = adapter.encode(pts, ctx);
    if (e.body.length <= adapter.maxPayloadBytes) {
      if (e.dropped !== undefined) for (const [r, n] of Object.entries(e.dropped)) dropped[r] = (dropped[r] ?? 0) + n;
      if (e.n > 0) out.push({ points: pts, body: e.body, n: e.n });
      return;
    }
    if (pts.length === 1) {
      dropped.too_large = (dropped.too_large ?? 0) + 1;
      return;
    }
    const mid = pts.length >> 1;
    build(pts.slice(0, mid));
    build(pts.slice(mid));
  };
  for (let i = 0; i < points.length; i += maxN) build(points.slice(i, i + maxN));
  return out;
}

export function createStore(set: CreateSettings, cfg: StoreConfig, adapter: StoreAdapter, hooks: StoreTestHooks = {}): StoreExporter {
  const now = hooks.now ?? Date.now;
  const acc = new PeriodAccumulator({
    periodMs: cfg.period,
    // 0 = automatic: 10 % of the period, plus the delay of metric sets upstream (their windows arrive that late)
    latenessMs: cfg.lateness > 0 || set.upstreamDelayMs === undefined ? cfg.lateness : set.upstreamDelayMs + Math.round(cfg.period / 10),
    maxSeries: cfg.max_series,
    seriesExpiryMs: cfg.series_expiry,
    cumulative: cfg.cumulative,
    resourceAttributes: cfg.resource_attributes,
    now,
    ...(hooks.startedAtMs !== undefined ? { startedAtMs: hooks.startedAtMs } : {}),
  });
  const tel = set.telemetry.exporter(set.id, 'metrics');
  const warn = new RateLimitedLog(set.logger, { now });
  /** write-ahead-log checkpoints whose transaction failed (the log is then not trimmed; the next checkpoint retries) */
  let checkpointFailures = 0;
  let lastCheckpointError: string | null = null;
  let lastCheckpointErrorTime: number | null = null;
  const encodeDropped: Record<string, number> = {};
  const reported: Partial<Record<keyof AccumulatorCounters, number>> = {};
  let flushes = 0;
  let lastFlush: number | null = null;
  let nextFlush: number | null = null;
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let closed = false;
  /** set when shutdown begins: a blocked flush stops waiting for room when it aborts */
  let shutdownDeadline: AbortSignal | undefined;
  let shutdownP: Promise<void> | undefined;
  let flushing: Promise<void> = Promise.resolve();
  let pointsQueued = 0;
  let refusedPoints = 0;
  /** a flush waits for room in the full queue (block) */
  let flushWaiting = false;
  /** disk + block, shutting down with the queue full: flushes are no longer queued nor checkpointed; their points stay in the write-ahead log for the next start */
  let keepInLog = false;
  let keptInLog = 0;
  const block = cfg.sending_queue?.drop_policy === 'block';
  // storage: disk — the LMDB queue and the write-ahead log of points not yet flushed (docs/reliability.md)
  let disk: DiskQueue<QueueItem<Job>> | undefined;
  let wal: WriteAheadLog | undefined;
  let walOpen: Promise<void> | undefined;
  const durable = cfg.sending_queue?.storage === 'disk' && cfg.sending_queue.enabled !== false;

  const ctx = (): EncodeContext => ({ periodSeconds: cfg.period / 1000, nowMs: now() });

  const sendChunk = async (job: Job, signal: AbortSignal): Promise<void> => {
    // chunks are removed once delivered, so a retry resends only what is left
    while (job.chunks.length > 0) {
      const c = job.chunks[0] as Payload;
      try {
        const r = await adapter.send(c, signal);
        if (r !== undefined && r !== null && typeof r.rejected === 'number' && r.rejected > 0) {
          job.rejected += r.rejected;
          if (typeof r.message === 'string') job.messages.push(r.message);
        }
        job.chunks.shift();
      } catch (err) {
        if (!(err instanceof PayloadTooLargeError)) throw err;
        if (c.points.length <= 1) {
          job.chunks.shift();
          job.rejected += c.n;
          job.messages.push('a single point is larger than the store accepts');
          continue;
        }
        const d: Record<string, number> = {};
        const mid = c.points.length >> 1;
        const parts = [...encodeSplit(adapter, c.points.slice(0, mid), ctx(), d), ...encodeSplit(adapter, c.points.slice(mid), ctx(), d)];
        let n = 0;
        for (const p of parts) n += p.n;
        job.rejected += Math.max(0, c.n - n); // points the re-encode could not fit
        job.chunks.splice(0, 1, ...parts);
      }
    }
  };

  const inner: HelperExporter<Job> = createExporter<Job>(set, {
    signal: 'metrics',
    countItems: (j) => j.n,
    push: async (job, signal) => {
      await sendChunk(job, signal);
      if (job.rejected > 0) return { rejected: job.rejected, message: job.messages.join('; ').slice(0, 200) };
      return undefined;
    },
    start: async () => {
      await adapter.start?.();
    },
    shutdown: async () => {
      await adapter.shutdown?.();
    },
    timeout: cfg.timeout,
    retry: cfg.retry_on_failure,
    queue: cfg.sending_queue,
    ...(durable
      ? {
          createQueue: (onDrop) => {
            const p = cfg.sending_queue.drop_policy;
            disk = new DiskQueue<QueueItem<Job>>(
              {
                dir: join(set.stateDir, 'queue'),
                maxBytes: cfg.sending_queue.max_size ?? 256 * 1024 * 1024,
                numConsumers: cfg.sending_queue.num_consumers,
                overflow: p === 'block' ? 'accept' : p,
              },
              jobCodec,
              onDrop,
            );
            wal = new WriteAheadLog(disk);
            return disk;
          },
        }
      : {}),
    endpoint: adapter.endpoint,
    unhealthyAfterMs: cfg.unhealthy_after_periods * cfg.period,
    ...(hooks.random !== undefined ? { random: hooks.random } : {}),
    ...(hooks.now !== undefined ? { now: hooks.now } : {}),
  });

  const attrs = { exporter: set.id, adapter: adapter.type };
  set.telemetry.gauge('metricport_store_series', "Series a metric store's period accumulator tracks", attrs, () => acc.seriesCount());
  set.telemetry.gauge('metricport_store_period_seconds', "A metric store's period", attrs, () => cfg.period / 1000);
  set.telemetry.gauge(
    'metricport_store_next_flush_timestamp_seconds',
    'When a metric store flushes next (Unix seconds; 0 = not scheduled)',
    attrs,
    () => (nextFlush ?? 0) / 1000,
  );
  if (durable) {
    set.telemetry.meter
      .createObservableCounter('metricport_store_wal_checkpoint_failures', {
        description: 'Write-ahead-log checkpoints of a push store (disk queue) whose commit failed; the log is not trimmed until one succeeds',
      })
      .addCallback((o) => o.observe(checkpointFailures, attrs));
  }
  set.telemetry.gauge(
    'metricport_store_last_success_timestamp_seconds',
    'Last successful transmission of a metric store (Unix seconds; 0 = never)',
    attrs,
    () => {
      const t = inner.status().last_success;
      return t === null ? 0 : Date.parse(t) / 1000;
    },
  );

  const checkpointFailed = (err: unknown): void => {
    checkpointFailures++;
    lastCheckpointError = err instanceof Error ? err.message.slice(0, 200) : String(err).slice(0, 200);
    lastCheckpointErrorTime = now();
    warn.warn(
      'wal_checkpoint',
      { exporter: set.id, error: lastCheckpointError, failures: checkpointFailures },
      'write-ahead log checkpoint failed: the log is not trimmed (it grows, and a restart resends what it holds); check the disk of the state directory',
    );
  };
  let seriesLimitSeen = 0;
  /** points of new series dropped at max_series since the last look: a warning naming the store (rate-limited) */
  const warnSeriesLimit = (): void => {
    const total = acc.counters.series_limit;
    if (total === seriesLimitSeen) return;
    seriesLimitSeen = total;
    warn.warn(
      'max_series',
      { exporter: set.id, max_series: cfg.max_series, dropped_points: total },
      `max_series (${cfg.max_series}) reached: points of new series are dropped (counted series_limit); raise max_series, or drop high-cardinality attributes upstream (filter processor)`,
    );
  };
  /** Commit a checkpoint on its own (no job to queue with it); a failure is counted, logged and shown in status, never thrown. */
  const commitCheckpoint = async (checkpoint: () => void): Promise<void> => {
    try {
      await disk?.commit(checkpoint);
    } catch (err) {
      checkpointFailed(err);
    }
  };

  const reportCounters = (): void => {
    // accumulator drops on the shared dropped counter (by reason), once per change
    for (const r of ['stale', 'out_of_order', 'series_limit', 'no_value', 'unsupported', 'invalid'] as const) {
      const v = acc.counters[r];
      const d = v - (reported[r] ?? 0);
      if (d > 0) {
        tel.dropped(d, r);
        reported[r] = v;
      }
    }
  };

  const flush = async (all: boolean): Promise<void> => {
    const points = acc.collect(all);
    flushes++;
    lastFlush = now();
    reportCounters();
    // `block` with the disk queue: a flush is queued only while the queue is
    // below max_size, so it never holds more than max_size + one flush. A
    // flush that finds it full waits for room (receivers are refused
    // meanwhile). Its points are in the write-ahead log: at shutdown it stops
    // waiting and leaves them there (no checkpoint, for this flush or any
    // later one of this run), and the next start replays them.
    if (block && disk !== undefined && points.length > 0 && !keepInLog && disk.full()) {
      flushWaiting = true;
      try {
        for (let waitMs = 20; disk.full() && shutdownDeadline === undefined && !closed; waitMs = Math.min(waitMs * 2, 500)) {
          await new Promise<void>((r) => {
            const t = setTimeout(r, waitMs);
            t.unref();
          });
        }
      } finally {
        flushWaiting = false;
      }
      if (disk.full()) keepInLog = true;
    }
    if (keepInLog) {
      keptInLog += points.length;
      return;
    }
    const cp = wal !== undefined && walOpen !== undefined ? wal.checkpoint(acc.openFromIndex()) : undefined;
    const fault = hooks.checkpointFault;
    const checkpoint =
      cp === undefined || fault === undefined
        ? cp
        : (): void => {
            fault();
            cp();
          };
    if (points.length === 0) {
      if (checkpoint !== undefined) await commitCheckpoint(checkpoint);
      return;
    }
    const d: Record<string, number> = {};
    let payloads: Payload[];
    try {
      if (adapter.oneWindowPerPayload === true) {
        payloads = [];
        let from = 0;
        for (let i = 1; i <= points.length; i++) {
          if (i === points.length || (points[i] as StorePoint).time !== (points[from] as StorePoint).time) {
            payloads.push(...encodeSplit(adapter, points.slice(from, i), ctx(), d));
            from = i;
          }
        }
      } else payloads = encodeSplit(adapter, points, ctx(), d);
    } catch (err) {
      d.encode = (d.encode ?? 0) + points.length;
      payloads = [];
      try {
        set.logger.error({ exporter: set.id, error: (err as Error).name }, 'encoder failed; points dropped');
      } catch {
        /* never */
      }
    }
    for (const [r, n] of Object.entries(d)) {
      encodeDropped[r] = (encodeDropped[r] ?? 0) + n;
      tel.dropped(n, r);
    }
    if (payloads.length === 0) {
      if (checkpoint !== undefined) await commitCheckpoint(checkpoint);
      return;
    }
    let n = 0;
    for (const p of payloads) n += p.n;
    const job: Job = { chunks: payloads, n, rejected: 0, messages: [] };
    // the watermark and the log entries it retires commit with the queued job.
    // lmdb's batched transactions do not roll back a callback that throws (the
    // job's write stands), so a failing checkpoint is caught here: the job is
    // queued, the log keeps its entries until a later checkpoint succeeds
    if (checkpoint !== undefined)
      disk?.setCommitHook(() => {
        try {
          checkpoint();
        } catch (err) {
          checkpointFailed(err);
        }
      });
    try {
      // `block` with the memory queue: the points were acknowledged, so a full
      // queue makes the flush wait for room (receivers are refused meanwhile)
      // instead of dropping them; it gives up only at the shutdown deadline
      for (let waitMs = 20; ; waitMs = Math.min(waitMs * 2, 500)) {
        try {
          await inner.consume(job);
          break;
        } catch (e) {
          if (!(block && disk === undefined && e instanceof RefusedError) || closed || shutdownDeadline?.aborted === true) throw e;
          flushWaiting = true;
          await new Promise<void>((r) => {
            const t = setTimeout(r, waitMs);
            t.unref();
          });
        } finally {
          flushWaiting = false;
        }
      }
      pointsQueued += n;
    } catch (err) {
      // refused (full, shutting down), or the disk queue's write failed (its transaction carried the checkpoint)
      const reason = !(err instanceof RefusedError) ? 'queue_write' : closed || shutdownDeadline !== undefined ? 'shutdown' : 'queue_full';
      encodeDropped[reason] = (encodeDropped[reason] ?? 0) + n;
      tel.dropped(n, reason);
      if (reason === 'queue_write') {
        warn.warn(
          'queue_write',
          { exporter: set.id, points: n, error: err instanceof Error ? err.message.slice(0, 200) : String(err).slice(0, 200) },
          'cannot write to the disk queue; points dropped (counted queue_write); check the disk of the state directory',
        );
      }
      if (checkpoint !== undefined) {
        disk?.setCommitHook(() => undefined);
        await commitCheckpoint(checkpoint);
      }
    }
  };

  const runFlush = (all: boolean): Promise<void> => {
    flushing = flushing.then(() => flush(all)).catch(() => undefined);
    return flushing;
  };

  const schedule = (): void => {
    if (closed) return;
    const at = acc.nextCloseMs();
    nextFlush = at;
    timer = setTimeout(
      () => {
        timer = undefined;
        void runFlush(false).then(schedule, schedule);
      },
      Math.max(10, at - now()),
    );
    timer.unref();
  };

  const exporter: StoreExporter = {
    accumulator: acc,
    async start(host: Host): Promise<void> {
      if (started || closed) return;
      started = true;
      if (wal !== undefined) {
        // the backlog stays on disk; only the log of unflushed points (about one period) is replayed
        walOpen = wal.open(acc);
        await walOpen;
      }
      await inner.start(host);
      schedule();
    },
    async consume(batch: MetricsBatch): Promise<void> {
      if (closed) throw new RefusedError(`exporter ${set.id} is shut down`, { status: 503 });
      if (block) {
        const full = disk !== undefined ? disk.full() : inner.status().queue_size >= inner.status().queue_capacity;
        if (full) {
          let n = 0;
          for (const rm of batch.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) n += (m as { points: unknown[] }).points.length;
          refusedPoints += n;
          throw new RefusedError(`sending queue of exporter ${set.id} is full; retry later`, {
            status: 503,
            retryAfterSeconds: Math.max(1, Math.ceil(cfg.period / 1000)),
          });
        }
      }
      if (wal !== undefined) {
        if (walOpen === undefined) throw new RefusedError(`exporter ${set.id} is not started`, { status: 503 });
        await walOpen;
        const openFrom = acc.openFromIndex();
        acc.add(batch);
        warnSeriesLimit();
        // acknowledged only once logged: a crash after this loses nothing
        await wal.append(batch, openFrom, acc.lastMaxWindow);
        return;
      }
      acc.add(batch);
      warnSeriesLimit();
    },
    flushNow: (all = false) => runFlush(all),
    shutdown(deadline: AbortSignal): Promise<void> {
      shutdownP ??= (async () => {
        shutdownDeadline = deadline;
        if (timer !== undefined) {
          clearTimeout(timer);
          timer = undefined;
        }
        nextFlush = null;
        // flush everything held (the open windows too) before the queue closes
        await runFlush(true);
        closed = true;
        await inner.shutdown(deadline);
      })();
      return shutdownP;
    },
    healthy: () => inner.healthy(),
    status(): Record<string, unknown> {
      const s = inner.status();
      const dropped: Record<string, number> = { ...s.dropped };
      for (const [r, n] of Object.entries(encodeDropped)) dropped[r] = (dropped[r] ?? 0) + n;
      for (const r of ['stale', 'out_of_order', 'series_limit', 'no_value', 'unsupported', 'invalid'] as const) {
        if (acc.counters[r] > 0) dropped[r] = (dropped[r] ?? 0) + acc.counters[r];
      }
      const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
      return {
        ...s,
        adapter: adapter.type,
        period_seconds: cfg.period / 1000,
        points_sent: s.sent,
        points_dropped: Object.values(dropped).reduce((a, b) => a + b, 0),
        dropped,
        queue_depth: s.queue_size,
        points_queued: pointsQueued,
        points_refused: refusedPoints,
        ...(block ? { flush_waiting_for_room: flushWaiting } : {}),
        ...(keptInLog > 0 ? { points_kept_in_log: keptInLog } : {}),
        ...(disk !== undefined
          ? {
              storage: 'disk',
              queue_bytes: disk.size(),
              queue_max_bytes: disk.capacity(),
              queue_entries: disk.entries(),
              queue_resumed_entries: disk.resumed,
              ...(wal?.status() ?? {}),
              wal_checkpoint_failures: checkpointFailures,
              wal_last_checkpoint_error: lastCheckpointError,
              wal_last_checkpoint_error_time: iso(lastCheckpointErrorTime),
            }
          : {}),
        next_flush: iso(nextFlush),
        last_flush: iso(lastFlush),
        flushes,
        series: acc.seriesCount(),
        accumulator: { ...acc.counters },
        ...(adapter.status?.() ?? {}),
      };
    },
  };
  return exporter;
}
