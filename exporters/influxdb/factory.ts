/**
 * influxdb: line protocol every period to InfluxDB v1 (`/write`) or v2
 * (`/api/v2/write`), and to anything speaking them (VictoriaMetrics `/write`).
 * Answers (protocols.md §5): 204 done; 400 "partial write" / "points beyond
 * retention policy" → the dropped points counted, not retried; other 400,
 * 401, 403, 404, 422 and other 4xx → permanent; 413 → split and resend;
 * 429 and 5xx → retried (Retry-After honoured).
 */
import { defineExporter } from '../../src/component.js';
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { storeSchema, type StoreConfig } from '../../src/storehelper/config.js';
import type { Precision } from './encode.js';

export interface InfluxConfig extends StoreConfig {
  endpoint: string;
  api_version: 'v1' | 'v2';
  db: string;
  rp: string;
  username: string;
  password: string;
  org: string;
  bucket: string;
  token: string;
  precision: Precision;
  compression: 'gzip' | 'none';
  field_name: string;
  max_payload_size: number;
}

export const influxConfigSchema: Schema = {
  endpoint: { type: 'url', required: true, doc: 'base URL of the server, e.g. http://127.0.0.1:8086 (the write path is appended)' },
  api_version: {
    type: 'enum',
    values: ['v1', 'v2'],
    default: 'v1',
    doc: '"v1": POST /write?db=&rp= (InfluxDB 1.x, VictoriaMetrics); "v2": POST /api/v2/write?org=&bucket= with a token',
  },
  db: { type: 'string', default: '', doc: 'v1: database (required with v1)' },
  rp: { type: 'string', default: '', doc: 'v1: retention policy ("" = the database default)' },
  username: { type: 'string', default: '', doc: 'v1: user (sent as HTTP Basic auth, never in the URL)' },
  password: { type: 'string', default: '', secret: true, doc: 'v1: password (secret)' },
  org: { type: 'string', default: '', doc: 'v2: organisation (required with v2)' },
  bucket: { type: 'string', default: '', doc: 'v2: bucket (required with v2)' },
  token: { type: 'string', default: '', secret: true, doc: 'v2: API token, sent as `Authorization: Token <token>` (secret)' },
  precision: { type: 'enum', values: ['ns', 'us', 'ms', 's'], default: 'ns', doc: 'timestamp precision of the written lines' },
  compression: { type: 'enum', values: ['gzip', 'none'], default: 'gzip', doc: 'gzip request bodies (Content-Encoding: gzip)' },
  field_name: { type: 'string', default: 'value', nonEmpty: true, doc: 'field key of gauge and sum values' },
  max_payload_size: {
    type: 'bytes',
    default: '5MB',
    min: 1024,
    doc: 'largest request body (after compression); bigger batches are split. A 413 answer splits further',
  },
  ...storeSchema({ cumulativeDefault: 'cumulative' }),
};

function validateInflux(cfg: InfluxConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (cfg.api_version === 'v1' && cfg.db === '') issues.push({ path: 'db', message: 'is required with api_version v1', severity: 'error' });
  if (cfg.api_version === 'v2') {
    if (cfg.org === '') issues.push({ path: 'org', message: 'is required with api_version v2', severity: 'error' });
    if (cfg.bucket === '') issues.push({ path: 'bucket', message: 'is required with api_version v2', severity: 'error' });
  }
  return issues;
}

export const influxdbExporterFactory = defineExporter<InfluxConfig>({
  type: 'influxdb',
  description: 'InfluxDB v1/v2 line protocol every period (gzip, 413 split, partial writes counted)',
  signals: ['metrics'],
  configSchema: influxConfigSchema,
  validate: validateInflux,
  load: async () => (await import('./exporter.js')).influxdbImpl,
});
