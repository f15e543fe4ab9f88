/**
 * The graphite store adapter (the implementation its factory loads): Carbon
 * plaintext over one reconnecting TCP connection, through the store helper.
 */
import type { CreateSettings, ExporterImpl } from '../../src/component.js';
import { createStore, type StoreExporter, type StoreTestHooks } from '../../src/storehelper/store.js';
import { encodeGraphite, type GraphiteEncodeOptions } from './encode.js';
import type { GraphiteConfig } from './factory.js';
import { CarbonConnection } from './tcp.js';

export function createGraphite(set: CreateSettings, cfg: GraphiteConfig, hooks: StoreTestHooks = {}): StoreExporter {
  const conn = new CarbonConnection(cfg.host, cfg.port);
  const eo: GraphiteEncodeOptions = { prefix: cfg.prefix.replace(/\.+$/, ''), tagMode: cfg.tag_mode, template: cfg.template };
  return createStore(
    set,
    cfg,
    {
      type: 'graphite',
      maxPayloadBytes: 1 << 20,
      endpoint: conn.endpoint,
      encode: (points) => encodeGraphite(points, eo),
      send: async (p, abort) => {
        await conn.write(p.body, abort);
      },
      shutdown: async () => {
        conn.close();
      },
      status: () => ({ connected: conn.connected(), connects: conn.connects, disconnects: conn.disconnects }),
    },
    hooks,
  );
}

/** What the factory's load() returns. */
export const graphiteImpl: ExporterImpl<GraphiteConfig> = {
  create(set, cfg, signal) {
    if (signal !== 'metrics') throw new Error(`graphite exporter does not support the ${signal} signal`);
    return createGraphite(set, cfg);
  },
};
