/**
 * The grafana store adapter (the implementation its factory loads): Graphite
 * JSON rows to Grafana Cloud, Invalid points counted.
 */
import type { CreateSettings, ExporterImpl } from '../../src/component.js';
import { StoreHttpClient } from '../../src/storehelper/http.js';
import { createStore, type StoreExporter, type StoreTestHooks } from '../../src/storehelper/store.js';
import { grafanaRows } from './encode.js';
import type { GrafanaConfig } from './factory.js';

/** Invalid/Published counts of a 200 answer */
function parseGrafanaAnswer(body: string): { invalid: number; published: number; errors: string } | undefined {
  try {
    const j = JSON.parse(body) as { Invalid?: unknown; Published?: unknown; ValidationErrors?: unknown };
    if (typeof j !== 'object' || j === null) return undefined;
    return {
      invalid: typeof j.Invalid === 'number' ? j.Invalid : 0,
      published: typeof j.Published === 'number' ? j.Published : 0,
      errors: Object.keys((j.ValidationErrors ?? {}) as object)
        .join(',')
        .slice(0, 200),
    };
  } catch {
    return undefined;
  }
}

export function createGrafana(set: CreateSettings, cfg: GrafanaConfig, hooks: StoreTestHooks = {}): StoreExporter {
  const client = new StoreHttpClient(cfg.url);
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${cfg.instance_id !== '' ? `${cfg.instance_id}:` : ''}${cfg.api_key}` };
  const prefix = cfg.prefix.replace(/\.+$/, '');
  let invalidTotal = 0;
  return createStore(
    set,
    cfg,
    {
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
      start: async () => {
        client.start();
      },
      shutdown: async () => {
        client.close();
      },
      status: () => ({ invalid_points: invalidTotal, auth: cfg.instance_id !== '' ? 'instance_id:api_key' : 'api_key' }),
    },
    hooks,
  );
}

/** What the factory's load() returns. */
export const grafanaImpl: ExporterImpl<GrafanaConfig> = {
  create(set, cfg, signal) {
    if (signal !== 'metrics') throw new Error(`grafana exporter does not support the ${signal} signal`);
    return createGrafana(set, cfg);
  },
};
