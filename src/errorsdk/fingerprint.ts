/**
 * The derived fingerprint of an error report (Sentry events without a
 * user-set fingerprint, every Backtrace report): the same error thrown from
 * the same place gives the same value, across releases that only move lines.
 *
 *   sha256( error class + "\n" + up to FRAMES frame keys, joined by "\n" )   (64 hex digits)
 *
 * - frames are the crashing frame and its two nearest in-app callers (three:
 *   deeper frames differ between the sync and async paths to the same throw),
 *   crashing frame first
 *   (Sentry lists frames outermost first: read from the end; Backtrace lists
 *   the crashing frame first);
 * - only in-app frames count: not `node:*` / `internal/*` files, nothing under
 *   `node_modules`, and not frames the SDK marked `in_app: false`;
 * - a frame key is the file's basename without extension (or the module) and
 *   the function name; never a line or column number, never a directory
 *   (deploy paths differ between hosts);
 * - without in-app frames, the normalised message is used instead (numbers,
 *   hex ids and quoted strings replaced), so `timeout after 31ms` and
 *   `timeout after 30ms` group together.
 */
import { createHash } from 'node:crypto';

const FINGERPRINT_FRAMES = 3;

export interface FrameRef {
  /** file path or URL as reported */
  file: string | undefined;
  /** module name, when the SDK reports one (Sentry) */
  module?: string | undefined;
  /** function name */
  fn: string | undefined;
  /** what the SDK said, when it says (Sentry `in_app`) */
  inApp?: boolean | undefined;
}

/** true for frames of the app itself (not Node internals, not dependencies) */
function isInAppFrame(f: FrameRef): boolean {
  if (f.inApp === false) return false;
  const file = f.file ?? '';
  if (file.startsWith('node:') || file.startsWith('internal/') || file.includes('/node_modules/') || file.includes('\\node_modules\\')) return false;
  if (file === '' && (f.fn === undefined || f.fn === '')) return false;
  return true;
}

function basename(file: string): string {
  let s = file;
  const q = s.search(/[?#]/);
  if (q >= 0) s = s.slice(0, q);
  const slash = Math.max(s.lastIndexOf('/'), s.lastIndexOf('\\'));
  if (slash >= 0) s = s.slice(slash + 1);
  const dot = s.indexOf('.');
  return dot > 0 ? s.slice(0, dot) : s;
}

/** `file-basename:function` (no line numbers) */
function frameKey(f: FrameRef): string {
  const file = f.file !== undefined && f.file !== '' ? basename(f.file) : (f.module ?? '');
  return `${file}:${f.fn ?? '?'}`;
}

/** Numbers, hex ids, UUIDs and quoted strings replaced, whitespace collapsed, lower case. */
export function normaliseMessage(msg: string): string {
  return msg
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/"[^"]*"|'[^']*'|`[^`]*`/g, '<s>')
    .replace(/\b0x[0-9a-f]+\b/gi, '<n>')
    .replace(/\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi, '<n>')
    .replace(/\d+(?:\.\d+)?/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase();
}

/**
 * `frames` crashing frame first. Returns 64 hex digits.
 */
export function deriveFingerprint(errorClass: string, frames: Iterable<FrameRef>, message: string): string {
  const keys: string[] = [];
  for (const f of frames) {
    if (!isInAppFrame(f)) continue;
    keys.push(frameKey(f));
    if (keys.length === FINGERPRINT_FRAMES) break;
  }
  const basis = keys.length > 0 ? keys.join('\n') : `message:${normaliseMessage(message)}`;
  return createHash('sha256').update(`${errorClass}\n${basis}`).digest('hex');
}

/** A user-set fingerprint (a list of strings) as 64 hex digits; `{{ default }}` stands for the derived one. */
export function userFingerprint(parts: readonly string[], derived: () => string): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(`${/^\{\{\s*default\s*\}\}$/.test(p) ? derived() : p}\n`);
  return h.digest('hex');
}
