/**
 * The batch processor: groups data from many consume() calls into batches of
 * `send_batch_size` items (data points or events), or whatever arrived within
 * `timeout`, splitting so no batch exceeds `send_batch_max_size`.
 *
 * Unlike the Collector's batch processor, errors propagate: each consume()
 * resolves only once every item it contributed was accepted downstream, and
 * rejects with the downstream error if any batch holding its items failed.
 * Pending items are bounded (`max_pending`); beyond that consume() rejects with
 * RefusedError so receivers push back on their clients.
 */
import type { Consumer, CreateSettings, Host, Processor, ProcessorFactory, Signal } from '../../src/component.js';
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { countPoints, type EventBatch, type MetricsBatch } from '../../src/model/index.js';
import type { ProcessorTelemetry, Telemetry } from '../../src/telemetry.js';
import { Batcher, eventsAdapter, metricsAdapter, type EventSlice, type MetricSlice, type Slice, type SliceAdapter } from './batcher.js';

export interface BatchConfig {
  send_batch_size: number;
  send_batch_max_size: number;
  /** milliseconds (validated duration) */
  timeout: number;
  max_pending: number;
}

export const DEFAULT_SEND_BATCH_SIZE = 8192;
/** max_pending = this × send_batch_size when left at 0 */
export const PENDING_FACTOR = 10;

const configSchema: Schema = {
  send_batch_size: {
    type: 'int', default: DEFAULT_SEND_BATCH_SIZE, min: 0,
    doc: 'Items (data points or events) that trigger sending a batch regardless of the timeout; a trigger, not a cap. 0 = only the timeout triggers',
  },
  send_batch_max_size: {
    type: 'int', default: 0, min: 0,
    doc: 'Upper bound on a batch, in items; larger batches are split (inside a metric\'s points when needed). 0 = no limit. Must be 0 or >= send_batch_size',
  },
  timeout: {
    type: 'duration', default: '200ms',
    doc: 'Time after which a non-empty batch is sent regardless of size. 0 = send on every consume (only send_batch_max_size applies)',
  },
  max_pending: {
    type: 'int', default: 0, min: 0,
    doc: `Items buffered or in flight downstream beyond which new data is refused (RefusedError, retryable); a request is always taken when nothing is pending. 0 = ${PENDING_FACTOR} × the larger of send_batch_size (${DEFAULT_SEND_BATCH_SIZE} when 0) and send_batch_max_size`,
  },
};

/** The effective pending limit for a config. */
export function effectiveMaxPending(cfg: BatchConfig): number {
  if (cfg.max_pending > 0) return cfg.max_pending;
  const base = cfg.send_batch_size > 0 ? cfg.send_batch_size : DEFAULT_SEND_BATCH_SIZE;
  return PENDING_FACTOR * Math.max(base, cfg.send_batch_max_size);
}

function validate(cfg: BatchConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (cfg.send_batch_max_size > 0 && cfg.send_batch_max_size < cfg.send_batch_size) {
    issues.push({ path: 'send_batch_max_size', message: `must be 0 or at least send_batch_size (${cfg.send_batch_size}), got ${cfg.send_batch_max_size}`, severity: 'error' });
  }
  if (cfg.max_pending > 0 && cfg.send_batch_size > 0 && cfg.max_pending < cfg.send_batch_size) {
    issues.push({ path: 'max_pending', message: `is below send_batch_size (${cfg.send_batch_size}); batches will only be sent on timeout`, severity: 'warning' });
  }
  return issues;
}

class BatchProcessor<T, S extends Slice> implements Processor<T> {
  readonly mutatesData = false;
  private readonly batcher: Batcher<T, S>;
  private readonly tel: ProcessorTelemetry;
  private readonly telemetry: Telemetry;
  private readonly pipeline: string;

  constructor(
    private readonly id: string,
    set: CreateSettings,
    signal: Signal,
    cfg: BatchConfig,
    adapter: SliceAdapter<T, S>,
    private readonly count: (data: T) => number,
    next: Consumer<T>,
  ) {
    this.pipeline = set.pipeline ?? signal;
    this.telemetry = set.telemetry;
    this.tel = set.telemetry.processor(id, this.pipeline);
    const tel = this.tel;
    this.batcher = new Batcher<T, S>(
      { sendBatchSize: cfg.send_batch_size, sendBatchMaxSize: cfg.send_batch_max_size, timeoutMs: cfg.timeout, maxPending: effectiveMaxPending(cfg) },
      adapter,
      (data, items) => { tel.outgoing(items); return next.consume(data); },
    );
  }

  async start(_host: Host): Promise<void> {
    this.telemetry.gauge('metricport_processor_batch_pending_items', 'Items a batch processor holds or has in flight downstream',
      { processor: this.id, pipeline: this.pipeline }, () => this.batcher.pending);
  }

  consume(data: T): Promise<void> {
    try {
      this.tel.incoming(this.count(data));
      return this.batcher.add(data);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  drain(): void {
    this.batcher.drain();
  }

  shutdown(deadline: AbortSignal): Promise<void> {
    return this.batcher.close(deadline);
  }

  status(): Record<string, unknown> {
    return { ...this.batcher.stats(), ...this.tel.totals() };
  }
}

export const batchProcessorFactory: ProcessorFactory<BatchConfig> = {
  kind: 'processor',
  type: 'batch',
  description: 'Groups data points or events into batches by size and time; errors and backpressure propagate to every contributing caller',
  signals: [
    { in: 'metrics', out: 'metrics' },
    { in: 'events', out: 'events' },
  ],
  configSchema,
  validate,
  create(set, cfg, signal, next) {
    switch (signal) {
      case 'metrics':
        return new BatchProcessor<MetricsBatch, MetricSlice>(set.id, set, signal, cfg, metricsAdapter, countPoints, next as Consumer<MetricsBatch>);
      case 'events':
        return new BatchProcessor<EventBatch, EventSlice>(set.id, set, signal, cfg, eventsAdapter, (b) => b.events.length, next as Consumer<EventBatch>);
      default:
        throw new Error(`batch processor does not support signal ${String(signal)}`);
    }
  },
};
