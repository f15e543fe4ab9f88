/**
 * A hand-written decoder of the v2 series protobuf body (MetricPayload,
 * proto/datadog/agent_payload.proto): what the Datadog Agent and Vector's
 * `datadog_metrics` sink POST to /api/v2/series with
 * `Content-Type: application/x-protobuf`. Straight into the receiver's
 * series records (no generated classes); unknown fields are skipped by wire
 * type; a truncated or malformed body throws a DecodeError naming the byte
 * offset; invalid UTF-8 in a string becomes U+FFFD. Pure.
 *
 *   MetricPayload { repeated MetricSeries series = 1; }
 *   MetricSeries  { repeated Resource resources = 1; string metric = 2; repeated string tags = 3;
 *                   repeated MetricPoint points = 4; MetricType type = 5; string unit = 6;
 *                   string source_type_name = 7; int64 interval = 8; }
 *   MetricPoint   { double value = 1; int64 timestamp = 2; }
 *   Resource      { string type = 1; string name = 2; }
 */
import { DecodeError } from '../../src/otlp/errors.js';
import type { DdSeries } from './map.js';
import { cachedUtf8 } from './strings.js';

const TYPES = ['unspecified', 'count', 'rate', 'gauge'] as const;

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  fail(what: string): never {
    throw new DecodeError(`malformed protobuf at byte offset ${this.pos}: ${what}`);
  }

  varint(): number {
    const buf = this.buf;
    let pos = this.pos;
    let b = buf[pos++];
    if (b === undefined || pos > this.end) {
      this.pos = pos - 1;
      this.fail('truncated varint');
    }
    if (b < 0x80) {
      this.pos = pos;
      return b;
    }
    let v = b & 0x7f;
    let mul = 0x80;
    for (let i = 1; i < 10; i++) {
      if (pos >= this.end) {
        this.pos = pos;
        this.fail('truncated varint');
      }
      b = buf[pos++] as number;
      v += (b & 0x7f) * mul;
      mul *= 0x80;
      if (b < 0x80) {
        this.pos = pos;
        return v;
      }
    }
    this.pos = pos;
    return this.fail('varint longer than 10 bytes');
  }

  /** an int64 varint as a JS number (two's complement negatives come back negative) */
  int64(): number {
    const v = this.varint();
    return v >= 2 ** 63 ? v - 2 ** 64 : v;
  }

  len(): number {
    const n = this.varint();
    if (this.pos + n > this.end) this.fail(`length ${n} runs past the end of its message (${this.end - this.pos} bytes left)`);
    return n;
  }

  string(): string {
    const len = this.len();
    const start = this.pos;
    const end = start + len;
    this.pos = end;
    // invalid UTF-8 becomes U+FFFD (as protobufjs and the Datadog intake do): a name or tag, never fatal;
    // the same names and tags come in every request: decoded once (strings.ts)
    return cachedUtf8(this.buf, start, end);
  }

  double(): number {
    if (this.pos + 8 > this.end) this.fail('truncated double');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        if (this.pos + 8 > this.end) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case 2: {
        const n = this.len();
        this.pos += n;
        return;
      }
      case 5:
        if (this.pos + 4 > this.end) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wire}`);
    }
  }
}

function point(r: Reader, end: number): [number, number] {
  let value = 0;
  let ts = 0;
  while (r.pos < end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 1) value = r.double();
    else if (field === 2 && wire === 0) ts = r.int64();
    else r.skip(wire);
  }
  return [ts, value];
}

function resource(r: Reader, end: number, s: DdSeries): void {
  let type = '';
  let name = '';
  while (r.pos < end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 2) type = r.string();
    else if (field === 2 && wire === 2) name = r.string();
    else r.skip(wire);
  }
  (s.resources ??= []).push({ type, name });
}

function series(r: Reader, end: number): DdSeries {
  const s: DdSeries = { metric: '', type: 'unspecified', interval: 0, host: undefined, tags: [], unit: '', points: [], shape: 'pair' };
  const tags = s.tags as string[];
  const points = s.points as Array<[number, number]>;
  while (r.pos < end) {
    const tag = r.varint();
    const field = tag >>> 3;
    const wire = tag & 7;
    switch (field) {
      case 1:
        if (wire !== 2) break;
        {
          const n = r.len();
          resource(r, r.pos + n, s);
        }
        continue;
      case 2:
        if (wire !== 2) break;
        s.metric = r.string();
        continue;
      case 3:
        if (wire !== 2) break;
        tags.push(r.string());
        continue;
      case 4:
        if (wire !== 2) break;
        {
          const n = r.len();
          points.push(point(r, r.pos + n));
        }
        continue;
      case 5:
        if (wire !== 0) break;
        {
          const t = r.varint();
          s.type = TYPES[t] ?? `enum ${t}`;
        }
        continue;
      case 6:
        if (wire !== 2) break;
        s.unit = r.string();
        continue;
      case 8:
        if (wire !== 0) break;
        s.interval = r.int64();
        continue;
      default:
        break;
    }
    r.skip(wire);
  }
  return s;
}

/** MetricPayload → series records; throws DecodeError (with the byte offset) on a truncated or malformed body. */
export function decodeSeriesProto(buf: Buffer): DdSeries[] {
  const r = new Reader(buf, 0, buf.length);
  const out: DdSeries[] = [];
  while (r.pos < buf.length) {
    const tag = r.varint();
    if (tag >>> 3 === 1 && (tag & 7) === 2) {
      const n = r.len();
      out.push(series(r, r.pos + n));
    } else {
      r.skip(tag & 7);
    }
  }
  return out;
}
