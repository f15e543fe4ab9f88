/**
 * A real browser (issue 17): the unmodified @sentry/browser, bundled by
 * esbuild into a test page served on another loopback port (so the page's
 * origin differs from metricport's), running in headless Debian Chromium
 * driven by playwright-core. The page throws, rejects a promise and records a
 * session; the errors and the session arrive at the built service through
 * CORS and are counted once. A page from an origin not in
 * `cors.allowed_origins` is refused by the browser's CORS check (asserted in
 * the page) and by metricport (403, counted); nothing of it is counted.
 */
import { expect } from 'chai';
import { build } from 'esbuild';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { registerSecret } from '../secretscan.js';
import { findBinary, usePeer } from '../harness/peers.js';
import { freePort, waitFor } from '../harness/ports.js';
import { ROOT, startMetricport, tempDir, type Started } from './metricport.js';

const KEY = 'e2ebrowsersentrykey0123456789';
registerSecret(KEY);

/** @sentry/browser as a page script: `window.Sentry` (everything from the npm package, nothing from a CDN). */
async function bundleSentry(): Promise<string> {
  const r = await build({
    stdin: { contents: "import * as Sentry from '@sentry/browser'; window.Sentry = Sentry;", resolveDir: ROOT, loader: 'js' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    write: false,
    minify: true,
    logLevel: 'silent',
  });
  return r.outputFiles[0]!.text;
}

/** The page: init with the DSN and release from the query, then a throw and a rejection; `window.result` resolves when both were sent. */
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>shop</title><script src="/sentry.js"></script></head><body><script>
window.result = (async () => {
  const q = new URLSearchParams(location.search);
  let captured = 0;
  Sentry.init({
    dsn: q.get('dsn'), release: q.get('release'), environment: 'web',
    initialScope: { user: { id: q.get('user') } },
    beforeSend(event) { captured++; return event; },
  });
  const out = {};
  if (q.get('raw')) {
    // a fetch with a JSON Content-Type: preflighted; its answer is readable only if metricport allows this origin
    try {
      const r = await fetch(q.get('raw'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}\\n{"type":"client_report"}\\n{"discarded_events":[]}' });
      out.raw = 'status ' + r.status + ' ' + (await r.text());
    } catch (e) { out.raw = String(e); }
  }
  setTimeout(() => { throw new TypeError('thrown in the page'); }, 10);
  setTimeout(() => { Promise.reject(new RangeError('rejected in the page')); }, 50);
  const t0 = Date.now();
  while (captured < 2 && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 50));
  out.captured = captured;
  out.flushed = await Sentry.flush(10000);
  return out;
})();
</script></body></html>`;

/** A page server on its own loopback port (its own origin). */
function pageServer(js: string, port: number): Promise<{ origin: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/sentry.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(js);
      return;
    }
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
      return;
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve) =>
    server.listen(port, '127.0.0.1', () =>
      resolve({
        origin: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((r) => {
            server.closeAllConnections();
            server.close(() => r());
          }),
      }),
    ),
  );
}

interface Ev {
  attributes: Record<string, unknown>;
}

describe('e2e: @sentry/browser in headless Chromium → CORS → the sentry receiver', function () {
  this.timeout(180_000);
  let mp: Started | undefined;
  let browser: Browser | undefined;
  let allowed: { origin: string; close: () => Promise<void> } | undefined;
  let other: { origin: string; close: () => Promise<void> } | undefined;
  let outDir = '';

  before(async function () {
    await usePeer(this, 'chromium');
    const js = await bundleSentry();
    allowed = await pageServer(js, await freePort());
    other = await pageServer(js, await freePort());
    outDir = tempDir();
    mp = await startMetricport(`
receivers:
  sentry:
    endpoint: "{{OTLP}}"
    keys: [ { key: ${KEY}, application: web } ]
    sessions: { enabled: true }
    cors: { allowed_origins: ["${allowed.origin}"] }
exporters:
  file: { path: "${join(outDir, 'events.jsonl')}", flush_interval: 100ms }
service:
  pipelines:
    events: { receivers: [sentry], exporters: [file] }
`);
    browser = await chromium.launch({
      executablePath: findBinary('chromium')!,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(async () => {
    await browser?.close();
    await mp?.stop();
    await allowed?.close();
    await other?.close();
    if (outDir !== '') rmSync(outDir, { recursive: true, force: true });
  });

  const counters = async () =>
    ((await (await fetch(`${mp!.adminUrl}/api/v1/status`)).json()) as { receivers: Array<{ id: string; counters: Record<string, unknown> }> }).receivers.find(
      (r) => r.id === 'sentry',
    )!.counters as Record<string, unknown> & { sessions: Record<string, number>; items: Record<string, number>; responses: Record<string, number> };
  const events = (): Ev[] => {
    const f = join(outDir, 'events.jsonl');
    if (!existsSync(f)) return [];
    return readFileSync(f, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .flatMap((l) => (JSON.parse(l) as { events: Ev[] }).events);
  };
  const open = async (origin: string, q: Record<string, string>) => {
    const page = await browser!.newPage();
    const console: string[] = [];
    page.on('console', (m) => {
      console.push(m.text());
    });
    await page.goto(`${origin}/?${new URLSearchParams(q).toString()}`);
    const result = await page.evaluate(() => (globalThis as unknown as { result: Promise<Record<string, unknown>> }).result);
    await page.close();
    return { result, console };
  };

  it('an allowed page: its throw, its rejection and its session arrive, each counted once; a preflighted fetch is answered', async () => {
    const dsn = `http://${KEY}@127.0.0.1:${mp!.otlpPort}/3`;
    const raw = `http://127.0.0.1:${mp!.otlpPort}/api/3/envelope/?sentry_key=${KEY}`;
    const { result } = await open(allowed!.origin, { dsn, release: 'web@5.1.0', user: 'visitor-1', raw });
    expect(result).to.deep.equal({ raw: 'status 200 {}', captured: 2, flushed: true });
    await waitFor(() => events().length >= 3, { timeoutMs: 15_000, what: 'two errors and a session in the file' });
    const evs = events();
    const errors = evs.filter((e) => e.attributes['event.kind'] === undefined);
    const sessions = evs.filter((e) => e.attributes['event.kind'] === 'session');
    expect(
      errors
        .map((e) => [e.attributes['error.type'], e.attributes['error.class'], e.attributes['error.message'], e.attributes['app.version'], e.attributes.guid])
        .sort(),
    ).to.deep.equal([
      ['Unhandled exception', 'TypeError', 'thrown in the page', '5.1.0', 'visitor-1'],
      ['Unhandled rejection', 'RangeError', 'rejected in the page', '5.1.0', 'visitor-1'],
    ]);
    // the page's session: sent at load (ok) and again when the unhandled error ended it: one session, in its final state
    expect(
      sessions.map((e) => [
        e.attributes['session.status'],
        e.attributes['session.outcome'],
        e.attributes['session.errors'],
        e.attributes['app.version'],
        e.attributes.guid,
        e.attributes.environment,
      ]),
    ).to.deep.equal([['unhandled', 'errored', 1, '5.1.0', 'visitor-1', 'web']]);
    const c = await counters();
    expect(c.items.session).to.equal(2);
    expect(c.sessions).to.deep.include({ updates: 2, ended: 1, ignored: 0, open: 0 });
    expect(c).to.deep.include({ cors_preflights: 1, cors_refused: 0, duplicates: 0 });
  });

  it('a page from an origin not allowed: the browser refuses it (seen in the page), metricport refuses it (403, counted), nothing is counted', async () => {
    const before = events().length;
    const dsn = `http://${KEY}@127.0.0.1:${mp!.otlpPort}/3`;
    const raw = `http://127.0.0.1:${mp!.otlpPort}/api/3/envelope/?sentry_key=${KEY}`;
    const { result, console } = await open(other!.origin, { dsn, release: 'web@5.1.0', user: 'visitor-2', raw });
    // the preflight got 403 without Access-Control-Allow-Origin: the page's fetch fails its CORS check
    expect(result.raw).to.match(/^TypeError: Failed to fetch/);
    expect(result.captured).to.equal(2);
    expect(console.join('\n')).to.match(/blocked by CORS policy/);
    const c = await counters();
    // the preflight, the session at load, two errors (and whatever session update follows): all refused
    expect(c.cors_refused as number).to.be.at.least(4);
    expect(c.responses['403']).to.equal(c.cors_refused);
    expect(c.cors_preflights).to.equal(1);
    expect(events().length).to.equal(before);
    expect(c.sessions).to.deep.include({ updates: 2, ended: 1 });
  });
});
