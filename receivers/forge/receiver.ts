/**
 * The `forge` receiver: a ForgePoller whose sink decodes each window's
 * resourceMetrics with the same decoder as POST /v1/metrics (same leniency:
 * `asInt` as a JSON number, enum names, snake_case) and hands the batch to
 * the metrics pipelines; the watermark moves once their promise resolved.
 */
import type { Consumer, CreateSettings, Host, Receiver, Signal, SignalData } from '../../src/component.js';
import type { Logger } from '../../src/logger.js';
import { countPoints, type MetricsBatch } from '../../src/model/index.js';
import { isRetryable, MetricportError } from '../../src/errors.js';
import { DecodeError } from '../../src/otlp/errors.js';
import { decodeMetricsJson } from '../../src/otlp/json.js';
import type { ReceiverTelemetry } from '../../src/telemetry.js';
import { systemClock, type Clock } from './clock.js';
import type { ForgeReceiverConfig } from './config.js';
import {
  ForgePoller,
  InvalidDataError,
  PassError,
  type FetchLike,
  type FetchedWindow,
  type ForgeWatermarks,
  type PassResult,
  type SinkResult,
} from './poller.js';
import { sharedLimiters, type LimiterRegistry } from './ratelimit.js';
import { WatermarkStore } from './watermark.js';
import { pollerLease, type ClusterHost, type Lease, type LeaseGrant, type WatermarkStore as KeyedWatermarks } from '../../src/cluster/api.js';

/** The forge watermarks of one lease in the cluster's KV: key `<app uuid>.<environment>`. */
function clusterWatermarks(store: KeyedWatermarks): ForgeWatermarks {
  const key = (appId: string, env: string) => `${appId.slice(appId.lastIndexOf('/') + 1)}.${env}`;
  return {
    load: (appId, env, onProblem) => store.load(key(appId, env), onProblem),
    save: (appId, env, ms) => store.save(key(appId, env), ms),
  };
}

/** Injected in tests (and by `forge pull`). */
export interface ForgeReceiverDeps {
  clock?: Clock;
  fetch?: FetchLike;
  limiters?: LimiterRegistry;
  random?: () => number;
  /** do not poll on start(); the owner calls catchUp() (`forge pull`) */
  manual?: boolean;
  /** give up a window after this many attempts (`forge pull`) */
  maxAttempts?: number;
  /** replace the decode-and-consume sink (`forge pull --post`) */
  sink?: (w: FetchedWindow) => Promise<SinkResult | void>;
}

/** Decode a window exactly as POST /v1/metrics would, and consume it. */
async function decodeAndConsume(json: string, consumer: Consumer<MetricsBatch> | undefined, tel: ReceiverTelemetry | undefined): Promise<SinkResult> {
  let batch: MetricsBatch;
  let rejected: number;
  try {
    const r = decodeMetricsJson(json);
    batch = r.data;
    rejected = r.rejected;
  } catch (err) {
    throw new InvalidDataError(err instanceof DecodeError ? err.message : (err as Error).message);
  }
  if (rejected > 0) tel?.rejected(rejected, 'metrics');
  const n = countPoints(batch);
  if (n > 0 && consumer !== undefined) {
    try {
      await consumer.consume(batch);
    } catch (err) {
      if (isRetryable(err)) tel?.refused(n, 'metrics');
      else tel?.rejected(n, 'metrics');
      throw err;
    }
    tel?.accepted(n, 'metrics');
  }
  return { points: n, rejected };
}

export class ForgeReceiver implements Receiver {
  readonly poller: ForgePoller;
  private readonly logger: Logger;
  private readonly tel: ReceiverTelemetry;
  private readonly clock: Clock;
  private readonly limiters: LimiterRegistry;
  private readonly ac = new AbortController();
  private loop: Promise<void> | undefined;
  private started = false;
  private stopped = false;
  private holdsLimiter = false;
  private readonly id: string;
  private readonly localWatermarks: WatermarkStore;
  /** run-once in a cluster: the poller's lease, and the grant it runs under now */
  private lease: Lease | undefined;
  private grant: LeaseGrant | undefined;

  constructor(
    set: CreateSettings,
    readonly cfg: ForgeReceiverConfig,
    next: Partial<{ [S in Signal]: Consumer<SignalData[S]> }>,
    private readonly deps: ForgeReceiverDeps = {},
  ) {
    this.logger = set.logger;
    this.id = set.id;
    this.localWatermarks = new WatermarkStore(set.stateDir);
    this.tel = set.telemetry.receiver(set.id, 'graphql');
    this.clock = deps.clock ?? systemClock(deps.manual === true);
    this.limiters = deps.limiters ?? sharedLimiters;
    const consumer = next.metrics as Consumer<MetricsBatch> | undefined;
    const sink = deps.sink ?? ((w: FetchedWindow) => decodeAndConsume(w.appMetricsJson, consumer, this.tel));
    // the shared limiter is bound at start() (create allocates nothing shared)
    this.poller = new ForgePoller(
      {
        id: set.id,
        appId: cfg.app_id,
        environments: cfg.environments,
        metrics: cfg.metrics,
        email: cfg.email,
        apiToken: cfg.api_token,
        endpoint: cfg.endpoint,
        intervalMs: cfg.interval,
        historyMs: cfg.history,
        delayMs: cfg.delay,
        timeoutMs: cfg.timeout,
        retryInitialMs: cfg.retry.initial_interval,
        retryMaxMs: cfg.retry.max_interval,
        maxAttempts: deps.maxAttempts,
      },
      {
        clock: this.clock,
        fetch: deps.fetch ?? (globalThis.fetch as unknown as FetchLike),
        watermarks: this.localWatermarks,
        logger: set.logger,
        sink,
        telemetry: this.tel,
        random: deps.random,
      },
    );
  }

  async start(host: Host): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    this.poller.bindLimiter(this.limiters.acquire(this.cfg.email, this.clock));
    this.holdsLimiter = true;
    if (this.deps.manual === true) return;
    const cluster = host?.cluster;
    const run = cluster !== undefined && this.cfg.cluster.run === 'once' ? this.runOnce(cluster) : this.poller.run(this.ac.signal);
    this.loop = run.catch((err: unknown) => {
      this.logger.error({ err: this.poller.scrub((err as Error)?.message ?? String(err)) }, 'forge poller stopped unexpectedly');
    });
  }

  /**
   * Run-once: poll only while this node holds the poller's lease, from the
   * watermarks in the cluster's KV (claimed under the lease's fencing token);
   * when the lease is lost, stop at once and wait to get it back.
   */
  private async runOnce(cluster: ClusterHost): Promise<void> {
    const lease = cluster.lease(pollerLease(this.id));
    this.lease = lease;
    while (!this.ac.signal.aborted) {
      this.poller.phase = 'idle';
      const g = await lease.acquire(this.ac.signal);
      if (g === undefined) break;
      this.grant = g;
      this.logger.info({ lease: g.name, fencing_token: g.token }, 'run-once: this node polls now');
      this.poller.useWatermarks(clusterWatermarks(g.watermarks(this.id)), g);
      await this.poller.run(AbortSignal.any([this.ac.signal, g.signal]));
      this.grant = undefined;
      if (!this.ac.signal.aborted)
        this.logger.warn(
          { lease: g.name, fencing_token: g.token, reason: (g.signal.reason as Error | undefined)?.message },
          'run-once: the lease was lost; this node stopped polling and waits to get it back',
        );
    }
  }

  /** One catch-up pass (the one-shot `forge pull`); rejects with the reason. */
  async catchUp(opts: { historyMs?: number } = {}): Promise<PassResult> {
    if (!this.started) throw new MetricportError('MP_START_FAILED', 'forge receiver not started');
    try {
      return await this.poller.pass(this.ac.signal, opts);
    } catch (err) {
      if (err instanceof PassError) throw new MetricportError('MP_FORGE_PULL', err.message, { cause: err });
      throw err;
    }
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.ac.abort();
    }
    const loop = this.loop;
    if (loop !== undefined) {
      await new Promise<void>((resolve) => {
        if (deadline.aborted) return resolve();
        const onDeadline = (): void => resolve();
        deadline.addEventListener('abort', onDeadline, { once: true });
        void loop.then(() => {
          deadline.removeEventListener('abort', onDeadline);
          resolve();
        });
      });
    }
    if (this.holdsLimiter) {
      this.holdsLimiter = false;
      this.limiters.release(this.cfg.email);
    }
    // the poller has stopped writing: hand the lease to another node now
    const lease = this.lease;
    this.lease = undefined;
    await lease?.release();
  }

  /** Failing hard: the last call failed in a way waiting will not fix (auth, a QueryError other than 429) and nothing succeeded since. */
  healthy(): boolean {
    return !this.poller.hardFailing;
  }

  status(): Record<string, unknown> {
    const p = this.poller;
    const now = this.clock.now();
    const envs: Record<string, unknown> = {};
    const snap = p.watermarkSnapshot();
    for (const [env, w] of Object.entries(snap)) {
      envs[env] = { watermark: w, lag_seconds: w === null ? null : Math.max(0, Math.round((now - Date.parse(w)) / 1000)) };
    }
    return {
      app_id: this.cfg.app_id,
      endpoint: this.cfg.endpoint,
      email: this.cfg.email,
      metrics: this.cfg.metrics,
      interval_seconds: this.cfg.interval / 1000,
      phase: this.lease !== undefined && this.grant === undefined ? 'standby' : p.phase,
      ...(this.lease !== undefined
        ? { cluster: { run: 'once', holds_lease: this.grant !== undefined, ...(this.grant !== undefined ? { token: this.grant.token } : {}) } }
        : {}),
      environments: envs,
      counters: { ...p.counters, ...this.tel.totals() },
      last_success_at: p.lastSuccessAt === null ? null : new Date(p.lastSuccessAt).toISOString(),
      last_error: p.lastError,
    };
  }
}
