/**
 * The one way a test gets a real peer server (Prometheus, VictoriaMetrics,
 * InfluxDB, carbon-cache, NATS, PostgreSQL): find or install its Debian
 * package, start it on free loopback ports in a fresh temp dir, poll until it
 * is ready, and kill it (and remove the dir) afterwards. See
 * ../shared/reference/peers.md for the per-peer recipes followed here.
 *
 *   before(async function () {
 *     await usePeer(this, 'prometheus');            // skip (or fail under CI=true) when it cannot be had
 *     prom = await startPrometheus({ scrapeTargets: [{ target: `127.0.0.1:${port}` }] });
 *   });
 *   after(() => prom?.stop());
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { canConnect, describeError, freePorts, sendTcp, waitFor, waitForHttp } from './ports.js';

// ---------------------------------------------------------------------------
// Packages and binaries
// ---------------------------------------------------------------------------

/** Every Debian package the test machines need (one `apt-get install`). Keep in sync with .ci/install-peers.sh. */
export const ALL_PEER_PACKAGES = [
  'prometheus',
  'graphite-carbon',
  'graphite-web',
  'influxdb',
  'victoria-metrics',
  'nats-server',
  'postgresql',
  'wrk',
  'hyperfine',
  'netcat-openbsd',
  'collectd-core',
  // headless browser tests (test/e2e/browser.test.ts), driven by playwright-core with executablePath
  'chromium',
] as const;

/** The binaries whose presence proves a package is installed. */
export const PACKAGE_BINARIES: Readonly<Record<string, readonly string[]>> = {
  prometheus: ['prometheus', 'promtool'],
  'graphite-carbon': ['carbon-cache', 'whisper-fetch'],
  'graphite-web': ['graphite-manage'],
  influxdb: ['influxd'],
  'victoria-metrics': ['victoria-metrics'],
  'nats-server': ['nats-server'],
  postgresql: ['initdb', 'pg_ctl', 'pg_isready', 'psql', 'createdb'],
  wrk: ['wrk'],
  hyperfine: ['hyperfine'],
  'netcat-openbsd': ['nc'],
  'collectd-core': ['collectd'],
  chromium: ['chromium'],
};

/** Peer names a suite can ask for, and the packages each needs. */
export const PEERS = {
  prometheus: ['prometheus'],
  promtool: ['prometheus'],
  'victoria-metrics': ['victoria-metrics'],
  influxdb: ['influxdb'],
  carbon: ['graphite-carbon'],
  'graphite-web': ['graphite-carbon', 'graphite-web'],
  nats: ['nats-server'],
  postgres: ['postgresql'],
  wrk: ['wrk'],
  hyperfine: ['hyperfine'],
  nc: ['netcat-openbsd'],
  collectd: ['collectd-core'],
  chromium: ['chromium'],
} as const satisfies Record<string, readonly string[]>;
export type PeerName = keyof typeof PEERS;

const PG_BINARIES = new Set(['initdb', 'pg_ctl', 'postgres', 'createdb', 'psql', 'pg_isready']);
const EXTRA_BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const foundBinaries = new Map<string, string>();

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** PostgreSQL's versioned bin dirs, newest first (/usr/lib/postgresql/15/bin, ...). */
function postgresBinDirs(): string[] {
  try {
    return fs
      .readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch {
    return [];
  }
}

/** Absolute path of an installed binary, or undefined. PostgreSQL's server tools are looked up under /usr/lib/postgresql/<v>/bin first. */
export function findBinary(name: string): string | undefined {
  const cached = foundBinaries.get(name);
  if (cached !== undefined) return cached;
  const dirs = [...(PG_BINARIES.has(name) ? postgresBinDirs() : []), ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), ...EXTRA_BIN_DIRS];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) {
      foundBinaries.set(name, candidate);
      return candidate;
    }
  }
  return undefined;
}

function requireBinary(name: string, deb: string): string {
  const bin = findBinary(name);
  if (bin === undefined) throw new Error(`${name} is not installed; install with: ${installCommand([deb])}`);
  return bin;
}

/** The packages (of those given) whose binaries are not all present. */
export function missingPackages(debs: readonly string[]): string[] {
  return unique(debs).filter((deb) => {
    const bins = PACKAGE_BINARIES[deb];
    if (bins === undefined) throw new Error(`unknown package ${deb}: add it to PACKAGE_BINARIES in test/harness/peers.ts`);
    return bins.some((b) => findBinary(b) === undefined);
  });
}

/** True when every package the named peers need is installed (no install attempted). */
export function peersInstalled(...names: PeerName[]): boolean {
  return missingPackages(names.flatMap((n) => PEERS[n])).length === 0;
}

export function installCommand(debs: readonly string[] = ALL_PEER_PACKAGES): string {
  const sudo = isRoot() ? '' : 'sudo ';
  return `${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${unique(debs).join(' ')}`;
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

export interface Availability {
  ok: boolean;
  /** Packages still missing. */
  missing: string[];
  /** What a human should run to get them. */
  installCommand: string;
  /** Why they could not be installed here (not root, apt failed...). */
  detail?: string;
}

let aptUpdate: Promise<CommandResult> | undefined;
let aptInstall: Promise<CommandResult> | undefined;

/**
 * Makes sure the packages' binaries exist. When some are missing and we are
 * root, runs `apt-get update` (once per process) and ONE
 * `apt-get install -y --no-install-recommends` of every missing peer package
 * (the requested ones plus the rest of ALL_PEER_PACKAGES, so the install
 * happens at most once per process). Never throws for a missing package:
 * read `ok`.
 */
export async function ensurePackages(...debs: string[]): Promise<Availability> {
  let missing = missingPackages(debs);
  if (missing.length === 0) return { ok: true, missing, installCommand: installCommand(debs) };
  const cmd = installCommand(missing);
  if (!isRoot()) return { ok: false, missing, installCommand: cmd, detail: 'not running as root, so not installing' };
  if (findBinary('apt-get') === undefined) return { ok: false, missing, installCommand: cmd, detail: 'apt-get not found' };

  if (aptInstall === undefined) {
    const all = missingPackages(unique([...ALL_PEER_PACKAGES, ...debs]));
    aptInstall = (async () => {
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      process.stderr.write(`[harness] installing peer packages: ${all.join(' ')}\n`);
      aptUpdate ??= runCommand('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update'], { env, timeoutMs: 300_000 });
      const upd = await aptUpdate;
      if (upd.code !== 0) return upd;
      return runCommand('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '--no-install-recommends', ...all], { env, timeoutMs: 900_000 });
    })();
  }
  const res = await aptInstall;
  foundBinaries.clear();
  missing = missingPackages(debs);
  if (missing.length === 0) return { ok: true, missing, installCommand: cmd };
  const output = (res.stdout + res.stderr).slice(-1500);
  return {
    ok: false,
    missing,
    installCommand: installCommand(missing),
    detail: `apt-get exited with ${res.code}; still missing after install. Output tail:\n${output}`,
  };
}

function ciMode(): boolean {
  return /^(true|1|yes)$/i.test(process.env.CI ?? '');
}

const warned = new Set<string>();

/**
 * Call from a suite's `before()` (or a test): makes the named peers available
 * (installing them when root), else skips the suite's tests with a message
 * naming the install command - or, under CI=true, fails.
 *
 *   before(async function () { await usePeer(this, 'influxdb'); influx = await startInfluxDB(); });
 */
export async function usePeer(ctx: Mocha.Context, ...names: PeerName[]): Promise<void> {
  const debs = unique(names.flatMap((n) => [...PEERS[n]]));
  if (missingPackages(debs).length === 0) return;
  // apt-get can take a minute or more: lift this hook's timeout while installing.
  const previous = ctx.timeout();
  ctx.timeout(previous === 0 ? 0 : Math.max(previous, 900_000));
  let av: Availability;
  try {
    av = await ensurePackages(...debs);
  } finally {
    ctx.timeout(previous);
  }
  if (av.ok) return;
  const message =
    `peer ${names.join(', ')} unavailable: missing package(s) ${av.missing.join(' ')}` +
    `${av.detail ? ` (${av.detail})` : ''}; install with: ${av.installCommand}  (or run .ci/install-peers.sh)`;
  if (ciMode()) throw new Error(`${message} [CI=true: a missing peer is a failure]`);
  if (!warned.has(message)) {
    warned.add(message);
    process.stderr.write(`[harness] SKIPPING: ${message}\n`);
  }
  annotateSkipped(ctx, `[skipped: ${names.join(', ')} missing; install with: ${av.installCommand}]`);
  ctx.skip();
}

/** Mocha's skip() takes no message: append it to the titles the reporter prints as pending. */
function annotateSkipped(ctx: Mocha.Context, note: string): void {
  const runnable = ctx.test;
  if (runnable === undefined) return;
  if ((runnable as { type?: string }).type === 'test') {
    runnable.title += ` ${note}`;
    return;
  }
  const visit = (suite: Mocha.Suite | undefined): void => {
    if (suite === undefined) return;
    for (const t of suite.tests) if (!t.title.includes(note)) t.title += ` ${note}`;
    suite.suites.forEach(visit);
  };
  visit(runnable.parent);
}

// ---------------------------------------------------------------------------
// Processes: tracking, commands, peer launch
// ---------------------------------------------------------------------------

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
const exitCleanups = new Set<() => void>();
let exitHooksInstalled = false;

/** Synchronous last-resort cleanup when the test process exits: SIGKILL every peer, remove every temp dir. */
function cleanupNow(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  liveChildren.clear();
  for (const fn of exitCleanups) {
    try {
      fn();
    } catch {
      /* best effort */
    }
  }
  exitCleanups.clear();
  for (const dir of liveDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
    } catch {
      /* best effort */
    }
  }
  liveDirs.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', cleanupNow);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanupNow();
      // If nobody else handles the signal, restore the default (die by it).
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

async function makePeerDir(name: string): Promise<string> {
  installExitHooks();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), `metricport-${name}-`));
  liveDirs.add(dir);
  return dir;
}

async function removeDir(dir: string): Promise<void> {
  await fsp.rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  liveDirs.delete(dir);
}

/** The last `bytes` bytes of a file ('' when it does not exist). */
export function fileTail(file: string, bytes = 2048): string {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  uid?: number;
  gid?: number;
  timeoutMs?: number;
}

/** Runs a command to completion and collects its output (never throws for a non-zero exit; read `code`). */
export function runCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      uid: opts.uid,
      gid: opts.gid,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {
      /* EPIPE when the command exits without reading stdin */
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** A long-running peer process whose stdout+stderr go to `logPath`. */
class PeerProcess {
  readonly child: ChildProcess;
  private exitInfo: string | undefined;
  private readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    cmd: string,
    args: string[],
    readonly logPath: string,
    opts: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number },
  ) {
    installExitHooks();
    const fd = fs.openSync(logPath, 'a');
    try {
      fs.writeSync(fd, `$ ${cmd} ${args.join(' ')}\n`);
      this.child = spawn(cmd, args, {
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        uid: opts.uid,
        gid: opts.gid,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      fs.closeSync(fd);
    }
    liveChildren.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.exitInfo ??= `failed to spawn: ${err.message}`;
        liveChildren.delete(this.child);
        resolve();
      });
      this.child.once('exit', (code, signal) => {
        this.exitInfo ??= signal ? `killed by ${signal}` : `exited with code ${code}`;
        liveChildren.delete(this.child);
        resolve();
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Throws when the process is gone (used to abort readiness polling early). */
  assertAlive(): void {
    if (this.exitInfo !== undefined) throw new Error(`${this.name} ${this.exitInfo} during startup`);
  }

  logTail(bytes = 2048): string {
    return fileTail(this.logPath, bytes);
  }

  private waitExit(ms: number): Promise<boolean> {
    if (this.exitInfo !== undefined) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void this.exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** SIGTERM, then SIGKILL if it is still alive after `graceMs`. */
  async kill(graceMs = 5_000): Promise<void> {
    if (this.exitInfo !== undefined) return;
    this.child.kill('SIGTERM');
    if (await this.waitExit(graceMs)) return;
    this.child.kill('SIGKILL');
    if (!(await this.waitExit(5_000))) throw new Error(`${this.name} (pid ${this.pid}) survived SIGKILL`);
  }
}

/** What every started peer returns. */
export interface PeerHandle {
  name: string;
  /** The fresh temp dir holding its config, data and log. */
  dir: string;
  /** stdout+stderr of the peer. */
  logPath: string;
  pid: number;
  /** Last bytes of its log (for assertion messages). */
  logTail(bytes?: number): string;
  /** SIGTERM (SIGKILL after a deadline), then remove the temp dir. Idempotent. */
  stop(): Promise<void>;
}

interface LaunchSpec {
  name: string;
  /** How many free loopback ports to allocate. */
  ports: number;
  readyTimeoutMs?: number;
  /** Write config files into `dir` and return the command line. */
  prepare(
    dir: string,
    ports: number[],
  ):
    | Promise<{ cmd: string; args: string[]; env?: NodeJS.ProcessEnv }>
    | {
        cmd: string;
        args: string[];
        env?: NodeJS.ProcessEnv;
      };
  /** Poll until ready; call `abortIf()` inside polling so a dead process fails fast. */
  ready(ports: number[], abortIf: () => void, timeoutMs: number): Promise<void>;
}

interface Launched extends PeerHandle {
  ports: number[];
}

const PORT_CLASH = /address already in use|EADDRINUSE|bind: address|could not bind/i;

/** Start a peer on fresh ports in a fresh dir; retry (new ports) when the ports were grabbed meanwhile. */
async function launchPeer(spec: LaunchSpec): Promise<Launched> {
  const attempts = 3;
  const timeoutMs = spec.readyTimeoutMs ?? 20_000;
  for (let attempt = 1; ; attempt++) {
    const started = Date.now();
    const dir = await makePeerDir(spec.name);
    const logPath = path.join(dir, `${spec.name}.log`);
    let proc: PeerProcess | undefined;
    try {
      const ports = await freePorts(spec.ports);
      const { cmd, args, env } = await spec.prepare(dir, ports);
      proc = new PeerProcess(spec.name, cmd, args, logPath, { env, cwd: dir });
      const p = proc;
      await spec.ready(ports, () => p.assertAlive(), timeoutMs);
      p.assertAlive(); // not someone else's server answering on a port we failed to bind
      let stopped: Promise<void> | undefined;
      return {
        name: spec.name,
        dir,
        logPath,
        pid: p.pid,
        ports,
        logTail: (bytes?: number) => p.logTail(bytes),
        stop: () =>
          (stopped ??= (async () => {
            try {
              await p.kill();
            } finally {
              await removeDir(dir);
            }
          })()),
      };
    } catch (err) {
      const tail = proc ? proc.logTail() : fileTail(logPath);
      await proc?.kill(2_000).catch(() => undefined);
      await removeDir(dir);
      if (PORT_CLASH.test(tail) && attempt < attempts) continue;
      throw new Error(
        `${spec.name} did not start (attempt ${attempt}, after ${Date.now() - started} ms): ${describeError(err)}\n` +
          `--- last 2 KB of ${spec.name}'s output ---\n${tail}\n--- end ---`,
      );
    }
  }
}

/**
 * Starts several peers in parallel; when one fails the others are stopped
 * and the first error is thrown.
 *
 *   const { prom, vm } = await startAll({ prom: () => startPrometheus(), vm: () => startVictoriaMetrics() });
 */
export async function startAll<T extends Record<string, () => Promise<{ stop(): Promise<void> }>>>(
  starters: T,
): Promise<{ [K in keyof T]: Awaited<ReturnType<T[K]>> }> {
  const keys = Object.keys(starters) as (keyof T)[];
  const settled = await Promise.allSettled(keys.map((k) => starters[k]!()));
  const failed = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed.length > 0) {
    await Promise.allSettled(settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.stop()] : [])));
    throw failed.length === 1
      ? failed[0]!.reason
      : new AggregateError(
          failed.map((f) => f.reason),
          failed.map((f) => describeError(f.reason)).join('\n\n'),
        );
  }
  const out = {} as { [K in keyof T]: Awaited<ReturnType<T[K]>> };
  keys.forEach((k, i) => {
    out[k] = (settled[i] as PromiseFulfilledResult<Awaited<ReturnType<T[typeof k]>>>).value;
  });
  return out;
}

/**
 * Peers started at most once per key, so that an outer `before()` can start
 * everything in parallel while inner suites await just theirs; `stopAll()`
 * in the outer `after()` stops whatever was started.
 */
export class PeerGroup {
  private readonly started = new Map<string, Promise<{ stop(): Promise<void> }>>();

  start<T extends { stop(): Promise<void> }>(key: string, starter: () => Promise<T>): Promise<T> {
    let p = this.started.get(key);
    if (p === undefined) {
      p = starter();
      p.catch(() => undefined); // awaited later by the suite; do not report as unhandled
      this.started.set(key, p);
    }
    return p as Promise<T>;
  }

  async stopAll(): Promise<void> {
    const all = [...this.started.values()];
    this.started.clear();
    await Promise.allSettled(all.map(async (p) => (await p).stop()));
  }
}

async function fetchJson<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url} -> HTTP ${res.status}: ${text.slice(0, 500)}`);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`${init?.method ?? 'GET'} ${url} -> not JSON: ${text.slice(0, 500)}`);
  }
}

// ---------------------------------------------------------------------------
// Prometheus + promtool
// ---------------------------------------------------------------------------

export interface ScrapeTarget {
  /** host:port, e.g. '127.0.0.1:9100'. */
  target: string;
  metricsPath?: string;
  basicAuth?: { username: string; password: string };
  /** Job name (default scrape<N>). */
  job?: string;
  labels?: Record<string, string>;
  /** more targets of the same job (every replica of a cluster) */
  moreTargets?: string[];
  /** `metric_relabel_configs` of the job, e.g. [{ action: 'labeldrop', regex: 'instance' }] */
  metricRelabelConfigs?: Array<Record<string, unknown>>;
}

export interface PrometheusOptions {
  scrapeTargets?: ScrapeTarget[];
  /** Default '1s'. */
  scrapeInterval?: string;
  /** Default: the scrape interval (must not exceed it). */
  scrapeTimeout?: string;
  extraArgs?: string[];
  readyTimeoutMs?: number;
}

export interface PromSample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export interface PromQueryData {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  /** vector/matrix: samples; scalar/string: [time, "value"]. */
  result: PromSample[] | [number, string];
}

export interface PromTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
  [k: string]: unknown;
}

export interface PrometheusPeer extends PeerHandle {
  url: string;
  port: number;
  /** Instant query (GET /api/v1/query); throws on a PromQL error. */
  query(promql: string, time?: Date | number): Promise<PromQueryData>;
  /** Instant query returning each series' value as a number (vector results). */
  queryValues(promql: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  /** Active scrape targets (GET /api/v1/targets). */
  targets(): Promise<PromTarget[]>;
}

export async function startPrometheus(opts: PrometheusOptions = {}): Promise<PrometheusPeer> {
  const bin = requireBinary('prometheus', 'prometheus');
  const interval = opts.scrapeInterval ?? '1s';
  const launched = await launchPeer({
    name: 'prometheus',
    ports: 1,
    readyTimeoutMs: opts.readyTimeoutMs,
    prepare: (dir, [port]) => {
      const config = {
        global: { scrape_interval: interval, scrape_timeout: opts.scrapeTimeout ?? interval, evaluation_interval: interval },
        scrape_configs: (opts.scrapeTargets ?? []).map((t, i) => ({
          job_name: t.job ?? `scrape${i}`,
          metrics_path: t.metricsPath ?? '/metrics',
          ...(t.basicAuth ? { basic_auth: { username: t.basicAuth.username, password: t.basicAuth.password } } : {}),
          static_configs: [{ targets: [t.target, ...(t.moreTargets ?? [])], ...(t.labels ? { labels: t.labels } : {}) }],
          ...(t.metricRelabelConfigs ? { metric_relabel_configs: t.metricRelabelConfigs } : {}),
        })),
      };
      // JSON is valid YAML.
      fs.writeFileSync(path.join(dir, 'prometheus.yml'), JSON.stringify(config, null, 2));
      return {
        cmd: bin,
        args: [
          `--config.file=${path.join(dir, 'prometheus.yml')}`,
          `--storage.tsdb.path=${path.join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--storage.tsdb.retention.time=1d',
          ...(opts.extraArgs ?? []),
        ],
      };
    },
    ready: ([port], abortIf, timeoutMs) => waitForHttp(`http://127.0.0.1:${port}/-/ready`, { status: 200, timeoutMs, abortIf, what: 'prometheus /-/ready' }),
  });
  const url = `http://127.0.0.1:${launched.ports[0]}`;
  const query = async (promql: string, time?: Date | number): Promise<PromQueryData> => {
    const params = new URLSearchParams({ query: promql });
    if (time !== undefined) params.set('time', String((time instanceof Date ? time.getTime() : time) / 1000));
    const body = await fetchJson<{ status: string; data: PromQueryData; error?: string }>(`${url}/api/v1/query?${params}`);
    if (body.status !== 'success') throw new Error(`prometheus query ${promql}: ${body.error ?? body.status}`);
    return body.data;
  };
  return {
    ...launched,
    url,
    port: launched.ports[0]!,
    query,
    queryValues: async (promql) => {
      const data = await query(promql);
      if (data.resultType !== 'vector') throw new Error(`queryValues(${promql}): got a ${data.resultType}`);
      return (data.result as PromSample[]).map((s) => ({ metric: s.metric, value: Number(s.value![1]) }));
    },
    targets: async () => {
      const body = await fetchJson<{ data: { activeTargets: PromTarget[] } }>(`${url}/api/v1/targets?state=active`);
      return body.data.activeTargets;
    },
  };
}

/**
 * `promtool check metrics` with `text` on stdin. Catches a counter without
 * `_total`, parse errors, missing HELP; NOT duplicate series, a missing +Inf
 * bucket or `# EOF` problems (check those yourself).
 */
export async function promtoolCheckMetrics(text: string): Promise<{ ok: boolean; output: string; code: number | null }> {
  const bin = requireBinary('promtool', 'prometheus');
  const res = await runCommand(bin, ['check', 'metrics'], { input: text, timeoutMs: 30_000 });
  return { ok: res.code === 0, output: (res.stdout + res.stderr).trim(), code: res.code };
}

// ---------------------------------------------------------------------------
// VictoriaMetrics
// ---------------------------------------------------------------------------

export interface VmSeries {
  metric: Record<string, string>;
  values: number[];
  /** Milliseconds. */
  timestamps: number[];
}

export interface VictoriaMetricsPeer extends PeerHandle {
  url: string;
  httpPort: number;
  /** Graphite plaintext (TCP and UDP). */
  graphitePort: number;
  /** Influx line protocol (TCP and UDP); HTTP /write also works on httpPort. */
  influxPort: number;
  /** POST /internal/force_flush. */
  forceFlush(): Promise<void>;
  /** force_flush, then GET /api/v1/export?match[]=... parsed from NDJSON. `match` is a series selector, e.g. '{__name__=~"foo.*"}'. */
  exportSeries(match: string): Promise<VmSeries[]>;
  /** Polls exportSeries until it returns something (new series take 1-10 s; default deadline 15 s). */
  waitForSeries(match: string, opts?: { timeoutMs?: number; predicate?: (s: VmSeries[]) => boolean }): Promise<VmSeries[]>;
}

export async function startVictoriaMetrics(opts: { extraArgs?: string[]; readyTimeoutMs?: number } = {}): Promise<VictoriaMetricsPeer> {
  const bin = requireBinary('victoria-metrics', 'victoria-metrics');
  const launched = await launchPeer({
    name: 'victoria-metrics',
    ports: 3,
    readyTimeoutMs: opts.readyTimeoutMs,
    prepare: (dir, [http, graphite, influx]) => ({
      cmd: bin,
      args: [
        `-storageDataPath=${path.join(dir, 'data')}`,
        '-retentionPeriod=1d',
        `-httpListenAddr=127.0.0.1:${http}`,
        `-graphiteListenAddr=127.0.0.1:${graphite}`,
        `-influxListenAddr=127.0.0.1:${influx}`,
        '-search.latencyOffset=0s',
        '-search.disableCache',
        ...(opts.extraArgs ?? []),
      ],
    }),
    ready: async ([http, graphite], abortIf, timeoutMs) => {
      await waitForHttp(`http://127.0.0.1:${http}/health`, {
        timeoutMs,
        abortIf,
        body: (t) => t.trim() === 'OK',
        what: 'victoria-metrics /health',
      });
      await waitFor(() => canConnect(graphite!), { timeoutMs, abortIf, what: 'victoria-metrics graphite port' });
    },
  });
  const [httpPort, graphitePort, influxPort] = launched.ports as [number, number, number];
  const url = `http://127.0.0.1:${httpPort}`;
  const forceFlush = async (): Promise<void> => {
    const res = await fetch(`${url}/internal/force_flush`, { signal: AbortSignal.timeout(10_000) });
    await res.text();
    if (!res.ok) throw new Error(`victoria-metrics force_flush: HTTP ${res.status}`);
  };
  const exportSeries = async (match: string): Promise<VmSeries[]> => {
    await forceFlush();
    const res = await fetch(`${url}/api/v1/export?${new URLSearchParams({ 'match[]': match })}`, {
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`victoria-metrics export ${match}: HTTP ${res.status}: ${text.slice(0, 500)}`);
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as VmSeries);
  };
  return {
    ...launched,
    url,
    httpPort,
    graphitePort,
    influxPort,
    forceFlush,
    exportSeries,
    waitForSeries: async (match, o = {}) => {
      let last: VmSeries[] = [];
      await waitFor(
        async () => {
          last = await exportSeries(match);
          return o.predicate ? o.predicate(last) : last.length > 0;
        },
        { timeoutMs: o.timeoutMs ?? 15_000, intervalMs: 200, what: `victoria-metrics series ${match} (last export: ${JSON.stringify(last).slice(0, 300)})` },
      );
      return last;
    },
  };
}

// ---------------------------------------------------------------------------
// InfluxDB 1.x
// ---------------------------------------------------------------------------

export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

export interface InfluxStatementResult {
  statement_id: number;
  series?: InfluxSeries[];
  error?: string;
}

export interface InfluxDBPeer extends PeerHandle {
  url: string;
  port: number;
  /**
   * Runs InfluxQL (`epoch=ns`): SELECT/SHOW by GET, anything else by POST.
   * Throws when any statement reports an error (InfluxDB answers 200 with the
   * error inside `results`).
   */
  query(db: string | undefined, q: string): Promise<InfluxStatementResult[]>;
  createDatabase(db: string): Promise<void>;
  /** POST /write (line protocol); precision default 'ns'. */
  write(db: string, lines: string, precision?: 'ns' | 'u' | 'ms' | 's'): Promise<void>;
}

/**
 * `auth`: HTTP auth on (`auth-enabled`), with this admin user created at
 * start; the peer's own queries send it.
 */
export async function startInfluxDB(opts: { readyTimeoutMs?: number; auth?: { username: string; password: string } } = {}): Promise<InfluxDBPeer> {
  const bin = requireBinary('influxd', 'influxdb');
  const launched = await launchPeer({
    name: 'influxdb',
    ports: 2,
    readyTimeoutMs: opts.readyTimeoutMs,
    prepare: (dir, [http, rpc]) => {
      const conf = [
        'reporting-disabled = true',
        `bind-address = "127.0.0.1:${rpc}"`,
        '[meta]',
        `  dir = "${path.join(dir, 'meta')}"`,
        '[data]',
        `  dir = "${path.join(dir, 'data')}"`,
        `  wal-dir = "${path.join(dir, 'wal')}"`,
        '  query-log-enabled = false',
        '[monitor]',
        '  store-enabled = false',
        '[http]',
        `  bind-address = "127.0.0.1:${http}"`,
        '  log-enabled = false',
        ...(opts.auth !== undefined ? ['  auth-enabled = true'] : []),
        '[continuous_queries]',
        '  enabled = false',
        '',
      ].join('\n');
      fs.writeFileSync(path.join(dir, 'influxdb.conf'), conf);
      return { cmd: bin, args: ['run', '-config', path.join(dir, 'influxdb.conf')], env: { ...process.env, HOME: dir } };
    },
    ready: ([http], abortIf, timeoutMs) => waitForHttp(`http://127.0.0.1:${http}/ping`, { status: 204, timeoutMs, abortIf, what: 'influxdb /ping' }),
  });
  const port = launched.ports[0]!;
  const url = `http://127.0.0.1:${port}`;
  const authHeader: Record<string, string> =
    opts.auth !== undefined ? { authorization: 'Basic ' + Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64') } : {};
  if (opts.auth !== undefined) {
    // the first admin user may be created without credentials
    const q = `CREATE USER "${opts.auth.username}" WITH PASSWORD '${opts.auth.password.replace(/'/g, "\\'")}' WITH ALL PRIVILEGES`;
    const r = await fetch(`${url}/query?${new URLSearchParams({ q })}`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
    if (!r.ok) throw new Error(`influxdb: creating the admin user failed: HTTP ${r.status} ${await r.text()}`);
  }
  const query = async (db: string | undefined, q: string): Promise<InfluxStatementResult[]> => {
    const params = new URLSearchParams({ q, epoch: 'ns' });
    if (db !== undefined) params.set('db', db);
    const isRead = /^\s*(SELECT|SHOW)\b/i.test(q);
    const res = await fetch(`${url}/query?${params}`, { method: isRead ? 'GET' : 'POST', headers: authHeader, signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let body: { results?: InfluxStatementResult[]; error?: string };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`influxdb query ${q}: HTTP ${res.status}: ${text.slice(0, 500)}`);
    }
    if (body.error || !res.ok) throw new Error(`influxdb query ${q}: HTTP ${res.status}: ${body.error ?? text.slice(0, 500)}`);
    const results = body.results ?? [];
    const bad = results.find((r) => r.error);
    if (bad) throw new Error(`influxdb query ${q}: ${bad.error}`);
    return results;
  };
  return {
    ...launched,
    url,
    port,
    query,
    createDatabase: async (db) => {
      await query(undefined, `CREATE DATABASE "${db.replace(/"/g, '\\"')}"`);
    },
    write: async (db, lines, precision = 'ns') => {
      const res = await fetch(`${url}/write?${new URLSearchParams({ db, precision })}`, {
        method: 'POST',
        headers: authHeader,
        body: lines,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (res.status !== 204) throw new Error(`influxdb write: HTTP ${res.status}: ${text.slice(0, 500)}`);
    },
  };
}

// ---------------------------------------------------------------------------
// carbon-cache (Graphite) + whisper
// ---------------------------------------------------------------------------

export interface WhisperPoint {
  /** Unix seconds. */
  timestamp: number;
  value: number;
}

export interface CarbonPeer extends PeerHandle {
  /** GRAPHITE_ROOT. */
  root: string;
  whisperDir: string;
  linePort: number;
  picklePort: number;
  cacheQueryPort: number;
  /** Sends plaintext lines ("a.b.c 1 1700000000\n") to the line port. */
  send(lines: string): Promise<void>;
  /** Path of the .wsp file for a dotted metric path. */
  whisperFile(metricPath: string): string;
  /**
   * Non-null points of a metric via `whisper-fetch --json --from=<from>`
   * (reads disk only: ~1 s after the write). [] when the file does not exist yet.
   */
  fetchWhisper(metricPath: string, from?: number): Promise<WhisperPoint[]>;
}

export interface CarbonOptions {
  /** Default '1s:1h,60s:1d' for every metric. */
  retentions?: string;
  /** Tagged series (name;k=v), stored under _tagged/. Default false. */
  enableTags?: boolean;
  readyTimeoutMs?: number;
}

export async function startCarbon(opts: CarbonOptions = {}): Promise<CarbonPeer> {
  const bin = requireBinary('carbon-cache', 'graphite-carbon');
  const whisperFetch = requireBinary('whisper-fetch', 'graphite-carbon');
  const launched = await launchPeer({
    name: 'carbon',
    ports: 3,
    readyTimeoutMs: opts.readyTimeoutMs,
    prepare: (dir, [line, pickle, cacheQuery]) => {
      const conf = path.join(dir, 'conf');
      for (const d of ['conf', 'storage/whisper', 'storage/lists', 'storage/log', 'storage/run']) {
        fs.mkdirSync(path.join(dir, d), { recursive: true });
      }
      const carbonConf = [
        '[cache]',
        `STORAGE_DIR = ${dir}/storage/`,
        `LOCAL_DATA_DIR = ${dir}/storage/whisper/`,
        `WHITELISTS_DIR = ${dir}/storage/lists/`,
        `LOG_DIR = ${dir}/storage/log/`,
        `PID_DIR = ${dir}/storage/run/`,
        'USER =',
        'MAX_CACHE_SIZE = inf',
        'MAX_UPDATES_PER_SECOND = inf',
        'MAX_CREATES_PER_MINUTE = inf',
        'LINE_RECEIVER_INTERFACE = 127.0.0.1',
        `LINE_RECEIVER_PORT = ${line}`,
        'ENABLE_UDP_LISTENER = False',
        'PICKLE_RECEIVER_INTERFACE = 127.0.0.1',
        `PICKLE_RECEIVER_PORT = ${pickle}`,
        'CACHE_QUERY_INTERFACE = 127.0.0.1',
        `CACHE_QUERY_PORT = ${cacheQuery}`,
        'LOG_LISTENER_CONNECTIONS = False',
        'LOG_UPDATES = False',
        'LOG_CREATES = False',
        'LOG_CACHE_HITS = False',
        'WHISPER_AUTOFLUSH = False',
        `ENABLE_TAGS = ${opts.enableTags ? 'True' : 'False'}`,
        '',
      ].join('\n');
      fs.writeFileSync(path.join(conf, 'carbon.conf'), carbonConf);
      fs.writeFileSync(path.join(conf, 'storage-schemas.conf'), `[default]\npattern = .*\nretentions = ${opts.retentions ?? '1s:1h,60s:1d'}\n`);
      return {
        cmd: bin,
        args: [`--config=${path.join(conf, 'carbon.conf')}`, '--nodaemon', '--logfile=-', 'start'],
        env: { ...process.env, GRAPHITE_ROOT: dir, GRAPHITE_CONF_DIR: conf, GRAPHITE_STORAGE_DIR: `${dir}/storage` },
      };
    },
    ready: ([line], abortIf, timeoutMs) => waitFor(() => canConnect(line!), { timeoutMs, intervalMs: 50, abortIf, what: 'carbon-cache line port' }),
  });
  const [linePort, picklePort, cacheQueryPort] = launched.ports as [number, number, number];
  const whisperDir = path.join(launched.dir, 'storage', 'whisper');
  const whisperFile = (metricPath: string): string => path.join(whisperDir, ...metricPath.split('.')) + '.wsp';
  return {
    ...launched,
    root: launched.dir,
    whisperDir,
    linePort,
    picklePort,
    cacheQueryPort,
    send: (lines) => sendTcp(linePort, lines.endsWith('\n') ? lines : `${lines}\n`),
    whisperFile,
    fetchWhisper: async (metricPath, from = Math.floor(Date.now() / 1000) - 3000) => {
      // inside the 1s:1h archive even when whisper-fetch starts late
      const file = whisperFile(metricPath);
      if (!fs.existsSync(file)) return [];
      const res = await runCommand(whisperFetch, ['--json', `--from=${Math.floor(from)}`, file], { timeoutMs: 30_000 });
      if (res.code !== 0) throw new Error(`whisper-fetch ${file}: exit ${res.code}: ${res.stderr || res.stdout}`);
      const parsed = JSON.parse(res.stdout) as { start: number; end: number; step: number; values: (number | null)[] };
      const points: WhisperPoint[] = [];
      parsed.values.forEach((v, i) => {
        if (v !== null) points.push({ timestamp: parsed.start + i * parsed.step, value: v });
      });
      return points;
    },
  };
}

// ---------------------------------------------------------------------------
// NATS (JetStream)
// ---------------------------------------------------------------------------

export interface NatsPeer extends PeerHandle {
  /** nats://127.0.0.1:P */
  url: string;
  port: number;
  monitorPort: number;
  /** http://127.0.0.1:M (/varz, /jsz, /healthz). */
  monitorUrl: string;
}

export async function startNats(opts: { readyTimeoutMs?: number; user?: string; password?: string } = {}): Promise<NatsPeer> {
  const bin = requireBinary('nats-server', 'nats-server');
  const launched = await launchPeer({
    name: 'nats',
    ports: 2,
    readyTimeoutMs: opts.readyTimeoutMs,
    prepare: (dir, [port, monitor]) => ({
      cmd: bin,
      args: [
        '-a',
        '127.0.0.1',
        '-p',
        String(port),
        '-m',
        String(monitor),
        '-js',
        '-sd',
        path.join(dir, 'jetstream'),
        ...(opts.user !== undefined ? ['--user', opts.user, '--pass', opts.password ?? ''] : []),
      ],
    }),
    ready: ([, monitor], abortIf, timeoutMs) =>
      waitForHttp(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`, {
        status: 200,
        timeoutMs,
        abortIf,
        body: (t) => (JSON.parse(t) as { status?: string }).status === 'ok',
        what: 'nats /healthz?js-enabled-only=true',
      }),
  });
  const [port, monitorPort] = launched.ports as [number, number];
  return {
    ...launched,
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorPort,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
  };
}

/** One server of a NATS cluster: it can be killed and started again on the same ports and store dir. */
export interface NatsNode {
  name: string;
  url: string;
  port: number;
  monitorUrl: string;
  dir: string;
  readonly pid: number;
  running(): boolean;
  /** send a signal (SIGKILL: a crash; SIGTERM: a clean stop) and wait until the process is gone */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** start it again (same ports, same JetStream store) and wait until its /healthz answers */
  start(): Promise<void>;
  logTail(bytes?: number): string;
}

export interface NatsClusterPeer {
  nodes: NatsNode[];
  /** every client URL */
  urls: string[];
  /** waits until JetStream has a meta leader (GET /jsz on a running node) */
  waitForLeader(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A JetStream cluster of `size` nats-server processes (routes between them,
 * a server name each), for streams and KV buckets with num_replicas = size.
 * Also usable with size 1 when a test needs to kill and restart a server on
 * the same port and store.
 */
export async function startNatsCluster(opts: { size?: number; readyTimeoutMs?: number } = {}): Promise<NatsClusterPeer> {
  const bin = requireBinary('nats-server', 'nats-server');
  const size = opts.size ?? 3;
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;
  const root = await makePeerDir('nats-cluster');
  const ports = await freePorts(size * 3);
  const clusterName = `mp-test-${path.basename(root).slice(-6)}`;
  const nodes: NatsNode[] = [];
  const procs: Array<PeerProcess | undefined> = [];
  for (let i = 0; i < size; i++) {
    const [port, monitor, route] = [ports[i * 3]!, ports[i * 3 + 1]!, ports[i * 3 + 2]!];
    const name = `n${i}`;
    const dir = path.join(root, name);
    fs.mkdirSync(dir, { recursive: true });
    const routes =
      size > 1
        ? [
            '--routes',
            Array.from({ length: size }, (_, j) => j)
              .filter((j) => j !== i)
              .map((j) => `nats://127.0.0.1:${ports[j * 3 + 2]}`)
              .join(','),
          ]
        : [];
    const args = [
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '-m',
      String(monitor),
      '-js',
      '-sd',
      path.join(dir, 'jetstream'),
      '-n',
      name,
      ...(size > 1 ? ['--cluster_name', clusterName, '--cluster', `nats://127.0.0.1:${route}`, ...routes] : []),
    ];
    const monitorUrl = `http://127.0.0.1:${monitor}`;
    const start = async (): Promise<void> => {
      if (procs[i] !== undefined && procs[i]!.child.exitCode === null && procs[i]!.child.signalCode === null) return;
      const p = new PeerProcess(`nats-${name}`, bin, args, path.join(dir, 'nats.log'), { cwd: dir });
      procs[i] = p;
      await waitForHttp(`${monitorUrl}/healthz?js-enabled-only=true`, {
        status: 200,
        timeoutMs,
        abortIf: () => p.assertAlive(),
        body: (t) => (JSON.parse(t) as { status?: string }).status === 'ok',
        what: `nats ${name} /healthz`,
      });
    };
    nodes.push({
      name,
      url: `nats://127.0.0.1:${port}`,
      port,
      monitorUrl,
      dir,
      get pid() {
        return procs[i]?.pid ?? -1;
      },
      running: () => {
        const c = procs[i]?.child;
        return c !== undefined && c.exitCode === null && c.signalCode === null;
      },
      kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
        const p = procs[i];
        if (p === undefined || p.child.exitCode !== null || p.child.signalCode !== null) return;
        const gone = new Promise<void>((resolve) => p.child.once('exit', () => resolve()));
        p.child.kill(signal);
        await gone;
      },
      start,
      logTail: (bytes?: number) => fileTail(path.join(dir, 'nats.log'), bytes),
    });
  }
  const stop = async (): Promise<void> => {
    await Promise.allSettled(
      procs.map(async (p) => {
        await p?.kill(3_000);
      }),
    );
    await removeDir(root);
  };
  try {
    await Promise.all(nodes.map((n) => n.start()));
  } catch (err) {
    const tails = nodes.map((n) => `--- ${n.name} ---\n${n.logTail()}`).join('\n');
    await stop();
    throw new Error(`nats cluster did not start: ${describeError(err)}\n${tails}`);
  }
  const waitForLeader = (ms = timeoutMs): Promise<void> =>
    waitFor(
      async () => {
        for (const n of nodes) {
          if (!n.running()) continue;
          try {
            const r = await fetch(`${n.monitorUrl}/jsz`, { signal: AbortSignal.timeout(2000) });
            const j = (await r.json()) as { meta_cluster?: { leader?: string } };
            if (size === 1 || (j.meta_cluster?.leader ?? '') !== '') return true;
          } catch {
            /* not up */
          }
        }
        return false;
      },
      { timeoutMs: ms, intervalMs: 100, what: 'a JetStream meta leader' },
    );
  await waitForLeader();
  return { nodes, urls: nodes.map((n) => n.url), waitForLeader, stop };
}

// ---------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------

export interface PostgresPeer {
  host: string;
  port: number;
  database: string;
  user: string;
  /** postgres://user@host:port/database */
  url: string;
  /** True when this is the machine's pre-started server (stop() leaves it running). */
  shared: boolean;
  /** Our own cluster's dir (undefined for the shared server). */
  dir: string | undefined;
  /** Runs SQL through psql (-At, ON_ERROR_STOP) and returns its stdout. */
  psql(sql: string): Promise<string>;
  stop(): Promise<void>;
}

function systemUser(name: string): { uid: number; gid: number } | undefined {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === name) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    /* no passwd */
  }
  return undefined;
}

async function pgIsReady(host: string, port: number): Promise<boolean> {
  const bin = findBinary('pg_isready');
  if (bin === undefined) return canConnect(port, host);
  const res = await runCommand(bin, ['-h', host, '-p', String(port), '-t', '2'], { timeoutMs: 10_000 });
  return res.code === 0;
}

function makePsql(host: string, port: number, user: string, database: string): (sql: string) => Promise<string> {
  return async (sql) => {
    const bin = requireBinary('psql', 'postgresql');
    const res = await runCommand(bin, ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', host, '-p', String(port), '-U', user, '-d', database, '-c', sql], {
      timeoutMs: 30_000,
      env: { ...process.env, PGCONNECT_TIMEOUT: '5' },
    });
    if (res.code !== 0) throw new Error(`psql: ${res.stderr.trim() || `exit ${res.code}`}`);
    return res.stdout;
  };
}

/**
 * A fresh PostgreSQL cluster of our own, run as user postgres, on a free
 * loopback port, with database `test`. Never the machine's pre-started server
 * on 5432: tests must not assume a fixed port, nor share tables with whatever
 * else uses that server. (`own` is accepted for older call sites; it changes nothing.)
 */
export async function startPostgres(opts: { own?: boolean; readyTimeoutMs?: number } = {}): Promise<PostgresPeer> {
  const host = '127.0.0.1';
  const initdb = requireBinary('initdb', 'postgresql');
  const pgCtl = requireBinary('pg_ctl', 'postgresql');
  const createdb = requireBinary('createdb', 'postgresql');
  const asUser = isRoot() ? systemUser('postgres') : undefined;
  if (isRoot() && asUser === undefined) throw new Error('running as root but there is no postgres user to run the server as');
  const ids = asUser ? { uid: asUser.uid, gid: asUser.gid } : {};
  const timeoutMs = opts.readyTimeoutMs ?? 60_000;

  for (let attempt = 1; ; attempt++) {
    const dir = await makePeerDir('postgres');
    if (asUser) fs.chownSync(dir, asUser.uid, asUser.gid);
    const data = path.join(dir, 'data');
    const log = path.join(dir, 'postgres.log');
    const [port] = await freePorts(1);
    const env = { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };
    const stopCluster = (mode: 'fast' | 'immediate') =>
      runCommand(pgCtl, ['-D', data, '-m', mode, '-w', '-t', '30', 'stop'], { ...ids, env, cwd: dir, timeoutMs: 40_000 });
    const exitCleanup = (): void => {
      spawnSync(pgCtl, ['-D', data, '-m', 'immediate', '-w', '-t', '10', 'stop'], { ...ids, env, cwd: dir, timeout: 15_000, stdio: 'ignore' });
    };
    let started = false;
    try {
      const init = await runCommand(initdb, ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8'], {
        ...ids,
        env,
        cwd: dir,
        timeoutMs: 120_000,
      });
      if (init.code !== 0) throw new Error(`initdb exited ${init.code}: ${(init.stdout + init.stderr).slice(-2048)}`);
      exitCleanups.add(exitCleanup);
      started = true;
      const start = await runCommand(
        pgCtl,
        [
          '-D',
          data,
          '-l',
          log,
          '-o',
          `-c listen_addresses=${host} -p ${port} -k ${dir} -c fsync=off -c full_page_writes=off`,
          '-w',
          '-t',
          String(Math.ceil(timeoutMs / 1000)),
          'start',
        ],
        { ...ids, env, cwd: dir, timeoutMs: timeoutMs + 10_000 },
      );
      if (start.code !== 0) throw new Error(`pg_ctl start exited ${start.code}: ${(start.stdout + start.stderr).trim()}`);
      await waitFor(() => pgIsReady(host, port!), { timeoutMs, what: `pg_isready -h ${host} -p ${port}` });
      const cdb = await runCommand(createdb, ['-h', host, '-p', String(port), '-U', 'postgres', 'test'], { env, timeoutMs: 30_000 });
      if (cdb.code !== 0) throw new Error(`createdb test: ${cdb.stderr.trim()}`);
    } catch (err) {
      const tail = fileTail(log);
      if (started) await stopCluster('immediate').catch(() => undefined);
      exitCleanups.delete(exitCleanup);
      await removeDir(dir);
      if (PORT_CLASH.test(tail) && attempt < 3) continue;
      throw new Error(`postgres did not start: ${describeError(err)}\n--- last 2 KB of postgres.log ---\n${tail}\n--- end ---`);
    }
    let stopped: Promise<void> | undefined;
    return {
      host,
      port: port!,
      database: 'test',
      user: 'postgres',
      url: `postgres://postgres@${host}:${port}/test`,
      shared: false,
      dir,
      psql: makePsql(host, port!, 'postgres', 'test'),
      stop: () =>
        (stopped ??= (async () => {
          try {
            const res = await stopCluster('fast');
            if (res.code !== 0) await stopCluster('immediate');
          } finally {
            exitCleanups.delete(exitCleanup);
            await removeDir(dir);
          }
        })()),
    };
  }
}

// ---------------------------------------------------------------------------
// collectd (statsd plugin), a C StatsD daemon used as a benchmark anchor
// ---------------------------------------------------------------------------

export interface CollectdOptions {
  /** `Interval` in seconds (how often the statsd plugin dispatches and csv writes); default 1 */
  intervalS?: number;
  /**
   * SO_RCVBUF to ask for on its UDP socket (bytes). collectd has no option for
   * it (it keeps the kernel default, net.core.rmem_default); the harness then
   * compiles a tiny LD_PRELOAD shim (needs gcc) that calls setsockopt on every
   * UDP socket it binds, as metricport's `receive_buffer_size` does. The
   * kernel caps it at net.core.rmem_max and doubles it (read it back with
   * udpReceiveBuffer()).
   */
  receiveBufferBytes?: number;
  readyTimeoutMs?: number;
}

export interface CollectdPeer extends PeerHandle {
  /** UDP port its statsd plugin listens on (127.0.0.1) */
  port: number;
  /** its csv plugin's directory for this host: `<csvDir>/statsd/derive-<name>-<date>` */
  csvDir: string;
  /** The last written value of each statsd counter (csv, StoreRates false: cumulative), by name; names filtered by `prefix`. */
  counters(prefix?: string): Map<string, number>;
}

const RCVBUF_SHIM_C = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>
/* metricport test harness: sets SO_RCVBUF (METRICPORT_SHIM_RCVBUF bytes) on every UDP socket before bind(). */
int bind(int fd, const struct sockaddr *addr, socklen_t len) {
  static int (*real_bind)(int, const struct sockaddr *, socklen_t);
  if (!real_bind) real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
  const char *v = getenv("METRICPORT_SHIM_RCVBUF");
  int type = 0;
  socklen_t tl = sizeof type;
  if (v && addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6) &&
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_DGRAM) {
    int n = atoi(v);
    if (n > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &n, sizeof n);
  }
  return real_bind(fd, addr, len);
}
`;

/**
 * Environment that makes a peer's UDP sockets ask for SO_RCVBUF = `bytes`
 * (LD_PRELOAD of a shim compiled into `dir`), for daemons with no option of
 * their own (collectd, Etsy statsd): benchmarks compare at equal buffers.
 */
export async function rcvbufShimEnv(dir: string, bytes: number): Promise<NodeJS.ProcessEnv> {
  return { LD_PRELOAD: await buildRcvbufShim(dir), METRICPORT_SHIM_RCVBUF: String(bytes) };
}

async function buildRcvbufShim(dir: string): Promise<string> {
  const gcc = findBinary('gcc') ?? findBinary('cc');
  if (gcc === undefined) throw new Error('receiveBufferBytes needs a C compiler (gcc) to build the SO_RCVBUF shim; install with: apt-get install -y gcc');
  const src = path.join(dir, 'rcvbuf-shim.c');
  const so = path.join(dir, 'rcvbuf-shim.so');
  fs.writeFileSync(src, RCVBUF_SHIM_C);
  const res = await runCommand(gcc, ['-shared', '-fPIC', '-O2', '-o', so, src, '-ldl'], { timeoutMs: 60_000 });
  if (res.code !== 0) throw new Error(`building ${src} failed (exit ${res.code}): ${(res.stdout + res.stderr).slice(-1000)}`);
  return so;
}

/**
 * The receive buffer (bytes, as the kernel reports it: SO_RCVBUF after its
 * doubling) of the UDP socket bound to 127.0.0.1:port, read with `ss -uamn`;
 * undefined when ss is missing or no such socket.
 */
export async function udpReceiveBuffer(port: number): Promise<number | undefined> {
  return (await udpSocketMemory(port))?.rb;
}

/** `ss -uamn` skmem of the UDP socket bound to port: rb (receive buffer, bytes), d (datagrams the kernel dropped: buffer full). */
export async function udpSocketMemory(port: number): Promise<{ rb: number; drops: number } | undefined> {
  const ss = findBinary('ss');
  if (ss === undefined) return undefined;
  const res = await runCommand(ss, ['-H', '-u', '-a', '-m', '-n', `sport = :${port}`], { timeoutMs: 10_000 });
  const rb = /\brb(\d+)/.exec(res.stdout);
  const d = /,d(\d+)\)/.exec(res.stdout);
  return rb ? { rb: Number(rb[1]), drops: d ? Number(d[1]) : 0 } : undefined;
}

/**
 * collectd (Debian `collectd-core`) with only its statsd plugin (on a free
 * loopback UDP port) and csv plugin (StoreRates false, so each counter file
 * holds the cumulative count), per ../shared/reference/peers.md. Ready once a
 * probe counter sent to it shows up in its csv output.
 *
 *   const cd = await startCollectd({ receiveBufferBytes: 8 << 20 });
 *   // send StatsD to 127.0.0.1:cd.port ... then: [...cd.counters('app.').values()]
 */
export async function startCollectd(opts: CollectdOptions = {}): Promise<CollectdPeer> {
  const bin = requireBinary('collectd', 'collectd-core');
  const hostname = 'metricport-harness';
  let csvRoot = '';
  let port = 0;
  const launched = await launchPeer({
    name: 'collectd',
    ports: 1,
    readyTimeoutMs: opts.readyTimeoutMs,
    prepare: async (dir, [p]) => {
      port = p!;
      csvRoot = path.join(dir, 'csv');
      const conf = path.join(dir, 'collectd.conf');
      fs.writeFileSync(
        conf,
        [
          `Hostname "${hostname}"`,
          'FQDNLookup false',
          `Interval ${opts.intervalS ?? 1}`,
          `BaseDir "${dir}"`,
          `PIDFile "${path.join(dir, 'collectd.pid')}"`,
          'PluginDir "/usr/lib/collectd"',
          'TypesDB "/usr/share/collectd/types.db"',
          'LoadPlugin statsd',
          'LoadPlugin csv',
          '<Plugin statsd>',
          '  Host "127.0.0.1"',
          `  Port "${p}"`,
          '  DeleteCounters false',
          '</Plugin>',
          '<Plugin csv>',
          `  DataDir "${csvRoot}"`,
          '  StoreRates false',
          '</Plugin>',
          '',
        ].join('\n'),
      );
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...(opts.receiveBufferBytes !== undefined && opts.receiveBufferBytes > 0 ? await rcvbufShimEnv(dir, opts.receiveBufferBytes) : {}),
      };
      return { cmd: bin, args: ['-f', '-C', conf], env };
    },
    ready: async ([p], abortIf, timeoutMs) => {
      const sock = dgram.createSocket('udp4');
      try {
        await waitFor(
          async () => {
            abortIf();
            await new Promise<void>((r) => sock.send('metricport.harness.ready:1|c', p!, '127.0.0.1', () => r()));
            return readCounters(path.join(csvRoot, hostname), 'metricport.harness.ready').size > 0;
          },
          { timeoutMs, intervalMs: 200, what: 'collectd csv output of a probe counter' },
        );
      } finally {
        sock.close();
      }
    },
  });
  const csvDir = path.join(csvRoot, hostname);
  return { ...launched, port, csvDir, counters: (prefix = '') => readCounters(csvDir, prefix) };
}

/** The last value of every `statsd/derive-<name>-<date>` csv file (the newest date wins), by name. */
function readCounters(hostDir: string, prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  let files: string[];
  try {
    files = fs.readdirSync(path.join(hostDir, 'statsd')).sort();
  } catch {
    return out;
  }
  for (const f of files) {
    const m = /^derive-(.*)-\d{4}-\d{2}-\d{2}$/.exec(f);
    if (m === null || !m[1]!.startsWith(prefix)) continue;
    let text: string;
    try {
      text = fs.readFileSync(path.join(hostDir, 'statsd', f), 'utf8');
    } catch {
      continue;
    }
    // only whole lines: the writer may be mid-line
    const end = text.lastIndexOf('\n');
    if (end <= 0) continue;
    const last = text.slice(text.lastIndexOf('\n', end - 1) + 1, end);
    const v = Number(last.split(',')[1]);
    if (Number.isFinite(v)) out.set(m[1]!, v);
  }
  return out;
}
