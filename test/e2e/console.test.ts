/**
 * The console in real headless Chromium (Debian chromium driven by
 * playwright-core) against the built service: log in, send a known event
 * stream, build "group by app.version, unique(_tx), unique(guid)" in Explore
 * and read the exact values in the table, export it as a metric into a new
 * set: the config file holds it (its comments unchanged, the previous file
 * kept as .bak), the service reloaded, and a real Prometheus scraping the
 * pull store gets the new series. Security: no token → login page / 401, a
 * wrong token refused, a cross-site POST refused, an attribute holding
 * <script> shown as text, no credential in any page or API answer.
 * Screenshots of every page: `UPDATE_SCREENSHOTS=1` writes them to
 * docs/images/ (the README's tour), else to a temporary directory.
 */
import { expect } from 'chai';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../harness/browser.js';
import { startInfluxDB, startPostgres, startPrometheus, usePeer, type InfluxDBPeer, type PostgresPeer, type PrometheusPeer } from '../harness/peers.js';
import { registerSecret } from '../secretscan.js';
import { freePort, waitFor } from '../harness/ports.js';
import { ROOT, startMetricport, tempDir, type Started } from './metricport.js';

const TOKEN = 'SECRET-console-admin-token-7f3a9c';
const PULL_TOKEN = 'SECRETpulltoken0123456789abcdef';
const XSS = '<script>window.__xss=1</script>';
const INFLUX_PASSWORD = 'SECRET-influx-right-pw-5521';
const WRONG_PASSWORD = 'SECRET-influx-wrong-pw-9034';
registerSecret(TOKEN);
registerSecret(INFLUX_PASSWORD);
registerSecret(WRONG_PASSWORD);

describe('e2e: the console in headless Chromium', function () {
  this.timeout(180_000);
  let mp: Started | undefined;
  let prom: PrometheusPeer | undefined;
  let influx: InfluxDBPeer | undefined;
  let pg: PostgresPeer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let configFile = '';
  let original = '';
  const seen: string[] = [];

  before(async function () {
    await usePeer(this, 'prometheus', 'chromium', 'influxdb', 'postgres');
    pg = await startPostgres();
    await pg.psql(`create table sessions (version text, n int, time timestamptz not null);
      insert into sessions values ('3.16.2', 5, date_trunc('second', now()) - interval '10 minutes'), ('3.16.4', 7, date_trunc('second', now()) - interval '5 minutes')`);
    const promPort = await freePort();
    influx = await startInfluxDB({ auth: { username: 'admin', password: INFLUX_PASSWORD } });
    await influx.createDatabase('errors');
    mp = await startMetricport(
      `# yaml-language-server: $schema=../docs/metricport.schema.json
# The console test's config. This comment, and the ones below, must survive an export.
receivers:
  errors: { endpoint: "{{OTLP}}" }   # error events in
  importer/sessions:
    source: postgres
    port: ${pg.port}
    database: ${pg.database}
    user: ${pg.user}
    importers:
      - name: SessionsStarted
        query: select version, n, time from sessions where time >= $1 and time < $2 order by time
        value_column: n
        attributes: { version: app.version }
        metric: { name: sessions_started, kind: delta_sum }
        history: 1h
        period: 1h

processors:
  metricsets:
    period: 2s
    allowed_lateness: 300ms
    sets:
      - name: Existing        # a set that was here before
        metrics:
          - { name: AllErrors, aggregates: [count] }

exporters:
  # scraped by Prometheus at its secret URL
  prometheus: { endpoint: "127.0.0.1:${promPort}", token: ${PULL_TOKEN} }
  # a real InfluxDB with auth: a wrong password here; the right one is added from the console's store form
  influxdb/wrongpw: { endpoint: "${influx.url}", db: errors, period: 2s, username: admin, password: "\${env:INFLUX_WRONG_PW}", retry_on_failure: { enabled: false } }

service:
  pipelines:
    errors: { receivers: [errors], processors: [metricsets], exporters: [prometheus, influxdb/wrongpw] }
    sessions: { receivers: [importer/sessions], exporters: [prometheus] }
`,
      {
        env: { METRICPORT_ADMIN_TOKEN: TOKEN, INFLUX_WRONG_PW: WRONG_PASSWORD },
        args: ['--admin-console-allow-config-changes', 'true'],
      },
    );
    configFile = join(mp.dir, 'config.yaml');
    original = readFileSync(configFile, 'utf8');
    prom = await startPrometheus({ scrapeTargets: [{ target: `127.0.0.1:${promPort}`, metricsPath: `/${PULL_TOKEN}/metrics` }], scrapeInterval: '1s' });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('response', (r) => {
      if (r.url().startsWith(mp!.adminUrl))
        void r.text().then(
          (t) => seen.push(`${r.url()}\n${t}`),
          () => undefined,
        );
    });
  });
  after(async () => {
    await browser?.close();
    await prom?.stop();
    await mp?.stop();
    await influx?.stop();
    await pg?.stop();
    if (shotDir !== join(ROOT, 'docs', 'images')) rmSync(shotDir, { recursive: true, force: true });
  });

  // docs/images/ is refreshed only on request (UPDATE_SCREENSHOTS=1), so a test run leaves the checkout clean
  const shotDir = process.env.UPDATE_SCREENSHOTS === '1' ? join(ROOT, 'docs', 'images') : tempDir();
  const shot = async (name: string) => {
    await page.screenshot({ path: join(shotDir, `console-${name}.png`), fullPage: name === 'explore' || name === 'metric-sets' || name === 'add-store' });
  };
  const sendEvents = async (tag: string) => {
    const now = Date.now();
    const events: unknown[] = [];
    // 2.0: 12 errors from 3 users; 2.1: 5 errors from 2 users (each sent twice: a resend must not count); one with a hostile version
    for (let i = 0; i < 12; i++) events.push({ timestamp: now - 50 - i, attributes: { _tx: `${tag}-a${i}`, guid: `u${i % 3}`, 'app.version': '2.0' } });
    for (let i = 0; i < 5; i++)
      for (let d = 0; d < 2; d++) events.push({ timestamp: now - 40 - i, attributes: { _tx: `${tag}-b${i}`, guid: `v${i % 2}`, 'app.version': '2.1' } });
    events.push({ timestamp: now - 30, attributes: { _tx: `${tag}-x`, guid: 'evil', 'app.version': XSS } });
    const r = await fetch(`${mp!.otlpUrl}/v1/errors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
    expect(r.status).to.equal(200);
  };

  it('without the token: pages go to the login form, API calls get 401; a wrong token is refused', async () => {
    const base = mp!.adminUrl;
    const html = await fetch(`${base}/console/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(html.status).to.equal(303);
    expect(html.headers.get('location')).to.equal('/console/login');
    const root = await fetch(`${base}/`, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(root.status).to.equal(303);
    for (const p of ['/api/v1/status', '/api/v1/stores', '/api/v1/console', '/api/v1/metricsets', '/api/v1/explore/attributes']) {
      expect((await fetch(`${base}${p}`)).status, p).to.equal(401);
    }
    expect((await fetch(`${base}/api/v1/explore`, { method: 'POST', body: '{}' })).status).to.equal(401);
    expect((await fetch(`${base}/api/v1/console/export`, { method: 'POST', body: '{}' })).status).to.equal(401);
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).to.equal('/console/login');
    await shot('login');
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('That is not the admin token.').waitFor();
    expect(new URL(page.url()).pathname).to.equal('/console/login');
  });

  it('logs in; the session cookie is HttpOnly and SameSite=Strict; the Overview draws the pipeline', async () => {
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/console\/#?/);
    const cookies = await page.context().cookies();
    const c = cookies.find((x) => x.name === 'mp_session')!;
    expect(c.httpOnly).to.equal(true);
    expect(c.sameSite).to.equal('Strict');
    expect(c.value).to.not.contain(TOKEN);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.locator('.node', { hasText: 'metricsets' }).waitFor();
    expect(await page.locator('.pipeline h2').first().innerText()).to.match(/^errors/);
    // once the page has two status readings (rates shown), the events must show as a rate without a reload
    await waitFor(async () => (await page.locator('.node .rate').allInnerTexts()).some((t) => t === '0/s'), {
      timeoutMs: 15_000,
      what: 'the first rates on the overview',
    });
    await sendEvents('one');
    await waitFor(async () => (await page.locator('.node .rate').allInnerTexts()).some((t) => /^[1-9]/.test(t)), {
      timeoutMs: 15_000,
      what: 'a live rate on the overview',
    });
    await shot('overview');
  });

  it('Explore: group by app.version, unique(_tx), unique(guid) reads exactly the expected values; <script> stays text', async () => {
    await page.getByRole('link', { name: 'Explore' }).click();
    await page.getByRole('heading', { name: 'Explore' }).waitFor();
    await page.locator('#group-by-input').fill('app.version');
    await page.getByRole('button', { name: 'Add group by' }).click();
    await page.locator('.agg-kind').first().selectOption('unique');
    await page.locator('.agg-attr').first().fill('_tx');
    await page.getByRole('button', { name: 'Add aggregate' }).click();
    await page.locator('.agg-kind').nth(1).selectOption('unique');
    await page.locator('.agg-attr').nth(1).fill('guid');
    await page.getByRole('button', { name: 'Run query' }).click();
    await page.locator('.explore-table tbody tr').first().waitFor();
    const rows = await page
      .locator('.explore-table tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows).to.deep.equal([
      ['2.0', '12', '3'],
      ['2.1', '5', '2'],
      [XSS, '1', '1'],
    ]);
    expect(await page.locator('.explore-table thead').innerText()).to.match(/app\.version\s+unique\(_tx\)\s+unique\(guid\)/);
    expect(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss)).to.equal(undefined);
    expect(await page.locator('.explore-table script').count()).to.equal(0);
    await page.locator('.chart canvas').first().waitFor();
    await shot('explore');
  });

  it('Export as metric into a new set: the file holds it with its comments, the service reloads, Prometheus scrapes the series', async () => {
    await page.getByRole('button', { name: 'Export as metric' }).click();
    await page.locator('#export-name').fill('ErrorsByVersion');
    await page.locator('#export-set').selectOption('__new__');
    await page.locator('#export-new-set').fill('ProjectX');
    await page.locator('pre.yaml').waitFor();
    const yaml = await page.locator('pre.yaml').innerText();
    expect(yaml)
      .to.contain('name: ProjectX')
      .and.to.contain('name: ErrorsByVersion')
      .and.to.contain('group_by: [ app.version ]')
      .and.to.contain('aggregates: [ unique(_tx), unique(guid) ]');
    await shot('export');
    await page.getByRole('button', { name: 'Save to config' }).click();
    await page.getByText(/Saved into config\.yaml/).waitFor({ timeout: 20_000 });
    const now = readFileSync(configFile, 'utf8');
    expect(readFileSync(`${configFile}.bak`, 'utf8')).to.equal(original);
    // every line of the original is still there, comments included, in order
    const kept = original.split('\n').filter((l) => l.trim() !== '');
    let at = 0;
    for (const line of now.split('\n')) if (line === kept[at]) at++;
    expect(at, `original lines kept in order (stopped at ${JSON.stringify(kept[at])})`).to.equal(kept.length);
    expect(now).to.contain('# error events in').and.to.contain('# a set that was here before').and.to.contain('# scraped by Prometheus at its secret URL');
    expect(now).to.match(
      /- name: ProjectX\n\s+metrics:\n\s+- name: ErrorsByVersion\n\s+group_by: \[ app\.version \]\n\s+aggregates: \[ unique\(_tx\), unique\(guid\) \]/,
    );
    // the running service has it
    const sets = (await (await fetch(`${mp!.adminUrl}/api/v1/metricsets`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      metricsets: Array<{ name: string; metrics: Array<{ name: string }> }>;
    };
    expect(sets.metricsets.map((s) => s.name)).to.deep.equal(['Existing', 'ProjectX']);
    // the next period's events reach Prometheus under the new metric
    await page.getByRole('button', { name: 'Close' }).click();
    let values: Record<string, number> = {};
    await waitFor(
      async () => {
        await sendEvents(`p${Date.now()}`);
        values = Object.fromEntries((await prom!.queryValues('{__name__=~"ErrorsByVersion_unique.*tx.*"}')).map((s) => [s.metric.app_version!, s.value]));
        return values['2.0'] === 12 && values['2.1'] === 5;
      },
      { timeoutMs: 40_000, intervalMs: 2000, what: 'ErrorsByVersion in Prometheus' },
    );
    expect(values['2.0']).to.equal(12);
  });

  it('Metric sets, Metric stores and Importers pages; screenshots at 1280×800 and on a phone', async () => {
    await page.getByRole('link', { name: 'Metric sets' }).click();
    await page.getByRole('heading', { name: 'ProjectX' }).waitFor();
    await page.getByText('unique(_tx), unique(guid)').first().waitFor();
    await shot('metric-sets');
    await page.getByRole('link', { name: 'Metric stores' }).click();
    const row = page.locator('tr[data-store="prometheus"]');
    await row.waitFor();
    const text = await row.innerText();
    expect(text).to.contain('prometheus').and.to.contain('pull').and.to.contain(`/${PULL_TOKEN}/metrics`);
    // add the InfluxDB store with the right password from the form generated from the influxdb schema
    await page.getByRole('button', { name: 'Add a metric store' }).click();
    await page.getByLabel('Adapter').selectOption('influxdb');
    await page.getByRole('checkbox', { name: 'errors' }).check();
    // without the required endpoint: nothing written, the error next to its field
    await page.getByRole('button', { name: 'Add store' }).click();
    const endpointError = page.locator('.field:has(#store-field-endpoint) .field-error');
    await endpointError.waitFor();
    expect(await endpointError.innerText()).to.match(/required/);
    expect(readFileSync(configFile, 'utf8')).to.not.match(/^  influxdb:/m);
    await page.locator('#store-field-endpoint').fill(influx!.url);
    await page.locator('#store-field-db').fill('errors');
    await page.locator('#store-field-period').fill('2s');
    await page.locator('#store-field-username').fill('admin');
    await page.locator('#store-field-password').fill(INFLUX_PASSWORD);
    await shot('add-store');
    await page.getByRole('button', { name: 'Add store' }).click();
    await waitFor(async () => (await page.locator('.add-store-result').innerText()).startsWith('Added influxdb to config.yaml'), {
      timeoutMs: 20_000,
      what: 'the store added',
    });
    // the password is write-only: gone from the form, not in the config file; kept in a 0600 file referenced as ${file:…}
    expect(await page.locator('#store-field-password').inputValue()).to.equal('');
    const cfgNow = readFileSync(configFile, 'utf8');
    expect(cfgNow).to.not.contain(INFLUX_PASSWORD);
    const ref = /password: \$\{file:([^}]+)\}/.exec(cfgNow);
    expect(ref, cfgNow).to.not.equal(null);
    expect(readFileSync(ref![1]!, 'utf8')).to.equal(INFLUX_PASSWORD);
    expect(statSync(ref![1]!).mode & 0o777).to.equal(0o600);
    expect(cfgNow).to.match(/exporters: \[\s*prometheus, influxdb\/wrongpw, influxdb\s*\]/);
    expect(await page.locator('.yaml-added').innerText()).to.not.contain(INFLUX_PASSWORD);
    // its status turns to "last transmission: just now"
    const good = page.locator('tr[data-store="influxdb"]');
    await waitFor(async () => /last transmission: just now/.test(await good.innerText()), { timeoutMs: 20_000, what: 'influxdb: last transmission just now' });
    expect(await good.innerText())
      .to.contain('push')
      .and.to.contain('2 s');
    // the wrong password: its last error, without the password
    const bad = page.locator('tr[data-store="influxdb/wrongpw"]');
    await waitFor(async () => /401|auth/i.test(await bad.locator('.lasterror').innerText()), { timeoutMs: 20_000, what: 'influxdb/wrongpw: the last error' });
    expect(await bad.innerText()).to.contain('last transmission: never');
    const html = await page.content();
    for (const secret of [WRONG_PASSWORD, INFLUX_PASSWORD, TOKEN]) expect(html).to.not.contain(secret);
    await shot('metric-stores');
    // edit the store added above: its options filled in from the file, the password never (it stays as it is)
    await page.getByRole('button', { name: 'edit influxdb', exact: true }).click();
    await page.getByRole('heading', { name: 'Edit influxdb' }).waitFor();
    const editForm = page.locator('form.edit-store');
    expect(await editForm.locator('#edit-field-endpoint').inputValue()).to.equal(influx!.url);
    expect(await editForm.locator('#edit-field-period').inputValue()).to.equal('2s');
    expect(await editForm.locator('#edit-field-password').inputValue()).to.equal('');
    expect(await editForm.locator('label[for="edit-field-password"]').innerText()).to.contain('(secret, set)');
    await editForm.locator('#edit-field-period').fill('4s'); // a multiple of the metric sets' 2 s window
    await shot('edit-store');
    await editForm.getByRole('button', { name: 'Save store' }).click();
    await waitFor(async () => (await editForm.locator('.add-store-result').innerText()).startsWith('Saved influxdb in config.yaml'), {
      timeoutMs: 20_000,
      what: 'the store saved',
    });
    const edited = readFileSync(configFile, 'utf8');
    expect(/^ {2}influxdb:\n((?: {4}.*\n)+)/m.exec(edited)?.[1]).to.match(/^ {4}period: 4s$/m);
    expect(/password: \$\{file:([^}]+)\}/.exec(edited)![1]).to.equal(ref![1]); // the password file kept
    await waitFor(async () => (await good.innerText()).includes('4 s'), { timeoutMs: 20_000, what: 'influxdb: period 4 s in the status' });
    await waitFor(async () => /last transmission: just now/.test(await good.innerText()), { timeoutMs: 20_000, what: 'influxdb still transmitting' });
    // remove the wrong-password store: asked to confirm, then gone from the exporters, the pipeline and the table
    await page.getByRole('button', { name: 'remove influxdb/wrongpw' }).click();
    await page.getByRole('button', { name: 'Remove influxdb/wrongpw from the config' }).click();
    await waitFor(
      async () => (await page.locator('.store-change-result').innerText()).startsWith('Removed influxdb/wrongpw from config.yaml and from errors'),
      {
        timeoutMs: 20_000,
        what: 'the store removed',
      },
    );
    const removed = readFileSync(configFile, 'utf8');
    expect(removed).to.not.contain('influxdb/wrongpw');
    expect(removed).to.match(/exporters: \[prometheus, influxdb\]/);
    // the comment above the store goes with it; the others stay
    expect(removed).to.not.contain('# a real InfluxDB with auth: a wrong password here');
    expect(removed).to.contain('# scraped by Prometheus at its secret URL').and.to.contain('# a set that was here before');
    await waitFor(async () => (await page.locator('tr[data-store="influxdb/wrongpw"]').count()) === 0, { timeoutMs: 20_000, what: 'the row gone' });
    // the last exporter of a pipeline cannot be removed: the reason, and the file unchanged
    await page.getByRole('button', { name: 'remove prometheus' }).click();
    await page.getByRole('button', { name: 'Remove prometheus from the config' }).click();
    await waitFor(
      async () => /service\.pipelines\.sessions: needs at least one entry in "exporters"/.test(await page.locator('.store-change-result').innerText()),
      {
        timeoutMs: 20_000,
        what: 'the refusal',
      },
    );
    expect(readFileSync(configFile, 'utf8')).to.equal(removed);
    await page.getByRole('link', { name: 'Importers' }).click();
    await page.getByRole('button', { name: 'Run test query SessionsStarted' }).click();
    await page.locator('table.test-rows tbody tr').nth(1).waitFor();
    const rows = await page
      .locator('table.test-rows tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent)));
    expect(rows).to.deep.equal([
      ['sessions_started', 'app.version=3.16.2', '5'],
      ['sessions_started', 'app.version=3.16.4', '7'],
    ]);
    expect(await page.locator('.test-result [role=status]').innerText()).to.match(/^2 rows \(version, n, time\)/);
    await shot('importers');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Explore' }).click();
    await page.getByRole('heading', { name: 'Explore' }).waitFor();
    await shot('explore-phone');
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('accessibility: every control of every page has a name, Tab starts at the skip link into the content, and dark mode follows the system', async () => {
    // the names a screen reader announces: a <label>, aria-label or aria-labelledby, or a button's own text
    const unnamed = () =>
      page.locator('input, select, textarea, button, a[href]').evaluateAll((els) =>
        els
          .filter((el: any) => el.offsetParent !== null)
          .filter((el: any) => {
            const labels = el.labels as ArrayLike<unknown> | null | undefined;
            const named =
              (labels !== undefined && labels !== null && labels.length > 0) ||
              (el.getAttribute('aria-label') ?? '') !== '' ||
              (el.getAttribute('aria-labelledby') ?? '') !== '' ||
              ((el.tagName === 'BUTTON' || el.tagName === 'A') && (el.textContent ?? '').trim() !== '');
            return !named;
          })
          .map((el) => el.outerHTML.slice(0, 120)),
      );
    for (const [link, heading] of [
      ['Overview', 'Overview'],
      ['Explore', 'Explore'],
      ['Metric sets', 'Metric sets'],
      ['Metric stores', 'Metric stores'],
      ['Importers', 'Importers'],
    ] as const) {
      await page.getByRole('link', { name: link, exact: true }).click();
      await page.getByRole('heading', { name: heading, exact: true, level: 1 }).waitFor();
      if (link === 'Metric stores') await page.getByRole('button', { name: 'Add a metric store' }).click();
      expect(await unnamed(), `controls without a name on ${link}`).to.deep.equal([]);
    }
    // keyboard: the first Tab lands on the skip link, Enter moves the focus into the content
    await page.goto(`${mp!.adminUrl}/console/#/explore`);
    await page.reload(); // a fresh document: the focus starts at its top
    await page.getByRole('heading', { name: 'Explore', level: 1 }).waitFor();
    const focused = () => page.evaluate('document.activeElement && (document.activeElement.id || document.activeElement.textContent.trim())');
    const order: unknown[] = [];
    for (let i = 0; i < 7; i++) {
      await page.keyboard.press('Tab');
      order.push(await focused());
    }
    // the skip link, the pages, log out, then Explore's own controls
    expect(order).to.deep.equal(['Skip to content', 'Overview', 'Explore', 'Metric sets', 'Metric stores', 'Importers', 'Log out']);
    for (let i = 0; i < 6; i++) await page.keyboard.press('Shift+Tab'); // and back
    expect(await focused()).to.equal('Skip to content');
    await page.keyboard.press('Enter');
    await waitFor(async () => (await focused()) === 'main', { timeoutMs: 5_000, what: 'focus in the content' });
    // dark: the page's colours follow prefers-color-scheme
    const bg = () => page.evaluate('getComputedStyle(document.body).backgroundColor');
    expect(await bg()).to.equal('rgb(251, 251, 253)');
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await bg()).to.equal('rgb(21, 23, 28)');
    await page.getByRole('link', { name: 'Overview', exact: true }).click();
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await shot('overview-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('a cross-site POST is refused even with the session; the pages carry a strict CSP; no admin token anywhere', async () => {
    const cookie = (await page.context().cookies()).find((x) => x.name === 'mp_session')!;
    const r = await fetch(`${mp!.adminUrl}/api/v1/console/export`, {
      method: 'POST',
      headers: { cookie: `mp_session=${cookie.value}`, origin: 'http://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ set: 'X', metric: { name: 'Y', aggregates: ['count'] } }),
    });
    expect(r.status).to.equal(403);
    const same = await fetch(`${mp!.adminUrl}/api/v1/console`, { headers: { cookie: `mp_session=${cookie.value}` } });
    expect(same.status).to.equal(200);
    const html = await fetch(`${mp!.adminUrl}/console/`, { headers: { cookie: `mp_session=${cookie.value}` } });
    expect(html.headers.get('content-security-policy')).to.equal(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    expect(seen.length).to.be.greaterThan(10);
    for (const s of seen) for (const secret of [TOKEN, INFLUX_PASSWORD, WRONG_PASSWORD]) expect(s, s.slice(0, 200)).to.not.contain(secret);
  });
});
