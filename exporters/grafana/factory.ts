/**
 * grafana: Grafana Cloud's Graphite HTTP ingest every period. Auth
 * `Bearer <instanceId>:<apiKey>` (shared instances) or `Bearer <apiKey>`
 * (dedicated). 200 answers may report `Invalid` points: those are counted as
 * dropped (partial_success), not retried. 400/401/403/404 permanent, 413
 * split, 429/5xx retried with Retry-After.
 */
import type { CreateSettings, Exporter, ExporterFactory, Signal } from '../../src/component.js';
import type { Schema } from '../../src/config/schema.js';
import { storeSchema, type StoreConfig } from '../../src/storehelper/config.js';
import { StoreHttpClient } from '../../src/storehelper/http.js';
import { createStore, type StoreExporter, type StoreTestHooks } from '../../src/storehelper/store.js';
import { grafanaRows } from './encode.js';

export interface GrafanaConfig extends StoreConfig {
  url: string;
  api_key: string;
  instance_id: string;
  prefix: string;
}

export const grafanaConfigSchema: Schema = {
  url: { type: 'url', required: true, doc: 'the Graphite instance URL from the stack page, e.g. https://graphite-prod-01-prod-us-central-0.grafana.net/graphite/metrics (used as given)' },
  api_key: { type: 'string', required: true, secret: true, nonEmpty: true, doc: 'API key / access policy token (secret; use ${env:GRAFANA_API_KEY})' },
  instance_id: { type: 'string', default: '', doc: 'Graphite instance ID: shared instances need it (`Bearer <instanceId>:<apiKey>`); "" for dedicated ones (`Bearer <apiKey>`)' },
  prefix: { type: 'string', default: '', doc: 'dotted prefix put before every metric name ("" = none)' },
  ...storeSchema({ cumulativeDefault: 'delta' }),
};

/** Invalid/Published counts of a 200 answer */
export function parseGrafanaAnswer(body: string): { invalid: number; published: number; errors: string } | undefined {
  try {
    const j = JSON.parse(body) as { Invalid?: unknown; Published?: unknown; ValidationErrors?: unknown };
    if (typeof j !== 'object' || j === null) return undefined;
    return { invalid: typeof j.Invalid === 'number' ? j.Invalid : 0, published: typeof j.Published === 'number' ? j.Published : 0, errors: Object.keys((j.ValidationErrors ?? {}) as object).join(',').slice(0, 200) };
  } catch { return undefined; }
}

export function createGrafana(set: CreateSettings, cfg: GrafanaConfig, hooks: StoreTestHooks = {}): StoreExporter {
  const client = new StoreHttpClient(cfg.url);
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${cfg.instance_id !== '' ? `${cfg.instance_id}:` : ''}${cfg.api_key}` };
  const prefix = cfg.prefix.replace(/\.+$/, '');
  let invalidTotal = 0;
  return createStore(set, cfg, {
    type: 'grafana',
    maxPayloadBytes: 10_000_000,
    maxPointsPerPayload: 5000,
    endpoint: client.host,
    encode: (points, ctx) => {
      const e = grafanaRows(points, { prefix, intervalSeconds: ctx.periodSeconds });
      const body = Buffer.from(JSON.stringify(e.rows), 'utf8');
      return e.nan > 0 ? { body, n: e.n, dropped: { nan: e.nan } } : { body, n: e.n };
    },
    send: async (p, abort) => {
      const r = await client.request('POST', p.body, headers, abort);
      client.classify(r, { permanent: new Set([400, 401, 403, 404]) });
      const a = parseGrafanaAnswer(r.body.toString('utf8'));
      if (a !== undefined && a.invalid > 0) {
        invalidTotal += a.invalid;
        return { rejected: Math.min(p.n, a.invalid), message: `Invalid: ${a.invalid} (${a.errors})` };
      }
      return undefined;
    },
    start: async () => { client.start(); },
    shutdown: async () => { client.close(); },
    status: () => ({ invalid_points: invalidTotal, auth: cfg.instance_id !== '' ? 'instance_id:api_key' : 'api_key' }),
  }, hooks);
}

export const grafanaExporterFactory: ExporterFactory<GrafanaConfig> = {
  kind: 'exporter',
  type: 'grafana',
  description: 'Grafana Cloud Graphite HTTP ingest every period (Invalid points counted)',
  signals: ['metrics'],
  configSchema: grafanaConfigSchema,
  create(set: CreateSettings, cfg: GrafanaConfig, signal: Signal): Exporter {
    if (signal !== 'metrics') throw new Error(`grafana exporter does not support the ${signal} signal`);
    return createGrafana(set, cfg);
  },
};
