/**
 * The filter processor (the Collector's filterprocessor, legacy
 * include/exclude style): keeps the data points whose metric name, resource
 * attributes and point attributes match `include` (when given) and do not
 * match `exclude` (when given); for events, keeps the events whose
 * attributes do so. Empty metrics, scopes and resources are removed; when
 * nothing remains, downstream is not called.
 */
import { defineProcessor } from '../../src/component.js';
import type { Field, Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { compileFilter, type FilterConfig } from './matcher.js';

export type { FilterConfig } from './matcher.js';

const matchType: Field = {
  type: 'enum',
  values: ['regexp', 'strict'],
  default: 'regexp',
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
    metric_names: {
      type: 'array',
      default: [],
      items: { type: 'string', doc: 'metric name or pattern' },
      doc: 'Metric names (strict) or patterns (regexp); a metric matches when any matches',
    },
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

export const filterProcessorFactory = defineProcessor<FilterConfig>({
  type: 'filter',
  description: 'Keeps or drops data points and events by metric name, resource attributes and attributes (strict or regexp)',
  signals: [
    { in: 'metrics', out: 'metrics' },
    { in: 'events', out: 'events' },
  ],
  configSchema,
  validate,
  load: async () => (await import('./processor.js')).filterImpl,
});
