/**
 * A fast path for v1 series bodies (`POST /api/v1/series`): the common
 * shape read straight from the bytes into the mapper, without `JSON.parse`'s
 * object graph, names, tags and hosts through the string cache (strings.ts).
 *
 * Only for what it reads exactly as `JSON.parse` + `v1Series` would: plain
 * ASCII, no escapes in strings, a top-level object whose `series` is an
 * array of objects, series fields that are scalars (the tags an array of
 * scalars, the points an array of scalars or arrays of scalars), no key of
 * a series given twice. Anything else (other UTF-8 or a BOM, escapes,
 * malformed JSON, another shape) and the caller starts over on the general
 * path (text check, `JSON.parse`, `v1Series`) with a fresh mapper, which
 * gives the same answer and the same messages as before. Numbers: as
 * `JSON.parse` reads them (up to 15 significant digits without an exponent
 * exactly as integer ÷ power of ten, which IEEE division rounds correctly;
 * others through `Number`).
 */
import { v1Type, type DdSeries, type SeriesMapper } from './map.js';
import { cachedUtf8 } from './strings.js';
import { readJsonNumber } from '../../src/jsonnumber.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACK = 0x5b;
const RBRACK = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const BACKSLASH = 0x5c;
/** nesting allowed in values skipped (unknown keys) */
const MAX_DEPTH = 32;

/** 1 for the bytes a string holds as they are on the fast path: printable ASCII but `"` and `\\` (past the end: undefined, not 1) */
const PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 0x80; c++) if (c !== QUOTE && c !== BACKSLASH) PLAIN[c] = 1;

/** thrown (one instance, no stack) when the body leaves the fast path */
class Leave {}
const LEAVE = new Leave();

// series keys, as bits
const K_METRIC = 1;
const K_TYPE = 2;
const K_INTERVAL = 4;
const K_POINTS = 8;
const K_HOST = 16;
const K_TAGS = 32;
const K_DEVICE = 64;
const K_OTHER = 0;

class Scanner {
  pos = 0;
  readonly end: number;
  constructor(readonly buf: Buffer) {
    this.end = buf.length;
  }

  leave(): never {
    throw LEAVE;
  }

  /** skip whitespace; the next byte (or -1 at the end) */
  peek(): number {
    // no reads past the end (V8 would compile the loads for it, slower)
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

  /** at a quote: the string (through the cache); leaves on escapes, control characters and non-ASCII */
  string(): string {
    const start = this.pos + 1;
    const end = this.stringEnd();
    this.pos = end + 1;
    return cachedUtf8(this.buf, start, end);
  }

  /** a key of a series object (at its quote), as bits; K_OTHER for any other key */
  seriesKey(): number {
    const buf = this.buf;
    const start = this.pos + 1;
    // the names spelt out byte by byte (constants: cheaper than a loop over a string), closing quote
    // included: a known key needs no scan for its end (the scan-then-compare below for every key made the
    // v1 path 8-10 % slower: 101-103 % of JSON.parse against 91-95 %, bench/datadog-inprocess.ts, 2026-12-04)
    if (start + 9 <= this.end) {
      const c0 = buf[start];
      let k = K_OTHER;
      let len = 0;
      if (c0 === 0x6d) {
        if (buf[start + 1] === 0x65 && buf[start + 2] === 0x74 && buf[start + 3] === 0x72 && buf[start + 4] === 0x69 && buf[start + 5] === 0x63) {
          k = K_METRIC;
          len = 6;
        }
      } else if (c0 === 0x70) {
        if (buf[start + 1] === 0x6f && buf[start + 2] === 0x69 && buf[start + 3] === 0x6e && buf[start + 4] === 0x74 && buf[start + 5] === 0x73) {
          k = K_POINTS;
          len = 6;
        }
      } else if (c0 === 0x74) {
        if (buf[start + 1] === 0x61 && buf[start + 2] === 0x67 && buf[start + 3] === 0x73) {
          k = K_TAGS;
          len = 4;
        } else if (buf[start + 1] === 0x79 && buf[start + 2] === 0x70 && buf[start + 3] === 0x65) {
          k = K_TYPE;
          len = 4;
        }
      } else if (c0 === 0x68) {
        if (buf[start + 1] === 0x6f && buf[start + 2] === 0x73 && buf[start + 3] === 0x74) {
          k = K_HOST;
          len = 4;
        }
      } else if (c0 === 0x69) {
        if (this.is(start, 'interval')) {
          k = K_INTERVAL;
          len = 8;
        }
      } else if (c0 === 0x64) {
        if (buf[start + 1] === 0x65 && buf[start + 2] === 0x76 && buf[start + 3] === 0x69 && buf[start + 4] === 0x63 && buf[start + 5] === 0x65) {
          k = K_DEVICE;
          len = 6;
        }
      }
      if (k !== K_OTHER && buf[start + len] === QUOTE) {
        this.pos = start + len + 1;
        return k;
      }
    }
    // any other key (or one too near the end to look at unscanned): scanned and checked, then compared
    const end = this.stringEnd();
    this.pos = end + 1;
    const len = end - start;
    if (len === 6) {
      if (this.is(start, 'metric')) return K_METRIC;
      if (this.is(start, 'points')) return K_POINTS;
      if (this.is(start, 'device')) return K_DEVICE;
    } else if (len === 4) {
      if (this.is(start, 'tags')) return K_TAGS;
      if (this.is(start, 'type')) return K_TYPE;
      if (this.is(start, 'host')) return K_HOST;
    } else if (len === 8 && this.is(start, 'interval')) return K_INTERVAL;
    return K_OTHER;
  }

  /** do the bytes at `start` spell `name` (its length already checked)? */
  is(start: number, name: string): boolean {
    const buf = this.buf;
    for (let i = 0; i < name.length; i++) if (buf[start + i] !== name.charCodeAt(i)) return false;
    return true;
  }

  /** at a quote: `"gauge"`, `"count"` or `"rate"` as the constant (no lookup), else undefined (nothing read) */
  typeName(): string | undefined {
    const buf = this.buf;
    const p = this.pos + 1;
    if (p + 6 > this.end) return undefined;
    const c0 = buf[p];
    if (c0 === 0x67) {
      if (buf[p + 1] === 0x61 && buf[p + 2] === 0x75 && buf[p + 3] === 0x67 && buf[p + 4] === 0x65 && buf[p + 5] === QUOTE) {
        this.pos = p + 6;
        return 'gauge';
      }
    } else if (c0 === 0x63) {
      if (buf[p + 1] === 0x6f && buf[p + 2] === 0x75 && buf[p + 3] === 0x6e && buf[p + 4] === 0x74 && buf[p + 5] === QUOTE) {
        this.pos = p + 6;
        return 'count';
      }
    } else if (c0 === 0x72) {
      if (buf[p + 1] === 0x61 && buf[p + 2] === 0x74 && buf[p + 3] === 0x65 && buf[p + 4] === QUOTE) {
        this.pos = p + 5;
        return 'rate';
      }
    }
    return undefined;
  }

  /** is the key at the quote exactly `series`? */
  isSeriesKey(): boolean {
    const start = this.pos + 1;
    const end = this.stringEnd();
    this.pos = end + 1;
    return end - start === 6 && this.is(start, 'series');
  }

  /** the byte at `p`, -1 past the end (no reads past the end: V8 would compile the loads for it, slower) */
  at(p: number): number {
    return p < this.end ? (this.buf[p] as number) : -1;
  }

  /** a JSON number, as `JSON.parse` reads it */
  number(): number {
    const v = readJsonNumber(this.buf, this.end, this);
    if (v !== v) this.leave();
    return v;
  }

  /** at the first byte of a literal: true, false or null */
  literal(): boolean | null {
    const p = this.pos;
    const c = this.at(p);
    if (c === 0x6e && this.at(p + 1) === 0x75 && this.at(p + 2) === 0x6c && this.at(p + 3) === 0x6c) {
      this.pos = p + 4;
      return null;
    }
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

  /** a string, number, true, false or null (whitespace before it skipped); leaves on arrays and objects */
  scalar(): string | number | boolean | null {
    const c = this.peek();
    if (c === QUOTE) return this.string();
    if (c === MINUS || (c >= ZERO && c <= NINE)) return this.number();
    if (c === LBRACK || c === LBRACE) this.leave();
    return this.literal();
  }

  /** `[scalar, ...]` */
  scalars(): Array<string | number | boolean | null> {
    this.pos++;
    const out: Array<string | number | boolean | null> = [];
    if (this.peek() === RBRACK) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.scalar());
      const c = this.peek();
      this.pos++;
      if (c === COMMA) continue;
      if (c === RBRACK) return out;
      this.leave();
    }
  }

  /** any value, skipped (checked as it goes) */
  skip(depth: number): void {
    const c = this.peek();
    if (c !== LBRACK && c !== LBRACE) {
      this.scalar();
      return;
    }
    if (depth >= MAX_DEPTH) this.leave();
    this.pos++;
    const close = c === LBRACK ? RBRACK : RBRACE;
    if (this.peek() === close) {
      this.pos++;
      return;
    }
    for (;;) {
      if (close === RBRACE) {
        if (this.peek() !== QUOTE) this.leave();
        this.pos = this.stringEnd() + 1;
        this.expect(COLON);
      }
      this.skip(depth + 1);
      const d = this.peek();
      this.pos++;
      if (d === COMMA) continue;
      if (d === close) return;
      this.leave();
    }
  }

  /** one series object → the mapper */
  series(mapper: SeriesMapper, index: number): void {
    this.expect(LBRACE);
    let metric: unknown;
    let type: unknown;
    let interval: unknown;
    let points: unknown;
    let host: unknown;
    let tags: unknown;
    let device: unknown;
    let seen = 0;
    if (this.peek() === RBRACE) this.pos++;
    else {
      for (;;) {
        if (this.peek() !== QUOTE) this.leave();
        const k = this.seriesKey();
        if ((seen & k) !== 0) this.leave();
        seen |= k;
        this.expect(COLON);
        switch (k) {
          case K_METRIC:
            metric = this.scalar();
            break;
          case K_TYPE:
            type = this.peek() === QUOTE ? (this.typeName() ?? this.string()) : this.scalar();
            break;
          case K_INTERVAL:
            interval = this.scalar();
            break;
          case K_HOST:
            host = this.scalar();
            break;
          case K_DEVICE:
            device = this.scalar();
            break;
          case K_TAGS:
            tags = this.peek() === LBRACK ? this.scalars() : this.scalar();
            break;
          case K_POINTS:
            points = this.peek() === LBRACK ? this.points() : this.scalar();
            break;
          default:
            this.skip(0);
        }
        const c = this.peek();
        this.pos++;
        if (c === COMMA) continue;
        if (c === RBRACE) break;
        this.leave();
      }
    }
    const s: DdSeries = { metric, type: v1Type(type), interval, host, tags, unit: undefined, device, points, shape: 'pair' };
    mapper.add(s, index);
  }

  /** `[[ts, v], ...]` (elements scalars or arrays of scalars) */
  points(): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    if (this.peek() === RBRACK) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.peek() === LBRACK ? this.pair() : this.scalar());
      const c = this.peek();
      this.pos++;
      if (c === COMMA) continue;
      if (c === RBRACK) return out;
      this.leave();
    }
  }

  /** `[ts, v]`, the common point (any other array of scalars read as such) */
  pair(): unknown[] {
    this.pos++;
    if (this.peek() === RBRACK) {
      this.pos++;
      return [];
    }
    const a = this.scalar();
    let c = this.peek();
    this.pos++;
    if (c === RBRACK) return [a];
    if (c !== COMMA) this.leave();
    const b = this.scalar();
    c = this.peek();
    this.pos++;
    if (c === RBRACK) return [a, b];
    if (c !== COMMA) this.leave();
    const out = [a, b];
    for (;;) {
      out.push(this.scalar());
      c = this.peek();
      this.pos++;
      if (c === COMMA) continue;
      if (c === RBRACK) return out;
      this.leave();
    }
  }

  /** the body `{"series": [...]}` (other top-level keys skipped) */
  body(mapper: SeriesMapper): void {
    this.expect(LBRACE);
    let seen = false;
    if (this.peek() !== RBRACE) {
      for (;;) {
        if (this.peek() !== QUOTE) this.leave();
        if (this.isSeriesKey()) {
          if (seen) this.leave();
          seen = true;
          this.expect(COLON);
          this.seriesArray(mapper);
        } else {
          this.expect(COLON);
          this.skip(0);
        }
        const c = this.peek();
        this.pos++;
        if (c === COMMA) continue;
        if (c === RBRACE) break;
        this.leave();
      }
    } else this.pos++;
    if (!seen || this.peek() !== -1) this.leave();
  }

  seriesArray(mapper: SeriesMapper): void {
    this.expect(LBRACK);
    if (this.peek() === RBRACK) {
      this.pos++;
      return;
    }
    for (let i = 0; ; i++) {
      this.series(mapper, i);
      const c = this.peek();
      this.pos++;
      if (c === COMMA) continue;
      if (c === RBRACK) return;
      this.leave();
    }
  }
}

/**
 * Map a v1 series body into `mapper` on the fast path: true when done;
 * false when the body needs the general path (the mapper may then hold part
 * of it: use a fresh one).
 */
export function scanV1Series(body: Buffer, mapper: SeriesMapper): boolean {
  try {
    new Scanner(body).body(mapper);
    return true;
  } catch {
    // LEAVE, or anything the mapper threw: the general path reads the whole body first and
    // answers as it always has (a malformed body further on is then found before the mapper runs)
    return false;
  }
}
