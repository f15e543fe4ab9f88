/**
 * A Backtrace JSON report → a flat metricport event (protocols.md §10). Pure.
 *
 * | attribute | from |
 * |---|---|
 * | `_tx` | `uuid` |
 * | time | `timestamp` (integer seconds; milliseconds tolerated by magnitude), else arrival |
 * | `guid` | `attributes.guid` |
 * | `fingerprint` | derived (src/errorsdk/fingerprint.ts) from the last classifier and `threads[mainThread].stack` (crashing frame first) |
 * | `error.type` | `attributes["error.type"]` (`Exception`, `Message`, `Unhandled exception`, `Unhandled rejection`) |
 * | `error.class` | the last of `classifiers` |
 * | `error.message` | `attributes["error.message"]` |
 * | `application` | `attributes.application`, else the token's configured application |
 * | `application.version`, `app.version` | `attributes["application.version"]` |
 * | `level` | derived: `fatal` (Unhandled exception), `info` (Message), else `error` |
 * | `handled` | false for `Unhandled …` types |
 * | every other primitive in `attributes` | as is (`hostname`, `environment`, `cpu.*`, `uname.*`, your own), up to `max_attributes` |
 *
 * `annotations` (which include the whole `process.env`) are never read.
 */
import type { Attributes } from '../../src/model/index.js';
import { clip } from '../../src/errorsdk/text.js';
import { deriveFingerprint, type FrameRef } from '../../src/errorsdk/fingerprint.js';

export interface BacktraceMapOptions {
  /** used when the report has no `application` attribute */
  application: string | undefined;
  maxValueLength: number;
  maxAttributes: number;
}

export type MapResult = { ok: true; uuid: string; timeUnixNano: bigint; attributes: Attributes } | { ok: false; error: string };

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Integer seconds (the SDKs), or milliseconds by magnitude → ns. */
export function backtraceTime(v: unknown): bigint | undefined {
  const n = typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) return undefined;
  const secs = n < 1e11 ? n : n / 1000;
  const whole = Math.floor(secs);
  return BigInt(whole) * 1_000_000_000n + BigInt(Math.round((secs - whole) * 1e6)) * 1000n;
}

function* stackFrames(report: Obj): Generator<FrameRef> {
  const threads = obj(report.threads);
  if (threads === undefined) return;
  const main = obj(threads[str(report.mainThread) ?? 'main']) ?? obj(Object.values(threads)[0]);
  const stack = main === undefined ? undefined : main.stack;
  if (!Array.isArray(stack)) return;
  for (const f of stack) {
    const o = obj(f);
    if (o === undefined) continue;
    yield { file: str(o.library) ?? str(o.sourceCode), fn: str(o.funcName) };
  }
}

const FIXED = new Set(['_tx', 'fingerprint', 'error.class', 'level', 'handled', 'app.version']);

export function mapBacktraceReport(report: Obj, arrival: bigint, o: BacktraceMapOptions): MapResult {
  const uuid = str(report.uuid);
  if (uuid === undefined) return { ok: false, error: 'report has no "uuid"' };
  const attrs = obj(report.attributes) ?? {};
  const a: Attributes = {};
  a._tx = uuid;
  // the report's own attributes first (primitives only), then the derived ones on top
  let n = 0;
  for (const k in attrs) {
    if (n >= o.maxAttributes) break;
    if (FIXED.has(k)) continue;
    const v = attrs[k];
    if (typeof v === 'string') a[k] = clip(v, o.maxValueLength);
    else if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean') a[k] = v;
    else continue;
    n++;
  }
  const classifiers = Array.isArray(report.classifiers) ? report.classifiers.filter((c): c is string => typeof c === 'string' && c !== '') : [];
  const errorType =
    str(attrs['error.type']) ??
    (classifiers[0] === 'UnhandledPromiseRejection' ? 'Unhandled rejection' : classifiers.at(-1) === 'Message' ? 'Message' : 'Exception');
  const errorClass = classifiers.at(-1) ?? (errorType === 'Message' ? 'Message' : 'Error');
  const errorMessage = typeof attrs['error.message'] === 'string' ? attrs['error.message'] : '';
  a['error.type'] = clip(errorType, o.maxValueLength);
  a['error.class'] = clip(errorClass, o.maxValueLength);
  a['error.message'] = clip(errorMessage, o.maxValueLength);
  a.fingerprint = deriveFingerprint(errorClass, stackFrames(report), errorMessage);
  const app = str(attrs.application) ?? o.application;
  if (app !== undefined) a.application = clip(app, o.maxValueLength);
  const version = str(attrs['application.version']);
  if (version !== undefined) a['app.version'] = a['application.version'] = clip(version, o.maxValueLength);
  a.level = errorType === 'Unhandled exception' ? 'fatal' : errorType === 'Message' ? 'info' : 'error';
  a.handled = !errorType.startsWith('Unhandled');
  return { ok: true, uuid, timeUnixNano: backtraceTime(report.timestamp) ?? arrival, attributes: a };
}
