/**
 * The pipeline graph: builds every component from a validated ServiceConfig,
 * wires receivers → processors → exporters (fan-out where a pipeline has
 * several exporters, or a receiver feeds several pipelines), starts exporters
 * → processors → receivers and shuts down in reverse, each step within the
 * deadline.
 */
import { join } from 'node:path';
import type { Component, Consumer, CreateSettings, Exporter, Host, Processor, Receiver, Signal } from './component.js';
import { upstreamDelays } from './config/windows.js';
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
  /** exporter: its signal; processor: the pipeline */
  key: string;
  signal?: Signal;
  pipeline?: string;
  component: Component;
  state: ComponentState;
  error?: string;
}

export interface ServiceOptions {
  logger: Logger;
  telemetry: Telemetry;
  stateDir: string;
}

export class Service {
  private readonly exporters: Node[] = [];
  private readonly processors: Node[] = [];
  private readonly receivers: Node[] = [];
  private readonly host: Host;
  private shutdownPromise?: Promise<void>;
  private readonly startedAt = new Date();

  constructor(readonly config: ServiceConfig, private readonly opts: ServiceOptions) {
    this.host = { logger: opts.logger, telemetry: opts.telemetry, stateDir: opts.stateDir };
    this.build();
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

  private build(): void {
    const cfg = this.config;
    // exporters: one instance per id and signal
    const exporterBy = new Map<string, Exporter>();
    // push stores keep their periods open for the windows of metric sets upstream
    const delays = upstreamDelays(cfg);
    for (const p of cfg.pipelines) {
      for (const id of p.exporters) {
        const key = `${id}|${p.outSignal}`;
        if (exporterBy.has(key)) continue;
        const c = cfg.exporters.get(id)!;
        const delay = delays.get(id);
        const exp = c.factory.create({ ...this.settings('exporter', id), ...(delay !== undefined ? { upstreamDelayMs: delay } : {}) }, c.config, p.outSignal);
        exporterBy.set(key, exp);
        this.exporters.push({ kind: 'exporter', id, type: c.type, key, signal: p.outSignal, component: exp, state: 'created' });
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
        const proc: Processor = c.factory.create(this.settings('processor', pr.id, p.id), c.config, pr.in, next);
        chain.unshift({ kind: 'processor', id: pr.id, type: c.type, key: p.id, pipeline: p.id, signal: pr.in, component: proc, state: 'created' });
        next = proc;
      }
      // processors start last-first (downstream before upstream)
      this.processors.push(...chain.reverse());
      // a pipeline mutates its input if any of its processors does (the
      // fan-out in front of it then hands it a copy)
      const mutates = chain.some((n) => (n.component as Processor).mutatesData === true);
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
      if (Object.keys(next).length === 0) continue; // unused (warned at validation)
      const rcv: Receiver = c.factory.create(this.settings('receiver', id), c.config, next);
      this.receivers.push({ kind: 'receiver', id, type: c.type, key: id, component: rcv, state: 'created' });
    }
  }

  /** Start exporters, then processors, then receivers. Rejects on the first failure (after stopping what started). */
  async start(): Promise<void> {
    for (const group of [this.exporters, this.processors, this.receivers]) {
      for (const n of group) {
        n.state = 'starting';
        try {
          await n.component.start(this.host);
          n.state = 'running';
        } catch (e) {
          n.state = 'failed';
          n.error = (e as Error).message;
          throw new MetricportError('MP_START_FAILED', `${n.kind} "${n.id}" failed to start: ${(e as Error).message}`, { cause: e });
        }
      }
    }
    this.opts.logger.info({ pipelines: this.config.pipelines.map((p) => p.id), receivers: this.receivers.length, processors: this.processors.length, exporters: this.exporters.length }, 'metricport started');
  }

  /** Receivers first (stop intake), then processors (flush), then exporters (drain). Safe to call twice. */
  shutdown(deadline: AbortSignal): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(deadline);
    return this.shutdownPromise;
  }

  private async doShutdown(deadline: AbortSignal): Promise<void> {
    // in-flight receiver requests wait on downstream (errors propagate), so
    // processors stop holding data back while receivers finish
    for (const n of this.processors) {
      try { n.component.drain?.(); } catch { /* drain is best effort */ }
    }
    for (const group of [this.receivers, [...this.processors].reverse(), this.exporters]) {
      await Promise.all(group.map(async (n) => {
        if (n.state === 'stopped') return;
        n.state = 'stopping';
        try {
          await n.component.shutdown(deadline);
        } catch (e) {
          n.error = (e as Error).message;
          this.opts.logger.warn({ component: n.kind, id: n.id, err: (e as Error).message }, 'shutdown error');
        }
        n.state = 'stopped';
      }));
    }
  }

  /** Healthy when every component runs and none reports itself failing. */
  health(): { healthy: boolean; components: Array<{ kind: string; id: string; state: ComponentState; healthy: boolean; error?: string }> } {
    const components = this.all().map((n) => {
      const h = n.state === 'running' && (n.component.healthy?.() ?? true);
      return { kind: n.kind, id: n.id, ...(n.pipeline ? { pipeline: n.pipeline } : {}), ...(n.signal ? { signal: n.signal } : {}), state: n.state, healthy: h, ...(n.error ? { error: n.error } : {}) };
    });
    return { healthy: components.every((c) => c.healthy), components };
  }

  status(): Record<string, unknown> {
    const describe = (n: Node) => {
      let detail: Record<string, unknown> = {};
      try { detail = n.component.status?.() ?? {}; } catch (e) { detail = { status_error: (e as Error).message }; }
      return { id: n.id, type: n.type, ...(n.pipeline ? { pipeline: n.pipeline } : {}), ...(n.signal ? { signal: n.signal } : {}), state: n.state, healthy: n.state === 'running' && (n.component.healthy?.() ?? true), ...(n.error ? { error: n.error } : {}), ...detail };
    };
    return {
      started_at: this.startedAt.toISOString(),
      uptime_seconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      config_file: this.config.file,
      pipelines: this.config.pipelines.map((p) => ({ id: p.id, signal: p.signal, output_signal: p.outSignal, receivers: p.receivers, ...(p.inputs.length > 0 ? { inputs: p.inputs.map((i) => `pipeline/${i}`) } : {}), processors: p.processors.map((x) => x.id), exporters: p.exporters })),
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
