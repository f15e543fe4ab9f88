/**
 * The built service as a child process with a fixed state directory and fixed
 * ports, so a test can kill -9 it and start it again on the same state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from '../e2e/metricport.js';
import { recordForScan } from '../secretscan.js';

export interface Child {
  proc: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
  kill(sig: NodeJS.Signals): Promise<void>;
}

export function writeConfig(dir: string, text: string): string {
  const file = join(dir, 'config.yaml');
  writeFileSync(file, text);
  return file;
}

export function spawnMetricport(configFile: string, stateDir: string, adminPort: number, env: Record<string, string> = {}): Child {
  let out = '';
  const proc = spawn(process.execPath, [BIN, 'run', '--config', configFile, '--admin-endpoint', `127.0.0.1:${adminPort}`, '--state-dir', stateDir], {
    env: { ...process.env, METRICPORT_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d: Buffer) => {
    if (out.length < 200_000) out += d.toString();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    if (out.length < 200_000) out += d.toString();
  });
  const exited = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  return {
    proc,
    exited,
    output: () => out,
    async kill(sig) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(sig);
      await exited;
      recordForScan('metricport (crash child) output', out);
    },
  };
}
