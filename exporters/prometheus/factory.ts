/**
 * `prometheus`: a pull metric store. Keeps running cumulative totals per
 * series (src/pullstore/cumulative.ts: delta → cumulative, resets, exponential histograms
 * as fixed buckets, series cap and expiry) and serves them on its own
 * endpoint at a secret path `/<128-bit token>/metrics` in the text format
 * 0.0.4 or OpenMetrics 1.0 (by `Accept`), gzip when asked, with optional
 * Basic auth. Token and credentials are generated on first start and kept in
 * the state directory (or set in the config).
 */
import { defineExporter } from '../../src/component.js';
import type { ConfigIssue } from '../../src/errors.js';
import { tlsField, type TlsConfig } from '../../src/config/security.js';
import { TOKEN_PATTERN, tokenField } from '../../src/pullstore/credentials.js';

export interface PrometheusExporterConfig {
  endpoint: string;
  token: string;
  basic_auth: { enabled: boolean; username: string; password: string };
  /** ms; 0 = never */
  series_expiry: number;
  max_series: number;
  /** ms; 0 = off */
  checkpoint_interval: number;
  namespace: string;
  target_info: boolean;
  add_unit_suffix: boolean;
  external_url: string;
  tls?: TlsConfig;
}

export const SCRAPE_PATH_SUFFIX = '/metrics';

export const prometheusExporterFactory = defineExporter<PrometheusExporterConfig>({
  type: 'prometheus',
  description:
    'Prometheus pull store: a scrape endpoint at a secret token URL (text 0.0.4 / OpenMetrics, gzip, optional Basic auth) with delta→cumulative accumulation, series cap and expiry',
  signals: ['metrics'],
  configSchema: {
    endpoint: { type: 'endpoint', default: '127.0.0.1:9464', doc: 'host:port the scrape endpoint listens on (its own listener; 0.0.0.0:9464 in a container)' },
    tls: tlsField,
    token: tokenField('the secret path segment: the scrape path is /<token>/metrics'),
    basic_auth: {
      type: 'object',
      doc: 'HTTP Basic auth on the scrape path',
      fields: {
        enabled: { type: 'boolean', default: false, doc: 'require Basic auth' },
        username: { type: 'string', default: '', doc: 'empty = a random username generated on first start and kept in the state directory' },
        password: {
          type: 'string',
          default: '',
          secret: true,
          doc: 'empty = a random password generated on first start and kept in the state directory (see `metricport stores --show-credentials`)',
        },
      },
    },
    series_expiry: { type: 'duration', default: '5m', doc: 'a series not updated for this long is dropped (its next point starts a new total); 0 = never' },
    max_series: {
      type: 'int',
      default: 100_000,
      min: 1,
      doc: 'series cap: a new series beyond it evicts the least recently updated one (counted in metricport_store_series_evicted; a rate-limited warning names the exporter)',
    },
    checkpoint_interval: {
      type: 'duration',
      default: '30s',
      doc: 'how often the running totals are checkpointed in the state directory (running-totals.ckpt, written atomically; also at shutdown) and restored at start, so a restart continues every counter instead of resetting it; 0 = off (a restart is a counter reset)',
    },
    namespace: {
      type: 'string',
      default: '',
      pattern: /^(|[a-zA-Z_][a-zA-Z0-9_]*)$/,
      patternHint: 'a Prometheus name prefix like "myapp"',
      doc: 'prefix added to every metric name as <namespace>_',
    },
    target_info: {
      type: 'boolean',
      default: true,
      doc: 'expose resource attributes other than service.name/namespace/instance.id as target_info{job,instance,...} 1',
    },
    add_unit_suffix: {
      type: 'boolean',
      default: true,
      doc: 'append the unit to metric names (ms → _seconds after scaling to base units, By → _bytes), as the OpenTelemetry compatibility spec says; false keeps the OTLP name (sanitised, _total on counters) and the values unscaled — for sources whose units are wrong, such as Forge counts sent with unit "s"',
    },
    external_url: { type: 'url', doc: 'base URL the scraper reaches this endpoint at, for the URL shown by the store status API (default http://<endpoint>)' },
  },
  validate(cfg: PrometheusExporterConfig): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    if (cfg.token !== '' && !TOKEN_PATTERN.test(cfg.token))
      issues.push({ path: 'token', message: 'must be 16-128 characters of [A-Za-z0-9_-]', severity: 'error' });
    return issues;
  },
  load: async () => (await import('./exporter.js')).prometheusImpl,
});
