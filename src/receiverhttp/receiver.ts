/**
 * The receiver HTTP layer: everything an HTTP receiver does around its own
 * decoding, so that a receiver is its routes, its format and its mapping.
 * Used by otlp, errors, sentry, backtrace and datadog.
 *
 * - **listening**: routes on the shared listener of `cfg.endpoint`
 *   (src/httpserver.ts) with the receiver's `tls`, bearer `auth` and
 *   `rate_limit` (src/config/receiversecurity.ts); a method the route does
 *   not serve is answered 405 + `Allow` in the receiver's error shape;
 *   `shutdown()` releases the routes (safe twice);
 * - **an Exchange per request**: the memory limiter's 429 before anything is
 *   read, the body read under `max_request_body_size` with Content-Encoding
 *   undone (body.ts), UTF-8 text, the hand-off to the pipeline with
 *   RefusedError/PermanentError mapped to 429/503 + Retry-After or 400, and
 *   the answer: written once, counted (requests by path, status and bad-input
 *   reason; `responses` by status in the status API), a rate-limited debug
 *   line for bad input; an answer before the body is read drops the body
 *   (closing the connection when it is large or of unknown length);
 * - **auth failures** of the receiver's own keys or tokens (401/403,
 *   counted; a rate-limited warning for an unknown one, never the secret);
 * - **rate-limited logging** per reason.
 *
 *     class MyReceiver implements Receiver {
 *       private readonly http: HttpReceiver;
 *       constructor(set: CreateSettings, private readonly cfg: MyConfig, private readonly next: Consumer<EventBatch>) {
 *         this.http = new HttpReceiver(set, cfg, { name: 'my', errorBody: jsonError('error') });
 *       }
 *       start(): Promise<void> { return this.http.listen((r) => r.route('POST', '/v1/mine', (x) => this.handle(x))); }
 *       shutdown(deadline: AbortSignal): Promise<void> { return this.http.shutdown(deadline); }
 *       status() { return this.http.status({ path: '/v1/mine' }); }
 *       private async handle(x: Exchange): Promise<void> {
 *         if (x.refuseOverMemory()) return;
 *         const body = await x.body(this.cfg.max_request_body_size);
 *         if (body === undefined) return;                      // answered (413, 400, ...)
 *         const events = decodeMine(body);                     // your format
 *         if (events === undefined) { x.fail(400, 'not a report', 'malformed_json'); return; }
 *         if (!(await x.consume(this.next, { events }, events.length, 'events'))) return; // answered 429/503/400
 *         x.json(200, '{}');
 *       }
 *     }
 *
 * Handlers may be async; a throw or rejection is logged (rate-limited) and
 * answered 500 once.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Consumer, CreateSettings } from '../component.js';
import { listenReceiver, receiverGuard, securityStatus, type ReceiverSecurityConfig } from '../config/receiversecurity.js';
import type { RequestGuard } from '../config/security.js';
import { isRetryable, RefusedError } from '../errors.js';
import type { BoundAddress, RouteHandler, SharedServer } from '../httpserver.js';
import type { Logger } from '../logger.js';
import { discardBody, memoryLimiter } from '../memorylimiter.js';
import { RateLimitedLog } from '../ratelimitedlog.js';
import type { ReceiverTelemetry, Telemetry } from '../telemetry.js';
import { ABORTED, decodeBody, readBody, skipBody, utf8Bytes, utf8Text } from './body.js';
import { Cors, type CorsConfig } from './cors.js';
import { parseContentEncoding, type BodyEncoding } from './negotiate.js';

/** At most one log line per reason this often (never one per request); what users must fix: RateLimitedLog's interval. */
const LOG_INTERVAL_MS = 10_000;

export interface ErrorPayload {
  contentType: string;
  body: string | Uint8Array;
}

export interface HttpReceiverOptions {
  /** the receiver kind in log lines ("bad <name> request") */
  name: string;
  /** the body of an error answer, in the format the request negotiated (`Exchange.format`) */
  errorBody(status: number, message: string, format: string): ErrorPayload;
  /** the answer format a request asks for (OTLP: json or proto by Content-Type); default 'json' */
  format?: (req: IncomingMessage) => string;
  /** where the listener's keys sit under `receivers.<id>.` in messages ('' = top level; otlp: 'protocols.http.') */
  configPrefix?: string;
  /** status for a Content-Encoding that cannot be undone (default 400, as the Collector) */
  unsupportedEncodingStatus?: number;
  /** how the memory limiter's and the pipeline's refusals are answered */
  refusal?: {
    /**
     * always this status for a retryable downstream failure (SDKs that back off on 429 only);
     * default: a RefusedError's own 429/503, 503 + `Retry-After: 1` for any other retryable failure
     */
    status?: number;
    /** this message instead of the error's */
    message?: string;
    /** the lowest Retry-After, seconds (default 0) */
    minRetryAfter?: number;
    /** headers beside Retry-After on every refusal (e.g. X-Sentry-Rate-Limits) */
    headers?: (retryAfter: string) => Record<string, string>;
  };
  /** count 401/403 of the receiver's own keys or tokens (`auth_failures`, metricport_receiver_auth_failures) */
  authFailures?: boolean;
  /** register the receiver's own gauges; called once, at the first start */
  gauges?: (telemetry: Telemetry, attrs: { receiver: string }) => void;
  /**
   * CORS for browsers (cors.ts): OPTIONS preflights on every route, a request
   * from an origin not allowed refused 403 (`cors_origin`), an allowed one's
   * answers carrying Access-Control-Allow-Origin. Absent: no CORS handling.
   */
  cors?: CorsConfig;
}

/** errorBody for receivers answering `{"<field>": message}` */
export function jsonError(field: string): HttpReceiverOptions['errorBody'] {
  return (_status, message) => ({ contentType: 'application/json', body: JSON.stringify({ [field]: message }) });
}

export type ExchangeHandler = (x: Exchange) => void | Promise<void>;

/** Route registration on the shared listener (HttpReceiver.listen). */
export interface Routes {
  /** serve `method` on `path`; another method there is answered 405 with Allow */
  route(method: string, path: string, handle: ExchangeHandler): void;
  /** serve `method` on every path `pattern` matches; `name` is the route in counters and messages (e.g. `/api/{project}/envelope/`) */
  routePattern(method: string, name: string, pattern: RegExp, handle: ExchangeHandler): void;
}

const enum BodyState {
  Unread,
  Reading,
  Done,
}

/** One request: read, answer, count. */
export class Exchange {
  /** what the request negotiated for answers (errorBody's `format`) */
  format: string;
  /** the request's Content-Encoding, once `body()` read it */
  encoding: BodyEncoding = 'identity';
  readonly t0 = performance.now();
  /** CORS headers every answer to an allowed Origin carries */
  corsHeaders: OutgoingHttpHeaders | undefined;
  private state = BodyState.Unread;

  constructor(
    readonly http: HttpReceiver,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly path: string,
  ) {
    this.format = http.opts.format?.(req) ?? 'json';
  }

  /** Above the memory limiter's soft limit: answered 429 + Retry-After (body discarded unread); true when refused. */
  refuseOverMemory(): boolean {
    const over = memoryLimiter.refusal();
    if (over === undefined) return false;
    discardBody(this.req, this.res);
    this.state = BodyState.Done;
    this.http.refuse(this, 429, over.message, over.retryAfterSeconds, 'memory_limit');
    return true;
  }

  /**
   * The body, read under `max` bytes with its Content-Encoding undone (the
   * decompressed size under `max` too). On failure it is answered (413
   * too_large, 400 decompression_failed, the unsupported-encoding status, or
   * nothing when the client went away) and undefined is returned.
   */
  async body(max: number): Promise<Buffer | undefined> {
    const ce = parseContentEncoding(this.req.headers['content-encoding']);
    if ('error' in ce) {
      this.fail(this.http.opts.unsupportedEncodingStatus ?? 400, ce.error, 'unsupported_encoding');
      return undefined;
    }
    this.encoding = ce.encoding;
    this.state = BodyState.Reading;
    const raw = await readBody(this.req, this.res, max);
    this.state = BodyState.Done;
    if (raw === ABORTED) return undefined;
    if (!raw.ok) {
      this.fail(raw.status, raw.error, raw.reason);
      return undefined;
    }
    const dec = await decodeBody(raw.body, ce.encoding, max);
    if (!dec.ok) {
      this.fail(dec.status, dec.error, dec.reason);
      return undefined;
    }
    return dec.body;
  }

  /** The body as UTF-8 text (BOM dropped); invalid UTF-8 is answered 400 naming the byte offset, and undefined returned. */
  text(body: Buffer): string | undefined {
    const t = utf8Text(body, this.encoding === 'identity' ? '' : ' of the decompressed body');
    if (t.ok) return t.text;
    this.fail(t.status, t.error, t.reason);
    return undefined;
  }

  /** As text(), but the checked body stays bytes (BOM dropped), for parsers that decode it in pieces. */
  utf8(body: Buffer): Buffer | undefined {
    const t = utf8Bytes(body, this.encoding === 'identity' ? '' : ' of the decompressed body');
    if (t.ok) return t.body;
    this.fail(t.status, t.error, t.reason);
    return undefined;
  }

  /**
   * Hand `data` (`n` items of `signal`) to the pipeline: true when accepted
   * (counted). Otherwise answered and counted: a permanent error 400
   * `permanent` (rejected), a refusal or any retryable failure 429/503 with
   * Retry-After `refused` (see HttpReceiverOptions.refusal).
   */
  async consume<T>(consumer: Consumer<T>, data: T, n: number, signal: string): Promise<boolean> {
    try {
      await consumer.consume(data);
    } catch (err) {
      this.http.downstreamFailed(this, n, signal, err);
      return false;
    }
    this.http.tel.accepted(n, signal);
    return true;
  }

  /** 401 (no key or token) or 403 (an unknown one) for the receiver's own auth: counted in auth_failures; a 403 is also warned about (rate-limited, never the secret) */
  authFailed(status: 401 | 403, message: string): void {
    this.http.authFailures++;
    if (status === 403) this.http.warnUnknownCredential(message);
    this.fail(status, message, status === 401 ? 'unauthorized' : 'forbidden');
  }

  /** An error answer in the receiver's shape (errorBody), counted under `reason`. */
  fail(status: number, message: string, reason?: string, headers?: OutgoingHttpHeaders): void {
    const p = this.http.opts.errorBody(status, message, this.format);
    this.answer(status, p.contentType, p.body, reason, headers, message);
  }

  /** A JSON answer (success, or a custom error body with `reason` and `message` for the debug line). */
  json(status: number, text: string, reason?: string, message?: string): void {
    this.answer(status, 'application/json', text, reason, undefined, message);
  }

  /** Write an answer with these headers beside Content-Type and Content-Length. */
  answer(status: number, contentType: string, body: string | Uint8Array, reason?: string, headers?: OutgoingHttpHeaders, message?: string): void {
    const len = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    const h: OutgoingHttpHeaders = { 'Content-Type': contentType, 'Content-Length': String(len) };
    if (headers !== undefined) Object.assign(h, headers);
    this.reply(status, h, body, reason, message);
  }

  /**
   * Write status, headers and body once (nothing when an answer went out or
   * the client is gone) and count it; before the body was read, the body is
   * dropped. A bad-input `reason` also gets the rate-limited debug line.
   */
  reply(status: number, headers: OutgoingHttpHeaders, body?: string | Uint8Array, reason?: string, message?: string): void {
    if (this.state === BodyState.Unread) {
      this.state = BodyState.Done;
      skipBody(this.req, this.res);
    }
    const res = this.res;
    if (this.corsHeaders !== undefined) headers = { ...headers, ...this.corsHeaders };
    if (!res.headersSent && !res.destroyed) {
      res.writeHead(status, headers);
      res.end(body);
    }
    this.http.count(status, this.t0, this.path, reason);
    if (reason !== undefined && reason !== 'refused' && reason !== 'memory_limit') {
      this.http.log(reason, 'debug', { status, path: this.path, message }, `bad ${this.http.opts.name} request`);
    }
  }
}

/** One HTTP receiver's listener, counters and log. */
export class HttpReceiver {
  readonly id: string;
  readonly logger: Logger;
  readonly tel: ReceiverTelemetry;
  readonly guard: RequestGuard;
  /** 401/403 of the receiver's own keys or tokens (with options.authFailures) */
  authFailures = 0;
  /** requests refused for an Origin not in cors.allowed_origins (preflights included) */
  corsRefused = 0;
  /** preflights answered 204 */
  corsPreflights = 0;
  private readonly cors: Cors | undefined;
  private readonly byStatus: Record<string, number> = {};
  private readonly logs: RateLimitedLog;
  private readonly warnings: RateLimitedLog;
  private readonly telemetry: Telemetry;
  private lease: SharedServer | undefined;
  private stopped = false;
  private gaugesRegistered = false;

  constructor(
    set: CreateSettings,
    private readonly cfg: ReceiverSecurityConfig & { endpoint: string },
    readonly opts: HttpReceiverOptions,
  ) {
    this.id = set.id;
    this.logger = set.logger;
    this.telemetry = set.telemetry;
    this.tel = set.telemetry.receiver(set.id, 'http');
    this.guard = receiverGuard(cfg);
    this.logs = new RateLimitedLog(set.logger, { intervalMs: LOG_INTERVAL_MS });
    this.warnings = new RateLimitedLog(set.logger);
    this.cors = opts.cors === undefined ? undefined : new Cors(opts.cors);
  }

  /** Lease the shared listener (TLS, guard), mount the routes, listen; MP_START_FAILED naming the receiver on failure. No-op when listening or shut down. */
  async listen(mount: (routes: Routes) => void): Promise<void> {
    if (this.lease !== undefined || this.stopped) return;
    if (!this.gaugesRegistered) {
      this.gaugesRegistered = true;
      const attrs = { receiver: this.id };
      if (this.opts.authFailures === true)
        this.telemetry.gauge(
          'metricport_receiver_auth_failures',
          'Requests refused for a missing (401) or unknown (403) key or token, cumulative',
          attrs,
          () => this.authFailures,
        );
      this.opts.gauges?.(this.telemetry, attrs);
    }
    const lease = await listenReceiver(
      this.id,
      this.cfg,
      this.guard,
      this.logger,
      (l) =>
        mount({
          route: (method, path, handle) => {
            l.route(method, path, this.handler(path, handle), this.wrongMethod(path));
            if (this.cors !== undefined) l.route('OPTIONS', path, this.preflight(path), this.wrongMethod(path));
          },
          routePattern: (method, name, pattern, handle) => {
            l.routePattern(method, name, pattern, this.handler(name, handle), this.wrongMethod(name));
            if (this.cors !== undefined) l.routePattern('OPTIONS', name, pattern, this.preflight(name), this.wrongMethod(name));
          },
        }),
      this.opts.configPrefix,
    );
    // shut down while the bind was under way: let go at once
    if (this.stopped) {
      await lease.release(AbortSignal.abort());
      return;
    }
    this.lease = lease;
  }

  /** Unmount the routes (the last lease closes the listener, in-flight requests finish until `deadline`); safe twice. */
  async shutdown(deadline: AbortSignal): Promise<void> {
    this.stopped = true;
    const lease = this.lease;
    this.lease = undefined;
    if (lease !== undefined) await lease.release(deadline);
  }

  /** The address the listener is bound to (port 0 resolved), once started. */
  address(): BoundAddress | undefined {
    return this.lease?.address();
  }

  /** `host:port` listened on, or null (status). */
  listening(): string | null {
    const a = this.address();
    return a === undefined ? null : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
  }

  /** tls, auth, rate_limit and guard counters for the status (no secret). */
  security(): ReturnType<typeof securityStatus> {
    return securityStatus(this.cfg, this.guard);
  }

  /** The status: endpoint, listening, the receiver's `fields`, security (tls, auth, rate_limit, guard), counters (with `extraCounters`). */
  status(fields: Record<string, unknown>, extraCounters?: Record<string, unknown>): Record<string, unknown> {
    return { endpoint: this.cfg.endpoint, listening: this.listening(), ...fields, ...this.security(), counters: this.counters(extraCounters) };
  }

  /** The status counters: telemetry totals, auth_failures (when counted), the receiver's `extra`, responses by status. */
  counters(extra?: Record<string, unknown>): Record<string, unknown> {
    return {
      ...this.tel.totals(),
      ...(this.opts.authFailures === true ? { auth_failures: this.authFailures } : {}),
      ...(this.cors !== undefined ? { cors_refused: this.corsRefused, cors_preflights: this.corsPreflights } : {}),
      ...extra,
      responses: { ...this.byStatus },
    };
  }

  /** At most one line per `reason` every LOG_INTERVAL_MS (with the count of those suppressed), naming the receiver and the reason. */
  log(reason: string, level: 'debug' | 'warn' | 'error', fields: Record<string, unknown>, msg: string): void {
    this.logs.log(level, reason, { receiver: this.id, reason, ...fields }, msg);
  }

  /** @internal one answered request */
  count(status: number, t0: number, path: string, reason: string | undefined): void {
    this.tel.request(status, (performance.now() - t0) / 1000, path, reason);
    const k = String(status);
    this.byStatus[k] = (this.byStatus[k] ?? 0) + 1;
  }

  /** @internal a 429/503 with Retry-After (and the receiver's refusal headers) */
  refuse(x: Exchange, status: number, message: string, retryAfterSeconds: number, reason: 'memory_limit' | 'refused'): void {
    const o = this.opts.refusal;
    const min = o?.minRetryAfter ?? 0;
    const s = String(Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0 ? Math.max(min, Math.ceil(retryAfterSeconds)) : min);
    x.fail(status, message, reason, o?.headers === undefined ? { 'Retry-After': s } : { 'Retry-After': s, ...o.headers(s) });
  }

  /** @internal the pipeline did not take a request's data */
  downstreamFailed(x: Exchange, n: number, signal: string, err: unknown): void {
    if (!isRetryable(err)) {
      this.tel.rejected(n, signal);
      x.fail(400, err instanceof Error ? err.message : String(err), 'permanent');
      return;
    }
    this.tel.refused(n, signal);
    const o = this.opts.refusal;
    const refused = err instanceof RefusedError ? err : undefined;
    const status = o?.status ?? refused?.status ?? 503;
    if (refused === undefined) this.log('downstream_error', 'warn', { err }, `downstream failed; client told to retry (${status})`);
    this.refuse(
      x,
      status,
      o?.message ?? refused?.message ?? 'the pipeline cannot accept data right now; retry later',
      refused?.retryAfterSeconds ?? 1,
      'refused',
    );
  }

  /** @internal a request with an unknown key or token: a warning (RateLimitedLog's interval) with what to fix, never the secret */
  warnUnknownCredential(message: string): void {
    this.warnings.warn(
      'unknown_credential',
      { receiver: this.id, status: 403, auth_failures: this.authFailures },
      `${this.opts.name} receiver ${this.id} refused a request: ${message}`,
    );
  }

  private handler(path: string, handle: ExchangeHandler): RouteHandler {
    return (req, res) => {
      const x = new Exchange(this, req, res, path);
      if (!this.corsAllowed(x)) return;
      let p: void | Promise<void>;
      try {
        p = handle(x);
      } catch (err) {
        this.internalError(x, err);
        return;
      }
      if (p !== undefined) p.catch((err: unknown) => this.internalError(x, err));
    };
  }

  private wrongMethod(path: string): { onWrongMethod: (req: IncomingMessage, res: ServerResponse, allow: string) => void } {
    return {
      onWrongMethod: (req, res, allow) => {
        const x = new Exchange(this, req, res, path);
        if (this.cors !== undefined) {
          const c = this.cors.check(req);
          if (c.kind === 'allowed') x.corsHeaders = c.headers;
        }
        x.fail(405, `method ${req.method ?? ''} not allowed on ${path}; use ${allow}`, 'method_not_allowed', { Allow: allow });
      },
    };
  }

  /** With cors: a request from an Origin not allowed is answered 403 (false); an allowed one's answers get the CORS headers. */
  private corsAllowed(x: Exchange): boolean {
    if (this.cors === undefined) return true;
    const c = this.cors.check(x.req);
    if (c.kind === 'refused') {
      this.corsRefused++;
      const message = `origin ${JSON.stringify(c.origin.slice(0, 200))} is not in receivers.${this.id}.${this.opts.configPrefix ?? ''}cors.allowed_origins`;
      // a page of the user's own may be missing from the list: say so (rate-limited), naming the origin (never a secret)
      this.warnings.warn(
        'cors_origin',
        { receiver: this.id, status: 403, cors_refused: this.corsRefused },
        `${this.opts.name} receiver ${this.id} refused a browser request: ${message} (add it if the page is yours)`,
      );
      x.fail(403, message, 'cors_origin');
      return false;
    }
    if (c.kind === 'allowed') x.corsHeaders = c.headers;
    return true;
  }

  /** OPTIONS on a receiver path: a CORS preflight (204 or 403); without Origin, 204 with Allow. */
  private preflight(path: string): RouteHandler {
    return (req, res) => {
      const x = new Exchange(this, req, res, path);
      const cors = this.cors as Cors;
      const c = cors.check(req);
      if (c.kind === 'none') {
        x.reply(204, { Allow: 'POST, OPTIONS', 'Content-Length': '0' });
        return;
      }
      if (!this.corsAllowed(x)) return;
      const p = cors.preflight(req, x.corsHeaders ?? {});
      if (p.status === 403) {
        this.corsRefused++;
        x.corsHeaders = undefined;
        x.fail(403, p.message, 'cors_preflight');
        return;
      }
      this.corsPreflights++;
      x.corsHeaders = undefined;
      x.reply(204, p.headers);
    };
  }

  /** a bug on our side (bad input and downstream errors are answered where they happen): log, answer once, keep serving */
  private internalError(x: Exchange, err: unknown): void {
    this.log('internal_error', 'error', { err }, `${this.opts.name} request failed unexpectedly`);
    if (!x.res.headersSent) x.fail(500, 'internal error');
  }
}
