/**
 * circonus mode push: HTTPTrap `PUT` of typed JSON to the check's Data
 * Submission URL every period (protocols.md §6), through the store helper.
 * One window per body (a series appears once per JSON object). Bodies over
 * 1 KiB are gzipped (as the official client does). The broker answers
 * `{"stats":N}`: N below the keys sent counts the difference as dropped
 * (partial_success). 404 (check moved), 406 (unparseable) and other 4xx are
 * permanent; 5xx and network errors are retried. The submission URL's path
 * holds the check secret: it never appears in logs, errors or status.
 */
import { gzipSync } from 'node:zlib';
import type { CreateSettings } from '../../src/component.js';
import { StoreHttpClient } from '../../src/storehelper/http.js';
import { createStore, type StoreExporter, type StoreTestHooks } from '../../src/storehelper/store.js';
import { encodeTrap } from './encode.js';
import type { CirconusConfig } from './factory.js';

const GZIP_OVER = 1024;

function parseStats(body: string): number | undefined {
  try {
    const j = JSON.parse(body) as { stats?: unknown };
    return typeof j?.stats === 'number' ? j.stats : undefined;
  } catch {
    return undefined;
  }
}

export function createCirconusPush(set: CreateSettings, cfg: CirconusConfig, hooks: StoreTestHooks = {}): StoreExporter {
  const client = new StoreHttpClient(cfg.submission_url as string, { caFile: cfg.ca_file });
  let statsShort = 0;
  const keysOf = new WeakMap<Uint8Array, number>();
  return createStore(
    set,
    cfg,
    {
      type: 'circonus',
      maxPayloadBytes: 5_000_000,
      endpoint: client.host,
      oneWindowPerPayload: true,
      encode: (points) => {
        const e = encodeTrap(points);
        const raw = Buffer.from(JSON.stringify(e.body), 'utf8');
        const body = raw.length > GZIP_OVER ? gzipSync(raw) : raw;
        keysOf.set(body, e.keys);
        return e.nan > 0 ? { body, n: e.n, dropped: { nan: e.nan } } : { body, n: e.n };
      },
      send: async (p, abort) => {
        const headers: Record<string, string> = { 'Content-Type': 'application/json' };
        if (p.body[0] === 0x1f && p.body[1] === 0x8b) headers['Content-Encoding'] = 'gzip';
        const r = await client.request('PUT', p.body, headers, abort);
        client.classify(r, {});
        const stats = parseStats(r.body.toString('utf8'));
        const keys = keysOf.get(p.body) ?? 0;
        if (stats !== undefined && stats < keys) {
          statsShort += keys - stats;
          return { rejected: Math.min(p.n, keys - stats), message: `broker accepted ${stats} of ${keys} metrics` };
        }
        return undefined;
      },
      start: async () => {
        client.start();
      },
      shutdown: async () => {
        client.close();
      },
      status: () => ({ mode: 'push', stats_short: statsShort }),
    },
    hooks,
  );
}
