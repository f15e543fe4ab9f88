/**
 * grafana: Grafana Cloud's Graphite HTTP ingest every period. Auth
 * `Bearer <instanceId>:<apiKey>` (shared instances) or `Bearer <apiKey>`
 * (dedicated). 200 answers may report `Invalid` points: those are counted as
 * dropped (partial_success), not retried. 400/401/403/404 permanent, 413
 * split, 429/5xx retried with Retry-After.
 */
import { defineExporter } from '../../src/component.js';
import type { Schema } from '../../src/config/schema.js';
import { storeSchema, type StoreConfig } from '../../src/storehelper/config.js';

export interface GrafanaConfig extends StoreConfig {
  url: string;
  api_key: string;
  instance_id: string;
  prefix: string;
}

export const grafanaConfigSchema: Schema = {
  url: {
    type: 'url',
    required: true,
    doc: 'the Graphite instance URL from the stack page, e.g. https://graphite-prod-01-prod-us-central-0.grafana.net/graphite/metrics (used as given)',
  },
  api_key: { type: 'string', required: true, secret: true, nonEmpty: true, doc: 'API key / access policy token (secret; use ${env:GRAFANA_API_KEY})' },
  instance_id: {
    type: 'string',
    default: '',
    doc: 'Graphite instance ID: shared instances need it (`Bearer <instanceId>:<apiKey>`); "" for dedicated ones (`Bearer <apiKey>`)',
  },
  prefix: { type: 'string', default: '', doc: 'dotted prefix put before every metric name ("" = none)' },
  ...storeSchema({ cumulativeDefault: 'delta' }),
};

export const grafanaExporterFactory = defineExporter<GrafanaConfig>({
  type: 'grafana',
  description: 'Grafana Cloud Graphite HTTP ingest every period (Invalid points counted)',
  signals: ['metrics'],
  configSchema: grafanaConfigSchema,
  load: async () => (await import('./exporter.js')).grafanaImpl,
});
