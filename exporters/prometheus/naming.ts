/**
 * OTLP → Prometheus names, per the OpenTelemetry "Prometheus and OpenMetrics
 * compatibility" spec (and collector-contrib's pkg/translator/prometheus):
 *
 * - metric names: every run of characters outside `[a-zA-Z0-9:]` becomes one
 *   `_` (leading and trailing ones dropped); a leading digit gets a `_` prefix;
 * - units: `{...}` annotations dropped, abbreviations spelled out (`ms` →
 *   `milliseconds`, `By` → `bytes`), `a/b` → `a_per_b`, `1` → `ratio` on
 *   gauges; the unit goes in front of the type suffix and is not repeated when
 *   the name already carries it;
 * - monotonic sums (counters) end in `_total`;
 * - label names: characters outside `[a-zA-Z0-9_]` → `_` (runs collapsed); a
 *   leading digit gets `key_`, a leading `_` gets `key` (names starting `_`
 *   are reserved); attributes that collide after sanitising have their values
 *   joined with `;` in the order of their original keys.
 *
 * Pure functions; the caches are bounded.
 */

import type { SeriesType } from '../../src/pullstore/cumulative.js';

const UNIT_WORDS: Record<string, string> = {
  d: 'days',
  h: 'hours',
  min: 'minutes',
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  GiBy: 'gibibytes',
  TiBy: 'tebibytes',
  KBy: 'kilobytes',
  MBy: 'megabytes',
  GBy: 'gigabytes',
  TBy: 'terabytes',
  B: 'bytes',
  KB: 'kilobytes',
  MB: 'megabytes',
  GB: 'gigabytes',
  m: 'meters',
  V: 'volts',
  A: 'amperes',
  J: 'joules',
  W: 'watts',
  g: 'grams',
  Cel: 'celsius',
  Hz: 'hertz',
  '%': 'percent',
};
const PER_UNIT_WORDS: Record<string, string> = { s: 'second', m: 'minute', h: 'hour', d: 'day', w: 'week', mo: 'month', y: 'year' };

/**
 * Units Prometheus wants in base form (promtool lints the others): values are
 * scaled by `mul / div` and the unit becomes `s` or `By`.
 */
const BASE_UNITS: Record<string, { unit: string; mul: number; div: number }> = {
  ns: { unit: 's', mul: 1, div: 1e9 },
  us: { unit: 's', mul: 1, div: 1e6 },
  ms: { unit: 's', mul: 1, div: 1e3 },
  min: { unit: 's', mul: 60, div: 1 },
  h: { unit: 's', mul: 3600, div: 1 },
  d: { unit: 's', mul: 86400, div: 1 },
  KiBy: { unit: 'By', mul: 1024, div: 1 },
  MiBy: { unit: 'By', mul: 1024 ** 2, div: 1 },
  GiBy: { unit: 'By', mul: 1024 ** 3, div: 1 },
  TiBy: { unit: 'By', mul: 1024 ** 4, div: 1 },
  KBy: { unit: 'By', mul: 1e3, div: 1 },
  MBy: { unit: 'By', mul: 1e6, div: 1 },
  GBy: { unit: 'By', mul: 1e9, div: 1 },
  TBy: { unit: 'By', mul: 1e12, div: 1 },
};

/** The base unit for `unit` and the factor values are scaled by (mul 1, div 1 when already a base unit). */
export function baseUnit(unit: string): { unit: string; mul: number; div: number } {
  const u = unit.replace(/\{[^}]*\}/g, '').trim();
  const slash = u.indexOf('/');
  const main = slash < 0 ? u : u.slice(0, slash);
  const b = BASE_UNITS[main];
  if (b === undefined) return { unit, mul: 1, div: 1 };
  return { unit: b.unit + (slash < 0 ? '' : u.slice(slash)), mul: b.mul, div: b.div };
}

/** Prometheus' metric types: the pull store's series types. */
export type PromType = SeriesType;

function tokens(s: string): string[] {
  return s.split(/[^a-zA-Z0-9:]+/).filter((t) => t !== '');
}

/** The unit as name tokens (`ms` → ["milliseconds"], `By/s` → ["bytes","per","second"], `{req}` → []). */
function unitTokens(unit: string, type: PromType): string[] {
  const u = unit.replace(/\{[^}]*\}/g, '').trim();
  if (u === '') return [];
  if (u === '1') return type === 'gauge' ? ['ratio'] : [];
  const slash = u.indexOf('/');
  const main = slash < 0 ? u : u.slice(0, slash);
  const per = slash < 0 ? '' : u.slice(slash + 1);
  const out: string[] = [];
  if (main !== '' && main !== '1') out.push(...tokens(UNIT_WORDS[main] ?? main));
  if (per !== '') {
    const p = tokens(PER_UNIT_WORDS[per] ?? UNIT_WORDS[per] ?? per);
    if (p.length > 0) out.push('per', ...p);
  }
  return out;
}

/** The unit word(s) as a name suffix (for OpenMetrics `# UNIT`), '' when none. */
export function unitSuffix(unit: string, type: PromType): string {
  return unitTokens(unit, type).join('_');
}

/**
 * The Prometheus metric name for an OTLP metric. Counters end in `_total`
 * (the text 0.0.4 sample name; OpenMetrics families drop it).
 */
export function metricName(name: string, unit: string, type: PromType): string {
  let t = tokens(name);
  const isCounter = type === 'counter';
  if (isCounter) t = t.filter((x) => x !== 'total');
  const ut = unitTokens(unit, type);
  if (ut.length > 0) {
    // not repeated when the name already ends with (or contains) the unit
    const joined = '_' + t.join('_') + '_';
    if (!joined.includes('_' + ut.join('_') + '_')) t.push(...ut);
  }
  if (isCounter) t.push('total');
  let s = t.join('_');
  if (s === '') s = '_';
  if (/^[0-9]/.test(s)) s = '_' + s;
  return s;
}

/** A label name: `[a-zA-Z_][a-zA-Z0-9_]*`, never starting with `_`. */
export function labelName(key: string): string {
  let s = key.replace(/[^a-zA-Z0-9_]+/g, '_').replace(/_{2,}/g, '_');
  if (s === '' || s === '_') return 'key_';
  if (/^[0-9]/.test(s)) s = 'key_' + s;
  else if (s.startsWith('_')) s = 'key' + s;
  return s;
}

/** Escape a label value for the text formats: `\` `"` and newline. */
export function escapeLabelValue(v: string): string {
  if (!/["\\\n]/.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Escape HELP text: `\` and newline (text 0.0.4); OpenMetrics also escapes `"`. */
export function escapeHelp(v: string, openMetrics: boolean): string {
  let s = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  if (openMetrics) s = s.replace(/"/g, '\\"');
  return s;
}

/** A bounded memo: cleared when full (names are few; an attacker sending many only costs recomputation). */
export class BoundedMemo<V> {
  private readonly m = new Map<string, V>();
  constructor(
    private readonly max: number,
    private readonly compute: (k: string) => V,
  ) {}
  get(k: string): V {
    let v = this.m.get(k);
    if (v === undefined) {
      v = this.compute(k);
      if (this.m.size >= this.max) this.m.clear();
      this.m.set(k, v);
    }
    return v;
  }
}

export const labelNameMemo = new BoundedMemo<string>(10_000, labelName);
