/**
 * A small schema language for component configs: every option has a type, a
 * default and a doc line. The same schema validates user YAML (defaults first,
 * user values on top, unknown keys rejected, every issue with its key path),
 * lists options for `metricport components`, and marks secrets for redaction.
 */
import type { ConfigIssue } from '../errors.js';

export type Field =
  | { type: 'string'; default?: string; doc: string; required?: boolean; secret?: boolean; pattern?: RegExp; patternHint?: string; nonEmpty?: boolean }
  | { type: 'int' | 'number'; default?: number; doc: string; required?: boolean; min?: number; max?: number }
  | { type: 'boolean'; default?: boolean; doc: string; required?: boolean }
  /** a duration: "250ms", "10s", "5m", "1h", "7d", or a number of seconds; value in milliseconds */
  | { type: 'duration'; default?: string | number; doc: string; required?: boolean; min?: string | number; max?: string | number }
  /** a size: "64MiB", "512KB", "1000", or a number of bytes; value in bytes */
  | { type: 'bytes'; default?: string | number; doc: string; required?: boolean; min?: string | number; max?: string | number }
  | { type: 'enum'; values: readonly string[]; default?: string; doc: string; required?: boolean }
  /** host:port; value kept as given ("127.0.0.1:4318", ":4318", "[::1]:4318") */
  | { type: 'endpoint'; default?: string; doc: string; required?: boolean }
  /** a URL with http or https scheme */
  | { type: 'url'; default?: string; doc: string; required?: boolean }
  /** a JavaScript regular expression source; compiled at validation */
  | { type: 'regex'; default?: string; doc: string; required?: boolean }
  | { type: 'object'; fields: Record<string, Field>; doc: string; required?: boolean; optional?: boolean }
  | { type: 'array'; items: Field; default?: unknown[]; doc: string; required?: boolean; minItems?: number }
  /** string-keyed map of one value type, e.g. headers */
  | { type: 'map'; values: Field; default?: Record<string, unknown>; doc: string; required?: boolean; secretValues?: boolean }
  /** anything; validated by the component's own validate() */
  | { type: 'any'; default?: unknown; doc: string; required?: boolean };

export type Schema = Record<string, Field>;

export interface ValidationResult<T = Record<string, unknown>> {
  value: T;
  issues: ConfigIssue[];
}

const DURATION_RE = /^\s*(-?\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s|m|h|d|w)?\s*$/;
/** duration units and their length in ms (src/config/jsonschema.ts builds its pattern from these) */
export const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** Parse a duration to milliseconds. Numbers are seconds. Accepts Go-style compounds like "1h30m". */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v * 1000;
  if (typeof v !== 'string') return undefined;
  const m = DURATION_RE.exec(v);
  if (m) return Number(m[1]) * (DURATION_UNITS[m[2] ?? 's'] as number);
  const parts = v.trim().match(/^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|w))+$/);
  if (!parts) return undefined;
  let total = 0;
  for (const p of v.trim().matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)/g)) total += Number(p[1]) * (DURATION_UNITS[p[2] as string] as number);
  return total;
}

const BYTES_RE = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib|k|m|g)?\s*$/i;
/** size units (case-insensitive) and their bytes */
export const BYTES_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1e6,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1e9,
  gib: 1024 ** 3,
};

export function parseBytes(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.floor(v);
  if (typeof v !== 'string') return undefined;
  const m = BYTES_RE.exec(v);
  if (!m) return undefined;
  return Math.floor(Number(m[1]) * (BYTES_UNITS[(m[2] ?? 'b').toLowerCase()] as number));
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** the candidate closest to `key` by edit distance, when close enough to be a likely typo */
export function closest(key: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(key.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0] as number;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j] as number;
      dp[j] = Math.min((dp[j] as number) + 1, (dp[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length] as number;
}

/** Validate `input` (user YAML, possibly undefined) against a schema, filling defaults. */
export function validateSchema(schema: Schema, input: unknown, path: string): ValidationResult {
  const issues: ConfigIssue[] = [];
  const value = validateObject(schema, input ?? {}, path, issues);
  return { value: value ?? {}, issues };
}

function validateObject(fields: Schema, input: unknown, path: string, issues: ConfigIssue[]): Record<string, unknown> | undefined {
  if (!isPlainObject(input)) {
    issues.push({ path, message: `expected a mapping, got ${typeName(input)}`, severity: 'error' });
    return undefined;
  }
  const out: Record<string, unknown> = {};
  const known = Object.keys(fields);
  for (const key of Object.keys(input)) {
    if (!(key in fields)) {
      const hint = closest(key, known);
      issues.push({
        path: join(path, key),
        message: `unknown key "${key}"${hint ? `; did you mean "${hint}"?` : ''} (valid keys: ${known.join(', ') || 'none'})`,
        severity: 'error',
      });
    }
  }
  for (const key of known) {
    const f = fields[key] as Field;
    const v = validateField(f, (input as Record<string, unknown>)[key], join(path, key), issues);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

function validateField(f: Field, v: unknown, path: string, issues: ConfigIssue[]): unknown {
  if (v === undefined || v === null) {
    if (f.type === 'object') {
      if (f.optional && v === undefined) return undefined;
      return validateObject(f.fields, {}, path, issues);
    }
    if ('default' in f && f.default !== undefined) return validateField({ ...f, default: undefined } as Field, f.default, path, issues);
    if (f.required) issues.push({ path, message: `is required (${f.doc})`, severity: 'error' });
    return undefined;
  }
  const err = (message: string): undefined => {
    issues.push({ path, message, severity: 'error' });
    return undefined;
  };
  switch (f.type) {
    case 'string': {
      if (typeof v === 'number' || typeof v === 'boolean') v = String(v);
      if (typeof v !== 'string') return err(`expected a string, got ${typeName(v)}`);
      if (f.nonEmpty && v === '') return err('must not be empty');
      if (f.pattern && !f.pattern.test(v)) return err(`${f.secret ? 'value' : JSON.stringify(v)} does not match ${f.patternHint ?? f.pattern.source}`);
      return v;
    }
    case 'int':
    case 'number': {
      let n = v;
      if (typeof n === 'string' && n.trim() !== '' && Number.isFinite(Number(n))) n = Number(n);
      if (typeof n !== 'number' || !Number.isFinite(n)) return err(`expected a number, got ${typeName(v)}`);
      if (f.type === 'int' && !Number.isInteger(n)) return err(`expected an integer, got ${n}`);
      if (f.min !== undefined && n < f.min) return err(`must be at least ${f.min}, got ${n}`);
      if (f.max !== undefined && n > f.max) return err(`must be at most ${f.max}, got ${n}`);
      return n;
    }
    case 'boolean': {
      if (v === 'true') return true;
      if (v === 'false') return false;
      if (typeof v !== 'boolean') return err(`expected true or false, got ${typeName(v)}`);
      return v;
    }
    case 'duration': {
      const ms = parseDuration(v);
      if (ms === undefined || ms < 0) return err(`expected a duration like "250ms", "10s", "5m", "1h" or a number of seconds, got ${typeName(v)}`);
      const min = f.min !== undefined ? parseDuration(f.min) : undefined;
      const max = f.max !== undefined ? parseDuration(f.max) : undefined;
      if (min !== undefined && ms < min) return err(`must be at least ${f.min}, got ${JSON.stringify(v)}`);
      if (max !== undefined && ms > max) return err(`must be at most ${f.max}, got ${JSON.stringify(v)}`);
      return ms;
    }
    case 'bytes': {
      const b = parseBytes(v);
      if (b === undefined) return err(`expected a size like "512KiB", "64MiB" or a number of bytes, got ${typeName(v)}`);
      const min = f.min !== undefined ? parseBytes(f.min) : undefined;
      const max = f.max !== undefined ? parseBytes(f.max) : undefined;
      if (min !== undefined && b < min) return err(`must be at least ${f.min}, got ${JSON.stringify(v)}`);
      if (max !== undefined && b > max) return err(`must be at most ${f.max}, got ${JSON.stringify(v)}`);
      return b;
    }
    case 'enum': {
      if (typeof v !== 'string' || !f.values.includes(v))
        return err(`expected one of ${f.values.map((x) => JSON.stringify(x)).join(', ')}, got ${typeName(v)}`);
      return v;
    }
    case 'endpoint': {
      if (typeof v !== 'string') return err(`expected host:port, got ${typeName(v)}`);
      if (parseEndpoint(v) === undefined) return err(`expected host:port (e.g. "127.0.0.1:4318", "0.0.0.0:4318", "[::1]:4318"), got ${JSON.stringify(v)}`);
      return v;
    }
    case 'url': {
      if (typeof v !== 'string') return err(`expected a URL, got ${typeName(v)}`);
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        return err(`expected an http:// or https:// URL, got ${JSON.stringify(v)}`);
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return err(`expected an http:// or https:// URL, got scheme "${u.protocol}"`);
      return v;
    }
    case 'regex': {
      if (typeof v !== 'string') return err(`expected a regular expression string, got ${typeName(v)}`);
      try {
        new RegExp(v);
      } catch (e) {
        return err(`invalid regular expression: ${(e as Error).message}`);
      }
      return v;
    }
    case 'object':
      return validateObject(f.fields, v, path, issues);
    case 'array': {
      if (!Array.isArray(v)) return err(`expected a list, got ${typeName(v)}`);
      if (f.minItems !== undefined && v.length < f.minItems) return err(`needs at least ${f.minItems} item(s)`);
      return v.map((item, i) => validateField(f.items, item, join(path, i), issues));
    }
    case 'map': {
      if (!isPlainObject(v)) return err(`expected a mapping, got ${typeName(v)}`);
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = validateField(f.values, x, join(path, k), issues);
      return out;
    }
    case 'any':
      return v;
  }
}

/** Split "host:port" into parts; undefined when malformed. An empty host means all interfaces. */
export function parseEndpoint(s: string): { host: string; port: number } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2] ?? '', port };
}

/** Replace every secret value in a validated config with "[REDACTED]". */
export function redact(schema: Schema, cfg: unknown): unknown {
  if (!isPlainObject(cfg)) return cfg;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cfg)) {
    const f = schema[k];
    out[k] = f === undefined ? v : redactField(f, v);
  }
  return out;
}

function redactField(f: Field, v: unknown): unknown {
  if (v === undefined || v === null) return v;
  if (f.type === 'string' && f.secret) return v === '' ? '' : '[REDACTED]';
  if (f.type === 'object') return redact(f.fields, v);
  if (f.type === 'array' && Array.isArray(v)) return v.map((x) => redactField(f.items, x));
  if (f.type === 'map' && isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = f.secretValues ? '[REDACTED]' : redactField(f.values, x);
    return out;
  }
  return v;
}

/** Flatten a schema into rows for `metricport components` and the docs. */
export interface OptionRow {
  key: string;
  type: string;
  default: string;
  doc: string;
  secret: boolean;
}

export function describeSchema(schema: Schema, prefix = ''): OptionRow[] {
  const rows: OptionRow[] = [];
  for (const [k, f] of Object.entries(schema)) {
    const key = prefix === '' ? k : `${prefix}.${k}`;
    if (f.type === 'object') {
      rows.push({ key, type: 'object', default: '', doc: f.doc, secret: false });
      rows.push(...describeSchema(f.fields, key));
      continue;
    }
    let type: string = f.type;
    if (f.type === 'enum') type = f.values.map((x) => JSON.stringify(x)).join(' | ');
    if (f.type === 'array') type = `list of ${f.items.type === 'object' ? 'objects' : f.items.type}`;
    if (f.type === 'map') type = `map of ${f.values.type}`;
    const d = 'default' in f && f.default !== undefined ? JSON.stringify(f.default) : f.required ? '(required)' : '';
    rows.push({ key, type, default: d, doc: f.doc, secret: f.type === 'string' ? Boolean(f.secret) : f.type === 'map' ? Boolean(f.secretValues) : false });
    if (f.type === 'array' && f.items.type === 'object') rows.push(...describeSchema(f.items.fields, `${key}[]`));
  }
  return rows;
}
