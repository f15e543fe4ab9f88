/**
 * Store points → InfluxDB line protocol (protocols.md §5). Pure.
 *
 * `measurement[,tag=v...] field=v[,...] timestamp`, one line per point:
 * measurement = metric name; tags = the selected resource attributes and the
 * point attributes, sorted by key, empty values omitted; fields:
 * - gauge, sum → `value` (integer `42i` when the source sent integers, else float);
 * - histogram → `count` (int), `sum`, `min`/`max` when known, `le_<bound>` cumulative bucket counts (int, `le_+Inf` last);
 * - summary → `count` (int), `sum`, `quantile_<q>`.
 * Escaping: measurement — comma, space; tag keys/values and field keys —
 * comma, `=`, space; string field values — `"` and `\`. Newlines (never
 * allowed) become spaces. NaN/±Inf floats cannot be written: dropped, counted.
 */
import { valueToString } from '../../src/model/attributes.js';
import type { Attributes } from '../../src/model/metrics.js';
import type { StorePoint } from '../../src/storehelper/accumulator.js';

export type Precision = 'ns' | 'us' | 'ms' | 's';
const DIV: Record<Precision, bigint> = { ns: 1n, us: 1_000n, ms: 1_000_000n, s: 1_000_000_000n };

/**
 * InfluxDB 1.x's parser skips the character after every backslash but
 * unescapes only `\` + a special character, so a backslash that ends a token
 * or precedes a special character cannot be written at all (checked against
 * InfluxDB 1.6: both `v\` and `v\\` fail or change the value). Such a
 * backslash becomes `_`; every other backslash is written as is.
 */
function escapeWith(s: string, special: RegExp, badBackslash: RegExp): string {
  return s
    .replace(/[\r\n]/g, ' ')
    .replace(badBackslash, '_')
    .replace(special, '\\$1');
}
const M_SPECIAL = /[\r\n, \\]/;
const K_SPECIAL = /[\r\n,= \\]/;
function escapeMeasurement(s: string): string {
  return M_SPECIAL.test(s) ? escapeWith(s, /([, ])/g, /\\(?=[, ]|$)/g) : s;
}
function escapeKey(s: string): string {
  return K_SPECIAL.test(s) ? escapeWith(s, /([,= ])/g, /\\(?=[,= ]|$)/g) : s;
}

/** a float field value; undefined for NaN/Inf */
function formatFloat(v: number): string | undefined {
  if (!Number.isFinite(v)) return undefined;
  return String(v);
}

/** measurement + tags per series, computed once (series metadata is shared by all its points) */
const keyCache = new WeakMap<object, string>();

function seriesKey(p: StorePoint): string {
  let k = keyCache.get(p.meta);
  if (k === undefined) {
    k = escapeMeasurement(p.meta.name) + tagsOf(p);
    keyCache.set(p.meta, k);
  }
  return k;
}

function tagsOf(p: StorePoint): string {
  const m = new Map<string, string>();
  const add = (a: Attributes): void => {
    for (const k in a) {
      const s = valueToString(a[k] ?? null);
      if (s !== '' && k !== '') m.set(k, s);
      else m.delete(k);
    }
  };
  add(p.meta.resource);
  add(p.meta.attrs);
  const keys = [...m.keys()].sort();
  let out = '';
  for (const k of keys) out += ',' + escapeKey(k) + '=' + escapeKey(m.get(k) as string);
  return out;
}

export interface InfluxEncodeOptions {
  precision: Precision;
  fieldName: string;
}

/** One point's line (no newline), or undefined when it has no writable field. */
function encodeLine(p: StorePoint, o: InfluxEncodeOptions): string | undefined {
  const fields: string[] = [];
  const f = (k: string, v: number | bigint, int = false): void => {
    if (typeof v === 'bigint') {
      fields.push(escapeKey(k) + '=' + v.toString() + 'i');
      return;
    }
    if (int && Number.isInteger(v)) {
      fields.push(escapeKey(k) + '=' + String(v) + 'i');
      return;
    }
    const s = formatFloat(v);
    if (s !== undefined) fields.push(escapeKey(k) + '=' + s);
  };
  if (p.meta.kind === 'histogram' && p.hist !== undefined) {
    const h = p.hist;
    f('count', h.count, true);
    f('sum', h.sum);
    if (h.min !== undefined) f('min', h.min);
    if (h.max !== undefined) f('max', h.max);
    let cum = 0;
    for (let i = 0; i < h.counts.length; i++) {
      cum += h.counts[i] as number;
      f('le_' + (i < h.bounds.length ? String(h.bounds[i]) : '+Inf'), cum, true);
    }
  } else if (p.meta.kind === 'summary' && p.summary !== undefined) {
    f('count', p.summary.count, true);
    f('sum', p.summary.sum);
    for (const q of p.summary.quantiles) f('quantile_' + String(q.quantile), q.value);
  } else {
    f(o.fieldName, p.value);
  }
  if (fields.length === 0) return undefined;
  return seriesKey(p) + ' ' + fields.join(',') + ' ' + (p.time / DIV[o.precision]).toString();
}

export function encodeLines(points: readonly StorePoint[], o: InfluxEncodeOptions): { text: string; n: number; nan: number } {
  let text = '';
  let n = 0;
  let nan = 0;
  for (const p of points) {
    const l = encodeLine(p, o);
    if (l === undefined) {
      nan++;
      continue;
    }
    text += l + '\n';
    n++;
  }
  return { text, n, nan };
}
