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
import type { IncomingMessage } from 'node:http';
import type { Consumer, CreateSettings, Host, Receiver } from '../../src/component.js';
import type { BoundAddress } from '../../src/httpserver.js';
import type { Event, EventBatch } from '../../src/model/index.js';
import { inflate } from '../../src/receiverhttp/body.js';
import { isZlibWrapped, nowUnixNano, queryParam } from '../../src/receiverhttp/negotiate.js';
import { HttpReceiver, jsonError, type Exchange } from '../../src/receiverhttp/receiver.js';
import type { SentryReceiverConfig } from './config.js';
import { parseEnvelope, sentryKeyFromDsn, sentryKeyFromHeader } from './envelope.js';
import { mapSentryEvent, sentryTime, type SentryMapOptions } from './map.js';

const ENVELOPE_ROUTE = '/api/{project}/envelope/';
const STORE_ROUTE = '/api/{project}/store/';
const ENVELOPE_RE = /^(?:\/[^?#]*)?\/api\/[^/?#]+\/envelope\/?$/;
const STORE_RE = /^(?:\/[^?#]*)?\/api\/[^/?#]+\/store\/?$/;
/** item types counted under their own name on /metrics; others count as `other` */
export const KNOWN_ITEM_TYPES = ['event', 'attachment', 'session', 'sessions', 'client_report', 'transaction', 'span', 'check_in', 'log', 'profile', 'profile_chunk', 'replay_event', 'replay_recording', 'user_report', 'feedback', 'statsd', 'other'] as const;
const KNOWN = new Set<string>(KNOWN_ITEM_TYPES);

type Obj = Record<string, unknown>;

export class SentryReceiver implements Receiver {
  private readonly http: HttpReceiver;
  /** key → map options (with the key's application) */
  private readonly keys = new Map<string, SentryMapOptions>();
  private readonly items: Record<string, number> = {};

  constructor(set: CreateSettings, private readonly cfg: SentryReceiverConfig, private readonly next: Consumer<EventBatch> | undefined) {
    // the SDK honours Retry-After and X-Sentry-Rate-Limits on any status, and backs off on 429 only
    this.http = new HttpReceiver(set, cfg, {
      name: 'sentry',
      errorBody: jsonError('detail'),
      unsupportedEncodingStatus: 415,
      refusal: {
        status: 429,
        message: 'the pipeline cannot accept events right now',
        minRetryAfter: 1,
        headers: (s) => ({ 'X-Sentry-Rate-Limits': `${s}:${cfg.rate_limit_categories}:organization` }),
      },
      authFailures: true,
      gauges: (tel, attrs) => {
        for (const t of KNOWN_ITEM_TYPES) {
          tel.gauge('metricport_sentry_envelope_items', 'Envelope items received by a sentry receiver, by item type (only `event` items become events), cumulative', { ...attrs, type: t }, () => this.items[t] ?? 0);
        }
      },
    });
    for (const k of cfg.keys) this.keys.set(k.key, { application: k.application, maxValueLength: cfg.max_value_length, maxTags: cfg.max_tags });
  }

  async start(_host: Host): Promise<void> {
    if (this.next === undefined) return;
    await this.http.listen((r) => {
      r.routePattern('POST', ENVELOPE_ROUTE, ENVELOPE_RE, (x) => this.handle(x, 'envelope'));
      if (this.cfg.store_endpoint) r.routePattern('POST', STORE_ROUTE, STORE_RE, (x) => this.handle(x, 'store'));
    });
  }

  shutdown(deadline: AbortSignal): Promise<void> { return this.http.shutdown(deadline); }

  boundAddress(): BoundAddress | undefined { return this.http.address(); }

  status(): Record<string, unknown> {
    return this.http.status({ paths: this.cfg.store_endpoint ? [ENVELOPE_ROUTE, STORE_ROUTE] : [ENVELOPE_ROUTE], keys: this.cfg.keys.length }, { items: { ...this.items } });
  }

  private requestKey(req: IncomingMessage): string | undefined {
    return queryParam(req.url ?? '', 'sentry_key')
      ?? sentryKeyFromHeader(req.headers['x-sentry-auth'] as string | undefined)
      ?? sentryKeyFromHeader(req.headers.authorization);
  }

  private async handle(x: Exchange, kind: 'envelope' | 'store'): Promise<void> {
    // above the memory limiter's soft limit: refuse before the body is read (the SDK honours Retry-After and X-Sentry-Rate-Limits)
    if (x.refuseOverMemory()) return;
    let key = this.requestKey(x.req);
    if (key !== undefined && !this.authorised(x, key)) return;
    const arrival = nowUnixNano();
    const max = this.cfg.max_request_body_size;
    const body = await x.body(max);
    if (body === undefined) return;

    let payloads: Buffer[];
    let headerEventId: string | undefined;
    let sentAt: bigint | undefined;
    if (kind === 'envelope') {
      const r = parseEnvelope(body, this.cfg.max_items_per_envelope);
      if (!r.ok) { x.fail(400, `invalid envelope: ${r.error}`, 'malformed_envelope'); return; }
      const env = r.envelope;
      key ??= sentryKeyFromDsn(env.header.dsn);
      if (!this.authorised(x, key)) return;
      for (const t in env.items) {
        const k = KNOWN.has(t) ? t : 'other';
        this.items[k] = (this.items[k] ?? 0) + (env.items[t] as number);
      }
      payloads = env.events;
      headerEventId = typeof env.header.event_id === 'string' ? env.header.event_id : undefined;
      sentAt = sentryTime(env.header.sent_at);
    } else {
      if (!this.authorised(x, key)) return;
      const event = await storeBody(body, max);
      if (event === undefined) { x.fail(400, 'store body is not JSON, base64 or base64+zlib JSON', 'malformed_json'); return; }
      this.items.event = (this.items.event ?? 0) + 1;
      payloads = [event];
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
    if (rejected > 0) this.http.tel.rejected(rejected, 'events');
    if (events.length === 0 && rejected > 0) { x.fail(400, firstError as string, 'invalid_event'); return; }
    if (events.length > 0 && !(await x.consume(this.next!, { events }, events.length, 'events'))) return;
    const id = headerEventId ?? firstId;
    x.json(200, id === undefined ? '{}' : `{"id":${JSON.stringify(id)}}`);
  }

  /** no key → 401, a key not in `keys` → 403 (counted, warned about without the key) */
  private authorised(x: Exchange, key: string | undefined): boolean {
    if (key === undefined) {
      x.authFailed(401, 'missing authorization information: no sentry_key in the query, X-Sentry-Auth, Authorization or envelope dsn');
      return false;
    }
    if (!this.keys.has(key)) {
      x.authFailed(403, `unknown DSN public key (sentry_key); check the DSN against receivers.${this.http.id}.keys`);
      return false;
    }
    return true;
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
    try { return await inflate(bin, 'deflate', max); } catch { return undefined; }
  }
  return undefined;
}
