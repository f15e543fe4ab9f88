/**
 * sentry receiver: the envelope parser and the event mapping as data, and
 * the receiver over HTTP (auth sources, gzip, attachments with length,
 * prefixes, tunnel dsn, legacy store, refusal → 429 with rate-limit headers).
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import type { Consumer } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { RefusedError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import type { EventBatch } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { waitFor } from '../../harness/ports.js';
import { captureLogger } from '../../helpers/logs.js';
import { deriveFingerprint, normaliseMessage } from '../../../src/errorsdk/fingerprint.js';
import { sentryConfigSchema, type SentryReceiverConfig } from '../../../receivers/sentry/config.js';
import { parseEnvelope, sentryKeyFromDsn, sentryKeyFromHeader } from '../../../receivers/sentry/envelope.js';
import { mapSentryEvent, versionFromRelease } from '../../../receivers/sentry/map.js';
import { SentryReceiver, storeBody } from '../../../receivers/sentry/receiver.js';

const OPTS = { application: 'shop', maxValueLength: 4096, maxTags: 32 };
const frame = (fn: string, lineno: number, filename = '/srv/app/src/cart.js') => ({ filename, module: 'cart', function: fn, lineno, colno: 3, in_app: true });

describe('sentry: envelope parsing (bytes)', () => {
  it('items with and without length; binary attachment with newlines skipped; no trailing newline', () => {
    const att = Buffer.from([0x0a, 0x00, 0xff, 0x0a, 0x7b]);
    const buf = Buffer.concat([
      Buffer.from(
        '{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"http://k1@h/1"}\n{"type":"event"}\n{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","level":"error"}\n',
      ),
      Buffer.from(`{"type":"attachment","length":${att.length},"filename":"a.bin"}\n`),
      att,
      Buffer.from('\n'),
      Buffer.from('{"type":"session","length":13}\n{"sid":"abc"}\n'),
      Buffer.from('{"type":"client_report"}\n{"discarded_events":[]}'),
    ]);
    const r = parseEnvelope(buf);
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect(r.envelope.header.event_id).to.equal('9ec79c33ec9942ab8353589fcb2e04dc');
    expect(r.envelope.items).to.deep.equal({ event: 1, attachment: 1, session: 1, client_report: 1 });
    expect(r.envelope.events.map((b) => JSON.parse(b.toString()))).to.deep.equal([{ event_id: '9ec79c33ec9942ab8353589fcb2e04dc', level: 'error' }]);
  });
  it('an empty payload at the end, a trailing newline and an event with length', () => {
    const r = parseEnvelope(Buffer.from('{}\n{"type":"event","length":2}\n{}\n{"type":"session"}\n'));
    expect(r.ok && r.envelope.items).to.deep.equal({ event: 1, session: 1 });
    expect(r.ok && r.envelope.events[0]!.toString()).to.equal('{}');
  });
  it('precise errors', () => {
    expect(parseEnvelope(Buffer.from('nope\n'))).to.deep.equal({ ok: false, error: 'envelope header (the first line) is not a JSON object' });
    expect(parseEnvelope(Buffer.from('{}\n{"type":"attachment","length":50}\nshort'))).to.deep.equal({
      ok: false,
      error: 'item 0 (attachment): length 50 runs past the end of the envelope (5 bytes left)',
    });
    expect(parseEnvelope(Buffer.from('{}\n{"length":1}\nx'))).to.deep.equal({ ok: false, error: 'item 0: item header has no "type"' });
    expect(parseEnvelope(Buffer.from('{}\n{"type":"a"}\n1\n{"type":"a"}\n2'), 1)).to.deep.equal({ ok: false, error: 'envelope has more than 1 items' });
  });
  it('keys from headers and DSNs', () => {
    expect(sentryKeyFromHeader('Sentry sentry_version=7, sentry_client=x/1, sentry_key=abc, sentry_secret=s')).to.equal('abc');
    expect(sentryKeyFromHeader('Bearer abc')).to.equal(undefined);
    expect(sentryKeyFromDsn('https://pub@o1.ingest.example/42')).to.equal('pub');
    expect(sentryKeyFromDsn('nope')).to.equal(undefined);
  });
});

describe('sentry: event → attributes', () => {
  const base = { event_id: 'e1', timestamp: 1714564800.25, platform: 'node', server_name: 'web-1', release: 'shop@1.2.3', environment: 'staging' };
  it('an exception with a user: every mapped attribute', () => {
    const r = mapSentryEvent(
      {
        ...base,
        level: 'error',
        user: { id: 'u-7', email: 'x@y' },
        tags: { region: 'eu', n: 3, o: { no: 1 } },
        exception: {
          values: [
            { type: 'Inner', value: 'cause' },
            {
              type: 'TypeError',
              value: 'bad thing',
              mechanism: { type: 'generic', handled: true },
              stacktrace: { frames: [frame('main', 1), frame('boom', 9)] },
            },
          ],
        },
      },
      1n,
      undefined,
      OPTS,
    );
    expect(r.ok).to.equal(true);
    if (!r.ok) return;
    expect(r.timeUnixNano).to.equal(1714564800250000000n);
    const { fingerprint, ...rest } = r.attributes;
    expect(fingerprint).to.equal(
      deriveFingerprint(
        'TypeError',
        [
          { file: '/x/cart.js', fn: 'boom' },
          { file: '/y/cart.ts', fn: 'main' },
        ],
        '',
      ),
    );
    expect(rest).to.deep.equal({
      _tx: 'e1',
      guid: 'u-7',
      'error.type': 'Exception',
      'error.class': 'TypeError',
      'error.message': 'bad thing',
      application: 'shop',
      'application.version': '1.2.3',
      'app.version': '1.2.3',
      release: 'shop@1.2.3',
      environment: 'staging',
      hostname: 'web-1',
      level: 'error',
      handled: true,
      platform: 'node',
      'tags.region': 'eu',
      'tags.n': 3,
    });
  });
  it('categories: unhandled rejection, uncaught exception, captureMessage', () => {
    const ex = (mech: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      mapSentryEvent({ ...base, ...extra, exception: { values: [{ type: 'E', value: 'v', mechanism: mech }] } }, 0n, undefined, OPTS);
    const attr = (r: ReturnType<typeof ex>, k: string) => (r.ok ? r.attributes[k] : undefined);
    expect(attr(ex({ type: 'auto.node.onunhandledrejection', handled: false }), 'error.type')).to.equal('Unhandled rejection');
    expect(attr(ex({ type: 'auto.node.onuncaughtexception', handled: false }), 'error.type')).to.equal('Unhandled exception');
    expect(attr(ex({ type: 'auto.node.onuncaughtexception', handled: false }), 'handled')).to.equal(false);
    const msg = mapSentryEvent(
      { ...base, level: 'info', message: 'hello', exception: { values: [{ value: 'hello', mechanism: { type: 'generic', handled: true, synthetic: true } }] } },
      0n,
      undefined,
      OPTS,
    );
    expect(msg.ok && [msg.attributes['error.type'], msg.attributes['error.class'], msg.attributes['error.message'], msg.attributes.level]).to.deep.equal([
      'Message',
      'Message',
      'hello',
      'info',
    ]);
    const plain = mapSentryEvent({ event_id: 'e2', message: { formatted: 'fmt 1' } }, 5n, 7n, OPTS);
    expect(plain.ok && [plain.attributes['error.type'], plain.attributes['error.message'], plain.timeUnixNano, plain.attributes.environment]).to.deep.equal([
      'Message',
      'fmt 1',
      7n,
      'production',
    ]);
  });
  it('guid falls back user.id → email → ip_address → server_name', () => {
    const g = (user: unknown) => {
      const r = mapSentryEvent({ ...base, user }, 0n, undefined, OPTS);
      return r.ok ? r.attributes.guid : undefined;
    };
    expect([g({ id: 5 }), g({ email: 'a@b' }), g({ ip_address: '10.0.0.1' }), g(undefined)]).to.deep.equal(['5', 'a@b', '10.0.0.1', 'web-1']);
  });
  it('user fingerprints; {{ default }} alone = derived; releases', () => {
    const fp = (f: unknown) => {
      const r = mapSentryEvent(
        { ...base, fingerprint: f, exception: { values: [{ type: 'E', value: 'v', stacktrace: { frames: [frame('f', 1)] } }] } },
        0n,
        undefined,
        OPTS,
      );
      return r.ok ? r.attributes.fingerprint : undefined;
    };
    expect(fp(['{{ default }}'])).to.equal(fp(undefined));
    expect(fp(['my-group'])).to.not.equal(fp(undefined));
    expect(fp(['my-group'])).to.equal(fp(['my-group']));
    expect(fp(['{{ default }}', 'x'])).to.not.equal(fp(['my-group']));
    expect(versionFromRelease('shop@1.2.3')).to.equal('1.2.3');
    expect(versionFromRelease('@scope/pkg@2.0.0')).to.equal('2.0.0');
    expect(versionFromRelease('9f1c2d3e')).to.equal('9f1c2d3e');
    expect(mapSentryEvent({}, 0n, undefined, OPTS)).to.deep.equal({ ok: false, error: 'event has no "event_id"' });
  });
});

describe('derived fingerprint', () => {
  const fr = (fn: string, file = '/srv/a/src/cart.js') => ({ file, fn });
  it('stable across line numbers and deploy paths; another place or class differs; internals and node_modules skipped', () => {
    const a = deriveFingerprint('TypeError', [fr('boom'), fr('main')], 'x');
    expect(
      deriveFingerprint('TypeError', [fr('boom', '/other/root/src/cart.js'), { file: 'node:internal/timers', fn: 'listOnTimeout' }, fr('main')], 'y'),
    ).to.equal(a);
    expect(deriveFingerprint('TypeError', [{ file: '/srv/a/node_modules/lib/x.js', fn: 'q' }, fr('boom'), fr('main')], 'x')).to.equal(a);
    expect(deriveFingerprint('TypeError', [fr('other'), fr('main')], 'x')).to.not.equal(a);
    expect(deriveFingerprint('RangeError', [fr('boom'), fr('main')], 'x')).to.not.equal(a);
    expect(deriveFingerprint('TypeError', [fr('boom'), fr('main'), fr('a'), fr('b')], 'x')).to.equal(
      deriveFingerprint('TypeError', [fr('boom'), fr('main'), fr('a'), fr('c')], 'x'),
    );
    expect(a).to.match(/^[0-9a-f]{64}$/);
  });
  it('without frames: the normalised message', () => {
    expect(normaliseMessage('Timeout after 31ms for "user-42" id 0xdeadbeef')).to.equal('timeout after <n>ms for <s> id <n>');
    expect(deriveFingerprint('E', [], 'timeout after 31ms')).to.equal(deriveFingerprint('E', [], 'Timeout after 30ms'));
    expect(deriveFingerprint('E', [], 'timeout')).to.not.equal(deriveFingerprint('E', [], 'refused'));
  });
});

describe('sentry receiver over HTTP', () => {
  let rcv: SentryReceiver;
  let url = '';
  const got: EventBatch[] = [];
  let refuse = false;
  const next: Consumer<EventBatch> = {
    consume: async (b) => {
      if (refuse) throw new RefusedError('queue full', { status: 503, retryAfterSeconds: 7 });
      got.push(b);
    },
  };
  const env = (id: string) => `{"event_id":"${id}"}\n{"type":"event"}\n{"event_id":"${id}","exception":{"values":[{"type":"E","value":"v"}]}}`;

  before(async () => {
    const { value, issues } = validateSchema(sentryConfigSchema, { endpoint: '127.0.0.1:0', keys: [{ key: 'k1', application: 'shop' }] }, 'sentry');
    expect(issues).to.deep.equal([]);
    const tel = new ServiceTelemetry();
    rcv = new SentryReceiver(
      { id: 'sentry', logger: silentLogger(), telemetry: tel, stateDir: mkdtempSync(join(tmpdir(), 'mp-sentry-')) },
      value as unknown as SentryReceiverConfig,
      next,
    );
    await rcv.start({ logger: silentLogger(), telemetry: tel, stateDir: '' });
    url = `http://127.0.0.1:${rcv.boundAddress()!.port}`;
  });
  after(async () => {
    await rcv.shutdown(AbortSignal.timeout(2000));
    await rcv.shutdown(AbortSignal.timeout(2000));
  });

  const post = async (path: string, body: string | Buffer, headers: Record<string, string> = {}) => {
    const r = await fetch(`${url}${path}`, { method: 'POST', body, headers });
    return { status: r.status, body: await r.text(), headers: r.headers };
  };

  it('query key, X-Sentry-Auth, Authorization, tunnel dsn; prefixes; gzip → 200 {"id"}', async () => {
    got.length = 0;
    expect(await post('/api/42/envelope/?sentry_version=7&sentry_key=k1', env('a1'))).to.deep.include({ status: 200, body: '{"id":"a1"}' });
    expect((await post('/api/42/envelope/', env('a2'), { 'X-Sentry-Auth': 'Sentry sentry_key=k1, sentry_version=7' })).status).to.equal(200);
    expect((await post('/sub/path/api/7/envelope/', env('a3'), { Authorization: 'Sentry sentry_key=k1' })).status).to.equal(200);
    expect((await post('/api/7/envelope/', `{"event_id":"a4","dsn":"http://k1@sentry.example/7"}\n{"type":"event"}\n{"event_id":"a4"}`)).status).to.equal(200);
    expect((await post('/api/42/envelope/?sentry_key=k1', zlib.gzipSync(env('a5')), { 'Content-Encoding': 'gzip' })).body).to.equal('{"id":"a5"}');
    expect(got.flatMap((b) => b.events.map((e) => [e.attributes._tx, e.attributes.application]))).to.deep.equal([
      ['a1', 'shop'],
      ['a2', 'shop'],
      ['a3', 'shop'],
      ['a4', 'shop'],
      ['a5', 'shop'],
    ]);
  });
  it('only event items become events; others acknowledged and counted', async () => {
    got.length = 0;
    const r = await post('/api/42/envelope/?sentry_key=k1', '{}\n{"type":"session"}\n{"sid":"1"}\n{"type":"transaction"}\n{}');
    expect(r).to.deep.include({ status: 200, body: '{}' });
    expect(got).to.deep.equal([]);
    const items = (rcv.status().counters as { items: Record<string, number> }).items;
    expect(items.session).to.equal(1);
    expect(items.transaction).to.equal(1);
  });
  it('legacy /store/: JSON and base64+zlib', async () => {
    got.length = 0;
    const ev = JSON.stringify({ event_id: 's1', message: 'legacy' });
    expect(await post('/api/1/store/', ev, { 'X-Sentry-Auth': 'Sentry sentry_key=k1' })).to.deep.include({ status: 200, body: '{"id":"s1"}' });
    expect((await post('/api/1/store/?sentry_key=k1', zlib.deflateSync(Buffer.from(ev.replace('s1', 's2'))).toString('base64'))).status).to.equal(200);
    expect(got.map((b) => b.events[0]!.attributes._tx)).to.deep.equal(['s1', 's2']);
    expect(await storeBody(Buffer.from('%%%'), 1000)).to.equal(undefined);
  });
  it('401 without a key, 403 with an unknown one, 400 for a bad envelope: counted, nothing consumed', async () => {
    got.length = 0;
    const before = (rcv.status().counters as { auth_failures: number }).auth_failures;
    expect((await post('/api/42/envelope/', env('x1'))).status).to.equal(401);
    const f = await post('/api/42/envelope/?sentry_key=nope', env('x2'));
    expect(f.status).to.equal(403);
    expect(f.body).to.not.include('nope');
    expect((await post('/api/42/envelope/?sentry_key=k1', 'garbage')).status).to.equal(400);
    expect(got).to.deep.equal([]);
    expect((rcv.status().counters as { auth_failures: number }).auth_failures).to.equal(before + 2);
    expect((await fetch(`${url}/api/42/envelope/`)).status).to.equal(405);
  });
  it('the pipeline refuses → 429 with Retry-After and X-Sentry-Rate-Limits; never on success', async () => {
    refuse = true;
    const r = await post('/api/42/envelope/?sentry_key=k1', env('r1'));
    refuse = false;
    expect(r.status).to.equal(429);
    expect(r.headers.get('retry-after')).to.equal('7');
    expect(r.headers.get('x-sentry-rate-limits')).to.equal('7:error;default;security:organization');
    const ok = await post('/api/42/envelope/?sentry_key=k1', env('r2'));
    expect(ok.status).to.equal(200);
    expect(ok.headers.get('retry-after')).to.equal(null);
    expect(ok.headers.get('x-sentry-rate-limits')).to.equal(null);
  });
});

describe('sentry receiver: a wrong DSN key is warned about (issue 13, defect 10)', () => {
  it('one rate-limited warning naming the receiver and the keys setting, never the key; later ones suppressed', async () => {
    const cap = captureLogger('warn');
    const { value } = validateSchema(sentryConfigSchema, { endpoint: '127.0.0.1:0', keys: [{ key: 'k1', application: 'shop' }] }, 'sentry');
    const tel = new ServiceTelemetry();
    const set = { id: 'sentry/web', logger: cap.logger, telemetry: tel, stateDir: mkdtempSync(join(tmpdir(), 'mp-sentry-')) };
    const rcv = new SentryReceiver(set, value as unknown as SentryReceiverConfig, { consume: async () => {} });
    await rcv.start({ logger: cap.logger, telemetry: tel, stateDir: '' });
    try {
      const url = `http://127.0.0.1:${rcv.boundAddress()!.port}`;
      const env = '{"event_id":"w1"}\n{"type":"event"}\n{"event_id":"w1"}';
      // a wrong key in the query (refused before the body is read) and in the envelope's dsn (after)
      for (const k of ['SECRET-sentry-wrong-1', 'SECRET-sentry-wrong-2']) {
        expect((await fetch(`${url}/api/1/envelope/?sentry_key=${k}`, { method: 'POST', body: env })).status).to.equal(403);
      }
      expect(
        (
          await fetch(`${url}/api/1/envelope/`, {
            method: 'POST',
            body: `{"event_id":"w2","dsn":"http://SECRET-sentry-wrong-3@h/1"}\n{"type":"event"}\n{"event_id":"w2"}`,
          })
        ).status,
      ).to.equal(403);
      expect((await fetch(`${url}/api/1/envelope/?sentry_key=k1`, { method: 'POST', body: env })).status).to.equal(200);
      await waitFor(() => cap.lines.length >= 1, { timeoutMs: 5_000, what: 'a warning' });
      const warns = cap.records().filter((r) => r.level === 'warn');
      expect(warns.map((w) => [w.receiver, w.status, w.msg])).to.deep.equal([
        [
          'sentry/web',
          403,
          'sentry receiver sentry/web refused a request: unknown DSN public key (sentry_key); check the DSN against receivers.sentry/web.keys',
        ],
      ]);
      expect(cap.lines.join('\n')).to.not.include('SECRET-sentry-wrong');
      expect((rcv.status().counters as { auth_failures: number }).auth_failures).to.equal(3);
    } finally {
      await rcv.shutdown(AbortSignal.timeout(2000));
    }
  });
});
