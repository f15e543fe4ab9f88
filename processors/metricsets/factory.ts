/**
 * `metricsets` (events → metrics): metric sets over error events. Each metric
 * is a filter, a group_by and aggregates over the events of one tumbling,
 * epoch-aligned window (by event time); closed windows go downstream as
 * metrics. See docs/processors/metricsets.md and semantics.md §2, §7.
 */
import { defineProcessor } from '../../src/component.js';
import { metricsetsConfigSchema, validateMetricSets, type MetricSetsConfig } from './config.js';

export const metricsetsProcessorFactory = defineProcessor<MetricSetsConfig>({
  type: 'metricsets',
  description:
    'Metric sets over events (events → metrics): filter, group_by and count/unique/sum/min/max/mean/first/last/percentile aggregates per epoch-aligned window',
  signals: [{ in: 'events', out: 'metrics' }],
  configSchema: metricsetsConfigSchema,
  validate: validateMetricSets,
  window: (cfg) => ({ periodMs: cfg.period, emitDelayMs: cfg.allowed_lateness ?? cfg.period }),
  load: async () => (await import('./processor.js')).metricsetsImpl,
  admin: [
    {
      method: 'GET',
      path: '/api/v1/metricsets',
      summary: 'every metric set: its metrics, output series and the processor running it',
      handle: async (_req, ctx) => ({ json: (await import('./admin.js')).listMetricSets(ctx.service) }),
    },
    {
      method: 'GET',
      path: '/api/v1/metricsets/:set/preview',
      summary: "the open windows' current values of one metric set",
      handle: async (req, ctx) => {
        const set = req.params.set!;
        const p = (await import('./admin.js')).previewMetricSet(ctx.service, set);
        if (p === undefined) return { status: 404, json: { error: `no metric set named ${JSON.stringify(set)}; GET /api/v1/metricsets lists them` } };
        return { json: p };
      },
    },
    {
      method: 'POST',
      path: '/api/v1/explore',
      summary:
        'an ad-hoc metric (filter, group_by, aggregates, from/to, bucket, limit) over the recent events a metricsets processor kept; the same aggregation as the metric sets',
      handle: async (req, ctx) => (await import('./admin.js')).exploreRoute(ctx.service, await req.body()),
    },
    {
      method: 'GET',
      path: '/api/v1/explore/attributes',
      summary: 'the attribute names and frequent values in the Explore history (for the query builder)',
      handle: async (req, ctx) => (await import('./admin.js')).exploreAttributes(ctx.service, req.query.get('processor') ?? undefined),
    },
  ],
  commands: [
    {
      verb: 'preview',
      usage: 'preview --config FILE --events FILE.ndjson [--set NAME] [--json]',
      summary: "run a file of error events through the config's metric sets and print the series",
      run: async (args, io) => (await import('./preview-cli.js')).previewMain(args, io.stdout, io.stderr),
    },
  ],
});
