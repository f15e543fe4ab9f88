/**
 * The filter processor (the Collector's filterprocessor, legacy
 * include/exclude style): keeps the data points whose metric name, resource
 * attributes and point attributes match `include` (when given) and do not
 * match `exclude` (when given); for events, keeps the events whose
 * attributes do so. Empty metrics, scopes and resources are removed; when
 * nothing remains, downstream is not called.
 */
import type { Consumer, CreateSettings, Host, Processor, ProcessorFactory, Signal } from '../../src/component.js';
import type { Field, Schema } from '../../src/config/schema.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';
import { countPoints, type EventBatch, type MetricsBatch } from '../../src/model/index.js';
import type { ProcessorTelemetry } from '../../src/telemetry.js';
import { compileFilter, filterEvents, filterMetrics, type CompiledFilter, type FilterConfig, type FilterResult } from './matcher.js';

export type { FilterConfig } from './matcher.js';

const matchType: Field = {
  type: 'enum', values: ['regexp', 'strict'], default: 'regexp',
  doc: 'How names and attribute values are compared: "regexp" (JavaScript regular expression, full match) or "strict" (string equality)',
};

const attributeList = (what: string): Field => ({
  type: 'array',
  default: [],
  doc: `${what}; all must hold`,
  items: {
    type: 'object',
    doc: 'one attribute condition',
    fields: {
      key: { type: 'string', required: true, nonEmpty: true, doc: 'attribute key' },
      value: { type: 'string', doc: 'value to compare (as a string) per match_type; omit to require only that the key is present' },
    },
  },
});

const metricMatch = (doc: string): Field => ({
  type: 'object',
  optional: true,
  doc,
  fields: {
    match_type: matchType,
    metric_names: { type: 'array', default: [], items: { type: 'string', doc: 'metric name or pattern' }, doc: 'Metric names (strict) or patterns (regexp); a metric matches when any matches' },
    resource_attributes: attributeList('Resource attribute conditions; decide for whole resources'),
    attributes: attributeList('Data point attribute conditions; decide per data point'),
  },
});

const eventMatch = (doc: string): Field => ({
  type: 'object',
  optional: true,
  doc,
  fields: {
    match_type: matchType,
    attributes: attributeList('Event attribute conditions'),
  },
});

const configSchema: Schema = {
  metrics: {
    type: 'object',
    doc: 'Filters for metrics pipelines; a data point is kept when it matches include (if given) and does not match exclude (if given)',
    fields: {
      include: metricMatch('Keep only data points matching all these conditions'),
      exclude: metricMatch('Drop data points matching all these conditions'),
    },
  },
  events: {
    type: 'object',
    doc: 'Filters for events pipelines; an event is kept when it matches include (if given) and does not match exclude (if given)',
    fields: {
      include: eventMatch('Keep only events matching all these conditions'),
      exclude: eventMatch('Drop events matching all these conditions'),
    },
  },
};

function validate(cfg: FilterConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  compileFilter(cfg, issues);
  return issues;
}

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

export const filterProcessorFactory: ProcessorFactory<FilterConfig> = {
  kind: 'processor',
  type: 'filter',
  description: 'Keeps or drops data points and events by metric name, resource attributes and attributes (strict or regexp)',
  signals: [
    { in: 'metrics', out: 'metrics' },
    { in: 'events', out: 'events' },
  ],
  configSchema,
  validate,
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
