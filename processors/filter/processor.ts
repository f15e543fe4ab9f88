/**
 * The filter processor (the implementation its factory loads): the compiled
 * include/exclude conditions applied per batch, counters.
 */
import type { Consumer, CreateSettings, Host, Processor, ProcessorImpl, Signal } from '../../src/component.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';
import { countPoints, type EventBatch, type MetricsBatch } from '../../src/model/index.js';
import type { ProcessorTelemetry } from '../../src/telemetry.js';
import { compileFilter, filterEvents, filterMetrics, type CompiledFilter, type FilterConfig, type FilterResult } from './matcher.js';

class FilterProcessor<T> implements Processor<T> {
  readonly mutatesData = false;
  private readonly tel: ProcessorTelemetry;

  constructor(
    set: CreateSettings,
    signal: Signal,
    private readonly run: ((data: T) => FilterResult<T>) | undefined,
    private readonly count: (data: T) => number,
    private readonly next: Consumer<T>,
  ) {
    this.tel = set.telemetry.processor(set.id, set.pipeline ?? signal);
  }

  async start(_host: Host): Promise<void> {}

  async shutdown(_deadline: AbortSignal): Promise<void> {}

  consume(data: T): Promise<void> {
    if (this.run === undefined) {
      const n = this.count(data);
      this.tel.incoming(n);
      this.tel.outgoing(n);
      return this.next.consume(data);
    }
    let r: FilterResult<T>;
    try {
      r = this.run(data);
    } catch (e) {
      return Promise.reject(e);
    }
    this.tel.incoming(r.incoming);
    if (r.kept < r.incoming) this.tel.dropped(r.incoming - r.kept, 'filtered');
    if (r.data === undefined) return Promise.resolve();
    this.tel.outgoing(r.kept);
    return this.next.consume(r.data);
  }

  status(): Record<string, unknown> {
    return this.tel.totals();
  }
}

/** What the factory's load() returns. */
export const filterImpl: ProcessorImpl<FilterConfig> = {
  create(set, cfg, signal, next) {
    const issues: ConfigIssue[] = [];
    const compiled: CompiledFilter = compileFilter(cfg, issues);
    if (issues.some((i) => i.severity === 'error')) throw new ConfigError(issues.map((i) => ({ ...i, path: `processors.${set.id}.${i.path}` })));
    switch (signal) {
      case 'metrics': {
        const m = compiled.metrics;
        const run = m === undefined ? undefined : (b: MetricsBatch) => filterMetrics(b, m.include, m.exclude);
        return new FilterProcessor<MetricsBatch>(set, signal, run, countPoints, next as Consumer<MetricsBatch>);
      }
      case 'events': {
        const e = compiled.events;
        const run = e === undefined ? undefined : (b: EventBatch) => filterEvents(b, e.include, e.exclude);
        return new FilterProcessor<EventBatch>(set, signal, run, (b) => b.events.length, next as Consumer<EventBatch>);
      }
      default:
        throw new Error(`filter processor does not support signal ${String(signal)}`);
    }
  },
};
