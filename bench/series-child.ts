/**
 * One measurement of `npm run bench -- --scenario series` in a fresh process
 * (forked by bench/series.ts with --expose-gc, so RSS and heap start from the
 * same empty process every time):
 *
 *   node --expose-gc dist/bench/series-child.js <target> <series>
 *
 * targets:
 * - `prometheus`: the prometheus store (CumulativeStore + PromKeyer) holding
 *   N delta counters; with `scrape`, then serves its exposition on a
 *   loopback port (the PullServer of the exporter) for the parent to fetch;
 * - `accumulator`: the push stores' PeriodAccumulator with N series in one
 *   open window;
 * - `anchor-map`: the anchor: a plain Map from each series' rendered label
 *   string (flat) to a number, i.e. the least a JS index of the same keys
 *   costs;
 * - `anchor-transfer`: the scrape anchor: the same number of bytes sent from
 *   one 1 MiB buffer over the same kind of loopback response.
 *
 * Prints one JSON line (`{"rss0":…, "rss1":…, "heap0":…, "heap1":…, …}`: 0 before, 1 right after
 * the take-in, 2 once V8 has shrunk its young generation again) on
 * stdout; for a scrape, that line also has the port, and then, on stdin,
 * "before" settles the heap, resets the peak RSS and answers the RSS, and
 * "after" answers the peak RSS (VmHWM) since and the CPU time (user + system,
 * all threads) the process used since; "quit" ends it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { getHeapSpaceStatistics } from 'node:v8';
import { createNoopMeter } from '@opentelemetry/api';
import { CumulativeStore } from '../src/pullstore/cumulative.js';
import { PullServer } from '../src/pullstore/server.js';
import { PeriodAccumulator } from '../src/storehelper/accumulator.js';
import { silentLogger } from '../src/logger.js';
import type { MetricsBatch, NumberDataPoint } from '../src/model/index.js';
import { prometheusResponse } from '../exporters/prometheus/exposition.js';
import { PromKeyer, renderLabels } from '../exporters/prometheus/labels.js';

const T0 = 1_700_000_000_000_000_000n;
const NOW_MS = 1_700_000_005_000;
const CHUNK = 20_000;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

function settle(): { rss: number; heap: number } {
  for (let i = 0; i < 3; i++) gc!();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
}

function attrsOf(i: number): Record<string, string> {
  return { route: `/api/v1/item/${i % 50}`, 'error.type': i % 3 === 0 ? 'TypeError' : 'RangeError', series: `s-${i}` };
}

/** series [from, to) as one delta counter batch (the same input for every target) */
function batch(from: number, to: number): MetricsBatch {
  const points: NumberDataPoint[] = new Array(to - from);
  for (let i = from; i < to; i++)
    points[i - from] = { attributes: attrsOf(i), startTimeUnixNano: T0, timeUnixNano: T0 + 1_000_000_000n, flags: 0, value: BigInt(1 + (i % 7)) };
  return {
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'shop', 'host.name': 'web-01' }, droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeMetrics: [
          {
            scope: { name: 'bench', version: '1', attributes: {}, droppedAttributesCount: 0 },
            schemaUrl: '',
            metrics: [{ kind: 'sum', name: 'http.server.requests', unit: '{request}', description: 'requests', temporality: 1, isMonotonic: true, points }],
          },
        ],
      },
    ],
  };
}

/** the V8 young generation's committed size (both semi-spaces), MiB */
function youngMiB(): number {
  return (getHeapSpaceStatistics().find((x) => x.space_name === 'new_space')?.space_size ?? 0) / 2 ** 20;
}

function peakRss(): number {
  const s = readFileSync('/proc/self/status', 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(s)?.[1] ?? 0) * 1024;
}
function resetPeak(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    /* not Linux, or not allowed: the peak is then the process peak */
  }
}

function out(o: unknown): void {
  process.stdout.write(JSON.stringify(o) + '\n');
}

async function main(): Promise<void> {
  const [target, nArg, mode] = process.argv.slice(2);
  const n = Number(nArg);
  const m0 = settle();
  const young0 = youngMiB();
  const t0 = performance.now();
  let keep: unknown;
  let scrapeRespond: (() => ReturnType<typeof prometheusResponse>) | undefined;
  if (target === 'prometheus') {
    const store = new CumulativeStore({ maxSeries: n + 10, expiryMs: 0, now: () => NOW_MS });
    const keyer = new PromKeyer();
    for (let i = 0; i < n; i += CHUNK) store.ingest(batch(i, Math.min(n, i + CHUNK)), keyer);
    // + 1: target_info (the resource's host.name)
    if (store.size !== n + 1) throw new Error(`prometheus store holds ${store.size} series, expected ${n} + target_info`);
    keep = store;
    scrapeRespond = () => prometheusResponse(store, undefined);
  } else if (target === 'accumulator') {
    const acc = new PeriodAccumulator({
      periodMs: 60_000,
      latenessMs: 0,
      maxSeries: n + 10,
      seriesExpiryMs: 3_600_000,
      cumulative: 'delta',
      resourceAttributes: ['service.name', 'host.name'],
      now: () => NOW_MS,
    });
    for (let i = 0; i < n; i += CHUNK) acc.add(batch(i, Math.min(n, i + CHUNK)));
    if (acc.seriesCount() !== n || acc.windowCount() !== 1)
      throw new Error(`accumulator holds ${acc.seriesCount()} series in ${acc.windowCount()} windows, expected ${n} in 1`);
    keep = acc;
  } else if (target === 'anchor-map') {
    const map = new Map<string, number>();
    const ctx = 'otel_scope_name="bench",otel_scope_version="1",job="shop"';
    for (let i = 0; i < n; i++) {
      const k = renderLabels(attrsOf(i), undefined, ctx);
      map.set(Buffer.from(k).toString('latin1'), i); // a flat copy
    }
    keep = map;
  } else if (target !== 'anchor-transfer') {
    throw new Error(`unknown target ${target}`);
  }
  const ingestMs = performance.now() - t0;
  (globalThis as { keep?: unknown }).keep = keep; // reachable until the process ends
  const m1 = settle();
  const young1 = youngMiB();
  // V8 grows its young generation (up to 2 × 16 MiB) while the take-in allocates, and its memory reducer gives it back
  // once allocation slows down (about 20 s later): wait for that, as a pod's RSS would show it once the burst is over
  // (not for a scrape, whose rise is measured from the RSS just before it)
  const tSettle = performance.now();
  while (mode !== 'scrape' && youngMiB() > Math.max(2, young0) && performance.now() - tSettle < 90_000) await new Promise((r) => setTimeout(r, 250));
  const settleMs = performance.now() - tSettle;
  const m2 = settle();
  const row = {
    target,
    series: n,
    ingestMs,
    rss0: m0.rss,
    rss1: m1.rss,
    heap0: m0.heap,
    heap1: m1.heap,
    rss2: m2.rss,
    heap2: m2.heap,
    young1,
    young2: youngMiB(),
    settleMs,
  };
  if (mode !== 'scrape') {
    out(row);
    void keep;
    return;
  }

  // serve: the exporter's own listener and response path, or the bare transfer anchor
  let server: { port: number; close(): Promise<void> };
  if (target === 'anchor-transfer') {
    const chunk = Buffer.alloc(1 << 20, 0x61);
    const total = n; // bytes to send
    const s = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      let left = total;
      const pump = (): void => {
        while (left > 0) {
          const c = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= c.length;
          if (!res.write(c)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    server = { port: (s.address() as { port: number }).port, close: () => new Promise((r) => s.close(() => r())) };
  } else {
    const ps = new PullServer({
      endpoint: '127.0.0.1:0',
      configKey: 'bench',
      owner: 'bench',
      logger: silentLogger(),
      meter: createNoopMeter(),
      path: '/t/metrics',
      respond: () => scrapeRespond!(),
    });
    await ps.start();
    server = { port: ps.address()!.port, close: () => ps.close(AbortSignal.timeout(1000)) };
  }
  out({ ...row, port: server.port });
  const rl = createInterface({ input: process.stdin });
  let cpu0 = process.cpuUsage();
  for await (const line of rl) {
    if (line === 'before') {
      settle();
      resetPeak();
      cpu0 = process.cpuUsage();
      out({ rssBefore: process.memoryUsage().rss });
    } else if (line === 'after') {
      const c = process.cpuUsage(cpu0);
      out({ peak: peakRss(), rssAfter: process.memoryUsage().rss, cpuMs: (c.user + c.system) / 1000 });
    } else if (line === 'quit') break;
  }
  await server.close();
  void keep;
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
