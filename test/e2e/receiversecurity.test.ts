/**
 * Security options of the other HTTP receivers and the circonus pull store,
 * end to end with certificates made by `openssl` for this run:
 * - `errors` over HTTPS with client certificates (mTLS) and bearer tokens;
 *   a second `errors` receiver with a rate_limit answers 429 + Retry-After;
 * - `sentry` and `backtrace` over HTTPS with `auth.tokens`: the bearer token
 *   is checked first (401/403 by the guard), then their own DSN key /
 *   submission token (401/403 by the receiver) — both are needed;
 * - `circonus` mode pull over HTTPS: the URL in /api/v1/stores is https and
 *   the broker's fetch with the test CA and Basic auth gets the body;
 * - the tokens and keys (all `SECRET-…`) never appear in logs, status, /metrics.
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { freePort, waitFor } from '../harness/ports.js';
import { httpsCall, makePki, type Pki } from './pki.js';
import { startMetricport, type Started } from './metricport.js';

const TOKEN = 'SECRET-rcv-token-4b8e2d6f1a3c';
const SENTRY_KEY = 'SECRET-sentry-key-9d7c5b3a1e';
const BT_TOKEN = 'SECRET-bt-token-2f4e6a8c0b1d';
const SECRETS = [TOKEN, SENTRY_KEY, BT_TOKEN];

const errorEvent = JSON.stringify({ timestamp: '2024-05-01T12:00:00Z', attributes: { application: 'shop', 'error.type': 'TypeError' } });
const envelope = (id: string) =>
  `{"event_id":"${id}"}\n{"type":"event"}\n{"event_id":"${id}","level":"error","exception":{"values":[{"type":"TypeError","value":"x"}]}}\n`;
const btReport = (uuid: string) =>
  JSON.stringify({
    uuid,
    timestamp: 1714564800,
    lang: 'nodejs',
    agent: '@backtrace/node',
    classifiers: ['TypeError'],
    mainThread: 'main',
    threads: { main: { fault: true, name: 'main', stack: [{ funcName: 'boom', library: '/srv/app/cart.js', line: 10, column: 3 }] } },
    attributes: { application: 'shop', 'error.message': 'x' },
  });

interface RcvStatus {
  id: string;
  tls: string | false;
  auth: string;
  rate_limit: number;
  guard: { unauthorized: number; forbidden: number; rate_limited: number };
  counters: Record<string, unknown>;
}

describe('e2e: tls, auth.tokens and rate_limit on errors, sentry and backtrace; circonus pull over https', function () {
  this.timeout(60_000);
  let pki: Pki;
  let mp: Started;
  const port: Record<string, number> = {};

  before(async () => {
    pki = makePki();
    for (const k of ['errors', 'limited', 'sentry', 'backtrace', 'circonus']) port[k] = await freePort();
    const tls = `{ cert_file: "${pki.serverCert}", key_file: "${pki.serverKey}" }`;
    mp = await startMetricport(
      `
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
  errors:
    endpoint: "127.0.0.1:${port.errors}"
    tls: { cert_file: "${pki.serverCert}", key_file: "${pki.serverKey}", client_ca_file: "${pki.caFile}" }
    auth: { tokens: ["\${env:RCV_TOKEN}"] }
  errors/limited:
    endpoint: "127.0.0.1:${port.limited}"
    rate_limit: { requests_per_second: 0.5, burst: 2 }
  sentry:
    endpoint: "127.0.0.1:${port.sentry}"
    keys: [ { key: "${SENTRY_KEY}", application: shop } ]
    tls: ${tls}
    auth: { tokens: ["${TOKEN}"] }
  backtrace:
    endpoint: "127.0.0.1:${port.backtrace}"
    tokens: [ { token: "${BT_TOKEN}", application: shop } ]
    tls: ${tls}
    auth: { tokens: ["${TOKEN}"] }
exporters:
  file: { path: "{{DIR}}/out/events.jsonl", flush_interval: 0s }
  circonus/pull:
    mode: pull
    endpoint: "127.0.0.1:${port.circonus}"
    tls: ${tls}
service:
  pipelines:
    events: { receivers: [errors, errors/limited, sentry, backtrace], exporters: [file] }
    metrics: { receivers: [otlp], exporters: [circonus/pull] }
`,
      { env: { RCV_TOKEN: TOKEN } },
    );
  });
  after(async () => {
    await mp?.stop();
    if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
  });

  const status = async (): Promise<Record<string, RcvStatus>> => {
    const j = (await (await fetch(`${mp.adminUrl}/api/v1/status`)).json()) as { receivers: RcvStatus[] };
    return Object.fromEntries(j.receivers.map((r) => [r.id, r]));
  };
  const fail = (p: Promise<{ status: number }>) =>
    p.then(
      (a) => `HTTP ${a.status}`,
      (e: Error & { code?: string }) => e.code ?? e.message,
    );

  it('errors over mTLS with a bearer token: no/rogue client certificate fails the handshake; no token 401, unknown 403, right one 200', async () => {
    const url = `https://127.0.0.1:${port.errors}/v1/errors`;
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
    expect(await fail(httpsCall(url, { method: 'POST', ca: pki.ca, headers, body: errorEvent }))).to.match(/ECONNRESET|ERR_SSL|EPROTO|certificate|alert/i);
    expect(await fail(httpsCall(url, { method: 'POST', ca: pki.ca, cert: pki.rogueCert, key: pki.rogueKey, headers, body: errorEvent }))).to.match(
      /ECONNRESET|ERR_SSL|EPROTO|certificate|alert/i,
    );
    expect(await fail(fetch(`http://127.0.0.1:${port.errors}/v1/errors`, { method: 'POST', headers, body: errorEvent }))).to.not.equal('HTTP 200');
    const call = (auth?: string) =>
      httpsCall(url, {
        method: 'POST',
        ca: pki.ca,
        cert: pki.clientCert,
        key: pki.clientKey,
        headers: { 'content-type': 'application/json', ...(auth !== undefined ? { authorization: auth } : {}) },
        body: errorEvent,
      });
    const none = await call();
    expect([none.status, none.headers['www-authenticate'], none.body]).to.deep.equal([
      401,
      'Bearer realm="metricport"',
      'missing bearer token: send Authorization: Bearer <token>\n',
    ]);
    const wrong = await call(`Bearer ${TOKEN}x`);
    expect([wrong.status, wrong.body]).to.deep.equal([403, 'unknown bearer token\n']);
    const ok = await call(`Bearer ${TOKEN}`);
    expect([ok.status, JSON.parse(ok.body)]).to.deep.equal([200, { accepted: 1, rejected: 0 }]);
    const r = (await status()).errors!;
    expect([r.tls, r.auth, r.guard]).to.deep.equal(['mtls', 'bearer', { unauthorized: 1, forbidden: 1, rate_limited: 0 }]);
  });

  it('errors rate_limit: beyond the burst of 2, 429 with Retry-After; counted', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`http://127.0.0.1:${port.limited}/v1/errors`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: errorEvent,
      });
      await r.arrayBuffer();
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get('retry-after');
    }
    expect(statuses).to.deep.equal([200, 200, 429, 429]);
    expect(Number(retryAfter)).to.be.within(1, 2);
    const r = (await status())['errors/limited']!;
    expect([r.tls, r.auth, r.rate_limit, r.guard]).to.deep.equal([false, 'none', 0.5, { unauthorized: 0, forbidden: 0, rate_limited: 2 }]);
  });

  it('sentry over TLS: the bearer token (guard) and the DSN key (X-Sentry-Auth) are both needed', async () => {
    const url = `https://127.0.0.1:${port.sentry}/api/42/envelope/`;
    const call = (h: Record<string, string>) =>
      httpsCall(url, { method: 'POST', ca: pki.ca, headers: { 'content-type': 'application/x-sentry-envelope', ...h }, body: envelope('e1') });
    const sentryAuth = `Sentry sentry_version=7, sentry_key=${SENTRY_KEY}`;
    expect((await call({ 'x-sentry-auth': sentryAuth })).status, 'key without bearer').to.equal(401);
    expect((await call({ 'x-sentry-auth': sentryAuth, authorization: 'Bearer nope' })).status, 'key with an unknown bearer').to.equal(403);
    const noKey = await call({ authorization: `Bearer ${TOKEN}` });
    expect(noKey.status, 'bearer without key').to.equal(401);
    expect(noKey.body).to.contain('no sentry_key');
    expect(
      (await call({ authorization: `Bearer ${TOKEN}`, 'x-sentry-auth': 'Sentry sentry_key=SECRET-wrong-key' })).status,
      'bearer with a wrong key',
    ).to.equal(403);
    const ok = await call({ authorization: `Bearer ${TOKEN}`, 'x-sentry-auth': sentryAuth });
    expect([ok.status, ok.body]).to.deep.equal([200, '{"id":"e1"}']);
    const r = (await status()).sentry!;
    expect([r.tls, r.auth, r.guard, r.counters.auth_failures]).to.deep.equal(['tls', 'bearer', { unauthorized: 1, forbidden: 1, rate_limited: 0 }, 2]);
  });

  it('backtrace over TLS: the bearer token (guard) and the submission token are both needed', async () => {
    const call = (q: string, auth?: string) =>
      httpsCall(`https://127.0.0.1:${port.backtrace}/post?format=json${q}`, {
        method: 'POST',
        ca: pki.ca,
        headers: { 'content-type': 'application/json', ...(auth !== undefined ? { authorization: auth } : {}) },
        body: btReport('u-1'),
      });
    expect((await call(`&token=${BT_TOKEN}`)).status, 'submission token without bearer').to.equal(401);
    expect((await call('', `Bearer ${TOKEN}`)).status, 'bearer without submission token').to.equal(401);
    expect((await call('&token=SECRET-wrong', `Bearer ${TOKEN}`)).status, 'bearer with a wrong submission token').to.equal(403);
    const ok = await call(`&token=${BT_TOKEN}`, `Bearer ${TOKEN}`);
    expect([ok.status, ok.body]).to.deep.equal([200, '{"response":"ok","_rxid":"u-1"}']);
    const r = (await status()).backtrace!;
    expect([r.tls, r.auth, r.guard]).to.deep.equal(['tls', 'bearer', { unauthorized: 1, forbidden: 0, rate_limited: 0 }]);
  });

  it('circonus pull over TLS: https URL in /api/v1/stores; the broker fetch with the test CA and Basic auth gets JSON; plain HTTP does not', async () => {
    const r = await fetch(`${mp.otlpUrl}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        resourceMetrics: [
          {
            scopeMetrics: [
              { metrics: [{ name: 'tls.gauge', gauge: { dataPoints: [{ asDouble: 1.5, timeUnixNano: String(BigInt(Date.now()) * 1_000_000n) }] } }] },
            ],
          },
        ],
      }),
    });
    expect(r.status).to.equal(200);
    const stores = (await (await fetch(`${mp.adminUrl}/api/v1/stores?show_credentials=true`)).json()) as { stores: Array<{ name: string; url?: string }> };
    const url = stores.stores.find((s) => s.name === 'circonus/pull')!.url!;
    expect(url).to.match(new RegExp(`^https://127\\.0\\.0\\.1:${port.circonus}/[A-Za-z0-9_-]+$`));
    const creds = JSON.parse((await import('node:fs')).readFileSync(`${mp.dir}/state/exporter/circonus_pull/credentials.json`, 'utf8')) as {
      username: string;
      password: string;
    };
    const basic = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
    let body = '';
    await waitFor(
      async () => {
        const a = await httpsCall(url, { ca: pki.ca, headers: { authorization: basic } });
        body = a.body;
        return a.status === 200 && body.includes('tls.gauge');
      },
      { timeoutMs: 10_000, what: `circonus pull body has tls.gauge (${body})` },
    );
    expect(JSON.parse(body)).to.have.property('tls.gauge');
    expect((await httpsCall(url, { ca: pki.ca })).status).to.equal(401);
    expect(await fail(fetch(url.replace('https:', 'http:'), { headers: { authorization: basic } }))).to.not.equal('HTTP 200');
  });

  it('no token, key or submission token in the logs, the status or /metrics', async () => {
    const st = await (await fetch(`${mp.adminUrl}/api/v1/status`)).text();
    const m = await (await fetch(`${mp.adminUrl}/metrics`)).text();
    for (const [what, text] of [
      ['logs', mp.output()],
      ['status', st],
      ['metrics', m],
    ] as const) {
      for (const s of SECRETS) expect(text.includes(s), `${what} contains a secret`).to.equal(false);
    }
  });
});
