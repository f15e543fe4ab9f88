/**
 * The watermark survives kill -9: a child process catches up 14 days on a
 * virtual clock against the gateway double; the parent kills it with SIGKILL
 * mid-way (once while a call is in flight, once at an arbitrary moment), then
 * restarts it on the same state directory. Every window is asked for in order
 * and delivered downstream; nothing is skipped.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../../harness/ports.js';
import { Gateway, type GatewayCall } from './gateway.js';
import { EMAIL, TOKEN } from './helpers.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'child.js');

function startChild(url: string, stateDir: string, sink: string) {
  const proc = spawn(process.execPath, [CHILD, url, stateDir, sink], { stdio: ['ignore', 'pipe', 'pipe'] });
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

function sinkLines(file: string): number {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '').length
    : 0;
}

/** windows asked for, deduplicated in call order; asserts they are contiguous */
function contiguous(calls: GatewayCall[]): number[] {
  const starts: number[] = [];
  for (const c of calls) if (starts[starts.length - 1] !== c.start) starts.push(c.start);
  for (let i = 1; i < calls.length; i++) {
    const prev = calls[i - 1]!,
      cur = calls[i]!;
    expect(cur.start === prev.start || cur.start === prev.end, `call ${i} starts at the previous end (or repeats it)`).to.equal(true);
  }
  return starts;
}

describe('forge receiver: the watermark survives kill -9 (child process)', function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('killed while call 600 is in flight: resumes at window 600; all 1,344 windows delivered exactly once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-forge-kill-'));
    dirs.push(dir);
    const sink = join(dir, 'sink.txt');
    let n = 0;
    const never = new Promise<void>(() => undefined);
    // the double's time checks need the child's virtual clock, which it cannot see: rate and time are proven in-process
    const gw = await new Gateway({
      now: () => Number.MAX_SAFE_INTEGER / 2,
      email: EMAIL,
      token: TOKEN,
      maxPerMinute: Infinity,
      respond: () => (++n === 600 ? { kind: 'slow', release: never, then: { kind: 'data', resourceMetrics: [] } } : { kind: 'sample' }),
    }).start();
    try {
      const a = startChild(gw.url, join(dir, 'state'), sink);
      await waitFor(() => gw.calls.length === 600 && gw.inFlight === 1, {
        timeoutMs: 60_000,
        what: 'call 600 in flight',
        abortIf: () => {
          if (a.proc.exitCode !== null) throw new Error(a.output());
        },
      });
      a.proc.kill('SIGKILL');
      expect((await a.exited).signal).to.equal('SIGKILL');
      expect(sinkLines(sink)).to.equal(599);
      const b = startChild(gw.url, join(dir, 'state'), sink);
      const { code } = await b.exited;
      expect(code, b.output()).to.equal(0);
      expect(JSON.parse(b.output())).to.deep.equal({ windows: 745 });
      expect(gw.violations.filter((v) => !v.startsWith('window older') && !v.startsWith('window in the future'))).to.deep.equal([]);
      expect(gw.calls).to.have.length(1345);
      const starts = contiguous(gw.calls);
      expect(starts).to.have.length(1344);
      expect(gw.calls[599]!.start).to.equal(gw.calls[600]!.start); // the unanswered window, asked again after the restart
      expect(sinkLines(sink)).to.equal(1344);
    } finally {
      await gw.stop();
    }
  });

  it('killed at an arbitrary moment: at most the one window in transit is delivered twice, none is skipped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-forge-kill-'));
    dirs.push(dir);
    const sink = join(dir, 'sink.txt');
    const gw = await new Gateway({
      now: () => Number.MAX_SAFE_INTEGER / 2,
      email: EMAIL,
      token: TOKEN,
      maxPerMinute: Infinity,
      respond: () => ({ kind: 'sample' }),
    }).start();
    try {
      const a = startChild(gw.url, join(dir, 'state'), sink);
      await waitFor(() => gw.calls.length >= 400, {
        timeoutMs: 60_000,
        intervalMs: 1,
        what: '400 calls',
        abortIf: () => {
          if (a.proc.exitCode !== null) throw new Error(a.output());
        },
      });
      a.proc.kill('SIGKILL');
      await a.exited;
      const before = sinkLines(sink);
      const callsBefore = gw.calls.length;
      const b = startChild(gw.url, join(dir, 'state'), sink);
      expect((await b.exited).code, b.output()).to.equal(0);
      const starts = contiguous(gw.calls);
      expect(starts).to.have.length(1344);
      // the restart asks again from the stored watermark: the window in flight (or delivered but not yet recorded) at most
      expect(gw.calls.length - callsBefore + before).to.be.within(1344, 1345);
      expect(sinkLines(sink)).to.be.within(1344, 1345);
    } finally {
      await gw.stop();
    }
  });
});
