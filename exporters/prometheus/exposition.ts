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
 * Streamed: lines are rendered into ~64 KiB UTF-8 chunks pulled one at a
 * time by the scrape's response (renderChunks), so a scrape of a million
 * series never holds the whole exposition; the series key already is its
 * rendered label string (labels.ts), so no label is rendered at scrape time.
 */
import { V_BIG, type CumulativeStore, type Family } from '../../src/pullstore/cumulative.js';
import { expToFixed } from '../../src/model/exphist.js';
import { escapeHelp, unitSuffix } from './naming.js';

export type Format = 'text' | 'openmetrics';

const CONTENT_TYPES: Record<Format, string> = {
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

function formatValue(v: number | bigint): string {
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
  if (ns !== lastStart) {
    lastStart = ns;
    lastSeconds = seconds(ns);
  }
  return lastSeconds;
}

/**
 * Lines gather in a pending string and leave as ~64 KiB UTF-8 chunks: a
 * scrape streams them to the socket (no whole exposition in memory), a test
 * concatenates them.
 */
const CHUNK_CHARS = 64 * 1024;

class ChunkSink {
  pending = '';
  /** every character written since the last take() is ASCII: the chunk is then encoded a byte per character (latin1), which costs less than UTF-8 */
  ascii = true;
  /** `ascii`: the caller knows `s` is pure ASCII (false when it may not be) */
  write(s: string, ascii: boolean): void {
    this.pending += s;
    if (!ascii) this.ascii = false;
  }
  get full(): boolean {
    return this.pending.length >= CHUNK_CHARS;
  }
  take(): Buffer {
    const b = Buffer.from(this.pending, this.ascii ? 'latin1' : 'utf8');
    this.pending = '';
    this.ascii = true;
    return b;
  }
}

/** any character outside ASCII */
const NON_ASCII = /[^\u0000-\u007f]/;

function braces(labels: string): string {
  return labels === '' ? '' : '{' + labels + '}';
}

function withLabel(labels: string, extra: string): string {
  return '{' + (labels === '' ? extra : labels + ',' + extra) + '}';
}

type Scale = (v: number | bigint) => number | bigint;
const identity: Scale = (v) => v;

function scaler(mul: number | undefined, div: number | undefined): Scale {
  const m = mul ?? 1;
  const d = div ?? 1;
  if (m === 1 && d === 1) return identity;
  return (v) => (Number(v) * m) / d;
}

function renderHistogram(out: ChunkSink, name: string, ascii: boolean, store: CumulativeStore, id: number, om: boolean, sc: Scale): void {
  let bounds: number[];
  let counts: number[];
  let count: number;
  let sum: number;
  const e = store.exp(id);
  const h = e === undefined ? store.hist(id) : undefined;
  if (e !== undefined) {
    const f = expToFixed(e);
    bounds = f.bounds;
    counts = f.counts;
    count = e.count;
    sum = e.sum;
  } else if (h !== undefined) {
    bounds = h.bounds;
    counts = h.counts;
    count = h.count;
    sum = h.sum;
  } else return;
  const key = store.key(id);
  let cum = 0;
  let chunk = '';
  for (let i = 0; i < bounds.length; i++) {
    cum += counts[i] as number;
    chunk += name + '_bucket' + withLabel(key, 'le="' + formatLe(sc(bounds[i] as number) as number) + '"') + ' ' + cum + '\n';
  }
  const lb = braces(key);
  chunk += name + '_bucket' + withLabel(key, 'le="+Inf"') + ' ' + count + '\n';
  chunk += name + '_sum' + lb + ' ' + formatValue(sc(sum)) + '\n';
  chunk += name + '_count' + lb + ' ' + count + '\n';
  if (om) chunk += name + '_created' + lb + ' ' + created(store.start(id)) + '\n';
  out.write(chunk, ascii && store.asciiKey(id));
}

function* renderFamily(out: ChunkSink, store: CumulativeStore, f: Family, om: boolean, epoch: number): Generator<Buffer> {
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
  out.write(head, !NON_ASCII.test(head));
  // names are sanitised to ASCII, but a chunk is encoded a byte per character only when that is known
  const ascii = !NON_ASCII.test(name);
  const sc = scaler(info.mul, info.div);
  const scaled = sc !== identity;
  switch (info.type) {
    case 'gauge':
    case 'counter': {
      const omCounter = om && info.type === 'counter';
      const sample = omCounter ? name + '_total' : name;
      const sampleOpen = sample + '{';
      const createdOpen = name + '_created{';
      for (const [mk, id] of f.series) {
        if (!store.seriesInRender(id, epoch)) continue;
        const kind = store.valueKind(id);
        const v = scaled ? formatValue(sc(store.num(id))) : kind === V_BIG ? formatValue(store.value(id)) : formatValue(store.num(id));
        const a = ascii && store.asciiKey(id);
        const key = store.labels(mk, id);
        if (key === '') {
          out.write(sample + ' ' + v + '\n', ascii);
          if (omCounter) out.write(name + '_created ' + created(store.start(id)) + '\n', ascii);
        } else {
          out.write(sampleOpen + key + '} ' + v + '\n', a);
          if (omCounter) out.write(createdOpen + key + '} ' + created(store.start(id)) + '\n', a);
        }
        if (out.full) yield out.take();
      }
      break;
    }
    case 'histogram':
      for (const id of f.series.values()) {
        if (!store.seriesInRender(id, epoch)) continue;
        renderHistogram(out, name, ascii, store, id, om, sc);
        if (out.full) yield out.take();
      }
      break;
    case 'summary':
      for (const [mk, id] of f.series) {
        if (!store.seriesInRender(id, epoch)) continue;
        const key = store.labels(mk, id);
        const sm = store.summary(id);
        if (sm === undefined) continue;
        let chunk = '';
        for (const q of sm.quantiles) chunk += name + withLabel(key, 'quantile="' + String(q.quantile) + '"') + ' ' + formatValue(sc(q.value)) + '\n';
        const lb = braces(key);
        chunk += name + '_sum' + lb + ' ' + formatValue(sc(sm.sum)) + '\n' + name + '_count' + lb + ' ' + sm.count + '\n';
        if (om) chunk += name + '_created' + lb + ' ' + created(store.start(id)) + '\n';
        out.write(chunk, ascii && store.asciiKey(id));
        if (out.full) yield out.take();
      }
      break;
  }
}

/**
 * The exposition of every family in the store as ~64 KiB UTF-8 chunks,
 * rendered as they are pulled: the consumer may let ingest run between two
 * chunks (series and families created after the render began are left to the
 * next scrape, so none appears twice). Stop early with return().
 */
export function* renderChunks(store: CumulativeStore, format: Format): Generator<Buffer> {
  const om = format === 'openmetrics';
  const epoch = store.beginRender();
  try {
    const out = new ChunkSink();
    for (const f of store.families.values()) {
      if (!store.familyInRender(f, epoch)) continue;
      yield* renderFamily(out, store, f, om, epoch);
    }
    if (om) out.write('# EOF\n', true);
    if (out.pending !== '') yield out.take();
  } finally {
    store.endRender();
  }
}

/** The exposition as one UTF-8 Buffer (tests and tools; a scrape streams renderChunks). */
export function renderBytes(store: CumulativeStore, format: Format): Buffer {
  return Buffer.concat([...renderChunks(store, format)]);
}

/** The exposition as text chunks (join them in order); tests and tools. */
export function render(store: CumulativeStore, format: Format): string[] {
  return [renderBytes(store, format).toString('utf8')];
}

/** The response of a scrape with this `Accept` header: the exposition streamed in chunks (the prometheus exporter's and the bench's path). */
export function prometheusResponse(store: CumulativeStore, accept: string | undefined): { contentType: string; body: Iterable<Buffer> } {
  const format = negotiate(accept);
  return { contentType: CONTENT_TYPES[format], body: { [Symbol.iterator]: () => renderChunks(store, format) } };
}
