/**
 * The StatsD / DogStatsD line parser: pure, no I/O. It reads the packet's
 * bytes (a UDP datagram as received; strings are parsed as their UTF-8) and
 * allocates nothing per line but set members: name and tags are decoded only
 * when a sink reads them (a new series), found otherwise by position and hash.
 *
 *   <name>:<value>[:<value>...]|<type>[|@<rate>][|#<tag>[:<v>],...][|T<unix seconds>][|c:...][|e:...][|card:...]
 *
 * Types: c (counter), g (gauge; a leading + or - adjusts the current value),
 * ms (timer), h (histogram), d (distribution), s (set). Several values packed
 * into one line (DogStatsD 1.1) each count as one sample. Unknown `|x:...`
 * fields (container id, external data, cardinality) are ignored, as the
 * Datadog Agent does. DogStatsD events (`_e{`) and service checks (`_sc|`)
 * are not metrics: they are reported as `unsupported` and skipped.
 *
 * `parsePacket` splits on `\n` (a trailing `\r` is dropped) and reports each
 * line to the sink, or the reason it was refused: one bad line never costs the
 * rest of the packet.
 */

import { hash53, hash53Ascii } from '../../src/sketch/hash.js';

export type MetricType = 'c' | 'g' | 'ms' | 'h' | 'd' | 's';

export type BadLineReason =
  | 'no_value' // no ':' after the name
  | 'empty_name'
  | 'no_type' // no '|type'
  | 'unknown_type'
  | 'bad_value' // not a number (c, g, ms, h, d), empty, or a negative timer
  | 'bad_sample_rate' // not @<number> in (0, 1]
  | 'bad_timestamp' // not T<positive integer>
  | 'bad_tags' // '#' with an empty tag
  | 'unsupported'; // DogStatsD events and service checks

export const BAD_LINE_REASONS: readonly BadLineReason[] = [
  'no_value',
  'empty_name',
  'no_type',
  'unknown_type',
  'bad_value',
  'bad_sample_rate',
  'bad_timestamp',
  'bad_tags',
  'unsupported',
];

/** One parsed line; the parser reuses one instance, so a sink copies what it keeps. */
export interface ParsedLine {
  /** the metric name (sliced from the packet on first read) */
  readonly name: string;
  type: MetricType;
  /** numeric values (every type but `s`); the first `count` entries are this line's (the arrays are reused) */
  values: number[];
  /** set members (type `s`), the first `count` (decoded from the packet on first read; a sink that only counts them uses memberHash) */
  readonly members: string[];
  /** where set member i is in `bytes`: [memberStart[i], memberEnd[i]) */
  readonly memberStart: number[];
  readonly memberEnd: number[];
  /** for gauges, per value: true when it was written with a leading + or - (an adjustment) */
  deltas: boolean[];
  /** number of packed values (or members) on this line */
  count: number;
  /** 1 when absent */
  sampleRate: number;
  /** the raw tag list after `#` ('' when none; sliced from the packet on first read) */
  readonly tags: string;
  /** unix seconds from `|T`, 0 when absent */
  timestamp: number;
  /**
   * Where the name and the tag list are in `bytes` (the packet; byte
   * offsets [nameStart, nameEnd), [tagsStart, tagsEnd); an empty tag span
   * when none), and a 32-bit hash of name, type and tag list as written: what
   * a sink needs to find a series without decoding a string per line (see
   * Aggregator).
   */
  readonly bytes: Buffer;
  readonly nameStart: number;
  readonly nameEnd: number;
  readonly tagsStart: number;
  readonly tagsEnd: number;
  readonly hash: number;
}

class Line implements ParsedLine {
  declare readonly name: string;
  declare readonly tags: string;
  declare readonly members: string[];
  type: MetricType = 'c';
  values: number[] = [];
  memberStart: number[] = [];
  memberEnd: number[] = [];
  memberStrs: string[] = [];
  /** memberStrs holds this line's members */
  membersDecoded = true;
  deltas: boolean[] = [];
  count = 0;
  sampleRate = 1;
  timestamp = 0;
  bytes: Buffer = EMPTY;
  nameStart = 0;
  nameEnd = 0;
  tagsStart = 0;
  tagsEnd = 0;
  hash = 0;
  cachedName: string | undefined = '';
  cachedTags: string | undefined = '';
  constructor() {
    // own enumerable accessors, so `{ ...line }` copies name and tags too
    Object.defineProperty(this, 'name', { enumerable: true, get: () => (this.cachedName ??= this.bytes.toString('utf8', this.nameStart, this.nameEnd)) });
    Object.defineProperty(this, 'tags', { enumerable: true, get: () => (this.cachedTags ??= this.bytes.toString('utf8', this.tagsStart, this.tagsEnd)) });
    Object.defineProperty(this, 'members', {
      enumerable: true,
      get: () => {
        if (!this.membersDecoded) {
          for (let i = 0; i < this.count; i++) this.memberStrs[i] = this.bytes.toString('utf8', this.memberStart[i], this.memberEnd[i]);
          this.membersDecoded = true;
        }
        return this.memberStrs;
      },
    });
  }
}

const EMPTY = Buffer.alloc(0);

export function newParsedLine(): ParsedLine {
  return new Line();
}

const C_CR = 13,
  C_LF = 10,
  C_COLON = 58,
  C_PIPE = 124,
  C_AT = 64,
  C_HASH = 35,
  C_T = 84,
  C_PLUS = 43,
  C_MINUS = 45,
  C_DOT = 46,
  C_0 = 48,
  C_9 = 57,
  C_E = 101,
  C_UE = 69,
  C_COMMA = 44,
  C_UNDERSCORE = 95;

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22];
const STRICT_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Strings (tests, TCP callers) are parsed as their UTF-8 bytes. */
function asBytes(s: string | Uint8Array): Buffer {
  return typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.isBuffer(s) ? s : Buffer.from(s.buffer, s.byteOffset, s.byteLength);
}

/**
 * A strict decimal number in s[a, b) (bytes, or a string's UTF-16 indices):
 * optional sign, digits, optional fraction, optional exponent. NaN when it is
 * anything else (Number() would take '', ' 1', '0x10', 'Infinity'). Exact
 * for the common case (≤ 15 significant digits, no exponent) without
 * allocating.
 */
export function parseNumber(s: string | Uint8Array, a: number, b: number): number {
  if (typeof s === 'string') {
    const bytes = Buffer.from(s.slice(a, b), 'utf8');
    return numberAt(bytes, 0, bytes.length);
  }
  return numberAt(s, a, b);
}

function numberAt(s: Uint8Array, a: number, b: number): number {
  if (a >= b) return NaN;
  let i = a;
  let neg = false;
  let c = s[i] as number;
  if (c === C_PLUS || c === C_MINUS) {
    neg = c === C_MINUS;
    i++;
  }
  let mant = 0;
  let digits = 0;
  let frac = 0;
  let seenDot = false;
  for (; i < b; i++) {
    c = s[i] as number;
    if (c >= C_0 && c <= C_9) {
      mant = mant * 10 + (c - C_0);
      digits++;
      if (seenDot) frac++;
    } else if (c === C_DOT && !seenDot) {
      seenDot = true;
    } else {
      break;
    }
  }
  if (digits === 0) return NaN;
  if (i < b || digits > 15 || frac > 22) {
    if (i < b && c !== C_E && c !== C_UE) return NaN;
    const str = Buffer.prototype.latin1Slice.call(s, a, b) as string;
    return STRICT_NUMBER.test(str) ? Number(str) : NaN;
  }
  const v = frac === 0 ? mant : mant / (POW10[frac] as number);
  return neg ? -v : v;
}

function typeOf(s: Uint8Array, a: number, b: number): MetricType | undefined {
  const n = b - a;
  const c0 = s[a];
  if (n === 1) {
    switch (c0) {
      case 99:
        return 'c';
      case 103:
        return 'g';
      case 104:
        return 'h';
      case 100:
        return 'd';
      case 115:
        return 's';
    }
    return undefined;
  }
  if (n === 2 && c0 === 109 && s[a + 1] === 115) return 'ms';
  return undefined;
}

/**
 * Parse one line s[a, b) (without its newline) into `out`. Returns undefined
 * when the line is good, else the reason it is not. A string is parsed as its
 * UTF-8 bytes (a and b are then string indices); `out`'s positions are byte
 * offsets into `out.bytes`.
 */
export function parseLine(s: string | Uint8Array, a: number, b: number, line: ParsedLine): BadLineReason | undefined {
  if (typeof s === 'string') {
    const bytes = Buffer.from(s.slice(a, b), 'utf8');
    return lineAt(bytes, 0, bytes.length, line as Line);
  }
  return lineAt(asBytes(s), a, b, line as Line);
}

function lineAt(s: Buffer, a: number, b: number, out: Line): BadLineReason | undefined {
  if (b > a && s[b - 1] === C_CR) b--;
  const c0 = s[a];
  if (c0 === C_UNDERSCORE && b - a >= 3) {
    const c1 = s[a + 1];
    const c2 = s[a + 2];
    if ((c1 === C_E && c2 === 123) || (c1 === 115 && c2 === 99 && s[a + 3] === C_PIPE)) return 'unsupported';
  }
  // name (hashed on the way: FNV-1a over its bytes)
  let i = a;
  let h = 0x811c9dc5;
  for (; i < b; i++) {
    const c = s[i] as number;
    if (c === C_COLON) break;
    h = Math.imul(h ^ c, 0x01000193);
  }
  if (i >= b) return 'no_value';
  if (i === a) return 'empty_name';
  const nameEnd = i;
  // value section up to the first '|'
  const vStart = i + 1;
  let j = vStart;
  while (j < b && s[j] !== C_PIPE) j++;
  if (j >= b) return 'no_type';
  const vEnd = j;
  // type
  let k = j + 1;
  while (k < b && s[k] !== C_PIPE) k++;
  const type = typeOf(s, j + 1, k);
  if (type === undefined) return j + 1 === k ? 'no_type' : 'unknown_type';
  // optional fields
  let rate = 1;
  let tagsStart = 0;
  let tagsEnd = 0;
  let th = 0;
  let ts = 0;
  while (k < b) {
    const f = k + 1;
    let e = f;
    while (e < b && s[e] !== C_PIPE) e++;
    const fc = s[f];
    if (fc === C_AT) {
      rate = numberAt(s, f + 1, e);
      if (!(rate > 0 && rate <= 1)) return 'bad_sample_rate';
    } else if (fc === C_HASH) {
      if (e > f + 1) {
        // an empty tag (",,", leading or trailing ',') is malformed
        let prev = f;
        th = 0x811c9dc5;
        for (let t = f + 1; t < e; t++) {
          const c = s[t] as number;
          if (c === C_COMMA) {
            if (t === prev + 1) return 'bad_tags';
            prev = t;
          }
          th = Math.imul(th ^ c, 0x01000193);
        }
        if (e === prev + 1) return 'bad_tags';
        tagsStart = f + 1;
        tagsEnd = e;
      }
    } else if (fc === C_T) {
      ts = numberAt(s, f + 1, e);
      if (!(Number.isInteger(ts) && ts > 0)) return 'bad_timestamp';
    }
    // anything else (c:<container>, e:<external data>, card:<cardinality>, empty) is ignored
    k = e;
  }
  // values (after the fields so a bad rate or tag never leaves half a line behind)
  const values = out.values;
  const mStart = out.memberStart;
  const mEnd = out.memberEnd;
  const deltas = out.deltas;
  let n = 0;
  let p = vStart;
  for (;;) {
    let q = p;
    while (q < vEnd && s[q] !== C_COLON) q++;
    if (type === 's') {
      if (q === p) return 'bad_value';
      mStart[n] = p;
      mEnd[n++] = q;
    } else {
      const v = numberAt(s, p, q);
      if (!Number.isFinite(v) || (v < 0 && type === 'ms')) return 'bad_value';
      if (type === 'g') {
        const sc = s[p];
        deltas[n] = sc === C_PLUS || sc === C_MINUS;
      }
      values[n++] = v;
    }
    if (q >= vEnd) break;
    p = q + 1;
  }
  out.count = n;
  out.membersDecoded = type !== 's';
  out.bytes = s;
  out.nameStart = a;
  out.nameEnd = nameEnd;
  out.cachedName = undefined;
  out.tagsStart = tagsStart;
  out.tagsEnd = tagsEnd;
  out.cachedTags = tagsEnd === tagsStart ? '' : undefined;
  out.type = type;
  out.hash = (Math.imul(h ^ (type.charCodeAt(0) + 256 * type.length), 0x01000193) ^ th) | 0;
  out.sampleRate = rate;
  out.timestamp = ts;
  return undefined;
}

/**
 * hash53(member i as a string, seed 0) (src/sketch/hash.ts; what
 * HyperLogLog.addString adds) computed from the packet's bytes: for ASCII the
 * UTF-16 code units are the bytes, so no string is decoded per member; any
 * other byte falls back to decoding and hash53.
 */
export function memberHash(l: ParsedLine, i: number): number {
  const a = l.memberStart[i] as number;
  const b = l.memberEnd[i] as number;
  const h = hash53Ascii(l.bytes, a, b);
  return h >= 0 ? h : hash53(l.bytes.toString('utf8', a, b));
}

export interface LineSink {
  line(l: ParsedLine): void;
  /** a refused line: its bytes are s[a, b) */
  bad(reason: BadLineReason, s: Buffer, a: number, b: number): void;
}

/** Parse every non-empty line of a packet (or a TCP chunk of whole lines); a string is parsed as its UTF-8 bytes. */
export function parsePacket(packet: string | Uint8Array, out: ParsedLine, sink: LineSink): void {
  const s = asBytes(packet);
  const line = out as Line;
  const n = s.length;
  let a = 0;
  while (a < n) {
    let b = s.indexOf(C_LF, a);
    if (b < 0) b = n;
    if (b > a && !(b === a + 1 && s[a] === C_CR)) {
      const r = lineAt(s, a, b, line);
      if (r === undefined) sink.line(line);
      else sink.bad(r, s, a, b);
    }
    a = b + 1;
  }
}

/**
 * Tags `k:v,k2` → [key, value] pairs; a tag without ':' gets the value ''.
 * The first ':' splits (`url:http://x` → url = `http://x`).
 */
export function parseTags(tags: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (tags === '') return out;
  let a = 0;
  const n = tags.length;
  while (a <= n) {
    let b = tags.indexOf(',', a);
    if (b < 0) b = n;
    if (b > a) {
      const c = tags.indexOf(':', a);
      if (c >= 0 && c < b) out.push([tags.slice(a, c), tags.slice(c + 1, b)]);
      else out.push([tags.slice(a, b), '']);
    }
    a = b + 1;
  }
  return out;
}
