/**
 * `npm run bench -- --scenario cost`: what a metricport sidecar costs a pod,
 * measured (issue 19, goal 4). The service runs as users run it (the built
 * CLI, one process) with the sidecar's usual pipeline: `otlp` (HTTP,
 * protobuf as the SDK exporters send it) → `batch` → the `prometheus` store,
 * scraped every 15 s by the bench as Prometheus would. A sender in the bench
 * process posts at a fixed rate (points/s) over keep-alive connections,
 * cycling through a fixed set of series; after a warm-up the server's CPU
 * (user + system from /proc/<pid>/stat) over the measured seconds gives
 * millicores, and VmRSS / VmHWM give the memory the pod must allow.
 *
 * Three tables: the typical loads (1k, 10k, 100k points/s with 10k active
 * series), then at 10k points/s how the cost grows with the number of series
 * (1k, 10k, 100k) and with the payload size (100, 1,000, 5,000 points per
 * request).
 *
 *   npm run bench -- --scenario cost [--seconds 20 --warmup 5 --no-write]
 */
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { encodeMetricsProto } from '../src/otlp/proto.js';
import type { Metric, MetricsBatch } from '../src/model/index.js';
import { writeSection } from './docsection.js';
import { cpuMs, freePort, memMiB, spawnMetricport } from './proc.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const SECONDS = opt('seconds', 20);
const WARMUP = opt('warmup', 5);
const TOKEN = 'bench-cost-scrape-token-0123456789';

/** request bodies covering `series` series (20 metrics × series/20 attribute sets, half delta sums, half gauges), `perRequest` points each */
function bodies(series: number, perRequest: number): Buffer[] {
  const out: Buffer[] = [];
  const perMetric = Math.max(1, Math.ceil(series / 20));
  const n = Math.max(1, Math.ceil(series / perRequest));
  const t = BigInt(Date.now()) * 1_000_000n;
  for (let r = 0; r < n; r++) {
    const metrics = new Map<number, Metric>();
    for (let k = 0; k < perRequest; k++) {
      const s = (r * perRequest + k) % series;
      const m = s % 20;
      const a = Math.floor(s / 20) % perMetric;
      let metric = metrics.get(m);
      if (metric === undefined) {
        metric =
          m % 2 === 0
            ? { kind: 'sum', name: `app.requests.${m}`, unit: '{request}', description: '', temporality: 1, isMonotonic: true, points: [] }
            : { kind: 'gauge', name: `app.latency.${m}`, unit: 'ms', description: '', points: [] };
        metrics.set(m, metric);
      }
      (metric.points as unknown[]).push({
        attributes: { 'http.route': `/api/items/${a % 1000}`, 'http.method': a % 2 ? 'GET' : 'POST', shard: `s${Math.floor(a / 1000)}` },
        startTimeUnixNano: t - 10_000_000_000n,
        timeUnixNano: t,
        flags: 0,
        value: m % 2 === 0 ? BigInt(k + 1) : k * 0.5,
      });
    }
    const batch: MetricsBatch = {
      resourceMetrics: [
        {
          schemaUrl: '',
          resource: { attributes: { 'service.name': 'bench-app' }, droppedAttributesCount: 0 },
          scopeMetrics: [{ schemaUrl: '', scope: { name: 'bench', version: '', attributes: {}, droppedAttributesCount: 0 }, metrics: [...metrics.values()] }],
        },
      ],
    };
    out.push(Buffer.from(encodeMetricsProto(batch)));
  }
  return out;
}

interface Row {
  label: string;
  target: number;
  rate: number;
  series: number;
  perRequest: number;
  millicores: number;
  rssMiB: number;
  peakMiB: number;
  sent: number;
  errors: number;
  scrapeMs: number;
}

async function measure(label: string, rate: number, series: number, perRequest: number): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'mp-cost-'));
  const otlpPort = await freePort();
  const adminPort = await freePort();
  const promPort = await freePort();
  const cfg = join(dir, 'cost.yaml');
  writeFileSync(
    cfg,
    `receivers:\n  otlp: { protocols: { http: { endpoint: "127.0.0.1:${otlpPort}" } } }\nprocessors:\n  batch: {}\nexporters:\n  prometheus: { endpoint: "127.0.0.1:${promPort}", token: ${TOKEN}, max_series: ${Math.max(100_000, series * 2)} }\nservice:\n  pipelines:\n    metrics: { receivers: [otlp], processors: [batch], exporters: [prometheus] }\n`,
  );
  const mp: ChildProcess = spawnMetricport({ config: cfg, adminPort: adminPort, stateDir: join(dir, 'state') });
  try {
    for (const end = Date.now() + 15_000; ;) {
      try {
        if ((await fetch(`http://127.0.0.1:${adminPort}/healthz`)).ok) break;
      } catch {
        /* not yet */
      }
      if (Date.now() > end) throw new Error('metricport did not become healthy');
      await new Promise((r) => setTimeout(r, 20));
    }
    const bs = bodies(series, perRequest);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    let sent = 0;
    let errors = 0;
    let next = 0;
    const post = (body: Buffer): Promise<void> =>
      new Promise((resolve) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: otlpPort,
            path: '/v1/metrics',
            method: 'POST',
            agent,
            headers: { 'content-type': 'application/x-protobuf', 'content-length': body.length },
          },
          (res) => {
            res.resume();
            res.on('end', () => {
              if (res.statusCode === 200) sent += perRequest;
              else errors++;
              resolve();
            });
          },
        );
        req.on('error', () => {
          errors++;
          resolve();
        });
        req.end(body);
      });
    // a fixed rate: every 100 ms the requests due since the start (each request waits for its batch to be
    // exported: errors propagate through batch, up to its 200 ms timeout, so enough connections are allowed)
    const perSecond = rate / perRequest;
    const t0 = performance.now();
    let issued = 0;
    const inflight = new Set<Promise<void>>();
    const timer = setInterval(() => {
      const due = Math.floor(((performance.now() - t0) / 1000) * perSecond);
      while (issued < due && inflight.size < 256) {
        const p = post(bs[next++ % bs.length]!);
        inflight.add(p);
        void p.then(() => inflight.delete(p));
        issued++;
      }
    }, 100);
    let scrapeMs = 0;
    let scrapes = 0;
    const scrape = async (): Promise<void> => {
      const a = performance.now();
      const r = await fetch(`http://127.0.0.1:${promPort}/${TOKEN}/metrics`);
      await r.arrayBuffer();
      scrapeMs += performance.now() - a;
      scrapes++;
    };
    const scraper = setInterval(() => void scrape().catch(() => undefined), 15_000);
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    const c0 = cpuMs(mp.pid) ?? NaN;
    const w0 = performance.now();
    const s0 = sent;
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const c1 = cpuMs(mp.pid) ?? NaN;
    const w1 = performance.now();
    const mem = memMiB(mp.pid!);
    const done = sent - s0;
    clearInterval(timer);
    clearInterval(scraper);
    await Promise.all(inflight);
    agent.destroy();
    const millicores = ((c1 - c0) / (w1 - w0)) * 1000;
    const row: Row = {
      label,
      target: rate,
      rate: Math.round(done / ((w1 - w0) / 1000)),
      series,
      perRequest,
      millicores,
      rssMiB: mem.rss,
      peakMiB: mem.hwm,
      sent: done,
      errors,
      scrapeMs: scrapes > 0 ? scrapeMs / scrapes : 0,
    };
    console.log(
      `${label.padEnd(34)} ${row.rate.toLocaleString('en-US').padStart(8)} points/s  ${series.toLocaleString('en-US').padStart(7)} series  ${String(perRequest).padStart(5)}/request  ${millicores.toFixed(0).padStart(5)} millicores  RSS ${mem.rss.toFixed(1)} MiB (peak ${mem.hwm.toFixed(1)})  errors ${errors}`,
    );
    return row;
  } finally {
    mp.kill('SIGTERM');
    await new Promise((r) => mp.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function costScenario(): Promise<void> {
  const load0 = loadavg()[0]!.toFixed(2);
  const typical: Row[] = [];
  for (const [rate, per] of [
    [1_000, 100],
    [10_000, 1_000],
    [100_000, 1_000],
  ] as const)
    typical.push(await measure(`${rate.toLocaleString('en-US')} points/s, 10k series`, rate, 10_000, per));
  const bySeries: Row[] = [];
  for (const s of [1_000, 10_000, 100_000])
    bySeries.push(s === 10_000 ? typical[1]! : await measure(`10k points/s, ${s.toLocaleString('en-US')} series`, 10_000, s, 1_000));
  const bySize: Row[] = [];
  for (const p of [100, 1_000, 5_000]) bySize.push(p === 1_000 ? typical[1]! : await measure(`10k points/s, ${p} points/request`, 10_000, 10_000, p));
  const load1 = loadavg()[0]!.toFixed(2);
  const table = (head: string, rows: Row[], key: (r: Row) => string) => [
    `| ${head} | points/s sent | CPU millicores | RSS MiB | peak RSS MiB | scrape ms | errors |`,
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${key(r)} | ${r.rate.toLocaleString('en-US')} | ${r.millicores.toFixed(0)} | ${r.rssMiB.toFixed(1)} | ${r.peakMiB.toFixed(1)} | ${r.scrapeMs.toFixed(0)} | ${r.errors} |`,
    ),
  ];
  const lines = [
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --scenario cost --seconds ${SECONDS}\` on ${cpus().length} × ${cpus()[0]?.model.trim()} with ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load average ${load0} at the start and ${load1} at the end (the sender runs on the same cores). Each row: a fresh service (otlp → batch → prometheus store, scraped every 15 s), ${WARMUP} s warm-up, then ${SECONDS} s measured: CPU = the service's user + system time over the wall time (1000 millicores = one core busy); RSS at the end, peak = VmHWM.`,
    '',
    '**Typical sidecar loads** (10,000 active series):',
    '',
    ...table('load', typical, (r) => `${r.target.toLocaleString('en-US')} points/s (${r.perRequest}/request)`),
    '',
    '**Growth with the number of series** (10,000 points/s, 1,000 points per request):',
    '',
    ...table('active series', bySeries, (r) => r.series.toLocaleString('en-US')),
    '',
    '**Growth with the payload size** (10,000 points/s, 10,000 series):',
    '',
    ...table('points per request', bySize, (r) => r.perRequest.toLocaleString('en-US')),
  ];
  if (!args.includes('--no-write')) {
    writeSection('cost', lines, 'Cost per pod (`cost` scenario)');
    console.log('wrote docs/performance.md (cost)');
  } else console.log(lines.join('\n'));
}
