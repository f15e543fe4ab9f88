/**
 * Scenario `scrape` (`npm run bench -- --scenario scrape`): time and bytes to
 * render 10k and 100k series as a Prometheus exposition with metricport's
 * prometheus store, and, in the same run, @opentelemetry/exporter-prometheus
 * collecting and serializing the same series (its cardinality limit raised
 * with a view, or it stops at 2,000). In-process, median of `--rounds`.
 */
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { CumulativeStore } from '../src/pullstore/cumulative.js';
import { renderBytes } from '../exporters/prometheus/exposition.js';
import { PromKeyer } from '../exporters/prometheus/labels.js';
import type { MetricsBatch, NumberDataPoint } from '../src/model/index.js';

export interface ScrapeRow {
  series: number;
  target: string;
  ms: number;
  bytes: number;
  ingestMs?: number;
}

const T0 = 1_700_000_000_000_000_000n;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function batchOf(n: number): MetricsBatch {
  const points: NumberDataPoint[] = new Array(n);
  for (let i = 0; i < n; i++)
    points[i] = { attributes: { route: `/r${i % 50}`, series: `s${i}` }, startTimeUnixNano: T0, timeUnixNano: T0 + 1_000_000_000n, flags: 0, value: 1n };
  return {
    resourceMetrics: [
      {
        resource: { attributes: { 'service.name': 'bench' }, droppedAttributesCount: 0 },
        schemaUrl: '',
        scopeMetrics: [
          {
            scope: { name: 'bench', version: '', attributes: {}, droppedAttributesCount: 0 },
            schemaUrl: '',
            metrics: [{ kind: 'sum', name: 'bench.requests', unit: '', description: 'requests', temporality: 1, isMonotonic: true, points }],
          },
        ],
      },
    ],
  };
}

async function metricport(n: number, rounds: number): Promise<ScrapeRow[]> {
  const store = new CumulativeStore({ maxSeries: n + 10 });
  const b = batchOf(n);
  const t0 = performance.now();
  store.ingest(b, new PromKeyer());
  const ingestMs = performance.now() - t0;
  const out: ScrapeRow[] = [];
  for (const format of ['text', 'openmetrics'] as const) {
    const times: number[] = [];
    let bytes = 0;
    for (let r = 0; r < rounds + 1; r++) {
      const s = performance.now();
      const body = renderBytes(store, format);
      const ms = performance.now() - s;
      if (r > 0) times.push(ms); // first round warms up
      bytes = body.length;
    }
    out.push({ series: n, target: `metricport ${format}`, ms: median(times), bytes, ingestMs });
  }
  return out;
}

async function otel(n: number, rounds: number): Promise<ScrapeRow> {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [exporter], views: [{ instrumentName: '*', aggregationCardinalityLimit: n + 10 }] });
  const counter = provider.getMeter('bench').createCounter('bench.requests', { description: 'requests' });
  for (let i = 0; i < n; i++) counter.add(1, { route: `/r${i % 50}`, series: `s${i}` });
  const serializer = new PrometheusSerializer();
  const times: number[] = [];
  let bytes = 0;
  for (let r = 0; r < rounds + 1; r++) {
    const s = performance.now();
    const { resourceMetrics } = await exporter.collect();
    const body = Buffer.from(serializer.serialize(resourceMetrics));
    const ms = performance.now() - s;
    if (r > 0) times.push(ms);
    bytes = body.length;
  }
  const text = serializer.serialize((await exporter.collect()).resourceMetrics);
  const lines = text.split('\n').filter((l) => l.startsWith('bench_requests')).length;
  if (lines < n) throw new Error(`@opentelemetry/exporter-prometheus rendered ${lines} of ${n} series: the cardinality view did not apply`);
  await provider.shutdown();
  return { series: n, target: '@opentelemetry/exporter-prometheus', ms: median(times), bytes };
}

export async function runScrape(rounds: number): Promise<{ rows: ScrapeRow[]; summary: string[] }> {
  const rows: ScrapeRow[] = [];
  const summary: string[] = [];
  for (const n of [10_000, 100_000]) {
    const mine = await metricport(n, rounds);
    const theirs = await otel(n, rounds);
    rows.push(...mine, theirs);
    for (const r of [...mine, theirs])
      console.log(
        `${String(n).padStart(7)} series  ${r.target.padEnd(36)} ${r.ms.toFixed(1).padStart(8)} ms  ${(r.bytes / 1024).toFixed(0).padStart(7)} KiB${r.ingestMs !== undefined ? `  (ingest ${r.ingestMs.toFixed(0)} ms)` : ''}`,
      );
    const speedup = theirs.ms / mine[0]!.ms;
    summary.push(
      `${n.toLocaleString('en-US')} series: building the store from one ${n.toLocaleString('en-US')}-point batch (label rendering, series creation) ${mine[0]!.ingestMs!.toFixed(0)} ms`,
    );
    summary.push(
      `${n.toLocaleString('en-US')} series: metricport text ${mine[0]!.ms.toFixed(1)} ms vs @opentelemetry/exporter-prometheus ${theirs.ms.toFixed(1)} ms = ${speedup.toFixed(1)}× faster (goal ≥ 5×)`,
    );
  }
  console.log(summary.join('\n'));
  return { rows, summary };
}
