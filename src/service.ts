/**
 * The pipeline graph: builds every component from a validated ServiceConfig,
 * wires receivers → processors → exporters (fan-out where a pipeline has
 * several exporters, or a receiver feeds several pipelines), starts exporters
 * → processors → receivers and shuts down in reverse, each step within the
 * deadline. Every start (service start, reload, retry, restore) goes through
 * startNodes() and every stop through stopNodes().
 */
import { DEFAULT_MEMORY_LIMITER, memoryLimiter } from './memorylimiter.js';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import {
  loadImplementations,
  type Component,
  type Consumer,
  type CreateSettings,
  type Exporter,
  type Host,
  type Processor,
  type Receiver,
  type Signal,
} from './component.js';
import type { ClusterHost } from './cluster/api.js';
import { upstreamDelays } from './config/windows.js';
import { parseEndpoint, type Schema, type Field } from './config/schema.js';
import type { PipelineConfig, ServiceConfig } from './config/service-config.js';
import { MetricportError } from './errors.js';
import { fanout } from './fanout.js';
import type { Logger } from './logger.js';
import type { Telemetry } from './telemetry.js';

export type ComponentState = 'created' | 'starting' | 'running' | 'failed' | 'stopping' | 'stopped';

interface Node {
  kind: 'receiver' | 'processor' | 'exporter';
  id: string;
  type: string;
  /** exporter: `id|signal`; processor: `pipeline|id`; receiver: its id */
  key: string;
  signal?: Signal;
  pipeline?: string;
  component: Component;
  /**
   * exporters and processors: what upstream components and fan-outs hold
   * instead of the component itself, a switch to it, so an instance can be
   * replaced (a reload's retry, or restoring an old one) without touching
   * what feeds it
   */
  inlet?: Switch;
  /** a fresh instance from the same config, wired to the same `outs` (a component may not start twice) */
  make: () => Component;
  /** TCP ports this component listens on (its schema's `endpoint` fields; 0 excluded) */
  ports: number[];
  state: ComponentState;
  error?: string;
  /** what must be equal for a reload to keep this instance (type, config, signals, delays) */
  fingerprint: unknown;
  /** the switchable consumers this component was created with (retargeted on reload) */
  outs: Switch[];
}

/**
 * A consumer whose target can be replaced: every edge of the graph goes
 * through one, so a reload rewires kept components without recreating them.
 */
class Switch implements Consumer<unknown> {
  /** `gate`: a receiver's edge, which consults the memory limiter first (429 + Retry-After above the soft limit) */
  constructor(
    public target: Consumer<unknown>,
    private readonly gate = false,
  ) {}
  get mutatesData(): boolean {
    return this.target.mutatesData === true;
  }
  consume(d: unknown): Promise<void> {
    if (this.gate) {
      const refused = memoryLimiter.refusal();
      if (refused !== undefined) return Promise.reject(refused);
    }
    return this.target.consume(d);
  }
}

interface Graph {
  exporters: Node[];
  processors: Node[];
  receivers: Node[];
}

export interface ReloadSummary {
  /** component keys started by this reload */
  added: string[];
  /** component keys stopped by this reload */
  removed: string[];
  /** component keys whose instance (queues, watermarks, URLs) was kept */
  kept: string[];
}

export interface ServiceOptions {
  logger: Logger;
  telemetry: Telemetry;
  stateDir: string;
  /** the cluster node, when `service.cluster` is configured */
  cluster?: ClusterHost;
  /** how long start() gives the components it started to stop when a later one fails (default 10 s) */
  stopTimeoutMs?: number;
}

const label = (n: Node): string =>
  `${n.kind} ${n.pipeline !== undefined ? `${n.pipeline}/` : ''}${n.id}${n.kind === 'exporter' && n.signal !== undefined ? ` (${n.signal})` : ''}`;

export class Service {
  private exporters: Node[] = [];
  private processors: Node[] = [];
  private receivers: Node[] = [];
  private readonly host: Host;
  private shutdownPromise?: Promise<void>;
  private readonly startedAt = new Date();
  private cfg: ServiceConfig;
  /** reloads run one at a time (and never during shutdown) */
  private lock: Promise<unknown> = Promise.resolve();
  private reloads = 0;
  private lastReload: Record<string, unknown> | undefined;

  constructor(
    config: ServiceConfig,
    private readonly opts: ServiceOptions,
  ) {
    this.cfg = config;
    this.host = { logger: opts.logger, telemetry: opts.telemetry, stateDir: opts.stateDir, ...(opts.cluster !== undefined ? { cluster: opts.cluster } : {}) };
    opts.telemetry.counter(
      'metricport_memory_limiter_refused_requests',
      'Requests receivers refused (429) because memory was above service.memory_limiter.soft_limit',
      {},
      () => memoryLimiter.refusedRequests,
    );
    opts.telemetry.counter(
      'metricport_memory_limiter_dropped_items',
      'Queued batches dropped because memory was above service.memory_limiter.hard_limit (also counted as exporter drops, reason memory_limit)',
      {},
      () => memoryLimiter.droppedItems,
    );
    const g = this.build(config, undefined);
    this.exporters = g.graph.exporters;
    this.processors = g.graph.processors;
    this.receivers = g.graph.receivers;
  }

  /** the config running now (replaced by a successful reload) */
  get config(): ServiceConfig {
    return this.cfg;
  }

  private settings(kind: string, id: string, pipeline?: string): CreateSettings {
    return {
      id,
      logger: this.opts.logger.child({ component: kind, id, ...(pipeline ? { pipeline } : {}) }),
      telemetry: this.opts.telemetry,
      stateDir: join(this.opts.stateDir, kind, id.replace('/', '_')),
      pipeline,
    };
  }

  /**
   * Build the graph for `cfg`. With `prev`, a component whose key and
   * fingerprint (type, validated config, signals, upstream delay) are
   * unchanged is kept: the same instance, its outgoing switches to be
   * retargeted (`retarget`, applied by the caller at the swap). New
   * components get fresh switches already pointing at the new graph.
   */
  private build(cfg: ServiceConfig, prev: Graph | undefined): { graph: Graph; created: Node[]; kept: Set<Node>; retarget: Array<[Switch, Consumer<unknown>]> } {
    const graph: Graph = { exporters: [], processors: [], receivers: [] };
    const created: Node[] = [];
    const kept = new Set<Node>();
    const retarget: Array<[Switch, Consumer<unknown>]> = [];
    const old = new Map<string, Node>();
    if (prev !== undefined) for (const n of [...prev.exporters, ...prev.processors, ...prev.receivers]) old.set(`${n.kind}:${n.key}`, n);
    const reuse = (kind: Node['kind'], key: string, fingerprint: unknown): Node | undefined => {
      const n = old.get(`${kind}:${key}`);
      if (n === undefined || n.state !== 'running' || !isDeepStrictEqual(n.fingerprint, fingerprint)) return undefined;
      kept.add(n);
      return n;
    };
    const point = (sw: Switch, target: Consumer<unknown>, isNew: boolean) => {
      if (isNew) sw.target = target;
      else retarget.push([sw, target]);
    };

    // exporters: one instance per id and signal
    const exporterBy = new Map<string, Consumer<unknown>>();
    // push stores keep their periods open for the windows of metric sets upstream
    const delays = upstreamDelays(cfg);
    for (const p of cfg.pipelines) {
      for (const id of p.exporters) {
        const key = `${id}|${p.outSignal}`;
        if (exporterBy.has(key)) continue;
        const c = cfg.exporters.get(id)!;
        const delay = delays.get(id);
        const fingerprint = { type: c.type, config: c.config, delay };
        let n = reuse('exporter', key, fingerprint);
        if (n === undefined) {
          const signal = p.outSignal;
          const make = (): Exporter =>
            c.factory.create({ ...this.settings('exporter', id), ...(delay !== undefined ? { upstreamDelayMs: delay } : {}) }, c.config, signal);
          n = node({ kind: 'exporter', id, type: c.type, key, signal, fingerprint, outs: [], make, ports: listenPorts(c.factory.configSchema, c.config) });
          created.push(n);
        }
        exporterBy.set(key, n.inlet!);
        graph.exporters.push(n);
      }
    }
    // processors: one chain per pipeline, built from the end; a pipeline
    // whose output feeds other pipelines (`pipeline/<id>` among their
    // receivers) is built after them, its end fanning out to their heads too
    const heads = new Map<string, Consumer<any>>();
    for (const p of downstreamFirst(cfg.pipelines)) {
      const targets: Consumer<any>[] = p.exporters.map((id) => exporterBy.get(`${id}|${p.outSignal}`)!);
      for (const q of cfg.pipelines) if (q.inputs.includes(p.id)) targets.push(heads.get(q.id)!);
      let next: Consumer<any> = fanout(p.outSignal, targets);
      const chain: Node[] = [];
      for (let i = p.processors.length - 1; i >= 0; i--) {
        const pr = p.processors[i]!;
        const c = cfg.processors.get(pr.id)!;
        const key = `${p.id}|${pr.id}`;
        const fingerprint = { type: c.type, config: c.config, in: pr.in, out: pr.out };
        let n = reuse('processor', key, fingerprint);
        if (n === undefined) {
          const sw = new Switch(next);
          const make = (): Processor => c.factory.create(this.settings('processor', pr.id, p.id), c.config, pr.in, sw);
          n = node({
            kind: 'processor',
            id: pr.id,
            type: c.type,
            key,
            pipeline: p.id,
            signal: pr.in,
            fingerprint,
            outs: [sw],
            make,
            ports: listenPorts(c.factory.configSchema, c.config),
          });
          created.push(n);
        } else {
          point(n.outs[0]!, next, false);
        }
        chain.unshift(n);
        next = n.inlet!;
      }
      // processors start last-first (downstream before upstream)
      graph.processors.push(...chain.reverse());
      // a pipeline mutates its input if any of its processors does (the
      // fan-out in front of it then hands it a copy)
      const mutates = chain.some((x) => x.inlet!.mutatesData);
      const head = next;
      heads.set(p.id, mutates && head.mutatesData !== true ? { mutatesData: true, consume: (d: unknown) => head.consume(d) } : head);
    }
    // receivers: one instance per id, one consumer per signal (fan-out over pipelines)
    for (const [id, c] of cfg.receivers) {
      const next: Partial<Record<Signal, Consumer<any>>> = {};
      for (const signal of ['metrics', 'events'] as const) {
        const targets = cfg.pipelines.filter((p) => p.signal === signal && p.receivers.includes(id)).map((p) => heads.get(p.id)!);
        if (targets.length > 0) next[signal] = fanout(signal, targets);
      }
      const signals = Object.keys(next) as Signal[];
      if (signals.length === 0) continue; // unused (warned at validation)
      const fingerprint = { type: c.type, config: c.config, signals };
      let n = reuse('receiver', id, fingerprint);
      if (n === undefined) {
        const outs: Switch[] = [];
        const wired: Partial<Record<Signal, Consumer<any>>> = {};
        for (const s of signals) {
          const sw = new Switch(next[s]!, true);
          outs.push(sw);
          wired[s] = sw;
        }
        const make = (): Receiver => c.factory.create(this.settings('receiver', id), c.config, wired);
        n = node({ kind: 'receiver', id, type: c.type, key: id, fingerprint, outs, make, ports: listenPorts(c.factory.configSchema, c.config) });
        created.push(n);
      } else {
        signals.forEach((s, i) => point(n!.outs[i]!, next[s]!, false));
      }
      graph.receivers.push(n);
    }
    return { graph, created, kept, retarget };
  }

  /** Start exporters, then processors, then receivers. Rejects on the first failure, after stopping what had started. */
  async start(): Promise<void> {
    memoryLimiter.configure(this.cfg.memoryLimiter ?? DEFAULT_MEMORY_LIMITER);
    await this.startNodes(this.startOrder(), this.opts.stopTimeoutMs ?? 10_000);
    this.opts.logger.info(
      {
        pipelines: this.config.pipelines.map((p) => p.id),
        receivers: this.receivers.length,
        processors: this.processors.length,
        exporters: this.exporters.length,
      },
      'metricport started',
    );
  }

  /** Receivers first (stop intake), then processors upstream first (each flushes into one still running), then exporters (drain). Safe to call twice. */
  shutdown(deadline: AbortSignal): Promise<void> {
    // a reload under way finishes first (its new components are then stopped too)
    this.shutdownPromise ??= this.lock.then(() => this.stopNodes(this.startOrder(), deadline));
    return this.shutdownPromise;
  }

  /**
   * Replace the running config with `next` (already validated): components
   * whose key and settings are unchanged keep running (same instance: their
   * queues, watermarks and pull URLs stay); new and changed ones are created
   * and started first (exporters → processors → receivers), then every edge is
   * switched over at once, then what is gone is drained and stopped
   * (receivers → processors → exporters; a stopped processor flushes into the
   * new graph, a stopped exporter drains its queue). Data in flight is never
   * dropped. If a new component fails to start, the ones started are stopped,
   * every old component keeps serving and the promise rejects with the reason.
   * Reloads are serialized.
   */
  reload(next: ServiceConfig, stopTimeoutMs = 30_000): Promise<ReloadSummary> {
    // a reload may bring component types the running config does not use: import them first
    const run = this.lock.then(() => loadImplementations(next)).then(() => this.doReload(next, stopTimeoutMs));
    this.lock = run.catch(() => undefined);
    return run;
  }

  private async doReload(next: ServiceConfig, stopTimeoutMs: number): Promise<ReloadSummary> {
    if (this.shutdownPromise !== undefined) throw new MetricportError('MP_RELOAD_FAILED', 'cannot reload: the service is shutting down');
    if (!isDeepStrictEqual(this.cfg.cluster, next.cluster))
      throw new MetricportError(
        'MP_RELOAD_FAILED',
        'service.cluster changed: a cluster setting takes effect only on a restart; the previous config keeps running',
      );
    const t0 = Date.now();
    const prev: Graph = { exporters: this.exporters, processors: this.processors, receivers: this.receivers };
    const prevCfg = this.cfg;
    const { graph, created, kept, retarget } = this.build(next, prev);
    const gone = (nodes: Node[]) => nodes.filter((n) => !kept.has(n));
    const removed = gone([...prev.exporters, ...prev.processors, ...prev.receivers]);
    const oldByKey = new Map(removed.map((n) => [`${n.kind}:${n.key}`, n]));
    // old instances stopped to make room for their replacement (restored if the reload fails)
    const stoppedEarly: Node[] = [];
    const order = (k: Node['kind']) => created.filter((n) => n.kind === k);
    // a new instance that cannot start beside the one it replaces (the same
    // port; receivers on a shared HTTP listener hand their routes over and do
    // not collide) is retried, as a fresh instance, after stopping the old
    // one; when the port is taken by something else, the old one is left alone
    const retry = async (n: Node, err: Error): Promise<void> => {
      const was = oldByKey.get(`${n.kind}:${n.key}`);
      if (was === undefined || was.state !== 'running') throw err;
      if (addressInUse(err) && !n.ports.some((p) => was.ports.includes(p))) throw err;
      this.opts.logger.warn(
        { component: n.kind, id: n.id, err: err.message },
        'reload: the new instance could not start beside the old one; stopping the old one first',
      );
      stoppedEarly.push(was);
      await this.stopNodes([was], AbortSignal.timeout(stopTimeoutMs));
      await this.stopNodes([n], AbortSignal.timeout(stopTimeoutMs));
      this.renew(n);
      await this.startNode(n);
    };
    try {
      await this.startNodes([...order('exporter'), ...order('processor'), ...order('receiver')], stopTimeoutMs, retry);
    } catch (e) {
      const lost = await this.restore(stoppedEarly, stopTimeoutMs);
      const also = lost.length > 0 ? `; could not restart ${lost.map(label).join(', ')} (see /api/v1/status)` : '';
      throw new MetricportError('MP_RELOAD_FAILED', `reload failed, the previous config keeps running: ${(e as Error).message}${also}`, {
        cause: (e as Error).cause ?? e,
      });
    }
    // the swap: synchronous, so every consume() after it sees the new graph
    for (const [sw, target] of retarget) sw.target = target;
    this.exporters = graph.exporters;
    this.processors = graph.processors;
    this.receivers = graph.receivers;
    this.cfg = next;
    // service.memory_limiter may have changed too
    if (!isDeepStrictEqual(prevCfg.memoryLimiter, next.memoryLimiter)) memoryLimiter.configure(next.memoryLimiter ?? DEFAULT_MEMORY_LIMITER);
    await this.stopNodes(removed, AbortSignal.timeout(stopTimeoutMs));
    const summary: ReloadSummary = {
      added: created.map(label),
      removed: gone([...prev.receivers, ...prev.processors, ...prev.exporters]).map(label),
      kept: [...kept].map(label),
    };
    this.reloads++;
    this.lastReload = {
      at: new Date().toISOString(),
      duration_ms: Date.now() - t0,
      added: summary.added.length,
      removed: summary.removed.length,
      kept: summary.kept.length,
    };
    this.opts.logger.info({ ...summary, duration_ms: Date.now() - t0 }, 'config reloaded');
    return summary;
  }

  /**
   * Old components stopped by a failed reload get a fresh instance from
   * their old config, wired where they were, and start again (downstream
   * first). Returns those that could not (left `failed`, with the error).
   */
  private async restore(olds: Node[], stopTimeoutMs: number): Promise<Node[]> {
    const lost: Node[] = [];
    for (const was of olds) {
      this.renew(was);
      try {
        await this.startNode(was);
        this.opts.logger.warn({ component: was.kind, id: was.id }, 'reload failed: the old instance was restarted from its old config');
      } catch (e) {
        lost.push(was);
        this.opts.logger.error({ component: was.kind, id: was.id, err: (e as Error).message }, 'reload failed and the old instance could not be restarted');
        await this.stopNodes([was], AbortSignal.timeout(stopTimeoutMs));
        was.state = 'failed';
        was.error = (e as Error).message;
      }
    }
    return lost;
  }

  /** A fresh instance for a node (same config and wiring); what feeds the node switches to it. */
  private renew(n: Node): void {
    n.component = n.make();
    if (n.inlet !== undefined) n.inlet.target = n.component as Processor | Exporter;
    n.state = 'created';
    delete n.error;
  }

  /**
   * The one way components start: in the order given (exporters, then
   * processors downstream first, then receivers). When one fails, `retry`
   * (reload) may recover it; otherwise it and everything this call started
   * are stopped (stopNodes) and the call rejects naming the component.
   */
  private async startNodes(nodes: Node[], stopTimeoutMs: number, retry?: (n: Node, err: Error) => Promise<void>): Promise<void> {
    const started: Node[] = [];
    for (const n of nodes) {
      try {
        try {
          await this.startNode(n);
        } catch (e) {
          if (retry === undefined) throw e;
          await retry(n, e as Error);
        }
      } catch (e) {
        await this.stopNodes([...started, n], AbortSignal.timeout(stopTimeoutMs));
        n.state = 'failed';
        n.error = (e as Error).message;
        throw new MetricportError('MP_START_FAILED', `${n.kind} "${n.id}" failed to start: ${(e as Error).message}`, { cause: e });
      }
      started.push(n);
    }
  }

  private async startNode(n: Node): Promise<void> {
    n.state = 'starting';
    try {
      await n.component.start(this.host);
      n.state = 'running';
      delete n.error;
    } catch (e) {
      n.state = 'failed';
      n.error = (e as Error).message;
      throw e;
    }
  }

  /**
   * The one way components stop, given in start order (as startOrder() lists them):
   * processors are told to drain, receivers stop (in-flight requests wait on
   * downstream, so processors must not hold data back meanwhile), then
   * processors one at a time, upstream first — a processor that flushes a
   * window at shutdown hands it to a processor still running — then the
   * exporters, which drain their queues. Components already stopped are
   * skipped; errors are logged, never thrown.
   */
  private async stopNodes(nodes: Node[], deadline: AbortSignal): Promise<void> {
    const processors = nodes.filter((n) => n.kind === 'processor' && n.state !== 'stopped');
    for (const n of processors) {
      try {
        n.component.drain?.();
      } catch {
        /* drain is best effort */
      }
    }
    const stop = async (n: Node): Promise<void> => {
      if (n.state === 'stopped') return;
      n.state = 'stopping';
      try {
        await n.component.shutdown(deadline);
      } catch (e) {
        n.error = (e as Error).message;
        this.opts.logger.warn({ component: n.kind, id: n.id, err: (e as Error).message }, 'shutdown error');
      }
      n.state = 'stopped';
    };
    await Promise.all(nodes.filter((n) => n.kind === 'receiver').map(stop));
    // start order is downstream first: stop in reverse
    for (const n of processors.reverse()) await stop(n);
    await Promise.all(nodes.filter((n) => n.kind === 'exporter').map(stop));
  }

  /**
   * Healthy when every component runs and none reports itself failing.
   * `degraded` lists what serves at reduced capability (the cluster while NATS
   * is unreachable): still healthy.
   */
  health(): {
    healthy: boolean;
    degraded?: Array<{ component: string; reason: string; since?: string }>;
    components: Array<{ kind: string; id: string; state: ComponentState; healthy: boolean; error?: string }>;
  } {
    const components = this.all().map((n) => {
      const h = n.state === 'running' && (n.component.healthy?.() ?? true);
      return {
        kind: n.kind,
        id: n.id,
        ...(n.pipeline ? { pipeline: n.pipeline } : {}),
        ...(n.signal ? { signal: n.signal } : {}),
        state: n.state,
        healthy: h,
        ...(n.error ? { error: n.error } : {}),
      };
    });
    const c = this.opts.cluster?.health();
    const degraded =
      c !== undefined && c.degraded ? [{ component: 'cluster', reason: c.reason ?? 'degraded', ...(c.since !== undefined ? { since: c.since } : {}) }] : [];
    return { healthy: components.every((x) => x.healthy), degraded, components };
  }

  /** The cluster node (service.cluster), for the cluster's admin route; undefined without a cluster. */
  get cluster(): ClusterHost | undefined {
    return this.opts.cluster;
  }

  status(): Record<string, unknown> {
    const describe = (n: Node) => {
      let detail: Record<string, unknown> = {};
      try {
        detail = n.component.status?.() ?? {};
      } catch (e) {
        detail = { status_error: (e as Error).message };
      }
      return {
        id: n.id,
        type: n.type,
        ...(n.pipeline ? { pipeline: n.pipeline } : {}),
        ...(n.signal ? { signal: n.signal } : {}),
        state: n.state,
        healthy: n.state === 'running' && (n.component.healthy?.() ?? true),
        ...(n.error ? { error: n.error } : {}),
        ...detail,
      };
    };
    return {
      started_at: this.startedAt.toISOString(),
      uptime_seconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      config_file: this.config.file,
      reloads: this.reloads,
      ...(this.lastReload !== undefined ? { last_reload: this.lastReload } : {}),
      pipelines: this.config.pipelines.map((p) => ({
        id: p.id,
        signal: p.signal,
        output_signal: p.outSignal,
        receivers: p.receivers,
        ...(p.inputs.length > 0 ? { inputs: p.inputs.map((i) => `pipeline/${i}`) } : {}),
        processors: p.processors.map((x) => x.id),
        exporters: p.exporters,
      })),
      receivers: this.receivers.map(describe),
      processors: this.processors.map(describe),
      exporters: this.exporters.map(describe),
    };
  }

  /** The components of a kind (and type), for admin routes that ask a component directly (e.g. metric set previews). */
  components(kind: 'receiver' | 'processor' | 'exporter', type?: string): Array<{ id: string; type: string; pipeline?: string; component: Component }> {
    return this.all()
      .filter((n) => n.kind === kind && (type === undefined || n.type === type))
      .map((n) => ({ id: n.id, type: n.type, ...(n.pipeline !== undefined ? { pipeline: n.pipeline } : {}), component: n.component }));
  }

  private all(): Node[] {
    return [...this.receivers, ...this.processors, ...this.exporters];
  }

  /** every component in start order: exporters, processors downstream first, receivers */
  private startOrder(): Node[] {
    return [...this.exporters, ...this.processors, ...this.receivers];
  }
}

/** Create a node's first instance; exporters and processors are reached through their inlet. */
function node(n: Omit<Node, 'component' | 'inlet' | 'state'>): Node {
  const component = n.make();
  return { ...n, component, ...(n.kind !== 'receiver' ? { inlet: new Switch(component as Processor | Exporter) } : {}), state: 'created' };
}

/** True when an error, or one it wraps (`cause`), is EADDRINUSE. */
function addressInUse(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') return true;
  }
  return false;
}

/** The TCP ports a component's config listens on: every `endpoint` field of its schema (port 0 excluded). */
function listenPorts(schema: Schema, config: unknown): number[] {
  const ports: number[] = [];
  const walk = (f: Field, v: unknown): void => {
    if (v === undefined || v === null) return;
    if (f.type === 'endpoint' && typeof v === 'string') {
      const port = parseEndpoint(v)?.port;
      if (port !== undefined && port !== 0) ports.push(port);
    } else if (f.type === 'object' && typeof v === 'object') {
      for (const [k, sub] of Object.entries(f.fields)) walk(sub, (v as Record<string, unknown>)[k]);
    } else if (f.type === 'array' && Array.isArray(v)) {
      for (const x of v) walk(f.items, x);
    } else if (f.type === 'map' && typeof v === 'object') {
      for (const x of Object.values(v as Record<string, unknown>)) walk(f.values, x);
    }
  };
  if (config !== null && typeof config === 'object') for (const [k, f] of Object.entries(schema)) walk(f, (config as Record<string, unknown>)[k]);
  return ports;
}

/** Pipelines ordered so that every pipeline comes after the pipelines it feeds (the config has no cycles). */
function downstreamFirst(pipelines: PipelineConfig[]): PipelineConfig[] {
  const out: PipelineConfig[] = [];
  const done = new Set<string>();
  const visit = (p: PipelineConfig): void => {
    if (done.has(p.id)) return;
    done.add(p.id);
    for (const q of pipelines) if (q.inputs.includes(p.id)) visit(q);
    out.push(p);
  };
  for (const p of pipelines) visit(p);
  return out;
}
