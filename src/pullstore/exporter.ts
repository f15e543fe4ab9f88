/**
 * A pull store as an exporter: what `prometheus` and `circonus` (mode pull)
 * share. Points go into a CumulativeStore (running totals, series cap and
 * expiry) named by the adapter's SeriesKeyer; on start the credentials are
 * loaded or generated (credentials.ts) and the store's own listener serves
 * the secret path (server.ts), rendering with the adapter's `respond`.
 *
 * - the URL (with its secret token) is logged once, at info level, at the
 *   start that generated the token or Basic-auth credentials (the first);
 *   later starts read them from the state directory and log nothing. Else it
 *   is handed out only by `GET /api/v1/stores` and `metricport stores`;
 * - evictions, dropped points and the series count go to the service
 *   telemetry; reaching `max_series` is a rate-limited warning naming the
 *   exporter;
 * - the status: the store row (StoreInfo) plus the accumulator and scrape
 *   counters, then the adapter's own fields.
 */
import type { IncomingMessage } from 'node:http';
import type { Counter, Meter } from '@opentelemetry/api';
import type { CreateSettings, Exporter, Host } from '../component.js';
import type { TlsConfig } from '../config/security.js';
import { createExporter } from '../exporterhelper/exporter.js';
import { countPoints, type MetricsBatch } from '../model/index.js';
import { RateLimitedLog } from '../ratelimitedlog.js';
import { loadOrCreateCredentials, type CredentialOptions, type PullCredentials } from './credentials.js';
import type { CumulativeStore, SeriesKeyer } from './cumulative.js';
import { PullServer, type PullResponse } from './server.js';
import { pullUrl, type StoreInfo } from './stores.js';

export interface PullStoreOptions {
  /** the store type, in the store row (StoreInfo.adapter) */
  adapter: string;
  /** what log lines call it, e.g. "prometheus store" */
  label: string;
  store: CumulativeStore;
  keyer: SeriesKeyer;
  endpoint: string;
  tls?: TlsConfig | undefined;
  /** base URL the scraper reaches the endpoint at ('' or undefined = http(s)://<endpoint>) */
  externalUrl?: string | undefined;
  credentials: CredentialOptions;
  /** the secret path for a token, e.g. `/<token>/metrics` */
  path(token: string): string;
  /** what to do with the URL, said with the generated credentials, e.g. "point Prometheus at the url" */
  urlHint: string;
  /** the body for an authorised GET */
  respond(req: IncomingMessage): PullResponse | Promise<PullResponse>;
  /** the scraper's period in seconds, when it tells one (StoreInfo.period) */
  period?: () => number | null;
  /** the adapter's own status fields, after the common ones */
  status?: () => Record<string, unknown>;
}

export function createPullExporter(set: CreateSettings, o: PullStoreOptions): Exporter {
  const { store, keyer } = o;
  let server: PullServer | undefined;
  let creds: PullCredentials | undefined;
  instrumentPullStore(set, store, o.label);

  const scheme = o.tls !== undefined ? 'https' : 'http';
  const url = (): string | null => (creds === undefined ? null : pullUrl(o.externalUrl, server?.address(), o.endpoint, o.path(creds.token), scheme));

  return createExporter<MetricsBatch>(set, {
    signal: 'metrics',
    countItems: countPoints,
    push: async (b) => { store.ingest(b, keyer); },
    timeout: 0,
    retry: { enabled: false },
    queue: { enabled: false },
    endpoint: o.endpoint,
    start: async (host: Host) => {
      const r = loadOrCreateCredentials(set.stateDir, o.credentials);
      creds = r.creds;
      const basic = o.credentials.basicAuth;
      server = new PullServer({
        endpoint: o.endpoint,
        configKey: `exporters.${set.id}.endpoint`,
        owner: set.id,
        logger: set.logger,
        meter: host.telemetry.meter,
        path: o.path(creds.token),
        ...(basic ? { basicAuth: { username: creds.username, password: creds.password } } : {}),
        ...(o.tls !== undefined ? { tls: o.tls } : {}),
        respond: o.respond,
      });
      await server.start();
      if (r.generated.length > 0) {
        set.logger.info({ url: url(), ...(basic ? { username: creds.username } : {}), generated: r.generated },
          `${o.label}: generated ${r.generated.join(', ')} (kept in the state directory); ${o.urlHint}${basic ? '; the password: metricport stores --show-credentials' : ''}`);
      }
    },
    shutdown: async (deadline) => { await server?.close(deadline); },
    status: () => {
      const st = server?.stats;
      const info: StoreInfo = {
        adapter: o.adapter,
        mode: 'pull',
        period: o.period?.() ?? null,
        last_scrape: st?.last_request ?? null,
        last_error: st?.last_error ?? null,
        target: o.endpoint,
        url: url(),
        basic_auth: o.credentials.basicAuth,
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
        ...o.status?.(),
      };
    },
  });
}

const evictCounters = new WeakMap<Meter, { evicted: Counter; dropped: Counter }>();
/** The pull stores' counters (one definition per meter). */
function storeCounters(meter: Meter): { evicted: Counter; dropped: Counter } {
  let c = evictCounters.get(meter);
  if (c === undefined) {
    c = {
      evicted: meter.createCounter('metricport_store_series_evicted', { description: 'Series a pull store removed: reason "cap" (series cap reached, least recently updated evicted) or "expired" (no update within series_expiry)' }),
      dropped: meter.createCounter('metricport_store_dropped_points', { description: 'Points a pull store did not apply, by reason (type_conflict, out_of_order, negative_delta, nan, malformed_histogram)' }),
    };
    evictCounters.set(meter, c);
  }
  return c;
}

/**
 * Wire a pull store's evictions, dropped points and series count into the
 * service telemetry (attributes bound once); a series evicted because
 * `max_series` was reached is a rate-limited warning naming the exporter.
 */
export function instrumentPullStore(set: CreateSettings, store: CumulativeStore, label: string): void {
  const c = storeCounters(set.telemetry.meter);
  const evictAttrs = { cap: { exporter: set.id, reason: 'cap' }, expired: { exporter: set.id, reason: 'expired' } };
  const dropAttrs = new Map<string, Record<string, string>>();
  const warnings = new RateLimitedLog(set.logger);
  store.onEvict = (n, reason) => {
    c.evicted.add(n, evictAttrs[reason]);
    if (reason === 'cap') {
      warnings.warn('max_series', { exporter: set.id, max_series: store.maxSeries },
        `${label} ${set.id}: max_series (${store.maxSeries}) reached; the least recently updated series are evicted (metricport_store_series_evicted{reason="cap"}); raise exporters.${set.id}.max_series or send fewer attribute combinations`);
    }
  };
  store.onDrop = (n, reason) => {
    let a = dropAttrs.get(reason);
    if (a === undefined) { a = { exporter: set.id, reason }; dropAttrs.set(reason, a); }
    c.dropped.add(n, a);
  };
  set.telemetry.gauge('metricport_store_series', 'Series a pull store currently holds', { exporter: set.id }, () => store.size);
}
