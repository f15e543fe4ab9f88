/**
 * `npm run bench -- --scenario soak [--duration 600 --peak-seconds 15 --connections 8 --no-write]`
 *
 * The service as users run it: otlp → an `influxdb` push store with the disk
 * queue (`sending_queue: { storage: disk, drop_policy: block }`, write-ahead
 * log on) → a counting line-protocol sink in this process (a real InfluxDB
 * would take a core of the two this machine has). Every request carries the
 * same 1,000 series of delta sums with value 1 and the current time, so the
 * sum of the values the sink receives must equal the points acknowledged.
 *
 * 1. peak: a fresh service, --connections unthrottled senders for
 *    --peak-seconds (after 3 s warm-up): acknowledged points/s;
 * 2. soak: a fresh service, paced at half the peak for --duration seconds,
 *    RSS sampled every 5 s; then SIGTERM (the store flushes every window and
 *    drains its queue) and the sink's total is compared.
 * Pass: RSS growth < 10 % between the first minute after warm-up (the 2nd
 * minute) and the last minute, and zero loss (points sent = acknowledged =
 * received by the sink, nothing refused or dropped).
 */
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { writeSection } from './docsection.js';
import { freePort, memMiB, waitHttp, spawnMetricport } from './proc.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const METRICS = 50;
const SERIES_PER_METRIC = 20;
const POINTS = METRICS * SERIES_PER_METRIC;
const PERIOD_S = 10;

/** OTLP JSON split around the time (start and end): 50 delta sums × 20 series, value 1. */
function template(): string[] {
  const T = '@@T@@';
  const metrics = [];
  for (let m = 0; m < METRICS; m++) {
    const dataPoints = [];
    for (let p = 0; p < SERIES_PER_METRIC; p++) {
      dataPoints.push({
        attributes: [
          { key: 'http.route', value: { stringValue: `/api/v1/items/${p}` } },
          { key: 'http.method', value: { stringValue: p % 2 ? 'GET' : 'POST' } },
          { key: 'region', value: { stringValue: 'eu-west-1' } },
        ],
        startTimeUnixNano: T,
        timeUnixNano: T,
        asInt: '1',
      });
    }
    metrics.push({ name: `soak.requests.${m}`, unit: '{request}', sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints } });
  }
  const body = JSON.stringify({
    resourceMetrics: [
      { resource: { attributes: [{ key: 'service.name', value: { stringValue: 'soak' } }] }, scopeMetrics: [{ scope: { name: 'soak' }, metrics }] },
    ],
  });
  return body.split(`"${T}"`);
}

/** The line-protocol sink: sums every `value=<n>i` it is sent. */
class Sink {
  sum = 0;
  lines = 0;
  requests = 0;
  private server: Server | undefined;
  port = 0;
  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        this.requests++;
        for (const m of text.matchAll(/ value=(\d+)i /g)) {
          this.sum += Number(m[1]);
          this.lines++;
        }
        res.writeHead(204);
        res.end();
      });
    });
    this.server = server;
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    this.port = (server.address() as { port: number }).port;
  }
  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()) ?? r());
  }
}

interface Service {
  proc: ChildProcess;
  port: number;
  admin: number;
  dir: string;
  stop(): Promise<number | null>;
}

async function startService(sinkPort: number): Promise<Service> {
  const dir = mkdtempSync(join(tmpdir(), 'mp-soak-'));
  const port = await freePort();
  const admin = await freePort();
  const cfg = join(dir, 'soak.yaml');
  writeFileSync(
    cfg,
    `receivers:
  otlp: { protocols: { http: { endpoint: "127.0.0.1:${port}" } } }
exporters:
  influxdb:
    endpoint: "http://127.0.0.1:${sinkPort}"
    db: soak
    compression: none
    period: ${PERIOD_S}s
    resource_attributes: []
    retry_on_failure: { max_elapsed_time: 0s }
    sending_queue: { storage: disk, drop_policy: block, max_size: 64MiB }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [influxdb] }
`,
  );
  const proc = spawnMetricport({ config: cfg, adminPort: admin, stateDir: join(dir, 'state') });
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  await waitHttp(`http://127.0.0.1:${admin}/healthz`);
  return {
    proc,
    port,
    admin,
    dir,
    async stop() {
      proc.kill('SIGTERM');
      const c = await exited;
      rmSync(dir, { recursive: true, force: true });
      return c;
    },
  };
}

interface Load {
  sent: number;
  acked: number;
  non200: Record<string, number>;
  errors: number;
  seconds: number;
}

/** `connections` senders; with `perSec` > 0 requests are paced to that rate (catching up when behind), else as fast as answers come. */
async function drive(port: number, seconds: number, connections: number, perSec: number, stopAt?: { v: boolean }): Promise<Load> {
  const parts = template();
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const r: Load = { sent: 0, acked: 0, non200: {}, errors: 0, seconds: 0 };
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let slot = 0;
  const one = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const body = parts.join(`"${String(Date.now())}000000"`);
      r.sent += POINTS;
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/metrics',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) r.acked += POINTS;
            else r.non200[String(res.statusCode)] = (r.non200[String(res.statusCode)] ?? 0) + 1;
            resolve();
          });
        },
      );
      req.on('error', () => {
        r.errors++;
        resolve();
      });
      req.end(body);
    });
  const worker = async (): Promise<void> => {
    for (;;) {
      if (stopAt?.v === true) return;
      if (perSec > 0) {
        const due = t0 + (slot++ * 1000) / perSec;
        if (due >= end) return;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((res) => setTimeout(res, wait));
      } else if (performance.now() >= end) return;
      await one();
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  r.seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return r;
}

async function status(
  admin: number,
): Promise<{ receivers: Array<{ id: string; counters?: Record<string, unknown> }>; exporters: Array<Record<string, unknown> & { id: string }> }> {
  return (await (await fetch(`http://127.0.0.1:${admin}/api/v1/status`)).json()) as never;
}

export async function soakScenario(): Promise<void> {
  const DURATION = opt('duration', 600);
  const PEAK_S = opt('peak-seconds', 15);
  const CONNECTIONS = opt('connections', 8);
  const WRITE = !args.includes('--no-write');
  const sink = new Sink();
  await sink.start();

  // 1. peak
  let svc = await startService(sink.port);
  await drive(svc.port, 3, CONNECTIONS, 0);
  const peak = await drive(svc.port, PEAK_S, CONNECTIONS, 0);
  const peakRate = peak.acked / peak.seconds;
  await svc.stop();
  console.log(
    `peak: ${Math.round(peakRate).toLocaleString('en-US')} points/s acknowledged (${CONNECTIONS} connections, ${PEAK_S} s, ${POINTS} points/request, non-200 ${JSON.stringify(peak.non200)}, errors ${peak.errors})`,
  );

  // 2. soak at half the peak
  sink.sum = 0;
  sink.lines = 0;
  sink.requests = 0;
  const rate = peakRate / 2;
  svc = await startService(sink.port);
  const pid = svc.proc.pid!;
  const samples: Array<{ t: number; rss: number }> = [];
  const t0 = Date.now();
  samples.push({ t: 0, rss: memMiB(pid).rss });
  const sampler = setInterval(() => {
    samples.push({ t: (Date.now() - t0) / 1000, rss: memMiB(pid).rss });
    const last = samples[samples.length - 1]!;
    if (Math.round(last.t) % 60 < 5) console.log(`  t=${last.t.toFixed(0)} s RSS ${last.rss.toFixed(1)} MiB, sink ${sink.sum.toLocaleString('en-US')} points`);
  }, 5000);
  const load = await drive(svc.port, DURATION, CONNECTIONS, rate / POINTS);
  clearInterval(sampler);
  samples.push({ t: (Date.now() - t0) / 1000, rss: memMiB(pid).rss });
  const st = await status(svc.admin);
  const store: Record<string, unknown> = st.exporters.find((e) => e.id === 'influxdb') ?? {};
  const recv = st.receivers.find((e) => e.id === 'otlp')?.counters ?? {};
  const code = await svc.stop(); // flushes every open window and drains the queue
  await sink.stop();

  const mean = (from: number, to: number): number => {
    const xs = samples.filter((s) => s.t >= from && s.t < to).map((s) => s.rss);
    return xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);
  };
  const warm = Math.min(60, DURATION / 5);
  const firstMin = mean(warm, warm + 60);
  const lastMin = mean(DURATION - 60, DURATION + 1);
  const growth = (lastMin - firstMin) / firstMin;
  const perMinute: string[] = [];
  for (let m = 0; m * 60 < DURATION; m++) perMinute.push(mean(m * 60, (m + 1) * 60).toFixed(1));
  const lost = load.acked - sink.sum;
  const ok = growth < 0.1 && lost === 0 && load.sent === load.acked && (store.points_dropped as number) === 0;
  const summary = [
    `peak (unthrottled, ${CONNECTIONS} connections, ${PEAK_S} s): ${Math.round(peakRate).toLocaleString('en-US')} points/s acknowledged`,
    `soak: ${DURATION} s paced at ${Math.round(rate).toLocaleString('en-US')} points/s (half the peak); achieved ${Math.round(load.acked / load.seconds).toLocaleString('en-US')} points/s`,
    `points sent ${load.sent.toLocaleString('en-US')}, acknowledged ${load.acked.toLocaleString('en-US')} (non-200 ${JSON.stringify(load.non200)}, connection errors ${load.errors}), received by the store's sink ${sink.sum.toLocaleString('en-US')} in ${sink.lines.toLocaleString('en-US')} lines / ${sink.requests} writes → lost ${lost}`,
    `store status before shutdown: points_dropped ${String(store.points_dropped)}, points_refused ${String(store.points_refused)}, queue_bytes ${String(store.queue_bytes)}; receiver refused ${String(recv.refused ?? 0)}; exit code ${String(code)}`,
    `RSS (MiB) per minute: ${perMinute.join(', ')}`,
    `RSS growth, first minute after ${warm} s warm-up (${firstMin.toFixed(1)} MiB) → last minute (${lastMin.toFixed(1)} MiB): ${(growth * 100).toFixed(1)} % (goal < 10 %)`,
    `result: ${ok ? 'PASS' : 'FAIL'} (RSS flat and zero loss)`,
  ];
  console.log(summary.join('\n'));
  if (WRITE) {
    writeSection(
      'soak',
      [
        `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --scenario soak --duration ${DURATION}\` on ${cpus().length} × ${cpus()[0]?.model.trim()} with ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. Pipeline: otlp → \`influxdb\` push store (period ${PERIOD_S} s, \`sending_queue: { storage: disk, drop_policy: block, max_size: 64MiB }\`: LMDB queue + write-ahead log, every acknowledged batch fdatasync'ed) → a counting InfluxDB line-protocol sink in the bench process (not a real InfluxDB: on two shared cores it would take the CPU the service needs). Load: a Node client (same cores), OTLP JSON, ${POINTS} delta-sum points (value 1, current time) per request over ${CONNECTIONS} keep-alive connections; RSS sampled every 5 s from /proc.`,
        '',
        ...summary.map((s) => `- ${s}`),
      ],
      'Soak: half the peak for 10 minutes into a disk-queued push store',
    );
  }
  if (!ok) process.exitCode = 1;
}
