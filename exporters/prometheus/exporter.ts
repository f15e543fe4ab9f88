/**
 * The prometheus pull store (the implementation its factory loads): running
 * totals in a CumulativeStore, rendered per scrape in the negotiated format.
 */
import type { CreateSettings, Exporter, ExporterImpl } from '../../src/component.js';
import { CumulativeStore } from '../../src/pullstore/cumulative.js';
import { createPullExporter } from '../../src/pullstore/exporter.js';
import { negotiate, prometheusResponse } from './exposition.js';
import { SCRAPE_PATH_SUFFIX, type PrometheusExporterConfig } from './factory.js';
import { PromKeyer } from './labels.js';

function createPrometheusExporter(set: CreateSettings, cfg: PrometheusExporterConfig): Exporter {
  const store = new CumulativeStore({ maxSeries: cfg.max_series, expiryMs: cfg.series_expiry });
  let lastScrapeFormat: string | null = null;
  return createPullExporter(set, {
    adapter: 'prometheus',
    label: 'prometheus store',
    store,
    keyer: new PromKeyer(cfg.namespace ?? '', cfg.target_info ?? true, true, cfg.add_unit_suffix ?? true),
    endpoint: cfg.endpoint,
    tls: cfg.tls,
    externalUrl: cfg.external_url,
    credentials: { token: cfg.token, basicAuth: cfg.basic_auth.enabled, username: cfg.basic_auth.username, password: cfg.basic_auth.password },
    path: (token) => `/${token}${SCRAPE_PATH_SUFFIX}`,
    urlHint: 'point Prometheus at the url',
    respond: (req) => {
      lastScrapeFormat = negotiate(req.headers.accept);
      store.expire();
      return prometheusResponse(store, req.headers.accept);
    },
    status: () => ({ last_scrape_format: lastScrapeFormat }),
    checkpointIntervalMs: cfg.checkpoint_interval,
  });
}

/** What the factory's load() returns. */
export const prometheusImpl: ExporterImpl<PrometheusExporterConfig> = {
  create: (set, cfg) => createPrometheusExporter(set, cfg),
};
