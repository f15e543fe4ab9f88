/**
 * A fast path for OTLP/JSON metrics bodies: the common shape read straight
 * from the bytes into the model, without the UTF-8 text, `JSON.parse`'s
 * object graph and the walk over it (./json.ts `decodeMetricsJson`).
 *
 * It answers only what it reads exactly as the general path would, and
 * declines (undefined) everything else, so the caller runs the general path
 * on the same body and gets the same answer, messages and rejections as
 * before. Taken: strings with or without escapes and UTF-8 (a body with
 * non-ASCII bytes is checked with `isUtf8` once, as the general path checks
 * it; invalid UTF-8 and a BOM are declined); lowerCamelCase keys written
 * without escapes; gauge, sum and histogram metrics; attributes of
 * stringValue, intValue, doubleValue, boolValue, arrayValue and kvlistValue;
 * 64-bit integers as decimal strings or integer literals; doubles as numbers
 * or "NaN" / "Infinity" / "-Infinity"; empty exemplars; unknown keys
 * (skipped). Declined: anything the general path would reject or count
 * (a missing name, an unknown temporality, a point without a value, a limit
 * exceeded, ...), malformed JSON, a key given twice, a snake_case key, a
 * value of an unusual JSON type (`"flags": "1"`, `"name": 5`), exponential
 * histograms, summaries, metadata, exemplars, bytesValue.
 * The differential test (test/otlp/jsonscan.test.ts) holds it to that.
 *
 * Numbers as `JSON.parse` reads them: up to 15 significant digits without an
 * exponent exactly as integer ÷ power of ten (IEEE division rounds
 * correctly), others through `Number`. Integers for bigint fields exactly
 * (more than 15 digits through `BigInt` of the digits, as the general
 * path's re-parse).
 */
import { isUtf8 } from 'node:buffer';
import { setAttr } from '../model/attributes.js';
import type {
  AttrValue,
  Attributes,
  HistogramDataPoint,
  KvList,
  Metric,
  MetricsBatch,
  NumberDataPoint,
  Resource,
  ResourceMetrics,
  Scope,
  ScopeMetrics,
  Temporality,
} from '../model/metrics.js';
import type { DecodeLimits, DecodeResult } from './types.js';
import { resolveLimits } from './types.js';
import { histogramProblem, safeToBigInt } from './internal.js';
import { readJsonNumber } from '../jsonnumber.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACK = 0x5b;
const RBRACK = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const BACKSLASH = 0x5c;
/** nesting allowed in values skipped (unknown keys) */
const MAX_SKIP_DEPTH = 64;

/** 1 for the bytes a string holds as they are on the fast path: printable ASCII but `"` and `\\` */
const PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 0x80; c++) if (c !== QUOTE && c !== BACKSLASH) PLAIN[c] = 1;

/** thrown (one instance, no stack) when the body leaves the fast path */
class Leave {}
const LEAVE = new Leave();

/**
 * Every key the general path reads somewhere in a metrics request. An
 * unknown key is skipped only when it is none of these: one the general
 * path would read where the fast path does not (a snake_case name, a key of
 * another object) declines instead.
 */
const READ_KEYS = new Set([
  'resourceMetrics',
  'resource_metrics',
  'resource',
  'scopeMetrics',
  'scope_metrics',
  'schemaUrl',
  'schema_url',
  'attributes',
  'droppedAttributesCount',
  'dropped_attributes_count',
  'scope',
  'metrics',
  'name',
  'version',
  'description',
  'unit',
  'metadata',
  'gauge',
  'sum',
  'histogram',
  'exponentialHistogram',
  'exponential_histogram',
  'summary',
  'dataPoints',
  'data_points',
  'aggregationTemporality',
  'aggregation_temporality',
  'isMonotonic',
  'is_monotonic',
  'startTimeUnixNano',
  'start_time_unix_nano',
  'timeUnixNano',
  'time_unix_nano',
  'flags',
  'asInt',
  'as_int',
  'asDouble',
  'as_double',
  'exemplars',
  'count',
  'bucketCounts',
  'bucket_counts',
  'explicitBounds',
  'explicit_bounds',
  'min',
  'max',
  'key',
  'value',
  'values',
  'stringValue',
  'string_value',
  'intValue',
  'int_value',
  'doubleValue',
  'double_value',
  'boolValue',
  'bool_value',
  'arrayValue',
  'array_value',
  'kvlistValue',
  'kvlist_value',
  'bytesValue',
  'bytes_value',
]);

/** a key's bytes and its closing quote */
function keyBytes(name: string): Uint8Array {
  return Buffer.from(name + '"', 'latin1');
}

const K_RESOURCE_METRICS = keyBytes('resourceMetrics');
const K_RESOURCE = keyBytes('resource');
const K_SCOPE_METRICS = keyBytes('scopeMetrics');
const K_SCHEMA_URL = keyBytes('schemaUrl');
const K_ATTRIBUTES = keyBytes('attributes');
const K_DROPPED = keyBytes('droppedAttributesCount');
const K_SCOPE = keyBytes('scope');
const K_METRICS = keyBytes('metrics');
const K_NAME = keyBytes('name');
const K_VERSION = keyBytes('version');
const K_DESCRIPTION = keyBytes('description');
const K_UNIT = keyBytes('unit');
const K_GAUGE = keyBytes('gauge');
const K_SUM = keyBytes('sum');
const K_HISTOGRAM = keyBytes('histogram');
const K_COUNT = keyBytes('count');
const K_BUCKET_COUNTS = keyBytes('bucketCounts');
const K_EXPLICIT_BOUNDS = keyBytes('explicitBounds');
const K_MIN = keyBytes('min');
const K_MAX = keyBytes('max');
const K_DATA_POINTS = keyBytes('dataPoints');
const K_TEMPORALITY = keyBytes('aggregationTemporality');
const K_MONOTONIC = keyBytes('isMonotonic');
const K_START = keyBytes('startTimeUnixNano');
const K_TIME = keyBytes('timeUnixNano');
const K_FLAGS = keyBytes('flags');
const K_AS_INT = keyBytes('asInt');
const K_AS_DOUBLE = keyBytes('asDouble');
const K_EXEMPLARS = keyBytes('exemplars');
const K_KEY = keyBytes('key');
const K_VALUE = keyBytes('value');
const K_VALUES = keyBytes('values');
const K_STRING_VALUE = keyBytes('stringValue');
const K_INT_VALUE = keyBytes('intValue');
const K_DOUBLE_VALUE = keyBytes('doubleValue');
const K_BOOL_VALUE = keyBytes('boolValue');
const K_ARRAY_VALUE = keyBytes('arrayValue');
const K_KVLIST_VALUE = keyBytes('kvlistValue');

// Short strings decoded once: names, attribute keys and most attribute values
// repeat in every request. Direct-mapped by an FNV-1a hash of the bytes
// (computed while the string is checked); a hit is compared byte for byte, so
// a collision only costs a decode. Bounded: SC_SLOTS strings of at most
// SC_MAX_LEN characters.
const SC_BITS = 12;
const SC_SLOTS = 1 << SC_BITS;
const SC_MAX_LEN = 64;
const scStrings: string[] = new Array<string>(SC_SLOTS).fill('');

type SliceFn = (this: Buffer, start: number, end: number) => string;
const utf8Slice: SliceFn =
  (Buffer.prototype as unknown as { utf8Slice?: SliceFn }).utf8Slice ??
  function (this: Buffer, s: number, e: number) {
    return this.toString('utf8', s, e);
  };
const latin1Slice: SliceFn =
  (Buffer.prototype as unknown as { latin1Slice?: SliceFn }).latin1Slice ??
  function (this: Buffer, s: number, e: number) {
    return this.toString('latin1', s, e);
  };

class Scanner {
  pos = 0;
  readonly end: number;
  readonly maxAttributes: number;
  readonly maxDepth: number;
  readonly maxValueLength: number;
  // the last two timestamp strings (their places in the body) and their values
  t0s = -1;
  t0e = -2;
  t0v = 0n;
  t1s = -1;
  t1e = -2;
  t1v = 0n;
  tTurn = 0;
  /** the body checked as valid UTF-8 (once a string with non-ASCII bytes is met) */
  utf8Checked = false;
  // a sum's, set by metricData()
  temporality: Temporality = 0;
  isMonotonic = false;

  constructor(
    readonly buf: Buffer,
    limits: Partial<DecodeLimits> | undefined,
  ) {
    this.end = buf.length;
    const l = resolveLimits(limits);
    this.maxAttributes = l.maxAttributes;
    this.maxDepth = l.maxDepth;
    this.maxValueLength = l.maxValueLength;
  }

  leave(): never {
    throw LEAVE;
  }

  /** the byte at `p`, -1 past the end */
  at(p: number): number {
    return p < this.end ? (this.buf[p] as number) : -1;
  }

  /** skip whitespace; the next byte (or -1 at the end) */
  peek(): number {
    const buf = this.buf;
    const end = this.end;
    let p = this.pos;
    for (;;) {
      if (p >= end) {
        this.pos = p;
        return -1;
      }
      const c = buf[p] as number;
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else {
        this.pos = p;
        return c;
      }
    }
  }

  expect(c: number): void {
    if (this.peek() !== c) this.leave();
    this.pos++;
  }

  /** after a value in an object: true at `,` (and past it), false at `}` (and past it) */
  more(close: number): boolean {
    const c = this.peek();
    this.pos++;
    if (c === COMMA) return true;
    if (c !== close) this.leave();
    return false;
  }

  /** at `{` or `[`: past it, true when the object or array is empty (and past its end too) */
  open(c: number, close: number): boolean {
    if (this.peek() !== c) this.leave();
    this.pos++;
    if (this.peek() === close) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** at a key's quote: true (past the key and its colon) when it is `k` (bytes and closing quote) */
  key(k: Uint8Array): boolean {
    const buf = this.buf;
    const p = this.pos + 1;
    const n = k.length;
    if (p + n > this.end) return false;
    for (let i = 0; i < n; i++) if (buf[p + i] !== k[i]) return false;
    this.pos = p + n;
    this.expect(COLON);
    return true;
  }

  /** at the quote of a key no `key()` took: past its value (skipped), or leave when it is one the general path reads */
  otherKey(): void {
    // decoded (escapes, UTF-8) as JSON.parse would: `"na\u006de"` is the key name
    if (READ_KEYS.has(this.string())) this.leave();
    this.expect(COLON);
    this.skip(0);
  }

  /** at a quote: the string's end (its closing quote); leaves on escapes, control characters and non-ASCII */
  stringEnd(): number {
    const buf = this.buf;
    const end = this.end;
    let p = this.pos + 1;
    for (;;) {
      if (p >= end) this.leave();
      const c = buf[p] as number;
      if (PLAIN[c] !== 1) {
        if (c === QUOTE) return p;
        this.leave();
      }
      p++;
    }
  }

  /** a string value (whitespace before it skipped), plain ASCII through the cache, else stringSlow(); leaves on anything but a string */
  string(): string {
    if (this.peek() !== QUOTE) this.leave();
    const buf = this.buf;
    const end = this.end;
    const start = this.pos + 1;
    let p = start;
    let h = 0x811c9dc5;
    for (;;) {
      if (p >= end) this.leave();
      const c = buf[p] as number;
      if (PLAIN[c] !== 1) {
        if (c === QUOTE) break;
        return this.stringSlow(start, p);
      }
      h = Math.imul(h ^ c, 0x01000193);
      p++;
    }
    this.pos = p + 1;
    const len = p - start;
    if (len === 0) return '';
    if (len > SC_MAX_LEN) return latin1Slice.call(buf, start, p);
    const slot = (h ^ (h >>> SC_BITS)) & (SC_SLOTS - 1);
    const cached = scStrings[slot] as string;
    if (cached.length === len) {
      let k = 0;
      while (k < len && cached.charCodeAt(k) === buf[start + k]) k++;
      if (k === len) return cached;
    }
    const s = latin1Slice.call(buf, start, p);
    scStrings[slot] = s;
    return s;
  }

  /**
   * The rest of a string with escapes or non-ASCII from `p` (the string's
   * content starts at `start`), decoded as JSON.parse decodes the body's
   * text: UTF-8 (the whole body checked once, as the general path does: on
   * invalid UTF-8 leave, and the general path answers it), escapes including
   * lone surrogates. Leaves on control characters, bad escapes and the end.
   */
  stringSlow(start: number, p: number): string {
    const buf = this.buf;
    const end = this.end;
    let out = '';
    let seg = start;
    for (;;) {
      if (p >= end) this.leave();
      const c = buf[p] as number;
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        if (p > seg) out += utf8Slice.call(buf, seg, p);
        const e = this.at(p + 1);
        p += 2;
        switch (e) {
          case QUOTE:
            out += '"';
            break;
          case BACKSLASH:
            out += '\\';
            break;
          case 0x2f:
            out += '/';
            break;
          case 0x62:
            out += '\b';
            break;
          case 0x66:
            out += '\f';
            break;
          case 0x6e:
            out += '\n';
            break;
          case 0x72:
            out += '\r';
            break;
          case 0x74:
            out += '\t';
            break;
          case 0x75: {
            let code = 0;
            for (let i = 0; i < 4; i++) {
              const d = this.at(p + i);
              const v = d >= ZERO && d <= NINE ? d - ZERO : d >= 0x61 && d <= 0x66 ? d - 0x57 : d >= 0x41 && d <= 0x46 ? d - 0x37 : -1;
              if (v < 0) this.leave();
              code = code * 16 + v;
            }
            p += 4;
            out += String.fromCharCode(code);
            break;
          }
          default:
            this.leave();
        }
        seg = p;
        continue;
      }
      if (c < 0x20) this.leave();
      if (c >= 0x80 && !this.utf8Checked) {
        if (!isUtf8(buf)) this.leave();
        this.utf8Checked = true;
      }
      p++;
    }
    if (p > seg) out += utf8Slice.call(buf, seg, p);
    this.pos = p + 1;
    return out;
  }

  /** a string or null (''); leaves on other types */
  optString(): string {
    if (this.peek() === 0x6e) {
      this.nullLiteral();
      return '';
    }
    return this.string();
  }

  /** at `n`: past `null`, or leave */
  nullLiteral(): void {
    const p = this.pos;
    if (this.at(p) === 0x6e && this.at(p + 1) === 0x75 && this.at(p + 2) === 0x6c && this.at(p + 3) === 0x6c) this.pos = p + 4;
    else this.leave();
  }

  /** is the next value `null` (whitespace skipped)? past it when it is */
  isNull(): boolean {
    if (this.peek() !== 0x6e) return false;
    this.nullLiteral();
    return true;
  }

  /** true or false (whitespace skipped); leaves on anything else */
  boolean(): boolean {
    const c = this.peek();
    const p = this.pos;
    if (c === 0x74 && this.at(p + 1) === 0x72 && this.at(p + 2) === 0x75 && this.at(p + 3) === 0x65) {
      this.pos = p + 4;
      return true;
    }
    if (c === 0x66 && this.at(p + 1) === 0x61 && this.at(p + 2) === 0x6c && this.at(p + 3) === 0x73 && this.at(p + 4) === 0x65) {
      this.pos = p + 5;
      return false;
    }
    return this.leave();
  }

  /** a JSON number (whitespace skipped), as `JSON.parse` reads it */
  number(): number {
    this.peek();
    const v = readJsonNumber(this.buf, this.end, this);
    if (v !== v) this.leave();
    return v;
  }

  /**
   * The digits from `p` (an optional minus, at least one digit) up to `stop`
   * (the byte that must follow them) as a bigint, exactly; pos past them.
   * Leaves when they are not that, or (`json`) when they are not a JSON
   * integer literal (a leading zero).
   */
  digitsToBig(p: number, stop: number, json: boolean): bigint {
    const start = p;
    let c = this.at(p);
    const neg = c === MINUS;
    if (neg) c = this.at(++p);
    if (c < ZERO || c > NINE) this.leave();
    const first = p;
    let m = 0;
    do {
      m = m * 10 + (c - ZERO);
      c = this.at(++p);
    } while (c >= ZERO && c <= NINE);
    if (json) {
      if (this.at(first) === ZERO && p - first > 1) this.leave();
      // `1.0`, `1e3`: numbers the general path takes as integers too, but not here
      if (c === DOT || c === 0x65 || c === 0x45) this.leave();
    } else if (c !== stop) this.leave();
    this.pos = p;
    if (p - first <= 15) return safeToBigInt(neg ? -m : m);
    return BigInt(latin1Slice.call(this.buf, start, p));
  }

  /** an int64 field: a decimal string or an integer literal; null → 0n */
  big(): bigint {
    const c = this.peek();
    if (c === QUOTE) {
      const v = this.digitsToBig(this.pos + 1, QUOTE, false);
      this.pos++;
      return v;
    }
    if (c === 0x6e) {
      this.nullLiteral();
      return 0n;
    }
    return this.digitsToBig(this.pos, 0, true);
  }

  /** a fixed64 timestamp: as big(), the last two strings remembered (points share their stamps) */
  time(): bigint {
    if (this.peek() !== QUOTE) return this.big();
    const s = this.pos + 1;
    const e = this.stringEnd();
    const len = e - s;
    if (this.t0e - this.t0s === len && this.same(this.t0s, s, len)) {
      this.pos = e + 1;
      return this.t0v;
    }
    if (this.t1e - this.t1s === len && this.same(this.t1s, s, len)) {
      this.pos = e + 1;
      return this.t1v;
    }
    const v = this.big();
    if (this.tTurn === 0) {
      this.t0s = s;
      this.t0e = e;
      this.t0v = v;
      this.tTurn = 1;
    } else {
      this.t1s = s;
      this.t1e = e;
      this.t1v = v;
      this.tTurn = 0;
    }
    return v;
  }

  same(a: number, b: number, len: number): boolean {
    const buf = this.buf;
    for (let i = 0; i < len; i++) if (buf[a + i] !== buf[b + i]) return false;
    return true;
  }

  /** an int32 field: an integer literal of up to 9 digits; null → 0 */
  int(): number {
    const c = this.peek();
    if (c === 0x6e) {
      this.nullLiteral();
      return 0;
    }
    let p = this.pos;
    let d = c;
    const neg = d === MINUS;
    if (neg) d = this.at(++p);
    if (d < ZERO || d > NINE) this.leave();
    const first = p;
    let m = 0;
    do {
      m = m * 10 + (d - ZERO);
      d = this.at(++p);
    } while (d >= ZERO && d <= NINE);
    if (p - first > 9 || (this.at(first) === ZERO && p - first > 1) || d === DOT || d === 0x65 || d === 0x45) this.leave();
    this.pos = p;
    return neg ? -m : m;
  }

  /** a uint64 count (a number, exact up to 2^53): a decimal string of digits or an integer literal; null → 0 */
  count(): number {
    const c = this.peek();
    if (c === 0x6e) {
      this.nullLiteral();
      return 0;
    }
    const quoted = c === QUOTE;
    let p = quoted ? this.pos + 1 : this.pos;
    const first = p;
    let d = this.at(p);
    if (d < ZERO || d > NINE) this.leave();
    let m = 0;
    do {
      m = m * 10 + (d - ZERO);
      d = this.at(++p);
    } while (d >= ZERO && d <= NINE);
    if (quoted) {
      if (d !== QUOTE) this.leave();
    } else if ((this.at(first) === ZERO && p - first > 1) || d === DOT || d === 0x65 || d === 0x45) this.leave();
    this.pos = quoted ? p + 1 : p;
    // more than 15 digits: rounded as Number() rounds them (the general path's reading of both forms)
    return p - first <= 15 ? m : Number(latin1Slice.call(this.buf, first, p));
  }

  /** a double field: a number, or "NaN", "Infinity", "-Infinity"; leaves on anything else (null too) */
  double(): number {
    const c = this.peek();
    if (c !== QUOTE) return this.number();
    const s = this.string();
    if (s === 'NaN') return NaN;
    if (s === 'Infinity') return Infinity;
    if (s === '-Infinity') return -Infinity;
    return this.leave();
  }

  /** any value, skipped (checked as it goes) */
  skip(depth: number): void {
    const c = this.peek();
    if (c === QUOTE) {
      this.string();
      return;
    }
    if (c === MINUS || (c >= ZERO && c <= NINE)) {
      this.number();
      return;
    }
    if (c === 0x6e) {
      this.nullLiteral();
      return;
    }
    if (c !== LBRACK && c !== LBRACE) {
      this.boolean();
      return;
    }
    if (depth >= MAX_SKIP_DEPTH) this.leave();
    const close = c === LBRACK ? RBRACK : RBRACE;
    if (this.open(c, close)) return;
    do {
      if (close === RBRACE) {
        if (this.peek() !== QUOTE) this.leave();
        this.string();
        this.expect(COLON);
      }
      this.skip(depth + 1);
    } while (this.more(close));
  }

  // -- common.v1 --------------------------------------------------------------

  /** `[KeyValue, ...]` or null → attributes */
  attributes(): Attributes {
    const out: Attributes = {};
    if (this.isNull()) return out;
    if (this.open(LBRACK, RBRACK)) return out;
    let n = 0;
    do {
      if (++n > this.maxAttributes) this.leave();
      this.keyValue(out, 0);
    } while (this.more(RBRACK));
    return out;
  }

  /** `{"key": ..., "value": ...}` into `into` */
  keyValue(into: Attributes, level: number): void {
    let key = '';
    let value: AttrValue = null;
    let seen = 0;
    if (!this.open(LBRACE, RBRACE)) {
      do {
        if (this.peek() !== QUOTE) this.leave();
        if (this.key(K_KEY)) {
          if ((seen & 1) !== 0) this.leave();
          seen |= 1;
          key = this.optString();
        } else if (this.key(K_VALUE)) {
          if ((seen & 2) !== 0) this.leave();
          seen |= 2;
          value = this.anyValue(level);
        } else this.otherKey();
      } while (this.more(RBRACE));
    }
    setAttr(into, key, value);
  }

  /** an AnyValue object with at most one value field, or null */
  anyValue(level: number): AttrValue {
    if (this.isNull()) return null;
    let value: AttrValue = null;
    let seen = false;
    if (this.open(LBRACE, RBRACE)) return null;
    do {
      if (this.peek() !== QUOTE) this.leave();
      let known = true;
      if (this.key(K_STRING_VALUE)) {
        if (seen) this.leave();
        const s = this.string();
        if (s.length > this.maxValueLength) this.leave();
        value = s;
      } else if (this.key(K_INT_VALUE)) {
        if (seen || this.peek() === 0x6e) this.leave();
        value = this.big();
      } else if (this.key(K_DOUBLE_VALUE)) {
        if (seen) this.leave();
        value = this.double();
      } else if (this.key(K_BOOL_VALUE)) {
        if (seen) this.leave();
        value = this.boolean();
      } else if (this.key(K_ARRAY_VALUE)) {
        if (seen) this.leave();
        value = this.arrayValue(level);
      } else if (this.key(K_KVLIST_VALUE)) {
        if (seen) this.leave();
        value = this.kvlistValue(level);
      } else {
        known = false;
        this.otherKey();
      }
      if (known) seen = true;
    } while (this.more(RBRACE));
    return value;
  }

  /** `{"values": [AnyValue, ...]}` */
  arrayValue(level: number): AttrValue[] {
    if (level >= this.maxDepth) this.leave();
    const out: AttrValue[] = [];
    let seen = false;
    if (this.open(LBRACE, RBRACE)) return out;
    do {
      if (this.peek() !== QUOTE) this.leave();
      if (this.key(K_VALUES)) {
        if (seen) this.leave();
        seen = true;
        if (this.isNull() || this.open(LBRACK, RBRACK)) continue;
        do out.push(this.anyValue(level + 1));
        while (this.more(RBRACK));
      } else this.otherKey();
    } while (this.more(RBRACE));
    return out;
  }

  /** `{"values": [KeyValue, ...]}` */
  kvlistValue(level: number): KvList {
    if (level >= this.maxDepth) this.leave();
    const out: KvList = {};
    let seen = false;
    if (this.open(LBRACE, RBRACE)) return out;
    do {
      if (this.peek() !== QUOTE) this.leave();
      if (this.key(K_VALUES)) {
        if (seen) this.leave();
        seen = true;
        if (this.isNull() || this.open(LBRACK, RBRACK)) continue;
        do this.keyValue(out, level + 1);
        while (this.more(RBRACK));
      } else this.otherKey();
    } while (this.more(RBRACE));
    return out;
  }

  resource(): Resource {
    let attributes: Attributes | undefined;
    let dropped = 0;
    let seen = 0;
    if (!this.isNull() && !this.open(LBRACE, RBRACE)) {
      do {
        if (this.peek() !== QUOTE) this.leave();
        if (this.key(K_ATTRIBUTES)) {
          if ((seen & 1) !== 0) this.leave();
          seen |= 1;
          attributes = this.attributes();
        } else if (this.key(K_DROPPED)) {
          if ((seen & 2) !== 0) this.leave();
          seen |= 2;
          dropped = this.int();
        } else this.otherKey();
      } while (this.more(RBRACE));
    }
    return { attributes: attributes ?? {}, droppedAttributesCount: dropped };
  }

  scope(): Scope {
    let name = '';
    let version = '';
    let attributes: Attributes | undefined;
    let dropped = 0;
    let seen = 0;
    if (!this.isNull() && !this.open(LBRACE, RBRACE)) {
      do {
        if (this.peek() !== QUOTE) this.leave();
        let bit: number;
        if (this.key(K_NAME)) {
          bit = 1;
          name = this.optString();
        } else if (this.key(K_VERSION)) {
          bit = 2;
          version = this.optString();
        } else if (this.key(K_ATTRIBUTES)) {
          bit = 4;
          attributes = this.attributes();
        } else if (this.key(K_DROPPED)) {
          bit = 8;
          dropped = this.int();
        } else {
          bit = 0;
          this.otherKey();
        }
        if ((seen & bit) !== 0) this.leave();
        seen |= bit;
      } while (this.more(RBRACE));
    }
    return { name, version, attributes: attributes ?? {}, droppedAttributesCount: dropped };
  }

  // -- metrics.v1 -------------------------------------------------------------

  request(): ResourceMetrics[] {
    const out: ResourceMetrics[] = [];
    let seen = false;
    if (!this.open(LBRACE, RBRACE)) {
      do {
        if (this.peek() !== QUOTE) this.leave();
        if (this.key(K_RESOURCE_METRICS)) {
          if (seen) this.leave();
          seen = true;
          if (this.isNull() || this.open(LBRACK, RBRACK)) continue;
          do out.push(this.resourceMetrics());
          while (this.more(RBRACK));
        } else this.otherKey();
      } while (this.more(RBRACE));
    }
    if (this.peek() !== -1) this.leave();
    return out;
  }

  resourceMetrics(): ResourceMetrics {
    let resource: Resource | undefined;
    const scopeMetrics: ScopeMetrics[] = [];
    let schemaUrl = '';
    let seen = 0;
    if (!this.open(LBRACE, RBRACE)) {
      do {
        if (this.peek() !== QUOTE) this.leave();
        let bit: number;
        if (this.key(K_RESOURCE)) {
          bit = 1;
          resource = this.resource();
        } else if (this.key(K_SCOPE_METRICS)) {
          bit = 2;
          if (!this.isNull() && !this.open(LBRACK, RBRACK)) {
            do scopeMetrics.push(this.scopeMetrics());
            while (this.more(RBRACK));
          }
        } else if (this.key(K_SCHEMA_URL)) {
          bit = 4;
          schemaUrl = this.optString();
        } else {
          bit = 0;
          this.otherKey();
        }
        if ((seen & bit) !== 0) this.leave();
        seen |= bit;
      } while (this.more(RBRACE));
    }
    return { resource: resource ?? { attributes: {}, droppedAttributesCount: 0 }, scopeMetrics, schemaUrl };
  }

  scopeMetrics(): ScopeMetrics {
    let scope: Scope | undefined;
    const metrics: Metric[] = [];
    let schemaUrl = '';
    let seen = 0;
    if (!this.open(LBRACE, RBRACE)) {
      do {
        if (this.peek() !== QUOTE) this.leave();
        let bit: number;
        if (this.key(K_SCOPE)) {
          bit = 1;
          scope = this.scope();
        } else if (this.key(K_METRICS)) {
          bit = 2;
          if (!this.isNull() && !this.open(LBRACK, RBRACK)) {
            do metrics.push(this.metric());
            while (this.more(RBRACK));
          }
        } else if (this.key(K_SCHEMA_URL)) {
          bit = 4;
          schemaUrl = this.optString();
        } else {
          bit = 0;
          this.otherKey();
        }
        if ((seen & bit) !== 0) this.leave();
        seen |= bit;
      } while (this.more(RBRACE));
    }
    return { scope: scope ?? { name: '', version: '', attributes: {}, droppedAttributesCount: 0 }, metrics, schemaUrl };
  }

  metric(): Metric {
    let name = '';
    let description = '';
    let unit = '';
    /** 1 gauge, 2 sum, 3 histogram */
    let kind = 0;
    let points: NumberDataPoint[] | HistogramDataPoint[] = [];
    let temporality: Temporality = 0;
    let isMonotonic = false;
    let seen = 0;
    if (!this.open(LBRACE, RBRACE)) {
      do {
        if (this.peek() !== QUOTE) this.leave();
        let bit: number;
        if (this.key(K_NAME)) {
          bit = 1;
          name = this.optString();
        } else if (this.key(K_DESCRIPTION)) {
          bit = 2;
          description = this.optString();
        } else if (this.key(K_UNIT)) {
          bit = 4;
          unit = this.optString();
        } else if (this.key(K_GAUGE)) {
          // one data field: with two the general path takes the first present (gauge, sum, histogram, ...)
          bit = 8;
          kind = 1;
          points = this.metricData(1);
        } else if (this.key(K_SUM)) {
          bit = 8;
          kind = 2;
          points = this.metricData(2);
          temporality = this.temporality;
          isMonotonic = this.isMonotonic;
        } else if (this.key(K_HISTOGRAM)) {
          bit = 8;
          kind = 3;
          points = this.metricData(3);
          temporality = this.temporality;
        } else {
          bit = 0;
          this.otherKey();
        }
        if ((seen & bit) !== 0) this.leave();
        seen |= bit;
      } while (this.more(RBRACE));
    }
    if (name === '' || kind === 0) this.leave();
    if (kind === 1) return { name, description, unit, kind: 'gauge', points: points as NumberDataPoint[] };
    if (kind === 2) return { name, description, unit, kind: 'sum', temporality, isMonotonic, points: points as NumberDataPoint[] };
    return { name, description, unit, kind: 'histogram', temporality, points: points as HistogramDataPoint[] };
  }

  /**
   * a gauge's (kind 1), sum's (2) or histogram's (3) object: its points; the
   * temporality (sum, histogram) and isMonotonic (sum) in the fields of those names
   */
  metricData(kind: number): NumberDataPoint[] | HistogramDataPoint[] {
    let points: NumberDataPoint[] | HistogramDataPoint[] = [];
    this.temporality = 0;
    this.isMonotonic = false;
    if (this.open(LBRACE, RBRACE)) return points;
    let seen = 0;
    do {
      if (this.peek() !== QUOTE) this.leave();
      let bit: number;
      if (this.key(K_DATA_POINTS)) {
        bit = 1;
        if (!this.isNull()) points = kind === 3 ? this.histogramPoints() : this.numberPoints();
      } else if (this.key(K_TEMPORALITY)) {
        bit = 2;
        if (kind === 1)
          this.skip(0); // a gauge has none: not read
        else {
          const t = this.int();
          if (t !== 0 && t !== 1 && t !== 2) this.leave();
          this.temporality = t;
        }
      } else if (this.key(K_MONOTONIC)) {
        bit = 4;
        if (kind !== 2)
          this.skip(0); // a sum's only
        else if (!this.isNull()) this.isMonotonic = this.boolean();
      } else {
        bit = 0;
        this.otherKey();
      }
      if ((seen & bit) !== 0) this.leave();
      seen |= bit;
    } while (this.more(RBRACE));
    return points;
  }

  /** `[NumberDataPoint, ...]` */
  numberPoints(): NumberDataPoint[] {
    const out: NumberDataPoint[] = [];
    if (this.open(LBRACK, RBRACK)) return out;
    do out.push(this.numberPoint());
    while (this.more(RBRACK));
    return out;
  }

  /** `[HistogramDataPoint, ...]` */
  histogramPoints(): HistogramDataPoint[] {
    const out: HistogramDataPoint[] = [];
    if (this.open(LBRACK, RBRACK)) return out;
    do out.push(this.histogramPoint());
    while (this.more(RBRACK));
    return out;
  }

  histogramPoint(): HistogramDataPoint {
    let attributes: Attributes | undefined;
    let start = 0n;
    let time = 0n;
    let flags = 0;
    let count = 0;
    let bucketCounts: number[] = [];
    let explicitBounds: number[] = [];
    let sum: number | undefined;
    let min: number | undefined;
    let max: number | undefined;
    let seen = 0;
    if (!this.open(LBRACE, RBRACE)) {
      do {
        if (this.peek() !== QUOTE) this.leave();
        let bit: number;
        if (this.key(K_ATTRIBUTES)) {
          bit = 1;
          attributes = this.attributes();
        } else if (this.key(K_START)) {
          bit = 2;
          start = this.time();
        } else if (this.key(K_TIME)) {
          bit = 4;
          time = this.time();
        } else if (this.key(K_COUNT)) {
          bit = 8;
          count = this.count();
        } else if (this.key(K_BUCKET_COUNTS)) {
          bit = 16;
          if (!this.isNull() && !this.open(LBRACK, RBRACK)) {
            do bucketCounts.push(this.count());
            while (this.more(RBRACK));
          }
        } else if (this.key(K_EXPLICIT_BOUNDS)) {
          bit = 32;
          if (!this.isNull() && !this.open(LBRACK, RBRACK)) {
            do explicitBounds.push(this.double());
            while (this.more(RBRACK));
          }
        } else if (this.key(K_SUM)) {
          bit = 64;
          if (!this.isNull()) sum = this.double();
        } else if (this.key(K_MIN)) {
          bit = 128;
          if (!this.isNull()) min = this.double();
        } else if (this.key(K_MAX)) {
          bit = 256;
          if (!this.isNull()) max = this.double();
        } else if (this.key(K_FLAGS)) {
          bit = 512;
          flags = this.int();
        } else if (this.key(K_EXEMPLARS)) {
          bit = 1024;
          if (!this.isNull() && !this.open(LBRACK, RBRACK)) this.leave();
        } else {
          bit = 0;
          this.otherKey();
        }
        if ((seen & bit) !== 0) this.leave();
        seen |= bit;
      } while (this.more(RBRACE));
    }
    if (histogramProblem(bucketCounts, explicitBounds) !== null) this.leave();
    const out: HistogramDataPoint = { attributes: attributes ?? {}, startTimeUnixNano: start, timeUnixNano: time, flags, count, bucketCounts, explicitBounds };
    if (sum !== undefined) out.sum = sum;
    if (min !== undefined) out.min = min;
    if (max !== undefined) out.max = max;
    return out;
  }

  numberPoint(): NumberDataPoint {
    let attributes: Attributes | undefined;
    let start = 0n;
    let time = 0n;
    let flags = 0;
    let value: number | bigint | undefined;
    let hasInt = false;
    let seen = 0;
    if (!this.open(LBRACE, RBRACE)) {
      do {
        if (this.peek() !== QUOTE) this.leave();
        let bit: number;
        if (this.key(K_ATTRIBUTES)) {
          bit = 1;
          attributes = this.attributes();
        } else if (this.key(K_START)) {
          bit = 2;
          start = this.time();
        } else if (this.key(K_TIME)) {
          bit = 4;
          time = this.time();
        } else if (this.key(K_AS_INT)) {
          bit = 8;
          if (this.peek() === 0x6e) this.leave();
          value = this.big();
          hasInt = true;
        } else if (this.key(K_AS_DOUBLE)) {
          bit = 16;
          const v = this.double();
          if (!hasInt) value = v; // asInt wins when both are given
        } else if (this.key(K_FLAGS)) {
          bit = 32;
          flags = this.int();
        } else if (this.key(K_EXEMPLARS)) {
          bit = 64;
          if (!this.isNull() && !this.open(LBRACK, RBRACK)) this.leave();
        } else {
          bit = 0;
          this.otherKey();
        }
        if ((seen & bit) !== 0) this.leave();
        seen |= bit;
      } while (this.more(RBRACE));
    }
    if (value === undefined) {
      if ((flags & 1) === 0) this.leave();
      value = NaN;
    }
    return { attributes: attributes ?? {}, startTimeUnixNano: start, timeUnixNano: time, flags, value };
  }
}

/**
 * Decode an OTLP/JSON ExportMetricsServiceRequest body (bytes) on the fast
 * path: the result, the same as `decodeMetricsJson` of the body's text
 * would give; undefined when the body needs the general path (the UTF-8
 * check, `decodeMetricsJson`), which then answers as it always has.
 */
export function scanMetricsJson(body: Buffer, limits?: Partial<DecodeLimits>): DecodeResult<MetricsBatch> | undefined {
  try {
    const resourceMetrics = new Scanner(body, limits).request();
    return { data: { resourceMetrics }, rejected: 0, errors: [] };
  } catch {
    // LEAVE, or anything else (a stack overflow under a huge maxDepth): the general path answers as it always has
    return undefined;
  }
}
