/**
 * The OTLP/HTTP receiver: POST /v1/metrics (→ metrics) and POST /v1/logs
 * (→ events), protobuf or JSON, identity/gzip/deflate, on a shared listener.
 *
 * Status codes (the response uses the request's encoding; JSON when unknown):
 *   200  accepted ({} / empty proto), or partial success with the rejected count
 *   400  undecodable body, invalid UTF-8, bad compression, unsupported
 *        Content-Encoding (as the Collector), or a permanent downstream error
 *   405  not POST (Allow: POST)      413  body over max_request_body_size
 *   415  unsupported Content-Type    429/503  downstream refused (Retry-After)
 * Never 500 for a retryable condition.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import type { Consumer, CreateSettings, Host, Receiver, Signal, SignalData } from '../../src/component.js';
import { isRetryable, MetricportError, PermanentError, RefusedError } from '../../src/errors.js';
import { acquireServer, type BoundAddress, type SharedServer, type TlsServerOptions } from '../../src/httpserver.js';
import { loadTlsOptions, RequestGuard } from '../../src/config/security.js';
import type { Logger } from '../../src/logger.js';
import { countPoints, type EventBatch, type MetricsBatch } from '../../src/model/index.js';
import type { ReceiverTelemetry } from '../../src/telemetry.js';
import { DecodeError } from '../../src/otlp/errors.js';
import type { DecodeLimits, DecodeResult } from '../../src/otlp/types.js';
import { decodeLogsJson, decodeMetricsJson, encodeExportResponseJson, encodeStatusJson } from '../../src/otlp/json.js';
import { decodeLogsProto, decodeMetricsProto, encodeExportResponseProto, encodeStatusProto } from '../../src/otlp/proto.js';
import { SEVERITY_NUMBER, type OtlpReceiverConfig } from './config.js';
import { discardBody, memoryLimiter } from '../../src/memorylimiter.js';
import type { Event } from '../../src/model/events.js';
import {
  ACCEPTED_CONTENT_TYPES, type BodyEncoding, type BodyFormat, invalidUtf8Offset, isGzip, isZlibWrapped,
  nowUnixNano, parseContentEncoding, parseContentType, summarizeErrors,
} from './negotiate.js';

/** google.rpc.Code values used in Status bodies */
const CODE_INVALID_ARGUMENT = 3;
const CODE_RESOURCE_EXHAUSTED = 8;
const CODE_UNAVAILABLE = 14;
const CODE_UNIMPLEMENTED = 12;

/** After a mid-stream 413 the rest of the body is read and dropped up to this much (so the client sees the answer), then the connection is cut. */
const DISCARD_CAP = 4 * 1024 * 1024;
/** Rate limit of the debug line about bad requests, per reason. */
const DEBUG_LOG_INTERVAL_MS = 10_000;

const JSON_HEADERS_200: OutgoingHttpHeaders = { 'Content-Type': 'application/json', 'Content-Length': '2' };
/** a string, so that Node sends headers and body in one write */
const JSON_BODY_200 = '{}';
const PROTO_HEADERS_200: OutgoingHttpHeaders = { 'Content-Type': 'application/x-protobuf', 'Content-Length': '0' };
const CONTENT_TYPE: Record<BodyFormat, string> = { json: 'application/json', proto: 'application/x-protobuf' };

export type BadReason =
  | 'malformed_json' | 'malformed_protobuf' | 'invalid_utf8' | 'unsupported_media_type' | 'unsupported_encoding'
  | 'too_large' | 'method_not_allowed' | 'decompression_failed' | 'refused' | 'permanent' | 'memory_limit';

interface RouteState {
  signal: Signal;
  path: string;
  consumer: Consumer<SignalData[Signal]>;
}

/** One request in flight (state for the body listeners, which take no closures). */
class Exchange {
  chunks: Buffer[] = [];
  size = 0;
  /** answered early (413): later chunks are dropped */
  answered = false;
  constructor(
    readonly rcv: OtlpReceiver,
    readonly route: RouteState,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly format: BodyFormat,
    readonly encoding: BodyEncoding,
    readonly t0: number,
    readonly arrivalNs: bigint,
  ) {}
}

const kExchange = Symbol('otlp.exchange');
type TaggedRequest = IncomingMessage & { [kExchange]?: Exchange };

function onData(this: TaggedRequest, chunk: Buffer): void {
  const x = this[kExchange] as Exchange;
  x.size += chunk.length;
  if (x.answered) {
    if (x.size > DISCARD_CAP + x.rcv.maxBody) this.socket?.destroy();
    return;
  }
  if (x.size > x.rcv.maxBody) {
    x.answered = true;
    x.chunks = [];
    x.rcv.tooLarge(x, `request body exceeds max_request_body_size (${x.rcv.maxBody} bytes)`);
    return;
  }
  x.chunks.push(chunk);
}

function onEnd(this: TaggedRequest): void {
  const x = this[kExchange] as Exchange;
  this[kExchange] = undefined;
  if (x.answered) return;
  const body = x.chunks.length === 1 ? (x.chunks[0] as Buffer) : Buffer.concat(x.chunks, x.size);
  x.chunks = [];
  void x.rcv.process(x, body);
}

function onReqError(this: TaggedRequest): void {
  // client went away mid-body: nothing to answer
  const x = this[kExchange];
  if (x !== undefined) { x.answered = true; x.chunks = []; }
}

function inflate(body: Buffer, encoding: BodyEncoding, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const cb = (err: Error | null, out: Buffer) => (err ? reject(err) : resolve(out));
    const opts = { maxOutputLength: max };
    if (encoding === 'gzip' || isGzip(body)) zlib.gunzip(body, opts, cb);
    else if (isZlibWrapped(body)) zlib.inflate(body, opts, cb);
    else zlib.inflateRaw(body, opts, cb);
  });
}

/**
 * A request answered before its body was read: Node drops the unread body to
 * keep the connection; ask for the connection to be closed instead when that
 * body is large or of unknown length.
 */
function closeUnlessSmall(req: IncomingMessage, res: ServerResponse): void {
  const cl = req.headers['content-length'];
  if (cl === undefined ? req.headers['transfer-encoding'] !== undefined : Number(cl) > DISCARD_CAP) res.shouldKeepAlive = false;
}

function retryAfter(seconds: number): string {
  return String(Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : 0);
}

export class OtlpReceiver implements Receiver {
  readonly maxBody: number;
  private readonly id: string;
  private readonly logger: Logger;
  private readonly tel: ReceiverTelemetry;
  private readonly limits: DecodeLimits;
  private readonly routes: RouteState[] = [];
  private readonly byStatus: Record<string, number> = {};
  private readonly lastDebug = new Map<string, number>();
  private lease: SharedServer | undefined;
  private stopped = false;
  /** lowest severity number kept (0 = every record) */
  private readonly minSeverity: number;
  private readonly keepExceptions: boolean;
  private filteredLogs = 0;

  private readonly guard: RequestGuard;

  constructor(set: CreateSettings, private readonly cfg: OtlpReceiverConfig, next: Partial<{ [S in Signal]: Consumer<SignalData[S]> }>) {
    this.guard = new RequestGuard(cfg.protocols.http.auth, cfg.protocols.http.rate_limit);
    this.id = set.id;
    this.logger = set.logger;
    this.tel = set.telemetry.receiver(set.id, 'http');
    this.maxBody = cfg.protocols.http.max_request_body_size;
    this.limits = {
      maxAttributes: cfg.limits.max_attributes,
      maxDepth: cfg.limits.max_depth,
      maxValueLength: cfg.limits.max_value_length,
    };
    this.minSeverity = SEVERITY_NUMBER[cfg.logs?.min_severity ?? 'ERROR'];
    this.keepExceptions = cfg.logs?.keep_exceptions ?? true;
    if (next.events !== undefined) {
      set.telemetry.gauge('metricport_receiver_filtered_log_records', 'Log records not turned into events (below logs.min_severity, no exception.* attribute), cumulative', { receiver: set.id }, () => this.filteredLogs);
    }
    if (next.metrics !== undefined) {
      this.routes.push({ signal: 'metrics', path: cfg.protocols.http.metrics_url_path, consumer: next.metrics as Consumer<SignalData[Signal]> });
    }
    if (next.events !== undefined) {
      this.routes.push({ signal: 'events', path: cfg.protocols.http.logs_url_path, consumer: next.events as Consumer<SignalData[Signal]> });
    }
  }

  async start(_host: Host): Promise<void> {
    if (this.lease !== undefined || this.stopped) return;
    const http = this.cfg.protocols.http;
    let tls: TlsServerOptions | undefined;
    try {
      tls = http.tls === undefined ? undefined : { options: loadTlsOptions(http.tls, `receivers.${this.id}.protocols.http.tls`), fingerprint: JSON.stringify(http.tls) };
    } catch (err) {
      throw new MetricportError('MP_START_FAILED', `receiver ${this.id}: ${(err as Error).message}`, { cause: err });
    }
    const lease = acquireServer(http.endpoint, this.logger, {
      owner: `receiver ${this.id}`,
      configKey: `receivers.${this.id}.protocols.http.endpoint`,
      ...(tls !== undefined ? { tls } : {}),
      guard: this.guard,
    });
    this.lease = lease;
    try {
      for (const r of this.routes) {
        lease.route('POST', r.path, (req, res) => this.handle(r, req, res), {
          onWrongMethod: (req, res, allow) => this.wrongMethod(r, req, res, allow),
        });
      }
      await lease.listen();
    } catch (err) {
      this.lease = undefined;
      await lease.release(AbortSignal.abort());
      throw new MetricportError('MP_START_FAILED', `receiver ${this.id}: ${(err as Error).message}`, { cause: err });
    }
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    this.stopped = true;
    const lease = this.lease;
    this.lease = undefined;
    if (lease !== undefined) await lease.release(deadline);
  }

  /** The address the listener is bound to (port 0 resolved), once started. */
  boundAddress(): BoundAddress | undefined {
    return this.lease?.address();
  }

  status(): Record<string, unknown> {
    const a = this.boundAddress();
    const paths: Record<string, string> = {};
    for (const r of this.routes) paths[r.signal] = r.path;
    return {
      endpoint: this.cfg.protocols.http.endpoint,
      listening: a === undefined ? null : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`,
      paths,
      max_request_body_size: this.maxBody,
      tls: this.cfg.protocols.http.tls === undefined ? false : (this.cfg.protocols.http.tls.client_ca_file !== '' ? 'mtls' : 'tls'),
      auth: (this.cfg.protocols.http.auth?.tokens.length ?? 0) > 0 ? 'bearer' : 'none',
      counters: { ...this.tel.totals(), ...this.guard.counters, filtered_log_records: this.filteredLogs, responses: { ...this.byStatus } },
      logs: { min_severity: this.cfg.logs?.min_severity ?? 'ERROR', keep_exceptions: this.keepExceptions },
    };
  }

  // ---- request path ------------------------------------------------------

  private handle(route: RouteState, req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    const arrivalNs = route.signal === 'events' ? nowUnixNano() : 0n;
    const h = req.headers;
    const ct = parseContentType(h['content-type']);
    // above the memory limiter's soft limit: refuse before the body is read or decoded
    const over = memoryLimiter.refusal();
    if (over !== undefined) {
      discardBody(req, res);
      this.fail(route, res, t0, 'error' in ct ? 'json' : ct.format, 429, CODE_UNAVAILABLE, over.message, 'memory_limit', retryAfter(over.retryAfterSeconds));
      return;
    }
    if ('error' in ct) {
      closeUnlessSmall(req, res);
      this.fail(route, res, t0, 'json', 415, CODE_INVALID_ARGUMENT, ct.error, 'unsupported_media_type');
      return;
    }
    const ce = parseContentEncoding(h['content-encoding']);
    if ('error' in ce) {
      closeUnlessSmall(req, res);
      this.fail(route, res, t0, ct.format, 400, CODE_INVALID_ARGUMENT, ce.error, 'unsupported_encoding');
      return;
    }
    const x = new Exchange(this, route, req, res, ct.format, ce.encoding, t0, arrivalNs);
    const cl = h['content-length'];
    if (cl !== undefined && Number(cl) > this.maxBody) {
      x.answered = true;
      // declared too large: answer without reading; keep the connection only when dropping the rest is cheap
      if (Number(cl) - this.maxBody > DISCARD_CAP) res.shouldKeepAlive = false;
      this.tooLarge(x, `request body of ${cl} bytes exceeds max_request_body_size (${this.maxBody} bytes)`);
      return;
    }
    (req as TaggedRequest)[kExchange] = x;
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onReqError);
  }

  /** @internal answered 413 (from the body listener or the Content-Length check) */
  tooLarge(x: Exchange, message: string): void {
    this.fail(x.route, x.res, x.t0, x.format, 413, CODE_RESOURCE_EXHAUSTED, message, 'too_large');
  }

  /** @internal the whole (raw) body is in: decompress, decode, hand on, answer */
  async process(x: Exchange, raw: Buffer): Promise<void> {
    try {
      await this.processBody(x, raw);
    } catch (err) {
      // a bug on our side (decoding and downstream errors are handled below): answer once, keep serving
      this.logRateLimited('internal_error', { err }, 'OTLP request failed unexpectedly', 'error');
      if (!x.res.headersSent) {
        this.write(x.res, 500, x.format, x.format === 'json' ? encodeStatusJson(13, 'internal error') : encodeStatusProto(13, 'internal error'), undefined);
        this.count(x.route, 500, x.t0, undefined);
      }
    }
  }

  private async processBody(x: Exchange, raw: Buffer): Promise<void> {
    const { route, format } = x;
    let body = raw;
    if (x.encoding !== 'identity' && raw.length > 0) {
      try {
        body = await inflate(raw, x.encoding, this.maxBody);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          this.tooLarge(x, `decompressed request body exceeds max_request_body_size (${this.maxBody} bytes)`);
        } else {
          this.fail(route, x.res, x.t0, format, 400, CODE_INVALID_ARGUMENT, `cannot decompress ${x.encoding} body: ${(err as Error).message}`, 'decompression_failed');
        }
        return;
      }
    }

    let result: DecodeResult<MetricsBatch> | DecodeResult<EventBatch>;
    if (format === 'json') {
      if (!isUtf8(body)) {
        const at = invalidUtf8Offset(body);
        const where = x.encoding === 'identity' ? '' : ' of the decompressed body';
        this.fail(route, x.res, x.t0, format, 400, CODE_INVALID_ARGUMENT, `invalid UTF-8 at byte offset ${at}${where}`, 'invalid_utf8');
        return;
      }
      let text = body.toString('utf8');
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      try {
        result = route.signal === 'metrics' ? decodeMetricsJson(text, this.limits) : decodeLogsJson(text, this.limits);
      } catch (err) {
        this.fail(route, x.res, x.t0, format, 400, CODE_INVALID_ARGUMENT, decodeMessage(err, 'JSON'), 'malformed_json');
        return;
      }
    } else {
      try {
        result = route.signal === 'metrics' ? decodeMetricsProto(body, this.limits) : decodeLogsProto(body, this.limits);
      } catch (err) {
        this.fail(route, x.res, x.t0, format, 400, CODE_INVALID_ARGUMENT, decodeMessage(err, 'protobuf'), 'malformed_protobuf');
        return;
      }
    }

    let n: number;
    if (route.signal === 'metrics') {
      n = countPoints(result.data as MetricsBatch);
    } else {
      const batch = result.data as EventBatch;
      if (this.minSeverity > 0) batch.events = this.keepErrors(batch.events);
      const events = batch.events;
      n = events.length;
      for (let i = 0; i < n; i++) {
        const e = events[i]!;
        if (e.timeUnixNano === 0n) e.timeUnixNano = x.arrivalNs;
      }
    }
    const rejected = result.rejected;
    if (rejected > 0) this.tel.rejected(rejected, route.signal);

    if (n > 0) {
      try {
        await route.consumer.consume(result.data);
      } catch (err) {
        this.downstreamFailed(x, n, err);
        return;
      }
      this.tel.accepted(n, route.signal);
    }

    if (rejected === 0) {
      const res = x.res;
      if (format === 'json') { res.writeHead(200, JSON_HEADERS_200); res.end(JSON_BODY_200); }
      else { res.writeHead(200, PROTO_HEADERS_200); res.end(); }
      this.count(route, 200, x.t0, undefined);
      return;
    }
    const msg = summarizeErrors(result.errors);
    const signal = route.signal === 'metrics' ? 'metrics' : 'events';
    const payload = format === 'json' ? encodeExportResponseJson(signal, rejected, msg) : encodeExportResponseProto(signal, rejected, msg);
    this.write(x.res, 200, format, payload, undefined);
    this.count(route, 200, x.t0, undefined);
  }

  /** Records with severity ≥ logs.min_severity, or (keep_exceptions) an exception.* attribute; the rest counted. */
  private keepErrors(events: Event[]): Event[] {
    let out: Event[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const sev = e.attributes['log.severity_number'];
      let keep = typeof sev === 'number' && sev >= this.minSeverity;
      if (!keep && this.keepExceptions) {
        for (const k in e.attributes) if (k.startsWith('exception.')) { keep = true; break; }
      }
      if (keep) { out?.push(e); continue; }
      if (out === undefined) out = events.slice(0, i);
      this.filteredLogs++;
    }
    return out ?? events;
  }

  private downstreamFailed(x: Exchange, n: number, err: unknown): void {
    const { route, format } = x;
    if (err instanceof RefusedError) {
      this.tel.refused(n, route.signal);
      this.fail(route, x.res, x.t0, format, err.status, CODE_UNAVAILABLE, err.message, 'refused', retryAfter(err.retryAfterSeconds));
    } else if (!isRetryable(err)) {
      this.tel.rejected(n, route.signal);
      const msg = err instanceof Error ? err.message : String(err);
      this.fail(route, x.res, x.t0, format, 400, CODE_INVALID_ARGUMENT, msg, 'permanent');
    } else {
      this.tel.refused(n, route.signal);
      this.logRateLimited('downstream_error', { err }, 'downstream failed; client told to retry (503)', 'warn');
      this.fail(route, x.res, x.t0, format, 503, CODE_UNAVAILABLE, 'the pipeline cannot accept data right now; retry later', 'refused', '1');
    }
  }

  private wrongMethod(route: RouteState, req: IncomingMessage, res: ServerResponse, allow: string): void {
    const t0 = performance.now();
    const ct = parseContentType(req.headers['content-type']);
    const format = 'error' in ct ? 'json' : ct.format;
    const message = `method ${req.method ?? ''} not allowed on ${route.path}; use ${allow}`;
    this.fail(route, res, t0, format, 405, CODE_UNIMPLEMENTED, message, 'method_not_allowed', undefined, allow);
  }

  private fail(
    route: RouteState, res: ServerResponse, t0: number, format: BodyFormat, status: number, code: number,
    message: string, reason: BadReason, retryAfterValue?: string, allow?: string,
  ): void {
    const payload = format === 'json' ? encodeStatusJson(code, message) : encodeStatusProto(code, message);
    const extra: OutgoingHttpHeaders | undefined = retryAfterValue !== undefined ? { 'Retry-After': retryAfterValue } : allow !== undefined ? { Allow: allow } : undefined;
    this.write(res, status, format, payload, extra);
    this.count(route, status, t0, reason);
    if (reason !== 'refused' && reason !== 'memory_limit') this.logRateLimited(reason, { status, path: route.path, message }, 'bad OTLP request');
  }

  private write(res: ServerResponse, status: number, format: BodyFormat, payload: string | Uint8Array, extra: OutgoingHttpHeaders | undefined): void {
    if (res.headersSent || res.destroyed) return;
    const len = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    const headers: OutgoingHttpHeaders = { 'Content-Type': CONTENT_TYPE[format], 'Content-Length': String(len) };
    if (extra !== undefined) Object.assign(headers, extra);
    res.writeHead(status, headers);
    res.end(payload);
  }

  private count(route: RouteState, status: number, t0: number, reason: BadReason | undefined): void {
    this.tel.request(status, (performance.now() - t0) / 1000, route.path, reason);
    const k = String(status);
    this.byStatus[k] = (this.byStatus[k] ?? 0) + 1;
  }

  /** At most one line per reason every 10 s (never one per request). */
  private logRateLimited(reason: string, obj: Record<string, unknown>, msg: string, level: 'debug' | 'warn' | 'error' = 'debug'): void {
    const now = Date.now();
    const last = this.lastDebug.get(reason);
    if (last !== undefined && now - last < DEBUG_LOG_INTERVAL_MS) return;
    this.lastDebug.set(reason, now);
    this.logger[level]({ receiver: this.id, reason, ...obj }, msg);
  }
}

function decodeMessage(err: unknown, what: string): string {
  if (err instanceof DecodeError) return err.message;
  const m = err instanceof Error ? err.message : String(err);
  return `cannot decode ${what} request: ${m}`;
}

export { ACCEPTED_CONTENT_TYPES };
