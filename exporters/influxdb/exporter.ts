/**
 * The influxdb store adapter (the implementation its factory loads): the
 * write URL, line protocol bodies, answers classified as protocols.md §5 says.
 */
import { gzipSync } from 'node:zlib';
import type { CreateSettings, ExporterImpl } from '../../src/component.js';
import { PermanentSendError } from '../../src/exporterhelper/retry.js';
import { StoreHttpClient } from '../../src/storehelper/http.js';
import { createStore, type StoreExporter, type StoreTestHooks } from '../../src/storehelper/store.js';
import { encodeLines, type Precision } from './encode.js';
import type { InfluxConfig } from './factory.js';

const V1_PRECISION: Record<Precision, string> = { ns: 'n', us: 'u', ms: 'ms', s: 's' };

function writeUrl(cfg: InfluxConfig): URL {
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
  return createStore(
    set,
    cfg,
    {
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
          if (dropped !== undefined) {
            partial += dropped;
            return { rejected: Math.min(p.n, dropped), message: 'partial write' };
          }
          throw new PermanentSendError(`HTTP 400 Bad Request from ${client.host}`, { status: 400 });
        }
        client.classify(r, { permanent: PERMANENT });
        if (r.status >= 400 && r.status < 500) throw new PermanentSendError(`HTTP ${r.status} from ${client.host}`, { status: r.status });
        return undefined;
      },
      start: async () => {
        client.start();
      },
      shutdown: async () => {
        client.close();
      },
      status: () => ({ api_version: cfg.api_version, partial_write_dropped: partial }),
    },
    hooks,
  );
}

/** What the factory's load() returns. */
export const influxdbImpl: ExporterImpl<InfluxConfig> = {
  create(set, cfg, signal) {
    if (signal !== 'metrics') throw new Error(`influxdb exporter does not support the ${signal} signal`);
    return createInflux(set, cfg);
  },
};
