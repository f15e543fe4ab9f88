/**
 * OTLP protobuf codecs, hand-written over protobufjs's Reader/Writer: bytes go
 * straight to and from the model in src/model (no intermediate message objects).
 *
 * Field numbers follow proto/opentelemetry/proto/** (OTLP v1.11.0); tags are
 * written as literals `(field << 3) | wireType` with the field named alongside.
 * A known field arriving with an unexpected wire type is skipped like an
 * unknown field; packed and unpacked encodings of repeated scalars are both
 * accepted.
 *
 * Whole-request failures (truncated or malformed bytes, invalid UTF-8 in a
 * string) throw DecodeError with the byte offset. Invalid items are dropped and
 * counted; see the rules in `decodeMetricsProto` and `decodeLogsProto`.
 *
 * Logs become events as documented in ./logs-mapping.ts.
 */
import { createRequire } from 'node:module';
import type { Reader as PbReader, Writer as PbWriter } from 'protobufjs/minimal.js';
import { setAttr } from '../model/attributes.js';
import type {
  AttrValue,
  Attributes,
  Exemplar,
  ExpHistogramBuckets,
  ExponentialHistogramDataPoint,
  HistogramDataPoint,
  KvList,
  Metric,
  MetricsBatch,
  NumberDataPoint,
  QuantileValue,
  Resource,
  ResourceMetrics,
  Scope,
  ScopeMetrics,
  SummaryDataPoint,
  Temporality,
} from '../model/metrics.js';
import type { Event, EventBatch } from '../model/events.js';
import { DecodeError } from './errors.js';
import { type DecodeLimits, type DecodeResult, Rejections, resolveLimits } from './types.js';
import {
  REASON_TOO_DEEP,
  REASON_TOO_LONG,
  REASON_TOO_MANY,
  histogramProblem,
  isTemporality,
  logRecordMessage,
  metricLabel,
  pointMessage,
  pointsIn,
  SMALL_BIGINTS,
} from './internal.js';
import { type LogRecordFields, scopeBase, toEvent } from './logs-mapping.js';

type Protobuf = typeof import('protobufjs/minimal.js');
let protobuf: Protobuf | undefined;
/** protobufjs's Reader/Writer, loaded on the first protobuf body (a JSON-only process never loads it: ~40 ms and ~3 MiB at start) */
function pb(): Protobuf {
  return (protobuf ??= createRequire(import.meta.url)('protobufjs/minimal.js') as Protobuf);
}

const TWO_32 = 4294967296;
/** hi word below this: the uint64 fits in a safe integer */
const SAFE_HI = 0x200000;

// ---------------------------------------------------------------------------
// 64-bit helpers with a two-slot cache: a request's points mostly share the
// same start and time stamps, and building a bigint > 2^53 costs a few
// allocations.

let cLo0 = -1,
  cHi0 = -1,
  cBig0 = 0n,
  cLo1 = -1,
  cHi1 = -1,
  cBig1 = 0n,
  cTurn = 0;

function u64ToBigInt(lo: number, hi: number): bigint {
  if (lo === cLo0 && hi === cHi0) return cBig0;
  if (lo === cLo1 && hi === cHi1) return cBig1;
  const v = hi < SAFE_HI ? BigInt(hi * TWO_32 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
  if (cTurn === 0) {
    cLo0 = lo;
    cHi0 = hi;
    cBig0 = v;
    cTurn = 1;
  } else {
    cLo1 = lo;
    cHi1 = hi;
    cBig1 = v;
    cTurn = 0;
  }
  return v;
}

function i64ToBigInt(lo: number, hi: number): bigint {
  if (hi === 0 && lo < 1024) return SMALL_BIGINTS[lo] as bigint;
  if (hi < SAFE_HI) return BigInt(hi * TWO_32 + lo);
  if (hi >= 0xffe00000) return BigInt((hi - TWO_32) * TWO_32 + lo); // small negative: exact as a double
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

// Buffer's internal slicers skip toString's argument handling (a third of the
// decode time on attribute-heavy payloads); fall back to toString if absent.
type SliceFn = (this: Buffer, start: number, end: number) => string;
const proto = Buffer.prototype as unknown as { utf8Slice?: SliceFn; latin1Slice?: SliceFn };
const utf8Slice: SliceFn =
  proto.utf8Slice ??
  function (this: Buffer, s: number, e: number) {
    return this.toString('utf8', s, e);
  };
const latin1Slice: SliceFn =
  proto.latin1Slice ??
  function (this: Buffer, s: number, e: number) {
    return this.toString('latin1', s, e);
  };

// Interning cache for short ASCII strings: attribute keys and common values
// repeat on every point. Direct-mapped by an FNV-1a hash of the bytes; a hit is
// verified byte for byte, so a collision only costs a decode.
const SC_BITS = 12;
const SC_MAX_LEN = 48;
const scStrings: string[] = new Array<string>(1 << SC_BITS).fill('');

// ---------------------------------------------------------------------------
// Decoder

/** A point (or other item) problem recorded while its metric is still being read. */
interface PendingReject {
  index: number;
  reason: string;
}

class ProtoDecoder {
  readonly r: PbReader;
  readonly b: Buffer;
  readonly maxAttributes: number;
  readonly maxDepth: number;
  readonly maxValueLength: number;
  readonly sink = new Rejections();
  /** First problem found in the item being decoded (point, record, resource, scope, metadata). */
  reason: string | null = null;
  /** Set by the Sum/Histogram/ExponentialHistogram containers. */
  temporality = 0;
  isMonotonic = false;
  /** Rejected points of the metric being decoded. */
  pending: PendingReject[] = [];
  /** Scratch for varint64 reads. */
  lo = 0;
  hi = 0;

  constructor(buf: Uint8Array, limits: Partial<DecodeLimits> | undefined) {
    if (!(buf instanceof Uint8Array)) throw new DecodeError('expected a Uint8Array body');
    const l = resolveLimits(limits);
    this.maxAttributes = l.maxAttributes;
    this.maxDepth = l.maxDepth;
    this.maxValueLength = l.maxValueLength;
    this.r = new (pb().Reader)(buf);
    this.b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  fail(reason: string): void {
    if (this.reason === null) this.reason = reason;
  }

  /** Convert anything thrown by protobufjs (RangeError etc.) into a DecodeError. */
  wrap(err: unknown): DecodeError {
    if (err instanceof DecodeError) return err;
    const pos = this.r.pos;
    const what = err instanceof Error ? err.message : String(err);
    return new DecodeError(`malformed protobuf at byte offset ${pos}: ${/index out of range/.test(what) ? 'truncated message' : what}`, pos, { cause: err });
  }

  /** Read a length prefix; return where the sub-message ends. */
  begin(): number {
    const r = this.r;
    const at = r.pos;
    const len = r.uint32();
    const end = r.pos + len;
    if (end > r.len) throw new DecodeError(`truncated message at byte offset ${at}: length ${len} runs past the end (${r.len} bytes)`, at);
    return end;
  }

  /** A sub-message must end exactly where its length said. */
  done(end: number): void {
    if (this.r.pos !== end) throw new DecodeError(`malformed protobuf at byte offset ${end}: a field runs past the end of its message`, end);
  }

  skip(tag: number): void {
    if (tag >>> 3 === 0) throw new DecodeError(`malformed protobuf at byte offset ${this.r.pos}: field number 0`, this.r.pos);
    const wt = tag & 7;
    if (wt === 4 || wt > 5) throw new DecodeError(`malformed protobuf at byte offset ${this.r.pos}: invalid wire type ${wt}`, this.r.pos);
    this.r.skipType(wt, 0, tag >>> 3);
  }

  str(): string {
    const r = this.r;
    const len = r.uint32();
    const start = r.pos;
    const end = start + len;
    if (end > r.len) throw new DecodeError(`truncated string at byte offset ${start}`, start);
    r.pos = end;
    if (len === 0) return '';
    if (len <= SC_MAX_LEN) {
      const b = r.buf;
      let h = 0x811c9dc5;
      let i = start;
      for (; i < end; i++) {
        const c = b[i] as number;
        if (c > 127) break;
        h = Math.imul(h ^ c, 0x01000193);
      }
      if (i === end) {
        // ASCII: latin1 = UTF-8, always valid
        const slot = (h ^ (h >>> SC_BITS)) & ((1 << SC_BITS) - 1);
        const cached = scStrings[slot] as string;
        if (cached.length === len) {
          let k = 0;
          while (k < len && cached.charCodeAt(k) === b[start + k]) k++;
          if (k === len) return cached;
        }
        const s = latin1Slice.call(this.b, start, end);
        scStrings[slot] = s;
        return s;
      }
    }
    const s = utf8Slice.call(this.b, start, end);
    if (s.indexOf('\ufffd') !== -1) {
      try {
        fatalUtf8.decode(this.b.subarray(start, end));
      } catch {
        throw new DecodeError(`invalid UTF-8 in string field at byte offset ${start}`, start);
      }
    }
    return s;
  }

  bytes(): Uint8Array {
    const r = this.r;
    const len = r.uint32();
    const start = r.pos;
    const end = start + len;
    if (end > r.len) throw new DecodeError(`truncated bytes at byte offset ${start}`, start);
    r.pos = end;
    const out = new Uint8Array(len);
    out.set(this.b.subarray(start, end));
    return out;
  }

  hex(): string {
    const r = this.r;
    const len = r.uint32();
    const start = r.pos;
    const end = start + len;
    if (end > r.len) throw new DecodeError(`truncated bytes at byte offset ${start}`, start);
    r.pos = end;
    return len === 0 ? '' : this.b.toString('hex', start, end);
  }

  /** Read 8 little-endian bytes into this.lo / this.hi. */
  fixed64(): void {
    const r = this.r;
    const p = r.pos;
    if (p + 8 > r.len) throw new DecodeError(`truncated fixed64 at byte offset ${p}`, p);
    const b = r.buf;
    this.lo = ((b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16) | ((b[p + 3] as number) << 24)) >>> 0;
    this.hi = ((b[p + 4] as number) | ((b[p + 5] as number) << 8) | ((b[p + 6] as number) << 16) | ((b[p + 7] as number) << 24)) >>> 0;
    r.pos = p + 8;
  }

  /** fixed64 as an exact unsigned bigint (timestamps). */
  u64(): bigint {
    this.fixed64();
    return u64ToBigInt(this.lo, this.hi);
  }

  /** sfixed64 as an exact signed bigint (asInt). */
  s64(): bigint {
    this.fixed64();
    return i64ToBigInt(this.lo, this.hi);
  }

  /** fixed64 as a number (counts; exact up to 2^53). */
  f64num(): number {
    this.fixed64();
    return this.hi * TWO_32 + this.lo;
  }

  /** Read a varint of up to 64 bits into this.lo / this.hi. */
  varint64(): void {
    const r = this.r;
    const b = r.buf;
    let p = r.pos;
    const n = r.len;
    let lo = 0,
      hi = 0,
      byte = 0,
      shift = 0;
    for (; shift < 28; shift += 7) {
      if (p >= n) throw new DecodeError(`truncated varint at byte offset ${p}`, p);
      byte = b[p++] as number;
      lo |= (byte & 127) << shift;
      if (byte < 128) {
        this.lo = lo >>> 0;
        this.hi = 0;
        r.pos = p;
        return;
      }
    }
    // 5th byte: 4 bits to lo, 3 bits to hi
    if (p >= n) throw new DecodeError(`truncated varint at byte offset ${p}`, p);
    byte = b[p++] as number;
    lo |= (byte & 15) << 28;
    hi = (byte & 127) >> 4;
    if (byte >= 128) {
      for (shift = 3; shift < 32; shift += 7) {
        if (p >= n) throw new DecodeError(`truncated varint at byte offset ${p}`, p);
        byte = b[p++] as number;
        hi |= (byte & 127) << shift;
        if (byte < 128) break;
      }
      if (byte >= 128) throw new DecodeError(`malformed varint at byte offset ${p}`, p);
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    r.pos = p;
  }

  // -- common.v1 ------------------------------------------------------------

  /**
   * One KeyValue into `into` (last key wins). `level` = containers enclosing
   * the value (0 for a top-level attribute).
   */
  keyValue(into: Attributes, level: number): void {
    const r = this.r;
    const end = this.begin();
    let key = '';
    let value: AttrValue = null;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x0a:
          key = this.str();
          break; // 1 key
        case 0x12:
          value = this.anyValue(level);
          break; // 2 value
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    setAttr(into, key, value);
  }

  /** A repeated KeyValue field entry, counting against maxAttributes. */
  attribute(into: Attributes, count: number, what: string, level = 0): void {
    if (count > this.maxAttributes) {
      this.fail(REASON_TOO_MANY(what, this.maxAttributes));
      const end = this.begin();
      this.r.pos = end; // skip by length, no decoding
      return;
    }
    this.keyValue(into, level);
  }

  anyValue(level: number): AttrValue {
    const r = this.r;
    const end = this.begin();
    let v: AttrValue = null;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x0a: {
          // 1 string_value
          const s = this.str();
          if (s.length > this.maxValueLength) this.fail(REASON_TOO_LONG(this.maxValueLength));
          v = s;
          break;
        }
        case 0x10:
          v = r.bool();
          break; // 2 bool_value
        case 0x18:
          this.varint64();
          v = i64ToBigInt(this.lo, this.hi);
          break; // 3 int_value
        case 0x21:
          v = r.double();
          break; // 4 double_value
        case 0x2a: // 5 array_value
          if (level >= this.maxDepth) {
            this.fail(REASON_TOO_DEEP(this.maxDepth));
            r.pos = this.begin();
            v = null;
          } else v = this.arrayValue(level + 1);
          break;
        case 0x32: // 6 kvlist_value
          if (level >= this.maxDepth) {
            this.fail(REASON_TOO_DEEP(this.maxDepth));
            r.pos = this.begin();
            v = null;
          } else v = this.kvlistValue(level + 1);
          break;
        case 0x3a:
          v = this.bytes();
          break; // 7 bytes_value
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    return v;
  }

  arrayValue(level: number): AttrValue[] {
    const r = this.r;
    const end = this.begin();
    const out: AttrValue[] = [];
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === 0x0a)
        out.push(this.anyValue(level)); // 1 values
      else this.skip(tag);
    }
    this.done(end);
    return out;
  }

  kvlistValue(level: number): KvList {
    const r = this.r;
    const end = this.begin();
    const out: KvList = {};
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === 0x0a)
        this.keyValue(out, level); // 1 values
      else this.skip(tag);
    }
    this.done(end);
    return out;
  }

  resource(): Resource {
    const r = this.r;
    const end = this.begin();
    const attributes: Attributes = {};
    let n = 0,
      dropped = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x0a:
          this.attribute(attributes, ++n, 'resource attributes');
          break; // 1 attributes
        case 0x10:
          dropped = r.uint32();
          break; // 2 dropped_attributes_count
        default:
          this.skip(tag); // 3 entity_refs, unknown
      }
    }
    this.done(end);
    return { attributes, droppedAttributesCount: dropped };
  }

  scope(): Scope {
    const r = this.r;
    const end = this.begin();
    const attributes: Attributes = {};
    let name = '',
      version = '',
      n = 0,
      dropped = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x0a:
          name = this.str();
          break; // 1 name
        case 0x12:
          version = this.str();
          break; // 2 version
        case 0x1a:
          this.attribute(attributes, ++n, 'scope attributes');
          break; // 3 attributes
        case 0x20:
          dropped = r.uint32();
          break; // 4 dropped_attributes_count
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    return { name, version, attributes, droppedAttributesCount: dropped };
  }

  // -- metrics.v1 -----------------------------------------------------------

  request(): ResourceMetrics[] {
    const r = this.r;
    const out: ResourceMetrics[] = [];
    let ri = 0;
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag === 0x0a) {
        // 1 resource_metrics
        const rm = this.resourceMetrics(ri++);
        if (rm !== null) out.push(rm);
      } else this.skip(tag);
    }
    return out;
  }

  resourceMetrics(ri: number): ResourceMetrics | null {
    const r = this.r;
    const end = this.begin();
    let resource: Resource | null = null;
    let resourceReason: string | null = null;
    const scopeMetrics: ScopeMetrics[] = [];
    let schemaUrl = '';
    let si = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x0a: // 1 resource
          this.reason = null;
          resource = this.resource();
          resourceReason = this.reason;
          this.reason = null;
          break;
        case 0x12: {
          // 2 scope_metrics
          const sm = this.scopeMetrics(ri, si++);
          if (sm !== null) scopeMetrics.push(sm);
          break;
        }
        case 0x1a:
          schemaUrl = this.str();
          break; // 3 schema_url
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    if (resourceReason !== null) {
      let n = 0;
      for (const sm of scopeMetrics) n += pointsIn(sm.metrics);
      this.sink.add(n, `resourceMetrics[${ri}].resource: ${resourceReason}; its ${n} data points were dropped`);
      return null;
    }
    return { resource: resource ?? { attributes: {}, droppedAttributesCount: 0 }, scopeMetrics, schemaUrl };
  }

  scopeMetrics(ri: number, si: number): ScopeMetrics | null {
    const r = this.r;
    const end = this.begin();
    let scope: Scope | null = null;
    let scopeReason: string | null = null;
    const metrics: Metric[] = [];
    let schemaUrl = '';
    let mi = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x0a: // 1 scope
          this.reason = null;
          scope = this.scope();
          scopeReason = this.reason;
          this.reason = null;
          break;
        case 0x12: {
          // 2 metrics
          const m = this.metric(ri, si, mi++);
          if (m !== null) metrics.push(m);
          break;
        }
        case 0x1a:
          schemaUrl = this.str();
          break; // 3 schema_url
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    if (scopeReason !== null) {
      const n = pointsIn(metrics);
      this.sink.add(n, `resourceMetrics[${ri}].scopeMetrics[${si}].scope: ${scopeReason}; its ${n} data points were dropped`);
      return null;
    }
    return { scope: scope ?? { name: '', version: '', attributes: {}, droppedAttributesCount: 0 }, metrics, schemaUrl };
  }

  metric(ri: number, si: number, mi: number): Metric | null {
    const r = this.r;
    const end = this.begin();
    let name = '',
      description = '',
      unit = '';
    let kind = 0; // 0 none, 5 gauge, 7 sum, 9 histogram, 10 exponential histogram, 11 summary (field numbers)
    let points: unknown[] = [];
    let temporality = 0,
      isMonotonic = false;
    let metadata: Attributes | undefined;
    let metadataReason: string | null = null;
    let nMeta = 0;
    const pending = this.pending;
    pending.length = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x0a:
          name = this.str();
          break; // 1 name
        case 0x12:
          description = this.str();
          break; // 2 description
        case 0x1a:
          unit = this.str();
          break; // 3 unit
        case 0x2a:
          pending.length = 0;
          kind = 5;
          points = this.gauge();
          break; // 5 gauge
        case 0x3a:
          pending.length = 0;
          kind = 7;
          points = this.sum();
          temporality = this.temporality;
          isMonotonic = this.isMonotonic;
          break; // 7 sum
        case 0x4a:
          pending.length = 0;
          kind = 9;
          points = this.histogram();
          temporality = this.temporality;
          break; // 9 histogram
        case 0x52:
          pending.length = 0;
          kind = 10;
          points = this.expHistogram();
          temporality = this.temporality;
          break; // 10 exponential_histogram
        case 0x5a:
          pending.length = 0;
          kind = 11;
          points = this.summary();
          break; // 11 summary
        case 0x62: // 12 metadata
          if (metadata === undefined) metadata = {};
          this.reason = null;
          this.attribute(metadata, ++nMeta, 'metadata entries');
          if (this.reason !== null && metadataReason === null) metadataReason = this.reason;
          this.reason = null;
          break;
        default:
          this.skip(tag);
      }
    }
    this.done(end);

    // Metric-level problems drop the whole metric, counting every point it carried
    // (those already rejected individually included), or 1 when it carried none.
    const all = points.length + pending.length;
    let bad: string | null = null;
    if (name === '') bad = 'missing name';
    else if (kind === 0) bad = 'no data (expected gauge, sum, histogram, exponentialHistogram or summary)';
    else if (metadataReason !== null) bad = 'metadata: ' + metadataReason;
    else if (!isTemporality(temporality)) bad = `unknown aggregation temporality ${temporality}`;
    if (bad !== null) {
      this.sink.add(all > 0 ? all : 1, `${metricLabel(name, ri, si, mi)}: ${bad}`);
      return null;
    }
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i] as PendingReject;
      this.sink.add(1, pointMessage(name, ri, si, mi, p.index, p.reason));
    }
    // A metric whose every point was rejected is dropped (already counted).
    if (points.length === 0 && pending.length > 0) return null;

    const base = { name, description, unit } as { name: string; description: string; unit: string; metadata?: Attributes };
    if (metadata !== undefined) base.metadata = metadata;
    switch (kind) {
      case 5:
        return { ...base, kind: 'gauge', points: points as NumberDataPoint[] };
      case 7:
        return { ...base, kind: 'sum', temporality: temporality as Temporality, isMonotonic, points: points as NumberDataPoint[] };
      case 9:
        return { ...base, kind: 'histogram', temporality: temporality as Temporality, points: points as HistogramDataPoint[] };
      case 10:
        return { ...base, kind: 'exponentialHistogram', temporality: temporality as Temporality, points: points as ExponentialHistogramDataPoint[] };
      default:
        return { ...base, kind: 'summary', points: points as SummaryDataPoint[] };
    }
  }

  /** After a point is read: keep it, or record why it was rejected. */
  private keep(points: unknown[], point: unknown, index: number): void {
    if (this.reason === null) points.push(point);
    else {
      this.pending.push({ index, reason: this.reason });
      this.reason = null;
    }
  }

  gauge(): NumberDataPoint[] {
    const r = this.r;
    const end = this.begin();
    const points: NumberDataPoint[] = [];
    let pi = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === 0x0a)
        this.keep(points, this.numberPoint(), pi++); // 1 data_points
      else this.skip(tag);
    }
    this.done(end);
    return points;
  }

  sum(): NumberDataPoint[] {
    const r = this.r;
    const end = this.begin();
    const points: NumberDataPoint[] = [];
    let pi = 0;
    this.temporality = 0;
    this.isMonotonic = false;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x0a:
          this.keep(points, this.numberPoint(), pi++);
          break; // 1 data_points
        case 0x10:
          this.temporality = r.int32();
          break; // 2 aggregation_temporality
        case 0x18:
          this.isMonotonic = r.bool();
          break; // 3 is_monotonic
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    return points;
  }

  histogram(): HistogramDataPoint[] {
    const r = this.r;
    const end = this.begin();
    const points: HistogramDataPoint[] = [];
    let pi = 0;
    this.temporality = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x0a:
          this.keep(points, this.histogramPoint(), pi++);
          break; // 1 data_points
        case 0x10:
          this.temporality = r.int32();
          break; // 2 aggregation_temporality
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    return points;
  }

  expHistogram(): ExponentialHistogramDataPoint[] {
    const r = this.r;
    const end = this.begin();
    const points: ExponentialHistogramDataPoint[] = [];
    let pi = 0;
    this.temporality = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x0a:
          this.keep(points, this.expHistogramPoint(), pi++);
          break; // 1 data_points
        case 0x10:
          this.temporality = r.int32();
          break; // 2 aggregation_temporality
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    return points;
  }

  summary(): SummaryDataPoint[] {
    const r = this.r;
    const end = this.begin();
    const points: SummaryDataPoint[] = [];
    let pi = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      if (tag === 0x0a)
        this.keep(points, this.summaryPoint(), pi++); // 1 data_points
      else this.skip(tag);
    }
    this.done(end);
    return points;
  }

  numberPoint(): NumberDataPoint {
    const r = this.r;
    const end = this.begin();
    this.reason = null;
    const attributes: Attributes = {};
    let n = 0,
      start = 0n,
      time = 0n,
      flags = 0;
    let value: number | bigint | undefined;
    let exemplars: Exemplar[] | undefined;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x3a:
          this.attribute(attributes, ++n, 'attributes');
          break; // 7 attributes
        case 0x11:
          start = this.u64();
          break; // 2 start_time_unix_nano
        case 0x19:
          time = this.u64();
          break; // 3 time_unix_nano
        case 0x21:
          value = r.double();
          break; // 4 as_double
        case 0x31:
          value = this.s64();
          break; // 6 as_int
        case 0x2a:
          (exemplars ??= []).push(this.exemplar());
          break; // 5 exemplars
        case 0x40:
          flags = r.uint32();
          break; // 8 flags
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    if (value === undefined) {
      if ((flags & 1) === 0) this.fail('no value (neither asInt nor asDouble)');
      value = NaN;
    }
    const p: NumberDataPoint = { attributes, startTimeUnixNano: start, timeUnixNano: time, flags, value };
    if (exemplars !== undefined) p.exemplars = exemplars;
    return p;
  }

  /** Packed (wire type 2) fixed64 values as numbers. */
  packedFixed64(into: number[]): void {
    const end = this.begin();
    if (((end - this.r.pos) & 7) !== 0) throw new DecodeError(`malformed packed fixed64 at byte offset ${this.r.pos}`, this.r.pos);
    while (this.r.pos < end) into.push(this.f64num());
  }

  /** Packed (wire type 2) uint64 varints as numbers. */
  packedVarint64(into: number[]): void {
    const end = this.begin();
    const r = this.r;
    while (r.pos < end) {
      this.varint64();
      into.push(this.hi * TWO_32 + this.lo);
    }
    this.done(end);
  }

  histogramPoint(): HistogramDataPoint {
    const r = this.r;
    const end = this.begin();
    this.reason = null;
    const attributes: Attributes = {};
    let n = 0,
      start = 0n,
      time = 0n,
      flags = 0,
      count = 0;
    let sum: number | undefined, min: number | undefined, max: number | undefined;
    const bucketCounts: number[] = [];
    const explicitBounds: number[] = [];
    let exemplars: Exemplar[] | undefined;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x4a:
          this.attribute(attributes, ++n, 'attributes');
          break; // 9 attributes
        case 0x11:
          start = this.u64();
          break; // 2 start_time_unix_nano
        case 0x19:
          time = this.u64();
          break; // 3 time_unix_nano
        case 0x21:
          count = this.f64num();
          break; // 4 count
        case 0x29:
          sum = r.double();
          break; // 5 sum
        case 0x32:
          this.packedFixed64(bucketCounts);
          break; // 6 bucket_counts, packed
        case 0x31:
          bucketCounts.push(this.f64num());
          break; // 6 bucket_counts, unpacked
        case 0x3a:
          r.doubles(explicitBounds);
          break; // 7 explicit_bounds, packed
        case 0x39:
          explicitBounds.push(r.double());
          break; // 7 explicit_bounds, unpacked
        case 0x42:
          (exemplars ??= []).push(this.exemplar());
          break; // 8 exemplars
        case 0x50:
          flags = r.uint32();
          break; // 10 flags
        case 0x59:
          min = r.double();
          break; // 11 min
        case 0x61:
          max = r.double();
          break; // 12 max
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    const problem = histogramProblem(bucketCounts, explicitBounds);
    if (problem !== null) this.fail(problem);
    const p: HistogramDataPoint = { attributes, startTimeUnixNano: start, timeUnixNano: time, flags, count, bucketCounts, explicitBounds };
    if (sum !== undefined) p.sum = sum;
    if (min !== undefined) p.min = min;
    if (max !== undefined) p.max = max;
    if (exemplars !== undefined) p.exemplars = exemplars;
    return p;
  }

  buckets(): ExpHistogramBuckets {
    const r = this.r;
    const end = this.begin();
    let offset = 0;
    const bucketCounts: number[] = [];
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x08:
          offset = r.sint32();
          break; // 1 offset
        case 0x12:
          this.packedVarint64(bucketCounts);
          break; // 2 bucket_counts, packed
        case 0x10:
          this.varint64();
          bucketCounts.push(this.hi * TWO_32 + this.lo);
          break; // 2 bucket_counts, unpacked
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    return { offset, bucketCounts };
  }

  expHistogramPoint(): ExponentialHistogramDataPoint {
    const r = this.r;
    const end = this.begin();
    this.reason = null;
    const attributes: Attributes = {};
    let n = 0,
      start = 0n,
      time = 0n,
      flags = 0,
      count = 0,
      scale = 0,
      zeroCount = 0,
      zeroThreshold = 0;
    let sum: number | undefined, min: number | undefined, max: number | undefined;
    let positive: ExpHistogramBuckets | undefined, negative: ExpHistogramBuckets | undefined;
    let exemplars: Exemplar[] | undefined;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x0a:
          this.attribute(attributes, ++n, 'attributes');
          break; // 1 attributes
        case 0x11:
          start = this.u64();
          break; // 2 start_time_unix_nano
        case 0x19:
          time = this.u64();
          break; // 3 time_unix_nano
        case 0x21:
          count = this.f64num();
          break; // 4 count
        case 0x29:
          sum = r.double();
          break; // 5 sum
        case 0x30:
          scale = r.sint32();
          break; // 6 scale
        case 0x39:
          zeroCount = this.f64num();
          break; // 7 zero_count
        case 0x42:
          positive = this.buckets();
          break; // 8 positive
        case 0x4a:
          negative = this.buckets();
          break; // 9 negative
        case 0x50:
          flags = r.uint32();
          break; // 10 flags
        case 0x5a:
          (exemplars ??= []).push(this.exemplar());
          break; // 11 exemplars
        case 0x61:
          min = r.double();
          break; // 12 min
        case 0x69:
          max = r.double();
          break; // 13 max
        case 0x71:
          zeroThreshold = r.double();
          break; // 14 zero_threshold
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    const p: ExponentialHistogramDataPoint = {
      attributes,
      startTimeUnixNano: start,
      timeUnixNano: time,
      flags,
      count,
      scale,
      zeroCount,
      positive: positive ?? { offset: 0, bucketCounts: [] },
      negative: negative ?? { offset: 0, bucketCounts: [] },
      zeroThreshold,
    };
    if (sum !== undefined) p.sum = sum;
    if (min !== undefined) p.min = min;
    if (max !== undefined) p.max = max;
    if (exemplars !== undefined) p.exemplars = exemplars;
    return p;
  }

  quantile(): QuantileValue {
    const r = this.r;
    const end = this.begin();
    let quantile = 0,
      value = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x09:
          quantile = r.double();
          break; // 1 quantile
        case 0x11:
          value = r.double();
          break; // 2 value
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    return { quantile, value };
  }

  summaryPoint(): SummaryDataPoint {
    const r = this.r;
    const end = this.begin();
    this.reason = null;
    const attributes: Attributes = {};
    let n = 0,
      start = 0n,
      time = 0n,
      flags = 0,
      count = 0,
      sum = 0;
    const quantileValues: QuantileValue[] = [];
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x3a:
          this.attribute(attributes, ++n, 'attributes');
          break; // 7 attributes
        case 0x11:
          start = this.u64();
          break; // 2 start_time_unix_nano
        case 0x19:
          time = this.u64();
          break; // 3 time_unix_nano
        case 0x21:
          count = this.f64num();
          break; // 4 count
        case 0x29:
          sum = r.double();
          break; // 5 sum
        case 0x32:
          quantileValues.push(this.quantile());
          break; // 6 quantile_values
        case 0x40:
          flags = r.uint32();
          break; // 8 flags
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    return { attributes, startTimeUnixNano: start, timeUnixNano: time, flags, count, sum, quantileValues };
  }

  exemplar(): Exemplar {
    const r = this.r;
    const end = this.begin();
    const filteredAttributes: Attributes = {};
    let n = 0,
      time = 0n,
      spanId = '',
      traceId = '';
    let value: number | bigint = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x3a:
          this.attribute(filteredAttributes, ++n, 'exemplar attributes');
          break; // 7 filtered_attributes
        case 0x11:
          time = this.u64();
          break; // 2 time_unix_nano
        case 0x19:
          value = r.double();
          break; // 3 as_double
        case 0x31:
          value = this.s64();
          break; // 6 as_int
        case 0x22:
          spanId = this.hex();
          break; // 4 span_id
        case 0x2a:
          traceId = this.hex();
          break; // 5 trace_id
        default:
          this.skip(tag);
      }
    }
    this.done(end);
    return { filteredAttributes, timeUnixNano: time, value, spanId, traceId };
  }

  // -- logs.v1 ----------------------------------------------------------------

  logsRequest(): Event[] {
    const r = this.r;
    const out: Event[] = [];
    let ri = 0;
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag === 0x0a)
        this.resourceLogs(ri++, out); // 1 resource_logs
      else this.skip(tag);
    }
    return out;
  }

  resourceLogs(ri: number, out: Event[]): void {
    const r = this.r;
    const end = this.begin();
    let resource: Resource | null = null;
    let resourceReason: string | null = null;
    const scopes: ScopeLogsTmp[] = [];
    let si = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x0a: // 1 resource
          this.reason = null;
          resource = this.resource();
          resourceReason = this.reason;
          this.reason = null;
          break;
        case 0x12: {
          // 2 scope_logs
          const sl = this.scopeLogs(ri, si++);
          if (sl !== null) scopes.push(sl);
          break;
        }
        default:
          this.skip(tag); // 3 schema_url: not mapped
      }
    }
    this.done(end);
    if (resourceReason !== null) {
      let n = 0;
      for (const s of scopes) n += s.records.length;
      this.sink.add(n, `resourceLogs[${ri}].resource: ${resourceReason}; its ${n} log records were dropped`);
      return;
    }
    const resAttrs = resource !== null ? resource.attributes : {};
    for (const s of scopes) {
      const base = scopeBase(resAttrs, s.scope.attributes, s.scope.name, s.scope.version);
      for (const rec of s.records) out.push(toEvent(base, rec));
    }
  }

  scopeLogs(ri: number, si: number): ScopeLogsTmp | null {
    const r = this.r;
    const end = this.begin();
    let scope: Scope | null = null;
    let scopeReason: string | null = null;
    const records: LogRecordFields[] = [];
    let li = 0;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x0a: // 1 scope
          this.reason = null;
          scope = this.scope();
          scopeReason = this.reason;
          this.reason = null;
          break;
        case 0x12: {
          // 2 log_records
          const idx = li++;
          const rec = this.logRecord();
          if (this.reason === null) records.push(rec);
          else {
            this.sink.add(1, logRecordMessage(ri, si, idx, this.reason));
            this.reason = null;
          }
          break;
        }
        default:
          this.skip(tag); // 3 schema_url: not mapped
      }
    }
    this.done(end);
    if (scopeReason !== null) {
      const n = records.length;
      this.sink.add(n, `resourceLogs[${ri}].scopeLogs[${si}].scope: ${scopeReason}; its ${n} log records were dropped`);
      return null;
    }
    return { scope: scope ?? { name: '', version: '', attributes: {}, droppedAttributesCount: 0 }, records };
  }

  logRecord(): LogRecordFields {
    const r = this.r;
    const end = this.begin();
    this.reason = null;
    const attributes: Attributes = {};
    let n = 0,
      time = 0n,
      observed = 0n,
      severityNumber = 0,
      severityText = '',
      traceId = '',
      spanId = '',
      eventName = '';
    let body: AttrValue | undefined;
    while (r.pos < end) {
      const tag = r.uint32();
      switch (tag) {
        case 0x09:
          time = this.u64();
          break; // 1 time_unix_nano
        case 0x59:
          observed = this.u64();
          break; // 11 observed_time_unix_nano
        case 0x10:
          severityNumber = r.int32();
          break; // 2 severity_number
        case 0x1a:
          severityText = this.str();
          break; // 3 severity_text
        case 0x2a:
          body = this.anyValue(0);
          break; // 5 body
        case 0x32:
          this.attribute(attributes, ++n, 'attributes');
          break; // 6 attributes
        case 0x4a:
          traceId = this.hex();
          break; // 9 trace_id
        case 0x52:
          spanId = this.hex();
          break; // 10 span_id
        case 0x62:
          eventName = this.str();
          break; // 12 event_name
        default:
          this.skip(tag); // 7 dropped_attributes_count, 8 flags: not mapped
      }
    }
    this.done(end);
    return { time, observed, severityNumber, severityText, body, attributes, traceId, spanId, eventName };
  }
}

interface ScopeLogsTmp {
  scope: Scope;
  records: LogRecordFields[];
}

/**
 * Decode an ExportMetricsServiceRequest.
 *
 * Throws DecodeError when the bytes are truncated or malformed or a string is
 * not valid UTF-8. Invalid items are dropped and counted in `rejected` (in data
 * points), with up to 10 messages in `errors`:
 * - a data point with more than `maxAttributes` attributes (or exemplar
 *   attributes), an attribute value nested deeper than `maxDepth`, or a string
 *   in an attribute value longer than `maxValueLength`;
 * - a number point with neither asInt nor asDouble, unless flags bit 0 (no
 *   recorded value) is set (then `value` is NaN);
 * - a histogram point whose bucketCounts (when non-empty) do not number
 *   explicitBounds + 1, or whose bounds are not strictly increasing;
 * - a metric without a name, without data, with an unknown aggregation
 *   temporality or with invalid metadata: all its points (1 if it has none);
 * - a resource or scope with invalid attributes: all the points under it.
 * A metric whose every point was rejected is dropped.
 */
export function decodeMetricsProto(buf: Uint8Array, limits?: Partial<DecodeLimits>): DecodeResult<MetricsBatch> {
  const d = new ProtoDecoder(buf, limits);
  let resourceMetrics: ResourceMetrics[];
  try {
    resourceMetrics = d.request();
  } catch (err) {
    throw d.wrap(err);
  }
  return { data: { resourceMetrics }, rejected: d.sink.rejected, errors: d.sink.errors };
}

/**
 * Decode an ExportLogsServiceRequest into events (see ./logs-mapping.ts for the
 * attribute mapping). Invalid log records (too many attributes, an attribute or
 * body nested deeper than `maxDepth` or holding a string longer than
 * `maxValueLength`) are dropped and counted in `rejected`; an invalid resource
 * or scope drops all the records under it.
 */
export function decodeLogsProto(buf: Uint8Array, limits?: Partial<DecodeLimits>): DecodeResult<EventBatch> {
  const d = new ProtoDecoder(buf, limits);
  let events: Event[];
  try {
    events = d.logsRequest();
  } catch (err) {
    throw d.wrap(err);
  }
  return { data: { events }, rejected: d.sink.rejected, errors: d.sink.errors };
}

// ---------------------------------------------------------------------------
// Encoder

const U32 = 0xffffffffn;
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);
let eBig0: bigint | undefined,
  eLo0 = 0,
  eHi0 = 0,
  eBig1: bigint | undefined,
  eLo1 = 0,
  eHi1 = 0,
  eTurn = 0;

/** Write a bigint as fixed64/sfixed64 (two's complement), caching recent values. */
function writeFixed64Big(w: PbWriter, v: bigint): void {
  let lo: number, hi: number;
  if (v === eBig0) {
    lo = eLo0;
    hi = eHi0;
  } else if (v === eBig1) {
    lo = eLo1;
    hi = eHi1;
  } else {
    if (v >= 0n && v <= MAX_SAFE_BIG) {
      const n = Number(v);
      lo = n >>> 0;
      hi = Math.floor(n / TWO_32) >>> 0;
    } else {
      const u = BigInt.asUintN(64, v);
      lo = Number(u & U32);
      hi = Number(u >> 32n);
    }
    if (eTurn === 0) {
      eBig0 = v;
      eLo0 = lo;
      eHi0 = hi;
      eTurn = 1;
    } else {
      eBig1 = v;
      eLo1 = lo;
      eHi1 = hi;
      eTurn = 0;
    }
  }
  w.fixed32(lo).fixed32(hi);
}

function writeFixed64Num(w: PbWriter, n: number): void {
  w.fixed32(n >>> 0).fixed32(Math.floor(n / TWO_32) >>> 0);
}

const longBits = { low: 0, high: 0, unsigned: false };
/** Write a bigint as an int64 varint. */
function writeInt64(w: PbWriter, v: bigint): void {
  if (v >= -2147483648n && v <= 2147483647n) {
    w.int32(Number(v));
    return;
  }
  const u = BigInt.asUintN(64, v);
  longBits.low = Number(u & U32) | 0;
  longBits.high = Number(u >> 32n) | 0;
  w.int64(longBits as unknown as number); // protobufjs accepts any {low, high}
}

function writeAnyValue(w: PbWriter, v: AttrValue): void {
  switch (typeof v) {
    case 'string':
      w.uint32(0x0a).string(v);
      return; // 1 string_value
    case 'boolean':
      w.uint32(0x10).bool(v);
      return; // 2 bool_value
    case 'bigint':
      w.uint32(0x18);
      writeInt64(w, v);
      return; // 3 int_value
    case 'number':
      w.uint32(0x21).double(v);
      return; // 4 double_value
    default:
      if (v === null) return; // empty AnyValue
      if (v instanceof Uint8Array) {
        w.uint32(0x3a).bytes(v);
        return;
      } // 7 bytes_value
      if (Array.isArray(v)) {
        // 5 array_value
        w.uint32(0x2a).fork();
        for (let i = 0; i < v.length; i++) {
          w.uint32(0x0a).fork(); // ArrayValue.values
          writeAnyValue(w, v[i] as AttrValue);
          w.ldelim();
        }
        w.ldelim();
        return;
      }
      w.uint32(0x32).fork(); // 6 kvlist_value
      writeAttributes(w, 0x0a, v); // KeyValueList.values
      w.ldelim();
  }
}

/** Write each attribute as a KeyValue under `tag`. */
function writeAttributes(w: PbWriter, tag: number, attrs: Attributes): void {
  for (const key in attrs) {
    w.uint32(tag).fork();
    w.uint32(0x0a).string(key); // KeyValue.key
    w.uint32(0x12).fork(); // KeyValue.value
    writeAnyValue(w, attrs[key] as AttrValue);
    w.ldelim();
    w.ldelim();
  }
}

function writeHexBytes(w: PbWriter, tag: number, hex: string): void {
  if (hex === '') return;
  w.uint32(tag).bytes(Buffer.from(hex, 'hex'));
}

function writeExemplars(w: PbWriter, tag: number, exemplars: Exemplar[] | undefined): void {
  if (exemplars === undefined) return;
  for (const e of exemplars) {
    w.uint32(tag).fork();
    writeAttributes(w, 0x3a, e.filteredAttributes); // 7 filtered_attributes
    w.uint32(0x11);
    writeFixed64Big(w, e.timeUnixNano); // 2 time_unix_nano
    if (typeof e.value === 'bigint') {
      w.uint32(0x31);
      writeFixed64Big(w, e.value);
    } // 6 as_int
    else w.uint32(0x19).double(e.value); // 3 as_double
    writeHexBytes(w, 0x22, e.spanId); // 4 span_id
    writeHexBytes(w, 0x2a, e.traceId); // 5 trace_id
    w.ldelim();
  }
}

function writeNumberPoints(w: PbWriter, points: NumberDataPoint[]): void {
  for (const p of points) {
    w.uint32(0x0a).fork(); // data_points
    writeAttributes(w, 0x3a, p.attributes); // 7 attributes
    w.uint32(0x11);
    writeFixed64Big(w, p.startTimeUnixNano); // 2
    w.uint32(0x19);
    writeFixed64Big(w, p.timeUnixNano); // 3
    const v = p.value;
    if (typeof v === 'bigint') {
      w.uint32(0x31);
      writeFixed64Big(w, v);
    } // 6 as_int
    else if (!((p.flags & 1) !== 0 && Number.isNaN(v))) w.uint32(0x21).double(v); // 4 as_double
    writeExemplars(w, 0x2a, p.exemplars); // 5 exemplars
    if (p.flags !== 0) w.uint32(0x40).uint32(p.flags); // 8 flags
    w.ldelim();
  }
}

function writeHistogramPoints(w: PbWriter, points: HistogramDataPoint[]): void {
  for (const p of points) {
    w.uint32(0x0a).fork();
    writeAttributes(w, 0x4a, p.attributes); // 9 attributes
    w.uint32(0x11);
    writeFixed64Big(w, p.startTimeUnixNano); // 2
    w.uint32(0x19);
    writeFixed64Big(w, p.timeUnixNano); // 3
    w.uint32(0x21);
    writeFixed64Num(w, p.count); // 4 count
    if (p.sum !== undefined) w.uint32(0x29).double(p.sum); // 5 sum
    if (p.bucketCounts.length > 0) {
      // 6 bucket_counts, packed
      w.uint32(0x32).uint32(p.bucketCounts.length * 8);
      for (const c of p.bucketCounts) writeFixed64Num(w, c);
    }
    if (p.explicitBounds.length > 0) {
      // 7 explicit_bounds, packed
      w.uint32(0x3a).uint32(p.explicitBounds.length * 8);
      for (const b of p.explicitBounds) w.double(b);
    }
    writeExemplars(w, 0x42, p.exemplars); // 8 exemplars
    if (p.flags !== 0) w.uint32(0x50).uint32(p.flags); // 10 flags
    if (p.min !== undefined) w.uint32(0x59).double(p.min); // 11 min
    if (p.max !== undefined) w.uint32(0x61).double(p.max); // 12 max
    w.ldelim();
  }
}

function writeBuckets(w: PbWriter, tag: number, b: ExpHistogramBuckets): void {
  w.uint32(tag).fork();
  if (b.offset !== 0) w.uint32(0x08).sint32(b.offset); // 1 offset
  if (b.bucketCounts.length > 0) {
    // 2 bucket_counts, packed
    w.uint32(0x12).fork();
    for (const c of b.bucketCounts) w.uint64(c);
    w.ldelim();
  }
  w.ldelim();
}

function writeExpHistogramPoints(w: PbWriter, points: ExponentialHistogramDataPoint[]): void {
  for (const p of points) {
    w.uint32(0x0a).fork();
    writeAttributes(w, 0x0a, p.attributes); // 1 attributes
    w.uint32(0x11);
    writeFixed64Big(w, p.startTimeUnixNano); // 2
    w.uint32(0x19);
    writeFixed64Big(w, p.timeUnixNano); // 3
    w.uint32(0x21);
    writeFixed64Num(w, p.count); // 4 count
    if (p.sum !== undefined) w.uint32(0x29).double(p.sum); // 5 sum
    if (p.scale !== 0) w.uint32(0x30).sint32(p.scale); // 6 scale
    w.uint32(0x39);
    writeFixed64Num(w, p.zeroCount); // 7 zero_count
    writeBuckets(w, 0x42, p.positive); // 8 positive
    writeBuckets(w, 0x4a, p.negative); // 9 negative
    if (p.flags !== 0) w.uint32(0x50).uint32(p.flags); // 10 flags
    writeExemplars(w, 0x5a, p.exemplars); // 11 exemplars
    if (p.min !== undefined) w.uint32(0x61).double(p.min); // 12 min
    if (p.max !== undefined) w.uint32(0x69).double(p.max); // 13 max
    if (p.zeroThreshold !== 0 || Object.is(p.zeroThreshold, -0)) w.uint32(0x71).double(p.zeroThreshold); // 14 zero_threshold
    w.ldelim();
  }
}

function writeSummaryPoints(w: PbWriter, points: SummaryDataPoint[]): void {
  for (const p of points) {
    w.uint32(0x0a).fork();
    writeAttributes(w, 0x3a, p.attributes); // 7 attributes
    w.uint32(0x11);
    writeFixed64Big(w, p.startTimeUnixNano); // 2
    w.uint32(0x19);
    writeFixed64Big(w, p.timeUnixNano); // 3
    w.uint32(0x21);
    writeFixed64Num(w, p.count); // 4 count
    w.uint32(0x29).double(p.sum); // 5 sum
    for (const q of p.quantileValues) {
      // 6 quantile_values
      w.uint32(0x32).fork();
      w.uint32(0x09).double(q.quantile);
      w.uint32(0x11).double(q.value);
      w.ldelim();
    }
    if (p.flags !== 0) w.uint32(0x40).uint32(p.flags); // 8 flags
    w.ldelim();
  }
}

function writeMetric(w: PbWriter, m: Metric): void {
  w.uint32(0x12).fork(); // ScopeMetrics.metrics
  w.uint32(0x0a).string(m.name); // 1 name
  if (m.description !== '') w.uint32(0x12).string(m.description); // 2
  if (m.unit !== '') w.uint32(0x1a).string(m.unit); // 3
  switch (m.kind) {
    case 'gauge':
      w.uint32(0x2a).fork();
      writeNumberPoints(w, m.points);
      w.ldelim();
      break; // 5
    case 'sum':
      w.uint32(0x3a).fork();
      writeNumberPoints(w, m.points); // 7
      if (m.temporality !== 0) w.uint32(0x10).int32(m.temporality);
      if (m.isMonotonic) w.uint32(0x18).bool(true);
      w.ldelim();
      break;
    case 'histogram':
      w.uint32(0x4a).fork();
      writeHistogramPoints(w, m.points); // 9
      if (m.temporality !== 0) w.uint32(0x10).int32(m.temporality);
      w.ldelim();
      break;
    case 'exponentialHistogram':
      w.uint32(0x52).fork();
      writeExpHistogramPoints(w, m.points); // 10
      if (m.temporality !== 0) w.uint32(0x10).int32(m.temporality);
      w.ldelim();
      break;
    case 'summary':
      w.uint32(0x5a).fork();
      writeSummaryPoints(w, m.points);
      w.ldelim();
      break; // 11
  }
  if (m.metadata !== undefined) writeAttributes(w, 0x62, m.metadata); // 12 metadata
  w.ldelim();
}

/** Encode a batch as an ExportMetricsServiceRequest. */
export function encodeMetricsProto(batch: MetricsBatch): Uint8Array {
  const w = pb().Writer.create();
  for (const rm of batch.resourceMetrics) {
    w.uint32(0x0a).fork(); // 1 resource_metrics
    w.uint32(0x0a).fork(); // ResourceMetrics.resource
    writeAttributes(w, 0x0a, rm.resource.attributes);
    if (rm.resource.droppedAttributesCount !== 0) w.uint32(0x10).uint32(rm.resource.droppedAttributesCount);
    w.ldelim();
    for (const sm of rm.scopeMetrics) {
      w.uint32(0x12).fork(); // ResourceMetrics.scope_metrics
      const s = sm.scope;
      w.uint32(0x0a).fork(); // ScopeMetrics.scope
      if (s.name !== '') w.uint32(0x0a).string(s.name);
      if (s.version !== '') w.uint32(0x12).string(s.version);
      writeAttributes(w, 0x1a, s.attributes);
      if (s.droppedAttributesCount !== 0) w.uint32(0x20).uint32(s.droppedAttributesCount);
      w.ldelim();
      for (const m of sm.metrics) writeMetric(w, m);
      if (sm.schemaUrl !== '') w.uint32(0x1a).string(sm.schemaUrl);
      w.ldelim();
    }
    if (rm.schemaUrl !== '') w.uint32(0x1a).string(rm.schemaUrl);
    w.ldelim();
  }
  return w.finish();
}

/**
 * ExportMetricsServiceResponse (signal 'metrics') or ExportLogsServiceResponse
 * ('events'): empty when nothing was rejected and there is no message, else a
 * partial_success {rejected_data_points | rejected_log_records, error_message}.
 */
export function encodeExportResponseProto(signal: 'metrics' | 'events', rejected: number, errorMessage: string): Uint8Array {
  void signal; // both messages share the same field numbers
  if (rejected === 0 && errorMessage === '') return new Uint8Array(0);
  const w = pb().Writer.create();
  w.uint32(0x0a).fork(); // 1 partial_success
  if (rejected !== 0) w.uint32(0x08).uint64(rejected); // 1 rejected_data_points / rejected_log_records (int64)
  if (errorMessage !== '') w.uint32(0x12).string(errorMessage); // 2 error_message
  w.ldelim();
  return w.finish();
}

/** google.rpc.Status {code, message}. */
export function encodeStatusProto(code: number, message: string): Uint8Array {
  const w = pb().Writer.create();
  if (code !== 0) w.uint32(0x08).int32(code); // 1 code
  if (message !== '') w.uint32(0x12).string(message); // 2 message
  return w.finish();
}
