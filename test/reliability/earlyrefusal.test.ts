/**
 * The memory limiter at request start (docs/reliability.md): above the soft
 * limit the HTTP receivers (otlp, errors, sentry, backtrace) answer 429 with
 * Retry-After BEFORE reading the body — proven by answering a request whose
 * body has not been sent completely (a receiver that read the body first
 * could not answer it) — and count it; StatsD cannot be answered, so its
 * packets are dropped unparsed and counted (reason memory_limit). After a
 * reload that lifts the limit, the same requests are accepted: nothing else
 * was harmed.
 */
import { expect } from 'chai';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { freePort, waitFor } from '../harness/ports.js';
import { startMetricport, type Started } from '../e2e/metricport.js';

const KEY = 'earlyrefusalkey0123456789abcdef';
const TOKEN = 'early-refusal-token';

/** POST headers and only part of the body (Content-Length says more); resolves with the answer without ever sending the rest. */
function partialPost(
  port: number,
  path: string,
  headers: Record<string, string>,
  part: string,
  declared: number,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { ...headers, 'content-length': String(declared) } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        req.destroy();
      });
    });
    req.on('error', reject);
    req.write(part); // never ended: the receiver cannot have read (or decoded) the body
  });
}

function config(otlp: string, statsdPort: number, memory: string): string {
  return `
receivers:
  otlp: { protocols: { http: { endpoint: "${otlp}" } } }
  errors: { endpoint: "${otlp}" }
  sentry: { endpoint: "${otlp}", keys: [{ key: "${KEY}", application: shop }] }
  backtrace: { endpoint: "${otlp}", tokens: [{ token: "${TOKEN}", application: shop }] }
  statsd: { udp: { endpoint: "127.0.0.1:${statsdPort}" }, flush_interval: 200ms }
exporters:
  nop: {}
  nop/events: {}
service:
  memory_limiter: ${memory}
  pipelines:
    metrics: { receivers: [otlp, statsd], exporters: [nop] }
    events: { receivers: [errors, sentry, backtrace], exporters: [nop/events] }
`;
}

interface Node {
  id: string;
  counters?: Record<string, unknown> & { responses?: Record<string, number> };
  dropped?: Record<string, number>;
  packets?: number;
  lines?: number;
}

describe('reliability: the memory limiter refuses at request start, before the body is read', function () {
  this.timeout(60_000);
  let mp: Started | undefined;
  after(async () => {
    await mp?.stop();
  });

  it('otlp, errors, sentry, backtrace: 429 + Retry-After on a half-sent body; statsd: packets dropped and counted; all accept once lifted', async () => {
    const statsdPort = await freePort();
    const OVER = '{ soft_limit: 1MiB, hard_limit: 65536GiB, retry_after: 4s, check_interval: 50ms }';
    mp = await startMetricport(config('{{OTLP}}', statsdPort, OVER), { env: { METRICPORT_LOG_LEVEL: 'warn' } });
    const port = mp.otlpPort;
    const now = String(BigInt(Date.now()) * 1_000_000n);
    const otlpBody = JSON.stringify({
      resourceMetrics: [
        {
          resource: { attributes: [] },
          scopeMetrics: [{ scope: { name: 'm' }, metrics: [{ name: 'early.x', gauge: { dataPoints: [{ asDouble: 1, timeUnixNano: now }] } }] }],
        },
      ],
    });
    const errorsBody = JSON.stringify({ attributes: { 'error.type': 'TypeError', _tx: 't1' } });
    const sentryBody = `{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"http://${KEY}@127.0.0.1:${port}/1"}\n{"type":"event"}\n{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","exception":{"values":[{"type":"TypeError","value":"x"}]},"release":"shop@1.0.0"}`;
    const btBody = JSON.stringify({
      uuid: '0b0c7d2e-7c5e-4f7e-9a57-0a0d0e0f1a2b',
      timestamp: Math.floor(Date.now() / 1000),
      lang: 'nodejs',
      langVersion: '20',
      agent: 'backtrace-node',
      agentVersion: '1.0.0',
      classifiers: ['TypeError'],
      attributes: { 'application.version': '1.0.0' },
      mainThread: 'main',
      threads: { main: { name: 'main', stack: [] } },
    });
    const cases = [
      { name: 'otlp', path: '/v1/metrics', headers: { 'content-type': 'application/json' }, body: otlpBody, extra: {} as Record<string, string> },
      { name: 'errors', path: '/v1/errors', headers: { 'content-type': 'application/json' }, body: errorsBody, extra: {} },
      {
        name: 'sentry',
        path: `/api/1/envelope/?sentry_key=${KEY}&sentry_version=7`,
        headers: { 'content-type': 'application/x-sentry-envelope' },
        body: sentryBody,
        extra: { 'x-sentry-rate-limits': '4:error:organization' },
      },
      { name: 'backtrace', path: `/post?format=json&token=${TOKEN}`, headers: { 'content-type': 'application/json' }, body: btBody, extra: {} },
    ];
    for (const c of cases) {
      const r = await partialPost(port, c.path, c.headers, c.body.slice(0, 10), Buffer.byteLength(c.body));
      expect(r.status, `${c.name}: ${r.body}`).to.equal(429);
      expect(r.headers['retry-after'], c.name).to.equal('4');
      expect(r.body, c.name).to.contain('memory limit');
      for (const [k, v] of Object.entries(c.extra)) expect(r.headers[k], `${c.name} ${k}`).to.match(new RegExp(`^${v.split(':')[0]}:`));
    }
    // StatsD over UDP: nothing to answer, so drop unparsed and count
    const sock = dgram.createSocket('udp4');
    const sendUdp = (msg: string): Promise<void> => new Promise((res, rej) => sock.send(msg, statsdPort, '127.0.0.1', (e) => (e ? rej(e) : res())));
    const statusOf = async (): Promise<{ receivers: Node[] }> => (await (await fetch(`${mp!.adminUrl}/api/v1/status`)).json()) as { receivers: Node[] };
    let statsd: Node | undefined;
    await waitFor(
      async () => {
        await sendUdp('early.hits:1|c');
        statsd = (await statusOf()).receivers.find((n) => n.id === 'statsd');
        return (statsd?.dropped?.memory_limit ?? 0) >= 3;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'statsd packets dropped for the memory limit' },
    );
    expect(statsd!.lines, 'statsd lines parsed while over the limit').to.equal(0);
    expect(statsd!.packets).to.equal(statsd!.dropped!.memory_limit);

    // the counters: one 429 per HTTP receiver, counted as bad_requests.memory_limit; nothing accepted, rejected or refused downstream
    const st = await statusOf();
    for (const id of ['otlp', 'errors', 'sentry', 'backtrace']) {
      const c = st.receivers.find((n) => n.id === id)?.counters ?? {};
      expect(c.responses, id).to.deep.equal({ 429: 1 });
      expect(c['bad_requests.memory_limit'], `${id} ${JSON.stringify(c)}`).to.equal(1);
      expect(c.accepted ?? 0, id).to.equal(0);
      expect(c.refused ?? 0, id).to.equal(0);
    }
    const metrics = await (await fetch(`${mp.adminUrl}/metrics`)).text();
    expect(metrics).to.match(/^# TYPE metricport_memory_limiter_refused_requests_total counter$/m);
    expect(metrics).to.match(/^metricport_memory_limiter_refused_requests_total(?:\{[^}]*\})? 4$/m);
    expect(
      metrics,
      metrics
        .split('\n')
        .filter((l) => l.startsWith('metricport_statsd'))
        .join('\n'),
    ).to.match(/^metricport_statsd_dropped(?:_total)?\{[^}]*reason="memory_limit"[^}]*\} [1-9]/m);

    // lift the limit by a reload: the same requests go through
    writeFileSync(join(mp.dir, 'config.yaml'), config(`127.0.0.1:${port}`, statsdPort, '{ enabled: false }'));
    const rl = await fetch(`${mp.adminUrl}/api/v1/reload`, { method: 'POST' });
    expect(rl.status, await rl.text()).to.equal(200);
    for (const c of cases) {
      const r = await fetch(`http://127.0.0.1:${port}${c.path}`, { method: 'POST', headers: c.headers, body: c.body });
      expect(r.status, `${c.name} after the limit is lifted: ${await r.text()}`).to.equal(200);
    }
    await waitFor(
      async () => {
        await sendUdp('early.hits:1|c');
        return ((await statusOf()).receivers.find((n) => n.id === 'statsd')?.lines ?? 0) >= 1;
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'statsd lines parsed after the limit is lifted' },
    );
    sock.close();
  });
});
