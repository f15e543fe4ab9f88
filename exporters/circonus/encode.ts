/**
 * Store points → a Circonus HTTPTrap JSON body (protocols.md §6). Pure.
 *
 * `{"<name>|ST[k:v,...]": {"_type": t, "_value": v, "_ts": ms}}`:
 * - gauge (and non-monotonic sums) → `n` (double);
 * - sums (per-period deltas or running totals) → `L` (uint64, as a string to
 *   keep precision) when integral and ≥ 0, else `n`;
 * - histograms → `h` with every explicit bucket's count rebinned into a
 *   Circonus log-linear bin (two significant digits) of a representative
 *   value: the bucket's midpoint, its finite bound for the open ends, clamped
 *   to the histogram's min/max when known; `["H[<bin>]=<count>", ...]`;
 * - summaries → `<name>\`count` (`L`), `<name>\`sum` (`n`), `<name>\`quantile_<q>` (`n`).
 * Stream tags: category and value from the tag key and value; characters
 * outside Circonus's set are written as `b"<base64>"`.
 */
import { valueToString } from '../../src/model/attributes.js';
import type { Attributes } from '../../src/model/metrics.js';
import type { StorePoint } from '../../src/storehelper/accumulator.js';

const TAG_OK = /^[A-Za-z0-9`+!@#$%^&"'/?._-]+$/;

function streamTagPart(s: string): string {
  return TAG_OK.test(s) ? s : `b"${Buffer.from(s, 'utf8').toString('base64')}"`;
}

/** The inside of `|ST[...]`: `cat:val` pairs, sorted; point attributes win over resource ones; '' when none. */
export function streamTags(resource: Attributes, attrs: Attributes): string {
  const m = new Map<string, string>();
  const add = (a: Attributes): void => {
    for (const k in a) {
      const s = valueToString(a[k] ?? null);
      if (s !== '') m.set(k, s);
    }
  };
  add(resource);
  add(attrs);
  if (m.size === 0) return '';
  return [...m]
    .map(([k, v]) => streamTagPart(k) + ':' + streamTagPart(v))
    .sort()
    .join(',');
}

/** `name` or `name|ST[tags]`. */
function withTags(name: string, tags: string): string {
  return tags === '' ? name : `${name}|ST[${tags}]`;
}

export function metricKey(name: string, resource: Attributes, attrs: Attributes): string {
  return withTags(name, streamTags(resource, attrs));
}

/** The lower edge of the Circonus log-linear bin holding v (two significant digits); 0 for 0 and tiny values. */
export function circonusBin(v: number): number {
  if (!Number.isFinite(v) || v === 0 || Math.abs(v) < 1e-127) return 0;
  const sign = v < 0 ? -1 : 1;
  const a = Math.abs(v);
  let e = Math.floor(Math.log10(a));
  let mant = Math.floor(a / 10 ** (e - 1) + 1e-9);
  if (mant >= 100) {
    mant = 10;
    e += 1;
  }
  if (mant < 10) {
    mant = 99;
    e -= 1;
  }
  return sign * Number((mant * 10 ** (e - 1)).toPrecision(2));
}

export function formatBin(b: number): string {
  return b === 0 ? '0' : b.toPrecision(2).replace('e+', 'e');
}

/** `H[bin]=count` strings for an explicit-bucket histogram. */
export function rebin(bounds: readonly number[], counts: readonly number[], min?: number, max?: number): string[] {
  const bins = new Map<number, number>();
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i] as number;
    if (c <= 0) continue;
    const lo = i === 0 ? undefined : (bounds[i - 1] as number);
    const hi = i < bounds.length ? (bounds[i] as number) : undefined;
    let rep = lo !== undefined && hi !== undefined ? (lo + hi) / 2 : hi !== undefined ? hi : ((lo as number | undefined) ?? 0);
    if (min !== undefined && rep < min) rep = min;
    if (max !== undefined && rep > max) rep = max;
    const b = circonusBin(rep);
    bins.set(b, (bins.get(b) ?? 0) + c);
  }
  return [...bins].sort((a, b) => a[0] - b[0]).map(([b, c]) => `H[${formatBin(b)}]=${c}`);
}

export interface TrapValue {
  _type: string;
  _value: unknown;
  _ts: number;
}

/** A number as a typed value: `L` (string) for counts that are integral and ≥ 0, `l` for other bigints, else `n`; undefined for NaN/±Inf. */
export function numeric(v: number | bigint, counter: boolean): { _type: string; _value: unknown } | undefined {
  if (typeof v === 'bigint') return v >= 0n && counter ? { _type: 'L', _value: v.toString() } : { _type: 'l', _value: v.toString() };
  if (!Number.isFinite(v)) return undefined;
  if (counter && Number.isInteger(v) && v >= 0 && v <= Number.MAX_SAFE_INTEGER) return { _type: 'L', _value: String(v) };
  return { _type: 'n', _value: v };
}

/** The body and the number of metric keys in it (what `{"stats":N}` should echo). Points of one series must not repeat (one window per body). */
export function encodeTrap(points: readonly StorePoint[]): { body: Record<string, TrapValue>; keys: number; n: number; nan: number } {
  const body: Record<string, TrapValue> = Object.create(null) as Record<string, TrapValue>;
  let keys = 0;
  let n = 0;
  let nan = 0;
  for (const p of points) {
    const ts = Number(p.time / 1_000_000n);
    const put = (name: string, v: { _type: string; _value: unknown } | undefined): boolean => {
      if (v === undefined) return false;
      const k = metricKey(name, p.meta.resource, p.meta.attrs);
      if (!(k in body)) keys++;
      body[k] = { _type: v._type, _value: v._value, _ts: ts };
      return true;
    };
    const name = p.meta.name;
    let ok: boolean;
    if (p.meta.kind === 'histogram' && p.hist !== undefined) {
      ok = put(name, { _type: 'h', _value: rebin(p.hist.bounds, p.hist.counts, p.hist.min, p.hist.max) });
    } else if (p.meta.kind === 'summary' && p.summary !== undefined) {
      ok = put(name + '`count', numeric(p.summary.count, true));
      put(name + '`sum', numeric(p.summary.sum, false));
      for (const q of p.summary.quantiles) put(`${name}\`quantile_${q.quantile}`, numeric(q.value, false));
    } else {
      ok = put(name, numeric(p.value, p.meta.kind === 'sum' && p.meta.temporality !== 'gauge'));
    }
    if (ok) n++;
    else nan++;
  }
  return { body, keys, n, nan };
}
