/**
 * influxdb: line protocol every period to InfluxDB v1 (`/write`) or v2
 * (`/api/v2/write`), and to anything speaking them (VictoriaMetrics `/write`).
 * Answers (protocols.md §5): 204 done; 400 "partial write" / "points beyond
 * retention policy" → the dropped points counted, not retried; other 400,
 * 401, 403, 404, 422 and other 4xx → permanent; 413 → split and resend;
 * 429 and 5xx → retried (Retry-After honoured).
 */
import { gzipSync } from 'node:zlib';
import type { CreateSettings, Exporter, ExporterFactory, Signal } from '../../src/component.js';
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { PermanentSendError } from '../../src/exporterhelper/retry.js';
import { storeSchema, type StoreConfig } from '../../src/storehelper/config.js';
import { StoreHttpClient } from '../../src/storehelper/http.js';
import { createStore, type StoreExporter, type StoreTestHooks } from '../../src/storehelper/store.js';
import { encodeLines, type Precision } from './encode.js';

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
  api_version: { type: 'enum', values: ['v1', 'v2'], default: 'v1', doc: '"v1": POST /write?db=&rp= (InfluxDB 1.x, VictoriaMetrics); "v2": POST /api/v2/write?org=&bucket= with a token' },
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
  max_payload_size: { type: 'bytes', default: '5MB', min: 1024, doc: 'largest request body (after compression); bigger batches are split. A 413 answer splits further' },
  ...storeSchema({ cumulativeDefault: 'cumulative' }),
};

export function validateInflux(cfg: InfluxConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (cfg.api_version === 'v1' && cfg.db === '') issues.push({ path: 'db', message: 'is required with api_version v1', severity: 'error' });
  if (cfg.api_version === 'v2') {
    if (cfg.org === '') issues.push({ path: 'org', message: 'is required with api_version v2', severity: 'error' });
    if (cfg.bucket === '') issues.push({ path: 'bucket', message: 'is required with api_version v2', severity: 'error' });
  }
  return issues;
}

const V1_PRECISION: Record<Precision, string> = { ns: 'n', us: 'u', ms: 'ms', s: 's' };

export function writeUrl(cfg: InfluxConfig): URL {
  const base = cfg.endpoint.replace(/\/+$/, '');
  if (cfg.api_version === 'v2') {
    const u = new URL(base + '/api/v2/write');
    u.searchParams.set('org', cfg.org);
    u.searchParams.set('bucket', cfg.bucket);
    u.searchParams.set('precision', cfg.precision);
    return u;
  }
  const u = new URL(base + '/write');
  u.searchParams.set('db', cfg.db);
  if (cfg.rp !== '') u.searchParams.set('rp', cfg.rp);
  u.searchParams.set('precision', V1_PRECISION[cfg.precision]);
  return u;
}

/** points InfluxDB reports dropped in a 400 partial write ("... dropped=N"), or undefined when it is not a partial write */
export function partialWriteDropped(body: string): number | undefined {
  if (!/partial write|points beyond retention policy/i.test(body)) return undefined;
  const m = /dropped=(\d+)/.exec(body);
  return m ? Number(m[1]) : undefined;
}

const PERMANENT = new Set([400, 401, 403, 404, 422]);

export function createInflux(set: CreateSettings, cfg: InfluxConfig, hooks: StoreTestHooks = {}): StoreExporter {
  const url = writeUrl(cfg);
  const client = new StoreHttpClient(url);
  const headers: Record<string, string> = { 'Content-Type': 'text/plain; charset=utf-8' };
  if (cfg.compression === 'gzip') headers['Content-Encoding'] = 'gzip';
  if (cfg.api_version === 'v2' && cfg.token !== '') headers.Authorization = `Token ${cfg.token}`;
  if (cfg.api_version === 'v1' && cfg.username !== '') headers.Authorization = 'Basic ' + Buffer.from(`${cfg.username}:${cfg.password}`).toString('base64');
  const eo = { precision: cfg.precision, fieldName: cfg.field_name };
  let partial = 0;
  return createStore(set, cfg, {
    type: 'influxdb',
    maxPayloadBytes: cfg.max_payload_size,
    maxPointsPerPayload: 5000,
    endpoint: client.host,
    encode: (points) => {
      const e = encodeLines(points, eo);
      const raw = Buffer.from(e.text, 'utf8');
      const body = cfg.compression === 'gzip' ? gzipSync(raw) : raw;
      return e.nan > 0 ? { body, n: e.n, dropped: { nan: e.nan } } : { body, n: e.n };
    },
    send: async (p, abort) => {
      const r = await client.request('POST', p.body, headers, abort);
      if (r.status === 400) {
        const dropped = partialWriteDropped(r.body.toString('utf8'));
        if (dropped !== undefined) { partial += dropped; return { rejected: Math.min(p.n, dropped), message: 'partial write' }; }
        throw new PermanentSendError(`HTTP 400 Bad Request from ${client.host}`, { status: 400 });
      }
      client.classify(r, { permanent: PERMANENT });
      if (r.status >= 400 && r.status < 500) throw new PermanentSendError(`HTTP ${r.status} from ${client.host}`, { status: r.status });
      return undefined;
    },
    start: async () => { client.start(); },
    shutdown: async () => { client.close(); },
    status: () => ({ api_version: cfg.api_version, partial_write_dropped: partial }),
  }, hooks);
}

export const influxdbExporterFactory: ExporterFactory<InfluxConfig> = {
  kind: 'exporter',
  type: 'influxdb',
  description: 'InfluxDB v1/v2 line protocol every period (gzip, 413 split, partial writes counted)',
  signals: ['metrics'],
  configSchema: influxConfigSchema,
  validate: validateInflux,
  create(set: CreateSettings, cfg: InfluxConfig, signal: Signal): Exporter {
    if (signal !== 'metrics') throw new Error(`influxdb exporter does not support the ${signal} signal`);
    return createInflux(set, cfg);
  },
};
