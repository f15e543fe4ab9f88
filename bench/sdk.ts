/**
 * `npm run bench -- --scenario sdk`: Sentry envelopes, as @sentry/node 11
 * sends them (one `event` item of a captured exception, ~3 KB, every request
 * with its own event_id), POSTed to the running service's sentry receiver
 * → metricsets (count + unique(_tx) + unique(guid) by error.type and
 * application.version) → nop. Prints envelopes/s and p99 and checks that
 * every 200 became an event in the metric set; writes a section into
 * docs/performance.md.
 *
 *   npm run bench -- --scenario sdk [--duration 10 --rounds 3 --connections 8 --no-write]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { writeSection } from './docsection.js';
import { freePort, waitHttp, spawnMetricport } from './proc.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const WRK = ['/usr/bin/wrk', '/usr/local/bin/wrk'].find((p) => existsSync(p));
const KEY = 'benchpublickey0123456789abcdef';
const PATH = `/api/1/envelope/?sentry_version=7&sentry_key=${KEY}&sentry_client=sentry.javascript.node%2F11.12.0`;
const ID = '@@EVENT_ID@@';

/** An envelope shaped like @sentry/node 11's for captureException, with ID where the event_id goes. */
function envelopeTemplate(): string {
  const now = Date.now() / 1000;
  const frames = [
    ['node:internal/main/run_main_module', 'run_main_module', '?', false],
    ['node:internal/modules/cjs/loader', 'loader', 'Module._load', false],
    ['/srv/shop/node_modules/express/lib/router/layer.js', 'layer', 'Layer.handle [as handle_request]', false],
    ['/srv/shop/src/routes/cart.js', 'cart', 'checkout', true],
    ['/srv/shop/src/services/payment.js', 'payment', 'charge', true],
  ].map(([filename, module, fn, inApp], i) => ({
    filename,
    module,
    function: fn,
    lineno: 10 + i,
    colno: 7,
    in_app: inApp,
    ...(inApp
      ? {
          pre_context: ['  const total = cart.total();', '  if (!card) {'],
          context_line: "    throw new TypeError('card declined');",
          post_context: ['  }', '  return ok;'],
        }
      : {}),
  }));
  const event = {
    exception: { values: [{ type: 'TypeError', value: 'card declined', stacktrace: { frames }, mechanism: { type: 'generic', handled: true } }] },
    event_id: ID,
    level: 'error',
    platform: 'node',
    contexts: {
      trace: { trace_id: 'ee1c2ba3717646308a87e763758ea56d', span_id: '8f45624e09881ff6' },
      runtime: { name: 'node', version: 'v20.20.2' },
      os: { kernel_version: '6.1.0', name: 'Debian', version: '12' },
      device: { arch: 'x64', memory_size: 25325260800, processor_count: 2 },
    },
    server_name: 'web-1',
    timestamp: now,
    environment: 'production',
    release: 'shop@2.4.1',
    sdk: {
      name: 'sentry.javascript.node',
      version: '11.12.0',
      integrations: [
        'EventFilters',
        'FunctionToString',
        'LinkedErrors',
        'Dedupe',
        'OnUncaughtException',
        'OnUnhandledRejection',
        'ContextLines',
        'Context',
        'Modules',
      ],
      packages: [{ name: 'npm:@sentry/node', version: '11.12.0' }],
    },
    user: { id: 'user-42' },
  };
  const header = {
    event_id: ID,
    sent_at: new Date().toISOString(),
    sdk: { name: 'sentry.javascript.node', version: '11.12.0' },
    trace: { environment: 'production', release: 'shop@2.4.1', public_key: KEY, trace_id: 'ee1c2ba3717646308a87e763758ea56d' },
  };
  return `${JSON.stringify(header)}\n{"type":"event"}\n${JSON.stringify(event)}`;
}

interface LoadResult {
  ok: number;
  perSec: number;
  p99: number;
  errors: number;
}

let seq = 0;

async function load(port: number, template: string, seconds: number, connections: number): Promise<LoadResult> {
  const [a, b, c] = template.split(ID) as [string, string, string];
  if (WRK !== undefined && !args.includes('--node-client')) {
    const dir = mkdtempSync(join(tmpdir(), 'mp-wrk-'));
    const lit = (s: string) => `[==[${s}]==]`;
    writeFileSync(
      join(dir, 'post.lua'),
      `
local a, b, c = ${lit(a)}, ${lit(b)}, ${lit(c)}
local n = ${seq}
local headers = { ["User-Agent"] = "sentry.javascript.node/11.12.0" }
request = function()
  n = n + 1
  local id = string.format("%032x", n)
  return wrk.format("POST", "${PATH}", headers, a .. id .. b .. id .. c)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %f %f\\n", summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout, summary.duration / 1e6, latency:percentile(99) / 1000))
end
`,
    );
    seq += 1e9; // ids of later rounds never repeat earlier ones
    const out = await new Promise<string>((resolve, reject) => {
      const p = spawn(
        WRK,
        ['-t1', `-c${connections}`, `-d${Math.max(1, Math.round(seconds))}s`, '--timeout', '10s', '-s', join(dir, 'post.lua'), `http://127.0.0.1:${port}`],
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
    const ok = Number(m[1]) - Number(m[2]);
    return { ok, perSec: ok / Number(m[3]), p99: Number(m[4]), errors: Number(m[2]) };
  }
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  let ok = 0;
  let errors = 0;
  const lat: number[] = [];
  const end = performance.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const id = (++seq).toString(16).padStart(32, '0');
      const body = Buffer.from(a + id + b + id + c);
      const t0 = performance.now();
      const req = request({ host: '127.0.0.1', port, path: PATH, method: 'POST', agent, headers: { 'content-length': body.length } }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) {
            ok++;
            lat.push(performance.now() - t0);
          } else errors++;
          resolve();
        });
      });
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
  agent.destroy();
  lat.sort((x, y) => x - y);
  return { ok, perSec: ok / ((performance.now() - t0) / 1000), p99: lat[Math.floor(lat.length * 0.99)] ?? NaN, errors };
}

export async function sdkScenario(): Promise<void> {
  const DURATION_S = opt('duration', 10);
  const ROUNDS = opt('rounds', 3);
  const CONNECTIONS = opt('connections', 8);
  const WRITE = !args.includes('--no-write');
  const template = envelopeTemplate();
  const dir = mkdtempSync(join(tmpdir(), 'mp-bench-sdk-'));
  const port = await freePort();
  const adminPort = await freePort();
  const cfg = join(dir, 'bench.yaml');
  const set = {
    name: 'SDK',
    metrics: [{ name: 'ErrorsByTypeAndVersion', group_by: ['error.type', 'application.version'], aggregates: ['count', 'unique(_tx)', 'unique(guid)'] }],
  };
  writeFileSync(
    cfg,
    `receivers:\n  sentry: { endpoint: "127.0.0.1:${port}", keys: [ { key: ${KEY}, application: shop } ] }\nprocessors:\n  metricsets:\n    period: 60s\n    sets: ${JSON.stringify([set])}\nexporters:\n  nop: {}\nservice:\n  pipelines:\n    errors: { receivers: [sentry], processors: [metricsets], exporters: [nop] }\n`,
  );
  const mp: ChildProcess = spawnMetricport({ config: cfg, adminPort: adminPort, stateDir: join(dir, 'state') });
  await waitHttp(`http://127.0.0.1:${adminPort}/healthz`);

  let total = 0;
  total += (await load(port, template, 1, CONNECTIONS)).ok; // warm-up
  const slice = Math.max(1, DURATION_S / ROUNDS);
  const rs: LoadResult[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const x = await load(port, template, slice, CONNECTIONS);
    rs.push(x);
    total += x.ok;
  }
  rs.sort((x, y) => x.perSec - y.perSec);
  const med = rs[Math.floor(rs.length / 2)]!;
  const status = (await (await fetch(`http://127.0.0.1:${adminPort}/api/v1/status`)).json()) as {
    receivers: Array<{ id: string; counters: Record<string, number> }>;
    processors: Array<{ incoming?: number }>;
  };
  mp.kill('SIGTERM');
  await new Promise((r) => mp.once('exit', r));
  rmSync(dir, { recursive: true, force: true });

  const accepted = status.receivers.find((r) => r.id === 'sentry')?.counters.accepted;
  const incoming = status.processors[0]?.incoming;
  const line = `${Math.round(med.perSec).toLocaleString('en-US')} envelopes/s (rounds ${rs.map((x) => Math.round(x.perSec).toLocaleString('en-US')).join(' / ')}), p99 ${med.p99.toFixed(2)} ms, errors ${med.errors}`;
  const check = `${total.toLocaleString('en-US')} envelopes answered 200 to the load generator; the receiver accepted ${accepted?.toLocaleString('en-US') ?? '?'} events and the metric set took in ${incoming?.toLocaleString('en-US') ?? '?'} (requests in flight when the generator stopped are counted by the server only)`;
  console.log(line);
  console.log(check);
  if (!WRITE) return;
  const extra = args.filter((x) => x !== '--scenario' && x !== 'sdk');
  writeSection(
    'sdk',
    [
      `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --scenario sdk${extra.length ? ' ' + extra.join(' ') : ''}\` on ${cpus().length} × ${cpus()[0]?.model.trim()} with ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. One Sentry envelope per request shaped like @sentry/node 11's captureException (${Buffer.byteLength(template)} B, header + one \`event\` item, a fresh event_id per request), \`POST /api/1/envelope/?sentry_key=…\` → sentry receiver → metricsets (count + unique(_tx) + unique(guid) by error.type and application.version) → nop; ${CONNECTIONS} connections, ${ROUNDS} rounds of ${slice} s after a 1 s warm-up, median shown; load by ${WRK !== undefined && !args.includes('--node-client') ? 'wrk (one thread, Lua building each body)' : 'a Node client'} on the same cores.`,
      '',
      `- ${line}`,
      `- ${check}`,
    ],
    'Error SDKs: Sentry envelopes through a metric set',
  );
}
