/**
 * Configuration of the `metricsets` processor: metric sets, each a list of
 * metrics (filter + group_by + aggregates) over the events of one window.
 */
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { compileEventFilter, filterAttributes, type Predicate } from './filter.js';

export interface MetricConfig {
  name: string;
  description: string;
  filter?: unknown;
  group_by: string[];
  group_by_defaults: Record<string, string>;
  aggregates: string[];
}

export interface MetricSetConfig {
  name: string;
  metrics: MetricConfig[];
}

export interface MetricSetsConfig {
  /** milliseconds */
  period: number;
  /** milliseconds; undefined = one period */
  allowed_lateness?: number;
  max_groups: number;
  zero_fill: boolean;
  scope: 'local' | 'cluster';
  /** ms */
  cluster_wait: number;
  unique: { exact_threshold: number; precision: number };
  percentiles: { relative_accuracy: number };
  /** the recent events kept for Explore (history.ts) */
  history: { enabled: boolean; max_age: number; max_bytes: number };
  sets: MetricSetConfig[];
}

const AGGREGATES = ['count', 'unique', 'sum', 'min', 'max', 'mean', 'first', 'last', 'p50', 'p90', 'p95', 'p99'] as const;
export type AggKind = (typeof AGGREGATES)[number];
const PERCENTILE: Partial<Record<AggKind, number>> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 };

export const metricsetsConfigSchema: Schema = {
  period: {
    type: 'duration',
    default: '60s',
    min: '10ms',
    doc: 'Window length: tumbling windows aligned to the Unix epoch, by event time. Match the period of the stores this feeds (a store with a longer period must use a multiple of it).',
  },
  allowed_lateness: {
    type: 'duration',
    doc: 'How long after a window ends its events are still accepted; the window is emitted then. Later events are dropped and counted as late. Default: one period.',
  },
  scope: {
    type: 'enum',
    values: ['local', 'cluster'] as const,
    default: 'local',
    doc: "local: this instance exports its own windows. cluster (with service.cluster): every instance publishes its windows as mergeable partials and the owner of each group's partition merges them and exports one series per group for the whole fleet (docs/cluster.md); every instance must run the same sets. Without service.cluster, cluster behaves as local.",
  },
  cluster_wait: {
    type: 'duration',
    default: '10s',
    min: '0s',
    max: '1h',
    doc: 'With scope cluster: how long after a window closes (end + allowed_lateness) the owner of a partition waits for publishers that have not sent their partial (a node cut off from NATS, a crashed one still within lease_ttl) before exporting without them; partials arriving later are counted as late, never merged.',
  },
  max_groups: {
    type: 'int',
    default: 10000,
    min: 1,
    doc: 'Most groups per metric per window; events of further groups go into the group "__overflow__" and are counted.',
  },
  zero_fill: {
    type: 'boolean',
    default: true,
    doc: 'Metrics without group_by emit count 0 / sum 0 / unique 0 for windows without events (so dashboards show 0, not a gap).',
  },
  unique: {
    type: 'object',
    doc: 'unique(attr): exact up to a threshold, then HyperLogLog.',
    fields: {
      exact_threshold: {
        type: 'int',
        default: 1024,
        min: 0,
        max: 1_000_000,
        doc: 'Distinct values per group counted exactly before switching to HyperLogLog.',
      },
      precision: {
        type: 'int',
        default: 14,
        min: 4,
        max: 18,
        doc: 'HyperLogLog precision p: 2^p bytes per group (14: 16 KiB, standard error 1.04/√2^p ≈ 0.81 %).',
      },
    },
  },
  percentiles: {
    type: 'object',
    doc: 'p50/p90/p95/p99(attr): DDSketch.',
    fields: {
      relative_accuracy: { type: 'number', default: 0.01, min: 0.0001, max: 0.5, doc: 'Relative error bound of every percentile (0.01 = 1 %).' },
    },
  },
  history: {
    type: 'object',
    doc: 'The recent events kept for Explore (POST /api/v1/explore and the console): every event this processor receives, in a compact columnar form, bounded by age and by bytes (the oldest dropped first and counted: status history.dropped_by_age / dropped_by_bytes). Explore runs the same aggregation code over it as the metric sets do.',
    fields: {
      enabled: { type: 'boolean', default: true, doc: 'Keep the recent events for Explore; false keeps nothing (POST /api/v1/explore then answers 409).' },
      max_age: { type: 'duration', default: '1h', min: '1s', doc: 'Events are kept at most this long after they arrived.' },
      max_bytes: {
        type: 'bytes',
        default: '64MiB',
        min: '64KiB',
        doc: 'Most memory the history holds (estimated); the oldest events are dropped first. With typical error events (5–10 attributes, one unique _tx) an event costs about 60–120 bytes: the status shows history.bytes_per_event.',
      },
    },
  },
  sets: {
    type: 'array',
    default: [],
    doc: 'The metric sets.',
    items: {
      type: 'object',
      doc: 'one metric set',
      fields: {
        name: {
          type: 'string',
          required: true,
          nonEmpty: true,
          doc: 'Metric set name (e.g. ProjectXErrorsAndImpactedUsers); the scope attribute metricset.name of its output',
        },
        metrics: {
          type: 'array',
          minItems: 1,
          required: true,
          doc: 'The metrics of the set',
          items: {
            type: 'object',
            doc: 'one metric',
            fields: {
              name: {
                type: 'string',
                required: true,
                nonEmpty: true,
                doc: 'Metric name (e.g. ErrorsByType); output series are named <name>.<aggregate>[.<attribute>]',
              },
              description: { type: 'string', default: '', doc: 'Description carried on the output metrics' },
              filter: {
                type: 'any',
                doc: 'Conditions on event attributes (operators equals, not_equals, in, not_in, regex, contains, exists, not_exists, lt, lte, gt, gte; all/any/not nest); absent = every event',
              },
              group_by: {
                type: 'array',
                default: [],
                items: { type: 'string', doc: 'attribute name' },
                doc: 'Attributes whose values form the groups (one output series per group); empty = one group',
              },
              group_by_defaults: {
                type: 'map',
                default: {},
                values: { type: 'string', doc: 'default value' },
                doc: 'Value used for a missing group_by attribute; without one, an event missing it is dropped for this metric and counted',
              },
              aggregates: {
                type: 'array',
                required: true,
                minItems: 1,
                items: { type: 'string', doc: 'aggregate' },
                doc: 'count, unique(attr), sum(attr), min(attr), max(attr), mean(attr), first(attr), last(attr), p50/p90/p95/p99(attr)',
              },
            },
          },
        },
      },
    },
  },
};

export interface AggSpec {
  /** canonical text, e.g. "unique(guid)" */
  text: string;
  kind: AggKind;
  attr: string | undefined;
  /** output metric name, e.g. "ErrorsByType.unique.guid" */
  output: string;
  /** index into the group's HyperLogLogs (unique) or numeric accumulators (others) */
  slot: number;
  /** percentile rank (p50 → 0.5) */
  q: number;
}

export interface MetricSpec {
  set: string;
  name: string;
  description: string;
  filter: Predicate;
  filterSpec: unknown;
  /** the attributes the filter reads (filterAttributes) */
  filterAttrs: string[];
  groupBy: string[];
  defaults: Array<string | undefined>;
  aggs: AggSpec[];
  uniqueAttrs: string[];
  numAttrs: string[];
  /** per numAttrs entry: whether a DDSketch is needed */
  sketch: boolean[];
}

const AGG_RE = /^\s*([a-z0-9]+)\s*(?:\(\s*([^()]*?)\s*\))?\s*$/;

/** The output metric name of an aggregate of a metric. */
function outputName(metric: string, kind: AggKind, attr: string | undefined): string {
  return attr === undefined ? `${metric}.${kind}` : `${metric}.${kind}.${attr}`;
}

/** Parse and check every set; issues carry paths relative to the processor. */
export function compileMetricSets(cfg: MetricSetsConfig, issues: ConfigIssue[]): MetricSpec[] {
  const specs: MetricSpec[] = [];
  const setNames = new Set<string>();
  (cfg.sets ?? []).forEach((set, si) => {
    const sp = `sets[${si}]`;
    if (set === undefined || set.name === undefined) return;
    if (setNames.has(set.name)) issues.push({ path: `${sp}.name`, message: `duplicate metric set name "${set.name}"`, severity: 'error' });
    setNames.add(set.name);
    const metricNames = new Set<string>();
    (set.metrics ?? []).forEach((m, mi) => {
      const mp = `${sp}.metrics[${mi}]`;
      if (m === undefined || m.name === undefined) return;
      if (metricNames.has(m.name)) issues.push({ path: `${mp}.name`, message: `duplicate metric name "${m.name}" in set "${set.name}"`, severity: 'error' });
      metricNames.add(m.name);
      const filter = compileEventFilter(m.filter, `${mp}.filter`, issues);
      const groupBy = m.group_by ?? [];
      const seenGb = new Set<string>();
      groupBy.forEach((g, gi) => {
        if (typeof g !== 'string' || g === '') issues.push({ path: `${mp}.group_by[${gi}]`, message: 'must be a non-empty attribute name', severity: 'error' });
        if (seenGb.has(g)) issues.push({ path: `${mp}.group_by[${gi}]`, message: `"${g}" is listed twice`, severity: 'error' });
        seenGb.add(g);
      });
      const defaultsCfg = m.group_by_defaults ?? {};
      for (const k of Object.keys(defaultsCfg)) {
        if (!seenGb.has(k))
          issues.push({ path: `${mp}.group_by_defaults.${k}`, message: `"${k}" is not in group_by (${groupBy.join(', ') || 'empty'})`, severity: 'error' });
      }
      const spec: MetricSpec = {
        set: set.name,
        name: m.name,
        description: m.description ?? '',
        filter,
        filterSpec: m.filter,
        filterAttrs: filterAttributes(m.filter),
        groupBy,
        defaults: groupBy.map((g) => defaultsCfg[g]),
        aggs: [],
        uniqueAttrs: [],
        numAttrs: [],
        sketch: [],
      };
      const seenAgg = new Set<string>();
      (m.aggregates ?? []).forEach((a, ai) => {
        const ap = `${mp}.aggregates[${ai}]`;
        const parsed = AGG_RE.exec(String(a));
        const kind = parsed?.[1] === 'avg' ? 'mean' : parsed?.[1];
        if (parsed === null || kind === undefined || !(AGGREGATES as readonly string[]).includes(kind)) {
          issues.push({
            path: ap,
            message: `unknown aggregate ${JSON.stringify(a)}; use count, unique(attr), sum(attr), min(attr), max(attr), mean(attr), first(attr), last(attr), p50(attr), p90(attr), p95(attr) or p99(attr)`,
            severity: 'error',
          });
          return;
        }
        const k = kind as AggKind;
        const attr = parsed[2] === '' ? undefined : parsed[2];
        if (k === 'count' && attr !== undefined) {
          issues.push({
            path: ap,
            message: `count takes no attribute (got "${attr}"); to count events having it, filter on { ${attr}: { exists: true } }`,
            severity: 'error',
          });
          return;
        }
        if (k !== 'count' && attr === undefined) {
          issues.push({ path: ap, message: `${k} needs an attribute, e.g. ${k}(guid)`, severity: 'error' });
          return;
        }
        const text = attr === undefined ? k : `${k}(${attr})`;
        if (seenAgg.has(text)) {
          issues.push({ path: ap, message: `duplicate aggregate ${text}`, severity: 'error' });
          return;
        }
        seenAgg.add(text);
        let slot = 0;
        if (k === 'unique') {
          slot = spec.uniqueAttrs.indexOf(attr!);
          if (slot < 0) {
            slot = spec.uniqueAttrs.length;
            spec.uniqueAttrs.push(attr!);
          }
        } else if (k !== 'count') {
          slot = spec.numAttrs.indexOf(attr!);
          if (slot < 0) {
            slot = spec.numAttrs.length;
            spec.numAttrs.push(attr!);
            spec.sketch.push(false);
          }
          if (PERCENTILE[k] !== undefined) spec.sketch[slot] = true;
        }
        spec.aggs.push({ text, kind: k, attr, output: outputName(m.name, k, attr), slot, q: PERCENTILE[k] ?? 0 });
      });
      specs.push(spec);
    });
  });
  if (cfg.allowed_lateness !== undefined && cfg.allowed_lateness < 0)
    issues.push({ path: 'allowed_lateness', message: 'must not be negative', severity: 'error' });
  return specs;
}

export function validateMetricSets(cfg: MetricSetsConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  compileMetricSets(cfg, issues);
  return issues;
}
