import { expect } from 'chai';
import type { Type } from 'protobufjs';
import type { ExponentialHistogramMetric, GaugeMetric, HistogramMetric, MetricsBatch, SumMetric, SummaryMetric } from '../../src/model/metrics.js';
import { DecodeError } from '../../src/otlp/errors.js';
import { decodeMetricsProto, encodeExportResponseProto, encodeMetricsProto, encodeStatusProto } from '../../src/otlp/proto.js';
import { OTLP_TYPES, loadOtlpProtos } from '../../src/otlp/schema.js';
import { T0, T1, concat, doubleBytes, field, fixed64Bytes, fullBatch, requestWithMetrics, varintBytes } from './helpers.js';

function type(name: string): Type {
  return loadOtlpProtos().lookupType(name);
}

/** Encode a plain object with protobufjs reflection (an encoder independent of ours). */
function encodeWithSchema(obj: Record<string, unknown>): Uint8Array {
  const T = type(OTLP_TYPES.ExportMetricsServiceRequest);
  return T.encode(T.fromObject(obj)).finish();
}

function onlyMetrics(b: MetricsBatch) {
  return b.resourceMetrics[0]!.scopeMetrics[0]!.metrics;
}

describe('otlp/proto decode', () => {
  it('decodes every metric kind, exemplars, metadata, flags and schema URLs exactly (schema-encoded input)', () => {
    const buf = encodeWithSchema({
      resourceMetrics: [
        {
          resource: {
            attributes: [
              { key: 'service.name', value: { stringValue: 'svc' } },
              { key: 'n', value: { intValue: '-9223372036854775808' } },
            ],
            droppedAttributesCount: 3,
          },
          schemaUrl: 'https://r',
          scopeMetrics: [
            {
              scope: { name: 'lib', version: '9', attributes: [{ key: 'a', value: { boolValue: true } }], droppedAttributesCount: 4 },
              schemaUrl: 'https://s',
              metrics: [
                {
                  name: 'g',
                  description: 'd',
                  unit: 'u',
                  metadata: [{ key: 'm', value: { stringValue: 'meta' } }],
                  gauge: {
                    dataPoints: [
                      {
                        startTimeUnixNano: '1',
                        timeUnixNano: '1700000000123456789',
                        asDouble: 2.5,
                        flags: 0,
                        attributes: [
                          { key: 'bytes', value: { bytesValue: Buffer.from([1, 2, 3]) } },
                          {
                            key: 'arr',
                            value: { arrayValue: { values: [{ doubleValue: 1 }, { kvlistValue: { values: [{ key: 'x', value: { intValue: '7' } }] } }] } },
                          },
                        ],
                        exemplars: [
                          {
                            timeUnixNano: '1700000000123456789',
                            asInt: '-3',
                            spanId: Buffer.from('eee19b7ec3c1b174', 'hex'),
                            traceId: Buffer.from('5b8efff798038103d269b633813fc60c', 'hex'),
                            filteredAttributes: [{ key: 'f', value: { stringValue: 'v' } }],
                          },
                        ],
                      },
                    ],
                  },
                },
                {
                  name: 's',
                  sum: {
                    aggregationTemporality: 1,
                    isMonotonic: true,
                    dataPoints: [
                      { asInt: '1700000000123456789', startTimeUnixNano: String(T0), timeUnixNano: String(T1) },
                      { flags: 1, timeUnixNano: '5' },
                    ],
                  },
                },
                {
                  name: 'h',
                  histogram: {
                    aggregationTemporality: 2,
                    dataPoints: [{ count: '6', sum: 10.5, min: 0.25, max: 7, bucketCounts: ['1', '2', '3'], explicitBounds: [1, 5], timeUnixNano: '2' }],
                  },
                },
                {
                  name: 'e',
                  exponentialHistogram: {
                    aggregationTemporality: 1,
                    dataPoints: [
                      {
                        count: '7',
                        sum: 3,
                        scale: -3,
                        zeroCount: '1',
                        zeroThreshold: 1e-9,
                        positive: { offset: -2, bucketCounts: ['4', '2'] },
                        negative: { offset: 1, bucketCounts: ['5'] },
                        min: -1,
                        max: 4,
                        timeUnixNano: '5',
                      },
                    ],
                  },
                },
                {
                  name: 'q',
                  summary: {
                    dataPoints: [
                      {
                        count: '3',
                        sum: 6,
                        quantileValues: [
                          { quantile: 0.5, value: 2 },
                          { quantile: 1, value: 3 },
                        ],
                        timeUnixNano: '9',
                        flags: 1,
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const r = decodeMetricsProto(buf);
    expect(r.errors).to.deep.equal([]);
    expect(r.rejected).to.equal(0);
    const rm = r.data.resourceMetrics[0]!;
    expect(rm.resource).to.deep.equal({ attributes: { 'service.name': 'svc', n: -9223372036854775808n }, droppedAttributesCount: 3 });
    expect(rm.schemaUrl).to.equal('https://r');
    expect(rm.scopeMetrics[0]!.scope).to.deep.equal({ name: 'lib', version: '9', attributes: { a: true }, droppedAttributesCount: 4 });
    expect(rm.scopeMetrics[0]!.schemaUrl).to.equal('https://s');
    const [g, s, h, e, q] = rm.scopeMetrics[0]!.metrics as [GaugeMetric, SumMetric, HistogramMetric, ExponentialHistogramMetric, SummaryMetric];
    expect(g).to.deep.equal({
      name: 'g',
      description: 'd',
      unit: 'u',
      kind: 'gauge',
      metadata: { m: 'meta' },
      points: [
        {
          attributes: { bytes: new Uint8Array([1, 2, 3]), arr: [1, { x: 7n }] },
          startTimeUnixNano: 1n,
          timeUnixNano: T0,
          flags: 0,
          value: 2.5,
          exemplars: [
            { filteredAttributes: { f: 'v' }, timeUnixNano: T0, value: -3n, spanId: 'eee19b7ec3c1b174', traceId: '5b8efff798038103d269b633813fc60c' },
          ],
        },
      ],
    });
    expect(s.temporality).to.equal(1);
    expect(s.isMonotonic).to.equal(true);
    expect(s.points[0]).to.deep.equal({ attributes: {}, startTimeUnixNano: T0, timeUnixNano: T1, flags: 0, value: 1700000000123456789n });
    expect(s.points[1]!.flags).to.equal(1);
    expect(Number.isNaN(s.points[1]!.value)).to.equal(true);
    expect(h.points).to.deep.equal([
      {
        attributes: {},
        startTimeUnixNano: 0n,
        timeUnixNano: 2n,
        flags: 0,
        count: 6,
        sum: 10.5,
        min: 0.25,
        max: 7,
        bucketCounts: [1, 2, 3],
        explicitBounds: [1, 5],
      },
    ]);
    expect(e.points).to.deep.equal([
      {
        attributes: {},
        startTimeUnixNano: 0n,
        timeUnixNano: 5n,
        flags: 0,
        count: 7,
        sum: 3,
        scale: -3,
        zeroCount: 1,
        zeroThreshold: 1e-9,
        positive: { offset: -2, bucketCounts: [4, 2] },
        negative: { offset: 1, bucketCounts: [5] },
        min: -1,
        max: 4,
      },
    ]);
    expect(q.points).to.deep.equal([
      {
        attributes: {},
        startTimeUnixNano: 0n,
        timeUnixNano: 9n,
        flags: 1,
        count: 3,
        sum: 6,
        quantileValues: [
          { quantile: 0.5, value: 2 },
          { quantile: 1, value: 3 },
        ],
      },
    ]);
  });

  it('accepts unpacked repeated scalars and skips unknown fields of every wire type', () => {
    const unknown = concat(
      varintBytes((100 << 3) | 0),
      varintBytes(300), // varint
      varintBytes((101 << 3) | 1),
      fixed64Bytes(1n), // fixed64
      field((102 << 3) | 2, new Uint8Array([1, 2, 3])), // bytes
      varintBytes((103 << 3) | 5),
      new Uint8Array([1, 2, 3, 4]), // fixed32
      varintBytes((104 << 3) | 3),
      varintBytes((1 << 3) | 0),
      varintBytes(1),
      varintBytes((104 << 3) | 4), // group
    );
    const point = concat(
      unknown,
      varintBytes(0x19),
      fixed64Bytes(T1), // time_unix_nano
      varintBytes(0x21),
      fixed64Bytes(4n), // count
      varintBytes(0x31),
      fixed64Bytes(1n),
      varintBytes(0x31),
      fixed64Bytes(3n), // bucket_counts unpacked
      varintBytes(0x39),
      doubleBytes(10), // explicit_bounds unpacked
      unknown,
    );
    const histogram = concat(field(0x0a, point), varintBytes(0x10), varintBytes(2), unknown);
    const metric = concat(field(0x0a, new TextEncoder().encode('h')), unknown, field(0x4a, histogram));
    const buf = concat(requestWithMetrics(metric), unknown);
    const r = decodeMetricsProto(buf);
    expect(r.errors).to.deep.equal([]);
    const h = onlyMetrics(r.data)[0] as HistogramMetric;
    expect(h.temporality).to.equal(2);
    expect(h.points).to.deep.equal([
      { attributes: {}, startTimeUnixNano: 0n, timeUnixNano: T1, flags: 0, count: 4, bucketCounts: [1, 3], explicitBounds: [10] },
    ]);
  });

  it('round-trips model → proto → model for every kind and value type', () => {
    const b = fullBatch();
    const r = decodeMetricsProto(encodeMetricsProto(b));
    expect(r.errors).to.deep.equal([]);
    expect(r.rejected).to.equal(0);
    expect(r.data).to.deep.equal(b);
  });

  it('writes what the .proto schema reads (protobufjs reflection decode of our encoding)', () => {
    const T = type(OTLP_TYPES.ExportMetricsServiceRequest);
    const msg = T.toObject(T.decode(encodeMetricsProto(fullBatch())), { longs: String, bytes: String, defaults: false }) as any;
    const rm = msg.resourceMetrics[0];
    expect(rm.schemaUrl).to.equal('https://opentelemetry.io/schemas/1.21.0');
    expect(rm.resource.droppedAttributesCount).to.equal(2);
    const attrs = Object.fromEntries(rm.resource.attributes.map((kv: any) => [kv.key, kv.value]));
    expect(attrs['int.min']).to.deep.equal({ intValue: '-9223372036854775808' });
    expect(attrs['int.max']).to.deep.equal({ intValue: '9223372036854775807' });
    expect(attrs['bytes']).to.deep.equal({ bytesValue: 'AAEC+v8=' });
    const sm = rm.scopeMetrics[0];
    expect(sm.scope).to.deep.include({ name: 'io.metricport.test', version: '1.2.3', droppedAttributesCount: 1 });
    const [g, s, , h, eh, q] = sm.metrics;
    expect(g.gauge.dataPoints[0].timeUnixNano).to.equal(String(T0));
    expect(g.gauge.dataPoints[0].exemplars[1]).to.deep.include({ asInt: '-42', timeUnixNano: String(T1) });
    expect(Buffer.from(g.gauge.dataPoints[0].exemplars[0].traceId, 'base64').toString('hex')).to.equal('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(g.gauge.dataPoints[2].flags).to.equal(1);
    expect(s.metadata).to.deep.equal([{ key: 'prometheus.type', value: { stringValue: 'counter' } }]);
    expect(s.sum).to.deep.include({ aggregationTemporality: 1, isMonotonic: true });
    expect(s.sum.dataPoints[0].asInt).to.equal('1700000000123456789');
    expect(h.histogram.dataPoints[0]).to.deep.include({ count: '9', sum: 123.5, min: 0.5, max: 99 });
    expect(h.histogram.dataPoints[0].bucketCounts).to.deep.equal(['1', '2', '3', '3']);
    expect(eh.exponentialHistogram.dataPoints[0]).to.deep.include({ scale: -2, zeroCount: '3', zeroThreshold: 0.001 });
    expect(eh.exponentialHistogram.dataPoints[0].negative).to.deep.equal({ offset: -3, bucketCounts: ['2', '2'] });
    expect(q.summary.dataPoints[0].quantileValues[1]).to.deep.equal({ quantile: 0.5, value: 2 });
  });

  it('truncated input → DecodeError, at every cut that is not a message boundary', () => {
    const buf = encodeMetricsProto(fullBatch());
    expect(() => decodeMetricsProto(buf.subarray(0, buf.length - 1))).to.throw(DecodeError, /byte offset \d+/);
    let threw = 0;
    for (let n = 1; n < buf.length; n++) {
      try {
        decodeMetricsProto(buf.subarray(0, n));
      } catch (err) {
        expect(err, `cut at ${n}`).to.be.instanceOf(DecodeError);
        threw++;
      }
    }
    // only cuts between the two top-level resource_metrics decode successfully
    expect(threw).to.be.greaterThan(buf.length - 3);
  });

  it('random garbage never escapes as anything but DecodeError', () => {
    let seed = 12345;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const good = encodeMetricsProto(fullBatch());
    for (let i = 0; i < 2000; i++) {
      const buf = new Uint8Array(good);
      for (let k = 0; k < 3; k++) buf[rnd() % buf.length] = rnd() & 255;
      try {
        decodeMetricsProto(buf);
      } catch (err) {
        expect(err).to.be.instanceOf(DecodeError);
      }
      const junk = new Uint8Array(rnd() % 64).map(() => rnd() & 255);
      try {
        decodeMetricsProto(junk);
      } catch (err) {
        expect(err).to.be.instanceOf(DecodeError);
      }
    }
  });

  it('invalid UTF-8 in a string field → DecodeError with the byte offset; U+FFFD itself is fine', () => {
    const bad = requestWithMetrics(concat(field(0x0a, new Uint8Array([0x6d, 0xff, 0x6e])), field(0x2a, new Uint8Array(0))));
    expect(() => decodeMetricsProto(bad)).to.throw(DecodeError, /^invalid UTF-8 in string field at byte offset \d+$/);
    const overlong = requestWithMetrics(concat(field(0x0a, new Uint8Array([0xc0, 0xaf])), field(0x2a, new Uint8Array(0))));
    expect(() => decodeMetricsProto(overlong)).to.throw(DecodeError, /invalid UTF-8/);
    const surrogate = requestWithMetrics(concat(field(0x0a, new Uint8Array([0xed, 0xa0, 0x80])), field(0x2a, new Uint8Array(0))));
    expect(() => decodeMetricsProto(surrogate)).to.throw(DecodeError, /invalid UTF-8/);
    const replacement = requestWithMetrics(concat(field(0x0a, new TextEncoder().encode('a\ufffdb')), field(0x2a, new Uint8Array(0))));
    const r = decodeMetricsProto(replacement);
    expect(onlyMetrics(r.data)[0]!.name).to.equal('a\ufffdb');
  });

  it('rejects invalid metrics and points individually', () => {
    const b: MetricsBatch = {
      resourceMetrics: [
        {
          resource: { attributes: {}, droppedAttributesCount: 0 },
          schemaUrl: '',
          scopeMetrics: [
            {
              scope: { name: '', version: '', attributes: {}, droppedAttributesCount: 0 },
              schemaUrl: '',
              metrics: [
                {
                  name: '',
                  description: '',
                  unit: '',
                  kind: 'gauge',
                  points: [
                    { attributes: {}, startTimeUnixNano: 0n, timeUnixNano: 0n, flags: 0, value: 1 },
                    { attributes: {}, startTimeUnixNano: 0n, timeUnixNano: 0n, flags: 0, value: 2 },
                  ],
                },
                {
                  name: 'h',
                  description: '',
                  unit: '',
                  kind: 'histogram',
                  temporality: 2,
                  points: [
                    { attributes: {}, startTimeUnixNano: 0n, timeUnixNano: 0n, flags: 0, count: 1, bucketCounts: [1], explicitBounds: [] },
                    { attributes: {}, startTimeUnixNano: 0n, timeUnixNano: 0n, flags: 0, count: 1, bucketCounts: [1, 0, 0], explicitBounds: [1] },
                    { attributes: {}, startTimeUnixNano: 0n, timeUnixNano: 0n, flags: 0, count: 1, bucketCounts: [1, 0, 0], explicitBounds: [2, 1] },
                  ],
                },
                {
                  name: 'all-bad',
                  description: '',
                  unit: '',
                  kind: 'histogram',
                  temporality: 2,
                  points: [{ attributes: {}, startTimeUnixNano: 0n, timeUnixNano: 0n, flags: 0, count: 1, bucketCounts: [1, 1], explicitBounds: [] }],
                },
              ],
            },
          ],
        },
      ],
    };
    // plus: a metric without data, and a number point without a value (raw bytes)
    const noData = field(0x12, field(0x0a, new TextEncoder().encode('nodata')));
    const noValue = field(
      0x12,
      concat(
        field(0x0a, new TextEncoder().encode('nv')),
        field(0x2a, concat(field(0x0a, concat(varintBytes(0x19), fixed64Bytes(1n))), field(0x0a, concat(varintBytes(0x21), doubleBytes(1))))),
      ),
    );
    const badTemporality = field(
      0x12,
      concat(
        field(0x0a, new TextEncoder().encode('t')),
        field(0x3a, concat(field(0x0a, concat(varintBytes(0x21), doubleBytes(1))), varintBytes(0x10), varintBytes(9))),
      ),
    );
    const base = encodeMetricsProto(b);
    // append extra ScopeMetrics entries to the first ResourceMetrics by re-wrapping
    const buf = concat(base, field(0x0a, field(0x12, concat(noData, noValue, badTemporality))));
    const r = decodeMetricsProto(buf);
    const names = r.data.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => m.name)));
    expect(names).to.deep.equal(['h', 'nv']);
    expect((onlyMetrics(r.data)[0] as HistogramMetric).points.length).to.equal(1);
    expect(r.rejected).to.equal(2 + 2 + 1 + 1 + 1 + 1);
    expect(r.errors).to.include('metric #0 (resourceMetrics[0].scopeMetrics[0]): missing name');
    expect(r.errors).to.include('metric "h" data point 1: bucketCounts has 3 entries, expected explicitBounds.length + 1 = 2');
    expect(r.errors).to.include('metric "h" data point 2: explicitBounds not strictly increasing');
    expect(r.errors).to.include('metric "all-bad" data point 0: bucketCounts has 2 entries, expected explicitBounds.length + 1 = 1');
    expect(r.errors.some((e) => e.startsWith('metric "nodata": no data'))).to.equal(true);
    expect(r.errors).to.include('metric "nv" data point 0: no value (neither asInt nor asDouble)');
    expect(r.errors).to.include('metric "t": unknown aggregation temporality 9');
  });

  it('an empty body is an empty request', () => {
    expect(decodeMetricsProto(new Uint8Array(0))).to.deep.equal({ data: { resourceMetrics: [] }, rejected: 0, errors: [] });
  });
});

describe('otlp/proto responses', () => {
  it('encodes ExportMetricsServiceResponse / ExportLogsServiceResponse', () => {
    expect(encodeExportResponseProto('metrics', 0, '').length).to.equal(0);
    const M = type(OTLP_TYPES.ExportMetricsServiceResponse);
    expect(M.toObject(M.decode(encodeExportResponseProto('metrics', 3, 'three bad')), { longs: Number })).to.deep.equal({
      partialSuccess: { rejectedDataPoints: 3, errorMessage: 'three bad' },
    });
    const L = type(OTLP_TYPES.ExportLogsServiceResponse);
    expect(L.toObject(L.decode(encodeExportResponseProto('events', 2, 'x')), { longs: Number })).to.deep.equal({
      partialSuccess: { rejectedLogRecords: 2, errorMessage: 'x' },
    });
    expect(L.toObject(L.decode(encodeExportResponseProto('events', 0, 'warn')), { longs: Number })).to.deep.equal({ partialSuccess: { errorMessage: 'warn' } });
  });

  it('encodes google.rpc.Status', () => {
    const S = type(OTLP_TYPES.Status);
    expect(S.toObject(S.decode(encodeStatusProto(3, 'bad body')))).to.deep.equal({ code: 3, message: 'bad body' });
    expect(S.toObject(S.decode(encodeStatusProto(-1, 'neg')))).to.deep.equal({ code: -1, message: 'neg' });
  });
});
