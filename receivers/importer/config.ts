/**
 * Configuration of the `importer` receiver: one metric source (PostgreSQL,
 * Redshift, InfluxDB 1.x or graphite-web) and the importers that query it.
 *
 * ```yaml
 * receivers:
 *   importer/sessions:
 *     source: postgres
 *     host: db.internal
 *     database: game
 *     user: metricport
 *     password: ${env:PG_PASSWORD}
 *     importers:
 *       - name: MinsPlayedVersion3.16.2
 *         query: select mins_played, time from metric_table where version = '3.16.2' and time >= $1 and time < $2
 *         value_column: mins_played
 *         metric: { name: minutes_played, kind: delta_sum, attributes: { app.version: 3.16.2 } }
 *         history: 7d
 * ```
 */
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { clusterRunField } from '../../src/cluster/api.js';

const SOURCES = ['postgres', 'redshift', 'influxdb', 'graphite'] as const;
export type SourceType = (typeof SOURCES)[number];
const TLS_MODES = ['', 'disable', 'require', 'verify'] as const;
const TIME_UNITS = ['timestamp', 's', 'ms', 'us', 'ns'] as const;
export type TimeUnit = (typeof TIME_UNITS)[number];

export interface ImporterSpec {
  name: string;
  query: string;
  value_column: string;
  time_column: string;
  time_unit: TimeUnit;
  /** result column → attribute name */
  attributes: Record<string, string>;
  metric: { name: string; unit: string; description: string; kind: 'gauge' | 'delta_sum'; monotonic: boolean; attributes: Record<string, string> };
  metric_group: string;
  /** ms */
  history: number;
  period: number;
  chunk: number;
  delay: number;
  align: number;
}

export interface ImporterReceiverConfig {
  source: SourceType;
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  tls: { mode: (typeof TLS_MODES)[number]; ca_file: string };
  endpoint: string;
  timeout: number;
  max_rows: number;
  retry: { initial_interval: number; max_interval: number };
  importers: ImporterSpec[];
  cluster: { run: 'once' | 'everywhere' };
}

const NAME_RE = /^[A-Za-z0-9_.-]+$/;

export const importerConfigSchema: Schema = {
  source: {
    type: 'enum',
    values: SOURCES,
    required: true,
    doc: 'The metric source: postgres, redshift (Postgres wire protocol, port 5439, TLS on by default), influxdb (1.x /query, InfluxQL) or graphite (graphite-web render API).',
  },
  host: { type: 'string', default: '127.0.0.1', doc: 'postgres/redshift: server host.' },
  port: { type: 'int', default: 0, min: 0, max: 65535, doc: 'postgres/redshift: server port; 0 = 5432 for postgres, 5439 for redshift.' },
  database: { type: 'string', default: '', doc: 'postgres/redshift: database name; influxdb: the database (`db`) queried.' },
  user: { type: 'string', default: '', doc: 'User name (postgres/redshift login; influxdb `u`; graphite Basic auth).' },
  password: { type: 'string', default: '', secret: true, doc: 'Password; put it in the environment: ${env:PG_PASSWORD}. Never logged or shown in status.' },
  tls: {
    type: 'object',
    doc: 'TLS to postgres/redshift (influxdb and graphite: use an https:// endpoint).',
    fields: {
      mode: {
        type: 'enum',
        values: TLS_MODES,
        default: '',
        doc: '"" = the source\'s default (postgres: disable, redshift: verify); disable; require (encrypted, certificate not checked); verify (encrypted, certificate and host name checked against ca_file or the system CAs).',
      },
      ca_file: { type: 'string', default: '', doc: 'PEM file of the CA that signed the server certificate (verify mode).' },
    },
  },
  endpoint: { type: 'string', default: '', doc: 'influxdb/graphite: base URL, e.g. http://127.0.0.1:8086 (InfluxDB) or http://127.0.0.1:8080 (graphite-web).' },
  timeout: { type: 'duration', default: '30s', min: '100ms', max: '10m', doc: 'Deadline of one query; a slower one is abandoned and retried with backoff.' },
  max_rows: { type: 'int', default: 1_000_000, min: 1, doc: 'A query returning more rows fails (narrow it, or lower `chunk`): memory stays bounded.' },
  retry: {
    type: 'object',
    doc: 'Backoff after a failed run (source down, query error, downstream refused): the watermark stays; the same bounds are retried.',
    fields: {
      initial_interval: { type: 'duration', default: '1s', min: '10ms', doc: 'First backoff; doubles each failed attempt (±20 % jitter).' },
      max_interval: { type: 'duration', default: '5m', min: '10ms', doc: 'Longest backoff.' },
    },
  },
  importers: {
    type: 'array',
    required: true,
    minItems: 1,
    doc: 'The importers: each runs its query over [watermark, now) and feeds one metric.',
    items: {
      type: 'object',
      doc: 'one importer',
      fields: {
        name: {
          type: 'string',
          required: true,
          pattern: NAME_RE,
          patternHint: 'letters, digits, _ . -',
          doc: 'Importer name (unique in the receiver; names its watermark file and the test query).',
        },
        query: {
          type: 'string',
          required: true,
          nonEmpty: true,
          doc: 'SQL (postgres/redshift) or InfluxQL with `time >= $1 and time < $2`; $1/$2 are bound parameters (SQL) or time literals (InfluxQL). graphite: the render target (from/until are set from the bounds).',
        },
        value_column: { type: 'string', default: 'value', doc: 'Result column holding the value (graphite: always `value`).' },
        time_column: { type: 'string', default: 'time', doc: 'Result column holding the point time (graphite: always `time`).' },
        time_unit: {
          type: 'enum',
          values: TIME_UNITS,
          default: 'timestamp',
          doc: 'postgres/redshift: `timestamp` binds $1/$2 as UTC timestamps and reads timestamp columns (naive ones as UTC); s/ms/us/ns bind and read epoch numbers.',
        },
        attributes: {
          type: 'map',
          values: { type: 'string', doc: 'attribute name' },
          default: {},
          doc: 'Result column → point attribute, e.g. { version: app.version } (influxdb: GROUP BY tags are columns too; graphite: `target` and the series tags).',
        },
        metric: {
          type: 'object',
          doc: 'The metric the rows become.',
          fields: {
            name: { type: 'string', required: true, nonEmpty: true, doc: 'Metric name, e.g. minutes_played.' },
            unit: { type: 'string', default: '', doc: 'UCUM unit, e.g. "min", "{session}".' },
            description: { type: 'string', default: '', doc: 'Metric description.' },
            kind: {
              type: 'enum',
              values: ['gauge', 'delta_sum'],
              default: 'gauge',
              doc: 'gauge (a level) or delta_sum (an amount per row: sessions started, minutes played).',
            },
            monotonic: { type: 'boolean', default: true, doc: 'delta_sum only: the amounts are never negative.' },
            attributes: {
              type: 'map',
              values: { type: 'string', doc: 'value' },
              default: {},
              doc: 'Constant point attributes, e.g. { app.version: 3.16.2 } for a query filtered on one version.',
            },
          },
        },
        metric_group: {
          type: 'string',
          default: '',
          doc: "The metric group fed (the stability processor's group name); the scope carries metric.group = this.",
        },
        history: { type: 'duration', default: '7d', min: '0s', max: '3650d', doc: 'First start (no watermark yet): how far back $1 begins.' },
        period: { type: 'duration', default: '60s', min: '100ms', doc: 'How often to run once caught up.' },
        chunk: { type: 'duration', default: '1d', min: '1s', doc: 'Largest span one query covers: history is imported in chunks of this size.' },
        align: {
          type: 'duration',
          default: '1s',
          min: '1s',
          max: '1d',
          doc: "Bounds ($1, $2 and chunk ends) are multiples of this since the epoch. Set it to the query's bucket (GROUP BY time(1h), date_trunc('hour', ...)) so a bucket is never split between two runs and only complete buckets are imported.",
        },
        delay: {
          type: 'duration',
          default: '0s',
          max: '1d',
          doc: 'Safety margin: $2 is now minus this (for sources whose newest rows are still being written).',
        },
      },
    },
  },
  cluster: clusterRunField,
};

/** A duration in ms as the largest whole unit: 86400000 → "1d", 5400000 → "90m". */
function formatSpan(ms: number): string {
  for (const [u, n] of [
    ['w', 604_800_000],
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms >= n && ms % n === 0) return `${ms / n}${u}`;
  return `${ms}ms`;
}

/**
 * Why a test query may not span `sinceMs` (undefined: it may): at most the
 * importer's `chunk`, the most one of its real queries covers, so a test
 * never asks the source for more than a run would.
 */
export function testSpanProblem(spec: ImporterSpec, sinceMs: number): string | undefined {
  if (Number.isFinite(sinceMs) && sinceMs <= spec.chunk) return undefined;
  return `is longer than importer ${JSON.stringify(spec.name)} queries at once (its chunk: ${formatSpan(spec.chunk)}); use at most ${formatSpan(spec.chunk)}`;
}

export function validateImporterConfig(cfg: ImporterReceiverConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  (cfg.importers ?? []).forEach((imp, i) => {
    if (seen.has(imp.name)) issues.push({ path: `importers[${i}].name`, message: `duplicate importer name ${JSON.stringify(imp.name)}`, severity: 'error' });
    seen.add(imp.name);
    if (imp.align > 0 && imp.chunk % imp.align !== 0)
      issues.push({ path: `importers[${i}].chunk`, message: `must be a multiple of align (${imp.align / 1000}s)`, severity: 'error' });
    if (cfg.source !== 'graphite') {
      const missing = missingPlaceholders(imp.query);
      if (missing.length > 0) issues.push({ path: `importers[${i}].query`, message: placeholderMessage(missing), severity: 'error' });
    }
  });
  if ((cfg.source === 'influxdb' || cfg.source === 'graphite') && cfg.endpoint === '') {
    issues.push({
      path: 'endpoint',
      message: `is required for source ${cfg.source} (e.g. ${cfg.source === 'influxdb' ? 'http://127.0.0.1:8086' : 'http://127.0.0.1:8080'})`,
      severity: 'error',
    });
  }
  if (cfg.endpoint !== '' && !/^https?:\/\/[^/]/.test(cfg.endpoint))
    issues.push({ path: 'endpoint', message: 'expected an http:// or https:// URL', severity: 'error' });
  if (cfg.source === 'influxdb' && cfg.database === '')
    issues.push({ path: 'database', message: 'is required for source influxdb (the `db` to query)', severity: 'error' });
  if ((cfg.source === 'postgres' || cfg.source === 'redshift') && cfg.database === '')
    issues.push({ path: 'database', message: `is required for source ${cfg.source}`, severity: 'error' });
  if (cfg.retry !== undefined && cfg.retry.initial_interval > cfg.retry.max_interval)
    issues.push({ path: 'retry.initial_interval', message: 'must not exceed retry.max_interval', severity: 'error' });
  return issues;
}

/** `$1`/`$2` not followed by another digit ($10 is not $1). */
export function missingPlaceholders(query: string): Array<'$1' | '$2'> {
  const out: Array<'$1' | '$2'> = [];
  if (!/\$1(?!\d)/.test(query)) out.push('$1');
  if (!/\$2(?!\d)/.test(query)) out.push('$2');
  return out;
}

export function placeholderMessage(missing: string[]): string {
  return `the query has no ${missing.join(' and ')}: bound it with "time >= $1 and time < $2" ($1 = the watermark or now − history, $2 = now)`;
}

export function defaultPort(cfg: Pick<ImporterReceiverConfig, 'source' | 'port'>): number {
  return cfg.port !== 0 ? cfg.port : cfg.source === 'redshift' ? 5439 : 5432;
}

export function tlsMode(cfg: Pick<ImporterReceiverConfig, 'source' | 'tls'>): 'disable' | 'require' | 'verify' {
  return cfg.tls.mode !== '' ? cfg.tls.mode : cfg.source === 'redshift' ? 'verify' : 'disable';
}
