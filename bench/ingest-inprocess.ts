/**
 * The OTLP JSON decode of the `ingest` payload (bench/payload.ts: 50 metrics
 * × 20 points × 5 attributes) in-process, on one core: points/s of the bare
 * parse against what the OTLP receiver does with the same body. Each target
 * runs in a process of its own per round (as bench/datadog-inprocess.ts: in
 * one process V8's compilation of one target can slow another for the whole
 * run), targets alternating, a warm-up of the same length first; the median
 * round and the spread are printed. Points per second of the process's CPU
 * time (user + system), steadier than the clock when the cores are shared.
 *
 *   node dist/bench/ingest-inprocess.js [--seconds 2] [--rounds 7] [--targets bare,general,receiver]
 *
 * bare:     `JSON.parse(body.toString('utf8'))` (what bench/baseline-server.ts does)
 * general:  the general path alone: UTF-8 check, text, `decodeMetricsJson`
 * receiver: what receivers/otlp/receiver.ts does: `scanMetricsJson` on the
 *           bytes, the general path when it declines
 */
import { fork } from 'node:child_process';
import { isUtf8 } from 'node:buffer';
import { fileURLToPath } from 'node:url';
import { decodeMetricsJson, encodeMetricsJson } from '../src/otlp/json.js';
import { scanMetricsJson } from '../src/otlp/jsonscan.js';
import { benchBatch, POINTS_PER_REQUEST } from './payload.js';

const LIMITS = { maxAttributes: 128, maxDepth: 16, maxValueLength: 65536 };
const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] as string) : def;
};

function general(body: Buffer): number {
  if (!isUtf8(body)) throw new Error('not UTF-8');
  const text = body.toString('utf8');
  return decodeMetricsJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, LIMITS).data.resourceMetrics.length;
}

const targets: Record<string, (body: Buffer) => number> = {
  bare: (body) => (JSON.parse(body.toString('utf8')) as { resourceMetrics: unknown[] }).resourceMetrics.length,
  general,
  receiver: (body) => {
    const r = scanMetricsJson(body, LIMITS);
    return r !== undefined ? r.data.resourceMetrics.length : general(body);
  },
};

/** in the child: one target, a warm-up and a measured stretch of `seconds` each; points/s by IPC */
function child(target: string, seconds: number): void {
  const fn = targets[target];
  if (fn === undefined) throw new Error(`unknown target ${target}`);
  const body = Buffer.from(encodeMetricsJson(benchBatch()));
  let sink = 0;
  let pps = 0;
  for (let r = 0; r < 2; r++) {
    let n = 0;
    // by the process's CPU time, not the clock: steadier when another process shares the cores
    const c0 = process.cpuUsage();
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      for (let k = 0; k < 4; k++) sink += fn(body);
      n += 4 * POINTS_PER_REQUEST;
    }
    const c = process.cpuUsage(c0);
    pps = n / ((c.user + c.system) / 1e6);
  }
  if (sink < 0) console.log(sink);
  process.send?.({ pps }, () => process.exit(0));
}

async function parent(): Promise<void> {
  const seconds = Number(opt('seconds', '2'));
  const rounds = Number(opt('rounds', '7'));
  const names = opt('targets', 'bare,general,receiver').split(',');
  const self = fileURLToPath(import.meta.url);
  const res: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const name of names) {
      const pps = await new Promise<number>((resolve, reject) => {
        const p = fork(self, ['--child', name, String(seconds)], { stdio: 'inherit' });
        p.once('message', (m: { pps: number }) => resolve(m.pps));
        p.once('error', reject);
        p.once('exit', (code) => code !== 0 && reject(new Error(`${name} exited ${code}`)));
      });
      (res[name] ??= []).push(pps);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const base = res['bare'];
  for (const name of names) {
    const xs = res[name] as number[];
    let line = `${name.padEnd(9)} ${(med(xs) / 1e6).toFixed(3)} M points/s (rounds ${xs.map((x) => (x / 1e6).toFixed(2)).join(' ')})`;
    if (base !== undefined && name !== 'bare') {
      // each round against the bare round next to it
      const ratios = xs.map((x, i) => x / (base[i] as number));
      line += `; ${((med(xs) / med(base)) * 100).toFixed(1)} % of bare (per round ${(Math.min(...ratios) * 100).toFixed(1)}–${(Math.max(...ratios) * 100).toFixed(1)} %)`;
    }
    console.log(line);
  }
}

if (args[0] === '--child') child(args[1] as string, Number(args[2]));
else await parent();
