/**
 * The exporter helper (the Collector's exporterhelper): an exporter supplies
 * only `push` (encode and send one batch); the helper adds the per-attempt
 * timeout, retries with backoff, the sending queue, counters, status and
 * health, and a shutdown that drains within its deadline.
 *
 * consume():
 * - queue enabled: resolves once the batch is queued; rejects RefusedError
 *   (503) when the queue is full or the exporter is shut down. What the
 *   background consumers then fail to deliver is counted as dropped, by
 *   reason: "permanent", "retries_exhausted", "queue_full" (drop_oldest),
 *   "shutdown", and "partial_success" for points the backend rejected.
 * - queue disabled: sends (with retries) before resolving; rejects with the
 *   PermanentError for a permanent failure (receivers answer 400) and with a
 *   RefusedError when retries ran out or shutdown cut them short (receivers
 *   answer 503 and the client retries). The caller owns those failures, so
 *   they count as `failed` here, not dropped.
 */
import { setMaxListeners } from 'node:events';
import type { Exporter, Host, CreateSettings, Signal } from '../component.js';
import { PermanentError, RefusedError } from '../errors.js';
import { RateLimitedLog } from '../ratelimitedlog.js';
import type { ExporterTelemetry } from '../telemetry.js';
import { queueOptions, retryOptions, type QueueConfig, type RetryConfig } from './config.js';
import { MemoryQueue, type DropHandler, type SendQueue } from './queue.js';
import { RetriesExhaustedError, SendAbortedError, errorReason, safeMessage, sendWithRetry, type RetryOptions } from './retry.js';

/** What `push` may return: how many of the batch's items the backend rejected (partial success); they are not retried. */
export interface PushResult {
  rejected?: number;
  /** the backend's explanation (logged, never put in status) */
  message?: string;
}

export interface ExporterHelperOptions<T> {
  signal: Signal;
  /** items in a batch (data points or events): the unit of every counter */
  countItems(data: T): number;
  /** send one batch once; throw PermanentError/PermanentSendError for permanent failures, anything else is retried */
  push(data: T, signal: AbortSignal): Promise<void | PushResult>;
  /** open connections/files; must return quickly */
  start?(host: Host): Promise<void>;
  /** release what start() opened; called once, after the queue drained — also when start() was never called */
  shutdown?(deadline: AbortSignal): Promise<void>;
  /** milliseconds per attempt; 0 = none (default 5000) */
  timeout?: number;
  retry?: Partial<RetryConfig>;
  /** `{ enabled: false }` for synchronous exporters */
  queue?: Partial<QueueConfig>;
  /**
   * Build the sending queue instead of the in-memory one (the persistent disk
   * queue of the push stores). A queue with `persistent: true` keeps what a
   * shutdown cuts short, so those items are not counted dropped.
   */
  createQueue?(onDrop: DropHandler<QueueItem<T>>): SendQueue<QueueItem<T>> & { persistent?: boolean };
  /** host[:port] of the destination, shown in status (never a full URL: it may hold credentials) */
  endpoint?: string;
  /** extra fields for status() */
  status?(): Record<string, unknown>;
  /** consecutive permanent failures after which healthy() is false (default 5) */
  unhealthyAfter?: number;
  /**
   * Failing hard: healthy() is false while data waits (queued, or a send in
   * progress) and no send has succeeded for this long since the first failed
   * attempt (ms; push stores: `unhealthy_after_periods` × period). Undefined
   * or 0: only the other two grounds (retries exhausted, permanent failures).
   */
  unhealthyAfterMs?: number;
  /** for tests: jitter source and clock */
  random?: () => number;
  now?: () => number;
}

export interface ExporterStatus {
  signal: Signal;
  /** items delivered */
  sent: number;
  /** items of failed send attempts (a batch retried 3 times counts 3 times) */
  failed: number;
  /** items refused at consume() because the queue was full or the exporter shut down */
  refused: number;
  /** items given up on, by reason */
  dropped: Record<string, number>;
  queue_enabled: boolean;
  queue_size: number;
  queue_capacity: number;
  /** ISO time of the last successful send */
  last_success: string | null;
  /** the last failure: status code, reason and endpoint host only */
  last_error: string | null;
  last_error_time: string | null;
  /** batches in a row that ended in failure (permanent, retries exhausted) */
  consecutive_failures: number;
  /** ISO time of the first failed attempt since the last success (null: the last attempt succeeded, or none failed) */
  failing_since?: string | null;
  [extra: string]: unknown;
}

export interface HelperExporter<T> extends Exporter<T> {
  status(): ExporterStatus;
  healthy(): boolean;
}

/** What the sending queue holds: a batch and its item count. */
export interface QueueItem<T> {
  data: T;
  n: number;
}
type Item<T> = QueueItem<T>;

type Outcome = { ok: true } | { ok: false; kind: 'permanent' | 'exhausted' | 'aborted'; err: unknown };

const LOG_EVERY_MS = 10_000;

class ExporterHelper<T> implements HelperExporter<T> {
  private readonly set: CreateSettings;
  private readonly o: ExporterHelperOptions<T>;
  private readonly tel: ExporterTelemetry;
  private readonly retry: RetryOptions;
  private readonly queue: SendQueue<Item<T>> | undefined;
  private readonly persistent: boolean = false;
  private readonly sizer: 'requests' | 'items';
  private readonly now: () => number;
  private readonly abortSync = new AbortController();
  private readonly inflight = new Set<Promise<unknown>>();
  private startCalled = false;
  private closed = false;
  private shutdownP: Promise<void> | undefined;

  private sent = 0;
  private failed = 0;
  private refused = 0;
  private readonly dropped: Record<string, number> = {};
  private lastSuccess: number | null = null;
  private lastError: string | null = null;
  private lastErrorTime: number | null = null;
  private consecutiveFailures = 0;
  private permanentStreak = 0;
  private exhausted = false;
  /** warnings a user must act on (a store failing, drops), per kind at most one per LOG_EVERY_MS */
  private readonly warnings: RateLimitedLog;
  /** first failed attempt since the last success (ms), null when none */
  private failingSince: number | null = null;
  /** sends in progress (a batch being tried or retried) */
  private sending = 0;

  constructor(set: CreateSettings, opts: ExporterHelperOptions<T>) {
    this.set = set;
    this.o = opts;
    this.now = opts.now ?? Date.now;
    this.tel = set.telemetry.exporter(set.id, opts.signal);
    this.warnings = new RateLimitedLog(set.logger, { intervalMs: LOG_EVERY_MS, now: this.now });
    setMaxListeners(0, this.abortSync.signal); // one listener per send in flight
    this.retry = { ...retryOptions(opts.retry, opts.timeout ?? 5_000) };
    if (opts.random !== undefined) this.retry.random = opts.random;
    if (opts.now !== undefined) this.retry.now = opts.now;
    const q = queueOptions(opts.queue);
    this.sizer = q.sizer;
    if (q.enabled) {
      const onDrop: DropHandler<Item<T>> = (item, _size, reason) => this.drop(item.n, reason);
      const queue = opts.createQueue !== undefined ? opts.createQueue(onDrop) : new MemoryQueue<Item<T>>(q, onDrop);
      this.persistent = (queue as { persistent?: boolean }).persistent === true;
      this.queue = queue;
      const attrs = { exporter: set.id, signal: opts.signal };
      set.telemetry.gauge(
        'metricport_exporter_queue_size',
        "Units (requests or items, see sending_queue.sizer) waiting in an exporter's sending queue",
        attrs,
        () => queue.size(),
      );
      set.telemetry.gauge('metricport_exporter_queue_capacity', "Capacity of an exporter's sending queue", attrs, () => queue.capacity());
    }
  }

  async start(host: Host): Promise<void> {
    if (this.startCalled || this.closed) return;
    this.startCalled = true;
    if (this.o.start !== undefined) await this.o.start(host);
    this.queue?.start((item, signal) => this.send(item, signal).then(() => undefined));
  }

  async consume(data: T): Promise<void> {
    const n = this.count(data);
    if (this.closed) {
      this.refused += n;
      throw new RefusedError(`exporter ${this.set.id} is shut down`, { status: 503 });
    }
    if (this.queue !== undefined) {
      const size = this.sizer === 'items' ? Math.max(1, n) : 1;
      const ok = await this.queue.offer({ data, n }, size);
      if (!ok) {
        this.refused += n;
        throw new RefusedError(
          this.closed ? `exporter ${this.set.id} is shut down` : `sending queue of exporter ${this.set.id} is full (${this.queue.capacity()} ${this.sizer})`,
          { status: 503, retryAfterSeconds: 1 },
        );
      }
      return;
    }
    const p = this.send({ data, n }, this.abortSync.signal);
    this.inflight.add(p);
    let out: Outcome;
    try {
      out = await p;
    } finally {
      this.inflight.delete(p);
    }
    if (out.ok) return;
    if (out.kind === 'permanent') throw out.err;
    if (out.kind === 'aborted') throw new RefusedError(`exporter ${this.set.id} is shutting down`, { status: 503, cause: out.err });
    const ra = out.err instanceof RetriesExhaustedError ? out.err.retryAfterMs : undefined;
    throw new RefusedError(`exporter ${this.set.id} could not send: ${safeMessage(out.err)}`, {
      status: 503,
      retryAfterSeconds: ra !== undefined ? Math.max(1, Math.ceil(ra / 1000)) : 1,
      cause: out.err,
    });
  }

  private count(data: T): number {
    try {
      const n = this.o.countItems(data);
      return Number.isFinite(n) && n > 0 ? n : 0;
    } catch {
      return 0;
    }
  }

  private drop(n: number, reason: string): void {
    if (n <= 0) return;
    this.tel.dropped(n, reason);
    this.dropped[reason] = (this.dropped[reason] ?? 0) + n;
  }

  private noteError(err: unknown): void {
    this.lastError = safeMessage(err);
    this.lastErrorTime = this.now();
    this.failingSince ??= this.lastErrorTime;
  }

  /** A rate-limited warning naming the exporter (`key`: one budget per kind of problem); fields never carry a secret. */
  private logFailure(key: string, msg: string, fields: Record<string, unknown>): void {
    this.warnings.warn(key, { exporter: this.set.id, signal: this.o.signal, ...fields }, msg);
  }

  /** Send one batch with retries and account for it. Never rejects. */
  private async send(item: Item<T>, abort: AbortSignal): Promise<Outcome> {
    const { data, n } = item;
    const queued = this.queue !== undefined;
    const box: { result?: void | PushResult } = {};
    const push = async (signal: AbortSignal): Promise<void> => {
      box.result = await this.o.push(data, signal);
    };
    const opts: RetryOptions = {
      ...this.retry,
      onAttemptFailed: (err, info) => {
        if (abort.aborted) return;
        this.failed += n;
        try {
          this.tel.failed(n, errorReason(err));
        } catch {
          /* never */
        }
        this.noteError(err);
        if (info.willRetry) {
          try {
            this.set.logger.debug(
              { exporter: this.set.id, attempt: info.attempt, retry_in_ms: info.delayMs, error: safeMessage(err) },
              'send failed, will retry',
            );
          } catch {
            /* never */
          }
          this.logFailure('retrying', 'send failed; retrying (the data waits in the queue)', {
            attempt: info.attempt,
            retry_in_ms: info.delayMs,
            error: safeMessage(err),
          });
        }
      },
    };
    this.sending++;
    try {
      await sendWithRetry(push, opts, abort);
    } catch (err) {
      const kind: 'permanent' | 'exhausted' | 'aborted' =
        err instanceof SendAbortedError ? 'aborted' : err instanceof PermanentError ? 'permanent' : 'exhausted';
      if (kind === 'aborted') {
        if (queued && !this.persistent) this.drop(n, 'shutdown');
        return { ok: false, kind, err };
      }
      this.consecutiveFailures++;
      if (kind === 'permanent') this.permanentStreak++;
      else this.exhausted = true;
      this.noteError(err);
      const reason = kind === 'permanent' ? 'permanent' : 'retries_exhausted';
      if (queued) this.drop(n, reason);
      this.logFailure(reason, queued ? `dropping ${n} items: ${reason}` : `send failed: ${reason}`, { items: n, reason, error: safeMessage(err) });
      return { ok: false, kind, err };
    } finally {
      this.sending--;
    }
    const result = box.result;
    let rejected = 0;
    if (result !== undefined && result !== null && typeof result === 'object' && typeof result.rejected === 'number' && result.rejected > 0) {
      rejected = Math.min(n, Math.floor(result.rejected));
    }
    if (n - rejected > 0) {
      this.sent += n - rejected;
      this.tel.sent(n - rejected);
    }
    if (rejected > 0) {
      this.drop(rejected, 'partial_success');
      const msg = typeof result === 'object' && typeof result?.message === 'string' ? result.message.slice(0, 200) : '';
      this.logFailure('partial_success', 'backend rejected part of a batch (partial success)', { rejected, message: msg });
    }
    this.lastSuccess = this.now();
    this.failingSince = null;
    this.consecutiveFailures = 0;
    this.permanentStreak = 0;
    this.exhausted = false;
    return { ok: true };
  }

  shutdown(deadline: AbortSignal): Promise<void> {
    if (this.shutdownP === undefined) this.shutdownP = this.doShutdown(deadline);
    return this.shutdownP;
  }

  private async doShutdown(deadline: AbortSignal): Promise<void> {
    this.closed = true;
    try {
      if (this.queue !== undefined) await this.queue.drain(deadline);
      if (this.inflight.size > 0 && !deadline.aborted) {
        let onAbort: () => void = () => undefined;
        const aborted = new Promise<void>((resolve) => {
          onAbort = resolve;
          deadline.addEventListener('abort', onAbort, { once: true });
        });
        await Promise.race([Promise.allSettled([...this.inflight]), aborted]);
        deadline.removeEventListener('abort', onAbort);
      }
      this.abortSync.abort(new Error('exporter shut down'));
      if (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
      if (this.o.shutdown !== undefined) await this.o.shutdown(deadline);
    } catch (err) {
      try {
        this.set.logger.error({ exporter: this.set.id, error: safeMessage(err) }, 'exporter shutdown failed');
      } catch {
        /* never */
      }
    }
  }

  healthy(): boolean {
    return !this.exhausted && this.permanentStreak < (this.o.unhealthyAfter ?? 5) && !this.failingHard();
  }

  /** Data waits and nothing has been delivered for `unhealthyAfterMs` since the first failure. */
  private failingHard(): boolean {
    const after = this.o.unhealthyAfterMs ?? 0;
    if (after <= 0 || this.failingSince === null) return false;
    const waiting = this.sending > 0 || (this.queue?.size() ?? 0) > 0;
    return waiting && this.now() - this.failingSince >= after;
  }

  status(): ExporterStatus {
    const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());
    const base: ExporterStatus = {
      signal: this.o.signal,
      sent: this.sent,
      failed: this.failed,
      refused: this.refused,
      dropped: { ...this.dropped },
      queue_enabled: this.queue !== undefined,
      queue_size: this.queue?.size() ?? 0,
      queue_capacity: this.queue?.capacity() ?? 0,
      last_success: iso(this.lastSuccess),
      last_error: this.lastError,
      last_error_time: iso(this.lastErrorTime),
      consecutive_failures: this.consecutiveFailures,
      failing_since: iso(this.failingSince),
    };
    if (this.o.endpoint !== undefined) base.endpoint = this.o.endpoint;
    if (this.o.status !== undefined) {
      try {
        Object.assign(base, this.o.status());
      } catch {
        /* never */
      }
    }
    return base;
  }
}

/** Wrap an exporter's `push` with timeout, retry, queue, counters and status. Allocates only; start() starts the consumers. */
export function createExporter<T>(set: CreateSettings, opts: ExporterHelperOptions<T>): HelperExporter<T> {
  return new ExporterHelper<T>(set, opts);
}
