/**
 * Metric sources: run one importer's query over [from, to) and return rows.
 * PostgreSQL and Redshift through `pg` (bound parameters, never string
 * interpolation), InfluxDB 1.x through GET /query (epoch=ms), graphite-web
 * through GET /render?format=json. Created in the receiver's start(); no
 * connection is made before the first query.
 */
import { readFileSync } from 'node:fs';
import type { Pool, QueryArrayResult } from 'pg';
import type { ImporterReceiverConfig, ImporterSpec, TimeUnit } from './config.js';
import { defaultPort, tlsMode } from './config.js';
import { bindInfluxQL, graphiteRange, graphiteRows, influxRows, SourceQueryError, sqlParams, type ResultSet } from './map.js';

export interface Source {
  /** the time unit rows of this source carry (SQL: the importer's; influxdb: ms; graphite: s) */
  timeUnit(spec: ImporterSpec): TimeUnit;
  query(spec: ImporterSpec, fromMs: number, toMs: number, signal: AbortSignal): Promise<ResultSet>;
  /** what goes to the source for these bounds (for the test query: the SQL and its parameters, the InfluxQL, the render URL without credentials) */
  describe(spec: ImporterSpec, fromMs: number, toMs: number): Record<string, unknown>;
  close(): Promise<void>;
}

export function createSource(cfg: ImporterReceiverConfig, id = 'importer'): Source {
  switch (cfg.source) {
    case 'postgres':
    case 'redshift':
      return new PgSource(cfg, id);
    case 'influxdb':
      return new InfluxSource(cfg);
    case 'graphite':
      return new GraphiteSource(cfg);
  }
}

/** Replace the password (and its URL-encoded form) wherever it could appear. */
export function scrubber(secret: string): (s: string) => string {
  if (secret === '') return (s) => s;
  const forms = [...new Set([secret, encodeURIComponent(secret)])];
  return (s) => {
    let out = s;
    for (const f of forms) out = out.split(f).join('[REDACTED]');
    return out;
  };
}

function withTimeout(signal: AbortSignal, ms: number): AbortSignal {
  return AbortSignal.any([signal, AbortSignal.timeout(ms)]);
}

// timestamp without time zone (OID 1114) is read as UTC, whatever TZ the process runs in
const TIMESTAMP_OID = 1114;
/** `pg` is loaded on the first query, so configs without SQL sources don't pay for it (idle RSS). */
async function loadPg(): Promise<typeof import('pg').default> {
  return (await import('pg')).default;
}

class PgSource implements Source {
  private pool: Promise<Pool> | undefined;
  private closed = false;

  constructor(
    private readonly cfg: ImporterReceiverConfig,
    private readonly id: string,
  ) {}

  private getPool(): Promise<Pool> {
    this.pool ??= this.createPool();
    return this.pool;
  }

  private async createPool(): Promise<Pool> {
    const pg = await loadPg();
    const cfg = this.cfg;
    const pgTypes = {
      getTypeParser(oid: number, format?: 'text' | 'binary') {
        if (oid === TIMESTAMP_OID && format !== 'binary') return (v: string) => new Date(`${v.replace(' ', 'T')}Z`);
        return (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format) as never;
      },
    };
    const mode = tlsMode(cfg);
    const ssl =
      mode === 'disable'
        ? false
        : mode === 'require'
          ? { rejectUnauthorized: false }
          : { rejectUnauthorized: true, ...(cfg.tls.ca_file !== '' ? { ca: readFileSync(cfg.tls.ca_file, 'utf8') } : {}) };
    const id = this.id;
    const pool = new pg.Pool({
      host: cfg.host,
      port: defaultPort(cfg),
      database: cfg.database,
      user: cfg.user === '' ? undefined : cfg.user,
      password: cfg.password === '' ? undefined : cfg.password,
      ssl,
      max: 2,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: cfg.timeout,
      query_timeout: cfg.timeout,
      statement_timeout: cfg.timeout,
      application_name: `metricport ${id}`.slice(0, 63),
      types: pgTypes as never,
    });
    // an idle client losing its connection must not crash the process
    pool.on('error', () => undefined);
    return pool;
  }

  timeUnit(spec: ImporterSpec): TimeUnit {
    return spec.time_unit;
  }

  describe(spec: ImporterSpec, fromMs: number, toMs: number): Record<string, unknown> {
    return { sql: spec.query, params: sqlParams(fromMs, toMs, spec.time_unit) };
  }

  async query(spec: ImporterSpec, fromMs: number, toMs: number, signal: AbortSignal): Promise<ResultSet> {
    if (signal.aborted) throw new Error('aborted');
    // $1 and $2 travel as bound parameters of the extended protocol: the query text is sent as written
    if (this.closed) throw new Error('the source is closed');
    const pool = await this.getPool();
    let res: QueryArrayResult;
    try {
      res = await pool.query({ text: spec.query, values: sqlParams(fromMs, toMs, spec.time_unit), rowMode: 'array' });
    } catch (e) {
      const err = e as Error & { code?: string; position?: string; severity?: string };
      // SQLSTATE from the server: the source refused the query itself (syntax, undefined table or column, types)
      if (typeof err.code === 'string' && /^[0-9A-Z]{5}$/.test(err.code) && err.severity !== undefined) {
        throw new SourceQueryError(
          `${err.severity}: ${err.message} (SQLSTATE ${err.code}${err.position !== undefined ? `, at character ${err.position}` : ''})`,
        );
      }
      throw e;
    }
    if (res.rows.length > this.cfg.max_rows)
      throw new Error(`the query returned ${res.rows.length} rows, more than max_rows ${this.cfg.max_rows}: lower chunk or aggregate in the query`);
    return { columns: res.fields.map((f) => f.name), rows: res.rows };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pool === undefined) return;
    const pool = await this.pool.catch(() => undefined);
    await pool?.end().catch(() => undefined);
  }
}

class HttpSource {
  constructor(protected readonly cfg: ImporterReceiverConfig) {}

  protected headers(): Record<string, string> {
    const h: Record<string, string> = { Accept: 'application/json' };
    if (this.cfg.user !== '' || this.cfg.password !== '') h.Authorization = `Basic ${Buffer.from(`${this.cfg.user}:${this.cfg.password}`).toString('base64')}`;
    return h;
  }

  protected async get(url: string, signal: AbortSignal): Promise<{ status: number; text: string }> {
    const res = await fetch(url, { headers: this.headers(), signal: withTimeout(signal, this.cfg.timeout) });
    const text = await res.text();
    return { status: res.status, text };
  }

  protected base(): string {
    return this.cfg.endpoint.replace(/\/+$/, '');
  }
}

class InfluxSource extends HttpSource implements Source {
  timeUnit(): TimeUnit {
    return 'ms';
  }

  private url(spec: ImporterSpec, fromMs: number, toMs: number): string {
    return `${this.base()}/query?${new URLSearchParams({ db: this.cfg.database, epoch: 'ms', q: bindInfluxQL(spec.query, fromMs, toMs) })}`;
  }

  describe(spec: ImporterSpec, fromMs: number, toMs: number): Record<string, unknown> {
    return { influxql: bindInfluxQL(spec.query, fromMs, toMs), db: this.cfg.database };
  }

  async query(spec: ImporterSpec, fromMs: number, toMs: number, signal: AbortSignal): Promise<ResultSet> {
    const { status, text } = await this.get(this.url(spec, fromMs, toMs), signal);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`influxdb answered HTTP ${status} without JSON: ${text.slice(0, 200)}`);
    }
    if (status >= 500) throw new Error(`influxdb answered HTTP ${status}: ${(body as { error?: string }).error ?? text.slice(0, 200)}`);
    if (status === 401 || status === 403) throw new Error(`influxdb answered HTTP ${status}: check user and password`);
    const rs = influxRows(body); // 400 carries {"error": "error parsing query: ..."}
    if (status >= 400) throw new SourceQueryError(`influxdb answered HTTP ${status}`);
    if (rs.rows.length > this.cfg.max_rows) throw new Error(`the query returned ${rs.rows.length} rows, more than max_rows ${this.cfg.max_rows}`);
    return rs;
  }

  async close(): Promise<void> {}
}

class GraphiteSource extends HttpSource implements Source {
  timeUnit(): TimeUnit {
    return 's';
  }

  private url(spec: ImporterSpec, fromMs: number, toMs: number): string {
    const { from, until } = graphiteRange(fromMs, toMs);
    return `${this.base()}/render?${new URLSearchParams({ target: spec.query, from: String(from), until: String(until), format: 'json' })}`;
  }

  describe(spec: ImporterSpec, fromMs: number, toMs: number): Record<string, unknown> {
    return { render: this.url(spec, fromMs, toMs) };
  }

  async query(spec: ImporterSpec, fromMs: number, toMs: number, signal: AbortSignal): Promise<ResultSet> {
    const { status, text } = await this.get(this.url(spec, fromMs, toMs), signal);
    if (status === 400) throw new SourceQueryError(`graphite-web answered HTTP 400: ${firstLine(text)}`);
    if (status >= 400) throw new Error(`graphite-web answered HTTP ${status}: ${firstLine(text)}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`graphite-web answered without JSON: ${firstLine(text)}`);
    }
    const rs = graphiteRows(body);
    if (rs.rows.length > this.cfg.max_rows) throw new Error(`the query returned ${rs.rows.length} rows, more than max_rows ${this.cfg.max_rows}`);
    return rs;
  }

  async close(): Promise<void> {}
}

function firstLine(text: string): string {
  const t = text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return t.slice(0, 300);
}
