/**
 * The datadog store adapter (the implementation its factory loads): series
 * JSON, gzip, the intake's answers classified.
 */
import { gzipSync } from 'node:zlib';
import type { CreateSettings, ExporterImpl } from '../../src/component.js';
import { StoreHttpClient } from '../../src/storehelper/http.js';
import { createStore, type StoreExporter, type StoreTestHooks } from '../../src/storehelper/store.js';
import { encodeSeries } from './encode.js';
import { DD_MAX_COMPRESSED, DD_MAX_UNCOMPRESSED, type DatadogConfig } from './factory.js';

export function seriesUrl(cfg: DatadogConfig): URL {
  const base = (cfg.endpoint ?? `https://api.${cfg.site}`).replace(/\/+$/, '');
  return new URL(`${base}/api/${cfg.api_version}/series`);
}

/** The adapter's pure encoder: JSON, gzip, too-old points counted. */
export function datadogEncoder(cfg: Pick<DatadogConfig, 'api_version' | 'compression'>) {
  return (points: Parameters<typeof encodeSeries>[0], ctx: { periodSeconds: number; nowMs: number }) => {
    const e = encodeSeries(points, { api: cfg.api_version, intervalSeconds: ctx.periodSeconds, nowMs: ctx.nowMs });
    const raw = Buffer.from(e.json, 'utf8');
    // over the uncompressed limit: report the raw size so the helper splits
    const body = cfg.compression === 'gzip' && raw.length < DD_MAX_UNCOMPRESSED ? gzipSync(raw) : raw;
    return e.tooOld > 0 ? { body, n: e.n, dropped: { too_old: e.tooOld } } : { body, n: e.n };
  };
}

export function createDatadog(set: CreateSettings, cfg: DatadogConfig, hooks: StoreTestHooks = {}): StoreExporter {
  const client = new StoreHttpClient(seriesUrl(cfg));
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'DD-API-KEY': cfg.api_key };
  if (cfg.compression === 'gzip') headers['Content-Encoding'] = 'gzip';
  return createStore(
    set,
    cfg,
    {
      type: 'datadog',
      maxPayloadBytes: cfg.compression === 'gzip' ? DD_MAX_COMPRESSED : Math.min(DD_MAX_COMPRESSED, DD_MAX_UNCOMPRESSED - 1),
      endpoint: client.host,
      encode: datadogEncoder(cfg),
      send: async (p, abort) => {
        const r = await client.request('POST', p.body, headers, abort);
        client.classify(r, { permanent: new Set([400, 401, 403, 404]), retryable: new Set([408, 429]) });
      },
      start: async () => {
        client.start();
      },
      shutdown: async () => {
        client.close();
      },
      status: () => ({ api_version: cfg.api_version, site: cfg.endpoint === undefined ? cfg.site : 'custom' }),
    },
    hooks,
  );
}

/** What the factory's load() returns. */
export const datadogImpl: ExporterImpl<DatadogConfig> = {
  create(set, cfg, signal) {
    if (signal !== 'metrics') throw new Error(`datadog exporter does not support the ${signal} signal`);
    return createDatadog(set, cfg);
  },
};
