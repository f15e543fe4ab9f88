/**
 * Store points → Grafana Cloud Graphite HTTP ingest JSON (protocols.md §4). Pure.
 *
 * `[{"name","interval","value","time","mtype","unit","tags"}]`: `name` is the
 * Graphite path (prefix + metric name, sanitised as for carbon; histograms and
 * summaries get the same suffixes as the graphite exporter), `interval` the
 * period, `time` the window end in seconds, `tags` `k=v` strings (sorted),
 * `mtype`: gauge for gauges (and cumulative non-monotonic sums), `count` for
 * per-period deltas, `counter` for cumulative monotonic sums sent as is.
 */
import type { StorePoint } from '../../src/storehelper/accumulator.js';
import { sanitizePath, sanitizeTagKey, sanitizeTagValue, seriesTags } from '../../src/storehelper/graphitenames.js';

export interface GrafanaRow {
  name: string;
  interval: number;
  value: number;
  time: number;
  mtype: string;
  unit: string;
  tags: string[];
}

function tagsOf(p: StorePoint): string[] {
  return seriesTags(p)
    .map(([k, v]) => sanitizeTagKey(k) + '=' + sanitizeTagValue(v))
    .sort();
}

export function grafanaRows(points: readonly StorePoint[], o: { prefix: string; intervalSeconds: number }): { rows: GrafanaRow[]; n: number; nan: number } {
  const rows: GrafanaRow[] = [];
  const interval = Math.max(1, Math.round(o.intervalSeconds));
  let n = 0;
  let nan = 0;
  for (const p of points) {
    const base = (o.prefix !== '' ? o.prefix + '.' : '') + p.meta.name;
    const time = Number(p.time / 1_000_000_000n);
    const tags = tagsOf(p);
    const mtype = p.meta.temporality === 'delta' ? 'count' : p.meta.temporality === 'cumulative' ? 'counter' : 'gauge';
    const before = rows.length;
    const row = (suffix: string, value: number | bigint, mt = mtype): void => {
      const v = Number(value);
      if (!Number.isFinite(v)) return;
      rows.push({ name: sanitizePath(base + suffix), interval, value: v, time, mtype: mt, unit: p.meta.unit, tags });
    };
    if (p.meta.kind === 'histogram' && p.hist !== undefined) {
      const h = p.hist;
      row('.count', h.count);
      row('.sum', h.sum);
      let cum = 0;
      for (let i = 0; i < h.counts.length; i++) {
        cum += h.counts[i] as number;
        row('.bucket.le_' + (i < h.bounds.length ? String(h.bounds[i]).replace(/\./g, '_') : 'inf'), cum);
      }
    } else if (p.meta.kind === 'summary' && p.summary !== undefined) {
      row('.count', p.summary.count, 'gauge');
      row('.sum', p.summary.sum, 'gauge');
      for (const q of p.summary.quantiles) row('.quantile_' + String(q.quantile).replace(/\./g, '_'), q.value, 'gauge');
    } else {
      row('', p.value);
    }
    if (rows.length > before) n++;
    else nan++;
  }
  return { rows, n, nan };
}
