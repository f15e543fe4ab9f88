/**
 * Sentry envelopes, parsed as bytes (protocols.md §10):
 *
 *   header JSON \n  item-header JSON \n payload  [\n item-header JSON \n payload]...
 *
 * An item header with `length` is followed by exactly that many payload
 * bytes (attachments: binary, possibly containing newlines) and an optional
 * `\n`; without `length` the payload runs to the next `\n` or the end. Only
 * `event`, `session` and `sessions` payloads are handed back; every other
 * item (attachments, client reports, transactions, ...) is only counted by type.
 */

export interface EnvelopeHeader {
  event_id?: unknown;
  dsn?: unknown;
  sent_at?: unknown;
  [k: string]: unknown;
}

export interface ParsedEnvelope {
  header: EnvelopeHeader;
  /** payloads of `event` items, in order (bytes; decoded by the caller) */
  events: Buffer[];
  /** payloads of `session` and `sessions` items, in order */
  sessions: Array<{ type: 'session' | 'sessions'; payload: Buffer }>;
  /** item counts by type, `event` included */
  items: Record<string, number>;
}

export type EnvelopeResult = { ok: true; envelope: ParsedEnvelope } | { ok: false; error: string };

const NL = 0x0a;

function lineEnd(buf: Buffer, from: number): number {
  const i = buf.indexOf(NL, from);
  return i < 0 ? buf.length : i;
}

function parseJsonObject(buf: Buffer, start: number, end: number): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(buf.toString('utf8', start, end));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Parse an envelope; `maxItems` bounds the work per request. */
export function parseEnvelope(buf: Buffer, maxItems = 1000): EnvelopeResult {
  let pos = 0;
  // a UTF-8 BOM is tolerated
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
  const hEnd = lineEnd(buf, pos);
  const header = parseJsonObject(buf, pos, hEnd);
  if (header === undefined) return { ok: false, error: 'envelope header (the first line) is not a JSON object' };
  pos = hEnd + 1;
  const events: Buffer[] = [];
  const sessions: ParsedEnvelope['sessions'] = [];
  const items: Record<string, number> = {};
  let n = 0;
  while (pos < buf.length) {
    const iEnd = lineEnd(buf, pos);
    if (iEnd === pos) {
      pos++;
      continue;
    } // blank line (e.g. a trailing newline)
    const ih = parseJsonObject(buf, pos, iEnd);
    if (ih === undefined) return { ok: false, error: `item ${n}: item header at byte ${pos} is not a JSON object` };
    if (typeof ih.type !== 'string' || ih.type === '') return { ok: false, error: `item ${n}: item header has no "type"` };
    if (++n > maxItems) return { ok: false, error: `envelope has more than ${maxItems} items` };
    let start = iEnd + 1;
    let end: number;
    const len = ih.length;
    if (len !== undefined && len !== null) {
      if (typeof len !== 'number' || !Number.isInteger(len) || len < 0) return { ok: false, error: `item ${n - 1}: "length" must be a non-negative integer` };
      if (start > buf.length) start = buf.length;
      end = start + len;
      if (end > buf.length)
        return { ok: false, error: `item ${n - 1} (${ih.type}): length ${len} runs past the end of the envelope (${buf.length - start} bytes left)` };
      pos = end < buf.length && buf[end] === NL ? end + 1 : end;
    } else {
      if (start > buf.length) start = buf.length;
      end = lineEnd(buf, start);
      pos = end + 1;
    }
    items[ih.type] = (items[ih.type] ?? 0) + 1;
    if (ih.type === 'event') events.push(buf.subarray(start, end));
    else if (ih.type === 'session' || ih.type === 'sessions') sessions.push({ type: ih.type, payload: buf.subarray(start, end) });
  }
  return { ok: true, envelope: { header, events, sessions, items } };
}

/**
 * The public key of a request: `sentry_key` in the query first, then
 * `X-Sentry-Auth: Sentry sentry_key=…, …`, then `Authorization: Sentry …`.
 */
export function sentryKeyFromHeader(h: string | undefined): string | undefined {
  if (h === undefined) return undefined;
  const m = /^\s*Sentry\s+(.*)$/i.exec(h);
  if (m === null) return undefined;
  for (const part of (m[1] as string).split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === 'sentry_key') return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The public key in a DSN (`http://<key>@host/project`), for tunnel mode. */
export function sentryKeyFromDsn(dsn: unknown): string | undefined {
  if (typeof dsn !== 'string') return undefined;
  try {
    const u = new URL(dsn);
    return u.username === '' ? undefined : decodeURIComponent(u.username);
  } catch {
    return undefined;
  }
}
