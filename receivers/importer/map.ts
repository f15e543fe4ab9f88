/**
 * Pure translation for importers: bounds into query text or parameters, and
 * result rows into a MetricsBatch. No I/O; tested as data.
 */
import type { Attributes, MetricsBatch, NumberDataPoint } from '../../src/model/index.js';
import type { ImporterSpec, TimeUnit } from './config.js';

/** A result: column names and rows of values (one shape for every source). */
export interface ResultSet {
  columns: string[];
  rows: unknown[][];
}

const SCOPE_NAME = 'metricport/importer';

const UNIT_NS: Record<Exclude<TimeUnit, 'timestamp'>, bigint> = { s: 1_000_000_000n, ms: 1_000_000n, us: 1_000n, ns: 1n };

/** SQL parameters for [fromMs, toMs): UTC ISO strings, or epoch integers in `unit`. */
export function sqlParams(fromMs: number, toMs: number, unit: TimeUnit): [string, string] {
  if (unit === 'timestamp') return [new Date(fromMs).toISOString(), new Date(toMs).toISOString()];
  const ns = (ms: number) => BigInt(ms) * 1_000_000n;
  return [String(ns(fromMs) / UNIT_NS[unit]), String(ns(toMs) / UNIT_NS[unit])];
}

/**
 * InfluxQL with $1/$2 replaced by RFC 3339 time literals, which we generate
 * ourselves (digits, '-', ':', '.', 'T', 'Z' only): nothing from a config or a
 * row reaches the query text.
 */
export function bindInfluxQL(query: string, fromMs: number, toMs: number): string {
  const lit = (ms: number) => `'${new Date(ms).toISOString()}'`;
  return query.replace(/\$([12])(?!\d)/g, (_m, d: string) => (d === '1' ? lit(fromMs) : lit(toMs)));
}

/**
 * graphite-web's render API covers (from, until] in whole seconds; [fromMs,
 * toMs) is asked for as from = ⌈fromMs⌉s − 1, until = ⌈toMs⌉s − 1, and rows are
 * also filtered to [fromMs, toMs) by their time.
 */
export function graphiteRange(fromMs: number, toMs: number): { from: number; until: number } {
  return { from: Math.ceil(fromMs / 1000) - 1, until: Math.ceil(toMs / 1000) - 1 };
}

/** graphite-web `format=json` → rows of (target, tags as columns, value, time in s). */
export function graphiteRows(body: unknown): ResultSet {
  if (!Array.isArray(body)) throw new Error('graphite render answered something other than a JSON list');
  const tagKeys = new Set<string>();
  for (const s of body as Array<{ tags?: Record<string, string> } | null>) {
    const t = s?.tags;
    if (t !== null && typeof t === 'object') for (const k of Object.keys(t)) tagKeys.add(k);
  }
  const tags = [...tagKeys].filter((k) => k !== 'target' && k !== 'value' && k !== 'time').sort();
  const columns = ['target', ...tags, 'value', 'time'];
  const rows: unknown[][] = [];
  for (const s of body as Array<{ target?: string; tags?: Record<string, string>; datapoints?: Array<[number | null, number]> } | null>) {
    if (s === null || typeof s !== 'object' || !Array.isArray(s.datapoints)) continue;
    for (const dp of s.datapoints) {
      if (!Array.isArray(dp) || dp[0] === null || dp[0] === undefined) continue;
      rows.push([s.target ?? '', ...tags.map((k) => s.tags?.[k] ?? null), dp[0], dp[1]]);
    }
  }
  return { columns, rows };
}

/** InfluxDB 1.x /query JSON (epoch=ms) → rows: GROUP BY tags become columns, then the series columns. */
export function influxRows(body: unknown): ResultSet {
  type Series = { name?: unknown; tags?: unknown; columns?: unknown; values?: unknown };
  const obj = (v: unknown): Record<string, unknown> | undefined =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
  const b = obj(body);
  const emptyIsNamed = (m: string) => (m === '' ? 'InfluxDB answered an error without a message' : m);
  if (typeof b?.error === 'string') throw new SourceQueryError(emptyIsNamed(b.error));
  if (b?.results !== undefined && !Array.isArray(b.results)) throw new SourceQueryError('InfluxDB answered "results" that is not a list');
  const results = list(b?.results)
    .map(obj)
    .filter((r): r is Record<string, unknown> => r !== undefined);
  const bad = results.find((r) => typeof r.error === 'string');
  if (bad) throw new SourceQueryError(emptyIsNamed(bad.error as string));
  const series: Series[] = [];
  for (const r of results)
    for (const s of list(r.series)) {
      const o = obj(s);
      if (o !== undefined) series.push(o);
    }
  const tagsOf = (s: Series): Record<string, unknown> => obj(s.tags) ?? {};
  const tagKeys = new Set<string>();
  let cols: string[] | undefined;
  for (const s of series) {
    for (const k of Object.keys(tagsOf(s))) tagKeys.add(k);
    if (cols === undefined && Array.isArray(s.columns)) cols = s.columns.map(String);
  }
  const tags = [...tagKeys].sort();
  const valueCols = cols ?? [];
  const columns = ['measurement', ...tags, ...valueCols];
  const rows: unknown[][] = [];
  for (const s of series) {
    const own = Array.isArray(s.columns) ? s.columns.map(String) : [];
    const idx = valueCols.map((c) => own.indexOf(c));
    const t = tagsOf(s);
    for (const v of list(s.values)) {
      if (!Array.isArray(v)) continue;
      rows.push([typeof s.name === 'string' ? s.name : '', ...tags.map((k) => t[k] ?? null), ...idx.map((i) => (i < 0 ? null : v[i]))]);
    }
  }
  return { columns, rows };
}

/** The source itself refused the query (syntax error, unknown table): shown as is by the test query. */
export class SourceQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceQueryError';
  }
}

/** Point time of a row value in ns: Date, ISO string, or a number in `unit` (graphite: s; influxdb: ms). */
export function rowTimeNs(v: unknown, unit: TimeUnit): bigint | undefined {
  if (v instanceof Date) {
    const ms = v.getTime();
    return Number.isFinite(ms) ? BigInt(ms) * 1_000_000n : undefined;
  }
  if (unit === 'timestamp') {
    if (typeof v === 'string') {
      const ms = Date.parse(/[zZ]|[+-]\d\d(:?\d\d)?$/.test(v) ? v : `${v.replace(' ', 'T')}Z`);
      return Number.isFinite(ms) ? BigInt(ms) * 1_000_000n : undefined;
    }
    return undefined;
  }
  if (typeof v === 'bigint') return v * UNIT_NS[unit];
  if (typeof v === 'number' && Number.isFinite(v)) {
    if (Number.isInteger(v)) return BigInt(v) * UNIT_NS[unit];
    return BigInt(Math.round(v * Number(UNIT_NS[unit])));
  }
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return BigInt(v.trim()) * UNIT_NS[unit];
  return undefined;
}

/** ISO-8601 when the time fits a Date (±275760 years), else `<n> ns` (a garbage time must not throw) */
function isoOrNs(t: bigint): string {
  const ms = Number(t / 1_000_000n);
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${t} ns`;
}

function rowValue(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

export interface MappedRows {
  batch: MetricsBatch;
  points: number;
  /** rows skipped: no value (null, non-numeric), no time, or outside [from, to) */
  skipped: number;
  /** why the first skipped row was skipped */
  firstSkip?: string;
}

/**
 * Rows → one metric. Value and time columns must exist (a missing one is an
 * error naming the columns there are); attribute columns that are missing are
 * an error too; a NULL attribute value leaves the attribute out (a metric
 * group's default then applies).
 */
export function mapRows(rs: ResultSet, spec: ImporterSpec, timeUnit: TimeUnit, fromMs: number, toMs: number, receiverId: string): MappedRows {
  const col = (name: string, what: string): number => {
    const i = rs.columns.indexOf(name);
    // an empty result may not name its columns (InfluxDB without series, graphite without targets)
    if (i < 0 && rs.rows.length > 0)
      throw new MappingError(
        `${what} column ${JSON.stringify(name)} is not in the result (columns: ${rs.columns.map((c) => JSON.stringify(c)).join(', ') || 'none'})`,
      );
    return i;
  };
  const vi = col(spec.value_column, 'the value');
  const ti = col(spec.time_column, 'the time');
  const attrCols = Object.entries(spec.attributes).map(([c, a]) => [col(c, `the attribute ${JSON.stringify(a)}'s`), a] as const);
  const constant = Object.entries(spec.metric.attributes);
  const fromNs = BigInt(fromMs) * 1_000_000n;
  const toNs = BigInt(toMs) * 1_000_000n;
  const points: NumberDataPoint[] = [];
  let skipped = 0;
  let firstSkip: string | undefined;
  const skip = (why: string) => {
    skipped++;
    firstSkip ??= why;
  };
  for (const row of rs.rows) {
    const t = rowTimeNs(row[ti], timeUnit);
    if (t === undefined) {
      skip(`time ${JSON.stringify(String(row[ti]))} is not a time`);
      continue;
    }
    if (t < fromNs || t >= toNs) {
      skip(`time ${isoOrNs(t)} is outside [$1, $2)`);
      continue;
    }
    const v = rowValue(row[vi]);
    if (v === undefined) {
      skip(`value ${row[vi] === null || row[vi] === undefined ? 'NULL' : JSON.stringify(String(row[vi]))} is not a number`);
      continue;
    }
    const attributes: Attributes = {};
    for (const [k, val] of constant) attributes[k] = val;
    for (const [i, name] of attrCols) {
      const a = row[i];
      if (a === null || a === undefined) continue;
      attributes[name] = a instanceof Date ? (Number.isFinite(a.getTime()) ? a.toISOString() : 'invalid date') : String(a);
    }
    points.push({ attributes, startTimeUnixNano: spec.metric.kind === 'delta_sum' ? t : 0n, timeUnixNano: t, flags: 0, value: v });
  }
  const m = spec.metric;
  const metric =
    m.kind === 'delta_sum'
      ? { kind: 'sum' as const, name: m.name, unit: m.unit, description: m.description, temporality: 1 as const, isMonotonic: m.monotonic, points }
      : { kind: 'gauge' as const, name: m.name, unit: m.unit, description: m.description, points };
  const scopeAttrs: Attributes = { 'importer.name': spec.name, 'importer.receiver': receiverId };
  if (spec.metric_group !== '') scopeAttrs['metric.group'] = spec.metric_group;
  const batch: MetricsBatch = {
    resourceMetrics: [
      {
        schemaUrl: '',
        resource: { attributes: {}, droppedAttributesCount: 0 },
        scopeMetrics: [{ schemaUrl: '', scope: { name: SCOPE_NAME, version: '', attributes: scopeAttrs, droppedAttributesCount: 0 }, metrics: [metric] }],
      },
    ],
  };
  return { batch, points: points.length, skipped, ...(firstSkip !== undefined ? { firstSkip } : {}) };
}

/** The rows do not fit the mapping (a column is missing). */
export class MappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingError';
  }
}
