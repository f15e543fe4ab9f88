/**
 * `npm run bench -- --scenario export`: the push metric stores.
 *   1. encode throughput per adapter (store points/s), each adapter's own
 *      encoder as configured by default (gzip where the store takes it), over
 *      10,000 points (gauges and delta sums with three attributes);
 *   2. period accumulator: ingest rate and memory per series at 100,000
 *      series (heap after GC, while the window is held and after it closed).
 * Writes a section into docs/performance.md.
 *
 *   npm run bench -- --scenario export [--rounds 3 --no-write]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gzipSync } from 'node:zlib';
import { encodeTrap } from '../exporters/circonus/encode.js';
import { datadogEncoder } from '../exporters/datadog/exporter.js';
import { encodeGraphite } from '../exporters/graphite/encode.js';
import { grafanaRows } from '../exporters/grafana/encode.js';
import { encodeLines } from '../exporters/influxdb/encode.js';
import type { Metric, MetricsBatch } from '../src/model/metrics.js';
import { Temporality } from '../src/model/metrics.js';
import { packageRoot } from '../src/paths.js';
import { PeriodAccumulator, type StorePoint } from '../src/storehelper/accumulator.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ROUNDS = Math.max(1, opt('rounds', 3));
const WRITE = !args.includes('--no-write');
const T0 = 1_700_000_000;

function batchOf(series: number, offset = 0): MetricsBatch {
  const g: Metric = { kind: 'gauge', name: 'app.cpu.load', description: '', unit: '1', points: [] };
  const s: Metric = { kind: 'sum', name: 'http.server.requests', description: '', unit: '1', temporality: Temporality.Delta, isMonotonic: true, points: [] };
  for (let i = offset; i < offset + series; i++) {
    const attributes = { route: `/api/v1/item/${i % 50}`, 'error.type': i % 3 === 0 ? 'TypeError' : 'RangeError', series: `s-${i}` };
    const time = BigInt(T0 + 1) * 1_000_000_000n;
    if (i % 2 === 0) g.points.push({ attributes, startTimeUnixNano: 0n, timeUnixNano: time, flags: 0, value: i * 0.25 });
    else s.points.push({ attributes, startTimeUnixNano: 0n, timeUnixNano: time, flags: 0, value: BigInt(i) });
  }
  return {
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'shop', 'host.name': 'web-01' }, droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeMetrics: [{ scope: { name: 'bench', version: '1', attributes: {}, droppedAttributesCount: 0 }, schemaUrl: '', metrics: [g, s] }],
      },
    ],
  };
}

function accumulator(now: () => number, maxSeries = 200_000): PeriodAccumulator {
  return new PeriodAccumulator({
    periodMs: 10_000,
    latenessMs: 0,
    maxSeries,
    seriesExpiryMs: 3_600_000,
    cumulative: 'delta',
    resourceAttributes: ['service.name', 'host.name'],
    now,
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] as number;
}

interface EncodeRow {
  adapter: string;
  pointsPerSec: number;
  bytesPerPoint: number;
}

function encodeBench(points: StorePoint[]): EncodeRow[] {
  const ctx = { periodSeconds: 10, nowMs: (T0 + 5) * 1000 };
  const encoders: Record<string, () => Uint8Array> = {
    'graphite (plaintext, tags)': () => encodeGraphite(points, { prefix: 'mp', tagMode: 'tags', template: '' }).body,
    'influxdb (line protocol, gzip)': () => gzipSync(Buffer.from(encodeLines(points, { precision: 'ns', fieldName: 'value' }).text)),
    'influxdb (line protocol, none)': () => Buffer.from(encodeLines(points, { precision: 'ns', fieldName: 'value' }).text),
    'datadog v2 (JSON, gzip)': () => datadogEncoder({ api_version: 'v2', compression: 'gzip' })(points, ctx).body,
    'datadog v1 (JSON, gzip)': () => datadogEncoder({ api_version: 'v1', compression: 'gzip' })(points, ctx).body,
    'grafana (JSON)': () => Buffer.from(JSON.stringify(grafanaRows(points, { prefix: 'mp', intervalSeconds: 10 }).rows)),
    'circonus push (JSON, gzip)': () => gzipSync(Buffer.from(JSON.stringify(encodeTrap(points).body))),
  };
  const rows: EncodeRow[] = [];
  for (const [adapter, enc] of Object.entries(encoders)) {
    enc(); // warm-up
    const rates: number[] = [];
    let bytes = 0;
    for (let r = 0; r < ROUNDS; r++) {
      let n = 0;
      const t0 = process.hrtime.bigint();
      let el = 0;
      while (el < 1e9) {
        bytes = enc().length;
        n += points.length;
        el = Number(process.hrtime.bigint() - t0);
      }
      rates.push(n / (el / 1e9));
    }
    rows.push({ adapter, pointsPerSec: median(rates), bytesPerPoint: bytes / points.length });
    console.log(`${adapter}: ${Math.round(median(rates)).toLocaleString('en-US')} points/s, ${(bytes / points.length).toFixed(1)} B/point`);
  }
  return rows;
}

function gcFn(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

interface MemResult {
  series: number;
  heldBytesPerSeries: number;
  stateBytesPerSeries: number;
  ingestPointsPerSec: number;
}

function memoryBench(series: number): MemResult {
  const gc = gcFn();
  const batches: MetricsBatch[] = [];
  for (let i = 0; i < series; i += 1000) batches.push(batchOf(1000, i));
  gc();
  gc();
  const base = process.memoryUsage().heapUsed;
  let nowMs = (T0 + 5) * 1000;
  const acc = accumulator(() => nowMs, series * 2);
  const t0 = process.hrtime.bigint();
  for (const b of batches) acc.add(b);
  const ingestS = Number(process.hrtime.bigint() - t0) / 1e9;
  batches.length = 0; // the accumulator keeps what it needs (attribute objects) by reference
  gc();
  gc();
  const held = process.memoryUsage().heapUsed - base;
  nowMs = (T0 + 11) * 1000;
  const pts = acc.collect();
  if (pts.length !== series) throw new Error(`expected ${series} points, got ${pts.length}`);
  pts.length = 0;
  gc();
  gc();
  const state = process.memoryUsage().heapUsed - base;
  if (acc.seriesCount() !== series) throw new Error('series lost');
  return { series, heldBytesPerSeries: held / series, stateBytesPerSeries: state / series, ingestPointsPerSec: series / ingestS };
}

export async function exportScenario(): Promise<void> {
  const acc = accumulator(() => (T0 + 5) * 1000);
  acc.add(batchOf(10_000));
  const points = acc.collect(true);
  const rows = encodeBench(points);
  const mem = memoryBench(100_000);
  console.log(
    `accumulator at ${mem.series} series: ${Math.round(mem.heldBytesPerSeries)} B/series with the window held, ${Math.round(mem.stateBytesPerSeries)} B/series of series state after the flush; ingest ${Math.round(mem.ingestPointsPerSec).toLocaleString('en-US')} points/s`,
  );
  if (!WRITE) return;
  const section = [
    '<!-- bench:export:start -->',
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --scenario export\` (in-process, one core, median of ${ROUNDS} one-second rounds per encoder) on ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}. 10,000 store points: half gauges, half delta sums, three point attributes and two resource attributes each; encoders as the adapters run them (compression included).`,
    '',
    '| adapter (encoder) | points/s | bytes/point on the wire |',
    '|---|---:|---:|',
    ...rows.map((r) => `| ${r.adapter} | ${Math.round(r.pointsPerSec).toLocaleString('en-US')} | ${r.bytesPerPoint.toFixed(1)} |`),
    '',
    `Period accumulator at ${mem.series.toLocaleString('en-US')} series (heap used after GC, relative to before): **${Math.round(mem.heldBytesPerSeries)} bytes per series** while the period's window is held (series state, the window cell and the point attribute objects kept by reference), **${Math.round(mem.stateBytesPerSeries)} bytes per series** after the window closed (series state until \`series_expiry\`). Ingest into the accumulator: ${Math.round(mem.ingestPointsPerSec).toLocaleString('en-US')} points/s.`,
    '<!-- bench:export:end -->',
  ].join('\n');
  const docPath = join(packageRoot(), 'docs/performance.md');
  let doc = readFileSync(docPath, 'utf8');
  if (doc.includes('<!-- bench:export:start -->')) doc = doc.replace(/<!-- bench:export:start -->[\s\S]*<!-- bench:export:end -->/, section);
  else doc = doc.trimEnd() + '\n\n## Export: push metric store encoders and the period accumulator\n' + section + '\n';
  writeFileSync(docPath, doc);
  console.log(`wrote ${docPath}`);
}
