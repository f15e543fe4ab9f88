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
import type { CreateSettings, Exporter } from '../../src/component.js';
import { CumulativeStore } from '../../src/pullstore/cumulative.js';
import { createPullExporter } from '../../src/pullstore/exporter.js';
import type { CirconusConfig } from './factory.js';
import { CirconusKeyer, parsePeriodHeader, renderJsonPull } from './pull-encode.js';

const PULL_CONTENT_TYPE = 'application/json';
/** series live at least this many broker periods without an update */
const EXPIRY_PERIODS = 3;

export function createCirconusPull(set: CreateSettings, cfg: CirconusConfig): Exporter {
  const configuredExpiry = cfg.series_expiry;
  const store = new CumulativeStore({ maxSeries: cfg.max_series, expiryMs: configuredExpiry });
  let brokerPeriodMs: number | undefined;
  let lastMetrics = 0;
  return createPullExporter(set, {
    adapter: 'circonus',
    label: 'circonus pull store',
    store,
    keyer: new CirconusKeyer(cfg.resource_attributes ?? ['service.name']),
    endpoint: cfg.endpoint,
    tls: cfg.tls,
    externalUrl: cfg.external_url,
    credentials: { token: cfg.token, basicAuth: true, username: cfg.username, password: cfg.password },
    path: (token) => `/${token}`,
    urlHint: 'enter the url and username in the Circonus JSON check',
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
    period: () => (brokerPeriodMs === undefined ? null : brokerPeriodMs / 1000),
    status: () => ({ last_scrape_metrics: lastMetrics }),
    checkpointIntervalMs: cfg.checkpoint_interval,
  });
}
