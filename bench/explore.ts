/**
 * Scenario `explore` (`npm run bench -- --scenario explore`): Explore over
 * 1,000,000 retained events (POST /api/v1/explore's work, in-process: the
 * history's chunks through MetricSetsEngine.addColumns, then the table and
 * the chart series), against the anchor measured in the same run: the live
 * path aggregating the same events (`MetricSetsEngine.add`, what the
 * metricsets processor does as they arrive). Also the history's memory per
 * event (its own estimate and the V8 heap growth) and the cost of keeping
 * them (append + seal per event).
 *
 * Events: one hour, seed-shaped attributes (_tx unique per event, guid of
 * 20,000 users, app.version of 10, error.type of 50, fingerprint of 500).
 * Queries: the seed's "group by app.version, unique(_tx), unique(guid)", and
 * "error.type in [E1, E2], group by fingerprint, count + unique(guid)".
 * Median of --rounds (default 5) after one warm-up; wall and CPU time (CPU
 * time is what the query costs when the machine is shared).
 *
 *   npm run bench -- --scenario explore [--events 1000000 --rounds 5 --no-write]
 */
import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { packageRoot } from '../src/paths.js';
import { validateSchema } from '../src/config/schema.js';
import { compileMetricSets, metricsetsConfigSchema, type MetricSetsConfig } from '../processors/metricsets/config.js';
import { MetricSetsEngine } from '../processors/metricsets/engine.js';
import { explore } from '../processors/metricsets/explore.js';
import { EventHistory } from '../processors/metricsets/history.js';
import type { Event } from '../src/model/events.js';
import { writeSection } from './docsection.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const WRITE = !args.includes('--no-write');
const GOAL_MS = 200;

function consoleWeight(): string {
  try {
    const dir = join(packageRoot(), 'dist', 'console');
    const js = gzipSync(readFileSync(join(dir, 'app.js'))).length;
    const css = gzipSync(readFileSync(join(dir, 'app.css'))).length;
    return `${((js + css) / 1024).toFixed(1)} KiB (JS ${(js / 1024).toFixed(1)}, CSS ${(css / 1024).toFixed(1)})`;
  } catch {
    return 'not built (npm run build)';
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function timed(f: () => unknown): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

export async function exploreScenario(): Promise<void> {
  const N = opt('events', 1_000_000);
  const ROUNDS = opt('rounds', 5);
  const nowMs = Math.floor(Date.now() / 60_000) * 60_000;
  const t0 = BigInt(nowMs - 3_600_000) * 1_000_000n;
  const step = 3_600_000_000_000n / BigInt(N);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const batches: Event[][] = [];
  for (let i = 0; i < N; i += 100) {
    const b: Event[] = [];
    for (let j = i; j < Math.min(N, i + 100); j++) {
      b.push({
        timeUnixNano: t0 + BigInt(j) * step,
        attributes: {
          _tx: `tx-${j.toString(16)}`,
          guid: `user-${j % 20_000}`,
          'app.version': `2.${j % 10}.0`,
          'error.type': `E${j % 50}`,
          fingerprint: `fp${(j * 7919) % 500}`,
        },
      });
    }
    batches.push(b);
  }
  gc?.();
  const heapEvents = process.memoryUsage().heapUsed - heap0;
  // keeping them: append + seal, as the processor does per batch
  const history = new EventHistory({ maxAgeMs: 2 * 3_600_000, maxBytes: 1 << 30 }, () => nowMs);
  const keep = timed(() => {
    for (const b of batches) history.append(b);
    history.seal();
  });
  const cfg = validateSchema(metricsetsConfigSchema, { period: '60s', history: { max_bytes: '1GiB' } }, '').value as unknown as MetricSetsConfig;
  const queries = {
    'group by app.version, unique(_tx), unique(guid)': { group_by: ['app.version'], aggregates: ['unique(_tx)', 'unique(guid)'], from: '1h' },
    'error.type in [E1, E2], group by fingerprint, count, unique(guid)': {
      filter: { 'error.type': { in: ['E1', 'E2'] } },
      group_by: ['fingerprint'],
      aggregates: ['count', 'unique(guid)'],
      from: '1h',
    },
  };
  // the anchor: the live path over the same events (objects, as they arrive)
  const issues: never[] = [];
  const specs = compileMetricSets(
    {
      ...cfg,
      sets: [
        { name: 's', metrics: [{ name: 'm', description: '', group_by: ['app.version'], group_by_defaults: {}, aggregates: ['unique(_tx)', 'unique(guid)'] }] },
      ],
    },
    issues,
  );
  const live = () => {
    const e = new MetricSetsEngine(specs, {
      periodMs: 60_000,
      latenessMs: 0,
      maxGroups: 10_000,
      zeroFill: false,
      hllThreshold: 1024,
      hllPrecision: 14,
      ddAccuracy: 0.01,
      mode: 'replay',
    });
    for (const b of batches) e.add(b, nowMs);
    e.flushAll();
  };
  live();
  const anchor: Array<{ wall: number; cpu: number }> = [];
  const results = new Map<string, Array<{ wall: number; cpu: number }>>();
  let firstQuery: { wall: number; cpu: number } | undefined;
  let sample = '';
  for (let r = 0; r <= ROUNDS; r++) {
    for (const [name, q] of Object.entries(queries)) {
      let res: ReturnType<typeof explore> | undefined;
      const t = timed(() => {
        res = explore(history, cfg, q, nowMs);
      });
      if (res!.events_scanned !== N) throw new Error(`explore scanned ${res!.events_scanned} events, expected ${N}`);
      if (r === 0 && firstQuery === undefined) {
        firstQuery = t;
        sample = JSON.stringify(res!.rows.slice(0, 2));
      }
      if (r > 0) {
        const l = results.get(name) ?? [];
        l.push(t);
        results.set(name, l);
      }
    }
    const a = timed(live);
    if (r > 0) anchor.push(a);
  }
  const st = history.stats();
  const aw = median(anchor.map((x) => x.wall));
  const ac = median(anchor.map((x) => x.cpu));
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --scenario explore\` (in-process; ${N.toLocaleString('en')} events over one hour; median of ${ROUNDS} after a warm-up) on ${cpus().length} × ${cpus()[0]?.model.trim()} with ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}.`,
    '',
    '| query over the history | wall ms | CPU ms | ÷ live path (anchor) |',
    '|---|---:|---:|---:|',
    ...[...results].map(([name, ts]) => {
      const w = median(ts.map((x) => x.wall));
      const c = median(ts.map((x) => x.cpu));
      return `| ${name} | ${w.toFixed(0)} | ${c.toFixed(0)} | ${(w / aw).toFixed(2)} |`;
    }),
    `| anchor: the live path (MetricSetsEngine.add of the same events, first query's aggregates) | ${aw.toFixed(0)} | ${ac.toFixed(0)} | 1.00 |`,
    '',
    `- Goal: ≤ ${GOAL_MS} ms wall for 1 M events on an unshared core. First query after the events arrived (hashes of the values not yet cached in the chunks): ${firstQuery!.wall.toFixed(0)} ms wall, ${firstQuery!.cpu.toFixed(0)} ms CPU.`,
    `- History memory: ${st.bytes_per_event} bytes per event (its own estimate, ${(st.bytes / 2 ** 20).toFixed(0)} MiB for ${st.events.toLocaleString('en')} events, ${st.chunks} chunks); the same events as JS objects took ${(heapEvents / N).toFixed(0)} bytes each on the V8 heap.`,
    `- Keeping them (append + seal, on the ingest path): ${((keep.cpu * 1e6) / N).toFixed(0)} ns CPU per event.`,
    `- Result check: ${sample}`,
    `- Console page weight (the whole client: dist/console/app.js + app.css, gzip): ${consoleWeight()}; goal ≤ 150 KB.`,
  ];
  console.log(lines.join('\n'));
  if (WRITE) writeSection('explore', lines, 'Explore: queries over the retained events');
}
