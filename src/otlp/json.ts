/**
 * OTLP/JSON codecs (protobuf JSON mapping), lenient on input:
 * - 64-bit integers (timestamps, asInt, intValue, count, bucketCounts,
 *   zeroCount) as decimal strings or JSON numbers. A JSON number above 2^53 is
 *   exact: when one shows up in a field that becomes a bigint, the text is
 *   parsed once more with every bare integer literal of 16+ digits quoted
 *   (see `quoteBigIntegers`), so `"asInt": 1700000000123456789` stays exact.
 * - enums as integers or names (`"AGGREGATION_TEMPORALITY_DELTA"`,
 *   `"SEVERITY_NUMBER_ERROR"`);
 * - lowerCamelCase keys and the proto's snake_case names;
 * - traceId/spanId as hex (any case; stored lower-case), or base64;
 * - doubles as numbers or strings ("NaN", "Infinity", "-Infinity", "1.5");
 * - unknown fields ignored; `null` means absent.
 * Output (`encodeMetricsJson`) is spec OTLP JSON: lowerCamelCase, int64 as
 * decimal strings, enums as integers, hex ids, base64 bytes, non-finite
 * doubles as "NaN"/"Infinity"/"-Infinity".
 *
 * The invalid-item rules are the protobuf decoder's (see ./proto.ts), plus
 * structural garbage: an item of the wrong JSON type (a metric that is a
 * string, dataPoints that is not an array, a timestamp that is not an
 * integer, ...) invalidates the smallest item that holds it. A top level that
 * is not an object, or a resourceMetrics/resourceLogs that is not an array,
 * is a DecodeError.
 *
 * Logs become events as documented in ./logs-mapping.ts.
 */
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
  SEVERITY_NAMES,
  TEMPORALITY_NAMES,
  histogramProblem,
  isTemporality,
  logRecordMessage,
  metricLabel,
  pointMessage,
  safeToBigInt,
} from './internal.js';
import { type LogRecordFields, scopeBase, toEvent } from './logs-mapping.js';

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Thrown (once per request at most) to ask for the exact re-parse. */
const REPARSE: unique symbol = Symbol('reparse');

/**
 * Quote every bare integer literal of 16 or more digits outside strings, so
 * JSON.parse keeps it as an exact decimal string. Literals with a fraction or
 * an exponent are left alone. `text` must be valid JSON.
 */
export function quoteBigIntegers(text: string): string {
  const n = text.length;
  let out = '';
  let last = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // "
      i++;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 92)
          i += 2; // backslash: skip the escaped char
        else if (d === 34) {
          i++;
          break;
        } else i++;
      }
    } else if (c === 45 || (c >= 48 && c <= 57)) {
      // - or digit: a number
      const start = i;
      if (c === 45) i++;
      const digitsStart = i;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d < 48 || d > 57) break;
        i++;
      }
      const digits = i - digitsStart;
      let integer = true;
      while (i < n) {
        // fraction / exponent
        const d = text.charCodeAt(i);
        if (d === 46 || d === 101 || d === 69 || d === 43 || d === 45 || (d >= 48 && d <= 57)) {
          integer = false;
          i++;
        } else break;
      }
      if (integer && digits >= 16) {
        out += text.slice(last, start) + '"' + text.slice(start, i) + '"';
        last = i;
      }
    } else i++;
  }
  return last === 0 ? text : out + text.slice(last);
}

// Two-slot cache of the last decimal-string → bigint conversions (start and
// time stamps alternate through a request).
let s0: string | undefined,
  b0 = 0n,
  s1: string | undefined,
  b1 = 0n,
  sTurn = 0;

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;
const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/;

function parseJson(text: string): unknown {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const m = /position (\d+)/.exec(msg);
    throw new DecodeError(`invalid JSON: ${msg}`, m ? Number(m[1]) : undefined, { cause: err });
  }
}

class JsonDecoder {
  readonly maxAttributes: number;
  readonly maxDepth: number;
  readonly maxValueLength: number;
  readonly sink = new Rejections();
  reason: string | null = null;

  constructor(
    limits: Partial<DecodeLimits> | undefined,
    readonly reparsed: boolean,
  ) {
    const l = resolveLimits(limits);
    this.maxAttributes = l.maxAttributes;
    this.maxDepth = l.maxDepth;
    this.maxValueLength = l.maxValueLength;
  }

  fail(reason: string): void {
    if (this.reason === null) this.reason = reason;
  }

  // -- scalars ----------------------------------------------------------------

  /** fixed64 timestamps → bigint; absent → 0n. Cached: points share start/time stamps. */
  time(v: unknown, field: string): bigint {
    if (typeof v === 'string') {
      if (v === s0) return b0;
      if (v === s1) return b1;
      const b = this.bigFromString(v, field);
      if (sTurn === 0) {
        s0 = v;
        b0 = b;
        sTurn = 1;
      } else {
        s1 = v;
        b1 = b;
        sTurn = 0;
      }
      return b;
    }
    return this.big(v, field);
  }

  /** int64 → bigint; absent → 0n. */
  big(v: unknown, field: string): bigint {
    if (typeof v === 'string') return this.bigFromString(v, field);
    if (typeof v === 'number') {
      if (Number.isSafeInteger(v)) return safeToBigInt(v);
      if (Number.isInteger(v)) {
        if (!this.reparsed) throw REPARSE;
        return BigInt(v); // still a number after the re-parse: written with an exponent
      }
      this.fail(`invalid ${field} ${v}`);
      return 0n;
    }
    if (v === undefined || v === null) return 0n;
    this.fail(`invalid ${field}: expected an integer`);
    return 0n;
  }

  bigFromString(v: string, field: string): bigint {
    if (v.length < 16) {
      // short: a double holds it exactly, and BigInt(number) is cheaper than parsing
      const n = Number(v);
      if (Number.isSafeInteger(n) && v.trim() === v && v !== '') return safeToBigInt(n);
    }
    try {
      return BigInt(v);
    } catch {
      this.fail(`invalid ${field} ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`);
      return 0n;
    }
  }

  /** uint64 counts → number (exact up to 2^53); absent → 0. */
  count(v: unknown, field: string): number {
    if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= 0) return v;
    } else if (typeof v === 'string') {
      const n = Number(v);
      if (v !== '' && Number.isInteger(n) && n >= 0) return n;
    } else if (v === undefined || v === null) return 0;
    this.fail(`invalid ${field}: expected a non-negative integer`);
    return 0;
  }

  /** int32 / uint32 / sint32 → number; absent → 0. */
  int(v: unknown, field: string): number {
    if (typeof v === 'number') {
      if (Number.isInteger(v)) return v;
    } else if (typeof v === 'string') {
      const n = Number(v);
      if (v !== '' && Number.isInteger(n)) return n;
    } else if (v === undefined || v === null) return 0;
    this.fail(`invalid ${field}: expected an integer`);
    return 0;
  }

  /** double → number; absent → undefined. */
  double(v: unknown, field: string): number | undefined {
    if (typeof v === 'number') return v;
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') {
      if (v === 'NaN') return NaN;
      if (v === 'Infinity') return Infinity;
      if (v === '-Infinity') return -Infinity;
      const n = Number(v);
      if (!Number.isNaN(n) && v.trim() !== '') return n;
    }
    this.fail(`invalid ${field}: expected a number`);
    return 0;
  }

  doubles(v: unknown, field: string): number[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.fail(`${field} must be an array`);
      return [];
    }
    const out = new Array<number>(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      out[i] = typeof x === 'number' ? x : (this.double(x, field) ?? 0);
    }
    return out;
  }

  counts(v: unknown, field: string): number[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.fail(`${field} must be an array`);
      return [];
    }
    const out = new Array<number>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = this.count(v[i], field);
    return out;
  }

  str(v: unknown): string {
    return typeof v === 'string' ? v : '';
  }

  bool(v: unknown): boolean {
    return v === true || v === 'true';
  }

  /** traceId / spanId: hex (any case) or base64 → lower-case hex; '' when absent or unreadable. */
  id(v: unknown): string {
    if (typeof v !== 'string' || v === '') return '';
    if (HEX_RE.test(v)) return v.toLowerCase();
    if (!BASE64_RE.test(v)) return '';
    return Buffer.from(v, 'base64').toString('hex');
  }

  temporality(v: unknown): number {
    if (v === undefined || v === null) return 0;
    if (typeof v === 'number') return Number.isInteger(v) ? v : -1;
    if (typeof v === 'string') {
      const t = TEMPORALITY_NAMES[v];
      if (t !== undefined && Object.hasOwn(TEMPORALITY_NAMES, v)) return t;
      const n = Number(v);
      return v !== '' && Number.isInteger(n) ? n : -1;
    }
    return -1;
  }

  // -- common.v1 --------------------------------------------------------------

  attrs(v: unknown, what: string): Attributes {
    const out: Attributes = {};
    if (v === undefined || v === null) return out;
    if (!Array.isArray(v)) {
      this.fail(`${what} must be an array`);
      return out;
    }
    if (v.length > this.maxAttributes) {
      this.fail(REASON_TOO_MANY(what, this.maxAttributes));
      return out;
    }
    for (let i = 0; i < v.length; i++) this.keyValue(out, v[i], 0);
    return out;
  }

  keyValue(into: Attributes, kv: unknown, level: number): void {
    if (!isObj(kv)) {
      this.fail('an attribute must be a {key, value} object');
      return;
    }
    let key = kv.key;
    if (typeof key !== 'string') {
      if (key !== undefined && key !== null) {
        this.fail('an attribute key must be a string');
        return;
      }
      key = '';
    }
    setAttr(into, key as string, this.anyValue(kv.value, level));
  }

  anyValue(v: unknown, level: number): AttrValue {
    if (v === undefined || v === null) return null;
    if (!isObj(v)) {
      this.fail('an attribute value must be an AnyValue object');
      return null;
    }
    let x = v.stringValue;
    if (x !== undefined && x !== null) return this.stringValue(x);
    x = v.intValue;
    if (x !== undefined && x !== null) return this.big(x, 'intValue');
    x = v.doubleValue;
    if (x !== undefined && x !== null) return this.double(x, 'doubleValue') as number;
    x = v.boolValue;
    if (x !== undefined && x !== null) return this.boolValue(x);
    x = v.arrayValue;
    if (x !== undefined && x !== null) return this.arrayValue(x, level);
    x = v.kvlistValue;
    if (x !== undefined && x !== null) return this.kvlistValue(x, level);
    x = v.bytesValue;
    if (x !== undefined && x !== null) return this.bytesValue(x);
    // snake_case
    x = v.string_value;
    if (x !== undefined && x !== null) return this.stringValue(x);
    x = v.int_value;
    if (x !== undefined && x !== null) return this.big(x, 'intValue');
    x = v.double_value;
    if (x !== undefined && x !== null) return this.double(x, 'doubleValue') as number;
    x = v.bool_value;
    if (x !== undefined && x !== null) return this.boolValue(x);
    x = v.array_value;
    if (x !== undefined && x !== null) return this.arrayValue(x, level);
    x = v.kvlist_value;
    if (x !== undefined && x !== null) return this.kvlistValue(x, level);
    x = v.bytes_value;
    if (x !== undefined && x !== null) return this.bytesValue(x);
    return null; // empty AnyValue
  }

  stringValue(x: unknown): string {
    if (typeof x !== 'string') {
      this.fail('stringValue must be a string');
      return '';
    }
    if (x.length > this.maxValueLength) this.fail(REASON_TOO_LONG(this.maxValueLength));
    return x;
  }

  boolValue(x: unknown): boolean {
    if (typeof x === 'boolean') return x;
    if (x === 'true') return true;
    if (x === 'false') return false;
    this.fail('boolValue must be a boolean');
    return false;
  }

  bytesValue(x: unknown): Uint8Array {
    if (typeof x !== 'string') {
      this.fail('bytesValue must be a base64 string');
      return new Uint8Array(0);
    }
    return new Uint8Array(Buffer.from(x, 'base64')); // a copy, not a view of Buffer's pool
  }

  arrayValue(x: unknown, level: number): AttrValue[] | null {
    if (level >= this.maxDepth) {
      this.fail(REASON_TOO_DEEP(this.maxDepth));
      return null;
    }
    if (!isObj(x)) {
      this.fail('arrayValue must be an object');
      return null;
    }
    const values = x.values;
    if (values === undefined || values === null) return [];
    if (!Array.isArray(values)) {
      this.fail('arrayValue.values must be an array');
      return null;
    }
    const out = new Array<AttrValue>(values.length);
    for (let i = 0; i < values.length; i++) out[i] = this.anyValue(values[i], level + 1);
    return out;
  }

  kvlistValue(x: unknown, level: number): KvList | null {
    if (level >= this.maxDepth) {
      this.fail(REASON_TOO_DEEP(this.maxDepth));
      return null;
    }
    if (!isObj(x)) {
      this.fail('kvlistValue must be an object');
      return null;
    }
    const values = x.values;
    const out: KvList = {};
    if (values === undefined || values === null) return out;
    if (!Array.isArray(values)) {
      this.fail('kvlistValue.values must be an array');
      return null;
    }
    for (let i = 0; i < values.length; i++) this.keyValue(out, values[i], level + 1);
    return out;
  }

  resource(v: unknown): Resource {
    if (v === undefined || v === null) return { attributes: {}, droppedAttributesCount: 0 };
    if (!isObj(v)) {
      this.fail('must be an object');
      return { attributes: {}, droppedAttributesCount: 0 };
    }
    return {
      attributes: this.attrs(v.attributes, 'resource attributes'),
      droppedAttributesCount: this.int(v.droppedAttributesCount ?? v.dropped_attributes_count, 'droppedAttributesCount'),
    };
  }

  scope(v: unknown): Scope {
    if (v === undefined || v === null) return { name: '', version: '', attributes: {}, droppedAttributesCount: 0 };
    if (!isObj(v)) {
      this.fail('must be an object');
      return { name: '', version: '', attributes: {}, droppedAttributesCount: 0 };
    }
    return {
      name: this.str(v.name),
      version: this.str(v.version),
      attributes: this.attrs(v.attributes, 'scope attributes'),
      droppedAttributesCount: this.int(v.droppedAttributesCount ?? v.dropped_attributes_count, 'droppedAttributesCount'),
    };
  }

  // -- metrics.v1 -------------------------------------------------------------

  metricsRequest(root: unknown): ResourceMetrics[] {
    if (!isObj(root)) throw new DecodeError('expected an ExportMetricsServiceRequest object');
    const rms = root.resourceMetrics ?? root.resource_metrics;
    const out: ResourceMetrics[] = [];
    if (rms === undefined || rms === null) return out;
    if (!Array.isArray(rms)) throw new DecodeError('expected an ExportMetricsServiceRequest object: resourceMetrics must be an array');
    for (let ri = 0; ri < rms.length; ri++) {
      const rm = this.resourceMetrics(rms[ri], ri);
      if (rm !== null) out.push(rm);
    }
    return out;
  }

  resourceMetrics(v: unknown, ri: number): ResourceMetrics | null {
    if (!isObj(v)) {
      this.sink.add(1, `resourceMetrics[${ri}]: not an object`);
      return null;
    }
    const sms = v.scopeMetrics ?? v.scope_metrics;
    if (sms !== undefined && sms !== null && !Array.isArray(sms)) {
      this.sink.add(1, `resourceMetrics[${ri}].scopeMetrics: not an array`);
      return null;
    }
    this.reason = null;
    const resource = this.resource(v.resource);
    const reason = this.reason;
    this.reason = null;
    if (reason !== null) {
      const n = countPointsJson(sms);
      this.sink.add(n, `resourceMetrics[${ri}].resource: ${reason}; its ${n} data points were dropped`);
      return null;
    }
    const scopeMetrics: ScopeMetrics[] = [];
    if (Array.isArray(sms)) {
      for (let si = 0; si < sms.length; si++) {
        const sm = this.scopeMetrics(sms[si], ri, si);
        if (sm !== null) scopeMetrics.push(sm);
      }
    }
    return { resource, scopeMetrics, schemaUrl: this.str(v.schemaUrl ?? v.schema_url) };
  }

  scopeMetrics(v: unknown, ri: number, si: number): ScopeMetrics | null {
    const where = `resourceMetrics[${ri}].scopeMetrics[${si}]`;
    if (!isObj(v)) {
      this.sink.add(1, `${where}: not an object`);
      return null;
    }
    const ms = v.metrics;
    if (ms !== undefined && ms !== null && !Array.isArray(ms)) {
      this.sink.add(1, `${where}.metrics: not an array`);
      return null;
    }
    this.reason = null;
    const scope = this.scope(v.scope);
    const reason = this.reason;
    this.reason = null;
    if (reason !== null) {
      const n = countPointsJson([v]);
      this.sink.add(n, `${where}.scope: ${reason}; its ${n} data points were dropped`);
      return null;
    }
    const metrics: Metric[] = [];
    if (Array.isArray(ms)) {
      for (let mi = 0; mi < ms.length; mi++) {
        const m = this.metric(ms[mi], ri, si, mi);
        if (m !== null) metrics.push(m);
      }
    }
    return { scope, metrics, schemaUrl: this.str(v.schemaUrl ?? v.schema_url) };
  }

  metric(v: unknown, ri: number, si: number, mi: number): Metric | null {
    if (!isObj(v)) {
      this.sink.add(1, `${metricLabel('', ri, si, mi)}: not an object`);
      return null;
    }
    const name = this.str(v.name);
    let kind: Metric['kind'] | undefined;
    let data: unknown;
    if ((data = v.gauge) !== undefined && data !== null) kind = 'gauge';
    else if ((data = v.sum) !== undefined && data !== null) kind = 'sum';
    else if ((data = v.histogram) !== undefined && data !== null) kind = 'histogram';
    else if ((data = v.exponentialHistogram ?? v.exponential_histogram) !== undefined && data !== null) kind = 'exponentialHistogram';
    else if ((data = v.summary) !== undefined && data !== null) kind = 'summary';
    const dps = isObj(data) ? (data.dataPoints ?? data.data_points) : undefined;
    const label = metricLabel(name, ri, si, mi);

    // Metric-level problems drop the metric, counting its points (1 if none).
    let bad: string | null = null;
    let temporality = 0;
    let metadata: Attributes | undefined;
    if (name === '') bad = 'missing name';
    else if (kind === undefined) bad = 'no data (expected gauge, sum, histogram, exponentialHistogram or summary)';
    else if (!isObj(data)) bad = `${kind} must be an object`;
    else if (dps !== undefined && dps !== null && !Array.isArray(dps)) bad = `${kind}.dataPoints must be an array`;
    else {
      if (kind !== 'gauge' && kind !== 'summary') {
        temporality = this.temporality(data.aggregationTemporality ?? data.aggregation_temporality);
        if (!isTemporality(temporality)) bad = `unknown aggregation temporality ${JSON.stringify(data.aggregationTemporality ?? data.aggregation_temporality)}`;
      }
      const md = v.metadata;
      if (bad === null && md !== undefined && md !== null) {
        this.reason = null;
        metadata = this.attrs(md, 'metadata entries');
        if (this.reason !== null) bad = 'metadata: ' + this.reason;
        this.reason = null;
      }
    }
    if (bad !== null) {
      const n = Array.isArray(dps) ? dps.length : 0;
      this.sink.add(n > 0 ? n : 1, `${label}: ${bad}`);
      return null;
    }
    const list: unknown[] = Array.isArray(dps) ? dps : [];
    const points: unknown[] = [];
    for (let pi = 0; pi < list.length; pi++) {
      this.reason = null;
      const p = list[pi];
      let point: unknown;
      if (!isObj(p)) this.fail('not an object');
      else {
        switch (kind) {
          case 'gauge':
          case 'sum':
            point = this.numberPoint(p);
            break;
          case 'histogram':
            point = this.histogramPoint(p);
            break;
          case 'exponentialHistogram':
            point = this.expHistogramPoint(p);
            break;
          default:
            point = this.summaryPoint(p);
        }
      }
      if (this.reason === null) points.push(point);
      else {
        this.sink.add(1, pointMessage(name, ri, si, mi, pi, this.reason));
        this.reason = null;
      }
    }
    if (points.length === 0 && list.length > 0) return null; // every point rejected (already counted)

    const description = this.str(v.description);
    const unit = this.str(v.unit);
    const d = data as Obj;
    let m: Metric;
    switch (kind) {
      case 'gauge':
        m = { name, description, unit, kind, points: points as NumberDataPoint[] };
        break;
      case 'sum':
        m = {
          name,
          description,
          unit,
          kind,
          temporality: temporality as Temporality,
          isMonotonic: this.bool(d.isMonotonic ?? d.is_monotonic),
          points: points as NumberDataPoint[],
        };
        break;
      case 'histogram':
        m = { name, description, unit, kind, temporality: temporality as Temporality, points: points as HistogramDataPoint[] };
        break;
      case 'exponentialHistogram':
        m = { name, description, unit, kind, temporality: temporality as Temporality, points: points as ExponentialHistogramDataPoint[] };
        break;
      default:
        m = { name, description, unit, kind: 'summary', points: points as SummaryDataPoint[] };
    }
    if (metadata !== undefined) m.metadata = metadata;
    return m;
  }

  exemplars(v: unknown): Exemplar[] | undefined {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) {
      this.fail('exemplars must be an array');
      return undefined;
    }
    if (v.length === 0) return undefined;
    const out = new Array<Exemplar>(v.length);
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      if (!isObj(e)) {
        this.fail('an exemplar must be an object');
        return undefined;
      }
      let value: number | bigint = 0;
      let x = e.asInt ?? e.as_int;
      if (x !== undefined && x !== null) value = this.big(x, 'exemplar asInt');
      else {
        x = e.asDouble ?? e.as_double;
        if (x !== undefined && x !== null) value = this.double(x, 'exemplar asDouble') as number;
      }
      out[i] = {
        filteredAttributes: this.attrs(e.filteredAttributes ?? e.filtered_attributes, 'exemplar attributes'),
        timeUnixNano: this.time(e.timeUnixNano ?? e.time_unix_nano, 'exemplar timeUnixNano'),
        value,
        spanId: this.id(e.spanId ?? e.span_id),
        traceId: this.id(e.traceId ?? e.trace_id),
      };
    }
    return out;
  }

  numberPoint(p: Obj): NumberDataPoint {
    const attributes = this.attrs(p.attributes, 'attributes');
    const start = this.time(p.startTimeUnixNano ?? p.start_time_unix_nano, 'startTimeUnixNano');
    const time = this.time(p.timeUnixNano ?? p.time_unix_nano, 'timeUnixNano');
    const flags = this.int(p.flags, 'flags');
    let value: number | bigint | undefined;
    let x = p.asInt;
    if (x === undefined) x = p.as_int;
    if (x !== undefined && x !== null) value = this.big(x, 'asInt');
    else {
      x = p.asDouble;
      if (x === undefined) x = p.as_double;
      if (x !== undefined && x !== null) value = this.double(x, 'asDouble');
    }
    if (value === undefined) {
      if ((flags & 1) === 0) this.fail('no value (neither asInt nor asDouble)');
      value = NaN;
    }
    const out: NumberDataPoint = { attributes, startTimeUnixNano: start, timeUnixNano: time, flags, value };
    const ex = p.exemplars;
    if (ex !== undefined && ex !== null) {
      const exemplars = this.exemplars(ex);
      if (exemplars !== undefined) out.exemplars = exemplars;
    }
    return out;
  }

  histogramPoint(p: Obj): HistogramDataPoint {
    const bucketCounts = this.counts(p.bucketCounts ?? p.bucket_counts, 'bucketCounts');
    const explicitBounds = this.doubles(p.explicitBounds ?? p.explicit_bounds, 'explicitBounds');
    const out: HistogramDataPoint = {
      attributes: this.attrs(p.attributes, 'attributes'),
      startTimeUnixNano: this.time(p.startTimeUnixNano ?? p.start_time_unix_nano, 'startTimeUnixNano'),
      timeUnixNano: this.time(p.timeUnixNano ?? p.time_unix_nano, 'timeUnixNano'),
      flags: this.int(p.flags, 'flags'),
      count: this.count(p.count, 'count'),
      bucketCounts,
      explicitBounds,
    };
    const sum = this.double(p.sum, 'sum');
    if (sum !== undefined) out.sum = sum;
    const min = this.double(p.min, 'min');
    if (min !== undefined) out.min = min;
    const max = this.double(p.max, 'max');
    if (max !== undefined) out.max = max;
    const exemplars = this.exemplars(p.exemplars);
    if (exemplars !== undefined) out.exemplars = exemplars;
    const problem = histogramProblem(bucketCounts, explicitBounds);
    if (problem !== null) this.fail(problem);
    return out;
  }

  buckets(v: unknown, field: string): ExpHistogramBuckets {
    if (v === undefined || v === null) return { offset: 0, bucketCounts: [] };
    if (!isObj(v)) {
      this.fail(`${field} must be an object`);
      return { offset: 0, bucketCounts: [] };
    }
    return { offset: this.int(v.offset, `${field}.offset`), bucketCounts: this.counts(v.bucketCounts ?? v.bucket_counts, `${field}.bucketCounts`) };
  }

  expHistogramPoint(p: Obj): ExponentialHistogramDataPoint {
    const out: ExponentialHistogramDataPoint = {
      attributes: this.attrs(p.attributes, 'attributes'),
      startTimeUnixNano: this.time(p.startTimeUnixNano ?? p.start_time_unix_nano, 'startTimeUnixNano'),
      timeUnixNano: this.time(p.timeUnixNano ?? p.time_unix_nano, 'timeUnixNano'),
      flags: this.int(p.flags, 'flags'),
      count: this.count(p.count, 'count'),
      scale: this.int(p.scale, 'scale'),
      zeroCount: this.count(p.zeroCount ?? p.zero_count, 'zeroCount'),
      positive: this.buckets(p.positive, 'positive'),
      negative: this.buckets(p.negative, 'negative'),
      zeroThreshold: this.double(p.zeroThreshold ?? p.zero_threshold, 'zeroThreshold') ?? 0,
    };
    const sum = this.double(p.sum, 'sum');
    if (sum !== undefined) out.sum = sum;
    const min = this.double(p.min, 'min');
    if (min !== undefined) out.min = min;
    const max = this.double(p.max, 'max');
    if (max !== undefined) out.max = max;
    const exemplars = this.exemplars(p.exemplars);
    if (exemplars !== undefined) out.exemplars = exemplars;
    return out;
  }

  summaryPoint(p: Obj): SummaryDataPoint {
    const qv = p.quantileValues ?? p.quantile_values;
    const quantileValues: QuantileValue[] = [];
    if (Array.isArray(qv)) {
      for (let i = 0; i < qv.length; i++) {
        const q = qv[i];
        if (!isObj(q)) {
          this.fail('a quantile value must be an object');
          continue;
        }
        quantileValues.push({ quantile: this.double(q.quantile, 'quantile') ?? 0, value: this.double(q.value, 'value') ?? 0 });
      }
    } else if (qv !== undefined && qv !== null) this.fail('quantileValues must be an array');
    return {
      attributes: this.attrs(p.attributes, 'attributes'),
      startTimeUnixNano: this.time(p.startTimeUnixNano ?? p.start_time_unix_nano, 'startTimeUnixNano'),
      timeUnixNano: this.time(p.timeUnixNano ?? p.time_unix_nano, 'timeUnixNano'),
      flags: this.int(p.flags, 'flags'),
      count: this.count(p.count, 'count'),
      sum: this.double(p.sum, 'sum') ?? 0,
      quantileValues,
    };
  }

  // -- logs.v1 ----------------------------------------------------------------

  logsRequest(root: unknown): Event[] {
    if (!isObj(root)) throw new DecodeError('expected an ExportLogsServiceRequest object');
    const rls = root.resourceLogs ?? root.resource_logs;
    const out: Event[] = [];
    if (rls === undefined || rls === null) return out;
    if (!Array.isArray(rls)) throw new DecodeError('expected an ExportLogsServiceRequest object: resourceLogs must be an array');
    for (let ri = 0; ri < rls.length; ri++) this.resourceLogs(rls[ri], ri, out);
    return out;
  }

  resourceLogs(v: unknown, ri: number, out: Event[]): void {
    if (!isObj(v)) {
      this.sink.add(1, `resourceLogs[${ri}]: not an object`);
      return;
    }
    const sls = v.scopeLogs ?? v.scope_logs;
    if (sls !== undefined && sls !== null && !Array.isArray(sls)) {
      this.sink.add(1, `resourceLogs[${ri}].scopeLogs: not an array`);
      return;
    }
    this.reason = null;
    const resource = this.resource(v.resource);
    const reason = this.reason;
    this.reason = null;
    if (reason !== null) {
      const n = countRecordsJson(sls);
      this.sink.add(n, `resourceLogs[${ri}].resource: ${reason}; its ${n} log records were dropped`);
      return;
    }
    if (!Array.isArray(sls)) return;
    for (let si = 0; si < sls.length; si++) this.scopeLogs(sls[si], ri, si, resource.attributes, out);
  }

  scopeLogs(v: unknown, ri: number, si: number, resAttrs: Attributes, out: Event[]): void {
    const where = `resourceLogs[${ri}].scopeLogs[${si}]`;
    if (!isObj(v)) {
      this.sink.add(1, `${where}: not an object`);
      return;
    }
    const lrs = v.logRecords ?? v.log_records;
    if (lrs !== undefined && lrs !== null && !Array.isArray(lrs)) {
      this.sink.add(1, `${where}.logRecords: not an array`);
      return;
    }
    this.reason = null;
    const scope = this.scope(v.scope);
    const reason = this.reason;
    this.reason = null;
    if (reason !== null) {
      const n = countRecordsJson([v]);
      this.sink.add(n, `${where}.scope: ${reason}; its ${n} log records were dropped`);
      return;
    }
    if (!Array.isArray(lrs)) return;
    const base = scopeBase(resAttrs, scope.attributes, scope.name, scope.version);
    for (let li = 0; li < lrs.length; li++) {
      this.reason = null;
      const rec = this.logRecord(lrs[li]);
      if (this.reason === null) out.push(toEvent(base, rec as LogRecordFields));
      else {
        this.sink.add(1, logRecordMessage(ri, si, li, this.reason));
        this.reason = null;
      }
    }
  }

  logRecord(v: unknown): LogRecordFields | null {
    if (!isObj(v)) {
      this.fail('not an object');
      return null;
    }
    let severityNumber = 0;
    const sev = v.severityNumber ?? v.severity_number;
    if (typeof sev === 'string' && Object.hasOwn(SEVERITY_NAMES, sev)) severityNumber = SEVERITY_NAMES[sev] as number;
    else if (sev !== undefined && sev !== null) {
      severityNumber = this.int(sev, 'severityNumber');
      if (typeof sev === 'string' && this.reason !== null) {
        this.reason = null;
        this.fail(`unknown severityNumber ${JSON.stringify(sev)}`);
      }
    }
    const bodyV = v.body;
    const body = bodyV === undefined || bodyV === null ? undefined : this.anyValue(bodyV, 0);
    return {
      time: this.time(v.timeUnixNano ?? v.time_unix_nano, 'timeUnixNano'),
      observed: this.time(v.observedTimeUnixNano ?? v.observed_time_unix_nano, 'observedTimeUnixNano'),
      severityNumber,
      severityText: this.str(v.severityText ?? v.severity_text),
      body,
      attributes: this.attrs(v.attributes, 'attributes'),
      traceId: this.id(v.traceId ?? v.trace_id),
      spanId: this.id(v.spanId ?? v.span_id),
      eventName: this.str(v.eventName ?? v.event_name),
    };
  }
}

/** Points under a (possibly malformed) JSON scopeMetrics list, for counting what a bad resource drops. */
function countPointsJson(sms: unknown): number {
  let n = 0;
  if (!Array.isArray(sms)) return 0;
  for (const sm of sms) {
    if (!isObj(sm) || !Array.isArray(sm.metrics)) continue;
    for (const m of sm.metrics) {
      if (!isObj(m)) continue;
      const data = m.gauge ?? m.sum ?? m.histogram ?? m.exponentialHistogram ?? m.exponential_histogram ?? m.summary;
      if (!isObj(data)) continue;
      const dps = data.dataPoints ?? data.data_points;
      if (Array.isArray(dps)) n += dps.length;
    }
  }
  return n;
}

function countRecordsJson(sls: unknown): number {
  let n = 0;
  if (!Array.isArray(sls)) return 0;
  for (const sl of sls) {
    if (!isObj(sl)) continue;
    const lrs = sl.logRecords ?? sl.log_records;
    if (Array.isArray(lrs)) n += lrs.length;
  }
  return n;
}

/**
 * Decode an OTLP/JSON ExportMetricsServiceRequest (the body text, already
 * UTF-8 validated). Throws DecodeError for unparsable JSON or a wrong top level;
 * invalid items are dropped and counted (in data points) as in decodeMetricsProto.
 */
export function decodeMetricsJson(text: string, limits?: Partial<DecodeLimits>): DecodeResult<MetricsBatch> {
  let d = new JsonDecoder(limits, false);
  let resourceMetrics: ResourceMetrics[];
  try {
    resourceMetrics = d.metricsRequest(parseJson(text));
  } catch (err) {
    if (err !== REPARSE) throw err;
    d = new JsonDecoder(limits, true);
    resourceMetrics = d.metricsRequest(parseJson(quoteBigIntegers(text)));
  }
  return { data: { resourceMetrics }, rejected: d.sink.rejected, errors: d.sink.errors };
}

/**
 * Decode an OTLP/JSON ExportLogsServiceRequest into events (mapping in
 * ./logs-mapping.ts); invalid records are dropped and counted.
 */
export function decodeLogsJson(text: string, limits?: Partial<DecodeLimits>): DecodeResult<EventBatch> {
  let d = new JsonDecoder(limits, false);
  let events: Event[];
  try {
    events = d.logsRequest(parseJson(text));
  } catch (err) {
    if (err !== REPARSE) throw err;
    d = new JsonDecoder(limits, true);
    events = d.logsRequest(parseJson(quoteBigIntegers(text)));
  }
  return { data: { events }, rejected: d.sink.rejected, errors: d.sink.errors };
}

// ---------------------------------------------------------------------------
// Encoder

function num(n: number): string {
  if (Number.isFinite(n)) return n === 0 && 1 / n < 0 ? '-0' : String(n);
  return Number.isNaN(n) ? '"NaN"' : n > 0 ? '"Infinity"' : '"-Infinity"';
}

function b64(u: Uint8Array): string {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('base64');
}

function anyJson(v: AttrValue): string {
  switch (typeof v) {
    case 'string':
      return '{"stringValue":' + JSON.stringify(v) + '}';
    case 'bigint':
      return '{"intValue":"' + v.toString() + '"}';
    case 'number':
      return '{"doubleValue":' + num(v) + '}';
    case 'boolean':
      return v ? '{"boolValue":true}' : '{"boolValue":false}';
    default: {
      if (v === null) return '{}';
      if (v instanceof Uint8Array) return '{"bytesValue":"' + b64(v) + '"}';
      if (Array.isArray(v)) {
        let s = '{"arrayValue":{"values":[';
        for (let i = 0; i < v.length; i++) s += (i > 0 ? ',' : '') + anyJson(v[i] as AttrValue);
        return s + ']}}';
      }
      return '{"kvlistValue":{"values":' + attrsJson(v) + '}}';
    }
  }
}

function attrsJson(a: Attributes): string {
  let s = '[';
  let first = true;
  for (const k in a) {
    s += (first ? '{"key":' : ',{"key":') + JSON.stringify(k) + ',"value":' + anyJson(a[k] as AttrValue) + '}';
    first = false;
  }
  return s + ']';
}

function countsJson(c: readonly number[]): string {
  let s = '[';
  for (let i = 0; i < c.length; i++) s += (i > 0 ? ',"' : '"') + String(c[i]) + '"';
  return s + ']';
}

function numsJson(c: readonly number[]): string {
  let s = '[';
  for (let i = 0; i < c.length; i++) s += (i > 0 ? ',' : '') + num(c[i] as number);
  return s + ']';
}

function exemplarsJson(ex: Exemplar[] | undefined): string {
  if (ex === undefined || ex.length === 0) return '';
  let s = ',"exemplars":[';
  for (let i = 0; i < ex.length; i++) {
    const e = ex[i] as Exemplar;
    s +=
      (i > 0 ? ',{' : '{') +
      '"filteredAttributes":' +
      attrsJson(e.filteredAttributes) +
      ',"timeUnixNano":"' +
      e.timeUnixNano.toString() +
      '"' +
      (typeof e.value === 'bigint' ? ',"asInt":"' + e.value.toString() + '"' : ',"asDouble":' + num(e.value)) +
      (e.spanId !== '' ? ',"spanId":"' + e.spanId + '"' : '') +
      (e.traceId !== '' ? ',"traceId":"' + e.traceId + '"' : '') +
      '}';
  }
  return s + ']';
}

function pointHead(p: { attributes: Attributes; startTimeUnixNano: bigint; timeUnixNano: bigint }): string {
  return (
    '{"attributes":' +
    attrsJson(p.attributes) +
    ',"startTimeUnixNano":"' +
    p.startTimeUnixNano.toString() +
    '","timeUnixNano":"' +
    p.timeUnixNano.toString() +
    '"'
  );
}

function opt(key: string, v: number | undefined): string {
  return v === undefined ? '' : ',"' + key + '":' + num(v);
}

function numberPointsJson(points: NumberDataPoint[]): string {
  let s = '[';
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as NumberDataPoint;
    s += (i > 0 ? ',' : '') + pointHead(p);
    const v = p.value;
    if (typeof v === 'bigint') s += ',"asInt":"' + v.toString() + '"';
    else if (!((p.flags & 1) !== 0 && Number.isNaN(v))) s += ',"asDouble":' + num(v);
    s += exemplarsJson(p.exemplars);
    if (p.flags !== 0) s += ',"flags":' + p.flags;
    s += '}';
  }
  return s + ']';
}

function histogramPointsJson(points: HistogramDataPoint[]): string {
  let s = '[';
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as HistogramDataPoint;
    s +=
      (i > 0 ? ',' : '') +
      pointHead(p) +
      ',"count":"' +
      String(p.count) +
      '"' +
      opt('sum', p.sum) +
      ',"bucketCounts":' +
      countsJson(p.bucketCounts) +
      ',"explicitBounds":' +
      numsJson(p.explicitBounds) +
      exemplarsJson(p.exemplars) +
      (p.flags !== 0 ? ',"flags":' + p.flags : '') +
      opt('min', p.min) +
      opt('max', p.max) +
      '}';
  }
  return s + ']';
}

function bucketsJson(b: ExpHistogramBuckets): string {
  return '{"offset":' + b.offset + ',"bucketCounts":' + countsJson(b.bucketCounts) + '}';
}

function expHistogramPointsJson(points: ExponentialHistogramDataPoint[]): string {
  let s = '[';
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as ExponentialHistogramDataPoint;
    s +=
      (i > 0 ? ',' : '') +
      pointHead(p) +
      ',"count":"' +
      String(p.count) +
      '"' +
      opt('sum', p.sum) +
      ',"scale":' +
      p.scale +
      ',"zeroCount":"' +
      String(p.zeroCount) +
      '","positive":' +
      bucketsJson(p.positive) +
      ',"negative":' +
      bucketsJson(p.negative) +
      (p.flags !== 0 ? ',"flags":' + p.flags : '') +
      exemplarsJson(p.exemplars) +
      opt('min', p.min) +
      opt('max', p.max) +
      (p.zeroThreshold !== 0 || Object.is(p.zeroThreshold, -0) ? ',"zeroThreshold":' + num(p.zeroThreshold) : '') +
      '}';
  }
  return s + ']';
}

function summaryPointsJson(points: SummaryDataPoint[]): string {
  let s = '[';
  for (let i = 0; i < points.length; i++) {
    const p = points[i] as SummaryDataPoint;
    s += (i > 0 ? ',' : '') + pointHead(p) + ',"count":"' + String(p.count) + '","sum":' + num(p.sum) + ',"quantileValues":[';
    for (let k = 0; k < p.quantileValues.length; k++) {
      const q = p.quantileValues[k] as QuantileValue;
      s += (k > 0 ? ',' : '') + '{"quantile":' + num(q.quantile) + ',"value":' + num(q.value) + '}';
    }
    s += ']' + (p.flags !== 0 ? ',"flags":' + p.flags : '') + '}';
  }
  return s + ']';
}

function metricJson(m: Metric): string {
  let s = '{"name":' + JSON.stringify(m.name);
  if (m.description !== '') s += ',"description":' + JSON.stringify(m.description);
  if (m.unit !== '') s += ',"unit":' + JSON.stringify(m.unit);
  if (m.metadata !== undefined) s += ',"metadata":' + attrsJson(m.metadata);
  switch (m.kind) {
    case 'gauge':
      s += ',"gauge":{"dataPoints":' + numberPointsJson(m.points) + '}';
      break;
    case 'sum':
      s +=
        ',"sum":{"dataPoints":' +
        numberPointsJson(m.points) +
        ',"aggregationTemporality":' +
        m.temporality +
        ',"isMonotonic":' +
        (m.isMonotonic ? 'true' : 'false') +
        '}';
      break;
    case 'histogram':
      s += ',"histogram":{"dataPoints":' + histogramPointsJson(m.points) + ',"aggregationTemporality":' + m.temporality + '}';
      break;
    case 'exponentialHistogram':
      s += ',"exponentialHistogram":{"dataPoints":' + expHistogramPointsJson(m.points) + ',"aggregationTemporality":' + m.temporality + '}';
      break;
    case 'summary':
      s += ',"summary":{"dataPoints":' + summaryPointsJson(m.points) + '}';
      break;
  }
  return s + '}';
}

/** Encode a batch as OTLP/JSON (an ExportMetricsServiceRequest). */
export function encodeMetricsJson(batch: MetricsBatch): string {
  let s = '{"resourceMetrics":[';
  for (let ri = 0; ri < batch.resourceMetrics.length; ri++) {
    const rm = batch.resourceMetrics[ri] as ResourceMetrics;
    s +=
      (ri > 0 ? ',' : '') +
      '{"resource":{"attributes":' +
      attrsJson(rm.resource.attributes) +
      (rm.resource.droppedAttributesCount !== 0 ? ',"droppedAttributesCount":' + rm.resource.droppedAttributesCount : '') +
      '},"scopeMetrics":[';
    for (let si = 0; si < rm.scopeMetrics.length; si++) {
      const sm = rm.scopeMetrics[si] as ScopeMetrics;
      const sc = sm.scope;
      s +=
        (si > 0 ? ',' : '') +
        '{"scope":{"name":' +
        JSON.stringify(sc.name) +
        ',"version":' +
        JSON.stringify(sc.version) +
        ',"attributes":' +
        attrsJson(sc.attributes) +
        (sc.droppedAttributesCount !== 0 ? ',"droppedAttributesCount":' + sc.droppedAttributesCount : '') +
        '},"metrics":[';
      for (let mi = 0; mi < sm.metrics.length; mi++) s += (mi > 0 ? ',' : '') + metricJson(sm.metrics[mi] as Metric);
      s += ']' + (sm.schemaUrl !== '' ? ',"schemaUrl":' + JSON.stringify(sm.schemaUrl) : '') + '}';
    }
    s += ']' + (rm.schemaUrl !== '' ? ',"schemaUrl":' + JSON.stringify(rm.schemaUrl) : '') + '}';
  }
  return s + ']}';
}

/**
 * ExportMetricsServiceResponse / ExportLogsServiceResponse as JSON: `{}` when
 * nothing was rejected and there is no message, else
 * `{"partialSuccess":{"rejectedDataPoints":"3","errorMessage":"..."}}`
 * (`rejectedLogRecords` for events).
 */
export function encodeExportResponseJson(signal: 'metrics' | 'events', rejected: number, errorMessage: string): string {
  if (rejected === 0 && errorMessage === '') return '{}';
  const parts: string[] = [];
  if (rejected !== 0) parts.push((signal === 'metrics' ? '"rejectedDataPoints":"' : '"rejectedLogRecords":"') + String(rejected) + '"');
  if (errorMessage !== '') parts.push('"errorMessage":' + JSON.stringify(errorMessage));
  return '{"partialSuccess":{' + parts.join(',') + '}}';
}

/** google.rpc.Status as JSON: `{"code":3,"message":"..."}`. */
export function encodeStatusJson(code: number, message: string): string {
  return '{"code":' + String(code | 0) + ',"message":' + JSON.stringify(message) + '}';
}
