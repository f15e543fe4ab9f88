/**
 * `npm run bench [-- --scenario ingest|startup|scrape|series|events|export|statsd|sdk|soak|cluster-leases|cluster|explore|datadog|cost]`. Scenario `cost`: see bench/cost.ts (CPU millicores and MiB per pod at typical loads). Scenario `cluster`: see bench/fleet.ts (fleet-wide metric sets over NATS). Scenario `explore`: see bench/explore.ts. Scenario `datadog`: see bench/datadog.ts. Scenario `series`: see bench/series.ts (memory per series of the prometheus store and the accumulator at 100k/1M/5M, the scrape of 1M series). Scenario `cluster-leases`: see bench/cluster.ts. Scenario `startup`: see bench/startup.ts (also printed by ingest; `--compare DIR` measures another built checkout alternately). Scenario `soak`: see bench/soak.ts. Scenario `sdk`: see bench/sdk.ts. Scenario `statsd`: see bench/statsd.ts. Scenario `export`: see bench/export.ts. Scenario `scrape`: see
 * bench/scrape.ts (exposition render time and bytes at 10k/100k series vs
 * @opentelemetry/exporter-prometheus). Scenario `ingest` (the default): OTLP JSON and protobuf load at the
 * running service (otlp → batch → nop) and, in the same run, at a bare
 * node:http server that only reads and parses the body. Prints data points/s,
 * p99 latency and RSS for both and the ratios, and writes them into
 * docs/performance.md.
 *
 *   npm run bench [-- --duration 10 --rounds 5 --connections 8 --no-write]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeMetricsJson } from '../src/otlp/json.js';
import { encodeMetricsProto } from '../src/otlp/proto.js';
import { packageRoot } from '../src/paths.js';
import { benchBatch, POINTS_PER_REQUEST } from './payload.js';
import { runScrape } from './scrape.js';
import { eventsScenario } from './events.js';
import { exportScenario } from './export.js';
import { statsdScenario } from './statsd.js';
import { sdkScenario } from './sdk.js';
import { soakScenario } from './soak.js';
import { clusterLeasesScenario } from './cluster.js';
import { fleetScenario } from './fleet.js';
import { seriesScenario } from './series.js';
import { exploreScenario } from './explore.js';
import { datadogScenario } from './datadog.js';
import { costScenario } from './cost.js';
import { measureStartup, startupLines } from './startup.js';
import { writeSection } from './docsection.js';
import { cpuMs, freePort, memMiB, waitHttp, spawnMetricport } from './proc.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const DURATION_S = opt('duration', 10);
const CONNECTIONS = opt('connections', 8);
const ROUNDS = opt('rounds', 5);
const WRITE = !args.includes('--no-write');
const here = dirname(fileURLToPath(import.meta.url));
const ROOT = packageRoot();

interface LoadResult {
  requests: number;
  errors: number;
  pointsPerSec: number;
  p50: number;
  p99: number;
  seconds: number;
  cpuMsPerRequest?: number;
}

const medianOf = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** wrk (C, one thread) when installed: it leaves more of the shared cores to the server than a Node client. */
const WRK = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => existsSync(p));

async function load(port: number, path: string, body: Buffer, contentType: string, seconds: number): Promise<LoadResult> {
  return WRK !== undefined && !args.includes('--node-client')
    ? loadWrk(port, path, body, contentType, seconds)
    : loadNode(port, path, body, contentType, seconds);
}

async function loadWrk(port: number, path: string, body: Buffer, contentType: string, seconds: number): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mp-wrk-'));
  const bodyFile = join(dir, 'body');
  writeFileSync(bodyFile, body);
  const script = join(dir, 'post.lua');
  writeFileSync(
    script,
    `
local f = assert(io.open("${bodyFile}", "rb")); local b = f:read("*all"); f:close()
wrk.method = "POST"; wrk.body = b; wrk.headers["Content-Type"] = "${contentType}"
local errors = 0
response = function(status, headers, body) if status ~= 200 then errors = errors + 1 end end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %f %f %f\\n", summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
`,
  );
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn(
      WRK!,
      ['-t1', `-c${CONNECTIONS}`, `-d${Math.max(1, Math.round(seconds))}s`, '--timeout', '10s', '-s', script, `http://127.0.0.1:${port}${path}`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let o = '';
    p.stdout.on('data', (d: Buffer) => {
      o += d.toString();
    });
    p.on('error', reject);
    p.on('exit', () => resolve(o));
  });
  rmSync(dir, { recursive: true, force: true });
  const m = /RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+)/.exec(out);
  if (!m) throw new Error(`wrk printed no result:\n${out}`);
  const requests = Number(m[1]);
  const errors = Number(m[2]);
  const secs = Number(m[3]);
  return { requests, errors, pointsPerSec: ((requests - errors) * POINTS_PER_REQUEST) / secs, p50: Number(m[4]), p99: Number(m[5]), seconds: secs };
}

async function loadNode(port: number, path: string, body: Buffer, contentType: string, seconds: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = request(
        { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': body.length } },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => {
            if (res.statusCode === 200) lat.push(performance.now() - t0);
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
  const worker = async () => {
    while (performance.now() < end) await one();
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const secs = (performance.now() - t0) / 1000;
  agent.destroy();
  lat.sort((a, b) => a - b);
  const q = (p: number) => (lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]! : NaN);
  return { requests: lat.length, errors, pointsPerSec: (lat.length * POINTS_PER_REQUEST) / secs, p50: q(0.5), p99: q(0.99), seconds: secs };
}

async function main(): Promise<void> {
  const json = Buffer.from(encodeMetricsJson(benchBatch()));
  const proto = Buffer.from(encodeMetricsProto(benchBatch()));
  console.log(
    `payload: ${POINTS_PER_REQUEST} points/request; JSON ${json.length} B, protobuf ${proto.length} B; ${CONNECTIONS} connections, ${DURATION_S} s per target; load: ${WRK !== undefined && !args.includes('--node-client') ? WRK : 'node client'}`,
  );

  // start and idle with the default config, before any load warms the machine
  const startup = await measureStartup(ROOT, Math.max(3, ROUNDS));
  for (const l of startupLines(startup)) console.log(l);

  // metricport, as users run it
  const dir = mkdtempSync(join(tmpdir(), 'mp-bench-'));
  const mpPort = await freePort();
  const adminPort = await freePort();
  const cfg = join(dir, 'bench.yaml');
  writeFileSync(
    cfg,
    `receivers:\n  otlp: { protocols: { http: { endpoint: "127.0.0.1:${mpPort}" } } }\nprocessors:\n  batch: { timeout: 200ms, send_batch_size: 2000 }\nexporters:\n  nop: {}\nservice:\n  pipelines:\n    metrics: { receivers: [otlp], processors: [batch], exporters: [nop] }\n`,
  );
  const mp: ChildProcess = spawnMetricport({ config: cfg, adminPort: adminPort, stateDir: join(dir, 'state') });
  await waitHttp(`http://127.0.0.1:${adminPort}/healthz`);

  // the baseline
  const basePort = await freePort();
  const base = fork(join(here, 'baseline-server.js'), [String(basePort)], { stdio: 'inherit' });
  await new Promise<void>((r) => base.once('message', () => r()));

  // The load generator shares the two cores with the server under test, so
  // single runs are noisy: targets alternate over ROUNDS rounds of
  // DURATION_S / ROUNDS seconds each and the median round is reported.
  const warm = Math.min(2, DURATION_S);
  const slice = Math.max(1, DURATION_S / ROUNDS);
  const targets = [
    ['baseline json', basePort, json, 'application/json'],
    ['metricport json', mpPort, json, 'application/json'],
    ['baseline protobuf', basePort, proto, 'application/x-protobuf'],
    ['metricport protobuf', mpPort, proto, 'application/x-protobuf'],
  ] as const;
  for (const [, port, body, ct] of targets) await load(port, '/v1/metrics', body, ct, warm);
  const rounds: Record<string, LoadResult[]> = {};
  const pidOf = (name: string) => (name.startsWith('baseline') ? base.pid! : mp.pid!);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, port, body, ct] of targets) {
      // the server's own CPU per request: on shared cores it is steadier than throughput
      const c0 = cpuMs(pidOf(name));
      const r = await load(port, '/v1/metrics', body, ct, slice);
      const c1 = cpuMs(pidOf(name));
      if (c0 !== undefined && c1 !== undefined && r.requests > 0) r.cpuMsPerRequest = (c1 - c0) / r.requests;
      (rounds[name] ??= []).push(r);
    }
  }
  const results: Record<string, LoadResult & { rss: number; cpu: number; cpuAll: number[] }> = {};
  for (const [name] of targets) {
    const rs = [...rounds[name]!].sort((a, b) => a.pointsPerSec - b.pointsPerSec);
    const r = rs[Math.floor(rs.length / 2)]!;
    const cpuAll = rounds[name]!.map((x) => x.cpuMsPerRequest).filter((x): x is number => x !== undefined);
    results[name] = { ...r, rss: memMiB(pidOf(name)).hwm, cpu: medianOf(cpuAll), cpuAll };
    console.log(
      `${name.padEnd(20)} ${Math.round(r.pointsPerSec).toLocaleString('en-US').padStart(12)} points/s (rounds ${rs.map((x) => Math.round(x.pointsPerSec / 1000) + 'k').join(' ')})  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms  peak RSS ${results[name]!.rss.toFixed(0)} MiB  errors ${r.errors}  server CPU ${results[name]!.cpu.toFixed(3)} ms/request (rounds ${cpuAll.map((x) => x.toFixed(2)).join(' ')})`,
    );
  }
  mp.kill('SIGTERM');
  base.kill('SIGTERM');
  await new Promise((r) => mp.once('exit', r));
  rmSync(dir, { recursive: true, force: true });

  const ratioJson = results['metricport json']!.pointsPerSec / results['baseline json']!.pointsPerSec;
  const ratioProto = results['metricport protobuf']!.pointsPerSec / results['baseline protobuf']!.pointsPerSec;
  const protoVsJson = results['metricport protobuf']!.pointsPerSec / results['metricport json']!.pointsPerSec;
  // by CPU: the baseline's server CPU per request over metricport's (100 % = as cheap as a bare parse)
  const cpuRatio = (mpName: string, baseName: string) => results[baseName]!.cpu / results[mpName]!.cpu;
  // per round, each metricport round against the baseline round next to it: the spread of the ratio
  const roundRatios = (mpName: string, baseName: string) =>
    rounds[mpName]!.map((r, i) => (rounds[baseName]![i]?.cpuMsPerRequest ?? NaN) / (r.cpuMsPerRequest ?? NaN)).filter(Number.isFinite);
  const rrJson = roundRatios('metricport json', 'baseline json');
  const rrProto = roundRatios('metricport protobuf', 'baseline protobuf');
  const pct = (x: number) => (x * 100).toFixed(1);
  const summary = [
    `by server CPU per request: metricport JSON at ${pct(cpuRatio('metricport json', 'baseline json'))} % of the bare-parse baseline (baseline ${results['baseline json']!.cpu.toFixed(3)} ms, metricport ${results['metricport json']!.cpu.toFixed(3)} ms per request of ${POINTS_PER_REQUEST} points; per round ${rrJson.length ? `${pct(Math.min(...rrJson))}–${pct(Math.max(...rrJson))} %` : '?'}) (goal ≥ 95 %)`,
    `by server CPU per request: metricport protobuf at ${pct(cpuRatio('metricport protobuf', 'baseline protobuf'))} % of its baseline (baseline ${results['baseline protobuf']!.cpu.toFixed(3)} ms, metricport ${results['metricport protobuf']!.cpu.toFixed(3)} ms; per round ${rrProto.length ? `${pct(Math.min(...rrProto))}–${pct(Math.max(...rrProto))} %` : '?'})`,
    `metricport JSON / baseline JSON: ${(ratioJson * 100).toFixed(1)} % by throughput (goal ≥ 70 %)`,
    `metricport protobuf / baseline protobuf: ${(ratioProto * 100).toFixed(1)} %`,
    `metricport protobuf / metricport JSON: ${(protoVsJson * 100).toFixed(1)} % (goal ≥ 100 %)`,
    ...startupLines(startup),
  ];
  console.log(summary.join('\n'));

  if (WRITE) {
    const rows = Object.entries(results).map(
      ([n, r]) =>
        `| ${n} | ${Math.round(r.pointsPerSec).toLocaleString('en-US')} | ${r.cpu.toFixed(3)} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.rss.toFixed(0)} | ${r.errors} |`,
    );
    writeSection('ingest', [
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench\` (${ROUNDS} alternating rounds of ${slice} s per target after ${warm} s warm-up, median round shown, ${CONNECTIONS} connections, ${POINTS_PER_REQUEST} points per request; JSON ${json.length} B, protobuf ${proto.length} B) on ${cpus().length} × ${cpus()[0]?.model.trim()} with ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. The load generator (${WRK !== undefined && !args.includes('--node-client') ? 'wrk, one thread' : 'a Node http client'}) runs on the same cores. Server CPU per request: the server process's user + system time (/proc/<pid>/stat) over a round divided by the requests answered, median of the rounds; the CPU ratio is the baseline's over metricport's (100 % = as cheap as the bare parse).`,
      '',
      '| target | data points/s | server CPU ms/request | p50 ms | p99 ms | peak RSS MiB | errors |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...rows,
      '',
      ...summary.map((s) => `- ${s}`),
    ]);
  }
}

async function scrapeScenario(): Promise<void> {
  const { rows, summary } = await runScrape(Math.max(3, ROUNDS));
  if (!WRITE) return;
  writeSection(
    'scrape',
    [
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --scenario scrape\` (in-process, median of ${Math.max(3, ROUNDS)} renders after one warm-up; one delta counter with two labels per series, \`route\` of 50 values and a unique \`series\`) on ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}. metricport: render of the store to one Buffer; @opentelemetry/exporter-prometheus: \`collect()\` + \`PrometheusSerializer.serialize\` (cardinality limit raised with a view).`,
      '',
      '| series | target | ms | KiB |',
      '|---:|---|---:|---:|',
      ...rows.map((r) => `| ${r.series.toLocaleString('en-US')} | ${r.target} | ${r.ms.toFixed(1)} | ${(r.bytes / 1024).toFixed(0)} |`),
      '',
      ...summary.map((s) => `- ${s}`),
    ],
    'Scrape: rendering the Prometheus exposition',
  );
}

/** `--scenario startup`: start to healthy and idle RSS only (a minute instead of several). */
async function startupScenario(): Promise<void> {
  // --compare DIR: another built checkout (e.g. a git worktree of an older commit), measured in the same run, alternating
  const ci = args.indexOf('--compare');
  const other = ci >= 0 ? args[ci + 1] : undefined;
  if (other !== undefined) {
    const rounds = Math.max(3, ROUNDS);
    const a: Array<Awaited<ReturnType<typeof measureStartup>>> = [];
    const b: Array<Awaited<ReturnType<typeof measureStartup>>> = [];
    for (let i = 0; i < rounds; i++) {
      a.push(await measureStartup(ROOT, 1));
      b.push(await measureStartup(other, 1));
    }
    const med = (rs: typeof a, f: (r: (typeof a)[number]) => number) => {
      const s = rs.map(f).sort((x, y) => x - y);
      return s[Math.floor(s.length / 2)]!;
    };
    for (const [name, rs] of [
      [ROOT, a],
      [other, b],
    ] as const) {
      console.log(
        `${name}: start to healthy ${med(rs, (r) => r.metricport.startMs).toFixed(0)} ms, idle RSS ${med(rs, (r) => r.metricport.rss).toFixed(1)} MiB (${med(rs, (r) => r.metricport.anon).toFixed(1)} MiB private); anchor ${med(rs, (r) => r.anchor.startMs).toFixed(0)} ms, ${med(rs, (r) => r.anchor.rss).toFixed(1)} MiB (median of ${rounds})`,
      );
    }
    return;
  }
  const r = await measureStartup(ROOT, Math.max(3, ROUNDS));
  const lines = startupLines(r);
  for (const l of lines) console.log(l);
  if (!WRITE) return;
  writeSection(
    'startup',
    [
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --scenario startup\` (${r.rounds} alternating starts of each, medians) on ${cpus().length} × ${cpus()[0]?.model.trim()} with ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}.`,
      '',
      ...lines.map((l) => `- ${l}`),
    ],
    'Start and idle',
  );
}

const SCENARIO = (() => {
  const i = args.indexOf('--scenario');
  return i >= 0 ? args[i + 1] : 'ingest';
})();
const scenarios: Record<string, () => Promise<void>> = {
  ingest: main,
  startup: startupScenario,
  scrape: scrapeScenario,
  events: eventsScenario,
  export: exportScenario,
  statsd: statsdScenario,
  sdk: sdkScenario,
  soak: soakScenario,
  'cluster-leases': clusterLeasesScenario,
  cluster: fleetScenario,
  series: seriesScenario,
  explore: exploreScenario,
  datadog: datadogScenario,
  cost: costScenario,
};
const run = scenarios[SCENARIO ?? 'ingest'];
if (run === undefined) {
  console.error(`unknown scenario ${JSON.stringify(SCENARIO)} (scenarios: ${Object.keys(scenarios).join(', ')})`);
  process.exit(2);
}
run().catch((e) => {
  console.error(e);
  process.exit(1);
});
