/**
 * `npm run bench -- --scenario datadog`: the `datadog` receiver's ingest of
 * the same bodies against their bare parse, in the same run:
 *   1. in-process (one core, each target in a process of its own per round:
 *      bench/datadog-inprocess.ts): v1 JSON = the receiver's reading of the
 *      body (its fast path, json.ts, else `JSON.parse`) + mapping vs
 *      `JSON.parse` alone; v2 protobuf = the receiver's decoder + mapping vs
 *      protobufjs's `MetricPayload.decode` of proto/datadog/agent_payload.proto;
 *   2. over HTTP: POST /api/v1/series (JSON) and /api/v2/series (protobuf)
 *      with DD-API-KEY at the running service (datadog → nop), and at a bare
 *      node:http server that only reads and parses the body
 *      (bench/datadog-baseline.ts), alternating rounds, median shown.
 * Prints points/s and the ratios (goal ≥ 0.8 × the bare parse); writes a
 * section into docs/performance.md.
 *
 *   npm run bench -- --scenario datadog [--duration 10 --rounds 5 --connections 8 --no-write]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeMetricPayload, type PayloadSeries } from '../receivers/datadog/schema.js';
import { writeSection } from './docsection.js';
import { freePort, spawnMetricport, waitHttp } from './proc.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const here = dirname(fileURLToPath(import.meta.url));
const WRK = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => existsSync(p));
const KEY = 'bench-datadog-key-0123456789abcdef';
/** series per request, one point each (what a client flushes: one point per series per interval) */
export const SERIES_PER_REQUEST = 1000;

/** one request's series: 100 metric names × 10 hosts, count/gauge/rate mixed, four tags */
export function benchSeries(nowS: number): PayloadSeries[] {
  const out: PayloadSeries[] = [];
  for (let i = 0; i < SERIES_PER_REQUEST; i++) {
    const type = i % 3 === 0 ? 1 : i % 3 === 1 ? 3 : 2;
    out.push({
      metric: `app.http.requests.m${i % 100}`,
      type,
      interval: type === 3 ? 0 : 10,
      points: [{ timestamp: nowS, value: ((i * 7) % 1000) + 0.5 }],
      resources: [{ type: 'host', name: `web-${i % 10}` }],
      tags: ['env:prod', `route:/api/v1/items/${i % 50}`, `status:${200 + (i % 5)}`, 'service:shop'],
    });
  }
  return out;
}

/** the same series as a v1 JSON body */
export function v1Body(series: PayloadSeries[]): Buffer {
  const names = ['unspecified', 'count', 'rate', 'gauge'];
  return Buffer.from(
    JSON.stringify({
      series: series.map((s) => ({
        metric: s.metric,
        type: names[s.type ?? 0],
        ...(s.interval ? { interval: s.interval } : {}),
        points: s.points.map((p) => [p.timestamp, p.value]),
        host: s.resources?.[0]?.name,
        tags: s.tags,
      })),
    }),
  );
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface InProcess {
  name: string;
  pps: number;
  all: number[];
}

/** one target's points/s, measured in a process of its own (bench/datadog-inprocess.ts) */
function inProcessRound(target: string, seconds: number, nowS: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = fork(join(here, 'datadog-inprocess.js'), [target, String(seconds), String(nowS)], { stdio: 'inherit' });
    let pps: number | undefined;
    c.once('message', (m) => {
      pps = (m as { pps: number }).pps;
    });
    c.once('error', reject);
    c.once('exit', (code) => (pps !== undefined ? resolve(pps) : reject(new Error(`datadog-inprocess ${target} exited with ${code} and no result`))));
  });
}

/**
 * The four in-process targets, each round each in a fresh process (one
 * warm-up round, one measured), alternating so that a slow stretch of the
 * shared cores hits both sides; median per target.
 */
async function inProcess(rounds: number, seconds: number, nowS: number): Promise<InProcess[]> {
  const targets = [
    ['bare JSON.parse (v1)', 'bare-v1'],
    ['receiver v1 JSON', 'receiver-v1'],
    ['bare protobufjs decode (v2)', 'bare-v2'],
    ['receiver v2 protobuf', 'receiver-v2'],
  ] as const;
  const r: Record<string, number[]> = {};
  for (let round = 0; round < rounds; round++) for (const [name, target] of targets) (r[name] ??= []).push(await inProcessRound(target, seconds, nowS));
  return Object.entries(r).map(([name, all]) => ({ name, pps: median(all), all }));
}

interface LoadResult {
  pps: number;
  p99: number;
  errors: number;
  requests: number;
}

async function load(port: number, path: string, body: Buffer, contentType: string, seconds: number, connections: number): Promise<LoadResult> {
  if (WRK !== undefined && !args.includes('--node-client')) {
    const dir = mkdtempSync(join(tmpdir(), 'mp-wrk-'));
    writeFileSync(join(dir, 'body'), body);
    writeFileSync(
      join(dir, 'post.lua'),
      `
local f = assert(io.open("${join(dir, 'body')}", "rb")); local b = f:read("*all"); f:close()
wrk.method = "POST"; wrk.body = b; wrk.headers["Content-Type"] = "${contentType}"; wrk.headers["DD-API-KEY"] = "${KEY}"
local bad = 0
response = function(status, headers, body) if status ~= 202 then bad = bad + 1 end end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %f %f\\n", summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.duration / 1e6, latency:percentile(99) / 1000))
end
`,
    );
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(
        WRK,
        [
          '-t1',
          `-c${connections}`,
          `-d${Math.max(1, Math.round(seconds))}s`,
          '--timeout',
          '10s',
          '-s',
          join(dir, 'post.lua'),
          `http://127.0.0.1:${port}${path}`,
        ],
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
    const m = /RESULT (\d+) (\d+) ([\d.]+) ([\d.]+)/.exec(out);
    if (!m) throw new Error(`wrk printed no result:\n${out}`);
    return { pps: ((Number(m[1]) - Number(m[2])) * SERIES_PER_REQUEST) / Number(m[3]), p99: Number(m[4]), errors: Number(m[2]), requests: Number(m[1]) };
  }
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  let ok = 0;
  let errors = 0;
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = request(
        { host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': body.length, 'dd-api-key': KEY } },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 202) {
              ok++;
              lat.push(performance.now() - t0);
            } else errors++;
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
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  agent.destroy();
  lat.sort((a, b) => a - b);
  return { pps: (ok * SERIES_PER_REQUEST) / secs, p99: lat[Math.floor(lat.length * 0.99)] ?? NaN, errors, requests: ok + errors };
}

export async function datadogScenario(): Promise<void> {
  const duration = opt('duration', 10);
  const rounds = opt('rounds', 5);
  const connections = opt('connections', 8);
  const write = !args.includes('--no-write');
  const nowS = Math.floor(Date.now() / 1000);
  const series = benchSeries(nowS);
  const v1 = v1Body(series);
  const v2 = encodeMetricPayload(series);
  console.log(
    `payload: ${SERIES_PER_REQUEST} series × 1 point per request (count/gauge/rate, host, 4 tags); v1 JSON ${v1.length} B, v2 protobuf ${v2.length} B`,
  );

  const ip = await inProcess(rounds, 0.5, nowS);
  for (const r of ip)
    console.log(
      `in-process ${r.name.padEnd(28)} ${Math.round(r.pps).toLocaleString('en-US').padStart(12)} points/s (rounds ${r.all.map((x) => Math.round(x / 1000) + 'k').join(' ')})`,
    );
  const ipRatio = (a: string, b: string) => ip.find((r) => r.name === a)!.pps / ip.find((r) => r.name === b)!.pps;

  const dir = mkdtempSync(join(tmpdir(), 'mp-bench-dd-'));
  const mpPort = await freePort();
  const adminPort = await freePort();
  const cfg = join(dir, 'bench.yaml');
  writeFileSync(
    cfg,
    `receivers:\n  datadog: { endpoint: "127.0.0.1:${mpPort}", api_keys: [{ key: "${KEY}" }] }\nexporters:\n  nop: {}\nservice:\n  pipelines:\n    metrics: { receivers: [datadog], exporters: [nop] }\n`,
  );
  const mp: ChildProcess = spawnMetricport({ config: cfg, adminPort: adminPort, stateDir: join(dir, 'state') });
  await waitHttp(`http://127.0.0.1:${adminPort}/healthz`);
  const basePort = await freePort();
  const base = fork(join(here, 'datadog-baseline.js'), [String(basePort)], { stdio: 'inherit' });
  await new Promise<void>((r) => base.once('message', () => r()));

  const targets = [
    ['baseline v1 JSON', basePort, '/api/v1/series', v1, 'application/json'],
    ['metricport v1 JSON', mpPort, '/api/v1/series', v1, 'application/json'],
    ['baseline v2 protobuf', basePort, '/api/v2/series', v2, 'application/x-protobuf'],
    ['metricport v2 protobuf', mpPort, '/api/v2/series', v2, 'application/x-protobuf'],
  ] as const;
  const slice = Math.max(1, duration / rounds);
  for (const [, port, path, body, ct] of targets) await load(port, path, body, ct, 1, connections);
  const res: Record<string, LoadResult[]> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [name, port, path, body, ct] of targets) (res[name] ??= []).push(await load(port, path, body, ct, slice, connections));
  }
  mp.kill('SIGTERM');
  base.kill('SIGTERM');
  await new Promise((r) => mp.once('exit', r));
  rmSync(dir, { recursive: true, force: true });

  const http: Record<string, LoadResult & { all: number[] }> = {};
  for (const [name] of targets) {
    const rs = [...res[name]!].sort((a, b) => a.pps - b.pps);
    http[name] = { ...rs[Math.floor(rs.length / 2)]!, all: res[name]!.map((r) => r.pps) };
    const h = http[name]!;
    console.log(
      `${name.padEnd(24)} ${Math.round(h.pps).toLocaleString('en-US').padStart(12)} points/s (rounds ${h.all.map((x) => Math.round(x / 1000) + 'k').join(' ')})  p99 ${h.p99.toFixed(2)} ms  errors ${h.errors}`,
    );
  }
  const summary = [
    `in-process v1 JSON: receiver (parse + map) / bare JSON.parse = ${(ipRatio('receiver v1 JSON', 'bare JSON.parse (v1)') * 100).toFixed(1)} % (goal ≥ 80 %)`,
    `in-process v2 protobuf: receiver (decode + map) / bare protobufjs decode = ${(ipRatio('receiver v2 protobuf', 'bare protobufjs decode (v2)') * 100).toFixed(1)} % (goal ≥ 80 %)`,
    `HTTP v1 JSON: metricport / baseline = ${((http['metricport v1 JSON']!.pps / http['baseline v1 JSON']!.pps) * 100).toFixed(1)} % (goal ≥ 80 %)`,
    `HTTP v2 protobuf: metricport / baseline = ${((http['metricport v2 protobuf']!.pps / http['baseline v2 protobuf']!.pps) * 100).toFixed(1)} % (goal ≥ 80 %)`,
  ];
  console.log(summary.join('\n'));
  if (!write) return;
  writeSection(
    'datadog',
    [
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --scenario datadog --duration ${duration} --rounds ${rounds}\` on ${cpus().length} × ${cpus()[0]?.model.trim()} with ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. One request = ${SERIES_PER_REQUEST} series × 1 point (a third each count, gauge, rate; a host; four tags): v1 JSON ${v1.length} B, v2 protobuf ${v2.length} B (protobufjs-encoded MetricPayload). In-process: one core, each target in a fresh process per round (0.5 s warm-up, 0.5 s measured), alternating, median of ${rounds}. HTTP: the built service (datadog → nop) and a bare node:http server that only reads and parses the same body (\`JSON.parse\`; protobufjs \`MetricPayload.decode\`), ${rounds} alternating rounds of ${slice} s after 1 s warm-up, ${connections} connections, median round; load by ${WRK !== undefined && !args.includes('--node-client') ? 'wrk (one thread)' : 'a Node http client'} on the same cores.`,
      '',
      '| target | points/s | rounds |',
      '|---|---:|---|',
      ...ip.map((r) => `| in-process ${r.name} | ${Math.round(r.pps).toLocaleString('en-US')} | ${r.all.map((x) => Math.round(x / 1000) + 'k').join(' ')} |`),
      ...Object.entries(http).map(
        ([n, h]) => `| HTTP ${n} | ${Math.round(h.pps).toLocaleString('en-US')} | ${h.all.map((x) => Math.round(x / 1000) + 'k').join(' ')} |`,
      ),
      '',
      ...summary.map((s) => `- ${s}`),
    ],
    'Datadog API ingest (`datadog` scenario)',
  );
}
