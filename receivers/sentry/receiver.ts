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
 * `event` items become events (receivers/sentry/map.ts), once per `event_id`
 * within `dedupe.horizon` (a resend is answered 200 and counted as a
 * duplicate); with `sessions.enabled`, `session` and `sessions` items become
 * session events (receivers/sentry/sessions.ts: one per session in its final
 * state, one per aggregate bucket and outcome); every other item type is
 * acknowledged and counted. The SDK never retries, reads only the
 * status and the rate-limit headers, and honours `Retry-After` /
 * `X-Sentry-Rate-Limits` on any status, so those go out only with the 429
 * answered when the pipeline refuses. Nothing from an event is ever logged.
 */
import type { IncomingMessage } from 'node:http';
import type { Consumer, CreateSettings, Host, Receiver } from '../../src/component.js';
import { SeenIds } from '../../src/errorsdk/dedupe.js';
import type { BoundAddress } from '../../src/httpserver.js';
import type { Event, EventBatch } from '../../src/model/index.js';
import { inflate, jsonObject } from '../../src/receiverhttp/body.js';
import { isZlibWrapped, nowUnixNano, queryParam } from '../../src/receiverhttp/negotiate.js';
import { HttpReceiver, jsonError, type Exchange } from '../../src/receiverhttp/receiver.js';
import type { SentryReceiverConfig } from './config.js';
import { parseEnvelope, sentryKeyFromDsn, sentryKeyFromHeader } from './envelope.js';
import { mapSentryEvent, sentryTime, type SentryMapOptions } from './map.js';
import { aggregateEvents, parseSessionUpdate, SessionTracker } from './sessions.js';

const ENVELOPE_ROUTE = '/api/{project}/envelope/';
const STORE_ROUTE = '/api/{project}/store/';
const ENVELOPE_RE = /^(?:\/[^?#]*)?\/api\/[^/?#]+\/envelope\/?$/;
const STORE_RE = /^(?:\/[^?#]*)?\/api\/[^/?#]+\/store\/?$/;
/** item types counted under their own name on /metrics; others count as `other` */
const KNOWN_ITEM_TYPES = [
  'event',
  'attachment',
  'session',
  'sessions',
  'client_report',
  'transaction',
  'span',
  'check_in',
  'log',
  'profile',
  'profile_chunk',
  'replay_event',
  'replay_recording',
  'user_report',
  'feedback',
  'statsd',
  'other',
] as const;
const KNOWN = new Set<string>(KNOWN_ITEM_TYPES);

export class SentryReceiver implements Receiver {
  private readonly http: HttpReceiver;
  /** key → map options (with the key's application) */
  private readonly keys = new Map<string, SentryMapOptions>();
  private readonly items: Record<string, number> = {};
  private readonly seen: SeenIds;
  private duplicates = 0;
  private readonly sessions: SessionTracker | undefined;
  /** session events from aggregates, and those not accepted downstream (counted, not retried) */
  private sessionEvents = 0;
  private sessionsDropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private expiring: Promise<void> = Promise.resolve();

  constructor(
    set: CreateSettings,
    private readonly cfg: SentryReceiverConfig,
    private readonly next: Consumer<EventBatch> | undefined,
  ) {
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
      cors: cfg.cors,
      gauges: (tel, attrs) => {
        tel.gauge(
          'metricport_sentry_duplicate_events',
          'Events whose event_id was already seen within dedupe.horizon (answered 200, not passed on), cumulative',
          attrs,
          () => this.duplicates,
        );
        tel.gauge('metricport_sentry_dedupe_entries', 'event_ids remembered for deduplication', attrs, () => this.seen.size);
        if (this.sessions !== undefined) {
          const s = this.sessions;
          tel.gauge('metricport_sentry_sessions_open', 'Single sessions held until their final update or sessions.horizon', attrs, () => s.size);
          tel.gauge(
            'metricport_sentry_session_events',
            'Session events passed on (single sessions in their final state, aggregate buckets per outcome), cumulative',
            attrs,
            () => this.sessionEvents,
          );
          tel.gauge(
            'metricport_sentry_session_updates_ignored',
            'Updates of a session already counted (late or repeated), cumulative',
            attrs,
            () => s.counters.ignored,
          );
          tel.gauge(
            'metricport_sentry_sessions_closed',
            'Sessions counted without a final update, by cause (horizon: idle for sessions.horizon; evicted: max_open reached), cumulative',
            { ...attrs, cause: 'horizon' },
            () => s.counters.expired,
          );
          tel.gauge(
            'metricport_sentry_sessions_closed',
            'Sessions counted without a final update, by cause (horizon: idle for sessions.horizon; evicted: max_open reached), cumulative',
            { ...attrs, cause: 'evicted' },
            () => s.counters.evicted,
          );
        }
        for (const t of KNOWN_ITEM_TYPES) {
          tel.gauge(
            'metricport_sentry_envelope_items',
            'Envelope items received by a sentry receiver, by item type (only `event` items become events), cumulative',
            { ...attrs, type: t },
            () => this.items[t] ?? 0,
          );
        }
      },
    });
    for (const k of cfg.keys) this.keys.set(k.key, { application: k.application, maxValueLength: cfg.max_value_length, maxTags: cfg.max_tags });
    this.seen = new SeenIds(cfg.dedupe.horizon, cfg.dedupe.max_entries);
    this.sessions = cfg.sessions.enabled ? new SessionTracker(cfg.sessions.horizon, cfg.sessions.max_open) : undefined;
  }

  async start(_host: Host): Promise<void> {
    if (this.next === undefined) return;
    await this.http.listen((r) => {
      r.routePattern('POST', ENVELOPE_ROUTE, ENVELOPE_RE, (x) => this.handle(x, 'envelope'));
      if (this.cfg.store_endpoint) r.routePattern('POST', STORE_ROUTE, STORE_RE, (x) => this.handle(x, 'store'));
    });
    if (this.sessions !== undefined && this.timer === undefined) {
      const every = Math.max(100, Math.min(5000, Math.floor(this.cfg.sessions.horizon / 10)));
      this.timer = setInterval(() => {
        void this.closeSessions(false);
      }, every);
      this.timer.unref();
    }
  }

  /** Stop listening, then count the sessions still open in their last state (downstream is still running). */
  async shutdown(deadline: AbortSignal): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.http.shutdown(deadline);
    if (this.sessions !== undefined && this.next !== undefined) await this.closeSessions(true);
  }

  /** Pass on the sessions the horizon closed (all of them when `all`); a refusal is counted and logged, never thrown. */
  private closeSessions(all: boolean): Promise<void> {
    this.expiring = this.expiring.then(async () => {
      const s = this.sessions;
      if (s === undefined || this.next === undefined) return;
      const events = all ? s.drain() : s.expire();
      if (events.length === 0) return;
      try {
        await this.next.consume({ events });
        this.sessionEvents += events.length;
        this.http.tel.accepted(events.length, 'events');
      } catch (err) {
        this.sessionsDropped += events.length;
        this.http.tel.refused(events.length, 'events');
        this.http.log(
          'sessions_dropped',
          'warn',
          { sessions: events.length, err: (err as Error).message },
          'sessions closed by the horizon were not accepted downstream; dropped',
        );
      }
    });
    return this.expiring;
  }

  boundAddress(): BoundAddress | undefined {
    return this.http.address();
  }

  status(): Record<string, unknown> {
    const sessions =
      this.sessions === undefined
        ? undefined
        : { ...this.sessions.counters, open: this.sessions.size, events: this.sessionEvents, dropped: this.sessionsDropped };
    return this.http.status(
      { paths: this.cfg.store_endpoint ? [ENVELOPE_ROUTE, STORE_ROUTE] : [ENVELOPE_ROUTE], keys: this.cfg.keys.length },
      {
        items: { ...this.items },
        duplicates: this.duplicates,
        dedupe_entries: this.seen.size,
        dedupe_evicted: this.seen.evicted,
        ...(sessions === undefined ? {} : { sessions }),
      },
    );
  }

  private requestKey(req: IncomingMessage): string | undefined {
    return (
      queryParam(req.url ?? '', 'sentry_key') ??
      sentryKeyFromHeader(req.headers['x-sentry-auth'] as string | undefined) ??
      sentryKeyFromHeader(req.headers.authorization)
    );
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
    let sessionItems: Array<{ type: 'session' | 'sessions'; payload: Buffer }> = [];
    let headerEventId: string | undefined;
    let sentAt: bigint | undefined;
    if (kind === 'envelope') {
      const r = parseEnvelope(body, this.cfg.max_items_per_envelope);
      if (!r.ok) {
        x.fail(400, `invalid envelope: ${r.error}`, 'malformed_envelope');
        return;
      }
      const env = r.envelope;
      key ??= sentryKeyFromDsn(env.header.dsn);
      if (!this.authorised(x, key)) return;
      for (const t in env.items) {
        const k = KNOWN.has(t) ? t : 'other';
        this.items[k] = (this.items[k] ?? 0) + (env.items[t] as number);
      }
      payloads = env.events;
      sessionItems = env.sessions;
      headerEventId = typeof env.header.event_id === 'string' ? env.header.event_id : undefined;
      sentAt = sentryTime(env.header.sent_at);
    } else {
      if (!this.authorised(x, key)) return;
      const event = await storeBody(body, max);
      if (event === undefined) {
        x.fail(400, 'store body is not JSON, base64 or base64+zlib JSON', 'malformed_json');
        return;
      }
      this.items.event = (this.items.event ?? 0) + 1;
      payloads = [event];
    }

    const opts = this.keys.get(key as string) as SentryMapOptions;
    const events: Event[] = [];
    let rejected = 0;
    let firstError: string | undefined;
    let firstId: string | undefined;
    let dups = 0;
    const newIds: string[] = [];
    for (let i = 0; i < payloads.length; i++) {
      const ev = jsonObject(payloads[i] as Buffer); // reported below, without the payload's text
      if (ev === undefined) {
        rejected++;
        firstError ??= `event item ${i} is not a JSON object`;
        continue;
      }
      if (ev.event_id === undefined && headerEventId !== undefined) ev.event_id = headerEventId;
      const m = mapSentryEvent(ev, arrival, sentAt, opts);
      if (!m.ok) {
        rejected++;
        firstError ??= `event item ${i}: ${m.error}`;
        continue;
      }
      const id = m.attributes._tx as string;
      firstId ??= id;
      // the same event again (an SDK retry, a relay resending): answered as accepted, passed on once
      if (this.seen.checkAndAdd(id)) {
        dups++;
        continue;
      }
      newIds.push(id);
      events.push({ timeUnixNano: m.timeUnixNano, attributes: m.attributes });
    }
    this.duplicates += dups;
    // release health: session items (sessions.enabled)
    const ended: string[] = [];
    let sessionCount = 0;
    if (this.sessions !== undefined) {
      for (let i = 0; i < sessionItems.length; i++) {
        const it = sessionItems[i]!;
        const p = jsonObject(it.payload); // reported below, without the payload's text
        if (p === undefined) {
          rejected++;
          firstError ??= `${it.type} item ${i} is not a JSON object`;
          continue;
        }
        if (it.type === 'session') {
          const u = parseSessionUpdate(p, arrival);
          if (!u.ok) {
            rejected++;
            firstError ??= `session item ${i}: ${u.error}`;
            continue;
          }
          const out = this.sessions.update(u.value, opts);
          if (out.length > 0 && u.value.status !== 'ok') ended.push(u.value.sid);
          for (const e of out) events.push(e);
          sessionCount += out.length;
        } else {
          const r = aggregateEvents(p, arrival, opts);
          if (!r.ok) {
            rejected++;
            firstError ??= `sessions item ${i}: ${r.error}`;
            continue;
          }
          for (const e of r.value) events.push(e);
          sessionCount += r.value.length;
        }
      }
    }
    if (rejected > 0) this.http.tel.rejected(rejected, 'events');
    if (events.length === 0 && rejected > 0 && dups === 0) {
      x.fail(400, firstError as string, 'invalid_event');
      return;
    }
    if (events.length > 0 && !(await x.consume(this.next!, { events }, events.length, 'events'))) {
      // not accepted: a resend must count
      for (const id of newIds) this.seen.remove(id);
      for (const sid of ended) this.sessions?.forget(opts.application, sid);
      return;
    }
    this.sessionEvents += sessionCount;
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
    try {
      return await inflate(bin, 'deflate', max);
    } catch {
      return undefined;
    }
  }
  return undefined;
}
