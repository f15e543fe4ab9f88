/**
 * Metrics → DogStatsD datagrams (protocols.md §8). Pure: the cumulative
 * baseline state is passed in.
 *
 * Mapping:
 *   gauge                          → `<name>:<v>|g`
 *   sum, delta (any monotonicity)  → `<name>:<v>|c`
 *   sum, cumulative, monotonic     → `<name>:<increase since the last point>|c` (first point: baseline only; a decrease is a reset: the new value is sent)
 *   sum, cumulative, non-monotonic → `<name>:<v>|g`
 *   histogram, exp. histogram      → `<name>.count|c`, `<name>.sum|c`, `<name>.min|g`, `<name>.max|g`;
 *                                    with `histogram_buckets` (explicit bounds only, delta) also
 *                                    `<name>.bucket:<n>|c|#lower_bound:<a>,upper_bound:<b>` per non-empty bucket
 *   summary                        → `<name>.count|c`, `<name>.sum|c`, `<name>.quantile:<v>|g|#quantile:<q>`
 * Point and (optionally) resource attributes become tags `k:v` (`k` when v is '').
 * Points flagged "no recorded value" and non-finite values are skipped (counted).
 * Lines are packed, `\n`-separated, into datagrams of at most `maxPacketSize`
 * bytes; a single line longer than that is dropped and counted.
 */
import { valueToString } from '../../src/model/attributes.js';
import { canonicalAttributes } from '../../src/model/attributes.js';
import { FLAG_NO_RECORDED_VALUE, Temporality, type Attributes, type MetricsBatch } from '../../src/model/metrics.js';

export interface DogStatsdEncodeOptions {
  prefix: string;
  /** constant tags `k:v` added to every line */
  tags: string[];
  maxPacketSize: number;
  histogramBuckets: boolean;
  resourceTags: boolean;
  /** send `|T<seconds>` with gauges and counts */
  timestamps: boolean;
}

export interface EncodeResult {
  packets: Buffer[];
  lines: number;
  /** by reason: too_large, no_value, non_finite, baseline */
  skipped: Record<string, number>;
}

/** Cumulative monotonic sums: per series the last (start, value); returns the increase to send, or undefined for a baseline. */
export interface CumulativeState {
  delta(key: string, start: bigint, value: number): number | undefined;
}

/** A bounded map of cumulative baselines (oldest forgotten first). */
export class CumulativeBaselines implements CumulativeState {
  private readonly m = new Map<string, { start: bigint; value: number }>();
  constructor(private readonly max = 100_000) {}
  delta(key: string, start: bigint, value: number): number | undefined {
    const prev = this.m.get(key);
    if (prev !== undefined) this.m.delete(key);
    else if (this.m.size >= this.max) {
      const first = this.m.keys().next();
      if (!first.done) this.m.delete(first.value);
    }
    this.m.set(key, { start, value });
    if (prev === undefined) return undefined;
    if (start !== prev.start || value < prev.value) return value; // reset: counted from zero again
    return value - prev.value;
  }
  get size(): number {
    return this.m.size;
  }
}

/** Name: `:`, `|`, `@`, `#`, `,`, whitespace and newlines → `_`. */
function sanitizeName(s: string): string {
  return s.replace(/[:|@#,\s]/g, '_');
}

/** Tag key or value: `|`, `,`, `#`, whitespace → `_` (':' is kept in values). */
function sanitizeTag(s: string): string {
  return s.replace(/[|,#\s]/g, '_');
}

function fmt(v: number): string {
  return Number.isInteger(v) && Math.abs(v) < 1e21 ? String(v) : String(v);
}

function tagList(attrs: Attributes, out: string[]): void {
  for (const k of Object.keys(attrs).sort()) {
    const v = valueToString(attrs[k] ?? null);
    out.push(v === '' ? sanitizeTag(k) : `${sanitizeTag(k)}:${sanitizeTag(v)}`);
  }
}

export function encodeDogStatsd(batch: MetricsBatch, o: DogStatsdEncodeOptions, state: CumulativeState): EncodeResult {
  const lines: string[] = [];
  const skipped: Record<string, number> = {};
  const skip = (r: string, n = 1) => {
    skipped[r] = (skipped[r] ?? 0) + n;
  };
  const prefix = o.prefix === '' ? '' : o.prefix.endsWith('.') ? o.prefix : o.prefix + '.';
  for (const rm of batch.resourceMetrics) {
    const resTags: string[] = [...o.tags];
    if (o.resourceTags) tagList(rm.resource.attributes, resTags);
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        const name = prefix + sanitizeName(m.name);
        for (const p of m.points) {
          if ((p.flags & FLAG_NO_RECORDED_VALUE) !== 0) {
            skip('no_value');
            continue;
          }
          const tags = [...resTags];
          tagList(p.attributes, tags);
          const ts = o.timestamps ? `|T${p.timeUnixNano / 1_000_000_000n}` : '';
          const line = (n: string, v: number, type: string, extra: string[] = [], withTs = true): void => {
            if (!Number.isFinite(v)) {
              skip('non_finite');
              return;
            }
            const all = extra.length === 0 ? tags : [...tags, ...extra];
            lines.push(`${n}:${fmt(v)}|${type}${all.length > 0 ? '|#' + all.join(',') : ''}${withTs ? ts : ''}`);
          };
          switch (m.kind) {
            case 'gauge':
              line(name, Number((p as { value: number | bigint }).value), 'g');
              break;
            case 'sum': {
              const v = Number((p as { value: number | bigint }).value);
              if (m.temporality === Temporality.Cumulative) {
                if (!m.isMonotonic) {
                  line(name, v, 'g');
                  break;
                }
                const d = state.delta(
                  name + '\x00' + canonicalAttributes(p.attributes) + '\x00' + canonicalAttributes(rm.resource.attributes),
                  p.startTimeUnixNano,
                  v,
                );
                if (d === undefined) {
                  skip('baseline');
                  break;
                }
                line(name, d, 'c');
              } else {
                line(name, v, 'c');
              }
              break;
            }
            case 'histogram':
            case 'exponentialHistogram': {
              const h = p as { count: number; sum?: number; min?: number; max?: number; bucketCounts?: number[]; explicitBounds?: number[] };
              line(`${name}.count`, h.count, 'c');
              if (h.sum !== undefined) line(`${name}.sum`, h.sum, 'c');
              if (h.min !== undefined) line(`${name}.min`, h.min, 'g');
              if (h.max !== undefined) line(`${name}.max`, h.max, 'g');
              if (o.histogramBuckets && m.kind === 'histogram' && m.temporality === Temporality.Delta && h.bucketCounts !== undefined) {
                const b = h.explicitBounds ?? [];
                for (let i = 0; i < h.bucketCounts.length; i++) {
                  const c = h.bucketCounts[i] as number;
                  if (c === 0) continue;
                  const lo = i === 0 ? '-inf' : String(b[i - 1]);
                  const hi = i < b.length ? String(b[i]) : 'inf';
                  line(`${name}.bucket`, c, 'c', [`lower_bound:${lo}`, `upper_bound:${hi}`]);
                }
              }
              break;
            }
            case 'summary': {
              const s = p as { count: number; sum: number; quantileValues: Array<{ quantile: number; value: number }> };
              line(`${name}.count`, s.count, 'c');
              line(`${name}.sum`, s.sum, 'c');
              for (const q of s.quantileValues) line(`${name}.quantile`, q.value, 'g', [`quantile:${q.quantile}`]);
              break;
            }
          }
        }
      }
    }
  }
  // pack
  const packets: Buffer[] = [];
  let cur: string[] = [];
  let size = 0;
  const max = o.maxPacketSize;
  for (const l of lines) {
    const len = Buffer.byteLength(l);
    if (len > max) {
      skip('too_large');
      continue;
    }
    if (size > 0 && size + 1 + len > max) {
      packets.push(Buffer.from(cur.join('\n')));
      cur = [];
      size = 0;
    }
    size += (size > 0 ? 1 : 0) + len;
    cur.push(l);
  }
  if (cur.length > 0) packets.push(Buffer.from(cur.join('\n')));
  return { packets, lines: lines.length - (skipped.too_large ?? 0), skipped };
}
