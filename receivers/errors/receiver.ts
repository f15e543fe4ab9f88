/**
 * The `errors` receiver: POST /v1/errors with a JSON object, a JSON array or
 * NDJSON of error events (receivers/errors/parse.ts), on the shared HTTP
 * listener (src/httpserver.ts), so it can share the otlp receiver's endpoint.
 *
 * Answers (always JSON):
 *   200 {"accepted": n, "rejected": m, "errors": [{"index", "line"?, "reason"}]}
 *       when at least one event could be read (rejected events listed, the first 100)
 *   400 {"accepted": 0, "rejected": m, "error": "...", "errors": [...]} when none could be read
 *   405 not POST   413 body too large   415 unsupported Content-Type
 *   429/503 downstream refused (Retry-After)
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import type { Consumer, CreateSettings, Host, Receiver, Signal, SignalData } from '../../src/component.js';
import { isRetryable, RefusedError } from '../../src/errors.js';
import { receiverGuard, listenReceiver, securityStatus } from '../../src/config/receiversecurity.js';
import type { RequestGuard } from '../../src/config/security.js';
import type { BoundAddress, SharedServer } from '../../src/httpserver.js';
import type { Logger } from '../../src/logger.js';
import type { EventBatch } from '../../src/model/index.js';
import type { ReceiverTelemetry } from '../../src/telemetry.js';
import { invalidUtf8Offset, isGzip, isZlibWrapped, nowUnixNano, parseContentEncoding, type BodyEncoding } from '../otlp/negotiate.js';
import type { ErrorsReceiverConfig } from './config.js';
import { discardBody, memoryLimiter } from '../../src/memorylimiter.js';
import { parseErrorsBody, type ParseLimits } from './parse.js';

const LOG_INTERVAL_MS = 10_000;
const DISCARD_CAP = 4 * 1024 * 1024;
export const ACCEPTED_TYPES = 'application/json, application/x-ndjson (or application/jsonl, text/plain)';

type Format = 'json' | 'ndjson';

/** Content-Type → body format; undefined = unsupported. A missing Content-Type is sniffed as JSON/NDJSON. */
export function errorsContentType(h: string | undefined): Format | undefined {
  if (h === undefined || h === '') return 'json';
  const media = (h.indexOf(';') < 0 ? h : h.slice(0, h.indexOf(';'))).trim().toLowerCase();
  switch (media) {
    case 'application/json': return 'json';
    case 'application/x-ndjson': case 'application/ndjson': case 'application/jsonl': case 'application/x-jsonlines': case 'application/jsonlines': case 'text/plain':
      return 'ndjson';
    default: return undefined;
  }
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

export class ErrorsReceiver implements Receiver {
  private readonly id: string;
  private readonly logger: Logger;
  private readonly tel: ReceiverTelemetry;
  private readonly limits: ParseLimits;
  private readonly byStatus: Record<string, number> = {};
  private readonly lastLog = new Map<string, number>();
  private lease: SharedServer | undefined;
  private stopped = false;
  private readonly guard: RequestGuard;

  constructor(set: CreateSettings, private readonly cfg: ErrorsReceiverConfig, private readonly next: Consumer<EventBatch> | undefined) {
    this.id = set.id;
    this.logger = set.logger;
    this.tel = set.telemetry.receiver(set.id, 'http');
    this.guard = receiverGuard(cfg);
    this.limits = { maxEvents: cfg.max_events_per_request, maxAttributes: cfg.max_attributes, maxValueLength: cfg.max_value_length, maxKeyLength: cfg.max_key_length };
  }

  async start(_host: Host): Promise<void> {
    if (this.lease !== undefined || this.stopped || this.next === undefined) return;
    this.lease = await listenReceiver(this.id, this.cfg, this.guard, this.logger, (lease) => {
      lease.route('POST', this.cfg.url_path, (req, res) => this.handle(req, res), {
        onWrongMethod: (_req, res, allow) => this.answer(res, performance.now(), 405, { error: `method not allowed on ${this.cfg.url_path}; use ${allow}` }, 'method_not_allowed', { Allow: allow }),
      });
    });
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    this.stopped = true;
    const lease = this.lease;
    this.lease = undefined;
    if (lease !== undefined) await lease.release(deadline);
  }

  boundAddress(): BoundAddress | undefined { return this.lease?.address(); }

  status(): Record<string, unknown> {
    const a = this.boundAddress();
    return {
      endpoint: this.cfg.endpoint,
      listening: a === undefined ? null : `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`,
      path: this.cfg.url_path,
      ...securityStatus(this.cfg, this.guard),
      counters: { ...this.tel.totals(), responses: { ...this.byStatus } },
    };
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    const arrival = nowUnixNano();
    // above the memory limiter's soft limit: refuse before the body is read or parsed
    const over = memoryLimiter.refusal();
    if (over !== undefined) {
      discardBody(req, res);
      this.answer(res, t0, 429, { error: over.message }, 'memory_limit', { 'Retry-After': String(Math.max(1, Math.ceil(over.retryAfterSeconds))) });
      return;
    }
    const format = errorsContentType(req.headers['content-type']);
    if (format === undefined) {
      res.shouldKeepAlive = false;
      this.answer(res, t0, 415, { error: `unsupported Content-Type ${JSON.stringify(req.headers['content-type'])}; send ${ACCEPTED_TYPES}` }, 'unsupported_media_type');
      return;
    }
    const ce = parseContentEncoding(req.headers['content-encoding']);
    if ('error' in ce) {
      res.shouldKeepAlive = false;
      this.answer(res, t0, 400, { error: ce.error }, 'unsupported_encoding');
      return;
    }
    const max = this.cfg.max_request_body_size;
    const cl = req.headers['content-length'];
    if (cl !== undefined && Number(cl) > max) {
      if (Number(cl) - max > DISCARD_CAP) res.shouldKeepAlive = false;
      this.answer(res, t0, 413, { error: `request body of ${cl} bytes exceeds max_request_body_size (${max} bytes)` }, 'too_large');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (done) { if (size > max + DISCARD_CAP) req.socket?.destroy(); return; }
      if (size > max) {
        done = true;
        chunks.length = 0;
        this.answer(res, t0, 413, { error: `request body exceeds max_request_body_size (${max} bytes)` }, 'too_large');
        return;
      }
      chunks.push(c);
    });
    req.on('error', () => { done = true; });
    req.on('end', () => {
      if (done) return;
      done = true;
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      this.process(res, t0, arrival, body, format, ce.encoding).catch((err) => {
        this.log('internal_error', 'error', { err }, 'errors request failed unexpectedly');
        if (!res.headersSent) this.answer(res, t0, 500, { error: 'internal error' }, undefined);
      });
    });
  }

  private async process(res: ServerResponse, t0: number, arrival: bigint, raw: Buffer, format: Format, encoding: BodyEncoding): Promise<void> {
    const max = this.cfg.max_request_body_size;
    let body = raw;
    if (encoding !== 'identity' && raw.length > 0) {
      try {
        body = await inflate(raw, encoding, max);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') this.answer(res, t0, 413, { error: `decompressed request body exceeds max_request_body_size (${max} bytes)` }, 'too_large');
        else this.answer(res, t0, 400, { error: `cannot decompress ${encoding} body: ${(err as Error).message}` }, 'decompression_failed');
        return;
      }
    }
    if (!isUtf8(body)) {
      this.answer(res, t0, 400, { error: `invalid UTF-8 at byte offset ${invalidUtf8Offset(body)}` }, 'invalid_utf8');
      return;
    }
    let text = body.toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const r = parseErrorsBody(text, arrival, this.limits, format === 'ndjson');
    if (r.rejected > 0) this.tel.rejected(r.rejected, 'events');
    if (!r.readable || r.events.length === 0 && r.rejected === 0) {
      this.answer(res, t0, 400, { accepted: 0, rejected: r.rejected, error: r.error ?? 'no events', errors: r.rejections }, 'malformed_json');
      return;
    }
    const n = r.events.length;
    if (n > 0) {
      try {
        await this.next!.consume({ events: r.events });
      } catch (err) {
        if (err instanceof RefusedError) {
          this.tel.refused(n, 'events');
          this.answer(res, t0, err.status, { error: err.message }, 'refused', { 'Retry-After': String(Math.max(0, Math.ceil(err.retryAfterSeconds))) });
        } else if (!isRetryable(err)) {
          this.tel.rejected(n, 'events');
          this.answer(res, t0, 400, { error: err instanceof Error ? err.message : String(err) }, 'permanent');
        } else {
          this.tel.refused(n, 'events');
          this.log('downstream_error', 'warn', { err }, 'downstream failed; client told to retry (503)');
          this.answer(res, t0, 503, { error: 'the pipeline cannot accept data right now; retry later' }, 'refused', { 'Retry-After': '1' });
        }
        return;
      }
      this.tel.accepted(n, 'events');
    }
    if (r.rejected === 0) {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(`{"accepted":${n},"rejected":0}`)) });
      res.end(`{"accepted":${n},"rejected":0}`);
      this.count(200, t0, undefined, this.cfg.url_path);
      return;
    }
    this.answer(res, t0, 200, { accepted: n, rejected: r.rejected, errors: r.rejections, ...(r.rejected > r.rejections.length ? { errors_truncated: true } : {}) }, undefined);
  }

  private answer(res: ServerResponse, t0: number, status: number, body: Record<string, unknown>, reason: string | undefined, extra?: Record<string, string>): void {
    if (!res.headersSent && !res.destroyed) {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)), ...(extra ?? {}) });
      res.end(text);
    }
    this.count(status, t0, reason, this.cfg.url_path);
    if (reason !== undefined && reason !== 'refused' && reason !== 'memory_limit') this.log(reason, 'debug', { status, error: body.error }, 'bad errors request');
  }

  private count(status: number, t0: number, reason: string | undefined, path: string): void {
    this.tel.request(status, (performance.now() - t0) / 1000, path, reason);
    const k = String(status);
    this.byStatus[k] = (this.byStatus[k] ?? 0) + 1;
  }

  private log(reason: string, level: 'debug' | 'warn' | 'error', obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const last = this.lastLog.get(reason);
    if (last !== undefined && now - last < LOG_INTERVAL_MS) return;
    this.lastLog.set(reason, now);
    this.logger[level]({ receiver: this.id, reason, ...obj }, msg);
  }
}

export function createErrorsReceiver(set: CreateSettings, cfg: ErrorsReceiverConfig, next: Partial<{ [S in Signal]: Consumer<SignalData[S]> }>): ErrorsReceiver {
  return new ErrorsReceiver(set, cfg, next.events);
}
