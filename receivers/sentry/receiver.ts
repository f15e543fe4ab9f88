/**
 * The `sentry` receiver: what the unmodified Sentry SDKs send when their DSN
 * points at metricport (protocols.md §10).
 *
 *   POST [/prefix]/api/<projectId>/envelope/   envelopes (the SDKs' only transport today)
 *   POST [/prefix]/api/<projectId>/store/      legacy: one JSON event (plain, base64, base64+zlib); store_endpoint
 *
 * Key: `sentry_key` in the query, else `X-Sentry-Auth: Sentry sentry_key=…`,
 * else `Authorization: Sentry …`, else (tunnel mode) the `dsn` in the
 * envelope header. No key → 401, an unknown key → 403; both counted.
 *
 * `event` items become events (receivers/sentry/map.ts); every other item
 * type is acknowledged and counted. The SDK never retries, reads only the
 * status and the rate-limit headers, and honours `Retry-After` /
 * `X-Sentry-Rate-Limits` on any status, so those go out only with the 429
 * answered when the pipeline refuses. Nothing from an event is ever logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Consumer, CreateSettings, Host, Receiver } from '../../src/component.js';
import { isRetryable, RefusedError } from '../../src/errors.js';
import { receiverGuard, listenReceiver, securityStatus } from '../../src/config/receiversecurity.js';
import type { RequestGuard } from '../../src/config/security.js';
import type { BoundAddress, SharedServer } from '../../src/httpserver.js';
import type { Logger } from '../../src/logger.js';
import type { Event, EventBatch } from '../../src/model/index.js';
import type { ReceiverTelemetry, Telemetry } from '../../src/telemetry.js';
import { nowUnixNano, isZlibWrapped } from '../otlp/negotiate.js';
import { decodeBody, inflate, queryParam, readBody, sendJson } from '../errorsdk/http.js';
import { discardBody, memoryLimiter } from '../../src/memorylimiter.js';
import type { SentryReceiverConfig } from './config.js';
import { parseEnvelope, sentryKeyFromDsn, sentryKeyFromHeader } from './envelope.js';
import { mapSentryEvent, sentryTime, type SentryMapOptions } from './map.js';

const LOG_INTERVAL_MS = 10_000;
const ENVELOPE_ROUTE = '/api/{project}/envelope/';
const STORE_ROUTE = '/api/{project}/store/';
const ENVELOPE_RE = /^(?:\/[^?#]*)?\/api\/[^/?#]+\/envelope\/?$/;
const STORE_RE = /^(?:\/[^?#]*)?\/api\/[^/?#]+\/store\/?$/;
/** item types counted under their own name on /metrics; others count as `other` */
export const KNOWN_ITEM_TYPES = ['event', 'attachment', 'session', 'sessions', 'client_report', 'transaction', 'span', 'check_in', 'log', 'profile', 'profile_chunk', 'replay_event', 'replay_recording', 'user_report', 'feedback', 'statsd', 'other'] as const;
const KNOWN = new Set<string>(KNOWN_ITEM_TYPES);

type Obj = Record<string, unknown>;

export class SentryReceiver implements Receiver {
  private readonly id: string;
  private readonly logger: Logger;
  private readonly telemetry: Telemetry;
  private readonly tel: ReceiverTelemetry;
  /** key → map options (with the key's application) */
  private readonly keys = new Map<string, SentryMapOptions>();
  private readonly byStatus: Record<string, number> = {};
  private readonly items: Record<string, number> = {};
  private readonly lastLog = new Map<string, number>();
  private authFailures = 0;
  private lease: SharedServer | undefined;
  private stopped = false;
  private readonly guard: RequestGuard;
  private gaugesRegistered = false;

  constructor(set: CreateSettings, private readonly cfg: SentryReceiverConfig, private readonly next: Consumer<EventBatch> | undefined) {
    this.id = set.id;
    this.logger = set.logger;
    this.telemetry = set.telemetry;
    this.tel = set.telemetry.receiver(set.id, 'http');
    this.guard = receiverGuard(cfg);
    for (const k of cfg.keys) this.keys.set(k.key, { application: k.application, maxValueLength: cfg.max_value_length, maxTags: cfg.max_tags });
  }

  async start(_host: Host): Promise<void> {
    if (this.lease !== undefined || this.stopped || this.next === undefined) return;
    if (!this.gaugesRegistered) {
      this.gaugesRegistered = true;
      for (const t of KNOWN_ITEM_TYPES) {
        this.telemetry.gauge('metricport_sentry_envelope_items', 'Envelope items received by a sentry receiver, by item type (only `event` items become events), cumulative', { receiver: this.id, type: t }, () => this.items[t] ?? 0);
      }
      this.telemetry.gauge('metricport_receiver_auth_failures', 'Requests refused for a missing (401) or unknown (403) key or token, cumulative', { receiver: this.id }, () => this.authFailures);
    }
    this.lease = await listenReceiver(this.id, this.cfg, this.guard, this.logger, (lease) => {
      const wrong = (path: string) => ({ onWrongMethod: (_req: IncomingMessage, res: ServerResponse, allow: string) => this.answer(res, performance.now(), path, 405, { error: `method not allowed; use ${allow}` }, 'method_not_allowed', { Allow: allow }) });
      lease.routePattern('POST', ENVELOPE_ROUTE, ENVELOPE_RE, (req, res) => this.handle(req, res, 'envelope'), wrong(ENVELOPE_ROUTE));
      if (this.cfg.store_endpoint) lease.routePattern('POST', STORE_ROUTE, STORE_RE, (req, res) => this.handle(req, res, 'store'), wrong(STORE_ROUTE));
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
      paths: this.cfg.store_endpoint ? [ENVELOPE_ROUTE, STORE_ROUTE] : [ENVELOPE_ROUTE],
      keys: this.cfg.keys.length,
      ...securityStatus(this.cfg, this.guard),
      counters: { ...this.tel.totals(), auth_failures: this.authFailures, items: { ...this.items }, responses: { ...this.byStatus } },
    };
  }

  private requestKey(req: IncomingMessage): string | undefined {
    return queryParam(req.url ?? '', 'sentry_key')
      ?? sentryKeyFromHeader(req.headers['x-sentry-auth'] as string | undefined)
      ?? sentryKeyFromHeader(req.headers.authorization);
  }

  private handle(req: IncomingMessage, res: ServerResponse, kind: 'envelope' | 'store'): void {
    const t0 = performance.now();
    const route = kind === 'envelope' ? ENVELOPE_ROUTE : STORE_ROUTE;
    // above the memory limiter's soft limit: refuse before the body is read (the SDK honours Retry-After and X-Sentry-Rate-Limits)
    const over = memoryLimiter.refusal();
    if (over !== undefined) {
      discardBody(req, res);
      const s = String(Math.max(1, Math.ceil(over.retryAfterSeconds)));
      this.answer(res, t0, route, 429, { detail: over.message }, 'memory_limit', { 'Retry-After': s, 'X-Sentry-Rate-Limits': `${s}:${this.cfg.rate_limit_categories}:organization` });
      return;
    }
    const key = this.requestKey(req);
    if (key !== undefined && !this.keys.has(key)) {
      req.resume();
      this.authFailures++;
      this.answer(res, t0, route, 403, { detail: 'unknown DSN public key (sentry_key); check the DSN against receivers.' + this.id + '.keys' }, 'forbidden');
      return;
    }
    this.process(req, res, t0, route, kind, key).catch((err) => {
      this.log('internal_error', 'error', { err: { message: (err as Error).message } }, 'sentry request failed unexpectedly');
      this.answer(res, t0, route, 500, { detail: 'internal error' }, undefined);
    });
  }

  private async process(req: IncomingMessage, res: ServerResponse, t0: number, route: string, kind: 'envelope' | 'store', key: string | undefined): Promise<void> {
    const arrival = nowUnixNano();
    const max = this.cfg.max_request_body_size;
    const raw = await readBody(req, res, max);
    if (!raw.ok) { this.answer(res, t0, route, raw.status, { detail: raw.error }, raw.reason); return; }
    const dec = await decodeBody(raw.body, req.headers['content-encoding'], max);
    if (!dec.ok) { this.answer(res, t0, route, dec.status, { detail: dec.error }, dec.reason); return; }

    let payloads: Buffer[];
    let headerEventId: string | undefined;
    let sentAt: bigint | undefined;
    if (kind === 'envelope') {
      const r = parseEnvelope(dec.body, this.cfg.max_items_per_envelope);
      if (!r.ok) { this.answer(res, t0, route, 400, { detail: `invalid envelope: ${r.error}` }, 'malformed_envelope'); return; }
      const env = r.envelope;
      key ??= sentryKeyFromDsn(env.header.dsn);
      if (!this.authorised(res, t0, route, key)) return;
      for (const t in env.items) {
        const k = KNOWN.has(t) ? t : 'other';
        this.items[k] = (this.items[k] ?? 0) + (env.items[t] as number);
      }
      payloads = env.events;
      headerEventId = typeof env.header.event_id === 'string' ? env.header.event_id : undefined;
      sentAt = sentryTime(env.header.sent_at);
    } else {
      if (!this.authorised(res, t0, route, key)) return;
      const body = await storeBody(dec.body, max);
      if (body === undefined) { this.answer(res, t0, route, 400, { detail: 'store body is not JSON, base64 or base64+zlib JSON' }, 'malformed_json'); return; }
      this.items.event = (this.items.event ?? 0) + 1;
      payloads = [body];
    }

    const opts = this.keys.get(key as string) as SentryMapOptions;
    const events: Event[] = [];
    let rejected = 0;
    let firstError: string | undefined;
    let firstId: string | undefined;
    for (let i = 0; i < payloads.length; i++) {
      let ev: Obj | undefined;
      try {
        const v = JSON.parse((payloads[i] as Buffer).toString('utf8'));
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) ev = v as Obj;
      } catch { /* reported below, without the payload's text */ }
      if (ev === undefined) { rejected++; firstError ??= `event item ${i} is not a JSON object`; continue; }
      if (ev.event_id === undefined && headerEventId !== undefined) ev.event_id = headerEventId;
      const m = mapSentryEvent(ev, arrival, sentAt, opts);
      if (!m.ok) { rejected++; firstError ??= `event item ${i}: ${m.error}`; continue; }
      firstId ??= m.attributes._tx as string;
      events.push({ timeUnixNano: m.timeUnixNano, attributes: m.attributes });
    }
    if (rejected > 0) this.tel.rejected(rejected, 'events');
    if (events.length === 0 && rejected > 0) { this.answer(res, t0, route, 400, { detail: firstError }, 'invalid_event'); return; }
    if (events.length > 0) {
      try {
        await this.next!.consume({ events });
      } catch (err) {
        const n = events.length;
        if (!isRetryable(err)) {
          this.tel.rejected(n, 'events');
          this.answer(res, t0, route, 400, { detail: err instanceof Error ? err.message : String(err) }, 'permanent');
          return;
        }
        this.tel.refused(n, 'events');
        const s = String(Math.max(1, Math.ceil(err instanceof RefusedError ? err.retryAfterSeconds : 1)));
        if (!(err instanceof RefusedError)) this.log('downstream_error', 'warn', { err: { message: (err as Error).message } }, 'downstream failed; SDK told to back off (429)');
        this.answer(res, t0, route, 429, { detail: 'the pipeline cannot accept events right now' }, 'refused', { 'Retry-After': s, 'X-Sentry-Rate-Limits': `${s}:${this.cfg.rate_limit_categories}:organization` });
        return;
      }
      this.tel.accepted(events.length, 'events');
    }
    const id = headerEventId ?? firstId;
    sendJson(res, 200, id === undefined ? '{}' : `{"id":${JSON.stringify(id)}}`);
    this.count(200, t0, undefined, route);
  }

  private authorised(res: ServerResponse, t0: number, route: string, key: string | undefined): boolean {
    if (key === undefined) {
      this.authFailures++;
      this.answer(res, t0, route, 401, { detail: 'missing authorization information: no sentry_key in the query, X-Sentry-Auth, Authorization or envelope dsn' }, 'unauthorized');
      return false;
    }
    if (!this.keys.has(key)) {
      this.authFailures++;
      this.answer(res, t0, route, 403, { detail: `unknown DSN public key (sentry_key); check the DSN against receivers.${this.id}.keys` }, 'forbidden');
      return false;
    }
    return true;
  }

  private answer(res: ServerResponse, t0: number, route: string, status: number, body: Record<string, unknown>, reason: string | undefined, extra?: Record<string, string>): void {
    sendJson(res, status, JSON.stringify(body), extra);
    this.count(status, t0, reason, route);
    if (reason !== undefined && reason !== 'refused' && reason !== 'memory_limit') this.log(reason, 'debug', { status, detail: body.detail }, 'bad sentry request');
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

/** A legacy store body: JSON, or base64 of JSON, or base64 of zlib-deflated JSON. */
export async function storeBody(body: Buffer, max: number): Promise<Buffer | undefined> {
  let i = 0;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  if (body[i] === 0x7b) return body; // '{'
  const text = body.toString('latin1').trim();
  if (!/^[A-Za-z0-9+/=_-]+$/.test(text)) return undefined;
  const bin = Buffer.from(text, 'base64');
  if (bin.length === 0) return undefined;
  if (bin[0] === 0x7b) return bin;
  if (isZlibWrapped(bin)) {
    try { return await inflate(bin, 'zlib', max); } catch { return undefined; }
  }
  return undefined;
}
