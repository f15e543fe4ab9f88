/**
 * The receiver HTTP layer (src/receiverhttp/) through a receiver built on it
 * the way the module's doc shows: body limits (declared and chunked),
 * Content-Encoding, UTF-8, 405, the pipeline's answers mapped to
 * 429/503/400 with Retry-After, a handler bug answered 500 once, a client
 * gone mid-body, counters, shutdown twice.
 */
import { expect } from 'chai';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import type { Consumer } from '../../src/component.js';
import { PermanentError, RefusedError } from '../../src/errors.js';
import type { EventBatch } from '../../src/model/index.js';
import { HttpReceiver, jsonError, type Exchange, type HttpReceiverOptions } from '../../src/receiverhttp/receiver.js';
import { ServiceTelemetry } from '../../src/telemetry.js';
import { waitFor } from '../harness/ports.js';
import { captureLogger } from '../helpers/logs.js';

const MAX = 1024;

/** The doc's example receiver: POST /v1/demo, a JSON object → one event. */
class DemoReceiver {
  readonly http: HttpReceiver;
  fail: unknown;
  got: EventBatch[] = [];
  private readonly next: Consumer<EventBatch> = {
    consume: async (b) => {
      if (this.fail !== undefined) throw this.fail;
      this.got.push(b);
    },
  };
  constructor(set: ConstructorParameters<typeof HttpReceiver>[0], opts: Partial<HttpReceiverOptions> = {}) {
    this.http = new HttpReceiver(
      set,
      { endpoint: '127.0.0.1:0', auth: { tokens: [] }, rate_limit: { requests_per_second: 0, burst: 0 } },
      { name: 'demo', errorBody: jsonError('error'), ...opts },
    );
  }
  start(): Promise<void> {
    return this.http.listen((r) => {
      r.route('POST', '/v1/demo', (x) => this.handle(x));
      r.route('POST', '/v1/bug', () => {
        throw new Error('a bug');
      });
      r.route('POST', '/v1/key', (x) => x.authFailed(403, 'unknown key; check receivers.demo.keys'));
    });
  }
  private async handle(x: Exchange): Promise<void> {
    if (x.refuseOverMemory()) return;
    const body = await x.body(MAX);
    if (body === undefined) return;
    const text = x.text(body);
    if (text === undefined) return;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      x.fail(400, 'not JSON', 'malformed_json');
      return;
    }
    if (!(await x.consume(this.next, { events: [{ timeUnixNano: 1n, attributes: v as Record<string, string> }] }, 1, 'events'))) return;
    x.json(200, '{}');
  }
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, method: string, path: string, body: Buffer | string | undefined, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('receiverhttp: an HTTP receiver on the shared layer', () => {
  const cap = captureLogger('debug');
  const tel = new ServiceTelemetry();
  const set = { id: 'demo/x', logger: cap.logger, telemetry: tel, stateDir: mkdtempSync(join(tmpdir(), 'mp-rh-')) };
  let rcv: DemoReceiver;
  let port = 0;

  before(async () => {
    rcv = new DemoReceiver(set);
    await rcv.start();
    port = rcv.http.address()!.port;
  });
  after(async () => {
    await rcv.http.shutdown(AbortSignal.timeout(2000));
    await rcv.http.shutdown(AbortSignal.timeout(2000));
  });

  it('accepts plain, gzip and deflate (zlib and raw) bodies; counts them by status', async () => {
    const json = '{"k":"v"}';
    expect((await request(port, 'POST', '/v1/demo', json)).status).to.equal(200);
    expect((await request(port, 'POST', '/v1/demo', zlib.gzipSync(json), { 'Content-Encoding': 'gzip' })).status).to.equal(200);
    expect((await request(port, 'POST', '/v1/demo', zlib.deflateSync(json), { 'Content-Encoding': 'deflate' })).status).to.equal(200);
    expect((await request(port, 'POST', '/v1/demo', zlib.deflateRawSync(json), { 'Content-Encoding': 'deflate' })).status).to.equal(200);
    expect(rcv.got.map((b) => b.events[0]!.attributes)).to.deep.equal([{ k: 'v' }, { k: 'v' }, { k: 'v' }, { k: 'v' }]);
    expect(rcv.http.counters()).to.deep.include({ accepted: 4, responses: { 200: 4 } });
  });

  it('413 for a declared, a chunked and a decompressed body over the limit; 400 for corrupt gzip, an unknown encoding and bad UTF-8', async () => {
    const big = await request(port, 'POST', '/v1/demo', 'x'.repeat(MAX + 1));
    expect([big.status, JSON.parse(big.body)]).to.deep.equal([413, { error: `request body of ${MAX + 1} bytes exceeds max_request_body_size (${MAX} bytes)` }]);
    const chunked = await new Promise<Answer>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/demo', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', reject);
      req.write('x'.repeat(MAX));
      req.end('y'.repeat(10));
    });
    expect([chunked.status, JSON.parse(chunked.body)]).to.deep.equal([413, { error: `request body exceeds max_request_body_size (${MAX} bytes)` }]);
    const bomb = await request(port, 'POST', '/v1/demo', zlib.gzipSync('z'.repeat(MAX * 10)), { 'Content-Encoding': 'gzip' });
    expect([bomb.status, JSON.parse(bomb.body)]).to.deep.equal([413, { error: `decompressed request body exceeds max_request_body_size (${MAX} bytes)` }]);
    const gz = zlib.gzipSync('{"k":"v"}');
    const corrupt = await request(port, 'POST', '/v1/demo', gz.subarray(0, gz.length - 8), { 'Content-Encoding': 'gzip' });
    expect(corrupt.status).to.equal(400);
    expect(JSON.parse(corrupt.body).error).to.match(/^cannot decompress gzip body: /);
    const br = await request(port, 'POST', '/v1/demo', '{}', { 'Content-Encoding': 'br' });
    expect([br.status, JSON.parse(br.body)]).to.deep.equal([400, { error: 'unsupported Content-Encoding "br"; send gzip, deflate or identity' }]);
    const utf = await request(port, 'POST', '/v1/demo', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]));
    expect([utf.status, JSON.parse(utf.body)]).to.deep.equal([400, { error: 'invalid UTF-8 at byte offset 2' }]);
    const utfGz = await request(port, 'POST', '/v1/demo', zlib.gzipSync(Buffer.from([0x7b, 0xc0])), { 'Content-Encoding': 'gzip' });
    expect(JSON.parse(utfGz.body)).to.deep.equal({ error: 'invalid UTF-8 at byte offset 1 of the decompressed body' });
    expect(rcv.http.counters()).to.deep.include({
      'bad_requests.too_large': 3,
      'bad_requests.decompression_failed': 1,
      'bad_requests.unsupported_encoding': 1,
      'bad_requests.invalid_utf8': 2,
    });
  });

  it("another method → 405 with Allow in the receiver's error shape", async () => {
    const r = await request(port, 'GET', '/v1/demo', undefined);
    expect([r.status, r.headers.allow, JSON.parse(r.body)]).to.deep.equal([405, 'POST', { error: 'method GET not allowed on /v1/demo; use POST' }]);
    expect(rcv.http.counters()).to.deep.include({ 'bad_requests.method_not_allowed': 1 });
  });

  it('the pipeline: RefusedError → its status and Retry-After; another failure → 503 Retry-After 1 (warned); PermanentError → 400', async () => {
    const before = rcv.http.counters();
    rcv.fail = new RefusedError('queue full', { status: 429, retryAfterSeconds: 6.2 });
    const a = await request(port, 'POST', '/v1/demo', '{}');
    expect([a.status, a.headers['retry-after'], JSON.parse(a.body)]).to.deep.equal([429, '7', { error: 'queue full' }]);
    rcv.fail = new Error('disk on fire');
    const b = await request(port, 'POST', '/v1/demo', '{}');
    expect([b.status, b.headers['retry-after'], JSON.parse(b.body)]).to.deep.equal([
      503,
      '1',
      { error: 'the pipeline cannot accept data right now; retry later' },
    ]);
    rcv.fail = new PermanentError('no such metric');
    const c = await request(port, 'POST', '/v1/demo', '{}');
    expect([c.status, c.headers['retry-after'], JSON.parse(c.body)]).to.deep.equal([400, undefined, { error: 'no such metric' }]);
    rcv.fail = undefined;
    const after = rcv.http.counters();
    expect([
      (after.refused as number) - ((before.refused as number | undefined) ?? 0),
      (after.rejected as number) - ((before.rejected as number | undefined) ?? 0),
    ]).to.deep.equal([2, 1]);
    await waitFor(() => cap.records().some((l) => l.reason === 'downstream_error'), { timeoutMs: 5_000, what: 'the downstream warning' });
    expect(cap.records().find((l) => l.reason === 'downstream_error')).to.include({
      level: 'warn',
      receiver: 'demo/x',
      msg: 'downstream failed; client told to retry (503)',
    });
  });

  it('a handler that throws: 500 once, logged; the listener keeps serving', async () => {
    const r = await request(port, 'POST', '/v1/bug', '{}');
    expect([r.status, JSON.parse(r.body)]).to.deep.equal([500, { error: 'internal error' }]);
    await waitFor(() => cap.records().some((l) => l.reason === 'internal_error'), { timeoutMs: 5_000, what: 'the error line' });
    expect(cap.records().find((l) => l.reason === 'internal_error')).to.include({ level: 'error', msg: 'demo request failed unexpectedly' });
    expect((await request(port, 'POST', '/v1/demo', '{}')).status).to.equal(200);
  });

  it('an unknown key: 403 counted in auth_failures, one warning naming the receiver', async () => {
    for (let i = 0; i < 3; i++) expect((await request(port, 'POST', '/v1/key', '{}')).status).to.equal(403);
    expect(rcv.http.authFailures).to.equal(3);
    const warns = cap.records().filter((l) => l.reason === undefined && l.level === 'warn');
    expect(warns.map((w) => w.msg)).to.deep.equal(['demo receiver demo/x refused a request: unknown key; check receivers.demo.keys']);
  });

  it('a client gone mid-body: nothing answered, nothing counted', async () => {
    const requests = rcv.http.counters().requests as number;
    await new Promise<void>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/demo', headers: { 'Content-Length': '500' }, agent: false });
      req.on('error', () => resolve());
      req.write('{"k":', () => setImmediate(() => req.destroy()));
    });
    // the next request is answered and counted: the aborted one was not
    expect((await request(port, 'POST', '/v1/demo', '{}')).status).to.equal(200);
    expect(rcv.http.counters().requests).to.equal(requests + 1);
  });

  it('options: another status for an unknown encoding; refusals always 429 with a floor and extra headers', async () => {
    const other = new DemoReceiver(
      { ...set, id: 'demo/sdk' },
      {
        unsupportedEncodingStatus: 415,
        refusal: { status: 429, message: 'back off', minRetryAfter: 1, headers: (s) => ({ 'X-Rate': `${s}:all` }) },
      },
    );
    await other.start();
    try {
      const p = other.http.address()!.port;
      expect((await request(p, 'POST', '/v1/demo', '{}', { 'Content-Encoding': 'br' })).status).to.equal(415);
      other.fail = new RefusedError('full', { status: 503, retryAfterSeconds: 0 });
      const r = await request(p, 'POST', '/v1/demo', '{}');
      expect([r.status, r.headers['retry-after'], r.headers['x-rate'], JSON.parse(r.body)]).to.deep.equal([429, '1', '1:all', { error: 'back off' }]);
    } finally {
      await other.http.shutdown(AbortSignal.timeout(2000));
    }
    // shut down first: listen() binds nothing
    const late = new DemoReceiver({ ...set, id: 'demo/late' });
    await late.http.shutdown(AbortSignal.timeout(2000));
    await late.start();
    expect(late.http.address()).to.equal(undefined);
  });
});
