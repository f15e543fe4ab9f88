/**
 * graphite-web 1.1 (the render API importers read) over a running carbon-cache
 * (peers.md): a settings module in a fresh temp dir (SECRET_KEY, ALLOWED_HOSTS,
 * WHISPER_DIR = carbon's, LOG_DIR, CARBONLINK_HOSTS = carbon's cache-query
 * port, sqlite DATABASES, no cache: a render sees new series at once), `graphite-manage migrate
 * --run-syncdb`, then `graphite-manage runserver 127.0.0.1:P --noreload`.
 * Ready when GET /render?target=x&format=json answers. stop() kills the
 * server it started (by pid) and removes the dir.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileTail, findBinary, runCommand, type CarbonPeer } from './peers.js';
import { freePort, waitFor } from './ports.js';

export interface GraphiteWebPeer {
  url: string;
  port: number;
  dir: string;
  pid: number;
  logTail(bytes?: number): string;
  /** GET /render?target=…&from=…&until=…&format=json, parsed */
  render(
    target: string,
    from: number,
    until: number,
  ): Promise<Array<{ target: string; tags: Record<string, string>; datapoints: Array<[number | null, number]> }>>;
  stop(): Promise<void>;
}

export async function startGraphiteWeb(carbon: CarbonPeer, opts: { readyTimeoutMs?: number } = {}): Promise<GraphiteWebPeer> {
  const manage = findBinary('graphite-manage');
  if (manage === undefined) throw new Error('graphite-manage not found: install graphite-web');
  const dir = mkdtempSync(path.join(tmpdir(), 'mp-peer-graphite-web-'));
  mkdirSync(path.join(dir, 'log'), { recursive: true });
  writeFileSync(
    path.join(dir, 'mp_graphite_settings.py'),
    [
      "SECRET_KEY = 'metricport-test'",
      "ALLOWED_HOSTS = ['*']",
      `WHISPER_DIR = ${JSON.stringify(carbon.whisperDir)}`,
      'STANDARD_DIRS = [WHISPER_DIR]',
      `LOG_DIR = ${JSON.stringify(path.join(dir, 'log'))}`,
      `INDEX_FILE = ${JSON.stringify(path.join(dir, 'index'))}`,
      `CARBONLINK_HOSTS = ['127.0.0.1:${carbon.cacheQueryPort}']`,
      `DATABASES = {'default': {'NAME': ${JSON.stringify(path.join(dir, 'graphite.db'))}, 'ENGINE': 'django.db.backends.sqlite3'}}`,
      "CACHES = {'default': {'BACKEND': 'django.core.cache.backends.dummy.DummyCache'}}",
      'DEFAULT_CACHE_DURATION = 0',
      'FIND_CACHE_DURATION = 0',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, PYTHONPATH: dir, GRAPHITE_SETTINGS_MODULE: 'mp_graphite_settings' };
  const mig = await runCommand(manage, ['migrate', '--run-syncdb'], { env, cwd: dir, timeoutMs: 120_000 });
  if (mig.code !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`graphite-manage migrate: exit ${mig.code}: ${(mig.stderr || mig.stdout).slice(-2000)}`);
  }
  const port = await freePort();
  const logPath = path.join(dir, 'graphite-web.log');
  const fd = openSync(logPath, 'a');
  const proc = spawn(manage, ['runserver', `127.0.0.1:${port}`, '--noreload'], { env, cwd: dir, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = false;
  const exitP = new Promise<void>((resolve) =>
    proc.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      if (!exited) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => {
          if (!exited) proc.kill('SIGKILL');
        }, 5000);
        await exitP;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    })());
  try {
    await waitFor(
      async () => {
        try {
          return (await fetch(`${url}/render?target=x&format=json`, { signal: AbortSignal.timeout(2000) })).status === 200;
        } catch {
          return false;
        }
      },
      {
        timeoutMs: opts.readyTimeoutMs ?? 30_000,
        intervalMs: 100,
        what: 'graphite-web /render',
        abortIf: () => {
          if (exited) throw new Error(`graphite-web exited: ${fileTail(logPath)}`);
        },
      },
    );
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    url,
    port,
    dir,
    pid: proc.pid!,
    logTail: (bytes?: number) => fileTail(logPath, bytes),
    async render(target, from, until) {
      const res = await fetch(`${url}/render?${new URLSearchParams({ target, from: String(from), until: String(until), format: 'json' })}`, {
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`graphite-web render ${target}: HTTP ${res.status}: ${text.slice(0, 300)}`);
      return JSON.parse(text) as never;
    },
    stop,
  };
}
