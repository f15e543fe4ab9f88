/**
 * The test query from the command line (`metricport importer test`) and from
 * the admin server (POST /api/v1/importers/<name>/test), against a real
 * PostgreSQL, with the built service as a child process.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgres, usePeer, type PostgresPeer } from '../../harness/peers.js';
import { BIN, startMetricport } from '../../e2e/metricport.js';
import { tempDir } from './helpers.js';

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('importer test query: CLI and admin API (real PostgreSQL, built binary)', function () {
  this.timeout(60_000);
  let pgPeer: PostgresPeer;
  let dir: string;
  const table = `cli_t_${process.pid}`;
  const config = (port: number) => `
receivers:
  importer/pg:
    source: postgres
    port: ${port}
    database: test
    user: postgres
    password: \${env:PG_PASSWORD:-}
    importers:
      - name: ok
        query: select version, n, time from ${table} where time >= $1 and time < $2 order by time
        value_column: n
        attributes: { version: app.version }
        metric: { name: sessions_started, kind: delta_sum }
        history: 1h
        period: 1h
      - name: typo
        query: select n, time form ${table} where time >= $1 and time < $2
        metric: { name: x }
exporters:
  nop: {}
service:
  pipelines:
    metrics: { receivers: [importer/pg], exporters: [nop] }
`;

  before(async function () {
    await usePeer(this, 'postgres');
    pgPeer = await startPostgres();
    dir = tempDir('mp-imp-cli-');
    await pgPeer.psql(`drop table if exists ${table}; create table ${table} (version text, n int, time timestamptz not null);
      insert into ${table} values ('3.16.2', 5, date_trunc('second', now()) - interval '10 minutes'), ('3.16.4', 7, date_trunc('second', now()) - interval '5 minutes')`);
  });
  after(async () => {
    await pgPeer?.psql(`drop table if exists ${table}`).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    await pgPeer?.stop();
  });

  it("metricport importer test: preview (exit 0), the source's syntax error (exit 1), unknown importer (exit 1); no watermark written", async () => {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, config(pgPeer.port));
    const state = join(dir, 'state');
    const ok = await run(['importer', 'test', '--config', file, '--importer', 'ok', '--state-dir', state, '--json']);
    expect(ok.code, ok.stderr).to.equal(0);
    const j = JSON.parse(ok.stdout) as {
      ok: boolean;
      rows: number;
      preview: Array<{ value: number; attributes: Record<string, string> }>;
      watermark: null;
      request: { params: string[] };
    };
    expect(j.ok).to.equal(true);
    expect(j.rows).to.equal(2);
    expect(j.preview.map((p) => [p.attributes['app.version'], p.value])).to.deep.equal([
      ['3.16.2', 5],
      ['3.16.4', 7],
    ]);
    expect(j.watermark).to.equal(null);
    expect(Date.parse(j.request.params[1]!) - Date.parse(j.request.params[0]!)).to.equal(3_600_000);
    const text = await run(['importer', 'test', '--config', file, '--importer', 'ok', '--state-dir', state]);
    expect(text.code).to.equal(0);
    expect(text.stdout).to.match(/rows: 2, points: 2, skipped: 0/);
    expect(text.stdout).to.match(/sessions_started\{"app\.version":"3\.16\.4"\} = 7/);
    const typo = await run(['importer', 'test', '--config', file, '--importer', 'typo', '--state-dir', state], { PG_PASSWORD: 'sekret-pw-123' });
    expect(typo.code).to.equal(1);
    expect(typo.stdout).to.include(`error: the source refused the query: ERROR: syntax error at or near "${table}" (SQLSTATE 42601, at character 21)`);
    expect(typo.stdout + typo.stderr).to.not.include('sekret-pw-123');
    // a span longer than one real query covers (the importer's chunk, 1d by default) is refused before the source is asked
    const far = await run(['importer', 'test', '--config', file, '--importer', 'ok', '--state-dir', state, '--since', '100000d']);
    expect([far.code, far.stdout, far.stderr]).to.deep.equal([
      2,
      '',
      'metricport importer test: --since 100000d is longer than importer "ok" queries at once (its chunk: 1d); use at most 1d\n',
    ]);
    const none = await run(['importer', 'test', '--config', file, '--importer', 'nope', '--state-dir', state]);
    expect(none.code).to.equal(1);
    expect(none.stderr).to.include('no importer named "nope" (importers: importer/pg: ok, importer/pg: typo)');
    expect(existsSync(state) ? readdirSync(state, { recursive: true }).filter((f) => String(f).includes('watermark')) : []).to.deep.equal([]);
  });

  it("POST /api/v1/importers/<name>/test on a running service: preview, syntax error, 404; the watermark is the run's own", async () => {
    const mp = await startMetricport(config(pgPeer.port));
    try {
      const ok = await fetch(`${mp.adminUrl}/api/v1/importers/ok/test?since=30m`, { method: 'POST' });
      expect(ok.status).to.equal(200);
      const j = (await ok.json()) as { receiver: string; ok: boolean; points: number; preview: Array<{ value: number }>; from: string; to: string };
      expect([j.receiver, j.ok, j.points, j.preview.map((p) => p.value)]).to.deep.equal(['importer/pg', true, 2, [5, 7]]);
      expect(Date.parse(j.to) - Date.parse(j.from)).to.equal(1_800_000);
      const typo = (await (await fetch(`${mp.adminUrl}/api/v1/importers/typo/test`, { method: 'POST' })).json()) as { ok: boolean; errors: string[] };
      expect(typo.ok).to.equal(false);
      expect(typo.errors).to.deep.equal([`the source refused the query: ERROR: syntax error at or near "${table}" (SQLSTATE 42601, at character 21)`]);
      const nf = await fetch(`${mp.adminUrl}/api/v1/importers/nope/test`, { method: 'POST' });
      expect(nf.status).to.equal(404);
      expect(await nf.json()).to.deep.equal({ error: 'no importer named "nope"', importers: ['importer/pg: ok', 'importer/pg: typo'] });
      const bad = await fetch(`${mp.adminUrl}/api/v1/importers/ok/test?since=soon`, { method: 'POST' });
      expect(bad.status).to.equal(400);
      for (const since of ['100000d', `${'9'.repeat(400)}d`, '25h']) {
        const far = await fetch(`${mp.adminUrl}/api/v1/importers/ok/test?since=${since}`, { method: 'POST' });
        expect([far.status, await far.json()], since).to.deep.equal([
          400,
          { error: `since ${since} is longer than importer "ok" queries at once (its chunk: 1d); use at most 1d` },
        ]);
      }
      const day = await fetch(`${mp.adminUrl}/api/v1/importers/ok/test?since=1d`, { method: 'POST' });
      expect(day.status).to.equal(200);
      // status shows the failing importer's error and the good one's watermark
      const st = (await (await fetch(`${mp.adminUrl}/api/v1/status`)).json()) as {
        receivers: Array<{ id: string; importers: Record<string, { last_error: string | null }> }>;
      };
      const imp = st.receivers.find((r) => r.id === 'importer/pg')!;
      expect(imp.importers['ok']!.last_error).to.equal(null);
    } finally {
      await mp.stop();
    }
  });
});
