import { expect } from 'chai';
import type { ExponentialHistogramMetric, GaugeMetric, HistogramMetric, MetricsBatch, SumMetric, SummaryMetric } from '../../src/model/metrics.js';
import { DecodeError } from '../../src/otlp/errors.js';
import { decodeMetricsJson, encodeExportResponseJson, encodeMetricsJson, encodeStatusJson, quoteBigIntegers } from '../../src/otlp/json.js';
import { decodeMetricsProto, encodeMetricsProto } from '../../src/otlp/proto.js';
import { T0, T1, fixture, fullBatch } from './helpers.js';

function wrap(metrics: unknown[], resource: unknown = {}): string {
  return JSON.stringify({ resourceMetrics: [{ resource, scopeMetrics: [{ scope: { name: 's' }, metrics }] }] });
}

function onlyMetrics(b: MetricsBatch) {
  return b.resourceMetrics[0]!.scopeMetrics[0]!.metrics;
}

describe('otlp/json decode', () => {
  it('decodes the minimal spec example exactly', () => {
    const text = `{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
 "scopeMetrics":[{"scope":{"name":"lib","version":"1.0.0"},"metrics":[
  {"name":"http.requests","unit":"1","sum":{"aggregationTemporality":1,"isMonotonic":true,
   "dataPoints":[{"asInt":"5","startTimeUnixNano":"1700000000000000000","timeUnixNano":"1700000010000000000",
   "attributes":[{"key":"route","value":{"stringValue":"/a"}}]}]}}]}]}]}`;
    const r = decodeMetricsJson(text);
    expect(r.rejected).to.equal(0);
    expect(r.errors).to.deep.equal([]);
    expect(r.data).to.deep.equal({
      resourceMetrics: [
        {
          resource: { attributes: { 'service.name': 'svc' }, droppedAttributesCount: 0 },
          schemaUrl: '',
          scopeMetrics: [
            {
              scope: { name: 'lib', version: '1.0.0', attributes: {}, droppedAttributesCount: 0 },
              schemaUrl: '',
              metrics: [
                {
                  name: 'http.requests',
                  description: '',
                  unit: '1',
                  kind: 'sum',
                  temporality: 1,
                  isMonotonic: true,
                  points: [{ attributes: { route: '/a' }, startTimeUnixNano: 1700000000000000000n, timeUnixNano: 1700000010000000000n, flags: 0, value: 5n }],
                },
              ],
            },
          ],
        },
      ],
    });
  });

  it('keeps 1700000000123456789 exact as a JSON number (asInt and timestamps)', () => {
    const text =
      '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[' +
      '{"asInt": 1700000000123456789, "timeUnixNano": 1700000000123456789, "startTimeUnixNano": -1700000000123456789,' +
      ' "attributes":[{"key":"i","value":{"intValue": 9223372036854775807}},{"key":"s","value":{"stringValue":"12345678901234567890"}}]}]}}]}]}]}';
    const r = decodeMetricsJson(text);
    const p = (onlyMetrics(r.data)[0] as GaugeMetric).points[0]!;
    expect(p.value).to.equal(1700000000123456789n);
    expect(p.timeUnixNano).to.equal(1700000000123456789n);
    expect(p.startTimeUnixNano).to.equal(-1700000000123456789n);
    expect(p.attributes).to.deep.equal({ i: 9223372036854775807n, s: '12345678901234567890' });
  });

  it('decodes every metric kind with exact values', () => {
    const text = wrap([
      { name: 'g', gauge: { dataPoints: [{ asDouble: 0.1, timeUnixNano: '1700000000123456789', flags: 0 }] } },
      {
        name: 'h',
        histogram: {
          aggregationTemporality: 2,
          dataPoints: [
            { count: '6', sum: 10.5, min: 0.25, max: 7, bucketCounts: ['1', '2', '3'], explicitBounds: [1, 5], startTimeUnixNano: '1', timeUnixNano: '2' },
          ],
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
              scale: 3,
              zeroCount: '1',
              zeroThreshold: 1e-9,
              positive: { offset: -2, bucketCounts: ['4', '2'] },
              negative: {},
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
            },
          ],
        },
      },
    ]);
    const r = decodeMetricsJson(text);
    expect(r.rejected).to.equal(0);
    const [g, h, e, q] = onlyMetrics(r.data) as [GaugeMetric, HistogramMetric, ExponentialHistogramMetric, SummaryMetric];
    expect(g.points).to.deep.equal([{ attributes: {}, startTimeUnixNano: 0n, timeUnixNano: T0, flags: 0, value: 0.1 }]);
    expect(h).to.deep.equal({
      name: 'h',
      description: '',
      unit: '',
      kind: 'histogram',
      temporality: 2,
      points: [
        {
          attributes: {},
          startTimeUnixNano: 1n,
          timeUnixNano: 2n,
          flags: 0,
          count: 6,
          sum: 10.5,
          min: 0.25,
          max: 7,
          bucketCounts: [1, 2, 3],
          explicitBounds: [1, 5],
        },
      ],
    });
    expect(e.temporality).to.equal(1);
    expect(e.points).to.deep.equal([
      {
        attributes: {},
        startTimeUnixNano: 0n,
        timeUnixNano: 5n,
        flags: 0,
        count: 7,
        sum: 3,
        scale: 3,
        zeroCount: 1,
        zeroThreshold: 1e-9,
        positive: { offset: -2, bucketCounts: [4, 2] },
        negative: { offset: 0, bucketCounts: [] },
      },
    ]);
    expect(q.points).to.deep.equal([
      {
        attributes: {},
        startTimeUnixNano: 0n,
        timeUnixNano: 9n,
        flags: 0,
        count: 3,
        sum: 6,
        quantileValues: [
          { quantile: 0.5, value: 2 },
          { quantile: 1, value: 3 },
        ],
      },
    ]);
  });

  it('is lenient: numbers for int64, enum names, snake_case, unknown fields, hex case, base64 ids, NaN strings', () => {
    const text = JSON.stringify({
      resource_metrics: [
        {
          resource: { attributes: [{ key: 'k', value: { string_value: 'v' } }], dropped_attributes_count: 1, unknownThing: [1, 2] },
          schema_url: 'u',
          scope_metrics: [
            {
              scope: { name: 's', version: '1', extra: true },
              metrics: [
                {
                  name: 'a',
                  sum: {
                    aggregation_temporality: 'AGGREGATION_TEMPORALITY_DELTA',
                    is_monotonic: true,
                    data_points: [
                      {
                        as_int: 8,
                        start_time_unix_nano: 1000,
                        time_unix_nano: '2000',
                        attributes: [
                          { key: 'n', value: { int_value: 3 } },
                          { key: 'd', value: { double_value: '2.5' } },
                          { key: 'b', value: { bool_value: true } },
                          { key: 'y', value: { bytes_value: 'AAEC' } },
                          { key: 'arr', value: { array_value: { values: [{ int_value: '1' }] } } },
                          { key: 'kv', value: { kvlist_value: { values: [{ key: 'z', value: {} }] } } },
                        ],
                        future_field: 1,
                      },
                    ],
                  },
                },
                {
                  name: 'b',
                  sum: {
                    aggregationTemporality: 'AGGREGATION_TEMPORALITY_CUMULATIVE',
                    dataPoints: [{ asDouble: 'NaN' }, { asDouble: 'Infinity' }, { asDouble: '-Infinity' }],
                  },
                },
                {
                  name: 'c',
                  histogram: {
                    aggregationTemporality: 2,
                    dataPoints: [
                      {
                        count: 3,
                        bucket_counts: [1, 2],
                        explicit_bounds: [0.5],
                        exemplars: [
                          { as_int: 4, trace_id: '4BF92F3577B34DA6A3CE929D0E0E4736', span_id: 'AA'.repeat(8), time_unix_nano: 7 },
                          { asDouble: 1, traceId: Buffer.from('0123456789abcdef0123456789abcdef', 'hex').toString('base64') },
                        ],
                      },
                    ],
                  },
                },
                {
                  name: 'd',
                  exponential_histogram: { aggregationTemporality: 1, data_points: [{ zero_count: 2, zero_threshold: 0.5, positive: { bucket_counts: [1] } }] },
                },
                { name: 'e', summary: { data_points: [{ quantile_values: [{ quantile: 0.9, value: 1 }] }] } },
              ],
              newScopeField: {},
            },
          ],
        },
      ],
      topLevelUnknown: 'x',
    });
    const r = decodeMetricsJson(text);
    expect(r.errors).to.deep.equal([]);
    expect(r.rejected).to.equal(0);
    const rm = r.data.resourceMetrics[0]!;
    expect(rm.resource).to.deep.equal({ attributes: { k: 'v' }, droppedAttributesCount: 1 });
    expect(rm.schemaUrl).to.equal('u');
    const [a, b, c, d, e] = rm.scopeMetrics[0]!.metrics as [SumMetric, SumMetric, HistogramMetric, ExponentialHistogramMetric, SummaryMetric];
    expect(a.temporality).to.equal(1);
    expect(a.isMonotonic).to.equal(true);
    expect(a.points[0]).to.deep.equal({
      attributes: { n: 3n, d: 2.5, b: true, y: new Uint8Array([0, 1, 2]), arr: [1n], kv: { z: null } },
      startTimeUnixNano: 1000n,
      timeUnixNano: 2000n,
      flags: 0,
      value: 8n,
    });
    expect(b.temporality).to.equal(2);
    expect(b.isMonotonic).to.equal(false); // missing isMonotonic = false
    expect(b.points.map((p) => p.value)).to.deep.equal([NaN, Infinity, -Infinity]);
    expect(c.points[0]!.bucketCounts).to.deep.equal([1, 2]);
    expect(c.points[0]!.exemplars).to.deep.equal([
      { filteredAttributes: {}, timeUnixNano: 7n, value: 4n, spanId: 'aaaaaaaaaaaaaaaa', traceId: '4bf92f3577b34da6a3ce929d0e0e4736' },
      { filteredAttributes: {}, timeUnixNano: 0n, value: 1, spanId: '', traceId: '0123456789abcdef0123456789abcdef' },
    ]);
    expect(d.points[0]!.zeroCount).to.equal(2);
    expect(d.points[0]!.zeroThreshold).to.equal(0.5);
    expect(d.points[0]!.positive).to.deep.equal({ offset: 0, bucketCounts: [1] });
    expect(e.points[0]!.quantileValues).to.deep.equal([{ quantile: 0.9, value: 1 }]);
  });

  it('decodes the Forge App metrics sample: asInt numbers as bigint, delta sums', () => {
    const r = decodeMetricsJson(fixture('forge-sample.json'));
    expect(r.rejected).to.equal(0);
    const rm = r.data.resourceMetrics[0]!;
    expect(rm.schemaUrl).to.equal('https://opentelemetry.io/schemas/1.9.0');
    expect(rm.resource).to.deep.equal({ attributes: {}, droppedAttributesCount: 0 });
    const ms = rm.scopeMetrics[0]!.metrics as SumMetric[];
    expect(ms.map((m) => m.name)).to.deep.equal(['forge_api_request_count', 'forge_backend_invocation_count', 'forge_backend_invocation_errors']);
    for (const m of ms) {
      expect(m.kind).to.equal('sum');
      expect(m.temporality).to.equal(1);
      expect(m.isMonotonic).to.equal(false);
      expect(m.unit).to.equal('s');
    }
    expect(ms.map((m) => m.points[0]!.value)).to.deep.equal([8n, 70n, 0n]);
    const p = ms[0]!.points[0]!;
    expect(p.startTimeUnixNano).to.equal(1698720840000000000n);
    expect(p.timeUnixNano).to.equal(1698720900000000000n);
    expect(p.attributes).to.include({ status: '2xx', remote: 'stargate', url: '/forge/entities/graphql' });
    expect(ms[2]!.points[0]!.attributes).to.include({ errorType: 'UNHANDLED_EXCEPTION', functionKey: 'process-app-event' });
  });

  it('garbage top level → DecodeError', () => {
    for (const body of ['[]', '"x"', 'null', '5', 'true', '{"resourceMetrics":5}', '{"resourceMetrics":{}}']) {
      expect(() => decodeMetricsJson(body), body).to.throw(DecodeError, /expected an ExportMetricsServiceRequest object/);
    }
    expect(() => decodeMetricsJson('{"resourceMetrics": [')).to.throw(DecodeError, /invalid JSON/);
    expect(() => decodeMetricsJson('')).to.throw(DecodeError, /invalid JSON/);
    expect(decodeMetricsJson('{}').data).to.deep.equal({ resourceMetrics: [] });
    expect(decodeMetricsJson('{"resourceMetrics":null}').data).to.deep.equal({ resourceMetrics: [] });
  });

  it('structural garbage below the top level drops only the smallest item holding it', () => {
    const text = JSON.stringify({
      resourceMetrics: [
        'not an object',
        { scopeMetrics: 7 },
        {
          scopeMetrics: [
            {
              metrics: [
                'a string metric',
                {
                  name: 'ok',
                  gauge: { dataPoints: [{ asInt: '1' }, 'x', { asInt: 'abc' }, { asInt: 1.5 }, { asDouble: {} }, { asInt: '2', timeUnixNano: 'soon' }] },
                },
                { name: 'bad-dp', sum: { dataPoints: {} } },
                { name: 'bad-kind', gauge: 5 },
                {
                  name: 'bad-attrs',
                  gauge: {
                    dataPoints: [
                      { asInt: '1', attributes: { a: 1 } },
                      { asInt: '1', attributes: [{ key: 5, value: {} }] },
                      { asInt: '1', attributes: [{ key: 'k', value: { stringValue: 5 } }] },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const r = decodeMetricsJson(text);
    const ms = r.data.resourceMetrics[0]!.scopeMetrics[0]!.metrics as GaugeMetric[];
    expect(ms.map((m) => m.name)).to.deep.equal(['ok']);
    expect(ms[0]!.points.map((p) => p.value)).to.deep.equal([1n]);
    // 1 + 1 (resources) + 1 (string metric) + 5 (ok's bad points) + 1 + 1 + 3
    expect(r.rejected).to.equal(13);
    expect(r.errors.length).to.equal(10);
    expect(r.errors).to.include('metric "ok" data point 1: not an object');
    expect(r.errors.some((e) => e.startsWith('metric "ok" data point 2: invalid asInt'))).to.equal(true);
  });

  it('rejects invalid points and metrics individually, naming metric and point index', () => {
    const text = wrap([
      { name: 'nv', gauge: { dataPoints: [{ asInt: '1' }, {}, { flags: 1 }] } },
      { description: 'no name', gauge: { dataPoints: [{ asInt: '1' }, { asInt: '2' }] } },
      { name: 'nodata' },
      {
        name: 'h',
        histogram: {
          dataPoints: [
            { count: 1, bucketCounts: [1], explicitBounds: [] },
            { count: 1, bucketCounts: [0, 1], explicitBounds: [] },
            { count: 1, bucketCounts: [0, 1, 0], explicitBounds: [5, 5] },
            { count: 0, bucketCounts: [], explicitBounds: [3, 1] },
            { count: 0, explicitBounds: [1, 2] },
          ],
        },
      },
      { name: 'temp', sum: { aggregationTemporality: 'AGGREGATION_TEMPORALITY_SOMETIMES', dataPoints: [{ asInt: '1' }] } },
    ]);
    const r = decodeMetricsJson(text);
    const ms = onlyMetrics(r.data);
    expect(ms.map((m) => m.name)).to.deep.equal(['nv', 'h']);
    const nv = ms[0] as GaugeMetric;
    expect(nv.points.length).to.equal(2);
    expect(nv.points[1]!.flags).to.equal(1);
    expect(Number.isNaN(nv.points[1]!.value)).to.equal(true);
    expect((ms[1] as HistogramMetric).points.map((p) => p.bucketCounts.length)).to.deep.equal([1, 0]);
    expect(r.rejected).to.equal(1 + 2 + 1 + 3 + 1);
    expect(r.errors).to.include('metric "nv" data point 1: no value (neither asInt nor asDouble)');
    expect(r.errors).to.include('metric #1 (resourceMetrics[0].scopeMetrics[0]): missing name');
    expect(r.errors.some((e) => e.startsWith('metric "nodata": no data'))).to.equal(true);
    expect(r.errors).to.include('metric "h" data point 1: bucketCounts has 2 entries, expected explicitBounds.length + 1 = 1');
    expect(r.errors).to.include('metric "h" data point 2: explicitBounds not strictly increasing');
    expect(r.errors.some((e) => e.startsWith('metric "temp": unknown aggregation temporality'))).to.equal(true);
  });

  it('last attribute key wins; __proto__ keys stay own properties', () => {
    const text = wrap([
      {
        name: 'm',
        gauge: {
          dataPoints: [
            {
              asInt: '1',
              attributes: [
                { key: 'a', value: { stringValue: '1' } },
                { key: 'a', value: { stringValue: '2' } },
                { key: '__proto__', value: { stringValue: 'p' } },
              ],
            },
          ],
        },
      },
    ]);
    const p = (onlyMetrics(decodeMetricsJson(text).data)[0] as GaugeMetric).points[0]!;
    expect(p.attributes.a).to.equal('2');
    expect(Object.getPrototypeOf(p.attributes)).to.equal(Object.prototype);
    expect(Object.keys(p.attributes)).to.deep.equal(['a', '__proto__']);
    expect(Object.getOwnPropertyDescriptor(p.attributes, '__proto__')!.value).to.equal('p');
  });
});

describe('otlp/json encode', () => {
  it('round-trips model → JSON → model for every kind and value type', () => {
    const b = fullBatch();
    const text = encodeMetricsJson(b);
    const r = decodeMetricsJson(text);
    expect(r.errors).to.deep.equal([]);
    expect(r.rejected).to.equal(0);
    expect(r.data).to.deep.equal(b);
    expect(encodeMetricsJson(r.data)).to.equal(text);
  });

  it('round-trips JSON → model → JSON (spec text from a real serializer shape)', () => {
    const r1 = decodeMetricsJson(fixture('forge-sample.json'));
    const t1 = encodeMetricsJson(r1.data);
    const r2 = decodeMetricsJson(t1);
    expect(r2.data).to.deep.equal(r1.data);
    expect(encodeMetricsJson(r2.data)).to.equal(t1);
  });

  it('writes spec OTLP JSON: strings for int64, integers for enums, hex ids, base64 bytes, NaN as strings', () => {
    const obj = JSON.parse(encodeMetricsJson(fullBatch()));
    const rm = obj.resourceMetrics[0];
    const attrs = Object.fromEntries(rm.resource.attributes.map((kv: { key: string; value: unknown }) => [kv.key, kv.value]));
    expect(attrs['int.max']).to.deep.equal({ intValue: '9223372036854775807' });
    expect(attrs['bytes']).to.deep.equal({ bytesValue: 'AAEC+v8=' });
    expect(attrs['inf']).to.deep.equal({ doubleValue: 'Infinity' });
    expect(attrs['nothing']).to.deep.equal({});
    expect(attrs['kv']).to.have.nested.property('kvlistValue.values[0].key', 'inner');
    const [g, s] = rm.scopeMetrics[0].metrics;
    expect(g.gauge.dataPoints[0].timeUnixNano).to.equal(String(T0));
    expect(g.gauge.dataPoints[0].exemplars[0]).to.include({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' });
    expect(g.gauge.dataPoints[1].asDouble).to.equal('NaN');
    expect(g.gauge.dataPoints[2]).to.not.have.property('asDouble'); // no recorded value
    expect(g.gauge.dataPoints[2].flags).to.equal(1);
    expect(s.sum).to.include({ aggregationTemporality: 1, isMonotonic: true });
    expect(s.sum.dataPoints[0].asInt).to.equal('1700000000123456789');
    expect(s.metadata).to.deep.equal([{ key: 'prometheus.type', value: { stringValue: 'counter' } }]);
    const h = rm.scopeMetrics[0].metrics[3];
    expect(h.histogram.dataPoints[0]).to.include({ count: '9', sum: 123.5 });
    expect(h.histogram.dataPoints[0].bucketCounts).to.deep.equal(['1', '2', '3', '3']);
    expect(String(T1)).to.equal(h.histogram.dataPoints[0].timeUnixNano);
  });

  it('proto and JSON agree: model → proto → model → JSON → model', () => {
    const b = fullBatch();
    const viaProto = decodeMetricsProto(encodeMetricsProto(b)).data;
    expect(decodeMetricsJson(encodeMetricsJson(viaProto)).data).to.deep.equal(b);
  });

  it('encodes export responses and statuses', () => {
    expect(encodeExportResponseJson('metrics', 0, '')).to.equal('{}');
    expect(JSON.parse(encodeExportResponseJson('metrics', 3, 'bad "points"'))).to.deep.equal({
      partialSuccess: { rejectedDataPoints: '3', errorMessage: 'bad "points"' },
    });
    expect(JSON.parse(encodeExportResponseJson('events', 2, 'x'))).to.deep.equal({ partialSuccess: { rejectedLogRecords: '2', errorMessage: 'x' } });
    expect(JSON.parse(encodeExportResponseJson('events', 0, 'warning'))).to.deep.equal({ partialSuccess: { errorMessage: 'warning' } });
    expect(JSON.parse(encodeStatusJson(3, 'invalid JSON'))).to.deep.equal({ code: 3, message: 'invalid JSON' });
  });
});

describe('otlp/json quoteBigIntegers', () => {
  it('quotes bare integers of 16+ digits outside strings only', () => {
    expect(quoteBigIntegers('{"a":1700000000123456789,"b":"1700000000123456789","c":123,"d":-12345678901234567}')).to.equal(
      '{"a":"1700000000123456789","b":"1700000000123456789","c":123,"d":"-12345678901234567"}',
    );
    expect(quoteBigIntegers('[1234567890123456.5,1.2345678901234567e30,"x\\"1234567890123456789\\"",1234567890123456789]')).to.equal(
      '[1234567890123456.5,1.2345678901234567e30,"x\\"1234567890123456789\\"","1234567890123456789"]',
    );
    expect(quoteBigIntegers('{"k\\\\":9999999999999999}')).to.equal('{"k\\\\":"9999999999999999"}');
    const plain = '{"a":[1,2,3],"b":"no numbers here 12345678901234567890"}';
    expect(quoteBigIntegers(plain)).to.equal(plain);
  });
});
