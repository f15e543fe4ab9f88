/**
 * `metricport forge pull --config F [--since 2h] [--post URL]`: one catch-up
 * pass of every forge receiver in the config, then exit (0 on success,
 * non-zero with the reason): the serverless/cron pattern of the Forge docs.
 *
 * - Without --post, the windows go into the config's pipelines (only the forge
 *   receivers and what their pipelines need are built; no listener of the
 *   config is bound, no admin server), which are flushed before exit.
 * - With --post, each window's `{"resourceMetrics":[...]}` is POSTed as JSON to
 *   a running sidecar's /v1/metrics, exactly as the docs' cron job does; a
 *   window counts as delivered once the sidecar answered 2xx.
 *
 * Watermarks live in the same state directory as the service's
 * (`<state-dir>/receiver/<id>`), so `--since` only sets where a first run starts.
 */
import { join } from 'node:path';
import { loadImplementations, type ReceiverFactory } from '../../src/component.js';
import { loadConfigFile, type ServiceConfig, type ComponentConfig } from '../../src/config/service-config.js';
import { parseDuration } from '../../src/config/schema.js';
import { ConfigError, PermanentError, RefusedError } from '../../src/errors.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { registry } from '../../src/registry.js';
import { Service } from '../../src/service.js';
import { KNOWN_FLAGS, loadSettings } from '../../src/settings.js';
import { ServiceTelemetry } from '../../src/telemetry.js';
import { systemClock, type Clock } from './clock.js';
import { MAX_HISTORY_MS, type ForgeReceiverConfig } from './config.js';
import type { FetchLike, FetchedWindow, PassResult, SinkResult } from './poller.js';
import { ForgeReceiver, type ForgeReceiverDeps } from './receiver.js';

/** Attempts per window before `forge pull` gives up (with backoff in between). */
const PULL_MAX_ATTEMPTS = 5;

const FORGE_HELP = `Usage:
  metricport forge pull --config FILE [--since DURATION] [--post URL] [--state-dir DIR] [--log-level L]

One catch-up pass of every forge receiver in FILE, then exit: 0 when every
environment is caught up to now minus the receiver's delay, 1 with the reason
otherwise, 2 for bad arguments.
  --since D   where a first run starts (no watermark yet), e.g. 2h; overrides history (at most 14d)
  --post URL  POST each window's resourceMetrics as OTLP JSON to URL (a running
              metricport or Collector, e.g. http://127.0.0.1:4318/v1/metrics)
              instead of running the config's pipelines
Watermarks are kept in <state-dir>/receiver/<id>, shared with the service.
`;

export interface PullOptions {
  configFile: string;
  stateDir: string;
  sinceMs?: number;
  postUrl?: string;
  logger: Logger;
  /** injected in tests */
  clock?: Clock;
  fetch?: FetchLike;
  env?: NodeJS.ProcessEnv;
  /** shutdown deadline for flushing the pipelines, ms */
  flushTimeoutMs?: number;
}

export interface PullOutcome {
  ok: boolean;
  /** one line per receiver */
  lines: string[];
  errors: string[];
  results: Record<string, PassResult>;
}

/** POST a window to a sidecar's /v1/metrics; 2xx = accepted (partial success is counted), 400/413/415 = never, others = retry. */
function postSink(url: string, fetchFn: FetchLike, timeoutMs = 30_000): (w: FetchedWindow) => Promise<SinkResult> {
  return async (w) => {
    let res;
    let text: string;
    try {
      res = await fetchFn(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: w.appMetricsJson,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      throw new RefusedError(`cannot POST to ${url}: ${e.cause?.code ?? e.message}`);
    }
    if (res.status >= 200 && res.status <= 299) {
      let rejected = 0;
      try {
        const body = JSON.parse(text) as { partialSuccess?: { rejectedDataPoints?: string | number } };
        rejected = Number(body.partialSuccess?.rejectedDataPoints ?? 0) || 0;
      } catch {
        /* an empty or non-JSON 2xx body is success */
      }
      return { rejected };
    }
    const msg = `${url} answered HTTP ${res.status}: ${text.replace(/\s+/g, ' ').slice(0, 300)}`;
    if (res.status === 400 || res.status === 413 || res.status === 415) throw new PermanentError(msg);
    const ra = Number(res.headers.get('retry-after'));
    throw new RefusedError(msg, { retryAfterSeconds: Number.isFinite(ra) && ra > 0 ? ra : 1 });
  };
}

function forgeReceivers(config: ServiceConfig): Array<[string, ComponentConfig<ReceiverFactory>]> {
  return [...config.receivers].filter(([, c]) => c.type === 'forge');
}

function describe(id: string, r: PassResult, posted: boolean): string {
  const wms = Object.entries(r.watermarks)
    .map(([env, w]) => `${env}=${w ?? 'none'}`)
    .join(' ');
  return `forge pull: receiver ${id}: ${r.windows} window${r.windows === 1 ? '' : 's'}${posted ? ' posted' : `, ${r.points} points accepted`}${r.rejected ? `, ${r.rejected} rejected` : ''}${r.dropped ? `, ${r.dropped} windows dropped downstream` : ''}; watermark ${wms}`;
}

/** One pass of every forge receiver in the config. Never throws for expected failures; see `ok` and `errors`. */
async function forgePull(o: PullOptions): Promise<PullOutcome> {
  const out: PullOutcome = { ok: true, lines: [], errors: [], results: {} };
  const config = loadConfigFile(o.configFile, registry, o.env ?? process.env);
  const forge = forgeReceivers(config);
  if (forge.length === 0) {
    out.ok = false;
    out.errors.push(`${o.configFile} has no forge receiver`);
    return out;
  }
  const historyMs = o.sinceMs;
  const clock = o.clock ?? systemClock(true);
  const deps = (extra: Partial<ForgeReceiverDeps>): ForgeReceiverDeps => ({ clock, fetch: o.fetch, manual: true, maxAttempts: PULL_MAX_ATTEMPTS, ...extra });
  const telemetry = new ServiceTelemetry();
  const run = async (id: string, rcv: ForgeReceiver): Promise<void> => {
    try {
      const r = await rcv.catchUp({ historyMs });
      out.results[id] = r;
      out.lines.push(describe(id, r, o.postUrl !== undefined));
    } catch (err) {
      out.ok = false;
      out.errors.push(`receiver ${id}: ${rcv.poller.scrub((err as Error).message)}`);
    }
  };

  if (o.postUrl !== undefined) {
    const fetchFn = o.fetch ?? (globalThis.fetch as unknown as FetchLike);
    const sink = postSink(o.postUrl, fetchFn);
    const rcvs = forge.map(
      ([id, c]) =>
        [
          id,
          new ForgeReceiver(
            { id, logger: o.logger.child({ component: 'receiver', id }), telemetry, stateDir: join(o.stateDir, 'receiver', id.replace('/', '_')) },
            c.config as unknown as ForgeReceiverConfig,
            {},
            deps({ sink }),
          ),
        ] as const,
    );
    const host = { logger: o.logger, telemetry, stateDir: o.stateDir };
    for (const [, r] of rcvs) await r.start(host);
    await Promise.all(rcvs.map(([id, r]) => run(id, r)));
    for (const [, r] of rcvs) await r.shutdown(AbortSignal.timeout(1000));
    await telemetry.shutdown();
    return out;
  }

  // into the pipelines: only forge receivers (no listener of the config is bound)
  const captured: Array<[string, ForgeReceiver]> = [];
  const receivers = new Map<string, ComponentConfig<ReceiverFactory>>();
  for (const [id, c] of forge) {
    const factory: ReceiverFactory = {
      ...c.factory,
      create: (set, cfg, next) => {
        const r = new ForgeReceiver(set, cfg as ForgeReceiverConfig, next, deps({}));
        captured.push([set.id, r]);
        return r;
      },
    };
    receivers.set(id, { ...c, factory });
  }
  const pipelines = config.pipelines.filter((p) => p.receivers.some((id) => receivers.has(id)));
  const used = new Set(pipelines.flatMap((p) => p.exporters));
  const exporters = new Map([...config.exporters].filter(([id]) => used.has(id)));
  await loadImplementations({ ...config, receivers, exporters });
  const service = new Service({ ...config, receivers, pipelines, exporters }, { logger: o.logger, telemetry, stateDir: o.stateDir });
  try {
    await service.start();
  } catch (err) {
    await service.shutdown(AbortSignal.timeout(o.flushTimeoutMs ?? 10_000));
    await telemetry.shutdown();
    out.ok = false;
    out.errors.push((err as Error).message);
    return out;
  }
  await Promise.all(captured.map(([id, r]) => run(id, r)));
  await service.shutdown(AbortSignal.timeout(o.flushTimeoutMs ?? 10_000));
  // an exporter that could not flush what it was handed is a failure of the pass
  const st = service.health();
  for (const c of st.components)
    if (c.kind === 'exporter' && c.error !== undefined) {
      out.ok = false;
      out.errors.push(`exporter ${c.id}: ${c.error}`);
    }
  await telemetry.shutdown();
  return out;
}

/** Parse `forge pull ...` arguments. */
export function parseForgeArgs(argv: string[]): { flags: string[]; sinceMs?: number; postUrl?: string; help?: boolean; error?: string } {
  const flags: string[] = [];
  let sinceMs: number | undefined;
  let postUrl: string | undefined;
  if (argv[0] === undefined || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') return { flags, help: true };
  if (argv[0] !== 'pull') return { flags, error: `unknown forge command "${argv[0]}" (commands: pull)` };
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') return { flags, help: true };
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) return { flags, error: `unexpected argument "${a}"` };
    const name = m[1] as string;
    let v = m[2];
    if (v === undefined) {
      v = argv[i + 1];
      if (v === undefined) return { flags, error: `flag --${name} needs a value` };
      i++;
    }
    if (name === 'since') {
      const ms = parseDuration(v);
      if (ms === undefined || ms <= 0) return { flags, error: `--since: expected a duration like "2h" or "30m", got ${JSON.stringify(v)}` };
      if (ms > MAX_HISTORY_MS) return { flags, error: `--since: at most 14d (the API keeps 14 days), got ${JSON.stringify(v)}` };
      sinceMs = ms;
    } else if (name === 'post') {
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        return { flags, error: `--post: expected an http:// or https:// URL, got ${JSON.stringify(v)}` };
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return { flags, error: `--post: expected an http:// or https:// URL, got ${JSON.stringify(v)}` };
      postUrl = v;
    } else if (KNOWN_FLAGS.has(name as never)) {
      flags.push(`--${name}`, v);
    } else {
      return { flags, error: `unknown flag --${name} for forge pull` };
    }
  }
  return { flags, sinceMs, postUrl };
}

/** `metricport forge ...`: exit code. */
export async function forgeMain(argv: string[]): Promise<number> {
  const p = parseForgeArgs(argv);
  if (p.help) {
    process.stdout.write(FORGE_HELP);
    return 0;
  }
  if (p.error !== undefined) {
    process.stderr.write(`metricport forge: ${p.error}; see metricport forge --help\n`);
    return 2;
  }
  let settings;
  try {
    settings = loadSettings(p.flags);
  } catch (e) {
    process.stderr.write(`metricport forge: ${(e as Error).message}\n`);
    return 2;
  }
  if (settings.config === '') {
    process.stderr.write('metricport forge pull: --config FILE (or METRICPORT_CONFIG) is required\n');
    return 2;
  }
  // logs on stderr; stdout carries the summary
  const logger = createLogger(settings.log_level, 2);
  let outcome: PullOutcome;
  try {
    outcome = await forgePull({
      configFile: settings.config,
      stateDir: settings.state_dir,
      sinceMs: p.sinceMs,
      postUrl: p.postUrl,
      logger,
      flushTimeoutMs: settings.shutdown_timeout,
    });
  } catch (e) {
    process.stderr.write(`metricport forge pull: ${e instanceof ConfigError ? e.message : (e as Error).message}\n`);
    return 1;
  }
  for (const l of outcome.lines) process.stdout.write(`${l}\n`);
  for (const e of outcome.errors) process.stderr.write(`metricport forge pull: ${e}\n`);
  await new Promise<void>((resolve) => {
    const l = logger as unknown as { flush?: (cb?: () => void) => void };
    if (typeof l.flush !== 'function') return resolve();
    l.flush(() => resolve());
    setTimeout(resolve, 500).unref();
  });
  return outcome.ok ? 0 : 1;
}
