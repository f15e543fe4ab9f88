/**
 * Starts the built service (dist/src/bin/metricport.js) as a child process,
 * exactly as a user would, on free loopback ports, and stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '../harness/ports.js';
import { recordForScan } from '../secretscan.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const BIN = join(ROOT, 'dist/src/bin/metricport.js');

export interface Started {
  proc: ChildProcess;
  dir: string;
  otlpPort: number;
  adminPort: number;
  otlpUrl: string;
  adminUrl: string;
  output(): string;
  /** send a signal and wait for exit; resolves with the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/**
 * `config` may use the placeholders {{OTLP}} (an endpoint host:port), {{DIR}}
 * (a fresh temp directory) and {{ENDPOINT}}.
 *
 * Unless `waitHealthy: false`, it waits up to `healthyTimeoutMs` (10 s) for
 * `GET /healthz` to answer 200; a child that exits before is reported with its
 * output, and one that is still running then is killed (SIGKILL) and reported
 * the same way (the error carries `pid` and `output`).
 */
export async function startMetricport(
  config: string,
  opts: { env?: Record<string, string>; args?: string[]; waitHealthy?: boolean; healthyTimeoutMs?: number } = {},
): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'mp-e2e-'));
  const otlpPort = await freePort();
  const adminPort = await freePort();
  const text = config.replaceAll('{{OTLP}}', `127.0.0.1:${otlpPort}`).replaceAll('{{DIR}}', dir);
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text);
  let out = '';
  const proc = spawn(
    process.execPath,
    [BIN, 'run', '--config', file, '--admin-endpoint', `127.0.0.1:${adminPort}`, '--state-dir', join(dir, 'state'), ...(opts.args ?? [])],
    {
      env: { ...process.env, METRICPORT_LOG_LEVEL: 'info', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const started: Started = {
    proc,
    dir,
    otlpPort,
    adminPort,
    otlpUrl: `http://127.0.0.1:${otlpPort}`,
    adminUrl,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (!done) {
        // for the suite-wide secret scan (test/secretscan.ts): the status and /metrics as they are now
        for (const path of ['/api/v1/status', '/metrics']) {
          try {
            recordForScan(`metricport ${path}`, await (await fetch(`${adminUrl}${path}`, { signal: AbortSignal.timeout(1000) })).text());
          } catch {
            /* admin over TLS or gone */
          }
        }
        proc.kill(signal);
      }
      const code = await exited;
      recordForScan('metricport output', out);
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
  if (opts.waitHealthy ?? true) {
    const timeoutMs = opts.healthyTimeoutMs ?? 10_000;
    try {
      await waitFor(async () => (await fetch(`${adminUrl}/healthz`)).status === 200, {
        timeoutMs,
        what: 'metricport /healthz 200',
        abortIf: () => {
          if (done) throw new Error(`metricport exited early:\n${out}`);
        },
      });
    } catch (err) {
      if (done) {
        recordForScan('metricport output', out);
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
      // never healthy but still running: kill it (a leftover child would hold its ports and keep mocha alive) and say what it printed
      proc.kill('SIGKILL');
      const code = await Promise.race([exited, new Promise<'alive'>((res) => setTimeout(() => res('alive'), 5_000).unref())]);
      recordForScan('metricport output', out);
      rmSync(dir, { recursive: true, force: true });
      const e = new Error(
        `metricport (pid ${proc.pid}) did not answer GET ${adminUrl}/healthz with 200 within ${timeoutMs} ms (${(err as Error).message}); ${code === 'alive' ? 'it did not exit after SIGKILL within 5 s' : 'killed it'}; it printed:\n${out === '' ? '(nothing)' : out}`,
      );
      throw Object.assign(e, { pid: proc.pid, output: out });
    }
  }
  return started;
}

/** A temp dir for test outputs, removed by the caller. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'mp-e2e-out-'));
}
