/** Shared builders for the OTLP codec tests. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setAttr } from '../../src/model/attributes.js';
import type { Attributes, MetricsBatch } from '../../src/model/metrics.js';
import { findPackageRoot } from '../../src/otlp/schema.js';

export const T0 = 1700000000123456789n;
export const T1 = 1700000010987654321n;

export function fixture(name: string): string {
  return readFileSync(join(findPackageRoot(), 'test', 'fixtures', name), 'utf8');
}

/** A batch exercising every kind and field of the model, in canonical (decoder-produced) form. */
export function fullBatch(): MetricsBatch {
  const resAttrs: Attributes = {
    'service.name': 'checkout',
    'int.max': 9223372036854775807n,
    'int.min': -9223372036854775808n,
    'int.small': -5n,
    double: 1.5,
    'neg.zero': -0,
    inf: Infinity,
    bool: false,
    bytes: new Uint8Array([0, 1, 2, 250, 255]),
    arr: ['a', 1n, 2.5, true, null, ['nested'], { k: 'v' }],
    kv: { inner: { deeper: [1n, 2n] }, s: 'x', b: new Uint8Array([7]) },
    nothing: null,
    unicode: 'héllo wörld ✓ 𝄞',
  };
  setAttr(resAttrs, '__proto__', 'guarded');
  return {
    resourceMetrics: [
      {
        resource: { attributes: resAttrs, droppedAttributesCount: 2 },
        schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
        scopeMetrics: [
          {
            scope: { name: 'io.metricport.test', version: '1.2.3', attributes: { 'scope.attr': 'yes' }, droppedAttributesCount: 1 },
            schemaUrl: 'https://opentelemetry.io/schemas/1.20.0',
            metrics: [
              {
                name: 'g.double',
                description: 'a gauge',
                unit: 'By',
                kind: 'gauge',
                points: [
                  {
                    attributes: { host: 'a' },
                    startTimeUnixNano: 0n,
                    timeUnixNano: T0,
                    flags: 0,
                    value: 3.25,
                    exemplars: [
                      {
                        filteredAttributes: { 'user.id': 'u1' },
                        timeUnixNano: T0,
                        value: 1.5,
                        spanId: '00f067aa0ba902b7',
                        traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
                      },
                      { filteredAttributes: {}, timeUnixNano: T1, value: -42n, spanId: '', traceId: '' },
                    ],
                  },
                  { attributes: { host: 'b' }, startTimeUnixNano: 0n, timeUnixNano: T0, flags: 0, value: NaN },
                  { attributes: { host: 'c' }, startTimeUnixNano: 0n, timeUnixNano: T1, flags: 1, value: NaN },
                  { attributes: {}, startTimeUnixNano: 0n, timeUnixNano: T1, flags: 0, value: -Infinity },
                ],
              },
              {
                name: 's.delta',
                description: '',
                unit: '1',
                kind: 'sum',
                temporality: 1,
                isMonotonic: true,
                metadata: { 'prometheus.type': 'counter' },
                points: [
                  { attributes: { route: '/a' }, startTimeUnixNano: T0, timeUnixNano: T1, flags: 0, value: 1700000000123456789n },
                  { attributes: { route: '/b' }, startTimeUnixNano: T0, timeUnixNano: T1, flags: 0, value: 0n },
                ],
              },
              {
                name: 's.cumulative',
                description: '',
                unit: '',
                kind: 'sum',
                temporality: 2,
                isMonotonic: false,
                points: [{ attributes: {}, startTimeUnixNano: T0, timeUnixNano: T1, flags: 0, value: -9007199254740993n }],
              },
              {
                name: 'h',
                description: 'latency',
                unit: 'ms',
                kind: 'histogram',
                temporality: 2,
                points: [
                  {
                    attributes: { x: 1n },
                    startTimeUnixNano: T0,
                    timeUnixNano: T1,
                    flags: 0,
                    count: 9,
                    sum: 123.5,
                    min: 0.5,
                    max: 99,
                    bucketCounts: [1, 2, 3, 3],
                    explicitBounds: [1, 10, 100],
                    exemplars: [
                      { filteredAttributes: {}, timeUnixNano: T1, value: 7, spanId: 'eee19b7ec3c1b174', traceId: '5b8efff798038103d269b633813fc60c' },
                    ],
                  },
                  { attributes: {}, startTimeUnixNano: T0, timeUnixNano: T1, flags: 0, count: 0, bucketCounts: [], explicitBounds: [] },
                ],
              },
              {
                name: 'eh',
                description: '',
                unit: 's',
                kind: 'exponentialHistogram',
                temporality: 1,
                points: [
                  {
                    attributes: { y: true },
                    startTimeUnixNano: T0,
                    timeUnixNano: T1,
                    flags: 0,
                    count: 12,
                    sum: -3.5,
                    min: -2,
                    max: 8,
                    scale: -2,
                    zeroCount: 3,
                    zeroThreshold: 0.001,
                    positive: { offset: 5, bucketCounts: [1, 0, 4] },
                    negative: { offset: -3, bucketCounts: [2, 2] },
                  },
                  {
                    attributes: {},
                    startTimeUnixNano: T0,
                    timeUnixNano: T1,
                    flags: 0,
                    count: 0,
                    scale: 20,
                    zeroCount: 0,
                    zeroThreshold: 0,
                    positive: { offset: 0, bucketCounts: [] },
                    negative: { offset: 0, bucketCounts: [] },
                  },
                ],
              },
              {
                name: 'sm',
                description: '',
                unit: '',
                kind: 'summary',
                points: [
                  {
                    attributes: {},
                    startTimeUnixNano: T0,
                    timeUnixNano: T1,
                    flags: 0,
                    count: 100,
                    sum: 250.75,
                    quantileValues: [
                      { quantile: 0, value: 0.1 },
                      { quantile: 0.5, value: 2 },
                      { quantile: 1, value: 9.5 },
                    ],
                  },
                ],
              },
            ],
          },
          { scope: { name: '', version: '', attributes: {}, droppedAttributesCount: 0 }, schemaUrl: '', metrics: [] },
        ],
      },
      { resource: { attributes: {}, droppedAttributesCount: 0 }, schemaUrl: '', scopeMetrics: [] },
    ],
  };
}

/** JSON of one AnyValue: `depth` nested kvlists around a string. */
export function deepKvlistJson(depth: number): string {
  return '{"kvlistValue":{"values":[{"key":"a","value":'.repeat(depth) + '{"stringValue":"x"}' + '}]}}'.repeat(depth);
}

function varintLen(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function putVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n & 127) | 128;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/**
 * Protobuf bytes of one AnyValue message body: `depth` nested kvlist_values
 * (each a KeyValueList with one KeyValue "a") around string_value "x". Built
 * in one pass (sizes inner → outer, then bytes outer → inner).
 */
export function deepKvlistProto(depth: number): Uint8Array {
  // sizes[k] = size of the AnyValue body at nesting k (0 = innermost)
  const sizes = new Array<number>(depth + 1);
  sizes[0] = 3; // 0x0a 0x01 'x'
  const kvSizes = new Array<number>(depth + 1);
  const kvlSizes = new Array<number>(depth + 1);
  for (let k = 1; k <= depth; k++) {
    const inner = sizes[k - 1] as number;
    const kv = 3 + 1 + varintLen(inner) + inner; // key "a" + value tag/len/body
    const kvl = 1 + varintLen(kv) + kv;
    kvSizes[k] = kv;
    kvlSizes[k] = kvl;
    sizes[k] = 1 + varintLen(kvl) + kvl;
  }
  const out = new Uint8Array(sizes[depth] as number);
  let p = 0;
  for (let k = depth; k >= 1; k--) {
    out[p++] = 0x32;
    p = putVarint(out, p, kvlSizes[k] as number); // AnyValue.kvlist_value
    out[p++] = 0x0a;
    p = putVarint(out, p, kvSizes[k] as number); // KeyValueList.values
    out[p++] = 0x0a;
    out[p++] = 1;
    out[p++] = 0x61; // KeyValue.key "a"
    out[p++] = 0x12;
    p = putVarint(out, p, sizes[k - 1] as number); // KeyValue.value
  }
  out[p++] = 0x0a;
  out[p++] = 1;
  out[p++] = 0x78; // string_value "x"
  if (p !== out.length) throw new Error(`deepKvlistProto: wrote ${p} of ${out.length}`);
  return out;
}

/** Wrap a message body as a length-delimited field. */
export function field(tag: number, body: Uint8Array): Uint8Array {
  const len = varintLen(body.length);
  const out = new Uint8Array(varintLen(tag) + len + body.length);
  let p = putVarint(out, 0, tag);
  p = putVarint(out, p, body.length);
  out.set(body, p);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function varintBytes(n: number): Uint8Array {
  const out = new Uint8Array(varintLen(n));
  putVarint(out, 0, n);
  return out;
}

/** Fixed 8 bytes, little-endian, of a uint64. */
export function fixed64Bytes(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return out;
}

export function doubleBytes(v: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, v, true);
  return out;
}

/**
 * Wrap metric bytes (the body of one Metric message) in
 * ExportMetricsServiceRequest > ResourceMetrics > ScopeMetrics > metrics.
 */
export function requestWithMetrics(...metricBodies: Uint8Array[]): Uint8Array {
  const sm = concat(...metricBodies.map((m) => field(0x12, m)));
  return field(0x0a, field(0x12, sm));
}
