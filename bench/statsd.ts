/**
 * Scenario `statsd` (`npm run bench -- --scenario statsd`): StatsD over UDP
 * (20 lines per packet, 1,000 names) into metricport's statsd receiver (run
 * as users run it: statsd → nop) and, in the same run, two anchors: collectd's
 * statsd plugin (C; Debian `collectd-core`, started by the test harness) and
 * the Etsy statsd daemon (npm `statsd`, no backend). All three get the same
 * UDP receive buffer (--rcvbuf, default 8 MiB: metricport's own
 * `receive_buffer_size`; for collectd and Etsy, which have no such option, an
 * LD_PRELOAD shim calling setsockopt(SO_RCVBUF) before bind), and the buffer
 * each socket really has is read back from the kernel (`ss -uamn`) and printed.
 *
 * Two measurements per target:
 *  1. the lossless rate: the highest rate (lines/s, as the sender really
 *     achieved it) losing at most 0.1 % of the lines. The rate doubles from --start until a step loses
 *     more, then bisects --bisect times; --search-rounds searches per target
 *     (median and spread reported).
 *  2. CPU per million lines: at a fixed --cpu-rate (default 250,000 lines/s,
 *     below every target's lossless rate on the reference machine), the
 *     daemon's user + system CPU (/proc/<pid>/stat, all threads) from the
 *     start of a step until its received count settles, divided by the lines
 *     it received; --rounds alternating rounds, median and spread reported.
 *
 * A fourth target, `bare` ("bare Node dgram", bench/statsd-bare.ts), is the
 * floor Node itself sets: a dgram socket at the same receive buffer that only
 * receives datagrams and counts their lines (no parse, no aggregation).
 * --bare-coalesce-ms N adds the same server reading in batches (an
 * experiment through Node internals; see bench/statsd-bare.ts).
 *
 * Received lines come from each daemon's own totals: metricport's
 * metricport_statsd_lines (/metrics), Etsy's statsd.metrics_received (mgmt
 * port; flush 1 h so it never resets), collectd's csv output (StoreRates
 * false: each counter file holds its cumulative count). Every packet carries
 * exactly 10 counter lines `…:1|c` of its 20 and a packet is received or lost
 * whole, so collectd's received lines = 2 × the sum of its counters.
 *
 *   npm run bench -- --scenario statsd [--step 3 --start 100000 --bisect 4 --rounds 3 --search-rounds 1 --cpu-rate 250000 --rcvbuf 8388608 --bare-coalesce-ms 1 --only metricport,collectd,etsy,bare --cpu-prof --no-write]
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../src/paths.js';
import { peersInstalled, startCollectd, udpReceiveBuffer, udpSocketMemory, type CollectdPeer } from '../test/harness/peers.js';
import { freePort } from '../test/harness/ports.js';
import { startEtsyStatsd, type EtsyStatsdPeer } from '../test/harness/statsd.js';
import { LINES_PER_PACKET, NAMES } from './statsd-sender.js';
import { writeSection } from './docsection.js';
import { cpuMs } from './proc.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const STEP_S = opt('step', 3);
const START = opt('start', 100_000);
const BISECT = opt('bisect', 4);
const ROUNDS = opt('rounds', 3);
const SEARCH_ROUNDS = opt('search-rounds', 1);
const CPU_RATE = opt('cpu-rate', 250_000);
const RCVBUF = opt('rcvbuf', 8 * 1024 * 1024);
/** > 0: a fifth target, the bare server with reads coalesced this many ms (bench/statsd-bare.ts; Node internals, an experiment) */
const BARE_COALESCE_MS = opt('bare-coalesce-ms', 0);
const ONLY = (() => {
  const i = args.indexOf('--only');
  return i >= 0 ? (args[i + 1] ?? '').split(',') : undefined;
})();
const MAX_LOSS = 0.001;
/** counter lines (`…:1|c`) per packet of the sender's mix */
const COUNTERS_PER_PACKET = LINES_PER_PACKET / 2;
const here = dirname(fileURLToPath(import.meta.url));
const ROOT = packageRoot();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

interface Target {
  name: string;
  port: number;
  pid: number;
  /** how long the received count must stay still to count as settled (collectd writes its csv every second) */
  quietMs: number;
  received(): Promise<number>;
}
interface Step {
  rate: number;
  sent: number;
  seconds: number;
  received: number;
  loss: number;
  cpuS: number;
  kernelDrops: number;
}
/** the rate the sender really achieved (on shared cores it can fall short of the offered rate) */
const sentRate = (s: Step) => s.sent / s.seconds;

function offer(port: number, rate: number, seconds: number): Promise<{ sent: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, 'statsd-sender.js'), [String(port), String(rate), String(seconds)], { stdio: 'inherit' });
    child.once('message', (m) => resolve(m as { sent: number; seconds: number }));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`sender exited ${code}`));
    });
  });
}

async function settle(t: Target): Promise<number> {
  let last = await t.received();
  let stillSince = performance.now();
  const deadline = stillSince + 30_000;
  while (performance.now() < deadline) {
    await sleep(100);
    const now = await t.received();
    if (now !== last) {
      last = now;
      stillSince = performance.now();
    } else if (performance.now() - stillSince >= t.quietMs) return now;
  }
  return last;
}

async function step(t: Target, rate: number): Promise<Step> {
  const before = await settle(t);
  const d0 = (await udpSocketMemory(t.port))?.drops ?? 0;
  const c0 = (cpuMs(t.pid) ?? NaN) / 1000;
  const { sent, seconds } = await offer(t.port, rate, STEP_S);
  // CPU while the traffic lasts (+ 250 ms for the socket's backlog), not the idle wait for the totals to settle
  await sleep(250);
  const cpuS = (cpuMs(t.pid) ?? NaN) / 1000 - c0;
  const received = (await settle(t)) - before;
  const kernelDrops = ((await udpSocketMemory(t.port))?.drops ?? 0) - d0;
  const s = { rate, sent, seconds, received, loss: sent === 0 ? 1 : Math.max(0, 1 - received / sent), cpuS, kernelDrops };
  console.log(
    `  ${t.name.padEnd(11)} offered ${fmt(s.rate).padStart(10)} lines/s (sent ${fmt(sent / seconds).padStart(10)}/s): sent ${fmt(sent)}, received ${fmt(received)}, loss ${(s.loss * 100).toFixed(3)} % (kernel dropped ${fmt(kernelDrops)} datagrams: buffer full), CPU ${cpuS.toFixed(2)} s = ${received > 0 ? (cpuS / (received / 1e6)).toFixed(3) : '?'} s per million lines`,
  );
  return s;
}

async function search(t: Target): Promise<{ best: Step | undefined; steps: Step[] }> {
  const steps: Step[] = [];
  let ok: Step | undefined;
  let rate = START;
  let bad: number | undefined;
  for (let i = 0; i < 12; i++) {
    const s = await step(t, rate);
    steps.push(s);
    if (s.loss <= MAX_LOSS) {
      ok = s;
      rate *= 2;
    } else {
      bad = rate;
      break;
    }
  }
  if (bad !== undefined) {
    let lo = ok?.rate ?? 0;
    let hi = bad;
    for (let i = 0; i < BISECT; i++) {
      const mid = Math.round((lo + hi) / 2);
      if (mid <= 0) break;
      const s = await step(t, mid);
      steps.push(s);
      if (s.loss <= MAX_LOSS) {
        ok = s;
        lo = mid;
      } else hi = mid;
    }
  }
  return { best: ok, steps };
}

const BARE = 'bare Node dgram';

interface BarePeer {
  port: number;
  pid: number;
  lines(): Promise<number>;
  stop(): Promise<void>;
}

/** bench/statsd-bare.ts as a child: a dgram socket that only receives and counts lines, at the same receive buffer */
async function startBare(rcvbuf: number, coalesceMs: number): Promise<BarePeer> {
  const port = await freePort();
  const child = fork(join(here, 'statsd-bare.js'), [String(port), String(rcvbuf), String(coalesceMs)], { stdio: 'inherit' });
  const waiters: Array<(n: number) => void> = [];
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bare dgram server exited ${code}`)));
    child.on('message', (m: { ready?: boolean; lines?: number }) => {
      if (m.ready === true) resolve();
      else if (m.lines !== undefined) waiters.shift()?.(m.lines);
    });
  });
  child.removeAllListeners('exit');
  return {
    port,
    pid: child.pid!,
    lines: () =>
      new Promise((resolve) => {
        waiters.push(resolve);
        child.send('count');
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function metricportLines(adminPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const m = /^metricport_statsd_lines(?:_total)?\{[^}]*\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const spread = (xs: number[], f: (x: number) => string): string => (xs.length === 0 ? '' : `${f(Math.min(...xs))}–${f(Math.max(...xs))}`);

export async function statsdScenario(): Promise<void> {
  const want = (name: string) => ONLY === undefined || ONLY.includes(name);
  const dir = mkdtempSync(join(tmpdir(), 'mp-bench-statsd-'));
  const port = await freePort();
  const adminPort = await freePort();
  const cfg = join(dir, 'statsd.yaml');
  writeFileSync(
    cfg,
    `receivers:\n  statsd: { udp: { endpoint: "127.0.0.1:${port}", receive_buffer_size: ${RCVBUF} }, flush_interval: 10s }\nexporters:\n  nop: {}\nservice:\n  pipelines:\n    metrics: { receivers: [statsd], exporters: [nop] }\n`,
  );
  // --cpu-prof: metricport writes a V8 CPU profile into a temp dir (printed) when it exits
  const profDir = args.includes('--cpu-prof') ? mkdtempSync(join(tmpdir(), 'mp-statsd-prof-')) : undefined;
  if (profDir !== undefined) console.log(`metricport CPU profile: ${profDir}`);
  const mpArgs = [
    ...(profDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []),
    join(ROOT, 'dist/src/bin/metricport.js'),
    'run',
    '--config',
    cfg,
    '--admin-endpoint',
    `127.0.0.1:${adminPort}`,
    '--state-dir',
    join(dir, 'state'),
    '--log-level',
    'warn',
  ];
  const mp: ChildProcess = spawn(process.execPath, mpArgs, { stdio: 'inherit' });
  let etsy: EtsyStatsdPeer | undefined;
  let cd: CollectdPeer | undefined;
  let bare: BarePeer | undefined;
  let bareCoalesced: BarePeer | undefined;
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${adminPort}/healthz`)).ok) break;
      } catch {
        /* not yet */
      }
      if (i > 200) throw new Error('metricport did not become healthy');
      await sleep(50);
    }
    const targets: Target[] = [];
    if (want('metricport')) targets.push({ name: 'metricport', port, pid: mp.pid!, quietMs: 300, received: () => metricportLines(adminPort) });
    if (want('collectd')) {
      if (!peersInstalled('collectd'))
        throw new Error('collectd is not installed: run .ci/install-peers.sh (apt-get install -y --no-install-recommends collectd-core)');
      cd = await startCollectd({ receiveBufferBytes: RCVBUF, intervalS: 1 });
      const c = cd;
      targets.push({
        name: 'collectd',
        port: c.port,
        pid: c.pid,
        quietMs: 2_500,
        received: async () => {
          let n = 0;
          for (const v of c.counters('bench.app.').values()) n += v;
          return (n * LINES_PER_PACKET) / COUNTERS_PER_PACKET;
        },
      });
    }
    if (want('etsy')) {
      etsy = await startEtsyStatsd({ flushIntervalMs: 3_600_000, receiveBufferBytes: RCVBUF });
      const e = etsy;
      targets.push({
        name: 'Etsy statsd',
        port: e.port,
        pid: e.pid,
        quietMs: 300,
        received: async () => Number(/'?statsd\.metrics_received'?: (\d+)/.exec(await e.mgmt('counters'))?.[1] ?? 0),
      });
    }
    if (want('bare')) {
      bare = await startBare(RCVBUF, 0);
      const b = bare;
      targets.push({ name: BARE, port: b.port, pid: b.pid, quietMs: 300, received: () => b.lines() });
    }
    if (want('bare') && BARE_COALESCE_MS > 0) {
      bareCoalesced = await startBare(RCVBUF, BARE_COALESCE_MS);
      const b = bareCoalesced;
      targets.push({ name: `${BARE}, reads coalesced ${BARE_COALESCE_MS} ms`, port: b.port, pid: b.pid, quietMs: 300, received: () => b.lines() });
    }
    const buffers: Record<string, number | undefined> = {};
    for (const t of targets) buffers[t.name] = await udpReceiveBuffer(t.port);
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const bufLine = `UDP receive buffer asked: ${fmt(RCVBUF)} B each (net.core.rmem_max ${fmt(rmemMax)}); as the kernel reports it (ss -uamn, rb: twice the granted SO_RCVBUF): ${targets.map((t) => `${t.name} ${buffers[t.name] !== undefined ? fmt(buffers[t.name]!) + ' B' : '?'}`).join(', ')}`;
    console.log(`statsd: ${LINES_PER_PACKET} lines per packet, ${NAMES} names, ${STEP_S} s per step, loss limit ${MAX_LOSS * 100} %`);
    console.log(bufLine);
    const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    const loadAtStart = loadavg();
    console.log(`load average at start: ${loadAtStart}`);
    const distinct = new Set(Object.values(buffers));
    if (distinct.size > 1) console.log('WARNING: the receive buffers differ; the comparison is not at equal buffers');

    // 1. CPU per million lines at one fixed rate, alternating targets
    console.log(`CPU at ${fmt(CPU_RATE)} lines/s, ${ROUNDS} alternating rounds:`);
    const cpu: Record<string, Step[]> = {};
    for (let r = 0; r < ROUNDS; r++) for (const t of targets) (cpu[t.name] ??= []).push(await step(t, CPU_RATE));
    // 2. lossless rate
    console.log(`lossless rate search (${SEARCH_ROUNDS} per target):`);
    const searches: Record<string, Array<{ best: Step | undefined; steps: Step[] }>> = {};
    for (let r = 0; r < SEARCH_ROUNDS; r++) for (const t of targets) (searches[t.name] ??= []).push(await search(t));

    const perM = (s: Step) => (s.received > 0 ? s.cpuS / (s.received / 1e6) : NaN);
    const res: Record<string, { lossless: number; losslessAll: number[]; cpuPerM: number; cpuAll: number[]; lossAtCpu: number }> = {};
    for (const t of targets) {
      const bests = (searches[t.name] ?? []).map((x) => Math.max(0, ...x.steps.filter((s) => s.loss <= MAX_LOSS).map(sentRate)));
      const cpus = cpu[t.name]!.map(perM);
      res[t.name] = {
        lossless: median(bests),
        losslessAll: bests,
        cpuPerM: median(cpus),
        cpuAll: cpus,
        lossAtCpu: Math.max(...cpu[t.name]!.map((s) => s.loss)),
      };
    }
    const summary: string[] = [bufLine, `load average (1, 5, 15 min; 2 cores) at the start ${loadAtStart}, at the end ${loadavg()}`];
    for (const t of targets) {
      const r = res[t.name]!;
      summary.push(
        `${t.name}: lossless up to ${fmt(r.lossless)} lines/s${r.losslessAll.length > 1 ? ` (searches ${r.losslessAll.map(fmt).join(', ')})` : ''}; ${r.cpuPerM.toFixed(3)} CPU s per million lines at ${fmt(CPU_RATE)} lines/s (rounds ${spread(r.cpuAll, (x) => x.toFixed(3))}; worst loss ${(r.lossAtCpu * 100).toFixed(2)} %)`,
      );
    }
    const mpR = res.metricport;
    const cdR = res.collectd;
    const etR = res['Etsy statsd'];
    if (mpR !== undefined && cdR !== undefined) {
      summary.push(
        `metricport / collectd: lossless rate ${(mpR.lossless / cdR.lossless).toFixed(2)}× (goal ≥ 1×), CPU per million lines ${(mpR.cpuPerM / cdR.cpuPerM).toFixed(2)}× (goal ≤ 1.25×)`,
      );
    }
    const bareR = res[BARE];
    if (mpR !== undefined && bareR !== undefined)
      summary.push(
        `metricport / bare Node dgram (receive and count lines only: the floor Node's per-datagram machinery sets): lossless rate ${(mpR.lossless / bareR.lossless).toFixed(2)}×, CPU per million lines ${(mpR.cpuPerM / bareR.cpuPerM).toFixed(2)}×`,
      );
    if (cdR !== undefined && bareR !== undefined)
      summary.push(
        `bare Node dgram / collectd: lossless rate ${(bareR.lossless / cdR.lossless).toFixed(2)}×, CPU per million lines ${(bareR.cpuPerM / cdR.cpuPerM).toFixed(2)}×`,
      );
    if (mpR !== undefined && etR !== undefined)
      summary.push(
        `metricport / Etsy statsd: lossless rate ${(mpR.lossless / etR.lossless).toFixed(2)}× (goal ≥ 3×), CPU per million lines ${(mpR.cpuPerM / etR.cpuPerM).toFixed(2)}×`,
      );
    console.log(summary.join('\n'));
    if (!args.includes('--no-write') && ONLY === undefined) {
      const rows = targets
        .flatMap((t) => [
          ...cpu[t.name]!.map((s) => ({ n: t.name, what: 'CPU', s })),
          ...(searches[t.name] ?? []).flatMap((x) => x.steps.map((s) => ({ n: t.name, what: 'search', s }))),
        ])
        .map(
          ({ n, what, s }) =>
            `| ${n} | ${what} | ${fmt(s.rate)} | ${fmt(s.sent / s.seconds)} | ${fmt(s.received)} | ${(s.loss * 100).toFixed(3)} | ${s.cpuS.toFixed(2)} | ${perM(s).toFixed(3)} |`,
        );
      writeSection('statsd', [
        '## StatsD ingest (`statsd` scenario)',
        '',
        `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --scenario statsd${args.filter((a) => a !== '--scenario' && a !== 'statsd').length ? ' ' + args.filter((a) => a !== '--scenario' && a !== 'statsd').join(' ') : ''}\` (${STEP_S} s per step; ${LINES_PER_PACKET} lines per UDP packet over ${NAMES} names: 50 % c, 30 % ms, 10 % g, 10 % s) on ${cpus().length} × ${cpus()[0]?.model.trim()} with ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; the sender (a Node child process) shares the two cores with the daemon under test, and other work ran on the machine too, so rounds are repeated and medians shown with their spread. metricport runs as users run it (statsd → nop, flush 10 s); collectd 5.12 with only its statsd plugin and csv (Interval 1 s, StoreRates false); Etsy statsd 0.9.0 with no backend; bare Node dgram: bench/statsd-bare.ts, a node:dgram socket that only receives and counts lines (the floor Node's per-datagram machinery sets)${BARE_COALESCE_MS > 0 ? `; bare Node dgram, reads coalesced ${BARE_COALESCE_MS} ms: the same socket pausing reads once drained, as metricport's receiver does (receivers/statsd/receiver.ts)` : ''}. CPU: the daemon's user + system time (all threads) while the traffic lasts (+ 250 ms), per million lines received. Lossless rate: the highest rate the sender really achieved (on shared cores it can fall short of the offered one) with ≤ 0.1 % loss. Received lines come from each daemon's own totals.`,
        '',
        ...summary.map((s) => `- ${s}`),
        '',
        '| target | phase | offered lines/s | sent lines/s | received | loss % | CPU s | CPU s per M lines |',
        '|---|---|---:|---:|---:|---:|---:|---:|',
        ...rows,
      ]);
    }
  } finally {
    mp.kill('SIGTERM');
    await etsy?.stop();
    await cd?.stop();
    await bare?.stop();
    await bareCoalesced?.stop();
    await new Promise((r) => {
      if (mp.exitCode !== null) r(undefined);
      else mp.once('exit', r);
    });
    rmSync(dir, { recursive: true, force: true });
  }
}
