/**
 * Graphite naming, shared by the stores that write Graphite paths (the
 * `graphite` exporter over Carbon plaintext, `grafana` over Grafana Cloud's
 * Graphite HTTP ingest): sanitising path nodes, paths and Graphite ≥ 1.1 tag
 * keys and values, and the tags of a series. Pure.
 */
import { valueToString } from '../model/attributes.js';
import type { Attributes } from '../model/metrics.js';
import type { StorePoint } from './accumulator.js';

/** A path node (between dots): whitespace, `;`, `=`, `!`, `^`, `~` at start, non-ASCII and control characters become `_`. */
export function sanitizeNode(s: string): string {
  const r = s.replace(/[^\x21-\x7e]|[;!^=]/g, '_');
  return r === '' ? '_' : r;
}

/** A metric path: as a node, keeping dots but no empty levels. */
export function sanitizePath(s: string): string {
  return (
    s
      .split('.')
      .filter((x) => x !== '')
      .map(sanitizeNode)
      .join('.') || '_'
  );
}

/** A tag key: ≥ 1 char, no `;` `!` `^` `=`, ASCII without whitespace. */
export function sanitizeTagKey(s: string): string {
  return sanitizeNode(s);
}

/** A tag value: ≥ 1 char, no `;`, ASCII without whitespace, not starting with `~`. */
export function sanitizeTagValue(s: string): string {
  let r = s.replace(/[^\x21-\x7e]|;/g, '_');
  if (r.startsWith('~')) r = '_' + r.slice(1);
  return r === '' ? '_' : r;
}

/** The tags of a series: resource attributes, then point attributes over them; empty values left out. */
export function seriesTags(p: StorePoint): Array<[string, string]> {
  const out = new Map<string, string>();
  const add = (a: Attributes): void => {
    for (const k in a) {
      const s = valueToString(a[k] ?? null);
      if (s !== '') out.set(k, s);
    }
  };
  add(p.meta.resource);
  add(p.meta.attrs);
  return [...out];
}
