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
import type { ConfigIssue } from './errors.js';
import type { EventBatch, MetricsBatch } from './model/index.js';
import type { Telemetry } from './telemetry.js';

export type Signal = 'metrics' | 'events';
export const SIGNALS: readonly Signal[] = ['metrics', 'events'];

export interface SignalData { metrics: MetricsBatch; events: EventBatch }

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
}

interface FactoryBase<C> {
  /** the component type, e.g. `otlp`; ids are `type` or `type/name` */
  readonly type: string;
  /** one line for `metricport components` */
  readonly description: string;
  /** options with types, defaults and docs; unknown keys are rejected */
  readonly configSchema: Schema;
  /** cross-field checks after the schema; return issues with paths relative to the component (e.g. `protocols.http.endpoint`) */
  validate?(cfg: C): ConfigIssue[];
}

export interface ReceiverFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'receiver';
  /** signals this receiver can produce */
  readonly signals: readonly Signal[];
  /** one instance per id; `next` holds a consumer for each signal some pipeline takes from it */
  create(set: CreateSettings, cfg: C, next: Partial<{ [S in Signal]: Consumer<SignalData[S]> }>): Receiver;
}

export interface ProcessorFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'processor';
  /** input signal → output signal pairs this processor supports */
  readonly signals: ReadonlyArray<{ readonly in: Signal; readonly out: Signal }>;
  /** one instance per pipeline */
  create(set: CreateSettings, cfg: C, signal: Signal, next: Consumer<any>): Processor;
  /**
   * Processors that emit tumbling windows (metric sets): the window and how
   * long after its end a window is emitted. The config check then requires
   * every store downstream to have a period that is a multiple of the window
   * (semantics.md §7), and stores keep their periods open for the delay.
   */
  window?(cfg: C): { periodMs: number; emitDelayMs: number };
}

export interface ExporterFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'exporter';
  readonly signals: readonly Signal[];
  /** one instance per id and signal */
  create(set: CreateSettings, cfg: C, signal: Signal): Exporter;
}

export type Factory = ReceiverFactory | ProcessorFactory | ExporterFactory;
export type Kind = Factory['kind'];
