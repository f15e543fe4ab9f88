/**
 * End to end, as a user runs it: the built service polls the gateway double
 * (the seed's sample) into the `prometheus` exporter, scraped by a real
 * Prometheus; and `metricport forge pull --post` sends the same sample to a
 * second running metricport's /v1/metrics (otlp receiver → prometheus
 * exporter). Both stores expose identical Forge series and values.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPrometheus, usePeer, type PrometheusPeer } from '../../harness/peers.js';
import { freePort, waitFor } from '../../harness/ports.js';
import { BIN, startMetricport, type Started } from '../../e2e/metricport.js';
import { Gateway } from './gateway.js';
import { APP_ID, EMAIL, ENV, TOKEN } from './helpers.js';

const TOK_A = 'forgeE2Eaaaaaaaaaaaaaaaa';
const TOK_B = 'forgeE2Ebbbbbbbbbbbbbbbb';

function forgeYaml(url: string, extra: string): string {
  return `receivers:
  forge:
    app_id: ${APP_ID}
    environments: [${ENV}]
    email: ${EMAIL}
    api_token: \${env:FORGE_API_TOKEN}
    endpoint: ${url}
    history: 15m
${extra}`;
}

function forgeLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('forge_'))
    .sort();
}

function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('forge end to end: sample → real Prometheus; forge pull --post gives the identical result', function () {
  this.timeout(90_000);
  let prom: PrometheusPeer | undefined;
  const procs: Started[] = [];
  const gws: Gateway[] = [];
  const dirs: string[] = [];
  before(async function () {
    await usePeer(this, 'prometheus');
  });
  after(async () => {
    for (const p of procs) await p.stop();
    for (const g of gws) await g.stop();
    await prom?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("the service and the cron mode expose the same forge series, which Prometheus scrapes with the sample's values and attributes", async () => {
    const sampleOnce = () => {
      let n = 0;
      return () => (++n === 1 ? { kind: 'sample' as const } : { kind: 'data' as const, resourceMetrics: [] });
    };
    const gwA = await new Gateway({ now: () => Date.now(), email: EMAIL, token: TOKEN, respond: sampleOnce() }).start();
    const gwB = await new Gateway({ now: () => Date.now(), email: EMAIL, token: TOKEN, respond: sampleOnce() }).start();
    gws.push(gwA, gwB);
    const portA = await freePort();
    const portB = await freePort();
    const env = { FORGE_API_TOKEN: TOKEN };

    // A: the service polls the gateway into the prometheus exporter
    const a = await startMetricport(
      forgeYaml(
        gwA.url,
        `exporters:
  prometheus: { endpoint: 127.0.0.1:${portA}, token: ${TOK_A}, add_unit_suffix: false }
service:
  pipelines:
    metrics: { receivers: [forge], exporters: [prometheus] }
`,
      ),
      { env },
    );
    procs.push(a);
    // B: a plain sidecar (otlp → prometheus); the cron mode POSTs to it
    const b = await startMetricport(
      `receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:
  prometheus: { endpoint: 127.0.0.1:${portB}, token: ${TOK_B}, add_unit_suffix: false }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheus] }
`,
      { env },
    );
    procs.push(b);
    const dir = mkdtempSync(join(tmpdir(), 'mp-forge-cron-'));
    dirs.push(dir);
    const cronCfg = join(dir, 'forge.yaml');
    writeFileSync(
      cronCfg,
      forgeYaml(
        gwB.url,
        `exporters:
  debug: {}
service:
  pipelines:
    metrics: { receivers: [forge], exporters: [debug] }
`,
      ),
    );
    const pull = await run(['forge', 'pull', '--config', cronCfg, '--state-dir', join(dir, 'state'), '--post', `${b.otlpUrl}/v1/metrics`], env);
    expect(pull.code, pull.stderr).to.equal(0);
    expect(pull.stdout).to.match(/^forge pull: receiver forge: 1 window posted; watermark 8cb293d5-be08-47ae-a75c-95b89da5ad1d=\d{4}-/);
    expect(gwB.violations).to.deep.equal([]);
    expect(gwB.calls).to.have.length(1);

    const scrapeA = `http://127.0.0.1:${portA}/${TOK_A}/metrics`;
    const scrapeB = `http://127.0.0.1:${portB}/${TOK_B}/metrics`;
    let textA = '',
      textB = '';
    await waitFor(
      async () => {
        textA = await (await fetch(scrapeA)).text();
        textB = await (await fetch(scrapeB)).text();
        return forgeLines(textA).length >= 3 && forgeLines(textB).length >= 3;
      },
      { timeoutMs: 20_000, what: 'forge series on both exporters' },
    );
    expect(gwA.violations).to.deep.equal([]);
    // identical: same series, same values
    expect(forgeLines(textA)).to.deep.equal(forgeLines(textB));
    for (const out of [a.output(), b.output(), pull.stdout, pull.stderr]) expect(out).to.not.contain(TOKEN);

    prom = await startPrometheus({
      scrapeTargets: [
        { target: `127.0.0.1:${portA}`, metricsPath: `/${TOK_A}/metrics`, job: 'service' },
        { target: `127.0.0.1:${portB}`, metricsPath: `/${TOK_B}/metrics`, job: 'cron' },
      ],
    });
    let rows: Array<{ metric: Record<string, string>; value: number }> = [];
    await waitFor(
      async () => {
        rows = await prom!.queryValues('{__name__=~"forge_.*"}');
        return rows.length >= 6;
      },
      { timeoutMs: 30_000, what: `forge series in Prometheus (exposition: ${forgeLines(textA).join(' | ')})` },
    );
    // Forge sends its counts with unit "s": without unit suffixes the names are Forge's own
    const pick = (job: string, name: string) => rows.filter((r) => r.metric.job === job && r.metric.__name__ === name);
    for (const job of ['service', 'cron']) {
      const req = pick(job, 'forge_api_request_count');
      expect(req, job).to.have.length(1);
      expect(req[0]!.value).to.equal(8);
      expect(req[0]!.metric).to.deep.include({
        appId: 'a11dfa0b-cf2c-44d1-9080-5c3944961223',
        contextAri: 'ari:cloud:compass::site/04c5a385-0899-4edc-93a8-ada653b7c534',
        environmentId: '6f5f56e9-55c0-4551-9247-ee1484340f64',
        provider: 'app',
        remote: 'stargate',
        status: '2xx',
        url: '/forge/entities/graphql',
      });
      const inv = pick(job, 'forge_backend_invocation_count');
      expect(inv).to.have.length(1);
      expect(inv[0]!.value).to.equal(70);
      expect(inv[0]!.metric).to.deep.include({ functionKey: 'updateStatusTitle', appVersion: '4.64.0' });
      const errs = pick(job, 'forge_backend_invocation_errors');
      expect(errs).to.have.length(1);
      expect(errs[0]!.value).to.equal(0);
      expect(errs[0]!.metric).to.deep.include({ errorType: 'UNHANDLED_EXCEPTION', moduleKey: 'app-event-webtrigger', functionKey: 'process-app-event' });
    }
    const strip = (r: { metric: Record<string, string>; value: number }) => {
      const { job: _j, instance: _i, ...m } = r.metric;
      return JSON.stringify([m, r.value]);
    };
    expect(
      rows
        .filter((r) => r.metric.job === 'service')
        .map(strip)
        .sort(),
    ).to.deep.equal(
      rows
        .filter((r) => r.metric.job === 'cron')
        .map(strip)
        .sort(),
    );
    // eslint-disable-next-line no-console
    console.log(`      exposition:\n        ${forgeLines(textA).join('\n        ')}`);
  });
});

describe("forge pull into the config's pipelines (file exporter), and its exit codes", function () {
  this.timeout(60_000);
  it('exit 0 and the sample in the file; a second pass asks only for what is new; exit 1 with the reason (and no token) on a QueryError', async () => {
    const { readFileSync } = await import('node:fs');
    const gw = await new Gateway({ now: () => Date.now(), email: EMAIL, token: TOKEN, respond: () => ({ kind: 'sample' }) }).start();
    const dir = mkdtempSync(join(tmpdir(), 'mp-forge-cron-'));
    try {
      const cfg = join(dir, 'forge.yaml');
      writeFileSync(
        cfg,
        forgeYaml(
          gw.url,
          `exporters:
  file: { path: ${join(dir, 'out.jsonl')} }
service:
  pipelines:
    metrics: { receivers: [forge], exporters: [file] }
`,
        ),
      );
      const env = { FORGE_API_TOKEN: TOKEN };
      const r1 = await run(['forge', 'pull', '--config', cfg, '--state-dir', join(dir, 'state'), '--since', '30m'], env);
      expect(r1.code, r1.stderr).to.equal(0);
      expect(r1.stdout).to.match(/^forge pull: receiver forge: 2 windows, 6 points accepted; watermark 8cb293d5-be08-47ae-a75c-95b89da5ad1d=/);
      expect(gw.calls).to.have.length(2);
      expect(gw.calls[1]!.end - gw.calls[0]!.start).to.equal(30 * 60_000);
      const lines = readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n');
      const names = lines.flatMap((l) =>
        JSON.parse(l).resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((s: any) => s.metrics.map((m: any) => m.name))),
      );
      expect(names.filter((n: string) => n === 'forge_api_request_count')).to.have.length(2);
      // the watermark holds: the next pass (same minute or the next) asks for at most the new minute
      const r2 = await run(['forge', 'pull', '--config', cfg, '--state-dir', join(dir, 'state')], env);
      expect(r2.code, r2.stderr).to.equal(0);
      for (const c of gw.calls.slice(2)) expect(c.start).to.be.at.least(gw.calls[1]!.end);
      // failure: exit 1 with the QueryError, never the token
      gw.script.push({ kind: 'queryError', statusCode: 401, message: 'Unauthorized', identifier: 'UNAUTHENTICATED', errorType: 'AUTH' });
      const r3 = await run(['forge', 'pull', '--config', cfg, '--state-dir', join(dir, 'state2')], env);
      expect(r3.code).to.equal(1);
      expect(r3.stderr).to.contain(
        'metricport forge pull: receiver forge: QueryError: Unauthorized; identifier UNAUTHENTICATED; statusCode 401; errorType AUTH',
      );
      for (const out of [r1, r2, r3]) expect(out.stdout + out.stderr).to.not.contain(TOKEN);
      const r4 = await run(['forge', 'pull', '--since', 'x'], env);
      expect(r4.code).to.equal(2);
    } finally {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
