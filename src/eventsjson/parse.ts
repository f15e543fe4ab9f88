/**
 * Pure parsing of `POST /v1/errors` bodies into events. No I/O.
 *
 * Body: one JSON object, a JSON array of objects, or NDJSON (one object per
 * line; blank lines skipped). Each event:
 *
 * ```json
 * {"timestamp": "2024-05-01T12:00:00.123Z", "attributes": {"_tx": "a1", "guid": "u-7", "error.type": "Crash", "app.version": "2.1.0"}}
 * ```
 *
 * - `timestamp` (optional; arrival time when absent or null): ISO-8601
 *   (`2024-05-01T12:00:00Z`, fractional seconds to the nanosecond, `Z` or
 *   `±hh:mm`; without a zone it is UTC), or epoch seconds / milliseconds /
 *   microseconds / nanoseconds as a number or a digit string, told apart by
 *   magnitude (< 1e11 s, < 1e14 ms, < 1e17 µs, else ns). Digit strings are
 *   exact; numbers beyond 2^53 (nanoseconds as JSON numbers) lose precision
 *   below ~256 ns, so send nanoseconds as strings.
 * - `attributes` (optional): a flat object of string, number or boolean values.
 * - any other top-level field is rejected (with the reason), so typos are seen.
 *
 * A rejected event names its `index` (0-based position among the events; for
 * NDJSON also its 1-based `line`) and the reason; the other events are kept.
 */
import type { Attributes } from '../model/metrics.js';
import type { Event } from '../model/events.js';

export interface ParseLimits {
  maxEvents: number;
  maxAttributes: number;
  maxValueLength: number;
  maxKeyLength: number;
}

export interface Rejection {
  index: number;
  line?: number;
  reason: string;
}

export interface ParseResult {
  events: Event[];
  /** number of rejected events (all of them, even when `rejections` is capped) */
  rejected: number;
  /** the first `maxListed` rejections */
  rejections: Rejection[];
  /** false when not a single event could be read (the request gets 400) */
  readable: boolean;
  /** why nothing could be read, when readable is false */
  error?: string;
}

const MAX_LISTED = 100;

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : typeof v;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;
const DIGITS = /^(\d+)(?:\.(\d+))?$/;

/** the last timestamp value seen and its result: events of one request mostly share their timestamp, so most events skip the parse and the BigInt arithmetic */
const NOTHING = Symbol('nothing');
let memoIn: unknown = NOTHING;
let memoOut: bigint | string = '';

/** A timestamp in nanoseconds, or a reason string. */
export function parseTimestamp(v: unknown): bigint | string {
  if (v === memoIn) return memoOut;
  const out = parseTimestampUncached(v);
  memoIn = v;
  memoOut = out;
  return out;
}

function parseTimestampUncached(v: unknown): bigint | string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v <= 0) return `timestamp must be a positive number of epoch seconds, milliseconds or nanoseconds, got ${v}`;
    if (v < 1e11) return BigInt(Math.round(v * 1e6)) * 1000n;
    if (v < 1e14) return BigInt(Math.round(v * 1000)) * 1000n;
    if (v < 1e17) return BigInt(Math.round(v)) * 1000n;
    return BigInt(Math.round(v));
  }
  if (typeof v !== 'string') return `timestamp must be an ISO-8601 string or epoch seconds/milliseconds/nanoseconds, got ${typeName(v)}`;
  const s = v.trim();
  const d = DIGITS.exec(s);
  if (d !== null) {
    const int = d[1]!.replace(/^0+(?=\d)/, '');
    const frac = d[2] ?? '';
    // unit by the magnitude of the integer part
    const unitDigits = int.length <= 11 ? 9 : int.length <= 14 ? 6 : int.length <= 17 ? 3 : 0;
    if (unitDigits === 0 && frac !== '') return `timestamp ${JSON.stringify(v)}: nanoseconds cannot have a fraction`;
    const ns = BigInt(int) * 10n ** BigInt(unitDigits) + (unitDigits === 0 ? 0n : BigInt((frac + '0'.repeat(unitDigits)).slice(0, unitDigits) || '0'));
    if (ns <= 0n) return `timestamp must be after 1970-01-01, got ${JSON.stringify(v)}`;
    return ns;
  }
  const m = ISO.exec(s);
  if (m === null)
    return `timestamp ${JSON.stringify(v.length > 64 ? v.slice(0, 64) + '…' : v)} is not ISO-8601 (e.g. 2024-05-01T12:00:00.123Z) or epoch seconds/milliseconds/nanoseconds`;
  const [y, mo, da, h, mi] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number, number];
  const sec = m[6] === undefined ? 0 : Number(m[6]);
  const ms = Date.UTC(y, mo - 1, da, h, mi, sec);
  const check = new Date(ms);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== da || h > 23 || mi > 59 || sec > 59) {
    return `timestamp ${JSON.stringify(v)} is not a valid date and time`;
  }
  let offsetMin = 0;
  const z = m[8];
  if (z !== undefined && z !== 'Z' && z !== 'z') {
    const digits = z.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (oh > 23 || om > 59) return `timestamp ${JSON.stringify(v)} has an invalid UTC offset`;
    offsetMin = (z[0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const fracNs = m[7] === undefined ? 0n : BigInt((m[7] + '00000000').slice(0, 9));
  const ns = (BigInt(ms) - BigInt(offsetMin) * 60_000n) * 1_000_000n + fracNs;
  if (ns <= 0n) return `timestamp must be after 1970-01-01, got ${JSON.stringify(v)}`;
  return ns;
}

/** One decoded JSON value → an event, or the reason it is rejected. */
function toEvent(o: unknown, arrivalNs: bigint, lim: ParseLimits): Event | string {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return `an event must be a JSON object, got ${typeName(o)}`;
  let time = arrivalNs;
  let attributes: Attributes | undefined;
  for (const k in o) {
    const v = (o as Record<string, unknown>)[k];
    if (k === 'timestamp') {
      if (v === null || v === undefined) continue;
      const t = parseTimestamp(v);
      if (typeof t === 'string') return t;
      time = t;
    } else if (k === 'attributes') {
      if (v === null || typeof v !== 'object' || Array.isArray(v))
        return `"attributes" must be an object of string, number or boolean values, got ${typeName(v)}`;
      attributes = v as Attributes;
    } else {
      return `unknown field ${JSON.stringify(k.length > 64 ? k.slice(0, 64) + '…' : k)}; an event has "timestamp" and "attributes" (put attributes under "attributes")`;
    }
  }
  if (attributes === undefined) return { timeUnixNano: time, attributes: {} };
  let n = 0;
  for (const k in attributes) {
    if (++n > lim.maxAttributes) return `more than max_attributes (${lim.maxAttributes}) attributes`;
    if (k.length > lim.maxKeyLength) return `attribute name of ${k.length} characters is longer than max_key_length (${lim.maxKeyLength})`;
    const v = attributes[k];
    switch (typeof v) {
      case 'string':
        if (v.length > lim.maxValueLength)
          return `attribute ${JSON.stringify(k)}: value of ${v.length} characters is longer than max_value_length (${lim.maxValueLength})`;
        break;
      case 'number':
      case 'boolean':
        break;
      default:
        return `attribute ${JSON.stringify(k)}: value must be a string, number or boolean, got ${typeName(v)}`;
    }
  }
  return { timeUnixNano: time, attributes };
}

class Collector {
  readonly events: Event[] = [];
  rejected = 0;
  readonly rejections: Rejection[] = [];
  constructor(
    readonly arrivalNs: bigint,
    readonly lim: ParseLimits,
  ) {}
  reject(index: number, reason: string, line?: number): void {
    this.rejected++;
    if (this.rejections.length < MAX_LISTED) this.rejections.push(line === undefined ? { index, reason } : { index, line, reason });
  }
  take(o: unknown, index: number, line?: number): void {
    if (index >= this.lim.maxEvents) {
      this.reject(index, `beyond max_events_per_request (${this.lim.maxEvents})`, line);
      return;
    }
    const e = toEvent(o, this.arrivalNs, this.lim);
    if (typeof e === 'string') this.reject(index, e, line);
    else this.events.push(e);
  }
  result(readable: boolean, error?: string): ParseResult {
    return { events: this.events, rejected: this.rejected, rejections: this.rejections, readable, ...(error !== undefined ? { error } : {}) };
  }
}

function jsonError(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Parse a body. `ndjson` says the Content-Type announced NDJSON; otherwise a
 * body that is not one JSON value is still read as NDJSON when it has lines.
 */
export function parseErrorsBody(text: string, arrivalNs: bigint, lim: ParseLimits, ndjson = false): ParseResult {
  const c = new Collector(arrivalNs, lim);
  let i = 0;
  while (i < text.length && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 10 || text.charCodeAt(i) === 13 || text.charCodeAt(i) === 9)) i++;
  if (i === text.length) return c.result(false, 'empty body; send a JSON object, a JSON array of objects, or NDJSON');
  const first = text.charCodeAt(i);
  if (first === 91 /* [ */ && !ndjson) {
    let arr: unknown;
    try {
      arr = JSON.parse(text);
    } catch (e) {
      return c.result(false, `malformed JSON array: ${jsonError(e)}`);
    }
    const list = arr as unknown[];
    if (list.length === 0) return c.result(false, 'empty array: no events');
    for (let j = 0; j < list.length; j++) c.take(list[j], j);
    return c.result(true);
  }
  // NDJSON fast path: every line one value, no blank lines → one JSON.parse of the lines as an array
  const body = text.trimEnd();
  if (first === 123 /* { */) {
    let arr: unknown[] | undefined;
    try {
      arr = JSON.parse('[' + (body.includes('\n') ? body.replaceAll('\n', ',') : body) + ']') as unknown[];
    } catch {
      arr = undefined;
    }
    if (arr !== undefined) {
      const lines = arr.length > 1;
      for (let j = 0; j < arr.length; j++) c.take(arr[j], j, lines ? j + 1 : undefined);
      return c.result(true);
    }
    if (!ndjson) {
      // one pretty-printed object spanning several lines
      let one: unknown;
      let ok = true;
      try {
        one = JSON.parse(body);
      } catch {
        ok = false;
      }
      if (ok) {
        c.take(one, 0);
        return c.result(true);
      }
    }
  }
  // line by line: a malformed line rejects only itself
  let index = 0;
  let parsedAny = false;
  let firstError: string | undefined;
  let start = 0;
  let lineNo = 0;
  while (start <= body.length) {
    let end = body.indexOf('\n', start);
    if (end < 0) end = body.length;
    lineNo++;
    const line = body.slice(start, end);
    start = end + 1;
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
      parsedAny = true;
      c.take(v, index, lineNo);
    } catch (e) {
      const msg = `malformed JSON: ${jsonError(e)}`;
      firstError ??= `line ${lineNo}: ${msg}`;
      c.reject(index, msg, lineNo);
    }
    index++;
  }
  if (!parsedAny) return c.result(false, `no line could be read as JSON (${firstError ?? 'no lines'})`);
  return c.result(true);
}

/**
 * Bodies up to this many bytes are decoded whole; larger NDJSON bodies in
 * blocks of whole lines of about this size. V8 makes a string of more than
 * 128 KiB as a large object, which costs about 40 times as much as one just
 * below (Node 20: ~780 µs for a 151 KB body against ~17 µs in 64 KiB
 * pieces); 48 KiB of UTF-8 is at most 96 KiB as a two-byte string.
 */
const BLOCK = 48 * 1024;

/** how many bodies parseErrorsBytes() read in blocks and whole (tests: the block path is the one taken) */
export const bytesPath = { blocks: 0, whole: 0 };

function isSpace(b: number): boolean {
  return b === 32 || b === 10 || b === 13 || b === 9 || b === 11 || b === 12;
}

/**
 * parseErrorsBody() of a UTF-8 body (BOM already dropped), with the same
 * result: a large NDJSON body whose lines each hold one value is decoded and
 * parsed in blocks of whole lines (each as one JSON array, as the whole body
 * would be); any other body, or a block that does not parse that way, goes
 * through parseErrorsBody() whole.
 */
export function parseErrorsBytes(body: Buffer, arrivalNs: bigint, lim: ParseLimits, ndjson = false): ParseResult {
  const whole = (): ParseResult => {
    bytesPath.whole++;
    return parseErrorsBody(body.toString('utf8'), arrivalNs, lim, ndjson);
  };
  if (body.length <= BLOCK) return whole();
  let i = 0;
  while (i < body.length && (body[i] === 32 || body[i] === 10 || body[i] === 13 || body[i] === 9)) i++;
  if (body[i] !== 123 /* { */) return whole();
  // the end trimEnd() leaves, as far as ASCII whitespace goes (other Unicode spaces: the last block fails, the whole path)
  let end = body.length;
  while (end > i && isSpace(body[end - 1] as number)) end--;
  const values: unknown[][] = [];
  let n = 0;
  // from the first byte: leading blank lines make the whole body's array parse fail, and so they must here
  for (let start = 0; start < end;) {
    let stop = start + BLOCK >= end ? end : body.lastIndexOf(10, start + BLOCK);
    if (stop <= start) stop = body.indexOf(10, start + BLOCK); // one line longer than a block: the block is that line
    if (stop < 0 || stop > end) stop = end;
    const block = body.toString('utf8', start, stop);
    // a blank line makes the whole body's array parse fail (a block with one fails to parse too, but a block of
    // nothing else would parse as [])
    if (block.trim() === '') return whole();
    let arr: unknown[];
    try {
      arr = JSON.parse('[' + block.replaceAll('\n', ',') + ']') as unknown[];
    } catch {
      return whole();
    }
    values.push(arr);
    n += arr.length;
    start = stop + 1;
  }
  bytesPath.blocks++;
  const c = new Collector(arrivalNs, lim);
  const lines = n > 1;
  let j = 0;
  for (const arr of values)
    for (const v of arr) {
      c.take(v, j, lines ? j + 1 : undefined);
      j++;
    }
  return c.result(true);
}
