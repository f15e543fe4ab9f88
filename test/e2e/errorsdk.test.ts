/**
 * End to end with the real, unmodified error SDKs in child processes:
 * @sentry/node (captureException, captureMessage, an unhandled rejection, an
 * uncaught exception, with and without setUser, with a release) and
 * @backtrace/node (JSON, multipart with breadcrumbs, its offline database
 * resending a report whose answer was lost) → the sentry/backtrace receivers
 * of the built service → metricsets → the file exporter (windows flushed on
 * shutdown). Exact counts, uniques per guid, groups per error.type,
 * error.class, application.version and fingerprint. Wrong keys/tokens are
 * refused (403), counted, and the apps carry on. A fake secret in the apps'
 * environment never shows in metricport's logs, status, /metrics or output.
 */
import { registerSecret } from '../secretscan.js';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import http from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../harness/ports.js';
import { ROOT, startMetricport, tempDir, type Started } from './metricport.js';

const SENTRY_KEY = 'e2esentrykey0123456789abcdef';
const BT_TOKEN = 'e2ebacktracetoken0123456789abcdef';
// the DSN key must be \w+ (the Sentry SDK's DSN pattern): registered instead of carrying the SECRET- marker
registerSecret(SENTRY_KEY);
registerSecret(BT_TOKEN);
const FAKE_SECRET = 'SECRET-mp-fake-app-Zq8xW2vK9';
const SENTRY_APP = join(ROOT, 'test/fixtures/errorsdk/sentry-app.cjs');
const BT_APP = join(ROOT, 'test/fixtures/errorsdk/backtrace-app.cjs');

interface Child {
  code: number | null;
  out: string;
}

function runApp(script: string, env: Record<string, string>, opts: { nodeArgs?: string[]; timeoutMs?: number } = {}): Promise<Child> & { kill(): void } {
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), script], {
    cwd: ROOT,
    env: { ...process.env, FAKE_SECRET, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
  timer.unref();
  const p = new Promise<Child>((resolve) =>
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    }),
  ) as Promise<Child> & { kill(): void };
  p.kill = () => {
    proc.kill('SIGTERM');
  };
  return p;
}

/** A proxy in front of metricport that loses the answer to the first report (connection reset after metricport took it). */
function lossyProxy(target: string): Promise<{ url: string; forwarded: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on(
      'end',
      () =>
        void (async () => {
          try {
            n++;
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(req.headers))
              if (typeof v === 'string' && k !== 'host' && k !== 'transfer-encoding' && k !== 'connection') headers[k] = v;
            const r = await fetch(`${target}${req.url}`, { method: req.method, headers, body: Buffer.concat(chunks) });
            const body = Buffer.from(await r.arrayBuffer());
            if (n === 1) {
              req.socket.destroy();
              return;
            }
            res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/json' });
            res.end(body);
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
        url: `http://127.0.0.1:${a.port}/`,
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

interface Point {
  name: string;
  value: number;
  attrs: Record<string, string>;
}

function filePoints(file: string): Point[] {
  if (!existsSync(file)) return [];
  const out: Point[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    const req = JSON.parse(line);
    for (const rm of req.resourceMetrics ?? [])
      for (const sm of rm.scopeMetrics ?? [])
        for (const m of sm.metrics ?? []) {
          for (const p of (m.sum ?? m.gauge).dataPoints) {
            const attrs: Record<string, string> = {};
            for (const a of p.attributes ?? []) attrs[a.key] = String(a.value.stringValue ?? a.value.boolValue ?? a.value.intValue);
            out.push({ name: m.name, value: Number(p.asInt ?? p.asDouble), attrs });
          }
        }
  }
  return out;
}

/** { "<attr values joined by |>": value } for one output series name, restricted to an application */
function series(points: Point[], name: string, app: string, keys: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of points) {
    if (p.name !== name || p.attrs.application !== app) continue;
    const k = keys.map((x) => p.attrs[x]).join('|');
    out[k] = (out[k] ?? 0) + p.value;
  }
  return out;
}

interface Status {
  receivers: Array<{ id: string; counters: Record<string, unknown> }>;
}

describe('e2e: the real Sentry and Backtrace SDKs → sentry/backtrace receivers → metricsets', function () {
  this.timeout(120_000);
  let mp: Started | undefined;
  let outDir = '';
  let dbDir = '';

  before(async () => {
    // one window for the whole test: stay clear of an hour boundary
    const msIntoHour = Date.now() % 3_600_000;
    if (msIntoHour > 3_540_000) await waitFor(() => Date.now() % 3_600_000 < 60_000, { timeoutMs: 70_000, intervalMs: 500, what: 'the next hour to begin' });
    outDir = tempDir();
    dbDir = mkdtempSync(join(tmpdir(), 'mp-bt-db-'));
    mp = await startMetricport(
      `
receivers:
  sentry:
    endpoint: "{{OTLP}}"
    keys: [ { key: ${SENTRY_KEY}, application: sentry-app } ]
  backtrace:
    endpoint: "{{OTLP}}"
    tokens: [ { token: ${BT_TOKEN}, application: unused-default } ]
    dedupe: { horizon: 1h, max_entries: 1000 }
processors:
  metricsets:
    period: 1h
    sets:
      - name: SDK
        metrics:
          - { name: All, group_by: [application], aggregates: [count, unique(_tx), unique(guid)] }
          - { name: ByType, group_by: [application, error.type], aggregates: [count] }
          - { name: ByClass, group_by: [application, error.class], aggregates: [count] }
          - name: ByVersion
            group_by: [application, application.version]
            group_by_defaults: { application.version: unknown }
            aggregates: [count, unique(guid)]
          - { name: ByFingerprint, group_by: [application, error.class, error.message, fingerprint], aggregates: [count] }
          - { name: ByHost, group_by: [application, hostname, environment, level, handled], aggregates: [count] }
exporters:
  file: { path: "${join(outDir, 'out.jsonl')}", flush_interval: 100ms }
service:
  pipelines:
    errors: { receivers: [sentry, backtrace], processors: [metricsets], exporters: [file] }
`,
      { env: { METRICPORT_LOG_LEVEL: 'debug' } },
    );
  });
  after(async () => {
    await mp?.stop();
    rmSync(outDir, { recursive: true, force: true });
    rmSync(dbDir, { recursive: true, force: true });
  });

  const status = async (id: string) => ((await (await fetch(`${mp!.adminUrl}/api/v1/status`)).json()) as Status).receivers.find((r) => r.id === id)!.counters;

  it('counts, uniques, types, classes, versions and fingerprints are exact; bad keys are refused; no secret leaks', async () => {
    const base = mp!.otlpUrl;
    const dsn = (key: string) => `http://${key}@127.0.0.1:${mp!.otlpPort}/42`;

    // --- Sentry: with setUser and a release; an uncaught exception ends the app
    const full = await runApp(SENTRY_APP, { MODE: 'full', DSN: dsn(SENTRY_KEY), RELEASE: 'shop@1.2.3', USER_ID: 'user-1' });
    expect(full.code, full.out).to.equal(1);
    expect(full.out).to.include('uncaught at the top');
    // without setUser and without a release: guid falls back to server_name
    const nouser = await runApp(SENTRY_APP, { MODE: 'nouser', DSN: dsn(SENTRY_KEY) });
    expect(nouser, nouser.out).to.deep.include({ code: 0 });
    expect(nouser.out).to.include('done');
    // a wrong key: refused, and the app carries on
    const wrong = await runApp(SENTRY_APP, { MODE: 'wrongkey', DSN: dsn('notourkey000') });
    expect(wrong.code, wrong.out).to.equal(0);
    expect(wrong.out).to.include('still working');
    await waitFor(async () => (await status('sentry')).accepted === 7, { timeoutMs: 15_000, what: 'the 7 Sentry events' });

    // --- Backtrace: JSON (breadcrumbs off) via /post?format=json&token=; with
    // --unhandled-rejections=warn the SDK reports the rejection and the app lives on
    const json = await runApp(BT_APP, { MODE: 'json', BT_URL: `${base}/`, BT_TOKEN, VERSION: '2.0.1' }, { nodeArgs: ['--unhandled-rejections=warn'] });
    expect(json.code, json.out).to.equal(0);
    expect(json.out).to.include('done');
    // multipart (breadcrumbs on) via /<universe>/<token>/json
    const multi = await runApp(BT_APP, { MODE: 'multipart', BT_URL: `${base}/myuniverse/${BT_TOKEN}/json`, VERSION: '2.0.2' });
    expect(multi.code, multi.out).to.equal(0);
    // offline database: the first answer is lost, the SDK resends the same uuid
    const proxy = await lossyProxy(base);
    const db = runApp(BT_APP, { MODE: 'database', BT_URL: proxy.url, BT_TOKEN, VERSION: '2.0.3', DB_DIR: dbDir });
    try {
      await waitFor(async () => (await status('backtrace')).duplicates === 1, { timeoutMs: 20_000, what: 'the database resend to be deduplicated' });
    } finally {
      db.kill();
      await db;
      await proxy.close();
    }
    expect(proxy.forwarded()).to.be.at.least(2);
    // a wrong token: 403, the app carries on
    const badtok = await runApp(BT_APP, { MODE: 'wrongtoken', BT_URL: `${base}/`, BT_TOKEN: 'not-our-token', VERSION: '9.9.9' });
    expect(badtok.code, badtok.out).to.equal(0);
    expect(badtok.out).to.include('still working');

    const st = await status('sentry');
    expect(st.accepted).to.equal(7);
    expect(st.rejected ?? 0).to.equal(0);
    expect((st.items as Record<string, number>).event).to.equal(7);
    expect((st.items as Record<string, number>).session).to.be.at.least(1); // acknowledged and counted, not events
    expect(st.auth_failures).to.be.at.least(2);
    expect((st.responses as Record<string, number>)['403']).to.equal(st.auth_failures);
    const bt = await status('backtrace');
    expect(bt).to.deep.include({ accepted: 7, duplicates: 1, auth_failures: 2 });
    expect(bt.multipart).to.equal(1);
    expect((bt.responses as Record<string, number>)['403']).to.equal(2);
    const metrics = await (await fetch(`${mp!.adminUrl}/metrics`)).text();
    expect(metrics).to.match(/metricport_receiver_auth_failures\{[^}]*receiver="backtrace"[^}]*\} 2/);
    expect(metrics).to.match(/metricport_backtrace_duplicate_reports\{[^}]*\} 1/);

    // --- stop: the open window is flushed to the file
    const statusText = JSON.stringify(await (await fetch(`${mp!.adminUrl}/api/v1/status`)).json());
    const file = join(outDir, 'out.jsonl');
    expect(await mp!.stop()).to.equal(0);
    const logs = mp!.output();
    mp = undefined;
    const pts = filePoints(file);
    const outText = existsSync(file) ? readFileSync(file, 'utf8') : '';

    // Sentry: 6 events from "full" (user-1, 1.2.3) + 1 from "nouser" (hostname, no release)
    expect(series(pts, 'All.count', 'sentry-app', [])).to.deep.equal({ '': 7 });
    expect(series(pts, 'All.unique._tx', 'sentry-app', [])).to.deep.equal({ '': 7 });
    expect(series(pts, 'All.unique.guid', 'sentry-app', [])).to.deep.equal({ '': 2 });
    expect(series(pts, 'ByType.count', 'sentry-app', ['error.type'])).to.deep.equal({
      Exception: 4,
      Message: 1,
      'Unhandled rejection': 1,
      'Unhandled exception': 1,
    });
    expect(series(pts, 'ByClass.count', 'sentry-app', ['error.class'])).to.deep.equal({ TypeError: 3, Message: 1, RangeError: 1, SyntaxError: 1, Error: 1 });
    expect(series(pts, 'ByVersion.count', 'sentry-app', ['application.version'])).to.deep.equal({ '1.2.3': 6, unknown: 1 });
    expect(series(pts, 'ByVersion.unique.guid', 'sentry-app', ['application.version'])).to.deep.equal({ '1.2.3': 1, unknown: 1 });
    const host = hostname();
    expect(series(pts, 'ByHost.count', 'sentry-app', ['hostname', 'environment', 'level', 'handled'])).to.deep.equal({
      [`${host}|production|error|true`]: 4,
      [`${host}|production|info|true`]: 1,
      [`${host}|production|error|false`]: 1,
      [`${host}|production|fatal|false`]: 1,
    });
    const sFp = Object.entries(series(pts, 'ByFingerprint.count', 'sentry-app', ['error.class', 'error.message', 'fingerprint'])).filter(([k]) =>
      k.startsWith('TypeError|same place|'),
    );
    expect(sFp.map(([, v]) => v).sort()).to.deep.equal([1, 2]); // same place twice = one fingerprint, another place = another
    for (const [k] of sFp) expect(k.split('|')[2]).to.match(/^[0-9a-f]{64}$/);

    // Backtrace: 5 (json) + 1 (multipart) + 1 (database, resent once) = 7
    expect(series(pts, 'All.count', 'bt-app', [])).to.deep.equal({ '': 7 });
    expect(series(pts, 'All.unique._tx', 'bt-app', [])).to.deep.equal({ '': 7 });
    expect(series(pts, 'All.unique.guid', 'bt-app', [])).to.deep.equal({ '': 1 }); // one machine
    expect(series(pts, 'ByType.count', 'bt-app', ['error.type'])).to.deep.equal({ Exception: 5, Message: 1, 'Unhandled rejection': 1 });
    expect(series(pts, 'ByClass.count', 'bt-app', ['error.class'])).to.deep.equal({ TypeError: 3, Message: 1, RangeError: 1, Error: 2 });
    expect(series(pts, 'ByVersion.count', 'bt-app', ['application.version'])).to.deep.equal({ '2.0.1': 5, '2.0.2': 1, '2.0.3': 1 });
    expect(series(pts, 'ByVersion.unique.guid', 'bt-app', ['application.version'])).to.deep.equal({ '2.0.1': 1, '2.0.2': 1, '2.0.3': 1 });
    const bFp = Object.entries(series(pts, 'ByFingerprint.count', 'bt-app', ['error.class', 'error.message', 'fingerprint'])).filter(([k]) =>
      k.startsWith('TypeError|same place|'),
    );
    expect(bFp.map(([, v]) => v).sort()).to.deep.equal([1, 2]);
    expect(series(pts, 'All.count', 'unused-default', [])).to.deep.equal({});

    // secrets: the apps' environment (Backtrace sends all of process.env as annotations), keys and tokens
    for (const [what, text] of [
      ['logs', logs],
      ['status', statusText],
      ['/metrics', metrics],
      ['exported data', outText],
    ] as const) {
      expect(text, what).to.not.include(FAKE_SECRET);
      expect(text, what).to.not.include(SENTRY_KEY);
      expect(text, what).to.not.include(BT_TOKEN);
      expect(text, what).to.not.include('not-our-token');
    }
    expect(logs).to.include('"level":"debug"'); // the scan ran over debug-level logs
  });
});
