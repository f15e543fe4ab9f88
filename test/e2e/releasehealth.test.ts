/**
 * Release health end to end (issue 17), the built service as a child process,
 * the real, unmodified SDKs in child processes, a real Prometheus:
 *
 *   @sentry/node  (server-mode request sessions, manual sessions that exit,
 *                  error or crash, errors without sessions resent by a relay)
 *   @backtrace/node (metrics on: unique events and Application Launches)
 *     → sentry / backtrace receivers → metricsets (sessions, errors, users per
 *       version) → stability (errors ÷ sessions, crash-free sessions, crash-free
 *       users, errored sessions) → prometheus ← scraped by a real Prometheus
 *
 * Everything the apps do lands in one whole two-minute window (the metric
 * sets' period and the groups' window), so every figure at Prometheus is exact:
 *
 * | release | what the scripts do | sessions | errored | crashed | errors | users (crashed) |
 * |---|---|---|---|---|---|---|
 * | 1.0.0 | 4 ok + 2 failing requests (aggregates); user f's session exits | 7 | 2 | 0 | 2 | 1 (0) |
 * | 2.0.0 | user a exits after 5 updates, b errors then exits, c crashes | 3 | 2 | 1 | 2 | 3 (1) |
 * | 2.1.0 | user d exits, e crashes | 2 | 1 | 1 | 1 | 2 (1) |
 * | 3.0.0 | 2 errors, no session, each envelope sent twice by a relay | 0 | | | 2 | |
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { registerSecret } from '../secretscan.js';
import { startPrometheus, usePeer, type PrometheusPeer } from '../harness/peers.js';
import { freePort, waitFor } from '../harness/ports.js';
import { ROOT, startMetricport, type Started } from './metricport.js';

const SENTRY_KEY = 'e2ehealthsentrykey0123456789';
const BT_TOKEN = 'e2ehealthbacktracetoken0123456789';
const PROM_TOKEN = 'e2e-health-prom-token-42';
registerSecret(SENTRY_KEY);
registerSecret(BT_TOKEN);
const SENTRY_APP = join(ROOT, 'test/fixtures/errorsdk/sentry-health-app.cjs');
const BT_APP = join(ROOT, 'test/fixtures/errorsdk/backtrace-metrics-app.cjs');
/** the metric sets' period and the groups' window: everything the apps do lands in one (two processes at a time take < 1 min even on a loaded 2-core machine) */
const W = 120_000;

interface Child {
  code: number | null;
  out: string;
}

function runApp(script: string, env: Record<string, string>): Promise<Child> {
  const proc = spawn(process.execPath, [script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 90_000);
  timer.unref();
  return new Promise<Child>((resolve) =>
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    }),
  );
}

/** A relay that forwards every request to metricport twice (a resend): answers with the second answer. */
function doublingRelay(target: string): Promise<{ url: string; forwarded: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on(
      'end',
      () =>
        void (async () => {
          try {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(req.headers))
              if (typeof v === 'string' && k !== 'host' && k !== 'transfer-encoding' && k !== 'connection') headers[k] = v;
            const body = Buffer.concat(chunks);
            let r: Response | undefined;
            for (let i = 0; i < 2; i++) {
              r = await fetch(`${target}${req.url}`, { method: req.method, headers, body });
              await r.arrayBuffer();
              n++;
            }
            res.writeHead(r!.status, { 'content-type': 'application/json' });
            res.end('{}');
          } catch (err) {
            // metricport unreachable: answer 502 instead of an unhandled rejection in the test process
            if (!res.headersSent) res.writeHead(502);
            res.end(String(err));
          }
        })(),
    );
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address() as { port: number };
      resolve({
        url: `127.0.0.1:${a.port}`,
        forwarded: () => n,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      });
    }),
  );
}

/** Run the jobs at most `n` at a time, results in order. */
async function pool<T>(n: number, jobs: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

interface Status {
  receivers: Array<{ id: string; counters: Record<string, unknown> }>;
  processors: Array<{ type: string; counters: Record<string, number> }>;
}

describe('e2e: release health from the real SDKs → crash-free rates and stability at a real Prometheus', function () {
  this.timeout(480_000); // up to a window to wait for the next one to begin, the window, the lateness of both processors
  let prom: PrometheusPeer | undefined;
  let mp: Started | undefined;

  before(async function () {
    await usePeer(this, 'prometheus');
    const promPort = await freePort();
    mp = await startMetricport(`
receivers:
  sentry:
    endpoint: "{{OTLP}}"
    keys: [ { key: ${SENTRY_KEY}, application: shop } ]
    sessions: { enabled: true }
  backtrace:
    endpoint: "{{OTLP}}"
    tokens: [ { token: ${BT_TOKEN}, application: bt-health } ]
    metrics: { enabled: true }
processors:
  metricsets:
    period: 120s
    allowed_lateness: 3s
    sets:
      - name: Health
        metrics:
          - { name: Errors, filter: { event.kind: { not_exists: true } }, group_by: [app.version], aggregates: [count] }
          - { name: Sessions, filter: { event.kind: session }, group_by: [app.version], aggregates: ["sum(session.count)", unique(guid)] }
          - { name: Errored, filter: { event.kind: session, session.errored: true }, group_by: [app.version], aggregates: ["sum(session.count)"] }
          - { name: Crashed, filter: { event.kind: session, session.crashed: true }, group_by: [app.version], aggregates: ["sum(session.count)", unique(guid)] }
          - { name: BtUsers, filter: { event.kind: unique }, group_by: [app.version], aggregates: [unique(guid)] }
          - { name: BtLaunches, filter: { event.kind: summed, metric.group: Application Launches }, group_by: [app.version], aggregates: [count] }
  stability:
    allowed_lateness: 15s
    groups:
      - name: Sessions Started
        attributes: { app.version: unknown }
        metrics: [Sessions.sum.session.count]
        window: 120s
        errors: Errors.count
        crashed: Crashed.sum.session.count
        errored: Errored.sum.session.count
      - name: Users
        attributes: { app.version: unknown }
        metrics: [Sessions.unique.guid]
        window: 120s
        crashed: Crashed.unique.guid
exporters:
  prometheus: { endpoint: "127.0.0.1:${promPort}", token: ${PROM_TOKEN} }
service:
  pipelines:
    events/health: { receivers: [sentry, backtrace], processors: [metricsets] }
    metrics/health: { receivers: [pipeline/events/health], processors: [stability], exporters: [prometheus] }
`);
    prom = await startPrometheus({ scrapeTargets: [{ target: `127.0.0.1:${promPort}`, metricsPath: `/${PROM_TOKEN}/metrics` }], scrapeInterval: '1s' });
  });
  after(async () => {
    await prom?.stop();
    await mp?.stop();
  });

  const status = async (): Promise<Status> => (await (await fetch(`${mp!.adminUrl}/api/v1/status`)).json()) as Status;
  /** { "<name>|<app_version>": value } of the series matching `re` */
  const values = async (re: string): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const s of await prom!.queryValues(`{__name__=~"${re}"}`)) out[`${s.metric.__name__}|${s.metric.app_version}`] = s.value;
    return out;
  };

  it('sessions, errors, users per release and the rates derived from them are exact; resent events count once', async () => {
    const dsn = (hostPort: string) => `http://${SENTRY_KEY}@${hostPort}/7`;
    const own = `127.0.0.1:${mp!.otlpPort}`;
    const relay = await doublingRelay(mp!.otlpUrl);
    // one whole window for everything: it must begin after the service started (stability scores only windows it saw whole)
    const M = (Math.floor(Date.now() / W) + 1) * W;
    await waitFor(() => Date.now() >= M + 200, { timeoutMs: W + 10_000, intervalMs: 200, what: 'the next window to begin' });
    let runs: Child[];
    try {
      const sentry = (env: Record<string, string>) => () => runApp(SENTRY_APP, { DSN: dsn(own), ...env });
      const bt = (version: string, guid: string) => () => runApp(BT_APP, { BASE: mp!.otlpUrl, BT_TOKEN, VERSION: version, GUID: guid });
      runs = await pool(2, [
        sentry({ MODE: 'server', RELEASE: 'shop@1.0.0', OK: '4', ERR: '2' }),
        sentry({ MODE: 'session', RELEASE: 'shop@1.0.0', USER_ID: 'f', OUTCOME: 'exited' }),
        sentry({ MODE: 'session', RELEASE: 'shop@2.0.0', USER_ID: 'a', OUTCOME: 'exited', UPDATES: '4' }),
        sentry({ MODE: 'session', RELEASE: 'shop@2.0.0', USER_ID: 'b', OUTCOME: 'errored' }),
        sentry({ MODE: 'session', RELEASE: 'shop@2.0.0', USER_ID: 'c', OUTCOME: 'crashed' }),
        sentry({ MODE: 'session', RELEASE: 'shop@2.1.0', USER_ID: 'd', OUTCOME: 'exited' }),
        sentry({ MODE: 'session', RELEASE: 'shop@2.1.0', USER_ID: 'e', OUTCOME: 'crashed' }),
        () => runApp(SENTRY_APP, { DSN: dsn(relay.url), MODE: 'errors', RELEASE: 'shop@3.0.0', ERRORS: '2' }),
        bt('4.0.0', 'g1'),
        bt('4.0.0', 'g2'),
        bt('4.0.0', 'g1'),
        bt('4.1.0', 'g1'),
      ]);
    } finally {
      await relay.close();
    }
    const done = Date.now();
    expect(done, `the apps must finish inside the window they started in; they took ${done - M} ms`).to.be.below(M + W - 2000);
    expect(
      runs.map((r) => r.code),
      runs.map((r) => r.out).join('\n'),
    ).to.deep.equal([0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0]);
    expect(runs[0]!.out).to.include('served 4 ok, 2 errored');
    expect(runs[4]!.out).to.include('the app crashed');
    // the relay sent each of the two error envelopes twice
    expect(relay.forwarded()).to.equal(4);

    // the receivers: 9 errors taken, 2 duplicates answered 200 but not passed on; sessions counted once each
    const st = await status();
    const sc = st.receivers.find((r) => r.id === 'sentry')!.counters as Record<string, unknown> & {
      sessions: Record<string, number>;
      items: Record<string, number>;
    };
    expect(sc.duplicates).to.equal(2);
    // six single sessions (f, a, b, c, d, e) from 16 updates: a's sent five times (4 while open + the end), b's three
    // (init, errors 1, end), the others twice (init, end or crash); each counted once; plus 1.0.0's aggregate (2 outcomes)
    expect(sc.sessions, JSON.stringify(sc)).to.deep.include({ updates: 16, ended: 6, ignored: 0, open: 0, expired: 0, evicted: 0, events: 8 });
    expect(sc.items.sessions).to.equal(1);
    const bc = st.receivers.find((r) => r.id === 'backtrace')!.counters as { metric_events: Record<string, number> };
    expect(bc.metric_events).to.deep.include({ unique: 8, summed: 8 }); // per app: unique at start and at its send; Application Launches + Checkout

    // the stability scores of the minute, at Prometheus
    let rates: Record<string, number> = {};
    await waitFor(
      async () => {
        rates = await values('(errors_per|crash_free_rate|errored_rate)_.*');
        return Object.keys(rates).length >= 10;
      },
      {
        // the scores exist only once the window has ended (M + W), the metric sets emitted it (+ 3 s lateness) and the
        // stability processor closed it (+ 15 s lateness + its tick): a deadline from the apps' end (which can be seconds
        // into the window) gave up before that
        timeoutMs: M + W + 15_000 + 60_000 - Date.now(),
        intervalMs: 1000,
        what: 'the stability scores at Prometheus',
      },
    );
    const counts = await values('(Errors|Sessions|Errored|Crashed|BtUsers|BtLaunches)_.*');
    const pick = (prefix: string) =>
      Object.fromEntries(
        Object.entries(counts)
          .filter(([k]) => k.startsWith(prefix))
          .map(([k, v]) => [k.split('|')[1], v]),
      );
    expect(pick('Sessions_sum_session_count')).to.deep.equal({ '1.0.0': 7, '2.0.0': 3, '2.1.0': 2 });
    expect(pick('Errored_sum_session_count')).to.deep.equal({ '1.0.0': 2, '2.0.0': 2, '2.1.0': 1 });
    expect(pick('Crashed_sum_session_count')).to.deep.equal({ '2.0.0': 1, '2.1.0': 1 });
    expect(pick('Errors_count')).to.deep.equal({ '1.0.0': 2, '2.0.0': 2, '2.1.0': 1, '3.0.0': 2 });
    expect(pick('Sessions_unique_guid')).to.deep.equal({ '1.0.0': 1, '2.0.0': 3, '2.1.0': 2 });
    expect(pick('BtUsers_unique_guid')).to.deep.equal({ '4.0.0': 2, '4.1.0': 1 });
    expect(pick('BtLaunches_count')).to.deep.equal({ '4.0.0': 3, '4.1.0': 1 });
    const r = (name: string) =>
      Object.fromEntries(
        Object.entries(rates)
          .filter(([k]) => k.split('|')[0]!.startsWith(name))
          .map(([k, v]) => [k.split('|')[1], v]),
      );
    expect(r('errors_per_sessions_started')).to.deep.equal({ '1.0.0': 2 / 7, '2.0.0': 2 / 3, '2.1.0': 1 / 2 });
    expect(r('crash_free_rate_sessions_started')).to.deep.equal({ '1.0.0': 1, '2.0.0': 1 - 1 / 3, '2.1.0': 1 - 1 / 2 });
    expect(r('errored_rate_sessions_started')).to.deep.equal({ '1.0.0': 2 / 7, '2.0.0': 2 / 3, '2.1.0': 1 / 2 });
    expect(r('crash_free_rate_users')).to.deep.equal({ '1.0.0': 1, '2.0.0': 1 - 1 / 3, '2.1.0': 1 - 1 / 2 });
    // 3.0.0 had errors and no sessions: no ratio (never Infinity), counted
    const sp = (await status()).processors.find((p) => p.type === 'stability')!;
    expect(sp.counters.no_denominator).to.be.at.least(1);
    expect(Object.keys(rates).some((k) => k.endsWith('|3.0.0'))).to.equal(false);
  });
});
