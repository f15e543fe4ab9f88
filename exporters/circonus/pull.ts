/**
 * circonus mode pull (JSON:Pull, protocols.md §6): the broker GETs metricport
 * every period. Running totals per series are kept in a CumulativeStore
 * (delta → cumulative with reset detection, series cap, expiry) and served
 * as typed JSON on the store's own listener at a secret path `/<token>`,
 * always behind Basic auth. Token, username and password are generated on
 * first start and kept in the state directory (or set in the config), so the
 * URL and credentials entered in the Circonus check survive restarts.
 *
 * `X-Reconnoiter-Period` (milliseconds) tells the broker's period: it is the
 * store's reported period, and series live at least 3 periods without an
 * update (so a slow broker never sees its series expire between fetches).
 */
import type { CreateSettings, Exporter, Host } from '../../src/component.js';
import { createExporter } from '../../src/exporterhelper/exporter.js';
import { countPoints, type MetricsBatch } from '../../src/model/index.js';
import { loadOrCreateCredentials, type PullCredentials } from '../../src/pullstore/credentials.js';
import { PullServer } from '../../src/pullstore/server.js';
import { pullUrl, type StoreInfo } from '../../src/pullstore/stores.js';
import { CumulativeStore } from '../prometheus/cumulative.js';
import { instrumentPullStore } from '../prometheus/factory.js';
import type { CirconusConfig } from './factory.js';
import { CirconusKeyer, parsePeriodHeader, renderJsonPull } from './pull-encode.js';

export const PULL_CONTENT_TYPE = 'application/json';
/** series live at least this many broker periods without an update */
export const EXPIRY_PERIODS = 3;

export function createCirconusPull(set: CreateSettings, cfg: CirconusConfig): Exporter {
  const configuredExpiry = cfg.series_expiry;
  const store = new CumulativeStore({ maxSeries: cfg.max_series, expiryMs: configuredExpiry });
  const keyer = new CirconusKeyer(cfg.resource_attributes ?? ['service.name']);
  let server: PullServer | undefined;
  let creds: PullCredentials | undefined;
  let brokerPeriodMs: number | undefined;
  let lastMetrics = 0;
  instrumentPullStore(set, store);

  const path = (): string => `/${(creds as PullCredentials).token}`;
  const url = (): string | null => (creds === undefined ? null : pullUrl(cfg.external_url, server?.address(), cfg.endpoint, path(), cfg.tls !== undefined ? 'https' : 'http'));

  return createExporter<MetricsBatch>(set, {
    signal: 'metrics',
    countItems: countPoints,
    push: async (b) => { store.ingest(b, keyer); },
    timeout: 0,
    retry: { enabled: false },
    queue: { enabled: false },
    endpoint: cfg.endpoint,
    start: async (host: Host) => {
      const r = loadOrCreateCredentials(set.stateDir, { token: cfg.token, basicAuth: true, username: cfg.username, password: cfg.password });
      creds = r.creds;
      server = new PullServer({
        endpoint: cfg.endpoint,
        configKey: `exporters.${set.id}.endpoint`,
        owner: set.id,
        ...(cfg.tls !== undefined ? { tls: cfg.tls } : {}),
        logger: set.logger,
        meter: host.telemetry.meter,
        path: path(),
        basicAuth: { username: creds.username, password: creds.password },
        respond: (req) => {
          const period = parsePeriodHeader(req.headers['x-reconnoiter-period']);
          if (period !== undefined) {
            brokerPeriodMs = period;
            store.expiryMs = Math.max(configuredExpiry, EXPIRY_PERIODS * period);
          }
          store.expire();
          const out = renderJsonPull(store);
          lastMetrics = out.metrics;
          return { contentType: PULL_CONTENT_TYPE, body: out.body };
        },
      });
      await server.start();
      if (r.generated.length > 0) {
        set.logger.info({ url: url(), username: creds.username, generated: r.generated },
          `circonus pull store: generated ${r.generated.join(', ')} (kept in the state directory); enter the url and username in the Circonus JSON check; the password: metricport stores --show-credentials`);
      }
    },
    shutdown: async (deadline) => { await server?.close(deadline); },
    status: () => {
      const st = server?.stats;
      const info: StoreInfo = {
        adapter: 'circonus',
        mode: 'pull',
        period: brokerPeriodMs === undefined ? null : brokerPeriodMs / 1000,
        last_scrape: st?.last_request ?? null,
        last_error: st?.last_error ?? null,
        target: cfg.endpoint,
        url: url(),
        basic_auth: true,
      };
      return {
        store: info,
        series: store.size,
        max_series: store.maxSeries,
        series_expiry_ms: store.expiryMs,
        accumulator: { ...store.counters, dropped: { ...store.counters.dropped } },
        scrapes: st?.served ?? 0,
        not_found: st?.not_found ?? 0,
        unauthorized: st?.unauthorized ?? 0,
        last_scrape_metrics: lastMetrics,
      };
    },
  });
}
