/**
 * Store points → Carbon plaintext lines (protocols.md §3). Pure.
 *
 * `<path> <value> <seconds>\n`, one line per value:
 * - gauge, sum → `<name>`;
 * - histogram → `<name>.count`, `<name>.sum`, `<name>.bucket.le_<bound>` (cumulative count ≤ bound, `le_inf` last);
 * - summary → `<name>.count`, `<name>.sum`, `<name>.quantile_<q>`.
 * Tags (`tag_mode: tags`, Graphite ≥ 1.1): `;k=v` segments sorted as carbon
 * normalises them; or (`tag_mode: path`) folded into the path by a template,
 * where dots in tag keys and values become `_` (they would add levels).
 * NaN and infinite values are dropped (carbon discards them anyway), counted.
 */
import type { StorePoint } from '../../src/storehelper/accumulator.js';
import { sanitizeNode, sanitizePath, sanitizeTagKey, sanitizeTagValue, seriesTags } from '../../src/storehelper/graphitenames.js';
import type { Encoded } from '../../src/storehelper/store.js';

export interface GraphiteEncodeOptions {
  /** dotted prefix without trailing dot ('' = none) */
  prefix: string;
  tagMode: 'tags' | 'path';
  /** tag_mode path: `{name}`, `{tags}` (remaining tags as key.value pairs, sorted) and `{<tag key>}` */
  template: string;
}

function fmt(v: number | bigint): string | undefined {
  if (typeof v === 'bigint') return v.toString();
  if (!Number.isFinite(v)) return undefined;
  return String(v);
}

function boundLabel(b: number): string {
  return String(b)
    .replace(/\./g, '_')
    .replace(/[^0-9A-Za-z_+-]/g, '_');
}

/** The series name for a store point (without value suffixes), tags applied per the options. Exported for docs/tests. */
const segCache = new WeakMap<object, string>();

export function seriesPath(p: StorePoint, o: GraphiteEncodeOptions, suffix = ''): string {
  const base = (o.prefix !== '' ? o.prefix + '.' : '') + p.meta.name + suffix;
  if (o.tagMode === 'tags') {
    // the tag segments of a series, computed once (series metadata is shared by all its points)
    let segs = segCache.get(p.meta);
    if (segs === undefined) {
      const list = seriesTags(p).map(([k, v]) => ';' + sanitizeTagKey(k) + '=' + sanitizeTagValue(v));
      list.sort();
      segs = list.join('');
      segCache.set(p.meta, segs);
    }
    return sanitizePath(base) + segs;
  }
  const tags = seriesTags(p);
  const used = new Set<string>();
  const tagMap = new Map(tags);
  let path = o.template.replace(/\{([^}]+)\}/g, (_m, key: string) => {
    if (key === 'name') return sanitizePath(base);
    if (key === 'tags') return '\u0000TAGS\u0000';
    used.add(key);
    return sanitizeNode((tagMap.get(key) ?? 'unknown').replace(/\./g, '_'));
  });
  if (path.includes('\u0000TAGS\u0000')) {
    const rest = tags
      .filter(([k]) => !used.has(k))
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([k, v]) => sanitizeNode(k.replace(/\./g, '_')) + '.' + sanitizeNode(v.replace(/\./g, '_')))
      .join('.');
    path = path.replace('\u0000TAGS\u0000', rest);
  }
  return sanitizePath(path);
}

export function encodeGraphite(points: readonly StorePoint[], o: GraphiteEncodeOptions): Encoded {
  let text = '';
  let n = 0;
  let nan = 0;
  for (const p of points) {
    const ts = ' ' + (p.time / 1_000_000_000n).toString() + '\n';
    const tagged = o.tagMode === 'tags';
    // tags mode: suffixes go on the name, before the tags
    const line = (suffix: string, v: number | bigint): boolean => {
      const s = fmt(v);
      if (s === undefined) return false;
      text += (tagged || suffix === '' ? seriesPath(p, o, suffix) : seriesPath(p, o) + suffix) + ' ' + s + ts;
      return true;
    };
    let ok = true;
    if (p.meta.kind === 'histogram' && p.hist !== undefined) {
      const h = p.hist;
      ok = line('.count', h.count) && line('.sum', h.sum);
      let cum = 0;
      for (let i = 0; i < h.counts.length; i++) {
        cum += h.counts[i] as number;
        const b = i < h.bounds.length ? boundLabel(h.bounds[i] as number) : 'inf';
        line('.bucket.le_' + b, cum);
      }
    } else if (p.meta.kind === 'summary' && p.summary !== undefined) {
      const s = p.summary;
      ok = line('.count', s.count) && line('.sum', s.sum);
      for (const q of s.quantiles) line('.quantile_' + boundLabel(q.quantile), q.value);
    } else {
      ok = line('', p.value);
    }
    if (ok) n++;
    else nan++;
  }
  return nan > 0 ? { body: Buffer.from(text, 'utf8'), n, dropped: { nan } } : { body: Buffer.from(text, 'utf8'), n };
}
