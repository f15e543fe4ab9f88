/**
 * datadog: series every period to the Datadog intake, v2 `/api/v2/series`
 * by default or v1 `/api/v1/series`, gzip, payloads under 512,000 bytes
 * compressed (and 5,242,880 uncompressed). 400, 403, 404 are permanent; 413
 * splits the payload; 429, 408 and 5xx are retried (Retry-After honoured).
 */
import { defineExporter } from '../../src/component.js';
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { storeSchema, type StoreConfig } from '../../src/storehelper/config.js';

const DATADOG_SITES = [
  'datadoghq.com',
  'us3.datadoghq.com',
  'us5.datadoghq.com',
  'datadoghq.eu',
  'uk1.datadoghq.com',
  'ap1.datadoghq.com',
  'ap2.datadoghq.com',
  'ddog-gov.com',
  'us2.ddog-gov.com',
] as const;
export const DD_MAX_COMPRESSED = 512_000;
export const DD_MAX_UNCOMPRESSED = 5_242_880;

export interface DatadogConfig extends StoreConfig {
  api_key: string;
  site: string;
  endpoint?: string;
  api_version: 'v1' | 'v2';
  compression: 'gzip' | 'none';
}

export const datadogConfigSchema: Schema = {
  api_key: { type: 'string', required: true, secret: true, nonEmpty: true, doc: 'Datadog API key, sent as DD-API-KEY (secret; use ${env:DD_API_KEY})' },
  site: { type: 'enum', values: DATADOG_SITES, default: 'datadoghq.com', doc: 'Datadog site: the intake is https://api.<site>' },
  endpoint: {
    type: 'url',
    doc: "base URL used instead of https://api.<site> (a proxy, a test double, VictoriaMetrics' http://host:8428/datadog); /api/v2/series or /api/v1/series is appended",
  },
  api_version: { type: 'enum', values: ['v1', 'v2'], default: 'v2', doc: '"v2": POST /api/v2/series; "v1": the legacy POST /api/v1/series' },
  compression: { type: 'enum', values: ['gzip', 'none'], default: 'gzip', doc: 'gzip request bodies (Content-Encoding: gzip)' },
  ...storeSchema({ cumulativeDefault: 'delta', cumulativeFixed: true }),
};

function validateDatadog(cfg: DatadogConfig): ConfigIssue[] {
  return cfg.cumulative === 'cumulative' ? [{ path: 'cumulative', message: 'Datadog takes counts: only "delta" is accepted', severity: 'error' }] : [];
}

export const datadogExporterFactory = defineExporter<DatadogConfig>({
  type: 'datadog',
  description: 'Datadog series (v2 or v1) every period: gauges and per-period counts, gzip, split under 512,000 bytes',
  signals: ['metrics'],
  configSchema: datadogConfigSchema,
  validate: validateDatadog,
  load: async () => (await import('./exporter.js')).datadogImpl,
});
