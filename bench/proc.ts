/**
 * What the benchmarks share about processes: a free loopback port, waiting
 * for an HTTP endpoint, a process's CPU time and memory from /proc, and
 * starting the built service on a config file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../src/paths.js';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Poll `url` until it answers 2xx (a deadline, not a sleep). */
export async function waitHttp(url: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`not ready: ${url}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** user + system CPU time of a process (all threads) so far, in ms (Linux /proc; undefined when it is gone or elsewhere) */
export function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return undefined;
  }
}

/** A process's memory in MiB from /proc/<pid>/status: resident, its peak (VmHWM), anonymous and file-backed. */
export function memMiB(pid: number): { rss: number; hwm: number; anon: number; file: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const get = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(s)?.[1] ?? 0) / 1024;
  return { rss: get('VmRSS'), hwm: get('VmHWM'), anon: get('RssAnon'), file: get('RssFile') };
}

/** Start the built service (dist/) on `config`, its admin server on `adminPort`, logging warnings only. */
export function spawnMetricport(o: { config: string; adminPort: number; stateDir: string; nodeArgs?: string[] }): ChildProcess {
  return spawn(
    process.execPath,
    [
      ...(o.nodeArgs ?? []),
      join(packageRoot(), 'dist/src/bin/metricport.js'),
      'run',
      '--config',
      o.config,
      '--admin-endpoint',
      `127.0.0.1:${o.adminPort}`,
      '--state-dir',
      o.stateDir,
      '--log-level',
      'warn',
    ],
    { stdio: 'inherit' },
  );
}
