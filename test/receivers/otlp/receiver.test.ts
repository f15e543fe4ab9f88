import { expect } from 'chai';
import zlib from 'node:zlib';
import type { EventBatch, MetricsBatch } from '../../../src/model/index.js';
import { PermanentError, RefusedError } from '../../../src/errors.js';
import { nowUnixNano } from '../../../src/receiverhttp/negotiate.js';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType } from '@opentelemetry/sdk-metrics';
import { LOGS_JSON, METRICS_JSON, RecordingConsumer, createReceiver, decodeStatusProto, post, request, startReceiver, type Started } from './helpers.js';

const JSON_CT = 'application/json';
const PROTO_CT = 'application/x-protobuf';

function statusJson(body: Buffer): { code: number; message: string } {
  return JSON.parse(body.toString('utf8')) as { code: number; message: string };
}

describe('otlp receiver (HTTP)', () => {
  let s: Started;
  let metrics: RecordingConsumer<MetricsBatch>;
  let events: RecordingConsumer<EventBatch>;

  beforeEach(async () => {
    metrics = new RecordingConsumer<MetricsBatch>();
    events = new RecordingConsumer<EventBatch>();
    s = await startReceiver(
      { protocols: { http: { max_request_body_size: '1MiB' } }, limits: { max_attributes: 4 }, logs: { min_severity: 'ALL' } },
      { metrics, events },
    );
  });

  afterEach(async () => {
    await s.rcv.shutdown(AbortSignal.timeout(5_000));
    await s.telemetry.shutdown();
  });

  describe('accepted requests', () => {
    it('JSON → 200 {} and the consumer gets exact values (timestamps as bigint)', async () => {
      const r = await post(s.port, '/v1/metrics', METRICS_JSON, JSON_CT);
      expect(r.status).to.equal(200);
      expect(r.headers['content-type']).to.equal('application/json');
      expect(r.body.toString()).to.equal('{}');
      expect(metrics.got).to.have.length(1);
      const rm = metrics.got[0]!.resourceMetrics[0]!;
      expect(rm.resource.attributes).to.deep.equal({ 'service.name': 'svc' });
      const sm = rm.scopeMetrics[0]!;
      expect(sm.scope.name).to.equal('lib');
      expect(sm.scope.version).to.equal('1.0.0');
      const m = sm.metrics[0]!;
      expect(m.name).to.equal('http.requests');
      expect(m.unit).to.equal('1');
      if (m.kind !== 'sum') throw new Error(`expected a sum, got ${m.kind}`);
      expect(m.temporality).to.equal(1);
      expect(m.isMonotonic).to.equal(true);
      const p = m.points[0]!;
      expect(p.value).to.equal(5n);
      expect(p.startTimeUnixNano).to.equal(1700000000000000000n);
      expect(p.timeUnixNano).to.equal(1700000010123456789n);
      expect(p.attributes).to.deep.equal({ route: '/a' });
    });

    it('accepts application/json with a charset and application/protobuf', async () => {
      const r = await post(s.port, '/v1/metrics', METRICS_JSON, 'application/json; charset=utf-8');
      expect(r.status).to.equal(200);
      expect(r.body.toString()).to.equal('{}');
      const r2 = await post(s.port, '/v1/metrics', Buffer.alloc(0), 'application/protobuf');
      expect(r2.status).to.equal(200);
      expect(r2.headers['content-type']).to.equal('application/x-protobuf');
    });

    it('protobuf from the OpenTelemetry JS serializer → 200 with an empty protobuf response', async () => {
      const rm = {
        resource: resourceFromAttributes({ 'service.name': 'proto-svc' }),
        scopeMetrics: [
          {
            scope: { name: 'meter', version: '2.0.0' },
            metrics: [
              {
                descriptor: { name: 'queue.depth', description: 'depth', unit: '{item}', valueType: 1 },
                aggregationTemporality: AggregationTemporality.CUMULATIVE,
                dataPointType: DataPointType.GAUGE,
                dataPoints: [{ startTime: [1700000000, 5], endTime: [1700000010, 123456789], attributes: { q: 'a', n: 2 }, value: 2.5 }],
              },
              {
                descriptor: { name: 'jobs', description: '', unit: '', valueType: 0 },
                aggregationTemporality: AggregationTemporality.DELTA,
                dataPointType: DataPointType.SUM,
                isMonotonic: true,
                dataPoints: [{ startTime: [1700000000, 0], endTime: [1700000010, 0], attributes: {}, value: 7 }],
              },
            ],
          },
        ],
      };
      const bytes = ProtobufMetricsSerializer.serializeRequest(rm as any);
      if (bytes === undefined) throw new Error('serializer returned nothing');
      const r = await post(s.port, '/v1/metrics', Buffer.from(bytes), PROTO_CT);
      expect(r.status).to.equal(200);
      expect(r.headers['content-type']).to.equal('application/x-protobuf');
      expect(r.body.length).to.equal(0);
      const got = metrics.got[0]!.resourceMetrics[0]!;
      expect(got.resource.attributes['service.name']).to.equal('proto-svc');
      const [gauge, sum] = got.scopeMetrics[0]!.metrics;
      if (gauge?.kind !== 'gauge' || sum?.kind !== 'sum') throw new Error('expected a gauge and a sum');
      expect(gauge.name).to.equal('queue.depth');
      expect(gauge.unit).to.equal('{item}');
      expect(gauge.points[0]!.value).to.equal(2.5);
      expect(gauge.points[0]!.timeUnixNano).to.equal(1700000010123456789n);
      expect(gauge.points[0]!.startTimeUnixNano).to.equal(1700000000000000005n);
      expect(gauge.points[0]!.attributes).to.deep.equal({ q: 'a', n: 2n });
      expect(sum.temporality).to.equal(1);
      expect(sum.points[0]!.value).to.equal(7n);
    });

    it('gzip, zlib-deflate and raw-deflate bodies', async () => {
      const raw = Buffer.from(METRICS_JSON);
      for (const [enc, body] of [
        ['gzip', zlib.gzipSync(raw)],
        ['deflate', zlib.deflateSync(raw)],
        ['deflate', zlib.deflateRawSync(raw)],
        ['x-gzip', zlib.gzipSync(raw)],
      ] as const) {
        const r = await post(s.port, '/v1/metrics', body, JSON_CT, { 'Content-Encoding': enc });
        expect(r.status, enc).to.equal(200);
        expect(r.body.toString()).to.equal('{}');
      }
      expect(metrics.got).to.have.length(4);
      for (const b of metrics.got) expect(b).to.deep.equal(metrics.got[0]);
    });

    it('a chunked body (no Content-Length) is read whole', async () => {
      const raw = Buffer.from(METRICS_JSON);
      const parts = [raw.subarray(0, 10), raw.subarray(10, 100), raw.subarray(100)];
      const r = await request(s.port, 'POST', '/v1/metrics', parts, { 'Content-Type': JSON_CT });
      expect(r.status).to.equal(200);
      expect(metrics.got).to.have.length(1);
    });

    it('partially invalid → 200 with partialSuccess; the valid points go on', async () => {
      const five = [1, 2, 3, 4, 5].map((i) => ({ key: `k${i}`, value: { stringValue: 'v' } }));
      const body = JSON.stringify({
        resourceMetrics: [
          {
            resource: {},
            scopeMetrics: [
              {
                scope: {},
                metrics: [
                  {
                    name: 'g',
                    gauge: {
                      dataPoints: [
                        { asDouble: 1, timeUnixNano: '1' },
                        { asDouble: 2, timeUnixNano: '2', attributes: five },
                      ],
                    },
                  },
                ],
              },
            ],
          },
        ],
      });
      const r = await post(s.port, '/v1/metrics', body, JSON_CT);
      expect(r.status).to.equal(200);
      const resp = JSON.parse(r.body.toString()) as { partialSuccess: { rejectedDataPoints: string | number; errorMessage: string } };
      expect(Number(resp.partialSuccess.rejectedDataPoints)).to.equal(1);
      expect(resp.partialSuccess.errorMessage).to.be.a('string').and.not.equal('');
      const m = metrics.got[0]!.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!;
      expect(m.points.map((p) => p.timeUnixNano)).to.deep.equal([1n]);
      const c = s.rcv.status().counters as Record<string, unknown>;
      expect(c.accepted).to.equal(1);
      expect(c.rejected).to.equal(1);
    });

    it('/v1/logs → events with flattened attributes; a record without time gets the arrival time', async () => {
      // read on the receiver's own clock (how close that clock is to Date.now() is negotiate.test.ts's business)
      const before = nowUnixNano();
      const r = await post(s.port, '/v1/logs', LOGS_JSON, JSON_CT);
      const after = nowUnixNano();
      expect(r.status).to.equal(200);
      expect(r.body.toString()).to.equal('{}');
      expect(metrics.got).to.have.length(0);
      const evs = events.got[0]!.events;
      expect(evs).to.have.length(2);
      expect(evs[0]!.timeUnixNano).to.equal(1700000000000000001n);
      expect(evs[0]!.attributes).to.deep.equal({
        'service.name': 'svc',
        'exception.type': 'TypeError',
        count: 3n,
        'log.severity_number': 17,
        'log.severity_text': 'ERROR',
        'log.body': 'boom',
        trace_id: '5b8efff798038103d269b633813fc60c',
        span_id: 'eee19b7ec3c1b174',
      });
      expect(evs[1]!.attributes).to.deep.equal({ 'service.name': 'svc', guid: 'u-1' });
      const t = evs[1]!.timeUnixNano;
      // ±1 ms: the clock re-anchors to the wall clock once a minute (each anchor within about 0.5 ms of it)
      expect(t >= before - 1_000_000n && t <= after + 1_000_000n, `arrival time ${t} within [${before}, ${after}]`).to.equal(true);
      expect((s.rcv.status().counters as Record<string, unknown>).accepted).to.equal(2);
    });
  });

  describe('bad input', () => {
    it('malformed JSON → 400 with a JSON Status (INVALID_ARGUMENT)', async () => {
      const r = await post(s.port, '/v1/metrics', '{"resourceMetrics": [', JSON_CT);
      expect(r.status).to.equal(400);
      expect(r.headers['content-type']).to.equal('application/json');
      const st = statusJson(r.body);
      expect(st.code).to.equal(3);
      expect(st.message).to.be.a('string').and.not.equal('');
      expect(metrics.got).to.have.length(0);
    });

    it('truncated protobuf → 400 with a protobuf google.rpc.Status', async () => {
      // ExportMetricsServiceRequest field 1 (resource_metrics), length 100, but 3 bytes follow
      const r = await post(s.port, '/v1/metrics', Buffer.from([0x0a, 0x64, 0x0a, 0x00, 0x12]), PROTO_CT);
      expect(r.status).to.equal(400);
      expect(r.headers['content-type']).to.equal('application/x-protobuf');
      const st = decodeStatusProto(r.body);
      expect(st.code).to.equal(3);
      expect(st.message).to.not.equal('');
    });

    it('wrong Content-Type → 415 with a JSON Status naming both accepted types', async () => {
      const r = await post(s.port, '/v1/metrics', METRICS_JSON, 'text/plain');
      expect(r.status).to.equal(415);
      expect(r.headers['content-type']).to.equal('application/json');
      const st = statusJson(r.body);
      expect(st.message).to.contain('application/json').and.contain('application/x-protobuf');
      const r2 = await post(s.port, '/v1/metrics', METRICS_JSON, 'application/json; charset=latin1');
      expect(r2.status).to.equal(415);
    });

    it('GET → 405 with Allow: POST', async () => {
      const r = await request(s.port, 'GET', '/v1/metrics', undefined);
      expect(r.status).to.equal(405);
      expect(r.headers.allow).to.equal('POST');
      const r2 = await request(s.port, 'PUT', '/v1/logs', '{}', { 'Content-Type': PROTO_CT });
      expect(r2.status).to.equal(405);
      expect(r2.headers['content-type']).to.equal('application/x-protobuf');
    });

    it('unknown path → 404', async () => {
      const r = await post(s.port, '/v1/traces', '{}', JSON_CT);
      expect(r.status).to.equal(404);
    });

    it('unsupported Content-Encoding → 400 naming the encoding', async () => {
      const r = await post(s.port, '/v1/metrics', METRICS_JSON, JSON_CT, { 'Content-Encoding': 'br' });
      expect(r.status).to.equal(400);
      expect(statusJson(r.body).message).to.contain('unsupported Content-Encoding "br"');
    });

    it('corrupt gzip → 400', async () => {
      const gz = zlib.gzipSync(Buffer.from(METRICS_JSON));
      const r = await post(s.port, '/v1/metrics', gz.subarray(0, gz.length - 12), JSON_CT, { 'Content-Encoding': 'gzip' });
      expect(r.status).to.equal(400);
      expect(statusJson(r.body).message).to.contain('cannot decompress gzip body');
    });

    it('gzip bomb → 413 quickly, never inflated beyond the limit', async () => {
      const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
      expect(bomb.length).to.be.below(128 * 1024);
      const rss0 = process.memoryUsage().rss;
      const t0 = performance.now();
      const r = await post(s.port, '/v1/metrics', bomb, JSON_CT, { 'Content-Encoding': 'gzip' });
      const ms = performance.now() - t0;
      const grown = process.memoryUsage().rss - rss0;
      expect(r.status).to.equal(413);
      expect(statusJson(r.body).message).to.contain('decompressed request body exceeds max_request_body_size (1048576 bytes)');
      expect(ms).to.be.below(2_000);
      expect(grown, `rss grew by ${grown} bytes`).to.be.below(32 * 1024 * 1024);
    });

    it('Content-Length over the limit → 413 without reading', async () => {
      const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
      const r = await post(s.port, '/v1/metrics', big, JSON_CT);
      expect(r.status).to.equal(413);
      expect(statusJson(r.body).message).to.contain('exceeds max_request_body_size');
    });

    it('a chunked body growing over the limit → 413', async () => {
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      const r = await request(s.port, 'POST', '/v1/metrics', [chunk, chunk, chunk, chunk, chunk, chunk], { 'Content-Type': PROTO_CT });
      expect(r.status).to.equal(413);
      expect(decodeStatusProto(r.body).message).to.contain('exceeds max_request_body_size');
    });

    it('invalid UTF-8 in a JSON body → 400 naming the byte offset', async () => {
      const body = Buffer.concat([Buffer.from('{"resourceMetrics":[], "x":"ab'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
      const r = await post(s.port, '/v1/metrics', body, JSON_CT);
      expect(r.status).to.equal(400);
      expect(statusJson(r.body).message).to.equal('invalid UTF-8 at byte offset 30');
    });

    it('after all kinds of bad requests a good one still gets 200, and every request is counted', async () => {
      await post(s.port, '/v1/metrics', '{', JSON_CT);
      await post(s.port, '/v1/metrics', '{}', 'text/plain');
      await request(s.port, 'GET', '/v1/metrics', undefined);
      await post(s.port, '/v1/metrics', Buffer.alloc(2 * 1024 * 1024), JSON_CT);
      await post(s.port, '/v1/metrics', Buffer.from([0xff]), JSON_CT);
      await post(s.port, '/v1/metrics', Buffer.from([0x0a, 0x10]), PROTO_CT);
      const r = await post(s.port, '/v1/metrics', METRICS_JSON, JSON_CT);
      expect(r.status).to.equal(200);
      expect(metrics.got).to.have.length(1);
      const st = s.rcv.status();
      expect(st.paths).to.deep.equal({ metrics: '/v1/metrics', events: '/v1/logs' });
      expect(st.endpoint).to.equal('127.0.0.1:0');
      expect(st.listening).to.equal(`127.0.0.1:${s.port}`);
      const c = st.counters as Record<string, unknown>;
      expect(c.requests).to.equal(7);
      expect(c['bad_requests.malformed_json']).to.equal(1);
      expect(c['bad_requests.unsupported_media_type']).to.equal(1);
      expect(c['bad_requests.method_not_allowed']).to.equal(1);
      expect(c['bad_requests.too_large']).to.equal(1);
      expect(c['bad_requests.invalid_utf8']).to.equal(1);
      expect(c['bad_requests.malformed_protobuf']).to.equal(1);
      expect(c.responses).to.deep.equal({ 200: 1, 400: 3, 405: 1, 413: 1, 415: 1 });
      expect(c.accepted).to.equal(1);
    });
  });

  describe('downstream answers', () => {
    it('RefusedError(429, 7) → 429 + Retry-After: 7 with an UNAVAILABLE Status', async () => {
      metrics.fail = new RefusedError('queue full', { status: 429, retryAfterSeconds: 7 });
      const r = await post(s.port, '/v1/metrics', METRICS_JSON, JSON_CT);
      expect(r.status).to.equal(429);
      expect(r.headers['retry-after']).to.equal('7');
      expect(statusJson(r.body)).to.deep.include({ code: 14, message: 'queue full' });
      const c = s.rcv.status().counters as Record<string, unknown>;
      expect(c.refused).to.equal(1);
      expect(c['bad_requests.refused']).to.equal(1);
    });

    it('RefusedError(503) in protobuf → 503 + Retry-After with a protobuf Status', async () => {
      metrics.fail = new RefusedError('memory limit', { status: 503, retryAfterSeconds: 2 });
      const r = await post(s.port, '/v1/metrics', Buffer.alloc(0), PROTO_CT);
      // an empty request has nothing to hand on: it is accepted without asking downstream
      expect(r.status).to.equal(200);
      const bytes = ProtobufMetricsSerializer.serializeRequest({
        resource: resourceFromAttributes({}),
        scopeMetrics: [
          {
            scope: { name: 's' },
            metrics: [
              {
                descriptor: { name: 'x', description: '', unit: '', valueType: 1 },
                aggregationTemporality: 1,
                dataPointType: DataPointType.GAUGE,
                dataPoints: [{ startTime: [0, 0], endTime: [1, 0], attributes: {}, value: 1 }],
              },
            ],
          },
        ],
      } as any)!;
      const r2 = await post(s.port, '/v1/metrics', Buffer.from(bytes), PROTO_CT);
      expect(r2.status).to.equal(503);
      expect(r2.headers['retry-after']).to.equal('2');
      expect(decodeStatusProto(r2.body)).to.deep.equal({ code: 14, message: 'memory limit' });
    });

    it('PermanentError → 400 with its message', async () => {
      events.fail = new PermanentError('the store cannot represent this');
      const r = await post(s.port, '/v1/logs', LOGS_JSON, JSON_CT);
      expect(r.status).to.equal(400);
      expect(statusJson(r.body)).to.deep.include({ code: 3, message: 'the store cannot represent this' });
      const c = s.rcv.status().counters as Record<string, unknown>;
      expect(c.rejected).to.equal(2);
      expect(c['bad_requests.permanent']).to.equal(1);
    });

    it('a plain Error → 503 + Retry-After: 1, never 500', async () => {
      metrics.fail = new Error('socket hang up');
      const r = await post(s.port, '/v1/metrics', METRICS_JSON, JSON_CT);
      expect(r.status).to.equal(503);
      expect(r.headers['retry-after']).to.equal('1');
      expect(statusJson(r.body).code).to.equal(14);
      metrics.fail = undefined;
      const r2 = await post(s.port, '/v1/metrics', METRICS_JSON, JSON_CT);
      expect(r2.status).to.equal(200);
    });
  });
});

describe('otlp receiver lifecycle', () => {
  it('create() binds nothing; shutdown without start and twice is safe', async () => {
    const { rcv, telemetry } = createReceiver({ protocols: { http: { endpoint: '127.0.0.1:0' } } }, { metrics: new RecordingConsumer() });
    expect(rcv.boundAddress()).to.equal(undefined);
    expect(rcv.status().listening).to.equal(null);
    await rcv.shutdown(AbortSignal.timeout(1_000));
    await rcv.shutdown(AbortSignal.timeout(1_000));
    await telemetry.shutdown();
  });

  it('shutdown twice after start; the port is free afterwards', async () => {
    const s = await startReceiver({}, { metrics: new RecordingConsumer() });
    await s.rcv.shutdown(AbortSignal.timeout(5_000));
    await s.rcv.shutdown(AbortSignal.timeout(5_000));
    const again = await startReceiver({ protocols: { http: { endpoint: `127.0.0.1:${s.port}` } } }, { metrics: new RecordingConsumer() });
    expect(again.port).to.equal(s.port);
    await again.rcv.shutdown(AbortSignal.timeout(5_000));
    await s.telemetry.shutdown();
    await again.telemetry.shutdown();
  });

  it('a path without a consumer is not mounted (404)', async () => {
    const s = await startReceiver({}, { metrics: new RecordingConsumer() });
    try {
      const r = await post(s.port, '/v1/logs', LOGS_JSON, JSON_CT);
      expect(r.status).to.equal(404);
      expect(s.rcv.status().paths).to.deep.equal({ metrics: '/v1/metrics' });
    } finally {
      await s.rcv.shutdown(AbortSignal.timeout(5_000));
      await s.telemetry.shutdown();
    }
  });

  it('by default only log records with severity ≥ ERROR or an exception.* attribute become events; the rest are counted', async () => {
    const events = new RecordingConsumer<EventBatch>();
    const s = await startReceiver({}, { events });
    const rec = (severityNumber: number, attrs: Array<[string, string]> = []) => ({
      severityNumber,
      body: { stringValue: `sev ${severityNumber}` },
      attributes: attrs.map(([key, v]) => ({ key, value: { stringValue: v } })),
    });
    const body = JSON.stringify({
      resourceLogs: [
        {
          scopeLogs: [
            { logRecords: [rec(0), rec(9), rec(13, [['exception.message', 'x']]), rec(16), rec(17), rec(21), rec(24), rec(5, [['exception.type', 'E']])] },
          ],
        },
      ],
    });
    try {
      const r = await post(s.port, '/v1/logs', body, JSON_CT);
      expect(r.status).to.equal(200);
      expect(events.got[0]!.events.map((e) => e.attributes['log.body'])).to.deep.equal(['sev 13', 'sev 17', 'sev 21', 'sev 24', 'sev 5']);
      expect(s.rcv.status().counters).to.deep.include({ accepted: 5, filtered_log_records: 3 });
    } finally {
      await s.rcv.shutdown(AbortSignal.timeout(5_000));
      await s.telemetry.shutdown();
    }
    const strict = new RecordingConsumer<EventBatch>();
    const s2 = await startReceiver({ logs: { min_severity: 'FATAL', keep_exceptions: false } }, { events: strict });
    try {
      expect((await post(s2.port, '/v1/logs', body, JSON_CT)).status).to.equal(200);
      expect(strict.got[0]!.events.map((e) => e.attributes['log.body'])).to.deep.equal(['sev 21', 'sev 24']);
      // nothing kept: downstream is not called, the answer is still 200
      const none = JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [rec(9)] }] }] });
      expect((await post(s2.port, '/v1/logs', none, JSON_CT)).status).to.equal(200);
      expect(strict.got.length).to.equal(1);
    } finally {
      await s2.rcv.shutdown(AbortSignal.timeout(5_000));
      await s2.telemetry.shutdown();
    }
  });

  it('custom url paths', async () => {
    const events = new RecordingConsumer<EventBatch>();
    const s = await startReceiver({ protocols: { http: { logs_url_path: '/ingest/logs' } } }, { events });
    try {
      expect((await post(s.port, '/ingest/logs', LOGS_JSON, JSON_CT)).status).to.equal(200);
      expect((await post(s.port, '/v1/logs', LOGS_JSON, JSON_CT)).status).to.equal(404);
      expect(events.got).to.have.length(1);
    } finally {
      await s.rcv.shutdown(AbortSignal.timeout(5_000));
      await s.telemetry.shutdown();
    }
  });

  it('two receivers share one endpoint: one serves metrics, the other logs', async () => {
    const metrics = new RecordingConsumer<MetricsBatch>();
    const events = new RecordingConsumer<EventBatch>();
    const a = await startReceiver({}, { metrics }, 'otlp/a');
    const b = await startReceiver({ protocols: { http: { endpoint: `127.0.0.1:${a.port}` } } }, { events }, 'otlp/b');
    try {
      expect(b.port).to.equal(a.port);
      expect((await post(a.port, '/v1/metrics', METRICS_JSON, JSON_CT)).status).to.equal(200);
      expect((await post(a.port, '/v1/logs', LOGS_JSON, JSON_CT)).status).to.equal(200);
      expect(metrics.got).to.have.length(1);
      expect(events.got).to.have.length(1);
      // the first to leave does not close the server
      await a.rcv.shutdown(AbortSignal.timeout(5_000));
      expect((await post(a.port, '/v1/metrics', METRICS_JSON, JSON_CT)).status).to.equal(404);
      expect((await post(a.port, '/v1/logs', LOGS_JSON, JSON_CT)).status).to.equal(200);
    } finally {
      await a.rcv.shutdown(AbortSignal.timeout(5_000));
      await b.rcv.shutdown(AbortSignal.timeout(5_000));
      await a.telemetry.shutdown();
      await b.telemetry.shutdown();
    }
  });

  it('two receivers on one endpoint and one path: the second fails to start with a clear message', async () => {
    const a = await startReceiver({}, { metrics: new RecordingConsumer() }, 'otlp/a');
    try {
      let err: Error | undefined;
      try {
        await startReceiver({ protocols: { http: { endpoint: `127.0.0.1:${a.port}` } } }, { metrics: new RecordingConsumer() }, 'otlp/b');
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.match(/cannot serve POST \/v1\/metrics on 127\.0\.0\.1:\d+ for receiver otlp\/b: already served by receiver otlp\/a/);
      // the first one still serves
      expect((await post(a.port, '/v1/metrics', METRICS_JSON, JSON_CT)).status).to.equal(200);
    } finally {
      await a.rcv.shutdown(AbortSignal.timeout(5_000));
      await a.telemetry.shutdown();
    }
  });

  it('port in use → start fails naming the endpoint and the config key', async () => {
    const net = await import('node:net');
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const { rcv, telemetry } = createReceiver({ protocols: { http: { endpoint: `127.0.0.1:${port}` } } }, { metrics: new RecordingConsumer() });
    try {
      let err: Error | undefined;
      try {
        await rcv.start({ logger: undefined as never, telemetry, stateDir: '' });
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.equal(
        `receiver otlp: cannot listen on 127.0.0.1:${port}: address already in use; set receivers.otlp.protocols.http.endpoint to a free port`,
      );
      expect(rcv.boundAddress()).to.equal(undefined);
      await rcv.shutdown(AbortSignal.timeout(1_000));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
      await telemetry.shutdown();
    }
  });

  it('shutdown lets an in-flight request finish', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const inConsume = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const slow = {
      consume: async () => {
        entered();
        await gate;
      },
    };
    const s = await startReceiver({}, { metrics: slow });
    const pending = post(s.port, '/v1/metrics', METRICS_JSON, JSON_CT);
    await inConsume;
    const closing = s.rcv.shutdown(AbortSignal.timeout(5_000));
    release();
    const r = await pending;
    await closing;
    expect(r.status).to.equal(200);
    expect(r.headers.connection).to.equal('close');
    await s.telemetry.shutdown();
  });
});
