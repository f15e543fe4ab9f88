/**
 * Pure request-negotiation helpers for the HTTP receivers: content type
 * (OTLP's JSON/protobuf), content encoding, query parameters, UTF-8 checks,
 * error summaries, arrival time. No I/O.
 */

export type BodyFormat = 'json' | 'proto';
export type BodyEncoding = 'identity' | 'gzip' | 'deflate';

const ACCEPTED_CONTENT_TYPES = 'application/json or application/x-protobuf';

export type ContentTypeResult = { format: BodyFormat } | { error: string };

const JSON_OK: ContentTypeResult = { format: 'json' };
const PROTO_OK: ContentTypeResult = { format: 'proto' };

/**
 * `application/json` (charset utf-8 or none) → json; `application/x-protobuf`
 * or `application/protobuf` → proto; anything else → an error for a 415.
 */
export function parseContentType(header: string | undefined): ContentTypeResult {
  // fast path: the exact values OTel SDKs send
  if (header === 'application/json') return JSON_OK;
  if (header === 'application/x-protobuf') return PROTO_OK;
  if (header === undefined || header === '') return { error: `missing Content-Type; send ${ACCEPTED_CONTENT_TYPES}` };
  const semi = header.indexOf(';');
  const media = (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
  let format: BodyFormat;
  if (media === 'application/json') format = 'json';
  else if (media === 'application/x-protobuf' || media === 'application/protobuf') format = 'proto';
  else return { error: `unsupported Content-Type ${JSON.stringify(header)}; send ${ACCEPTED_CONTENT_TYPES}` };
  if (semi >= 0 && format === 'json') {
    for (const param of header.slice(semi + 1).split(';')) {
      const eq = param.indexOf('=');
      if (eq < 0) continue;
      if (param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
      const cs = param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase();
      if (cs !== 'utf-8' && cs !== 'utf8') {
        return { error: `unsupported charset ${JSON.stringify(cs)} in Content-Type; JSON must be UTF-8` };
      }
    }
  }
  return format === 'json' ? JSON_OK : PROTO_OK;
}

export type ContentEncodingResult = { encoding: BodyEncoding } | { error: string };

const IDENTITY: ContentEncodingResult = { encoding: 'identity' };
const GZIP: ContentEncodingResult = { encoding: 'gzip' };
const DEFLATE: ContentEncodingResult = { encoding: 'deflate' };

function oneEncoding(token: string): ContentEncodingResult | undefined {
  switch (token) {
    case '':
    case 'identity':
    case 'none':
      return IDENTITY;
    case 'gzip':
    case 'x-gzip':
      return GZIP;
    case 'deflate':
    case 'zlib':
      return DEFLATE;
    default:
      return undefined;
  }
}

/**
 * gzip / x-gzip, deflate / zlib (zlib-wrapped or raw, told apart by the body),
 * identity / none / absent. A list ("gzip, identity") may name at most one
 * real encoding. Anything else → an error answered with 400, like the
 * Collector's confighttp decompressor ("unsupported Content-Encoding").
 */
export function parseContentEncoding(header: string | undefined): ContentEncodingResult {
  if (header === undefined) return IDENTITY;
  const simple = oneEncoding(header);
  if (simple !== undefined) return simple;
  let found: ContentEncodingResult = IDENTITY;
  for (const raw of header.split(',')) {
    const r = oneEncoding(raw.trim().toLowerCase());
    if (r === undefined) return { error: `unsupported Content-Encoding ${JSON.stringify(raw.trim())}; send gzip, deflate or identity` };
    if (r === IDENTITY) continue;
    if (found !== IDENTITY) return { error: `unsupported Content-Encoding ${JSON.stringify(header)}: only one compression may be applied` };
    found = r;
  }
  return found;
}

/** True when a deflate body carries a zlib header (RFC 1950) rather than raw deflate (RFC 1951). */
export function isZlibWrapped(buf: Uint8Array): boolean {
  if (buf.length < 2) return false;
  const cmf = buf[0] as number;
  const flg = buf[1] as number;
  return (cmf & 0x0f) === 8 && cmf >> 4 <= 7 && ((cmf << 8) | flg) % 31 === 0;
}

/** True when the body starts with the gzip magic (some clients label gzip as deflate). */
export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/**
 * Byte offset of the first byte that is not part of a well-formed UTF-8
 * sequence (overlongs, surrogates and > U+10FFFF included), or -1. Only run
 * after a fast validity check failed, to name the offset.
 */
export function invalidUtf8Offset(b: Uint8Array): number {
  const n = b.length;
  let i = 0;
  while (i < n) {
    const c = b[i] as number;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return i;
    const c1 = b[i + 1];
    if (c1 === undefined || c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= need; k++) {
      const ck = b[i + k];
      if (ck === undefined || ck < 0x80 || ck > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** At most `max` error messages joined, with a count of the rest. */
export function summarizeErrors(errors: readonly string[], max = 5): string {
  if (errors.length <= max) return errors.join('; ');
  return `${errors.slice(0, max).join('; ')}; and ${errors.length - max} more`;
}

/**
 * A wall-clock reading paired with a monotonic one: `Date.now()` read between
 * two `hr()` reads, the tightest of up to `tries` attempts. A process
 * preempted (or collecting garbage) between a lone pair of reads would shift
 * every arrival time derived from the pair by that pause until the next
 * anchor; with the bracket the error is at most half the tightest bracket,
 * plus half a millisecond for `Date.now()`'s truncation (the reading is taken
 * as the middle of its millisecond). Clocks are parameters for tests.
 */
export function pairClocks(
  wallMs: () => number = () => Date.now(),
  hr: () => bigint = () => process.hrtime.bigint(),
  tries = 8,
): { wallNs: bigint; hr: bigint; widthNs: bigint } {
  let best: { wallNs: bigint; hr: bigint; widthNs: bigint } | undefined;
  for (let i = 0; i < tries; i++) {
    const h1 = hr();
    const w = wallMs();
    const h2 = hr();
    const widthNs = h2 - h1;
    if (best === undefined || widthNs < best.widthNs) best = { wallNs: BigInt(w) * 1_000_000n + 500_000n, hr: h1 + widthNs / 2n, widthNs };
    if (widthNs <= 100_000n) break; // within 0.1 ms: as good as it gets
  }
  return best!;
}

// Arrival time in ns: process.hrtime anchored to the wall clock, re-anchored
// every minute so that clock adjustments are followed.
let anchor = pairClocks();
const REANCHOR_NS = 60_000_000_000n;

/** Nanoseconds since the Unix epoch, with sub-millisecond resolution (within about half a millisecond of the wall clock). */
export function nowUnixNano(): bigint {
  const elapsed = process.hrtime.bigint() - anchor.hr;
  if (elapsed > REANCHOR_NS) {
    anchor = pairClocks();
    return anchor.wallNs + (process.hrtime.bigint() - anchor.hr);
  }
  return anchor.wallNs + elapsed;
}

/** Value of query parameter `name` in a request URL (first occurrence), undefined when absent or not decodable. */
export function queryParam(url: string, name: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  for (const part of url.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    if (k !== name) continue;
    try {
      return decodeURIComponent((eq < 0 ? '' : part.slice(eq + 1)).replace(/\+/g, ' '));
    } catch {
      return undefined;
    }
  }
  return undefined;
}
