import { expect } from 'chai';
import { gzipSync } from 'node:zlib';
import { validateSchema } from '../../../src/config/schema.js';
import { RefusedError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import type { EventBatch } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { errorsReceiverFactory } from '../../../receivers/errors/factory.js';
import type { ErrorsReceiver } from '../../../receivers/errors/receiver.js';
import { freePort } from '../../harness/ports.js';
import { RecordingConsumer, startReceiver } from '../otlp/helpers.js';

// the registry is lazy: the implementation is imported on first use
await errorsReceiverFactory.load();

const host = { logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: '/nonexistent' };

async function startErrors(input: Record<string, unknown>, sink: RecordingConsumer<EventBatch>): Promise<{ rcv: ErrorsReceiver; port: number }> {
  const { value, issues } = validateSchema(errorsReceiverFactory.configSchema, { endpoint: '127.0.0.1:0', ...input }, '');
  expect(issues).to.deep.equal([]);
  const rcv = errorsReceiverFactory.create({ id: 'errors', logger: silentLogger(), telemetry: host.telemetry, stateDir: '/x' }, value as never, {
    events: sink,
  }) as ErrorsReceiver;
  await rcv.start(host);
  return { rcv, port: rcv.boundAddress()!.port };
}

async function post(
  port: number,
  body: string | Buffer,
  headers: Record<string, string> = { 'content-type': 'application/json' },
  path = '/v1/errors',
  method = 'POST',
) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers, body: method === 'POST' ? body : undefined });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

describe('errors receiver over HTTP', () => {
  let sink: RecordingConsumer<EventBatch>;
  let rcv: ErrorsReceiver;
  let port: number;
  beforeEach(async () => {
    sink = new RecordingConsumer();
    ({ rcv, port } = await startErrors({ max_request_body_size: 4096, max_value_length: 32 }, sink));
  });
  afterEach(async () => {
    await rcv.shutdown(AbortSignal.timeout(2000));
  });

  it('accepts an object, an array and NDJSON, answering how many were accepted', async () => {
    expect(await post(port, '{"timestamp":"2024-05-01T12:00:00Z","attributes":{"_tx":"1"}}')).to.deep.include({
      status: 200,
      body: { accepted: 1, rejected: 0 },
    });
    expect((await post(port, '[{"attributes":{"_tx":"2"}},{"attributes":{"_tx":"3"}}]')).body).to.deep.equal({ accepted: 2, rejected: 0 });
    expect((await post(port, '{"attributes":{"_tx":"4"}}\n{"attributes":{"_tx":"5"}}\n', { 'content-type': 'application/x-ndjson' })).body).to.deep.equal({
      accepted: 2,
      rejected: 0,
    });
    expect((await post(port, gzipSync('{"attributes":{"_tx":"6"}}'), { 'content-type': 'application/json', 'content-encoding': 'gzip' })).body).to.deep.equal({
      accepted: 1,
      rejected: 0,
    });
    expect(sink.got.flatMap((b) => b.events.map((e) => e.attributes._tx))).to.deep.equal(['1', '2', '3', '4', '5', '6']);
    expect(sink.got[0]!.events[0]!.timeUnixNano).to.equal(1_714_564_800_000_000_000n);
    expect(rcv.status().counters).to.deep.include({ accepted: 6, requests: 4 });
  });

  it('malformed lines reject only themselves: 200 with index, line and reason', async () => {
    const r = await post(port, '{"attributes":{"_tx":"a"}}\n{oops\n{"attributes":{"v":"' + 'x'.repeat(33) + '"}}\n{"attributes":{"_tx":"b"}}', {
      'content-type': 'application/x-ndjson',
    });
    expect(r.status).to.equal(200);
    expect(r.body.accepted).to.equal(2);
    expect(r.body.rejected).to.equal(2);
    expect(r.body.errors[0]).to.include({ index: 1, line: 2 });
    expect(r.body.errors[0].reason).to.match(/^malformed JSON/);
    expect(r.body.errors[1]).to.deep.equal({ index: 2, line: 3, reason: 'attribute "v": value of 33 characters is longer than max_value_length (32)' });
    expect(sink.got.flatMap((b) => b.events.map((e) => e.attributes._tx))).to.deep.equal(['a', 'b']);
    expect(rcv.status().counters).to.deep.include({ accepted: 2, rejected: 2 });
  });

  it('400 only when nothing could be read; 413, 415, 405 with reasons; nothing reaches the pipeline', async () => {
    const bad = await post(port, 'not json\nnor this');
    expect(bad.status).to.equal(400);
    expect(bad.body.error).to.match(/^no line could be read as JSON/);
    expect(bad.body.rejected).to.equal(2);
    const big = await post(port, JSON.stringify({ attributes: { a: 'x'.repeat(5000) } }));
    expect(big.status).to.equal(413);
    expect(big.body.error).to.match(/exceeds max_request_body_size \(4096 bytes\)/);
    const ct = await post(port, '{}', { 'content-type': 'application/xml' });
    expect(ct.status).to.equal(415);
    expect(ct.body.error).to.contain('unsupported Content-Type "application/xml"');
    const m = await post(port, '', {}, '/v1/errors', 'GET');
    expect(m.status).to.equal(405);
    expect(m.headers.get('allow')).to.equal('POST, OPTIONS'); // OPTIONS: CORS preflights (issue 17)
    expect(sink.got).to.deep.equal([]);
    expect(rcv.status().counters).to.deep.include({
      'bad_requests.malformed_json': 1,
      'bad_requests.too_large': 1,
      'bad_requests.unsupported_media_type': 1,
      'bad_requests.method_not_allowed': 1,
    });
  });

  it('a refusing pipeline gets 429/503 with Retry-After', async () => {
    sink.fail = new RefusedError('queue full', { status: 429, retryAfterSeconds: 7 });
    const r = await post(port, '{}');
    expect(r.status).to.equal(429);
    expect(r.headers.get('retry-after')).to.equal('7');
    expect(rcv.status().counters).to.deep.include({ refused: 1 });
  });
});

describe('errors receiver sharing the otlp receiver endpoint', () => {
  it('one port serves /v1/logs (otlp) and /v1/errors (errors)', async () => {
    const p = await freePort();
    const logs = new RecordingConsumer<EventBatch>();
    const errs = new RecordingConsumer<EventBatch>();
    const otlp = await startReceiver({ protocols: { http: { endpoint: `127.0.0.1:${p}` } } }, { events: logs });
    const { rcv } = await startErrors({ endpoint: `127.0.0.1:${p}` }, errs);
    try {
      expect((await post(p, '{"attributes":{"k":"v"}}')).status).to.equal(200);
      const l = await post(
        p,
        JSON.stringify({ resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityNumber: 17, body: { stringValue: 'boom' } }] }] }] }),
        { 'content-type': 'application/json' },
        '/v1/logs',
      );
      expect(l.status).to.equal(200);
      expect(errs.got[0]!.events[0]!.attributes).to.deep.equal({ k: 'v' });
      expect(logs.got[0]!.events[0]!.attributes).to.deep.include({ 'log.body': 'boom', 'log.severity_number': 17 });
    } finally {
      await rcv.shutdown(AbortSignal.timeout(2000));
      await otlp.rcv.shutdown(AbortSignal.timeout(2000));
    }
  });
});

describe('errors receiver: CORS for pages (issue 17)', () => {
  it('a listed origin: preflight for JSON answered, the POST served with Access-Control-Allow-Origin; another origin 403 (warned once, rate-limited); no Origin unaffected', async () => {
    const { captureLogger } = await import('../../helpers/logs.js');
    const cap = captureLogger('warn');
    const sink = new RecordingConsumer<EventBatch>();
    const { value, issues } = validateSchema(
      errorsReceiverFactory.configSchema,
      { endpoint: '127.0.0.1:0', cors: { allowed_origins: ['https://shop.example.com'], max_age: '2m' } },
      '',
    );
    expect(issues).to.deep.equal([]);
    const rcv = errorsReceiverFactory.create({ id: 'errors', logger: cap.logger, telemetry: host.telemetry, stateDir: '/x' }, value as never, {
      events: sink,
    }) as ErrorsReceiver;
    await rcv.start(host);
    const port = rcv.boundAddress()!.port;
    try {
      const origin = { Origin: 'https://shop.example.com' };
      const pre = await fetch(`http://127.0.0.1:${port}/v1/errors`, {
        method: 'OPTIONS',
        headers: { ...origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'Content-Type' },
      });
      expect([
        pre.status,
        pre.headers.get('access-control-allow-origin'),
        pre.headers.get('access-control-allow-headers'),
        pre.headers.get('access-control-max-age'),
      ]).to.deep.equal([204, 'https://shop.example.com', 'content-type', '120']);
      const ok = await post(port, '{"attributes":{"_tx":"p1"}}', { 'content-type': 'application/json', ...origin });
      expect([ok.status, ok.headers.get('access-control-allow-origin'), ok.headers.get('vary')]).to.deep.equal([200, 'https://shop.example.com', 'Origin']);
      const bad = await post(port, '{"attributes":{"_tx":"p2"}}', { 'content-type': 'application/json', Origin: 'https://evil.example' });
      expect([bad.status, bad.body, bad.headers.get('access-control-allow-origin')]).to.deep.equal([
        403,
        { error: 'origin "https://evil.example" is not in receivers.errors.cors.allowed_origins' },
        null,
      ]);
      await post(port, '{"attributes":{"_tx":"p3"}}', { 'content-type': 'application/json', Origin: 'https://evil.example' });
      const plain = await post(port, '{"attributes":{"_tx":"p4"}}');
      expect([plain.status, plain.headers.get('access-control-allow-origin')]).to.deep.equal([200, null]);
      expect(sink.got.flatMap((b) => b.events.map((e) => e.attributes._tx))).to.deep.equal(['p1', 'p4']);
      expect(rcv.status().counters).to.deep.include({ cors_refused: 2, cors_preflights: 1, 'bad_requests.cors_origin': 2 });
      const warns = cap.records().filter((r) => r.reason === undefined && String(r.msg).includes('refused a browser request'));
      expect(warns).to.have.length(1);
      expect(String(warns[0]!.msg)).to.equal(
        'errors receiver errors refused a browser request: origin "https://evil.example" is not in receivers.errors.cors.allowed_origins (add it if the page is yours)',
      );
    } finally {
      await rcv.shutdown(AbortSignal.timeout(2000));
    }
  });
});
