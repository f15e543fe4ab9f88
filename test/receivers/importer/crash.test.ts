/**
 * Backfill of 7 days in 1-day chunks against a real PostgreSQL, killed with
 * SIGKILL while a chunk's query is in flight, then restarted on the same
 * state directory: every row is imported exactly once (count and sum match
 * the table; no (version, time) twice).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres, usePeer, type PostgresPeer } from '../../harness/peers.js';
import { waitFor } from '../../harness/ports.js';
import { readWatermark, tempDir } from './helpers.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'child.js');

function startChild(port: number, stateDir: string, sink: string) {
  const proc = spawn(process.execPath, [CHILD, String(port), stateDir, sink], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => {
    out += d;
  });
  proc.stderr!.on('data', (d: Buffer) => {
    out += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => proc.once('exit', (code, signal) => res({ code, signal })));
  return { proc, exited, output: () => out };
}

describe('importer receiver: 7-day backfill killed with SIGKILL mid-way (child process, real PostgreSQL)', function () {
  this.timeout(120_000);
  let pgPeer: PostgresPeer;
  let dir: string;

  before(async function () {
    await usePeer(this, 'postgres');
    pgPeer = await startPostgres({ own: true });
    dir = tempDir('mp-imp-kill-');
    await pgPeer.psql(`create table metric_table (version text, mins_played numeric, sessions int, time timestamptz not null);
      insert into metric_table
        select v.version, 1, (h % 13) + v.i + 1, date_trunc('hour', now()) - make_interval(hours => h) - interval '30 minutes'
        from generate_series(1, 166) h, (values ('3.16.0', 0), ('3.16.2', 1), ('3.16.4', 2), ('3.16.5', 3)) v(version, i);`);
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await pgPeer?.stop();
  });

  it('resumes from the stored watermark: 664 rows once each, sum matches the table', async () => {
    const state = join(dir, 'state');
    const sink = join(dir, 'sink.csv');
    const active = async () =>
      (await pgPeer.psql("select count(*) from pg_stat_activity where application_name = 'metricport importer/kill' and state = 'active'")).trim() === '1';
    const a = startChild(pgPeer.port, state, sink);
    let wmAtKill = 0;
    // three chunks delivered, the fourth's query in flight
    const abortIf = () => {
      if (a.proc.exitCode !== null) throw new Error(a.output());
    };
    await waitFor(
      async () => {
        const wm = readWatermark(state, 'kill');
        if (wm === undefined) return false;
        const first = Date.now() - 7 * 86_400_000;
        if (wm < first + 3 * 86_400_000 - 60_000) return false;
        if (!(await active())) return false;
        wmAtKill = wm;
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: 'three chunks done, the fourth in flight', abortIf },
    );
    a.proc.kill('SIGKILL');
    expect((await a.exited).signal).to.equal('SIGKILL');
    const linesAtKill = readFileSync(sink, 'utf8')
      .split('\n')
      .filter((l) => l !== '').length;
    expect(readWatermark(state, 'kill')).to.equal(wmAtKill);
    expect(linesAtKill).to.be.greaterThan(0).and.lessThan(664);

    const t0 = Date.now();
    const b = startChild(pgPeer.port, state, sink);
    try {
      await waitFor(() => (readWatermark(state, 'kill') ?? 0) >= t0, {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: 'restarted child caught up',
        abortIf: () => {
          if (b.proc.exitCode !== null) throw new Error(b.output());
        },
      });
    } finally {
      b.proc.kill('SIGKILL');
      await b.exited;
    }
    const lines = existsSync(sink)
      ? readFileSync(sink, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];
    const keys = lines.map((l) => l.split(',').slice(0, 2).join(','));
    expect(new Set(keys).size, 'no (version, time) twice').to.equal(lines.length);
    expect(lines.length).to.equal(Number((await pgPeer.psql('select count(*) from metric_table')).trim()));
    expect(lines.length).to.equal(664);
    expect(lines.reduce((s, l) => s + Number(l.split(',')[2]), 0)).to.equal(Number((await pgPeer.psql('select sum(sessions) from metric_table')).trim()));
  });
});
