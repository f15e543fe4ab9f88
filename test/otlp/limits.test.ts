import { expect } from 'chai';
import type { Attributes, GaugeMetric, MetricsBatch, NumberDataPoint } from '../../src/model/metrics.js';
import { decodeMetricsJson } from '../../src/otlp/json.js';
import { decodeLogsProto, decodeMetricsProto, encodeMetricsProto } from '../../src/otlp/proto.js';
import { decodeLogsJson } from '../../src/otlp/json.js';
import { DEFAULT_DECODE_LIMITS } from '../../src/otlp/types.js';
import { concat, deepKvlistJson, deepKvlistProto, doubleBytes, field, requestWithMetrics, varintBytes } from './helpers.js';

function gaugeBatch(pointAttrs: Attributes[], resourceAttrs: Attributes = {}): MetricsBatch {
  return {
    resourceMetrics: [
      {
        resource: { attributes: resourceAttrs, droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeMetrics: [
          {
            scope: { name: 's', version: '', attributes: {}, droppedAttributesCount: 0 },
            schemaUrl: '',
            metrics: [
              {
                name: 'm',
                description: '',
                unit: '',
                kind: 'gauge',
                points: pointAttrs.map((attributes, i): NumberDataPoint => ({
                  attributes,
                  startTimeUnixNano: 0n,
                  timeUnixNano: BigInt(i + 1),
                  flags: 0,
                  value: i,
                })),
              },
            ],
          },
        ],
      },
    ],
  };
}

function manyAttrs(n: number): Attributes {
  const a: Attributes = {};
  for (let i = 0; i < n; i++) a['k' + i] = 'v' + i;
  return a;
}

function jsonGauge(points: string[], resource = '{}'): string {
  return `{"resourceMetrics":[{"resource":${resource},"scopeMetrics":[{"metrics":[{"name":"m","gauge":{"dataPoints":[${points.join(',')}]}}]}]}]}`;
}

function jsonAttrs(n: number): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(`{"key":"k${i}","value":{"stringValue":"v${i}"}}`);
  return '[' + parts.join(',') + ']';
}

describe('otlp decode limits', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_DECODE_LIMITS).to.deep.equal({ maxAttributes: 128, maxDepth: 16, maxValueLength: 65536 });
  });

  it('10,000 attributes on one point: that point rejected, the others kept (proto)', () => {
    const buf = encodeMetricsProto(gaugeBatch([{ a: '1' }, manyAttrs(10_000), manyAttrs(128)]));
    const r = decodeMetricsProto(buf);
    const m = r.data.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0] as GaugeMetric;
    expect(m.points.map((p) => p.value)).to.deep.equal([0, 2]);
    expect(Object.keys(m.points[1]!.attributes).length).to.equal(128);
    expect(r.rejected).to.equal(1);
    expect(r.errors).to.deep.equal(['metric "m" data point 1: more than 128 attributes']);
  });

  it('10,000 attributes on one point: that point rejected, the others kept (JSON)', () => {
    const r = decodeMetricsJson(
      jsonGauge([
        '{"asDouble":0,"attributes":[{"key":"a","value":{"stringValue":"1"}}]}',
        `{"asDouble":1,"attributes":${jsonAttrs(10_000)}}`,
        '{"asDouble":2}',
      ]),
    );
    const m = r.data.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0] as GaugeMetric;
    expect(m.points.map((p) => p.value)).to.deep.equal([0, 2]);
    expect(r.rejected).to.equal(1);
    expect(r.errors).to.deep.equal(['metric "m" data point 1: more than 128 attributes']);
  });

  it('too many resource attributes drop every point under the resource', () => {
    const r = decodeMetricsProto(encodeMetricsProto(gaugeBatch([{}, {}, {}], manyAttrs(129))));
    expect(r.data.resourceMetrics).to.deep.equal([]);
    expect(r.rejected).to.equal(3);
    expect(r.errors[0]).to.match(/^resourceMetrics\[0\]\.resource: more than 128 resource attributes; its 3 data points were dropped$/);
    const j = decodeMetricsJson(jsonGauge(['{"asDouble":1}', '{"asDouble":2}'], `{"attributes":${jsonAttrs(200)}}`));
    expect(j.data.resourceMetrics).to.deep.equal([]);
    expect(j.rejected).to.equal(2);
  });

  it('maxAttributes is configurable', () => {
    const r = decodeMetricsProto(encodeMetricsProto(gaugeBatch([manyAttrs(3), manyAttrs(4)])), { maxAttributes: 3, maxDepth: 16 });
    expect(r.rejected).to.equal(1);
  });

  it('100,000-deep nested kvlist in protobuf: point rejected, no crash', () => {
    const deep = deepKvlistProto(100_000);
    const kv = concat(field(0x0a, new TextEncoder().encode('deep')), field(0x12, deep));
    const badPoint = concat(field(0x3a, kv), varintBytes(0x21), doubleBytes(1));
    const goodPoint = concat(varintBytes(0x21), doubleBytes(2));
    const metric = concat(field(0x0a, new TextEncoder().encode('m')), field(0x2a, concat(field(0x0a, badPoint), field(0x0a, goodPoint))));
    const r = decodeMetricsProto(requestWithMetrics(metric));
    const m = r.data.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0] as GaugeMetric;
    expect(m.points.map((p) => p.value)).to.deep.equal([2]);
    expect(r.rejected).to.equal(1);
    expect(r.errors).to.deep.equal(['metric "m" data point 0: attribute value nested deeper than 16 levels']);
  });

  it('100,000-deep nested kvlist in JSON: point rejected, no crash', () => {
    const r = decodeMetricsJson(jsonGauge([`{"asDouble":1,"attributes":[{"key":"deep","value":${deepKvlistJson(100_000)}}]}`, '{"asDouble":2}']));
    const m = r.data.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0] as GaugeMetric;
    expect(m.points.map((p) => p.value)).to.deep.equal([2]);
    expect(r.rejected).to.equal(1);
    expect(r.errors).to.deep.equal(['metric "m" data point 0: attribute value nested deeper than 16 levels']);
  });

  it('maxDepth is exact: 16 nested containers pass, 17 do not (both encodings)', () => {
    for (const depth of [16, 17]) {
      const kv = concat(field(0x0a, new TextEncoder().encode('d')), field(0x12, deepKvlistProto(depth)));
      const metric = concat(field(0x0a, new TextEncoder().encode('m')), field(0x2a, field(0x0a, concat(field(0x3a, kv), varintBytes(0x21), doubleBytes(1)))));
      expect(decodeMetricsProto(requestWithMetrics(metric)).rejected, `proto ${depth}`).to.equal(depth > 16 ? 1 : 0);
      const j = decodeMetricsJson(jsonGauge([`{"asDouble":1,"attributes":[{"key":"d","value":${deepKvlistJson(depth)}}]}`]));
      expect(j.rejected, `json ${depth}`).to.equal(depth > 16 ? 1 : 0);
    }
    const ok = decodeMetricsJson(jsonGauge([`{"asDouble":1,"attributes":[{"key":"d","value":${deepKvlistJson(16)}}]}`]));
    let v = (ok.data.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0] as GaugeMetric).points[0]!.attributes.d;
    for (let i = 0; i < 16; i++) v = (v as Attributes).a!;
    expect(v).to.equal('x');
  });

  it('attribute strings longer than maxValueLength reject the point (nested ones too)', () => {
    const long = 'x'.repeat(65537);
    const r = decodeMetricsProto(encodeMetricsProto(gaugeBatch([{ s: 'x'.repeat(65536) }, { s: long }, { n: { inner: [long] } }])));
    expect(r.rejected).to.equal(2);
    expect(r.errors).to.include('metric "m" data point 1: attribute string value longer than 65536 characters');
    const j = decodeMetricsJson(jsonGauge([`{"asDouble":1,"attributes":[{"key":"s","value":{"stringValue":"${'y'.repeat(11)}"}}]}`, '{"asDouble":2}']), {
      maxAttributes: 128,
      maxDepth: 16,
      maxValueLength: 10,
    });
    expect(j.rejected).to.equal(1);
  });

  it('keeps at most 10 distinct error messages but counts everything', () => {
    const points = [];
    for (let i = 0; i < 50; i++) points.push('{}');
    const r = decodeMetricsJson(jsonGauge(points));
    expect(r.rejected).to.equal(50);
    expect(r.errors.length).to.equal(10);
    expect(r.errors[9]).to.equal('metric "m" data point 9: no value (neither asInt nor asDouble)');
  });

  it('applies to log records: deep bodies and attribute floods reject the record only', () => {
    const text = JSON.stringify({
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'ok' } }, { attributes: JSON.parse(jsonAttrs(1000)) }] }] }],
    }).replace('"logRecords":[', `"logRecords":[{"body":${deepKvlistJson(100_000)}},`);
    const r = decodeLogsJson(text);
    expect(r.data.events.length).to.equal(1);
    expect(r.data.events[0]!.attributes['log.body']).to.equal('ok');
    expect(r.rejected).to.equal(2);
    expect(r.errors[0]).to.equal('log record 0 (resourceLogs[0].scopeLogs[0]): attribute value nested deeper than 16 levels');

    const body = field(0x2a, deepKvlistProto(100_000)); // LogRecord.body
    const okRecord = field(0x1a, new TextEncoder().encode('INFO')); // severity_text
    const buf = field(0x0a, field(0x12, concat(field(0x12, body), field(0x12, okRecord))));
    const p = decodeLogsProto(buf);
    expect(p.data.events.length).to.equal(1);
    expect(p.data.events[0]!.attributes['log.severity_text']).to.equal('INFO');
    expect(p.rejected).to.equal(1);
  });
});
