/**
 * A Sentry event → a flat metricport event (protocols.md §10, Backtrace
 * attribute names). Pure: no I/O, no logging.
 *
 * | attribute | from |
 * |---|---|
 * | `_tx` | `event_id` |
 * | time | `timestamp` (float seconds or ISO), else the envelope's `sent_at`, else arrival |
 * | `guid` | `user.id` → `user.email` → `user.ip_address` → `server_name` |
 * | `fingerprint` | `fingerprint` if set (`{{ default }}` = derived), else derived (src/errorsdk/fingerprint.ts) |
 * | `error.type` | `Unhandled rejection` / `Unhandled exception` (a mechanism with `handled: false`), `Message` (captureMessage), else `Exception` |
 * | `error.class` | the last `exception.values[].type` (`Message` for messages) |
 * | `error.message` | its `value`, else `message` |
 * | `application` | the key's configured application |
 * | `application.version`, `app.version` | `release`: the part after the last `@` (`shop@1.2.3` → `1.2.3`), else the whole (a commit SHA) |
 * | `release`, `environment`, `hostname`, `level`, `handled`, `platform` | `release`, `environment` (default `production`), `server_name`, `level`, the mechanism, `platform` |
 * | `tags.<name>` | each `tags` entry with a string, number or boolean value |
 */
import type { Attributes } from '../../src/model/index.js';
import { clip } from '../../src/errorsdk/text.js';
import { deriveFingerprint, userFingerprint, type FrameRef } from '../../src/errorsdk/fingerprint.js';

export interface SentryMapOptions {
  application: string;
  maxValueLength: number;
  maxTags: number;
}

export type MapResult = { ok: true; timeUnixNano: bigint; attributes: Attributes } | { ok: false; error: string };

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Seconds (float) or ISO-8601 → ns; undefined when unusable. */
export function sentryTime(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v > 0) {
    const whole = Math.floor(v);
    return BigInt(whole) * 1_000_000_000n + BigInt(Math.round((v - whole) * 1e6)) * 1000n;
  }
  if (typeof v === 'string' && v !== '') {
    if (/^\d+(\.\d+)?$/.test(v)) return sentryTime(Number(v));
    const ms = Date.parse(v);
    if (Number.isFinite(ms)) return BigInt(ms) * 1_000_000n;
  }
  return undefined;
}

/** `shop@1.2.3` → `1.2.3`; `abc123` (a SHA) → itself. */
export function versionFromRelease(release: string): string {
  const at = release.lastIndexOf('@');
  return at > 0 && at < release.length - 1 ? release.slice(at + 1) : release;
}

function messageOf(ev: Obj): string | undefined {
  const m = ev.message;
  if (typeof m === 'string') return m;
  const mo = obj(m);
  if (mo !== undefined) return str(mo.formatted) ?? str(mo.message);
  const le = obj(ev.logentry);
  if (le !== undefined) return str(le.formatted) ?? str(le.message);
  return undefined;
}

/** Frames of a stack trace, crashing frame first (Sentry lists them outermost first). */
function* framesCrashingFirst(st: Obj | undefined): Generator<FrameRef> {
  const frames = st === undefined ? undefined : st.frames;
  if (!Array.isArray(frames)) return;
  for (let i = frames.length - 1; i >= 0; i--) {
    const f = obj(frames[i]);
    if (f === undefined) continue;
    yield { file: str(f.filename) ?? str(f.abs_path), module: str(f.module), fn: str(f.function), inApp: typeof f.in_app === 'boolean' ? f.in_app : undefined };
  }
}

export function mapSentryEvent(ev: Obj, arrival: bigint, sentAt: bigint | undefined, o: SentryMapOptions): MapResult {
  const id = str(ev.event_id);
  if (id === undefined) return { ok: false, error: 'event has no "event_id"' };
  const a: Attributes = {};
  a._tx = id;
  const timeUnixNano = sentryTime(ev.timestamp) ?? sentAt ?? arrival;

  // the thrown error is the last exception value
  const exc = obj(ev.exception);
  const values = exc !== undefined && Array.isArray(exc.values) ? exc.values : undefined;
  let last: Obj | undefined;
  let handled = true;
  let unhandledMechanism = '';
  let synthetic = false;
  if (values !== undefined) {
    for (const v of values) {
      const ov = obj(v);
      if (ov === undefined) continue;
      last = ov;
      const mech = obj(ov.mechanism);
      if (mech !== undefined) {
        if (mech.handled === false) {
          handled = false;
          unhandledMechanism = String(mech.type ?? '');
        }
        if (mech.synthetic === true) synthetic = true;
      }
    }
  }
  const message = messageOf(ev);
  const excType = last === undefined ? undefined : str(last.type);
  let errorType: string;
  if (!handled) {
    const extra = obj(ev.extra);
    errorType = /unhandledrejection/i.test(unhandledMechanism) || extra?.unhandledPromiseRejection === true ? 'Unhandled rejection' : 'Unhandled exception';
  } else if (excType === undefined || (synthetic && message !== undefined)) {
    errorType = 'Message';
  } else {
    errorType = 'Exception';
  }
  const errorClass = errorType === 'Message' ? 'Message' : (excType ?? 'Error');
  const errorMessage = (last === undefined ? undefined : str(last.value)) ?? message ?? '';

  const derived = () =>
    deriveFingerprint(errorClass, framesCrashingFirst(last === undefined ? undefined : (obj(last.stacktrace) ?? obj(ev.stacktrace))), errorMessage);
  const fp = ev.fingerprint;
  a.fingerprint =
    Array.isArray(fp) && fp.length > 0 && fp.every((p) => typeof p === 'string')
      ? fp.every((p) => /^\{\{\s*default\s*\}\}$/.test(p as string))
        ? derived()
        : userFingerprint(fp as string[], derived)
      : derived();

  // guid: the user, else the host
  const user = obj(ev.user);
  const guid =
    (user === undefined
      ? undefined
      : (str(user.id) ?? (typeof user.id === 'number' ? String(user.id) : undefined) ?? str(user.email) ?? str(user.ip_address))) ?? str(ev.server_name);
  if (guid !== undefined) a.guid = clip(guid, o.maxValueLength);

  a['error.type'] = errorType;
  a['error.class'] = clip(errorClass, o.maxValueLength);
  a['error.message'] = clip(errorMessage, o.maxValueLength);
  a.application = o.application;
  const release = str(ev.release);
  if (release !== undefined) {
    const v = clip(versionFromRelease(release), o.maxValueLength);
    a['application.version'] = v;
    a['app.version'] = v;
    a.release = clip(release, o.maxValueLength);
  }
  a.environment = clip(str(ev.environment) ?? 'production', o.maxValueLength);
  const host = str(ev.server_name);
  if (host !== undefined) a.hostname = clip(host, o.maxValueLength);
  a.level = str(ev.level) ?? 'error';
  a.handled = handled;
  const platform = str(ev.platform);
  if (platform !== undefined) a.platform = platform;
  const tags = obj(ev.tags);
  if (tags !== undefined) {
    let n = 0;
    for (const k in tags) {
      if (n >= o.maxTags) break;
      const v = tags[k];
      if (typeof v === 'string') a[`tags.${k}`] = clip(v, o.maxValueLength);
      else if (typeof v === 'number' || typeof v === 'boolean') a[`tags.${k}`] = v;
      else continue;
      n++;
    }
  }
  return { ok: true, timeUnixNano, attributes: a };
}
