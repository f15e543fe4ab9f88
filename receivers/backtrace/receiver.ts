/**
 * The `backtrace` receiver: what the unmodified Backtrace SDKs submit when
 * their url points at metricport (protocols.md §10).
 *
 *   POST /post?format=json&token=<token>       (@backtrace/node with `url` + `token`)
 *   POST /<universe>/<token>/json              (a submit.backtrace.io-style url)
 *
 * Body: the JSON report, or multipart/form-data with the report in part
 * `upload_file` (attachments such as breadcrumbs are skipped). No token → 401,
 * an unknown token → 403 (counted). Success is exactly `200` with a JSON
 * body (`{"response":"ok","_rxid":"<uuid>"}`): an empty 200 breaks the SDK.
 * A `uuid` seen within `dedupe.horizon` (the offline database resending) is
 * answered the same and counted as a duplicate, not passed on.
 * `annotations` (the app's whole `process.env`) are never read or logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Consumer, CreateSettings, Host, Receiver } from '../../src/component.js';
import { isRetryable, RefusedError } from '../../src/errors.js';
import { receiverGuard, listenReceiver, securityStatus } from '../../src/config/receiversecurity.js';
import type { RequestGuard } from '../../src/config/security.js';
import type { BoundAddress, SharedServer } from '../../src/httpserver.js';
import type { Logger } from '../../src/logger.js';
import type { EventBatch } from '../../src/model/index.js';
import type { ReceiverTelemetry } from '../../src/telemetry.js';
import { nowUnixNano } from '../otlp/negotiate.js';
import { SeenIds } from '../errorsdk/dedupe.js';
import { decodeBody, queryParam, readBody, sendJson } from '../errorsdk/http.js';
import { discardBody, memoryLimiter } from '../../src/memorylimiter.js';
import type { BacktraceReceiverConfig } from './config.js';
import { mapBacktraceReport, type BacktraceMapOptions } from './map.js';
import { findPart, multipartBoundary } from './multipart.js';

const LOG_INTERVAL_MS = 10_000;
const POST_ROUTE = '/post';
const TOKEN_ROUTE = '/{universe}/{token}/json';
const TOKEN_RE = /^\/[^/?#]+\/[^/?#]+\/json\/?$/;

export class BacktraceReceiver implements Receiver {
  private readonly id: string;
  private readonly logger: Logger;
  private readonly tel: ReceiverTelemetry;
  private readonly tokens = new Map<string, BacktraceMapOptions>();
  private readonly seen: SeenIds;
  private readonly byStatus: Record<string, number> = {};
  private readonly lastLog = new Map<string, number>();
  private authFailures = 0;
  private duplicates = 0;
  private multipart = 0;
  private lease: SharedServer | undefined;
  private stopped = false;
  private readonly guard: RequestGuard;
  private gaugesRegistered = false;

  constructor(private readonly set: CreateSettings, private readonly cfg: BacktraceReceiverConfig, private readonly next: Consumer<EventBatch> | undefined) {
    this.id = set.id;
    this.logger = set.logger;
    this.tel = set.telemetry.receiver(set.id, 'http');
    this.guard = receiverGuard(cfg);
    for (const t of cfg.tokens) this.tokens.set(t.token, { application: t.application === '' ? undefined : t.application, maxValueLength: cfg.max_value_length, maxAttributes: cfg.max_attributes });
    this.seen = new SeenIds(cfg.dedupe.horizon, cfg.dedupe.max_entries);
  }

  async start(_host: Host): Promise<void> {
    if (this.lease !== undefined || this.stopped || this.next === undefined) return;
    if (!this.gaugesRegistered) {
      this.gaugesRegistered = true;
      const attrs = { receiver: this.id };
      this.set.telemetry.gauge('metricport_receiver_auth_failures', 'Requests refused for a missing (401) or unknown (403) key or token, cumulative', attrs, () => this.authFailures);
      this.set.telemetry.gauge('metricport_backtrace_duplicate_reports', 'Reports whose uuid was already seen within dedupe.horizon (answered 200, not passed on), cumulative', attrs, () => this.duplicates);
      this.set.telemetry.gauge('metricport_backtrace_dedupe_entries', 'uuids remembered for deduplication', attrs, () => this.seen.size);
    }
    this.lease = await listenReceiver(this.id, this.cfg, this.guard, this.logger, (lease) => {
      const wrong = (route: string) => ({ onWrongMethod: (_req: IncomingMessage, res: ServerResponse, allow: string) => this.answer(res, performance.now(), route, 405, `method not allowed; use ${allow}`, 'method_not_allowed', { Allow: allow }) });
      lease.route('POST', POST_ROUTE, (req, res) => this.handle(req, res, POST_ROUTE, queryParam(req.url ?? '', 'token')), wrong(POST_ROUTE));
      lease.routePattern('POST', TOKEN_ROUTE, TOKEN_RE, (req, res) => this.handle(req, res, TOKEN_ROUTE, tokenFromPath(req.url ?? '')), wrong(TOKEN_ROUTE));
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
      paths: [POST_ROUTE, TOKEN_ROUTE],
      tokens: this.cfg.tokens.length,
      ...securityStatus(this.cfg, this.guard),
      counters: {
        ...this.tel.totals(), auth_failures: this.authFailures, duplicates: this.duplicates, multipart: this.multipart,
        dedupe_entries: this.seen.size, dedupe_evicted: this.seen.evicted, responses: { ...this.byStatus },
      },
    };
  }

  private handle(req: IncomingMessage, res: ServerResponse, route: string, token: string | undefined): void {
    const t0 = performance.now();
    // above the memory limiter's soft limit: refuse before the body is read
    const over = memoryLimiter.refusal();
    if (over !== undefined) {
      discardBody(req, res);
      this.answer(res, t0, route, 429, over.message, 'memory_limit', { 'Retry-After': String(Math.max(1, Math.ceil(over.retryAfterSeconds))) });
      return;
    }
    const format = queryParam(req.url ?? '', 'format');
    if (format !== undefined && format !== 'json') {
      req.resume();
      this.answer(res, t0, route, 400, `format ${JSON.stringify(format.slice(0, 32))} is not supported; only format=json reports are accepted`, 'unsupported_format');
      return;
    }
    if (token === undefined || token === '') {
      req.resume();
      this.authFailures++;
      this.answer(res, t0, route, 401, 'missing submission token: use /post?format=json&token=<token> or /<universe>/<token>/json', 'unauthorized');
      return;
    }
    const opts = this.tokens.get(token);
    if (opts === undefined) {
      req.resume();
      this.authFailures++;
      this.answer(res, t0, route, 403, `unknown submission token; check the SDK's token against receivers.${this.id}.tokens`, 'forbidden');
      return;
    }
    this.process(req, res, t0, route, opts).catch((err) => {
      this.log('internal_error', 'error', { err: { message: (err as Error).message } }, 'backtrace request failed unexpectedly');
      this.answer(res, t0, route, 500, 'internal error', undefined);
    });
  }

  private async process(req: IncomingMessage, res: ServerResponse, t0: number, route: string, opts: BacktraceMapOptions): Promise<void> {
    const arrival = nowUnixNano();
    const max = this.cfg.max_request_body_size;
    const raw = await readBody(req, res, max);
    if (!raw.ok) { this.answer(res, t0, route, raw.status, raw.error, raw.reason); return; }
    const dec = await decodeBody(raw.body, req.headers['content-encoding'], max);
    if (!dec.ok) { this.answer(res, t0, route, dec.status, dec.error, dec.reason); return; }
    let json = dec.body;
    const ct = req.headers['content-type'];
    const boundary = multipartBoundary(ct);
    if (boundary !== undefined) {
      const part = findPart(dec.body, boundary, 'upload_file');
      if (!part.ok) { this.answer(res, t0, route, 400, part.error, 'malformed_multipart'); return; }
      json = part.body;
      this.multipart++;
    } else if (ct !== undefined && /^\s*multipart\//i.test(ct)) {
      this.answer(res, t0, route, 400, 'multipart Content-Type without a boundary', 'malformed_multipart');
      return;
    }
    let report: Record<string, unknown> | undefined;
    try {
      const v = JSON.parse(json.toString('utf8'));
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) report = v as Record<string, unknown>;
    } catch { /* the parser's message quotes the body: never echoed */ }
    if (report === undefined) { this.tel.rejected(1, 'events'); this.answer(res, t0, route, 400, 'the report is not a JSON object', 'malformed_json'); return; }
    const m = mapBacktraceReport(report, arrival, opts);
    if (!m.ok) { this.tel.rejected(1, 'events'); this.answer(res, t0, route, 400, m.error, 'invalid_report'); return; }
    if (this.seen.checkAndAdd(m.uuid)) {
      this.duplicates++;
      this.ok(res, t0, route, m.uuid);
      return;
    }
    try {
      await this.next!.consume({ events: [{ timeUnixNano: m.timeUnixNano, attributes: m.attributes }] });
    } catch (err) {
      this.seen.remove(m.uuid);
      if (!isRetryable(err)) {
        this.tel.rejected(1, 'events');
        this.answer(res, t0, route, 400, err instanceof Error ? err.message : String(err), 'permanent');
        return;
      }
      this.tel.refused(1, 'events');
      if (!(err instanceof RefusedError)) this.log('downstream_error', 'warn', { err: { message: (err as Error).message } }, 'downstream failed; SDK told to retry later (429)');
      const s = String(Math.max(1, Math.ceil(err instanceof RefusedError ? err.retryAfterSeconds : 1)));
      this.answer(res, t0, route, 429, 'the pipeline cannot accept reports right now; retry later', 'refused', { 'Retry-After': s });
      return;
    }
    this.tel.accepted(1, 'events');
    this.ok(res, t0, route, m.uuid);
  }

  private ok(res: ServerResponse, t0: number, route: string, uuid: string): void {
    sendJson(res, 200, `{"response":"ok","_rxid":${JSON.stringify(uuid)}}`);
    this.count(200, t0, undefined, route);
  }

  private answer(res: ServerResponse, t0: number, route: string, status: number, message: string, reason: string | undefined, extra?: Record<string, string>): void {
    sendJson(res, status, JSON.stringify({ response: 'error', error: { code: status, message } }), extra);
    this.count(status, t0, reason, route);
    if (reason !== undefined && reason !== 'refused' && reason !== 'memory_limit') this.log(reason, 'debug', { status, error: message }, 'bad backtrace request');
  }

  private count(status: number, t0: number, reason: string | undefined, route: string): void {
    this.tel.request(status, (performance.now() - t0) / 1000, route, reason);
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

/** `<token>` of `/<universe>/<token>/json`. */
export function tokenFromPath(url: string): string | undefined {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const parts = path.split('/');
  const t = parts[2];
  if (t === undefined || t === '') return undefined;
  try { return decodeURIComponent(t); } catch { return undefined; }
}
