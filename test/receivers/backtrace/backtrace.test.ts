/**
 * backtrace receiver: multipart, mapping and dedupe as data; the receiver
 * over HTTP (tokens, formats, exact 200 JSON, dedupe, refusal → 429 and a
 * resend that then counts).
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Consumer } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { RefusedError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import type { EventBatch } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { waitFor } from '../../harness/ports.js';
import { captureLogger } from '../../helpers/logs.js';
import { SeenIds } from '../../../src/errorsdk/dedupe.js';
import { deriveFingerprint } from '../../../src/errorsdk/fingerprint.js';
import { backtraceConfigSchema, type BacktraceReceiverConfig } from '../../../receivers/backtrace/config.js';
import { backtraceTime, mapBacktraceReport } from '../../../receivers/backtrace/map.js';
import { findPart, multipartBoundary } from '../../../receivers/backtrace/multipart.js';
import { BacktraceReceiver, tokenFromPath } from '../../../receivers/backtrace/receiver.js';

const SECRET = 'annotation-secret-value-123';
const report = (uuid: string, extra: Record<string, unknown> = {}) => ({
  uuid,
  timestamp: 1714564800,
  lang: 'nodejs',
  agent: '@backtrace/node',
  classifiers: ['TypeError'],
  mainThread: 'main',
  threads: {
    main: {
      fault: true,
      name: 'main',
      stack: [
        { funcName: 'boom', library: '/srv/app/cart.js', line: 10, column: 3 },
        { funcName: 'Module._compile', library: 'node:internal/modules/cjs/loader', line: 1, column: 1 },
        { funcName: 'main', library: '/srv/app/index.js', line: 3, column: 1 },
      ],
    },
  },
  attributes: {
    application: 'shop',
    'application.version': '2.0.1',
    guid: 'm-1',
    hostname: 'web-1',
    'error.type': 'Exception',
    'error.message': 'bad',
    'cpu.count': 2,
    nested: { no: 1 },
  },
  annotations: { 'Environment Variables': { API_KEY: SECRET } },
  ...extra,
});

function multipart(boundary: string, json: string): Buffer {
  return Buffer.concat([
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="attachment_bt-breadcrumbs-0"; filename="bt-breadcrumbs-0"\r\nContent-Type: application/octet-stream\r\n\r\n`,
    ),
    Buffer.from([0x00, 0x0d, 0x0a, 0xff]),
    Buffer.from(
      `\r\n--${boundary}\r\nContent-Disposition: form-data; name="upload_file"; filename="upload_file.json"\r\nContent-Type: application/json\r\n\r\n${json}\r\n--${boundary}--\r\n`,
    ),
  ]);
}

describe('backtrace: data', () => {
  it('maps a report: attributes, derived ones, annotations never read', () => {
    const r = mapBacktraceReport(report('u-1'), 5n, { application: 'fallback', maxValueLength: 4096, maxAttributes: 256 });
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect(r.timeUnixNano).to.equal(1714564800000000000n);
    expect(r.attributes).to.deep.equal({
      _tx: 'u-1',
      application: 'shop',
      'application.version': '2.0.1',
      'app.version': '2.0.1',
      guid: 'm-1',
      hostname: 'web-1',
      'error.type': 'Exception',
      'error.message': 'bad',
      'cpu.count': 2,
      'error.class': 'TypeError',
      level: 'error',
      handled: true,
      fingerprint: deriveFingerprint(
        'TypeError',
        [
          { file: '/elsewhere/cart.js', fn: 'boom' },
          { file: '/x/index.js', fn: 'main' },
        ],
        '',
      ),
    });
    expect(JSON.stringify(r.attributes)).to.not.include(SECRET);
  });
  it('categories, levels, the token application, times', () => {
    const m = (extra: Record<string, unknown>) => {
      const r = mapBacktraceReport(report('u', extra), 0n, { application: 'fallback', maxValueLength: 4096, maxAttributes: 256 });
      return r.ok ? r.attributes : {};
    };
    const rej = m({ classifiers: ['UnhandledPromiseRejection', 'RangeError'], attributes: { 'error.type': 'Unhandled rejection' } });
    expect([rej['error.type'], rej['error.class'], rej.level, rej.handled, rej.application]).to.deep.equal([
      'Unhandled rejection',
      'RangeError',
      'error',
      false,
      'fallback',
    ]);
    const unc = m({ attributes: { 'error.type': 'Unhandled exception' } });
    expect([unc.level, unc.handled]).to.deep.equal(['fatal', false]);
    const msg = m({ classifiers: ['Message'], attributes: { 'error.type': 'Message', 'error.message': 'hi' } });
    expect([msg['error.class'], msg.level]).to.deep.equal(['Message', 'info']);
    expect(backtraceTime(1714564800123)).to.equal(1714564800123000000n);
    expect(backtraceTime('x')).to.equal(undefined);
    expect(mapBacktraceReport({}, 0n, { application: undefined, maxValueLength: 10, maxAttributes: 1 })).to.deep.equal({
      ok: false,
      error: 'report has no "uuid"',
    });
  });
  it('multipart: upload_file found after a binary attachment; precise errors', () => {
    expect(multipartBoundary('multipart/form-data; boundary=----abc')).to.equal('----abc');
    expect(multipartBoundary('multipart/form-data; boundary="q r"')).to.equal('q r');
    expect(multipartBoundary('application/json')).to.equal(undefined);
    const p = findPart(multipart('XyZ', '{"uuid":"m"}'), 'XyZ', 'upload_file');
    expect(p.ok && p.body.toString()).to.equal('{"uuid":"m"}');
    expect(findPart(Buffer.from('--XyZ--\r\n'), 'XyZ', 'upload_file')).to.deep.equal({ ok: false, error: 'multipart body has no "upload_file" part' });
    expect(findPart(Buffer.from('nothing'), 'XyZ', 'upload_file')).to.deep.equal({ ok: false, error: 'multipart body has no boundary line' });
  });
  it('dedupe: within the horizon, expiry, bounded with counted evictions', () => {
    let now = 0;
    const s = new SeenIds(1000, 2, () => now);
    expect([s.checkAndAdd('a'), s.checkAndAdd('a'), s.checkAndAdd('b')]).to.deep.equal([false, true, false]);
    now = 500;
    expect(s.checkAndAdd('c')).to.equal(false); // evicts a
    expect([s.size, s.evicted]).to.deep.equal([2, 1]);
    expect(s.checkAndAdd('a')).to.equal(false);
    now = 2000;
    expect(s.checkAndAdd('c')).to.equal(false); // expired
    expect(s.size).to.equal(1);
    expect(tokenFromPath('/uni/t%2Fk/json?x=1')).to.equal('t/k');
  });
});

describe('backtrace receiver over HTTP', () => {
  let rcv: BacktraceReceiver;
  let url = '';
  const got: EventBatch[] = [];
  let refuse = false;
  const next: Consumer<EventBatch> = {
    consume: async (b) => {
      if (refuse) throw new RefusedError('full', { status: 429, retryAfterSeconds: 3 });
      got.push(b);
    },
  };

  before(async () => {
    const { value, issues } = validateSchema(backtraceConfigSchema, { endpoint: '127.0.0.1:0', tokens: [{ token: 'tok1', application: 'shop' }] }, 'backtrace');
    expect(issues).to.deep.equal([]);
    const tel = new ServiceTelemetry();
    rcv = new BacktraceReceiver(
      { id: 'backtrace', logger: silentLogger(), telemetry: tel, stateDir: mkdtempSync(join(tmpdir(), 'mp-bt-')) },
      value as unknown as BacktraceReceiverConfig,
      next,
    );
    await rcv.start({ logger: silentLogger(), telemetry: tel, stateDir: '' });
    url = `http://127.0.0.1:${rcv.boundAddress()!.port}`;
  });
  after(async () => {
    await rcv.shutdown(AbortSignal.timeout(2000));
    await rcv.shutdown(AbortSignal.timeout(2000));
  });

  const post = async (path: string, body: string | Buffer, ct = 'application/json') => {
    const r = await fetch(`${url}${path}`, { method: 'POST', body, headers: { 'content-type': ct } });
    return { status: r.status, body: await r.text(), headers: r.headers };
  };

  it('JSON via /post and multipart via /<universe>/<token>/json: exactly 200 with a JSON body; a resend is deduplicated', async () => {
    got.length = 0;
    expect(await post('/post?format=json&token=tok1', JSON.stringify(report('u-1')))).to.deep.include({ status: 200, body: '{"response":"ok","_rxid":"u-1"}' });
    const mp = await post('/uni/tok1/json', multipart('B0undary', JSON.stringify(report('u-2'))), 'multipart/form-data; boundary=B0undary');
    expect(mp).to.deep.include({ status: 200, body: '{"response":"ok","_rxid":"u-2"}' });
    expect(await post('/post?format=json&token=tok1', JSON.stringify(report('u-1')))).to.deep.include({ status: 200, body: '{"response":"ok","_rxid":"u-1"}' });
    expect(got.map((b) => b.events[0]!.attributes._tx)).to.deep.equal(['u-1', 'u-2']);
    expect(rcv.status().counters).to.deep.include({ accepted: 2, duplicates: 1, multipart: 1, dedupe_entries: 2 });
  });
  it('401 without a token, 403 with an unknown one (not echoed), 400 for another format or a broken report', async () => {
    const noTok = await post('/post?format=json', '{}');
    expect(noTok.status).to.equal(401);
    expect(JSON.parse(noTok.body)).to.deep.equal({
      response: 'error',
      error: { code: 401, message: 'missing submission token: use /post?format=json&token=<token> or /<universe>/<token>/json' },
    });
    const bad = await post('/uni/secret-guess/json', '{}');
    expect(bad.status).to.equal(403);
    expect(bad.body).to.not.include('secret-guess');
    expect((await post('/post?format=minidump&token=tok1', 'x')).status).to.equal(400);
    const broken = await post('/post?token=tok1', `{"uuid":"z","annotations":{"k":"${SECRET}"`);
    expect(broken.status).to.equal(400);
    expect(broken.body).to.not.include(SECRET);
    expect((await post('/post?token=tok1', 'x', 'multipart/form-data')).status).to.equal(400);
    expect(rcv.status().counters).to.deep.include({ auth_failures: 2 });
  });
  it('the pipeline refuses → 429 Retry-After, and the resend then counts (not taken for a duplicate)', async () => {
    got.length = 0;
    refuse = true;
    const r = await post('/post?token=tok1', JSON.stringify(report('u-9')));
    refuse = false;
    expect(r.status).to.equal(429);
    expect(r.headers.get('retry-after')).to.equal('3');
    expect((await post('/post?token=tok1', JSON.stringify(report('u-9')))).status).to.equal(200);
    expect(got.map((b) => b.events[0]!.attributes._tx)).to.deep.equal(['u-9']);
  });
});

describe('backtrace receiver: a wrong submission token is warned about (issue 13, defect 10)', () => {
  it('one rate-limited warning naming the receiver and the tokens setting, never the token; later ones suppressed', async () => {
    const cap = captureLogger('warn');
    const { value } = validateSchema(backtraceConfigSchema, { endpoint: '127.0.0.1:0', tokens: [{ token: 'tok1', application: 'shop' }] }, 'backtrace');
    const tel = new ServiceTelemetry();
    const set = { id: 'backtrace/app', logger: cap.logger, telemetry: tel, stateDir: mkdtempSync(join(tmpdir(), 'mp-bt-')) };
    const rcv = new BacktraceReceiver(set, value as unknown as BacktraceReceiverConfig, { consume: async () => {} });
    await rcv.start({ logger: cap.logger, telemetry: tel, stateDir: '' });
    try {
      const url = `http://127.0.0.1:${rcv.boundAddress()!.port}`;
      const post = async (path: string) =>
        (await fetch(`${url}${path}`, { method: 'POST', body: JSON.stringify(report('w-1')), headers: { 'content-type': 'application/json' } })).status;
      expect(await post('/post?format=json&token=SECRET-bt-wrong-1')).to.equal(403);
      expect(await post('/uni/SECRET-bt-wrong-2/json')).to.equal(403);
      expect(await post('/post?format=json&token=tok1')).to.equal(200);
      await waitFor(() => cap.lines.length >= 1, { timeoutMs: 5_000, what: 'a warning' });
      const warns = cap.records().filter((r) => r.level === 'warn');
      expect(warns.map((w) => [w.receiver, w.status, w.msg])).to.deep.equal([
        [
          'backtrace/app',
          403,
          "backtrace receiver backtrace/app refused a request: unknown submission token; check the SDK's token against receivers.backtrace/app.tokens",
        ],
      ]);
      expect(cap.lines.join('\n')).to.not.include('SECRET-bt-wrong');
      expect((rcv.status().counters as { auth_failures: number }).auth_failures).to.equal(2);
    } finally {
      await rcv.shutdown(AbortSignal.timeout(2000));
    }
  });
});
