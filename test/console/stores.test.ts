/**
 * The console's store routes (src/console/stores.ts) on a real config file
 * and the real registry's validation: list, edit (options set and removed,
 * a secret replaced, pipelines), remove, and what each refuses, with the file
 * and the state directory's secret files checked after every call. The
 * browser test (test/e2e/console.test.ts) drives the same routes from the
 * form against a real InfluxDB.
 */
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteStoreRoute, listStoresRoute, updateStoreRoute } from '../../src/console/stores.js';
import type { AdminContext, AdminReply } from '../../src/extension.js';
import { captureLogger } from '../helpers/logs.js';

const OLD_PW = 'SECRET-old-influx-pw-4411';
const NEW_PW = 'SECRET-new-influx-pw-8820';

describe('console: edit and remove metric stores', () => {
  let dir = '';
  let file = '';
  let secrets = '';
  let oldSecret = '';
  let reloads = 0;
  let reloadOk = true;
  let ctx: AdminContext;

  const config = () => `# the test's config: this comment stays
receivers:
  otlp: {}
exporters:
  prometheus: { endpoint: "127.0.0.1:9464" } # scraped
  influxdb/a:
    endpoint: http://writer:hunter2@127.0.0.1:8086
    db: metrics
    period: 10s
    username: admin
    password: \${file:${oldSecret}}
    sending_queue: { queue_size: 100 } # nested: kept as written
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheus, influxdb/a] }
    metrics/other: { receivers: [otlp], exporters: [prometheus, influxdb/a] }
    metrics/scrape: { receivers: [otlp], exporters: [prometheus] }
`;
  const json = (r: AdminReply) => r.json as Record<string, any>;
  const put = (id: string, body: unknown) => updateStoreRoute(id, Buffer.from(JSON.stringify(body)), ctx);
  const files = () => readdirSync(secrets).sort();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mp-stores-'));
    secrets = join(dir, 'state', 'console-secrets');
    mkdirSync(secrets, { recursive: true });
    oldSecret = join(secrets, 'influxdb_a.password.0ld');
    writeFileSync(oldSecret, OLD_PW, { mode: 0o600 });
    file = join(dir, 'config.yaml');
    writeFileSync(file, config());
    reloads = 0;
    reloadOk = true;
    ctx = {
      logger: captureLogger().logger,
      console: {
        enabled: true,
        allowConfigChanges: true,
        configFile: file,
        stateDir: join(dir, 'state'),
        reload: () => {
          reloads++;
          return Promise.resolve(reloadOk ? { ok: true } : { ok: false, error: 'refused by the test' });
        },
      },
    } as unknown as AdminContext;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lists the stores of the file: options as written (a URL password masked), which secrets are set, the pipelines; never a secret', async () => {
    const r = json(await listStoresRoute(ctx));
    expect(r.writable).to.equal(true);
    const a = r.stores.find((s: any) => s.id === 'influxdb/a');
    expect(a.type).to.equal('influxdb');
    expect(a.options).to.include({ endpoint: 'http://writer:***@127.0.0.1:8086/', db: 'metrics', period: '10s', username: 'admin' });
    expect(a.secrets.password).to.equal(true);
    expect(a.pipelines).to.deep.equal(['metrics', 'metrics/other']);
    expect(r.stores.find((s: any) => s.id === 'prometheus').pipelines).to.deep.equal(['metrics', 'metrics/other', 'metrics/scrape']);
    const text = JSON.stringify(r);
    for (const s of [OLD_PW, 'hunter2']) expect(text).to.not.contain(s);
  });

  it('edits: an option set, one back to its default, the secret replaced (old file removed), pipelines; the rest as written', async () => {
    const r = await put('influxdb/a', { options: { db: 'm2', period: '' }, secrets: { password: NEW_PW }, pipelines: ['metrics'] });
    expect(r.status, JSON.stringify(r.json)).to.equal(undefined);
    expect(json(r)).to.include({ status: 'updated', store: 'influxdb/a', backup: 'config.yaml.bak' });
    expect(json(r).pipelines).to.deep.equal(['metrics']);
    expect(reloads).to.equal(1);
    const now = readFileSync(file, 'utf8');
    expect(now).to.contain("# the test's config: this comment stays").and.to.contain('sending_queue: { queue_size: 100 } # nested: kept as written');
    expect(now).to.match(/^    db: m2$/m);
    expect(now).to.not.match(/period: 10s/);
    expect(now).to.match(/metrics: \{ receivers: \[otlp\], exporters: \[prometheus, influxdb\/a\] \}/);
    expect(now).to.match(/metrics\/other: \{ receivers: \[otlp\], exporters: \[prometheus\] \}/);
    expect(readFileSync(`${file}.bak`, 'utf8')).to.equal(config());
    const ref = /password: \$\{file:([^}]+)\}/.exec(now)![1]!;
    expect(ref).to.not.equal(oldSecret);
    expect(readFileSync(ref, 'utf8')).to.equal(NEW_PW);
    expect(statSync(ref).mode & 0o777).to.equal(0o600);
    expect(files()).to.deep.equal([ref.slice(secrets.length + 1)]);
    expect(now).to.not.contain(NEW_PW);
    expect(JSON.stringify(r.json)).to.not.contain(NEW_PW);
  });

  it('refuses a change that would not validate, with the field, and leaves the file and the secrets as they were', async () => {
    const r = await put('influxdb/a', { options: { period: 'soon' }, secrets: { password: NEW_PW } });
    expect(r.status).to.equal(400);
    expect(json(r).errors.map((e: any) => e.field)).to.include('period');
    expect(json(r).error).to.match(/nothing was written/);
    expect(readFileSync(file, 'utf8')).to.equal(config());
    expect(files()).to.deep.equal(['influxdb_a.password.0ld']);
    expect(reloads).to.equal(0);
    // an unknown option and a secret given as an option: each with its field, nothing read further
    const u = await put('influxdb/a', { options: { colour: 'red', password: 'x' } });
    expect(u.status).to.equal(400);
    expect(json(u).errors).to.deep.equal([
      { path: 'options.colour', field: 'colour', message: 'not an option of this adapter the form can set' },
      { path: 'options.password', field: 'password', message: 'a secret goes in secrets' },
    ]);
  });

  it('a reload that refuses the change puts the file back and removes the new secret file', async () => {
    reloadOk = false;
    const r = await put('influxdb/a', { secrets: { password: NEW_PW } });
    expect(r.status).to.equal(409);
    expect(json(r).error).to.match(/previous file is back in place/);
    expect(readFileSync(file, 'utf8')).to.equal(config());
    expect(files()).to.deep.equal(['influxdb_a.password.0ld']);
    expect(readFileSync(oldSecret, 'utf8')).to.equal(OLD_PW);
  });

  it('a dry run answers the YAML it would make, without writing or reloading', async () => {
    const r = await put('influxdb/a', { options: { db: 'm3' }, secrets: { password: NEW_PW }, dry_run: true });
    expect(json(r).status).to.equal('preview');
    expect(json(r).yaml)
      .to.contain('db: m3')
      .and.to.match(/password: \$\{file:.*console-secrets\/influxdb_a\.password\.[0-9a-f]{8}\}/);
    expect(json(r).yaml).to.not.contain(NEW_PW);
    expect(readFileSync(file, 'utf8')).to.equal(config());
    expect(files()).to.deep.equal(['influxdb_a.password.0ld']);
    expect(reloads).to.equal(0);
  });

  it('removes a store from the exporters and every pipeline, and its console secret file', async () => {
    const r = await deleteStoreRoute('influxdb/a', Buffer.alloc(0), ctx);
    expect(r.status, JSON.stringify(r.json)).to.equal(undefined);
    expect(json(r)).to.include({ status: 'removed', store: 'influxdb/a' });
    expect(json(r).removed_from).to.deep.equal(['metrics', 'metrics/other']);
    const now = readFileSync(file, 'utf8');
    expect(now).to.not.contain('influxdb/a');
    expect(now).to.contain('prometheus: { endpoint: "127.0.0.1:9464" } # scraped');
    expect(now).to.match(/metrics: \{ receivers: \[otlp\], exporters: \[prometheus\] \}/);
    expect(files()).to.deep.equal([]);
    expect(reloads).to.equal(1);
  });

  it('refuses to remove the only exporter of a pipeline, saying which', async () => {
    const r = await deleteStoreRoute('prometheus', Buffer.alloc(0), ctx);
    expect(r.status).to.equal(400);
    expect(json(r).errors.map((e: any) => e.path)).to.include('service.pipelines.metrics/scrape');
    expect(JSON.stringify(json(r).errors)).to.match(/at least one entry in \\"exporters\\"/);
    expect(readFileSync(file, 'utf8')).to.equal(config());
  });

  it('answers 404 for a store the file lacks or an exporter that is not a store; 403 when the console is read-only', async () => {
    expect((await put('influxdb/nope', {})).status).to.equal(404);
    expect((await deleteStoreRoute('debug', Buffer.alloc(0), ctx)).status).to.equal(404);
    expect((await put('influxdb/a', { pipelines: ['nope'] })).status).to.equal(400);
    (ctx.console as { allowConfigChanges: boolean }).allowConfigChanges = false;
    const ro = await deleteStoreRoute('influxdb/a', Buffer.alloc(0), ctx);
    expect(ro.status).to.equal(403);
    expect(json(ro).error).to.match(/--admin-console-allow-config-changes true/);
    expect(json(await listStoresRoute(ctx)).writable).to.equal(false);
    expect(readFileSync(file, 'utf8')).to.equal(config());
  });
});
