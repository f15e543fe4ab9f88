/**
 * Security end to end, with certificates made by `openssl` for this run:
 * - the OTLP receiver over TLS with client certificates (mTLS) and bearer
 *   tokens: the real OpenTelemetry SDK exporter (https, the test CA, a client
 *   certificate, a token header) delivers; a client without a certificate
 *   fails the handshake; no token → 401, an unknown one → 403, both counted;
 * - a rate-limited receiver answers 429 with Retry-After beyond its burst;
 * - the admin server over HTTPS with a token: /healthz open, the rest 401/403
 *   without the token, 200 with it;
 * - neither the tokens nor the private keys appear in the logs or the status.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { decodeMetricsJson } from '../../src/otlp/json.js';
import { freePort, waitFor } from '../harness/ports.js';
import { startMetricport, type Started } from './metricport.js';

interface Pki {
  dir: string;
  ca: Buffer;
  serverCert: string;
  serverKey: string;
  clientCert: Buffer;
  clientKey: Buffer;
  rogueCert: Buffer;
  rogueKey: Buffer;
  caFile: string;
}

/** a CA, a server certificate for 127.0.0.1/localhost, a client certificate it signed, and a self-signed "rogue" client */
function makePki(): Pki {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error('openssl is needed by this test (apt-get install openssl)');
  }
  const dir = mkdtempSync(join(tmpdir(), 'mp-pki-'));
  const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=metricport test CA');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  o('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=sdk client');
  o('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2', '-extfile', 'client.ext');
  o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rogue.key', '-out', 'rogue.crt', '-days', '2', '-subj', '/CN=rogue');
  const r = (f: string) => readFileSync(join(dir, f));
  return {
    dir,
    ca: r('ca.crt'),
    caFile: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: r('client.crt'),
    clientKey: r('client.key'),
    rogueCert: r('rogue.crt'),
    rogueKey: r('rogue.key'),
  };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function httpsCall(
  url: string,
  opts: { method?: string; ca: Buffer; cert?: Buffer; key?: Buffer; headers?: Record<string, string>; body?: string },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: opts.method ?? 'GET', ca: opts.ca, ...(opts.cert ? { cert: opts.cert, key: opts.key } : {}), headers: opts.headers, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

const TOKEN = 'SECRET-tok-3f9c2b7e1d5a4c6b8e0f';
const OTHER_TOKEN = 'SECRET-tok-other-a1b2c3d4e5f6';
const ADMIN_TOKEN = 'SECRET-adm-7a6b5c4d3e2f1a0b9c8d';

function body(n: number): string {
  return JSON.stringify({
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              { name: 'sec.points', gauge: { dataPoints: Array.from({ length: n }, (_, i) => ({ asInt: String(i), timeUnixNano: '1700000000000000000' })) } },
            ],
          },
        ],
      },
    ],
  });
}

describe('e2e: TLS, mTLS, bearer tokens, rate limits', function () {
  this.timeout(60_000);
  let pki: Pki;
  let mp: Started;
  let limitedPort: number;
  let promPort: number;
  let adminUrl: string;

  before(async () => {
    pki = makePki();
    limitedPort = await freePort();
    promPort = await freePort();
    mp = await startMetricport(
      `
receivers:
  otlp:
    protocols:
      http:
        endpoint: "{{OTLP}}"
        tls: { cert_file: "${pki.serverCert}", key_file: "${pki.serverKey}", client_ca_file: "${pki.caFile}" }
        auth: { tokens: ["\${env:OTLP_TOKEN}", "${OTHER_TOKEN}"] }
  otlp/limited:
    protocols:
      http:
        endpoint: "127.0.0.1:${limitedPort}"
        rate_limit: { requests_per_second: 0.5, burst: 2 }
exporters:
  file: { path: "{{DIR}}/out/metrics.jsonl", flush_interval: 0s }
  prometheus:
    endpoint: "127.0.0.1:${promPort}"
    tls: { cert_file: "${pki.serverCert}", key_file: "${pki.serverKey}" }
service:
  pipelines:
    metrics: { receivers: [otlp, otlp/limited], exporters: [file, prometheus] }
`,
      {
        env: { OTLP_TOKEN: TOKEN, METRICPORT_ADMIN_TOKEN: ADMIN_TOKEN },
        args: ['--admin-tls-cert-file', pki.serverCert, '--admin-tls-key-file', pki.serverKey],
        waitHealthy: false,
      },
    );
    adminUrl = `https://127.0.0.1:${mp.adminPort}`;
    await waitFor(
      async () => {
        try {
          return (await httpsCall(`${adminUrl}/healthz`, { ca: pki.ca })).status === 200;
        } catch {
          return false;
        }
      },
      {
        timeoutMs: 15_000,
        what: 'metricport /healthz 200 over HTTPS',
        abortIf: () => {
          if (mp.proc.exitCode !== null) throw new Error(`metricport exited:\n${mp.output()}`);
        },
      },
    );
  });

  after(async () => {
    await mp?.stop();
    if (pki !== undefined) rmSync(pki.dir, { recursive: true, force: true });
  });

  it('the real OTel SDK exporter over https (test CA, client certificate, bearer token) delivers', async () => {
    const exporter = new OTLPMetricExporter({
      url: `https://127.0.0.1:${mp.otlpPort}/v1/metrics`,
      headers: { Authorization: `Bearer ${TOKEN}` },
      httpAgentOptions: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey },
      timeoutMillis: 5000,
    });
    const results: Array<{ code: number; error?: Error }> = [];
    const wrapped = Object.assign(Object.create(exporter) as typeof exporter, {
      export: (m: Parameters<typeof exporter.export>[0], cb: Parameters<typeof exporter.export>[1]) =>
        exporter.export(m, (r) => {
          results.push(r);
          cb(r);
        }),
    });
    const provider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter: wrapped, exportIntervalMillis: 3_600_000 })] });
    provider.getMeter('sec').createCounter('sec.sdk.requests').add(42, { route: '/tls' });
    await provider.shutdown();
    expect(results.map((r) => [r.code, r.error?.message])).to.deep.equal([[0, undefined]]);
    const out = join(mp.dir, 'out/metrics.jsonl');
    await waitFor(
      () => {
        try {
          return readFileSync(out, 'utf8').includes('sec.sdk.requests');
        } catch {
          return false;
        }
      },
      { timeoutMs: 10_000, what: 'the SDK metric in the file' },
    );
    const points = readFileSync(out, 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((l) =>
        decodeMetricsJson(l).data.resourceMetrics.flatMap((rm) =>
          rm.scopeMetrics.flatMap((sm) =>
            sm.metrics.filter((m) => m.name === 'sec.sdk.requests').flatMap((m) => m.points as Array<{ value?: unknown; attributes: Record<string, unknown> }>),
          ),
        ),
      );
    expect(points.map((p) => [String(p.value), p.attributes.route])).to.deep.equal([['42', '/tls']]);
  });

  it('no client certificate or one from another CA: the handshake fails; plain HTTP is not served', async () => {
    const url = `https://127.0.0.1:${mp.otlpPort}/v1/metrics`;
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
    const noCert = await httpsCall(url, { method: 'POST', ca: pki.ca, headers, body: body(1) }).then(
      (a) => `HTTP ${a.status}`,
      (e: Error & { code?: string }) => e.code ?? e.message,
    );
    expect(noCert).to.match(/ECONNRESET|ERR_SSL|EPROTO|certificate|alert/i);
    const rogue = await httpsCall(url, { method: 'POST', ca: pki.ca, cert: pki.rogueCert, key: pki.rogueKey, headers, body: body(1) }).then(
      (a) => `HTTP ${a.status}`,
      (e: Error & { code?: string }) => e.code ?? e.message,
    );
    expect(rogue).to.match(/ECONNRESET|ERR_SSL|EPROTO|certificate|alert/i);
    const plain = await fetch(`http://127.0.0.1:${mp.otlpPort}/v1/metrics`, { method: 'POST', body: body(1) }).then(
      (r) => `HTTP ${r.status}`,
      (e: Error) => e.message,
    );
    expect(plain).to.not.equal('HTTP 200');
  });

  it('bearer tokens: none → 401 with WWW-Authenticate, unknown → 403, either configured token → 200; counted in the status', async () => {
    const url = `https://127.0.0.1:${mp.otlpPort}/v1/metrics`;
    const call = (auth?: string) =>
      httpsCall(url, {
        method: 'POST',
        ca: pki.ca,
        cert: pki.clientCert,
        key: pki.clientKey,
        headers: { 'content-type': 'application/json', ...(auth !== undefined ? { authorization: auth } : {}) },
        body: body(3),
      });
    const none = await call();
    expect([none.status, none.headers['www-authenticate'], none.body]).to.deep.equal([
      401,
      'Bearer realm="metricport"',
      'missing bearer token: send Authorization: Bearer <token>\n',
    ]);
    const basic = await call('Basic dXNlcjpwdw==');
    expect(basic.status).to.equal(401);
    const wrong = await call(`Bearer ${TOKEN}x`);
    expect([wrong.status, wrong.body]).to.deep.equal([403, 'unknown bearer token\n']);
    expect((await call(`Bearer ${TOKEN}`)).status).to.equal(200);
    expect((await call(`bearer ${OTHER_TOKEN}`)).status).to.equal(200);
    const st = JSON.parse((await httpsCall(`${adminUrl}/api/v1/status`, { ca: pki.ca, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).body) as {
      receivers: Array<{ id: string; tls: string; auth: string; counters: Record<string, number> }>;
    };
    const r = st.receivers.find((x) => x.id === 'otlp')!;
    expect([r.tls, r.auth, r.counters.unauthorized, r.counters.forbidden]).to.deep.equal(['mtls', 'bearer', 2, 1]);
  });

  it('rate_limit: beyond the burst, 429 with Retry-After; counted', async () => {
    const url = `http://127.0.0.1:${limitedPort}/v1/metrics`;
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 4; i++) {
      const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(1) });
      await r.arrayBuffer();
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get('retry-after');
    }
    expect(statuses).to.deep.equal([200, 200, 429, 429]);
    expect(Number(retryAfter)).to.be.within(1, 2);
    const st = JSON.parse((await httpsCall(`${adminUrl}/api/v1/status`, { ca: pki.ca, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).body) as {
      receivers: Array<{ id: string; counters: Record<string, number> }>;
    };
    expect(st.receivers.find((x) => x.id === 'otlp/limited')!.counters.rate_limited).to.equal(2);
  });

  it('admin over HTTPS with a token: /healthz open; status, metrics and reload need the token', async () => {
    expect((await httpsCall(`${adminUrl}/healthz`, { ca: pki.ca })).status).to.equal(200);
    const none = await httpsCall(`${adminUrl}/api/v1/status`, { ca: pki.ca });
    expect(none.status).to.equal(401);
    expect((await httpsCall(`${adminUrl}/metrics`, { ca: pki.ca, headers: { authorization: `Bearer ${TOKEN}` } })).status).to.equal(403);
    expect((await httpsCall(`${adminUrl}/api/v1/reload`, { method: 'POST', ca: pki.ca })).status).to.equal(401);
    expect((await httpsCall(`${adminUrl}/metrics`, { ca: pki.ca, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).to.equal(200);
    const reload = await httpsCall(`${adminUrl}/api/v1/reload`, { method: 'POST', ca: pki.ca, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(reload.status).to.equal(200);
    expect((JSON.parse(reload.body) as { kept: string[] }).kept).to.include.members(['receiver otlp', 'receiver otlp/limited']);
  });

  it('the prometheus pull store over HTTPS: the URL in /api/v1/stores is https and serves the points with the test CA', async () => {
    const stores = JSON.parse((await httpsCall(`${adminUrl}/api/v1/stores`, { ca: pki.ca, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).body) as {
      stores: Array<{ name: string; url?: string }>;
    };
    const url = stores.stores.find((x) => x.name === 'prometheus')!.url!;
    expect(url).to.match(new RegExp(`^https://127\\.0\\.0\\.1:${promPort}/[^/]+/metrics$`));
    const scrape = await httpsCall(url, { ca: pki.ca });
    expect(scrape.status).to.equal(200);
    expect(scrape.body).to.match(/^sec_sdk_requests(_total)?\{[^}]*route="\/tls"[^}]*\} 42$/m);
    const plain = await fetch(url.replace('https:', 'http:')).then(
      (r) => `HTTP ${r.status}`,
      (e: Error) => e.message,
    );
    expect(plain).to.not.equal('HTTP 200');
  });

  it('secret scan: no token and no private key in the logs, the status or /metrics', async () => {
    const status = (await httpsCall(`${adminUrl}/api/v1/status`, { ca: pki.ca, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).body;
    const metrics = (await httpsCall(`${adminUrl}/metrics`, { ca: pki.ca, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).body;
    const keyBody = readFileSync(pki.serverKey, 'utf8').split('\n')[1]!;
    for (const [what, text] of [
      ['logs', mp.output()],
      ['status', status],
      ['metrics', metrics],
    ] as const) {
      for (const secret of [TOKEN, OTHER_TOKEN, ADMIN_TOKEN, keyBody]) expect(text.includes(secret), `${what} contains a secret`).to.equal(false);
    }
    expect(mp.output()).to.include('config reloaded');
  });
});
