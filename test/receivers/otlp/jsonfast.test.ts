/**
 * The OTLP receiver with the JSON metrics fast path (src/otlp/jsonscan.ts):
 * over HTTP, bodies it takes and bodies it declines get the answer and the
 * consumer data the general path gives (decodeMetricsJson under the
 * receiver's limits), and the receiver hands the fast path its configured
 * limits (a body over max_attributes is declined, then partly rejected).
 */
import { expect } from 'chai';
import zlib from 'node:zlib';
import type { MetricsBatch } from '../../../src/model/index.js';
import { decodeMetricsJson, encodeExportResponseJson } from '../../../src/otlp/json.js';
import { scanMetricsJson } from '../../../src/otlp/jsonscan.js';
import { summarizeErrors } from '../../../src/receiverhttp/negotiate.js';
import { RecordingConsumer, post, startReceiver, type Started } from './helpers.js';

const LIMITS = { maxAttributes: 4, maxDepth: 2, maxValueLength: 16 };

function body(attrs: string, value = '"asInt":"5"'): string {
  return `{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},"scopeMetrics":[{"scope":{"name":"lib"},"metrics":[{"name":"m","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{${value},"timeUnixNano":"1700000010123456789","attributes":[${attrs}]},{"asDouble":2.5,"attributes":[]}]}}]}]}]}`;
}

const kv = (k: string, v: string) => `{"key":"${k}","value":{"stringValue":"${v}"}}`;

describe('otlp receiver: the JSON metrics fast path answers as the general path', () => {
  let s: Started;
  let metrics: RecordingConsumer<MetricsBatch>;

  beforeEach(async () => {
    metrics = new RecordingConsumer<MetricsBatch>();
    s = await startReceiver({ protocols: { http: {} }, limits: { max_attributes: 4, max_depth: 2, max_value_length: 16 } }, { metrics });
  });

  afterEach(async () => {
    await s.rcv.shutdown(AbortSignal.timeout(5_000));
    await s.telemetry.shutdown();
  });

  const cases: Array<[string, string, boolean]> = [
    ['taken: the common shape', body(kv('a', '1') + ',' + kv('b', '2')), true],
    ['taken: four attributes (the limit)', body([1, 2, 3, 4].map((i) => kv('k' + i, 'v')).join(',')), true],
    ['declined: five attributes (over max_attributes 4: a point rejected)', body([1, 2, 3, 4, 5].map((i) => kv('k' + i, 'v')).join(',')), false],
    ['declined: a value over max_value_length 16', body(kv('a', 'x'.repeat(17))), false],
    ['taken: an escape', body(kv('a', 'x\\"y')), true],
    ['taken: non-ASCII', body(kv('a', 'héllo')), true],
    ['declined: non-ASCII over max_value_length 16', body(kv('a', 'é'.repeat(17))), false],
    ['declined: a point without a value (rejected)', body(kv('a', '1'), '"flags":0'), false],
  ];
  for (const [name, text, taken] of cases) {
    it(name, async () => {
      expect(scanMetricsJson(Buffer.from(text), LIMITS) !== undefined).to.equal(taken);
      const want = decodeMetricsJson(text, LIMITS);
      const r = await post(s.port, '/v1/metrics', text, 'application/json');
      expect(r.status).to.equal(200);
      expect(r.body.toString()).to.equal(want.rejected === 0 ? '{}' : encodeExportResponseJson('metrics', want.rejected, summarizeErrors(want.errors)));
      expect(metrics.got).to.deep.equal([want.data]);
    });
  }

  it('a gzip body taken by the fast path: the same data', async () => {
    const text = body(kv('a', '1'));
    const r = await post(s.port, '/v1/metrics', zlib.gzipSync(text), 'application/json', { 'Content-Encoding': 'gzip' });
    expect(r.status).to.equal(200);
    expect(r.body.toString()).to.equal('{}');
    expect(metrics.got).to.deep.equal([decodeMetricsJson(text, LIMITS).data]);
  });

  it('invalid UTF-8 (declined): 400 naming the byte offset, as before', async () => {
    const text = body(kv('a', 'ab'));
    const at = text.indexOf('ab');
    const bad = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xc3, 0x28]), Buffer.from(text.slice(at + 2))]);
    const r = await post(s.port, '/v1/metrics', bad, 'application/json');
    expect(r.status).to.equal(400);
    expect((JSON.parse(r.body.toString()) as { message: string }).message).to.equal(`invalid UTF-8 at byte offset ${at}`);
    expect(metrics.got).to.deep.equal([]);
  });

  it('malformed JSON (declined): 400 with the general path message', async () => {
    const text = body(kv('a', '1')).slice(0, -3);
    let msg = '';
    try {
      decodeMetricsJson(text, LIMITS);
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).to.match(/^invalid JSON/);
    const r = await post(s.port, '/v1/metrics', text, 'application/json');
    expect(r.status).to.equal(400);
    expect((JSON.parse(r.body.toString()) as { message: string }).message).to.equal(msg);
    expect(metrics.got).to.deep.equal([]);
  });
});
