/**
 * The real Etsy statsd daemon (npm `statsd` 0.9.0, a dev dependency) as a
 * peer: `node node_modules/statsd/stats.js cfg.js` on free loopback ports in
 * a fresh temp dir, ready when its management port answers `health: up`.
 *
 *   const etsy = await startEtsyStatsd({ graphitePort: carbon.linePort, flushIntervalMs: 2000 });
 *   // send StatsD to 127.0.0.1:etsy.port (UDP) ... then: await etsy.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { fileTail, rcvbufShimEnv } from './peers.js';
import { freePorts, waitFor } from './ports.js';

export interface EtsyStatsdOptions {
  /** carbon plaintext port for the graphite backend (none: metrics are processed and discarded) */
  graphitePort?: number;
  graphiteHost?: string;
  /** default 10000 */
  flushIntervalMs?: number;
  /** default [90] */
  percentThreshold?: number[];
  /** more keys for the config object (deleteIdleStats, ...) */
  extra?: Record<string, unknown>;
  readyTimeoutMs?: number;
  /** SO_RCVBUF for its UDP socket (it has no option: an LD_PRELOAD shim, see rcvbufShimEnv); default: the kernel's */
  receiveBufferBytes?: number;
}

export interface EtsyStatsdPeer {
  name: 'etsy-statsd';
  dir: string;
  logPath: string;
  pid: number;
  /** UDP port it listens on (127.0.0.1) */
  port: number;
  mgmtPort: number;
  /** Unix seconds (rounded) of its start: flushes happen at startTime·1000 + k·flushInterval ms. */
  startTime: number;
  /** One management command (`stats`, `counters`, `gauges`, `timers`, `health`); its answer up to END. */
  mgmt(cmd: string): Promise<string>;
  logTail(bytes?: number): string;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;

export function mgmtCommand(port: number, cmd: string, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    let out = '';
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`statsd mgmt ${cmd}: timed out`));
    }, timeoutMs);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(cmd + '\n'));
    s.on('data', (d: string) => {
      out += d;
      if (/END\s*$/.test(out) || (cmd === 'health' && /health: \w+/.test(out))) {
        clearTimeout(t);
        s.end();
        resolve(out);
      }
    });
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

export async function startEtsyStatsd(opts: EtsyStatsdOptions = {}): Promise<EtsyStatsdPeer> {
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const c of live) {
        try {
          c.kill('SIGKILL');
        } catch {
          /* gone */
        }
      }
    });
  }
  const stats = path.join(packageRoot(), 'node_modules', 'statsd', 'stats.js');
  if (!fs.existsSync(stats)) throw new Error(`Etsy statsd is not installed (${stats}); run npm ci`);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'metricport-etsy-statsd-'));
  const [port, mgmtPort] = (await freePorts(2)) as [number, number];
  const cfg = {
    address: '127.0.0.1',
    port,
    mgmt_address: '127.0.0.1',
    mgmt_port: mgmtPort,
    flushInterval: opts.flushIntervalMs ?? 10_000,
    percentThreshold: opts.percentThreshold ?? [90],
    backends: opts.graphitePort !== undefined ? ['./backends/graphite'] : [],
    graphiteHost: opts.graphiteHost ?? '127.0.0.1',
    graphitePort: opts.graphitePort ?? 2003,
    ...(opts.extra ?? {}),
  };
  const cfgPath = path.join(dir, 'cfg.js');
  fs.writeFileSync(cfgPath, `(${JSON.stringify(cfg, null, 2)})\n`);
  const logPath = path.join(dir, 'etsy-statsd.log');
  const fd = fs.openSync(logPath, 'a');
  const startTime = Math.round(Date.now() / 1000);
  const env = {
    ...process.env,
    ...(opts.receiveBufferBytes !== undefined && opts.receiveBufferBytes > 0 ? await rcvbufShimEnv(dir, opts.receiveBufferBytes) : {}),
  };
  const child = spawn(process.execPath, [stats, cfgPath], { cwd: path.dirname(stats), stdio: ['ignore', fd, fd], env });
  fs.closeSync(fd);
  live.add(child);
  let exited: string | undefined;
  const exit = new Promise<void>((r) =>
    child.once('exit', (code, sig) => {
      exited = sig ?? `code ${code}`;
      live.delete(child);
      r();
    }),
  );
  try {
    await waitFor(async () => /health: up/.test(await mgmtCommand(mgmtPort, 'health', 1_000)), {
      timeoutMs: opts.readyTimeoutMs ?? 15_000,
      intervalMs: 50,
      what: 'Etsy statsd health: up',
      abortIf: () => {
        if (exited !== undefined) throw new Error(`Etsy statsd exited (${exited}) during startup: ${fileTail(logPath)}`);
      },
    });
  } catch (e) {
    child.kill('SIGKILL');
    await exit;
    await fsp.rm(dir, { recursive: true, force: true });
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    name: 'etsy-statsd',
    dir,
    logPath,
    pid: child.pid ?? -1,
    port,
    mgmtPort,
    startTime,
    mgmt: (cmd) => mgmtCommand(mgmtPort, cmd),
    logTail: (bytes) => fileTail(logPath, bytes),
    stop: () =>
      (stopped ??= (async () => {
        if (exited === undefined) {
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
          await exit;
          clearTimeout(t);
        }
        await fsp.rm(dir, { recursive: true, force: true });
      })()),
  };
}
