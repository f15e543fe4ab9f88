/**
 * The component model: one small Factory interface per kind, and the
 * lifecycle every component keeps.
 *
 * - `create` allocates only: no sockets, no timers, no I/O.
 * - `start()` returns quickly; long work (connecting, catching up) goes to the
 *   background and never blocks on a backend being reachable.
 * - `shutdown(deadline)` is safe to call twice and without `start()`; it
 *   flushes what it holds, and gives up when `deadline` aborts.
 * - `consume()` resolves when the data is accepted downstream (queued or
 *   sent) and rejects with RefusedError (retry later) or PermanentError (never)
 *   otherwise. Nothing is fire-and-forget.
 */
import type { Logger } from './logger.js';
import type { Schema } from './config/schema.js';
import { MetricportError, type ConfigIssue } from './errors.js';
import type { EventBatch, MetricsBatch } from './model/index.js';
import type { Telemetry } from './telemetry.js';
import type { Contributions } from './extension.js';
import type { ClusterHost } from './cluster/api.js';

export type Signal = 'metrics' | 'events';

export interface SignalData {
  metrics: MetricsBatch;
  events: EventBatch;
}

export interface Consumer<T> {
  consume(data: T): Promise<void>;
  /** true when consume() changes the data it is given (the fan-out then hands it a copy) */
  readonly mutatesData?: boolean;
}

export interface Component {
  start(host: Host): Promise<void>;
  shutdown(deadline: AbortSignal): Promise<void>;
  /**
   * Shutdown is beginning and receivers are finishing their in-flight
   * requests: stop holding data back (send what is held now, and pass later
   * data straight through) so those requests can complete. Optional.
   */
  drain?(): void;
  /** Component-specific status for /api/v1/status (counters, last error, ...). No secrets. */
  status?(): Record<string, unknown>;
  /** false when the component is failing hard (e.g. an exporter whose every send fails permanently) */
  healthy?(): boolean;
}

export interface Receiver extends Component {}
export interface Processor<I = unknown> extends Component, Consumer<I> {}
export interface Exporter<I = unknown> extends Component, Consumer<I> {}

/** What the runtime gives a component when it is created. */
export interface CreateSettings {
  /** component id, `type` or `type/name` */
  id: string;
  logger: Logger;
  telemetry: Telemetry;
  /** the service's state directory; components keep what must survive restarts under `<stateDir>/<kind>/<id>` */
  stateDir: string;
  /** the pipeline this instance belongs to (processors only) */
  pipeline?: string;
  /**
   * exporters only: the longest delay (ms) after a window's end with which a
   * windowing processor upstream (metric sets) emits that window; a store keeps
   * its periods open at least this long (see ProcessorFactory.window)
   */
  upstreamDelayMs?: number;
}

/** What the runtime offers components once started. */
export interface Host {
  logger: Logger;
  telemetry: Telemetry;
  stateDir: string;
  /** present when `service.cluster` is configured: leases with fencing tokens and KV watermarks (src/cluster/api.ts) */
  cluster?: ClusterHost;
}

interface FactoryBase<C, I> extends Contributions {
  /** the component type, e.g. `otlp`; ids are `type` or `type/name` */
  readonly type: string;
  /** one line for `metricport components` */
  readonly description: string;
  /** options with types, defaults and docs; unknown keys are rejected */
  readonly configSchema: Schema;
  /** cross-field checks after the schema; return issues with paths relative to the component (e.g. `protocols.http.endpoint`). Runs without the implementation loaded. */
  validate?(cfg: C): ConfigIssue[];
  /**
   * Import the implementation (its modules and their dependencies) and return
   * what creates instances. Called once per process (the promise is kept),
   * only for types a config uses, before the graph is built. Every registered
   * factory has it (define*); a factory without it (a test's fake) is used
   * as is, its `create` at hand.
   */
  load?(): Promise<I>;
  /** true once load() has resolved */
  readonly loaded?: boolean;
}

export interface ReceiverImpl<C = any> {
  /** one instance per id; `next` holds a consumer for each signal some pipeline takes from it */
  create(set: CreateSettings, cfg: C, next: Partial<{ [S in Signal]: Consumer<SignalData[S]> }>): Receiver;
}

export interface ProcessorImpl<C = any> {
  /** one instance per pipeline */
  create(set: CreateSettings, cfg: C, signal: Signal, next: Consumer<any>): Processor;
}

export interface ExporterImpl<C = any> {
  /** one instance per id and signal */
  create(set: CreateSettings, cfg: C, signal: Signal): Exporter;
}

export interface ReceiverFactory<C = any> extends FactoryBase<C, ReceiverImpl<C>>, ReceiverImpl<C> {
  readonly kind: 'receiver';
  /** signals this receiver can produce */
  readonly signals: readonly Signal[];
}

export interface ProcessorFactory<C = any> extends FactoryBase<C, ProcessorImpl<C>>, ProcessorImpl<C> {
  readonly kind: 'processor';
  /** input signal → output signal pairs this processor supports */
  readonly signals: ReadonlyArray<{ readonly in: Signal; readonly out: Signal }>;
  /**
   * Processors that emit tumbling windows (metric sets): the window and how
   * long after its end a window is emitted. The config check then requires
   * every store downstream to have a period that is a multiple of the window
   * (semantics.md §7), and stores keep their periods open for the delay.
   */
  window?(cfg: C): { periodMs: number; emitDelayMs: number };
}

export interface ExporterFactory<C = any> extends FactoryBase<C, ExporterImpl<C>>, ExporterImpl<C> {
  readonly kind: 'exporter';
  readonly signals: readonly Signal[];
}

export type Factory = ReceiverFactory | ProcessorFactory | ExporterFactory;
export type Kind = Factory['kind'];

/** What a factory.ts declares: everything but `kind`, `loaded` and `create` (which `define*` adds). */
type Definition<F extends Factory, I> = Omit<F, 'kind' | 'loaded' | 'create' | 'load'> & { load(): Promise<I> };
export type ReceiverDefinition<C> = Definition<ReceiverFactory<C>, ReceiverImpl<C>>;
export type ProcessorDefinition<C> = Definition<ProcessorFactory<C>, ProcessorImpl<C>>;
export type ExporterDefinition<C> = Definition<ExporterFactory<C>, ExporterImpl<C>>;

/** A factory made by define*: load() and loaded are always there. */
export type Defined<F extends Factory, I> = F & { load(): Promise<I>; readonly loaded: boolean };

/**
 * The factory of a receiver (defineProcessor, defineExporter: the same for
 * the other kinds). Its `create` works once `load()` has resolved (the
 * service loads the types its config uses first: loadImplementations) and
 * throws, naming the type, before that.
 */
export function defineReceiver<C>(d: ReceiverDefinition<C>): Defined<ReceiverFactory<C>, ReceiverImpl<C>> {
  return lazy<Defined<ReceiverFactory<C>, ReceiverImpl<C>>, ReceiverImpl<C>>('receiver', d, (impl) => (set, cfg, next) => impl().create(set, cfg, next));
}

export function defineProcessor<C>(d: ProcessorDefinition<C>): Defined<ProcessorFactory<C>, ProcessorImpl<C>> {
  return lazy<Defined<ProcessorFactory<C>, ProcessorImpl<C>>, ProcessorImpl<C>>(
    'processor',
    d,
    (impl) => (set, cfg, signal, next) => impl().create(set, cfg, signal, next),
  );
}

export function defineExporter<C>(d: ExporterDefinition<C>): Defined<ExporterFactory<C>, ExporterImpl<C>> {
  return lazy<Defined<ExporterFactory<C>, ExporterImpl<C>>, ExporterImpl<C>>('exporter', d, (impl) => (set, cfg, signal) => impl().create(set, cfg, signal));
}

function lazy<F extends Factory, I>(kind: Kind, d: { type: string; load(): Promise<I> }, create: (impl: () => I) => F['create']): F {
  let impl: I | undefined;
  let pending: Promise<I> | undefined;
  const load = (): Promise<I> => {
    pending ??= d.load().then(
      (i) => {
        impl = i;
        return i;
      },
      (e: unknown) => {
        pending = undefined;
        throw new MetricportError(
          'MP_LOAD_FAILED',
          `cannot load the ${kind} "${d.type}" (its modules or a dependency failed to import): ${(e as Error).message}`,
          { cause: e },
        );
      },
    );
    return pending;
  };
  const get = (): I => {
    if (impl === undefined)
      throw new Error(`the ${kind} "${d.type}" is not loaded: await loadImplementations(config) (or the factory's load()) before creating it`);
    return impl;
  };
  return Object.freeze({
    ...d,
    kind,
    load,
    create: create(get),
    get loaded() {
      return impl !== undefined;
    },
  }) as unknown as F;
}

/** Load the implementation of every component type a config uses (before building its graph). */
export async function loadImplementations(cfg: {
  receivers: ReadonlyMap<string, { factory: Factory }>;
  processors: ReadonlyMap<string, { factory: Factory }>;
  exporters: ReadonlyMap<string, { factory: Factory }>;
}): Promise<void> {
  const types = new Set<Factory>();
  for (const m of [cfg.receivers, cfg.processors, cfg.exporters]) for (const c of m.values()) types.add(c.factory);
  await Promise.all(
    [...types].map(async (f) => {
      await f.load?.();
    }),
  );
}
