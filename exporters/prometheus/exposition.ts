/**
 * Renders a CumulativeStore in the Prometheus text format 0.0.4 or
 * OpenMetrics 1.0.0, and picks the format from an `Accept` header.
 *
 * - text 0.0.4: counters are named `<x>_total` in `# TYPE`; no timestamps
 *   (the scrape time is the sample time).
 * - OpenMetrics: counter families drop `_total` from the family name and
 *   expose `<x>_total` and `<x>_created`; histograms and summaries also get
 *   `_created` (the start of the running total); `# UNIT` when the family
 *   name ends with the unit; ends with `# EOF`.
 *
 * Rendered straight into one growing UTF-8 Buffer (ByteSink), one write per
 * sample line: no array of 100k line strings to join and re-encode, and the
 * series key already is its rendered label string (labels.ts), so no label is
 * rendered at scrape time.
 *
 * Pure functions.
 */
import type { CumulativeStore, Family, Series } from '../../src/pullstore/cumulative.js';
import { expToFixed } from '../../src/model/exphist.js';
import { escapeHelp, unitSuffix } from './naming.js';

export type Format = 'text' | 'openmetrics';

export const CONTENT_TYPES: Record<Format, string> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/** OpenMetrics when the Accept header prefers it (version 1.0.0 or unversioned), else text 0.0.4. */
export function negotiate(accept: string | undefined): Format {
  if (accept === undefined || !accept.includes('openmetrics')) return 'text';
  let om = -1;
  let text = -1;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((x) => x.trim());
    let q = 1;
    let version: string | undefined;
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const k = p.slice(0, eq).trim().toLowerCase();
      const v = p.slice(eq + 1).trim();
      if (k === 'q') q = Number(v);
      else if (k === 'version') version = v;
    }
    if (!(q > 0)) continue;
    const t = (type ?? '').toLowerCase();
    if (t === 'application/openmetrics-text' && (version === undefined || version === '1.0.0')) om = Math.max(om, q);
    else if (t === 'text/plain' || t === '*/*' || t === 'text/*') text = Math.max(text, q);
  }
  return om >= 0 && om >= text ? 'openmetrics' : 'text';
}

export function formatValue(v: number | bigint): string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isFinite(v)) return String(v);
  if (Number.isNaN(v)) return 'NaN';
  return v > 0 ? '+Inf' : '-Inf';
}

function formatLe(b: number): string {
  if (b === Infinity) return '+Inf';
  if (b === -Infinity) return '-Inf';
  return String(b);
}

function seconds(ns: bigint): string {
  const s = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  if (frac === 0n) return s.toString();
  return s.toString() + '.' + frac.toString().padStart(9, '0').replace(/0+$/, '');
}

let lastStart = -1n;
let lastSeconds = '';
/** `_created` value; the start is usually the same for many series in a row */
function created(ns: bigint): string {
  if (ns !== lastStart) { lastStart = ns; lastSeconds = seconds(ns); }
  return lastSeconds;
}

/**
 * A growing buffer that strings are written into as UTF-8. Lines gather in a
 * pending string of a few KiB (one flattening copy) before each native
 * write, so a 100k-line exposition costs a few hundred writes, not 100k.
 */
export class ByteSink {
  private buf: Buffer;
  private off = 0;
  private pending = '';
  constructor(size = 64 * 1024) { this.buf = Buffer.allocUnsafe(Math.max(1024, size)); }
  write(s: string): void {
    this.pending += s;
    if (this.pending.length >= 16_384) this.flush();
  }
  private flush(): void {
    const s = this.pending;
    if (s === '') return;
    this.pending = '';
    const max = s.length * 3; // UTF-8 bytes per UTF-16 unit, at most
    if (this.off + max > this.buf.length) this.grow(max);
    this.off += this.buf.write(s, this.off, 'utf8');
  }
  private grow(need: number): void {
    let n = this.buf.length * 2;
    while (n < this.off + need) n *= 2;
    const b = Buffer.allocUnsafe(n);
    this.buf.copy(b, 0, 0, this.off);
    this.buf = b;
  }
  get length(): number { return this.off + Buffer.byteLength(this.pending); }
  bytes(): Buffer { this.flush(); return this.buf.subarray(0, this.off); }
}

function braces(labels: string): string {
  return labels === '' ? '' : '{' + labels + '}';
}

function withLabel(labels: string, extra: string): string {
  return '{' + (labels === '' ? extra : labels + ',' + extra) + '}';
}

type Scale = ((v: number | bigint) => number | bigint);
const identity: Scale = (v) => v;

function scaler(mul: number | undefined, div: number | undefined): Scale {
  const m = mul ?? 1;
  const d = div ?? 1;
  if (m === 1 && d === 1) return identity;
  return (v) => (Number(v) * m) / d;
}

function renderHistogram(out: ByteSink, name: string, s: Series, om: boolean, sc: Scale): void {
  let bounds: number[];
  let counts: number[];
  let count: number;
  let sum: number;
  if (s.exp !== undefined) {
    const f = expToFixed(s.exp);
    bounds = f.bounds; counts = f.counts; count = s.exp.count; sum = s.exp.sum;
  } else if (s.hist !== undefined) {
    bounds = s.hist.bounds; counts = s.hist.counts; count = s.hist.count; sum = s.hist.sum;
  } else return;
  let cum = 0;
  let chunk = '';
  for (let i = 0; i < bounds.length; i++) {
    cum += counts[i] as number;
    chunk += name + '_bucket' + withLabel(s.key, 'le="' + formatLe(sc(bounds[i] as number) as number) + '"') + ' ' + cum + '\n';
  }
  const lb = braces(s.key);
  chunk += name + '_bucket' + withLabel(s.key, 'le="+Inf"') + ' ' + count + '\n';
  chunk += name + '_sum' + lb + ' ' + formatValue(sc(sum)) + '\n';
  chunk += name + '_count' + lb + ' ' + count + '\n';
  if (om) chunk += name + '_created' + lb + ' ' + created(s.start) + '\n';
  out.write(chunk);
}

function renderFamily(out: ByteSink, f: Family, om: boolean): void {
  const info = f.info;
  let name = info.name;
  if (om && info.type === 'counter' && name.endsWith('_total')) name = name.slice(0, -6);
  let head = '';
  if (info.help !== '') head += '# HELP ' + name + ' ' + escapeHelp(info.help, om) + '\n';
  head += '# TYPE ' + name + ' ' + info.type + '\n';
  if (om) {
    const u = unitSuffix(info.unit, info.type);
    if (u !== '' && name.endsWith('_' + u)) head += '# UNIT ' + name + ' ' + u + '\n';
  }
  out.write(head);
  const sc = scaler(info.mul, info.div);
  const scaled = sc !== identity;
  switch (info.type) {
    case 'gauge':
    case 'counter': {
      // one write per line, straight into the buffer
      const omCounter = om && info.type === 'counter';
      const sample = omCounter ? name + '_total' : name;
      const sampleOpen = sample + '{';
      const createdOpen = name + '_created{';
      for (const s of f.series.values()) {
        const v = formatValue(scaled ? sc(s.value) : s.value);
        if (s.key === '') {
          out.write(sample + ' ' + v + '\n');
          if (omCounter) out.write(name + '_created ' + created(s.start) + '\n');
        } else {
          out.write(sampleOpen + s.key + '} ' + v + '\n');
          if (omCounter) out.write(createdOpen + s.key + '} ' + created(s.start) + '\n');
        }
      }
      break;
    }
    case 'histogram':
      for (const s of f.series.values()) renderHistogram(out, name, s, om, sc);
      break;
    case 'summary':
      for (const s of f.series.values()) {
        const sm = s.summary;
        if (sm === undefined) continue;
        let chunk = '';
        for (const q of sm.quantiles) chunk += name + withLabel(s.key, 'quantile="' + String(q.quantile) + '"') + ' ' + formatValue(sc(q.value)) + '\n';
        const lb = braces(s.key);
        chunk += name + '_sum' + lb + ' ' + formatValue(sc(sm.sum)) + '\n' + name + '_count' + lb + ' ' + sm.count + '\n';
        if (om) chunk += name + '_created' + lb + ' ' + created(s.start) + '\n';
        out.write(chunk);
      }
      break;
  }
}

const sizeHint = new WeakMap<CumulativeStore, number>();

/** The exposition of every family in the store as one UTF-8 Buffer. */
export function renderBytes(store: CumulativeStore, format: Format): Buffer {
  const om = format === 'openmetrics';
  const hint = sizeHint.get(store);
  const out = new ByteSink(hint === undefined ? 64 * 1024 : hint + (hint >> 3));
  for (const f of store.families.values()) renderFamily(out, f, om);
  if (om) out.write('# EOF\n');
  const bytes = out.bytes();
  sizeHint.set(store, bytes.length);
  return bytes;
}

/** The exposition as text chunks (join them in order); tests and tools. */
export function render(store: CumulativeStore, format: Format): string[] {
  return [renderBytes(store, format).toString('utf8')];
}
