/**
 * The forge poller: catches each environment up from its watermark to
 * `now − delay` in windows of at most 15 minutes, one API call per window,
 * through the shared rate limiter, with backoff on 429 / QueryError 429 / 5xx /
 * timeouts / network errors; hands each window's resourceMetrics to the sink
 * and moves the watermark only once the sink's promise resolved.
 *
 * Time, the HTTP client, the limiter and the store are injected (tests drive
 * a virtual clock and a local GraphQL double).
 */
import { isRetryable } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { ReceiverTelemetry } from '../../src/telemetry.js';
import type { Clock } from './clock.js';
import { MAX_HISTORY_MS } from './config.js';
import { basicAuth, buildBody, buildHeaders, buildVariables, describeQueryError, parseAnswer, type QueryErrorInfo } from './graphql.js';
import type { CallRateLimiter } from './ratelimit.js';
import { isLeaseLost } from '../../src/cluster/api.js';
import { nextWindow, passStart, passTarget, type TimeWindow } from './windows.js';

export interface FetchResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}
export type FetchLike = (
  url: string,
  init: { method: 'POST'; headers: Record<string, string>; body: string; signal: AbortSignal },
) => Promise<FetchResponseLike>;

/** One window's data, as the gateway returned it. */
export interface FetchedWindow {
  environment: string;
  start: number;
  end: number;
  /** `{"resourceMetrics":[...]}`: the body a cron job POSTs to /v1/metrics */
  appMetricsJson: string;
}

export interface SinkResult {
  points?: number;
  rejected?: number;
}
/** Resolves once the data is accepted downstream; rejects with RefusedError (retry) or PermanentError (never), or InvalidDataError. */
export type Sink = (w: FetchedWindow) => Promise<SinkResult | void>;

/** The sink could not decode what the gateway sent: a bad answer, not a downstream refusal (the window is not skipped). */
export class InvalidDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidDataError';
  }
}

export interface PollerOptions {
  id: string;
  appId: string;
  environments: readonly string[];
  metrics: readonly string[];
  email: string;
  apiToken: string;
  endpoint: string;
  intervalMs: number;
  historyMs: number;
  delayMs: number;
  timeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  /** give up a window after this many failed attempts (the one-shot pull); unlimited when undefined */
  maxAttempts?: number;
}

/** Where the watermarks live: files in the state directory (watermark.ts), or the cluster's KV under a lease. */
export interface ForgeWatermarks {
  load(appId: string, environment: string, onProblem?: (message: string) => void): Promise<number | undefined>;
  save(appId: string, environment: string, ms: number, nowMs: number): Promise<void>;
}

export interface PollerDeps {
  clock: Clock;
  fetch: FetchLike;
  /** may be bound later with bindLimiter() (the receiver takes its shared limiter at start) */
  limiter?: CallRateLimiter;
  watermarks: ForgeWatermarks;
  /** run-once in a cluster: checked (lease valid, guarded keys unchanged) before each window goes downstream */
  guard?: { check(): Promise<void> };
  logger: Logger;
  sink: Sink;
  telemetry?: ReceiverTelemetry;
  /** [0, 1); jitter of backoffs */
  random?: () => number;
}

export type FailureKind = 'rate_limited' | 'http' | 'timeout' | 'network' | 'query_error' | 'graphql_errors' | 'invalid_response' | 'downstream' | 'state';

export interface Failure {
  kind: FailureKind;
  retryable: boolean;
  message: string;
  httpStatus?: number;
  retryAfterMs?: number;
  queryError?: QueryErrorInfo;
}

export interface LastError {
  at: string;
  kind: FailureKind;
  message: string;
  retryable: boolean;
  environment?: string;
  window?: { start: string; end: string };
  http_status?: number;
  identifier?: string | null;
  error_type?: string | null;
  status_code?: number | null;
}

/** A pass stopped: a non-retryable failure, attempts exhausted, or shutdown. */
export class PassError extends Error {
  constructor(
    readonly failure: Failure,
    readonly aborted = false,
  ) {
    super(failure.message);
    this.name = 'PassError';
  }
}

export interface PassResult {
  windows: number;
  points: number;
  rejected: number;
  dropped: number;
  watermarks: Record<string, string | null>;
}

const ABORTED: Failure = { kind: 'state', retryable: false, message: 'shut down' };
const LOG_EVERY_MS = 60_000;

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Retry-After: seconds or an HTTP date; ms or undefined. */
function parseRetryAfter(v: string | null, nowMs: number): number | undefined {
  if (v === null || v.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Math.round(Number(v) * 1000);
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - nowMs);
}

export class ForgePoller {
  readonly counters = {
    passes: 0,
    calls: 0,
    windows_accepted: 0,
    windows_empty: 0,
    windows_dropped: 0,
    points_accepted: 0,
    points_rejected: 0,
    http_429: 0,
    http_5xx: 0,
    http_other: 0,
    query_errors: 0,
    graphql_errors: 0,
    timeouts: 0,
    network_errors: 0,
    invalid_responses: 0,
    downstream_refusals: 0,
    retries: 0,
    rate_limit_waits: 0,
    expired_windows_skipped: 0,
  };
  lastError: LastError | null = null;
  lastSuccessAt: number | null = null;
  /** what the poller is doing now (status) */
  phase: 'idle' | 'calling' | 'delivering' | 'backoff' | 'rate_limited' | 'waiting' | 'stopped' = 'idle';
  private readonly wm = new Map<string, number>();
  private loaded = false;
  private readonly auth: string;
  private readonly headers: Record<string, string>;
  private readonly secrets: string[];
  private readonly lastLog = new Map<string, number>();
  private readonly path: string;
  private failing = false;
  /** the last failure was one waiting will not fix, and nothing succeeded since */
  hardFailing = false;

  constructor(
    readonly opts: PollerOptions,
    private readonly deps: PollerDeps,
  ) {
    this.auth = basicAuth(opts.email, opts.apiToken);
    this.headers = buildHeaders(this.auth);
    this.secrets = [this.auth, this.auth.slice(6), opts.apiToken].filter((s) => s.length >= 4);
    let path = '/graphql';
    try {
      path = new URL(opts.endpoint).pathname;
    } catch {
      /* validated by the schema */
    }
    this.path = path;
  }

  bindLimiter(l: CallRateLimiter): void {
    this.deps.limiter = l;
  }

  /** A new lease in a cluster: watermarks from its store (read again), writes guarded by it. */
  useWatermarks(store: ForgeWatermarks, guard?: { check(): Promise<void> }): void {
    this.deps.watermarks = store;
    this.deps.guard = guard;
    this.wm.clear();
    this.loaded = false;
  }

  /** Remove the token (and the Basic credential) from any text we surface. */
  scrub(s: string): string {
    let out = s;
    for (const x of this.secrets) if (out.includes(x)) out = out.split(x).join('[REDACTED]');
    return out;
  }

  /** Stored watermarks (ms) per environment, loaded on first use. */
  async watermarks(): Promise<Map<string, number>> {
    if (!this.loaded) {
      for (const env of this.opts.environments) {
        if (this.wm.has(env)) continue;
        const w = await this.deps.watermarks.load(this.opts.appId, env, (m) => this.deps.logger.warn({ receiver: this.opts.id, environment: env }, m));
        if (w !== undefined) this.wm.set(env, w);
      }
      this.loaded = true;
    }
    return this.wm;
  }

  watermarkSnapshot(): Record<string, string | null> {
    const out: Record<string, string | null> = {};
    for (const env of this.opts.environments) {
      const w = this.wm.get(env);
      out[env] = w === undefined ? null : iso(w);
    }
    return out;
  }

  /**
   * Poll until `signal` aborts: a pass, then wait for the next tick (`interval`
   * after the previous pass began; at once when a catch-up took longer). Never rejects.
   */
  async run(signal: AbortSignal): Promise<void> {
    const clock = this.deps.clock;
    while (!signal.aborted) {
      const began = clock.now();
      try {
        await this.pass(signal);
      } catch (err) {
        if (!(err instanceof PassError))
          this.record({ kind: 'state', retryable: false, message: `internal error: ${(err as Error)?.message ?? String(err)}` }, undefined, undefined);
      }
      if (signal.aborted) break;
      this.phase = 'waiting';
      await clock.sleep(Math.max(0, began + this.opts.intervalMs - clock.now()), signal);
    }
    this.phase = 'stopped';
  }

  /**
   * One catch-up: every environment from its watermark to `now − delay`
   * (windows round-robin across environments, in order within each).
   * Rejects with PassError on a failure that waiting will not fix.
   */
  async pass(signal: AbortSignal, override?: { historyMs?: number }): Promise<PassResult> {
    const clock = this.deps.clock;
    const o = this.opts;
    this.counters.passes++;
    const result: PassResult = { windows: 0, points: 0, rejected: 0, dropped: 0, watermarks: {} };
    const wm = await this.watermarks();
    const now = clock.now();
    const target = passTarget(now, o.delayMs);
    const cursor = new Map<string, number>();
    for (const env of o.environments) {
      const { start, expiredMs } = passStart(wm.get(env), target, override?.historyMs ?? o.historyMs, now);
      if (expiredMs > 0) {
        this.counters.expired_windows_skipped += Math.ceil(expiredMs / 900_000);
        this.deps.logger.warn(
          { receiver: o.id, environment: env, watermark: iso(wm.get(env)!), resume_from: iso(start) },
          'watermark is older than the 14 days the API keeps; resuming at the oldest available minute (the span in between is lost)',
        );
      }
      if (!wm.has(env)) wm.set(env, start); // first start: remembered for this process until a window is accepted
      cursor.set(env, start);
    }
    let pending = true;
    while (pending) {
      pending = false;
      for (const env of o.environments) {
        const w = nextWindow(cursor.get(env)!, target);
        if (w === undefined) continue;
        pending = true;
        if (signal.aborted) throw new PassError(ABORTED, true);
        const r = await this.window(env, w, signal);
        cursor.set(env, w.end);
        result.windows++;
        result.points += r.points;
        result.rejected += r.rejected;
        if (r.dropped) result.dropped++;
      }
    }
    this.phase = 'idle';
    result.watermarks = this.watermarkSnapshot();
    const level = result.windows > 1 ? 'info' : 'debug';
    if (result.windows > 0)
      this.deps.logger[level](
        { receiver: o.id, windows: result.windows, points: result.points, rejected: result.rejected, watermarks: result.watermarks },
        'forge metrics caught up',
      );
    return result;
  }

  /** Fetch one window (retrying), deliver it (retrying), then move the watermark. */
  private async window(env: string, win: TimeWindow, signal: AbortSignal): Promise<{ points: number; rejected: number; dropped: boolean }> {
    const o = this.opts;
    const clock = this.deps.clock;
    let w = win;
    let attempt = 0;
    let json: string;
    for (;;) {
      if (signal.aborted) throw new PassError(ABORTED, true);
      // never ask for more than 14 days back (time passes while we wait)
      const floor = clock.now() - MAX_HISTORY_MS;
      if (w.start < floor) {
        const s = Math.ceil(floor / 60_000) * 60_000;
        if (s >= w.end) {
          this.counters.expired_windows_skipped++;
          await this.advance(env, w.end);
          return { points: 0, rejected: 0, dropped: true };
        }
        w = { start: s, end: w.end };
      }
      const r = await this.call(env, w, signal);
      if ('json' in r) {
        json = r.json;
        break;
      }
      this.record(r, env, w);
      if (!r.retryable) throw new PassError(r);
      attempt++;
      if (o.maxAttempts !== undefined && attempt >= o.maxAttempts) throw new PassError({ ...r, message: `${r.message} (gave up after ${attempt} attempts)` });
      this.counters.retries++;
      this.phase = 'backoff';
      await clock.sleep(this.backoff(attempt, r.retryAfterMs), signal);
    }

    attempt = 0;
    let points = 0;
    let rejected = 0;
    let dropped = false;
    for (;;) {
      if (signal.aborted) throw new PassError(ABORTED, true);
      // run-once: the lease is checked at the moment of handing data downstream, not only when it was acquired
      if (this.deps.guard !== undefined) {
        try {
          await this.deps.guard.check();
        } catch (err) {
          if (isLeaseLost(err)) throw new PassError(ABORTED, true);
          this.record({ kind: 'state', retryable: true, message: `cannot check the lease (will retry): ${(err as Error)?.message ?? String(err)}` }, env, w);
          attempt++;
          this.phase = 'backoff';
          await clock.sleep(this.backoff(attempt, undefined), signal);
          continue;
        }
      }
      this.phase = 'delivering';
      try {
        const res = await this.deps.sink({ environment: env, start: w.start, end: w.end, appMetricsJson: json });
        points = res?.points ?? 0;
        rejected = res?.rejected ?? 0;
        break;
      } catch (err) {
        if (err instanceof InvalidDataError) {
          const f: Failure = { kind: 'invalid_response', retryable: false, message: `the gateway's resourceMetrics cannot be decoded: ${err.message}` };
          this.counters.invalid_responses++;
          this.record(f, env, w);
          throw new PassError(f);
        }
        const msg = (err as Error)?.message ?? String(err);
        if (!isRetryable(err)) {
          // the pipeline can never take this window (as a 400 to a POST): count it, log it, move on
          dropped = true;
          this.counters.windows_dropped++;
          this.record({ kind: 'downstream', retryable: false, message: `downstream rejected the window permanently; it is skipped: ${msg}` }, env, w);
          break;
        }
        this.counters.downstream_refusals++;
        const f: Failure = {
          kind: 'downstream',
          retryable: true,
          message: `downstream refused the window (will retry): ${msg}`,
          retryAfterMs:
            (err as { retryAfterSeconds?: number }).retryAfterSeconds !== undefined
              ? (err as { retryAfterSeconds: number }).retryAfterSeconds * 1000
              : undefined,
        };
        this.record(f, env, w);
        attempt++;
        if (o.maxAttempts !== undefined && attempt >= o.maxAttempts) throw new PassError({ ...f, message: `${f.message} (gave up after ${attempt} attempts)` });
        this.counters.retries++;
        this.phase = 'backoff';
        await clock.sleep(this.backoff(attempt, f.retryAfterMs), signal);
      }
    }
    if (!dropped) {
      this.counters.windows_accepted++;
      if (points === 0) this.counters.windows_empty++;
      this.counters.points_accepted += points;
      this.counters.points_rejected += rejected;
    }
    await this.advance(env, w.end);
    this.lastSuccessAt = clock.now();
    this.hardFailing = false;
    if (this.failing) {
      this.failing = false;
      this.deps.logger.info({ receiver: o.id, environment: env }, 'forge metrics polling recovered');
    }
    return { points, rejected, dropped };
  }

  private async advance(env: string, end: number): Promise<void> {
    this.wm.set(env, end);
    // under a lease the shared watermark must move before the next window (a successor reads it): retry until it does or the lease is gone
    for (let attempt = 1; this.deps.guard !== undefined; attempt++) {
      try {
        await this.deps.watermarks.save(this.opts.appId, env, end, this.deps.clock.now());
        return;
      } catch (err) {
        if (isLeaseLost(err)) throw new PassError({ ...ABORTED, message: (err as Error).message }, true);
        this.record(
          { kind: 'state', retryable: true, message: `cannot write the watermark to the cluster KV (will retry): ${(err as Error)?.message ?? String(err)}` },
          env,
          undefined,
        );
        await this.deps.clock.sleep(this.backoff(attempt, undefined));
      }
    }
    try {
      await this.deps.watermarks.save(this.opts.appId, env, end, this.deps.clock.now());
    } catch (err) {
      // a successor holds the lease: this node stops here (the successor continues from the shared watermark)
      if (isLeaseLost(err)) throw new PassError({ ...ABORTED, message: (err as Error).message }, true);
      // in memory the watermark moved (no duplicates in this process); the file catches up on the next save
      const f: Failure = {
        kind: 'state',
        retryable: true,
        message: `cannot write the watermark: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      };
      this.record(f, env, undefined);
    }
  }

  private backoff(attempt: number, retryAfterMs: number | undefined): number {
    const o = this.opts;
    const base = Math.min(o.retryMaxMs, o.retryInitialMs * 2 ** Math.min(30, attempt - 1));
    const jittered = base * (0.8 + 0.4 * (this.deps.random ?? Math.random)());
    const ra = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, 15 * 60_000);
    return Math.round(Math.max(jittered, ra));
  }

  /** One API call for one window. */
  private async call(env: string, w: TimeWindow, signal: AbortSignal): Promise<{ json: string } | Failure> {
    const o = this.opts;
    const clock = this.deps.clock;
    this.phase = 'rate_limited';
    const limiter = this.deps.limiter;
    if (limiter === undefined) throw new Error('forge poller has no rate limiter bound');
    const waited = await limiter.acquire(signal);
    if (waited < 0 || signal.aborted) throw new PassError(ABORTED, true);
    if (waited > 0) this.counters.rate_limit_waits++;
    this.phase = 'calling';
    this.counters.calls++;
    const body = buildBody(buildVariables(o.appId, env, w.start, w.end, o.metrics));
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = clock.setTimer(() => {
      timedOut = true;
      ac.abort();
    }, o.timeoutMs);
    const t0 = performance.now();
    const tel = this.deps.telemetry;
    try {
      const res = await this.deps.fetch(o.endpoint, { method: 'POST', headers: this.headers, body, signal: ac.signal });
      const text = await res.text();
      const status = res.status;
      const secs = (performance.now() - t0) / 1000;
      if (status === 429) {
        this.counters.http_429++;
        tel?.request(status, secs, this.path, 'rate_limited');
        return {
          kind: 'rate_limited',
          retryable: true,
          httpStatus: 429,
          message: 'the gateway answered HTTP 429 (rate limited)',
          retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), clock.now()),
        };
      }
      if (status >= 500) {
        this.counters.http_5xx++;
        tel?.request(status, secs, this.path, 'server_error');
        return {
          kind: 'http',
          retryable: true,
          httpStatus: status,
          message: `the gateway answered HTTP ${status}: ${this.snippet(text)}`,
          retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), clock.now()),
        };
      }
      if (status < 200 || status > 299) {
        this.counters.http_other++;
        tel?.request(status, secs, this.path, 'http_error');
        const hint = status === 401 || status === 403 ? ' (check email and api_token, and that this account owns the app)' : '';
        return { kind: 'http', retryable: false, httpStatus: status, message: `the gateway answered HTTP ${status}${hint}: ${this.snippet(text)}` };
      }
      const a = parseAnswer(text);
      switch (a.kind) {
        case 'data':
          tel?.request(status, secs, this.path, undefined);
          if (a.graphqlErrors.length > 0) {
            this.counters.graphql_errors++;
            this.record(
              { kind: 'graphql_errors', retryable: false, message: `GraphQL errors alongside data (data kept): ${this.scrub(a.graphqlErrors.join(' | '))}` },
              env,
              w,
            );
          }
          return { json: a.appMetricsJson };
        case 'query_error': {
          this.counters.query_errors++;
          tel?.request(status, secs, this.path, 'query_error');
          const sc = (x: string | null): string | null => (x === null ? null : this.scrub(x));
          const qe = { ...a.error, message: this.scrub(a.error.message), identifier: sc(a.error.identifier), errorType: sc(a.error.errorType) };
          const retryAfterMs = a.error.statusCode === 429 ? parseRetryAfter(res.headers.get('retry-after'), clock.now()) : undefined;
          return { kind: 'query_error', retryable: a.retryable, message: this.scrub(describeQueryError(qe)), queryError: qe, retryAfterMs };
        }
        case 'graphql_errors':
          this.counters.graphql_errors++;
          tel?.request(status, secs, this.path, 'graphql_errors');
          return { kind: 'graphql_errors', retryable: a.retryable, message: this.scrub(`GraphQL errors: ${a.messages.join(' | ')}`) };
        case 'invalid':
          this.counters.invalid_responses++;
          tel?.request(status, secs, this.path, 'invalid_response');
          return { kind: 'invalid_response', retryable: false, message: this.scrub(a.message) };
      }
    } catch (err) {
      if (signal.aborted) throw new PassError(ABORTED, true);
      const secs = (performance.now() - t0) / 1000;
      if (timedOut) {
        this.counters.timeouts++;
        tel?.request(0, secs, this.path, 'timeout');
        return { kind: 'timeout', retryable: true, message: `the gateway did not answer within ${o.timeoutMs} ms` };
      }
      this.counters.network_errors++;
      tel?.request(0, secs, this.path, 'network_error');
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const detail = e.cause?.code ?? e.cause?.message ?? e.message;
      return { kind: 'network', retryable: true, message: this.scrub(`cannot reach ${o.endpoint}: ${detail}`) };
    } finally {
      clock.clearTimer(timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  private snippet(text: string): string {
    const t = text.replace(/\s+/g, ' ').trim();
    return this.scrub(t.length > 300 ? `${t.slice(0, 300)}…` : t === '' ? '(empty body)' : t);
  }

  /** Keep the failure for status(); log it at most once a minute per kind. */
  private record(f: Failure, env: string | undefined, w: TimeWindow | undefined): void {
    const now = this.deps.clock.now();
    const message = this.scrub(f.message);
    this.lastError = {
      at: iso(now),
      kind: f.kind,
      message,
      retryable: f.retryable,
      ...(env !== undefined ? { environment: env } : {}),
      ...(w !== undefined ? { window: { start: iso(w.start), end: iso(w.end) } } : {}),
      ...(f.httpStatus !== undefined ? { http_status: f.httpStatus } : {}),
      ...(f.queryError !== undefined ? { identifier: f.queryError.identifier, error_type: f.queryError.errorType, status_code: f.queryError.statusCode } : {}),
    };
    this.failing = true;
    if (!f.retryable) this.hardFailing = true;
    const last = this.lastLog.get(f.kind);
    if (last !== undefined && now - last < LOG_EVERY_MS) return;
    this.lastLog.set(f.kind, now);
    this.deps.logger.warn({ receiver: this.opts.id, ...this.lastError }, 'forge metrics API call failed');
  }
}
