/**
 * Release health from the Sentry SDKs: `session` items (one session's status
 * updates) and `sessions` items (server-mode aggregates) → session events.
 *
 *   session  {"sid","did","init","seq","started","timestamp","status","errors","duration","attrs":{"release","environment"}}
 *   sessions {"aggregates":[{"started","did"?,"exited","errored","crashed","abnormal"?}],"attrs":{"release","environment"}}
 *
 * A single session is counted once, in its final state: an update whose
 * status is not `ok` (exited, errored, crashed, abnormal, unhandled) ends it
 * at once; one still `ok` is ended `horizon` after its last update (browser
 * sessions never send an end). Its id is then remembered for another
 * `horizon` (bounded), so a late or repeated update is ignored and counted,
 * never counted again. An aggregate bucket is one event per outcome with its
 * count in `session.count`.
 *
 * | attribute | value |
 * |---|---|
 * | `event.kind` | `session` |
 * | `_tx` | `sid` (single sessions) |
 * | `guid` | `did` (the distinct user or device), when the SDK gives one |
 * | `session.status` | the last status the SDK sent (`ok` for one closed by the horizon; `exited`/`errored`/`crashed`/`abnormal` for aggregates) |
 * | `session.outcome` | `healthy`, `errored`, `crashed` or `abnormal` (Sentry's breakdown: errored = errors > 0 or status errored/unhandled, without a crash) |
 * | `session.errored` | true unless healthy (crashed and abnormal sessions are errored too, as Sentry counts them) |
 * | `session.crashed` | status crashed |
 * | `session.count` | 1, or the aggregate bucket's count |
 * | `session.errors`, `session.duration` | the SDK's error count and duration (s), when given |
 * | `release`, `application.version`, `app.version`, `environment`, `application` | as for error events |
 * | time | the final update's `timestamp`; an aggregate's `started`; the moment the horizon closed it |
 */
import type { Attributes, Event } from '../../src/model/index.js';
import { SeenIds } from '../../src/errorsdk/dedupe.js';
import { clip } from '../../src/errorsdk/text.js';
import { sentryTime, versionFromRelease } from './map.js';

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
function idOf(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return str(v);
}
function count(v: unknown): number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : 0;
}

export type Outcome = 'healthy' | 'errored' | 'crashed' | 'abnormal';

export interface SessionOptions {
  application: string;
  maxValueLength: number;
}

/** One single-session update as the SDK sent it (validated). */
export interface SessionUpdate {
  sid: string;
  did: string | undefined;
  seq: number;
  status: string;
  errors: number;
  duration: number | undefined;
  release: string | undefined;
  environment: string;
  timeUnixNano: bigint;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const STATUSES = new Set(['ok', 'exited', 'crashed', 'abnormal', 'errored', 'unhandled']);

export function outcomeOf(status: string, errors: number): Outcome {
  if (status === 'crashed') return 'crashed';
  if (status === 'abnormal') return 'abnormal';
  if (status === 'errored' || status === 'unhandled' || errors > 0) return 'errored';
  return 'healthy';
}

function releaseAttrs(a: Attributes, release: string | undefined, environment: string, o: SessionOptions): void {
  a.application = o.application;
  if (release !== undefined) {
    const v = clip(versionFromRelease(release), o.maxValueLength);
    a['application.version'] = v;
    a['app.version'] = v;
    a.release = clip(release, o.maxValueLength);
  }
  a.environment = clip(environment, o.maxValueLength);
}

/** A `session` item's payload → an update, or why not. */
export function parseSessionUpdate(p: Obj, arrival: bigint): ParseResult<SessionUpdate> {
  const sid = idOf(p.sid);
  if (sid === undefined) return { ok: false, error: 'session has no "sid"' };
  const status = str(p.status) ?? 'ok';
  if (!STATUSES.has(status)) return { ok: false, error: `session status ${JSON.stringify(status.slice(0, 32))} is not one of ${[...STATUSES].join(', ')}` };
  const attrs = obj(p.attrs) ?? {};
  const seq = typeof p.seq === 'number' && Number.isFinite(p.seq) ? p.seq : 0;
  const duration = typeof p.duration === 'number' && Number.isFinite(p.duration) && p.duration >= 0 ? p.duration : undefined;
  return {
    ok: true,
    value: {
      sid,
      did: idOf(p.did),
      seq,
      status,
      errors: count(p.errors),
      duration,
      release: str(attrs.release) ?? str(p.release),
      environment: str(attrs.environment) ?? str(p.environment) ?? 'production',
      timeUnixNano: sentryTime(p.timestamp) ?? arrival,
    },
  };
}

/** The session event of a session in its final state. */
function sessionEvent(u: SessionUpdate, timeUnixNano: bigint, o: SessionOptions): Event {
  const a: Attributes = { 'event.kind': 'session', _tx: clip(u.sid, o.maxValueLength) };
  if (u.did !== undefined) a.guid = clip(u.did, o.maxValueLength);
  const outcome = outcomeOf(u.status, u.errors);
  a['session.status'] = u.status;
  a['session.outcome'] = outcome;
  a['session.errored'] = outcome !== 'healthy';
  a['session.crashed'] = outcome === 'crashed';
  a['session.count'] = 1;
  a['session.errors'] = u.errors;
  if (u.duration !== undefined) a['session.duration'] = u.duration;
  releaseAttrs(a, u.release, u.environment, o);
  return { timeUnixNano, attributes: a };
}

const BUCKET_STATUSES: Array<[string, Outcome]> = [
  ['exited', 'healthy'],
  ['errored', 'errored'],
  ['crashed', 'crashed'],
  ['abnormal', 'abnormal'],
];

/** A `sessions` item (aggregates) → one event per bucket and outcome with a count. */
export function aggregateEvents(p: Obj, arrival: bigint, o: SessionOptions): ParseResult<Event[]> {
  if (!Array.isArray(p.aggregates)) return { ok: false, error: 'sessions item has no "aggregates" list' };
  const attrs = obj(p.attrs) ?? {};
  const release = str(attrs.release);
  const environment = str(attrs.environment) ?? 'production';
  const out: Event[] = [];
  for (let i = 0; i < p.aggregates.length; i++) {
    const b = obj(p.aggregates[i]);
    if (b === undefined) return { ok: false, error: `aggregates[${i}] is not an object` };
    const t = sentryTime(b.started) ?? arrival;
    const did = idOf(b.did);
    for (const [status, outcome] of BUCKET_STATUSES) {
      const n = count(b[status]);
      if (n === 0) continue;
      const a: Attributes = { 'event.kind': 'session' };
      if (did !== undefined) a.guid = clip(did, o.maxValueLength);
      a['session.status'] = status;
      a['session.outcome'] = outcome;
      a['session.errored'] = outcome !== 'healthy';
      a['session.crashed'] = outcome === 'crashed';
      a['session.count'] = n;
      releaseAttrs(a, release, environment, o);
      out.push({ timeUnixNano: t, attributes: a });
    }
  }
  return { ok: true, value: out };
}

interface Open {
  u: SessionUpdate;
  o: SessionOptions;
  last: number;
}

export interface SessionCounters {
  /** single-session updates taken in */
  updates: number;
  /** sessions counted (ended by their final update, the horizon or eviction) */
  ended: number;
  /** of those, closed by the horizon while still `ok` */
  expired: number;
  /** of those, closed early because max_open sessions were held */
  evicted: number;
  /** updates of a session already counted (late, repeated, or older than the one held) */
  ignored: number;
}

/**
 * Open sessions by `sid`, in bounded memory (clock injected for tests).
 * `update` returns the event to emit now (a final status), if any; `expire`
 * the sessions whose horizon passed; `drain` every open one (shutdown).
 */
export class SessionTracker {
  private readonly open = new Map<string, Open>();
  private readonly ended: SeenIds;
  readonly counters: SessionCounters = { updates: 0, ended: 0, expired: 0, evicted: 0, ignored: 0 };

  constructor(
    private readonly horizonMs: number,
    private readonly maxOpen: number,
    private readonly now: () => number = Date.now,
  ) {
    this.ended = new SeenIds(horizonMs, maxOpen, now);
  }

  get size(): number {
    return this.open.size;
  }

  update(u: SessionUpdate, o: SessionOptions): Event[] {
    this.counters.updates++;
    const key = `${o.application}\u0000${u.sid}`;
    if (this.ended.has(key)) {
      this.counters.ignored++;
      return [];
    }
    const prev = this.open.get(key);
    if (prev !== undefined && prev.u.seq > u.seq) {
      this.counters.ignored++;
      return [];
    }
    const t = this.now();
    if (u.status !== 'ok') {
      if (prev !== undefined) this.open.delete(key);
      this.ended.checkAndAdd(key);
      this.counters.ended++;
      return [sessionEvent(u, u.timeUnixNano, o)];
    }
    const out: Event[] = [];
    if (prev !== undefined)
      this.open.delete(key); // re-insert: the map stays ordered by last update
    else if (this.open.size >= this.maxOpen) {
      const oldest = this.open.keys().next();
      if (!oldest.done) {
        out.push(this.close(oldest.value, t));
        this.counters.evicted++;
      }
    }
    this.open.set(key, { u, o, last: t });
    return out;
  }

  /** Sessions idle for the horizon, counted in their last state. */
  expire(): Event[] {
    const t = this.now();
    const out: Event[] = [];
    for (const [key, s] of this.open) {
      if (t - s.last < this.horizonMs) break;
      out.push(this.close(key, t));
      this.counters.expired++;
    }
    return out;
  }

  /** Every open session, counted in its last state (shutdown). */
  drain(): Event[] {
    const t = this.now();
    const out: Event[] = [];
    for (const key of [...this.open.keys()]) out.push(this.close(key, t));
    return out;
  }

  /** A session whose event was not accepted downstream: forget it ended, so that its resend counts. */
  forget(application: string, sid: string): void {
    this.ended.remove(`${application}\u0000${sid}`);
  }

  private close(key: string, t: number): Event {
    const s = this.open.get(key) as Open;
    this.open.delete(key);
    this.ended.checkAndAdd(key);
    this.counters.ended++;
    return sessionEvent(s.u, BigInt(t) * 1_000_000n, s.o);
  }
}
