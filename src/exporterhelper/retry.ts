/**
 * Send with retries: exponential backoff with jitter (the Collector's
 * retry_sender and cenkalti/backoff defaults), a time limit per attempt, a
 * server's Retry-After honoured, permanent errors never retried, and an abort
 * signal (the shutdown deadline) that stops everything at once.
 *
 * Errors a `push` throws are classified with `isRetryable()` from errors.ts:
 * PermanentError (and PermanentSendError) are final; anything else is retried.
 */
import { PermanentError, RefusedError, isRetryable } from '../errors.js';

export interface RetryOptions {
  /** false: one attempt only; a retryable failure ends as RetriesExhaustedError */
  enabled: boolean;
  initialIntervalMs: number;
  maxIntervalMs: number;
  /** give up when the next attempt would start later than this after the first one; 0 = no limit */
  maxElapsedMs: number;
  multiplier: number;
  /** each wait is drawn from interval × [1 − f, 1 + f] */
  randomizationFactor: number;
  /** time limit of one attempt; 0 = none */
  timeoutMs: number;
  /** for tests: a source of [0, 1) numbers (default Math.random) */
  random?: () => number;
  /** for tests: the clock in milliseconds (default Date.now) */
  now?: () => number;
  /** called after each failed attempt; `delayMs` is the wait before the next one when there is one */
  onAttemptFailed?: (err: unknown, info: { attempt: number; willRetry: boolean; delayMs?: number }) => void;
}

/** A failure worth retrying: network error, timeout, HTTP 429/502/503/504. The message must hold no secrets. */
export class RetryableSendError extends Error {
  /** HTTP (or other protocol) status, when there is one */
  status?: number;
  /** the backend asked to wait this long before the next attempt (Retry-After) */
  retryAfterMs?: number;
  /** short, low-cardinality reason for telemetry, e.g. "http_503", "network", "timeout" */
  reason: string;
  constructor(message: string, opts: { status?: number; retryAfterMs?: number; reason?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'RetryableSendError';
    if (opts.status !== undefined) this.status = opts.status;
    if (opts.retryAfterMs !== undefined) this.retryAfterMs = opts.retryAfterMs;
    this.reason = opts.reason ?? (opts.status !== undefined ? `http_${opts.status}` : 'error');
  }
}

/** A failure that will never succeed (HTTP 400, 401, 413, 500, an unencodable batch). Not retried. No secrets in the message. */
export class PermanentSendError extends PermanentError {
  status?: number;
  reason: string;
  constructor(message: string, opts: { status?: number; reason?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'PermanentSendError';
    if (opts.status !== undefined) this.status = opts.status;
    this.reason = opts.reason ?? (opts.status !== undefined ? `http_${opts.status}` : 'permanent');
  }
}

/** One attempt ran past its time limit (retryable). */
export class SendTimeoutError extends RetryableSendError {
  constructor(timeoutMs: number) {
    super(`send attempt timed out after ${timeoutMs} ms`, { reason: 'timeout' });
    this.name = 'SendTimeoutError';
  }
}

/** Retryable failures until max_elapsed_time (or retries disabled). `cause` is the last failure. */
export class RetriesExhaustedError extends Error {
  readonly attempts: number;
  readonly reason = 'retries_exhausted';
  /** the last Retry-After the backend gave, if any */
  readonly retryAfterMs?: number;
  constructor(attempts: number, last: unknown, retryAfterMs?: number) {
    super(`giving up after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${safeMessage(last)}`, { cause: last });
    this.name = 'RetriesExhaustedError';
    this.attempts = attempts;
    if (retryAfterMs !== undefined) this.retryAfterMs = retryAfterMs;
  }
}

/** The abort signal (shutdown deadline) fired before the data could be sent. `cause` is the last failure, if any. */
export class SendAbortedError extends Error {
  readonly attempts: number;
  readonly reason = 'shutdown';
  constructor(attempts: number, last?: unknown) {
    super(`send aborted after ${attempts} attempt${attempts === 1 ? '' : 's'}${last !== undefined ? `: ${safeMessage(last)}` : ''}`, { cause: last });
    this.name = 'SendAbortedError';
    this.attempts = attempts;
  }
}

/**
 * A message safe to show in logs and status: messages of our own error
 * classes (written without secrets), otherwise only the error's name and
 * system code (a foreign message may quote a URL with credentials).
 */
export function safeMessage(err: unknown): string {
  if (
    err instanceof RetryableSendError ||
    err instanceof PermanentError ||
    err instanceof RefusedError ||
    err instanceof RetriesExhaustedError ||
    err instanceof SendAbortedError
  )
    return err.message;
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${err.name} ${code}` : err.name;
  }
  return typeof err;
}

/** A short, low-cardinality reason for counters. */
export function errorReason(err: unknown): string {
  if (err instanceof RetryableSendError || err instanceof PermanentSendError || err instanceof RetriesExhaustedError || err instanceof SendAbortedError)
    return err.reason;
  if (err instanceof PermanentError) return 'permanent';
  if (err instanceof RefusedError) return 'refused';
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[A-Z0-9_]{2,40}$/.test(code) ? code.toLowerCase() : 'error';
}

/**
 * Parse an HTTP Retry-After value: delay-seconds or an HTTP-date.
 * Returns milliseconds from `now` (never negative), or undefined when absent or malformed.
 */
export function parseRetryAfter(header: string | null | undefined, now: number = Date.now()): number | undefined {
  if (header === null || header === undefined) return undefined;
  const h = header.trim();
  if (h === '') return undefined;
  if (/^\d+(?:\.\d+)?$/.test(h)) return Math.round(Number(h) * 1000);
  if (!/[A-Za-z]/.test(h)) return undefined;
  const t = Date.parse(h);
  if (!Number.isFinite(t)) return undefined;
  return Math.max(0, t - now);
}

/** Wait `ms`, resolving early with false when `abort` fires. The timer never keeps the process alive. */
function abortableSleep(ms: number, abort: AbortSignal): Promise<boolean> {
  if (abort.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(
      () => {
        abort.removeEventListener('abort', onAbort);
        resolve(true);
      },
      Math.max(0, ms),
    );
    timer.unref();
    abort.addEventListener('abort', onAbort, { once: true });
  });
}

/** One attempt with its own time limit; settles as soon as the time limit or `abort` fires, whether or not push listens. */
function attempt(push: (signal: AbortSignal) => Promise<void>, timeoutMs: number, abort: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const ctl = new AbortController();
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err?: unknown, failed = false): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      abort.removeEventListener('abort', onAbort);
      if (failed) reject(err);
      else resolve();
    };
    const onAbort = (): void => {
      ctl.abort(abort.reason);
      finish(abort.reason ?? new Error('aborted'), true);
    };
    abort.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs > 0) {
      timer = setTimeout(() => {
        const e = new SendTimeoutError(timeoutMs);
        ctl.abort(e);
        finish(e, true);
      }, timeoutMs);
      timer.unref();
    }
    let p: Promise<void>;
    try {
      p = Promise.resolve(push(ctl.signal));
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      () => finish(),
      (e: unknown) => finish(e ?? new Error('push failed'), true),
    );
  });
}

function retryAfterOf(err: unknown): number | undefined {
  if (err instanceof RetryableSendError) return err.retryAfterMs;
  if (err instanceof RefusedError) return err.retryAfterSeconds * 1000;
  return undefined;
}

/**
 * Call `push` until it succeeds, fails permanently, the retry budget runs out,
 * or `abort` fires. Resolves with the number of attempts made.
 *
 * Rejects with: the PermanentError itself; RetriesExhaustedError (retries
 * disabled, or the next attempt would start past max_elapsed_time, Retry-After
 * included); SendAbortedError (abort fired — waiting stops immediately).
 */
export async function sendWithRetry(push: (signal: AbortSignal) => Promise<void>, opts: RetryOptions, abort: AbortSignal): Promise<number> {
  const now = opts.now ?? Date.now;
  const random = opts.random ?? Math.random;
  const start = now();
  let interval = Math.max(0, opts.initialIntervalMs);
  let attempts = 0;
  let last: unknown;
  for (;;) {
    if (abort.aborted) throw new SendAbortedError(attempts, last);
    attempts++;
    try {
      await attempt(push, opts.timeoutMs, abort);
      return attempts;
    } catch (err) {
      if (abort.aborted) {
        opts.onAttemptFailed?.(err, { attempt: attempts, willRetry: false });
        throw new SendAbortedError(attempts, err === abort.reason ? last : err);
      }
      last = err;
      if (!isRetryable(err)) {
        opts.onAttemptFailed?.(err, { attempt: attempts, willRetry: false });
        throw err;
      }
      const retryAfter = retryAfterOf(err);
      if (!opts.enabled) {
        opts.onAttemptFailed?.(err, { attempt: attempts, willRetry: false });
        throw new RetriesExhaustedError(attempts, err, retryAfter);
      }
      const delta = opts.randomizationFactor * interval;
      let delay = interval - delta + random() * 2 * delta;
      interval = Math.min(interval * opts.multiplier, opts.maxIntervalMs);
      if (retryAfter !== undefined) delay = Math.max(delay, retryAfter);
      delay = Math.max(0, Math.round(delay));
      if (opts.maxElapsedMs > 0 && now() - start + delay > opts.maxElapsedMs) {
        opts.onAttemptFailed?.(err, { attempt: attempts, willRetry: false });
        throw new RetriesExhaustedError(attempts, err, retryAfter);
      }
      opts.onAttemptFailed?.(err, { attempt: attempts, willRetry: true, delayMs: delay });
      if (!(await abortableSleep(delay, abort))) throw new SendAbortedError(attempts, err);
    }
  }
}
