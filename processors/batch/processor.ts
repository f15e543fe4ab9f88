/**
 * The batch processor (the implementation its factory loads): a Batcher per
 * pipeline, its pending-items gauge, counters.
 */
import type { Consumer, CreateSettings, Host, Processor, ProcessorImpl, Signal } from '../../src/component.js';
import { countPoints, type EventBatch, type MetricsBatch } from '../../src/model/index.js';
import type { ProcessorTelemetry, Telemetry } from '../../src/telemetry.js';
import { Batcher, eventsAdapter, metricsAdapter, type EventSlice, type MetricSlice, type Slice, type SliceAdapter } from './batcher.js';
import { effectiveMaxPending, type BatchConfig } from './factory.js';

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
      (data, items) => {
        tel.outgoing(items);
        return next.consume(data);
      },
    );
  }

  async start(_host: Host): Promise<void> {
    this.telemetry.gauge(
      'metricport_processor_batch_pending_items',
      'Items a batch processor holds or has in flight downstream',
      { processor: this.id, pipeline: this.pipeline },
      () => this.batcher.pending,
    );
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

/** What the factory's load() returns. */
export const batchImpl: ProcessorImpl<BatchConfig> = {
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
