/**
 * Start to healthy and idle RSS of `metricport run` with the embedded default
 * config (config/default.yaml: otlp → batch → debug + prometheus), against an
 * anchor measured in the same run: a bare node:http server started the same
 * way (what node itself costs). Each target is started ROUNDS times,
 * alternating; medians are reported.
 *
 * - start to healthy: spawn → the first 200 from GET /healthz (the anchor:
 *   from any path), polled every 5 ms;
 * - idle RSS: VmRSS 2 s after healthy, with its file-backed part (the node
 *   binary's pages, shared between processes) and its private part.
 *
 *   npm run bench -- --scenario startup [--rounds 7] [--no-write]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, memMiB } from './proc.js';

export const GOAL_IDLE_MIB = 64;
export const GOAL_START_MS = 300;

export interface StartFigures {
  startMs: number;
  rss: number;
  anon: number;
  file: number;
}

async function once(args: string[], env: Record<string, string>, url: string): Promise<StartFigures> {
  const t0 = performance.now();
  const p = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: 'ignore' });
  const exited = new Promise<void>((r) => p.once('exit', () => r()));
  try {
    const deadline = t0 + 20_000;
    for (;;) {
      const ok = await fetch(url).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (performance.now() > deadline) throw new Error(`not healthy within 20 s: ${args.join(' ')}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const startMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 2000));
    return { startMs, ...memMiB(p.pid!) };
  } finally {
    p.kill('SIGTERM');
    await exited;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function summarise(rs: StartFigures[]): StartFigures {
  return {
    startMs: median(rs.map((r) => r.startMs)),
    rss: median(rs.map((r) => r.rss)),
    anon: median(rs.map((r) => r.anon)),
    file: median(rs.map((r) => r.file)),
  };
}

/** metricport with the default config and the bare node:http anchor, `rounds` alternating starts each. */
export async function measureStartup(root: string, rounds: number): Promise<{ metricport: StartFigures; anchor: StartFigures; rounds: number }> {
  const mp: StartFigures[] = [];
  const anchor: StartFigures[] = [];
  for (let i = 0; i < rounds; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'mp-bench-start-'));
    try {
      const admin = await freePort();
      mp.push(
        await once(
          [join(root, 'dist/src/bin/metricport.js'), 'run', '--admin-endpoint', `127.0.0.1:${admin}`, '--state-dir', join(dir, 'state'), '--log-level', 'warn'],
          { METRICPORT_OTLP_ENDPOINT: `127.0.0.1:${await freePort()}`, METRICPORT_PROMETHEUS_ENDPOINT: `127.0.0.1:${await freePort()}` },
          `http://127.0.0.1:${admin}/healthz`,
        ),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const port = await freePort();
    anchor.push(await once(['-e', `require('node:http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1')`], {}, `http://127.0.0.1:${port}/`));
  }
  return { metricport: summarise(mp), anchor: summarise(anchor), rounds };
}

/** The summary lines, against the goals. */
export function startupLines(r: Awaited<ReturnType<typeof measureStartup>>): string[] {
  const m = r.metricport;
  const a = r.anchor;
  return [
    `idle RSS (default config): ${m.rss.toFixed(1)} MiB (goal ≤ ${GOAL_IDLE_MIB} MiB${m.rss <= GOAL_IDLE_MIB ? ': met' : ': MISSED'}); ${m.file.toFixed(1)} MiB of it file-backed (the node binary, shared), ${m.anon.toFixed(1)} MiB private; a bare node:http server: ${a.rss.toFixed(1)} MiB (${a.anon.toFixed(1)} MiB private), so metricport's own: ${(m.rss - a.rss).toFixed(1)} MiB`,
    `start to healthy (default config): ${m.startMs.toFixed(0)} ms (goal ≤ ${GOAL_START_MS} ms${m.startMs <= GOAL_START_MS ? ': met' : ': MISSED'}); a bare node:http server to its first answer: ${a.startMs.toFixed(0)} ms`,
  ];
}
