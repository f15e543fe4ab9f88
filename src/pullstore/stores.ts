/**
 * The metric stores of a running service, push and pull, for
 * `GET /api/v1/stores` and `metricport stores`.
 *
 * A store is an exporter whose status() carries a `store` object (StoreInfo);
 * exporters of a known store type without one are listed from their generic
 * exporter status (last_success, last_error, endpoint). Nothing here holds a
 * secret: targets are host:port only, credentials are never included.
 */
export interface StoreInfo {
  adapter: string;
  mode: 'push' | 'pull';
  /** seconds between transmissions (push) or the scraper's period when it tells (pull); null when unknown */
  period: number | null;
  /** push: ISO time of the last successful transmission */
  last_transmission?: string | null;
  /** pull: ISO time of the last served scrape */
  last_scrape?: string | null;
  last_error: string | null;
  /** where it sends / listens: host:port only (secrets redacted) */
  target: string;
  /** pull: the URL to hand to the third party (holds the path token; no credentials) */
  url?: string | null;
  basic_auth?: boolean;
}

export interface StoreRow extends StoreInfo {
  name: string;
  state?: string;
}

/** Exporter types that are metric stores even before they report a `store` object. */
export const STORE_TYPES = new Set(['prometheus', 'circonus', 'datadog', 'graphite', 'grafana', 'influxdb']);

/** The URL a third party uses: external_url, else http(s)://<bound or configured endpoint>, plus the path. */
export function pullUrl(
  externalUrl: string | undefined,
  bound: { host: string; port: number } | undefined,
  endpoint: string,
  path: string,
  scheme: 'http' | 'https' = 'http',
): string {
  if (externalUrl !== undefined && externalUrl !== '') return externalUrl.replace(/\/+$/, '') + path;
  let host: string;
  let port: number | string;
  if (bound !== undefined) {
    host = bound.host;
    port = bound.port;
  } else {
    const i = endpoint.lastIndexOf(':');
    host = endpoint.slice(0, i).replace(/^\[|\]$/g, '');
    port = endpoint.slice(i + 1);
  }
  if (host === '' || host === '0.0.0.0' || host === '::') host = '127.0.0.1';
  if (host.includes(':')) host = `[${host}]`;
  return `${scheme}://${host}:${port}${path}`;
}

interface ExporterStatusLike {
  id: string;
  type: string;
  state?: string;
  store?: StoreInfo;
  last_success?: string | null;
  last_error?: string | null;
  endpoint?: string;
  period?: number | null;
  period_seconds?: number | null;
  [k: string]: unknown;
}

/** Store rows from `Service.status()` (its `exporters` list). */
export function storesFromStatus(status: Record<string, unknown>): StoreRow[] {
  const exps = (status.exporters ?? []) as ExporterStatusLike[];
  const rows: StoreRow[] = [];
  const seen = new Set<string>();
  for (const e of exps) {
    if (seen.has(e.id)) continue;
    if (e.store === undefined && !STORE_TYPES.has(e.type)) continue;
    seen.add(e.id);
    const s: StoreInfo = e.store ?? {
      adapter: e.type,
      mode: 'push',
      period: typeof e.period_seconds === 'number' ? e.period_seconds : typeof e.period === 'number' ? e.period : null,
      last_transmission: e.last_success ?? null,
      last_error: e.last_error ?? null,
      target: typeof e.endpoint === 'string' ? e.endpoint : '',
    };
    rows.push({ name: e.id, ...(e.state !== undefined ? { state: e.state } : {}), ...s });
  }
  return rows;
}

/**
 * A plain-text table of store rows, one line per store (whitespace and
 * control characters inside a cell, e.g. a multi-line last error, become one
 * space), the URL last on its line; with `source`, a blank line and
 * `(source: …)` after it. One string: the caller writes it to one stream, so
 * nothing written elsewhere can land between the URL and its newline.
 */
export function formatStoreTable(rows: StoreRow[], source?: string): string {
  const cell = (s: string): string => s.replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim();
  const head = ['NAME', 'ADAPTER', 'MODE', 'PERIOD', 'LAST OK', 'LAST ERROR', 'TARGET', 'URL'];
  const body = rows.map((r) =>
    [
      r.name,
      r.adapter,
      r.mode,
      r.period === null ? '-' : `${r.period}s`,
      (r.mode === 'pull' ? r.last_scrape : r.last_transmission) ?? '-',
      r.last_error ?? '-',
      r.target === '' ? '-' : r.target,
      r.url ?? '-',
    ].map((c) => {
      const v = cell(c);
      return v === '' ? '-' : v;
    }),
  );
  const all = [head, ...body];
  const w = head.map((_, i) => Math.max(...all.map((row) => (row[i] as string).length)));
  const table = all.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(w[i] as number))).join('  ')).join('\n') + '\n';
  return source === undefined ? table : `${table}\n(source: ${cell(source)})\n`;
}
