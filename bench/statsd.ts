/**
 * Scenario `statsd` (`npm run bench -- --scenario statsd`): the highest
 * offered UDP rate (lines/s; 20 lines per packet, 1,000 names) that loses at
 * most 0.1 % of the lines, for metricport's statsd receiver (run as users run
 * it: statsd → nop) and for the Etsy statsd daemon (npm `statsd`, no
 * backend), in the same run. Received lines are read from each daemon's own
 * counter (metricport: metricport_statsd_lines on /metrics; Etsy: the
 * statsd.metrics_received counter from its management port; its flush is
 * set to 1 h so that counter never resets mid-run).
 *
 * Search: the rate doubles from --start (default 50,000 lines/s) until a step
 * loses more than 0.1 %, then bisects --bisect (default 4) times. Each step
 * lasts --step seconds (default 3).
 *
 *   npm run bench -- --scenario statsd [--step 3 --start 50000 --bisect 4 --no-write]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../src/paths.js';
import { freePort } from '../test/harness/ports.js';
import { startEtsyStatsd } from '../test/harness/statsd.js';
import { LINES_PER_PACKET, NAMES } from './statsd-sender.js';
import { writeSection } from './docsection.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => { const i = args.indexOf(`--${name}`); return i >= 0 ? Number(args[i + 1]) : def; };
const STEP_S = opt('step', 3);
const START = opt('start', 50_000);
const BISECT = opt('bisect', 4);
const MAX_LOSS = 0.001;
const here = dirname(fileURLToPath(import.meta.url));
const ROOT = packageRoot();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Target { name: string; port: number; received(): Promise<number> }
interface Step { rate: number; sent: number; received: number; loss: number }

function offer(port: number, rate: number, seconds: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, 'statsd-sender.js'), [String(port), String(rate), String(seconds)], { stdio: 'inherit' });
    child.once('message', (m) => resolve((m as { sent: number }).sent));
    child.once('error', reject);
    child.once('exit', (code) => { if (code !== 0) reject(new Error(`sender exited ${code}`)); });
  });
}

async function settle(t: Target): Promise<number> {
  let last = await t.received();
  for (let i = 0; i < 50; i++) {
    await sleep(200);
    const now = await t.received();
    if (now === last) return now;
    last = now;
  }
  return last;
}

async function step(t: Target, rate: number): Promise<Step> {
  const before = await settle(t);
  const sent = await offer(t.port, rate, STEP_S);
  const received = (await settle(t)) - before;
  return { rate, sent, received, loss: sent === 0 ? 1 : Math.max(0, 1 - received / sent) };
}

async function search(t: Target): Promise<{ best: Step | undefined; steps: Step[] }> {
  const steps: Step[] = [];
  let ok: Step | undefined;
  let rate = START;
  let bad: number | undefined;
  for (let i = 0; i < 12; i++) {
    const s = await step(t, rate);
    steps.push(s);
    console.log(`  ${t.name.padEnd(12)} offered ${Math.round(s.rate).toLocaleString('en-US').padStart(10)} lines/s: sent ${s.sent.toLocaleString('en-US')}, received ${s.received.toLocaleString('en-US')}, loss ${(s.loss * 100).toFixed(3)} %`);
    if (s.loss <= MAX_LOSS) { ok = s; rate *= 2; } else { bad = rate; break; }
  }
  if (bad !== undefined) {
    let lo = ok?.rate ?? 0;
    let hi = bad;
    for (let i = 0; i < BISECT; i++) {
      const mid = Math.round((lo + hi) / 2);
      if (mid <= 0) break;
      const s = await step(t, mid);
      steps.push(s);
      console.log(`  ${t.name.padEnd(12)} offered ${Math.round(s.rate).toLocaleString('en-US').padStart(10)} lines/s: sent ${s.sent.toLocaleString('en-US')}, received ${s.received.toLocaleString('en-US')}, loss ${(s.loss * 100).toFixed(3)} %`);
      if (s.loss <= MAX_LOSS) { ok = s; lo = mid; } else hi = mid;
    }
  }
  return { best: ok, steps };
}

async function metricportLines(adminPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const m = /^metricport_statsd_lines(?:_total)?\{[^}]*\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

export async function statsdScenario(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mp-bench-statsd-'));
  const port = await freePort();
  const adminPort = await freePort();
  const cfg = join(dir, 'statsd.yaml');
  writeFileSync(cfg, `receivers:\n  statsd: { udp: { endpoint: "127.0.0.1:${port}" }, flush_interval: 10s }\nexporters:\n  nop: {}\nservice:\n  pipelines:\n    metrics: { receivers: [statsd], exporters: [nop] }\n`);
  const mp: ChildProcess = spawn(process.execPath, [join(ROOT, 'dist/src/bin/metricport.js'), 'run', '--config', cfg, '--admin-endpoint', `127.0.0.1:${adminPort}`, '--state-dir', join(dir, 'state'), '--log-level', 'warn'], { stdio: 'inherit' });
  const etsy = await startEtsyStatsd({ flushIntervalMs: 3_600_000 });
  try {
    for (let i = 0; ; i++) {
      try { if ((await fetch(`http://127.0.0.1:${adminPort}/healthz`)).ok) break; } catch { /* not yet */ }
      if (i > 200) throw new Error('metricport did not become healthy');
      await sleep(50);
    }
    const targets: Target[] = [
      { name: 'metricport', port, received: () => metricportLines(adminPort) },
      {
        name: 'Etsy statsd', port: etsy.port,
        received: async () => Number(/'?statsd\.metrics_received'?: (\d+)/.exec(await etsy.mgmt('counters'))?.[1] ?? 0),
      },
    ];
    console.log(`statsd: ${LINES_PER_PACKET} lines per packet, ${NAMES} names, ${STEP_S} s per step, loss limit ${MAX_LOSS * 100} %`);
    const results: Record<string, { best: Step | undefined; steps: Step[] }> = {};
    for (const t of targets) results[t.name] = await search(t);
    const mpBest = results.metricport!.best?.rate ?? 0;
    const etsyBest = results['Etsy statsd']!.best?.rate ?? 0;
    const ratio = etsyBest > 0 ? mpBest / etsyBest : NaN;
    const summary = [
      `metricport: ${Math.round(mpBest).toLocaleString('en-US')} lines/s with ≤ 0.1 % loss`,
      `Etsy statsd 0.9.0: ${Math.round(etsyBest).toLocaleString('en-US')} lines/s with ≤ 0.1 % loss`,
      `ratio: ${ratio.toFixed(2)}× (goal ≥ 3×)`,
    ];
    console.log(summary.join('\n'));
    if (!args.includes('--no-write')) {
      const rows = Object.entries(results).flatMap(([n, r]) => r.steps.map((s) => `| ${n} | ${Math.round(s.rate).toLocaleString('en-US')} | ${s.sent.toLocaleString('en-US')} | ${s.received.toLocaleString('en-US')} | ${(s.loss * 100).toFixed(3)} |`));
      writeSection('statsd', [
        '## StatsD ingest (`statsd` scenario)',
        '',
        `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --scenario statsd\` (${STEP_S} s per step; ${LINES_PER_PACKET} lines per UDP packet over ${NAMES} names: 50 % c, 30 % ms, 10 % g, 10 % s) on ${cpus().length} × ${cpus()[0]?.model.trim()} with ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; the sender (a Node child process) shares the cores. metricport runs as users run it (statsd → nop, flush 10 s, receive buffer 8 MiB as capped by net.core.rmem_max); Etsy statsd 0.9.0 with no backend. Received lines come from each daemon's own counter. Each step is one short run on cores shared with the sender (and, here, with other work): a single lossy step can be noise, so the figure is a floor, not a ceiling.`,
        '',
        ...summary.map((s) => `- ${s}`),
        '',
        '| target | offered lines/s | sent | received | loss % |',
        '|---|---:|---:|---:|---:|',
        ...rows,
      ]);
    }
  } finally {
    mp.kill('SIGTERM');
    await etsy.stop();
    await new Promise((r) => { if (mp.exitCode !== null) r(undefined); else mp.once('exit', r); });
    rmSync(dir, { recursive: true, force: true });
  }
}
