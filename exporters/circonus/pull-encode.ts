/**
 * circonus mode pull: the JSON:Pull body (protocols.md §6) rendered from a
 * CumulativeStore of running totals. Pure.
 *
 * `{"<name>|ST[k:v,...]": {"_type": t, "_value": v}, ...}` with no `_ts`
 * (the broker stamps the fetch, as with every pulled check):
 * - gauges and non-monotonic sums → `n` (integer gauges `l`, as a string);
 * - monotonic sums (delta sums accumulated into a running total, cumulative
 *   sums passed through with reset detection) → `L` (uint64 as a string)
 *   when integral and ≥ 0, else `n`;
 * - histograms (explicit, and exponential converted to fixed buckets) → `H`,
 *   the cumulative histogram: the running bucket counts rebinned into
 *   Circonus bins exactly as the push encoder does (`rebin`), so each bin
 *   only grows and the broker takes the difference between fetches;
 * - summaries → `` <name>`count `` (`L`), `` <name>`sum `` (`n`),
 *   `` <name>`quantile_<q> `` (`n`).
 *
 * Series are named like the push mode's: the metric name, then stream tags
 * from the selected resource attributes and the point attributes.
 */
import type { Attributes, AttrValue, Metric, Resource, Scope } from '../../src/model/index.js';
import type { CumulativeStore, FamilyInfo, SeriesKeyer, SeriesType } from '../../src/pullstore/cumulative.js';
import { expToFixed } from '../../src/model/exphist.js';
import { numeric, rebin, streamTags } from './encode.js';

const MAX_CONTEXTS = 1024;

/** Series key = the stream-tag string (`k:v,...`, '' for none); family = the OTLP metric name. */
export class CirconusKeyer implements SeriesKeyer {
  private readonly contexts = new Map<string, Attributes>();

  constructor(private readonly resourceAttributes: readonly string[]) {}

  family(m: Metric, type: SeriesType): FamilyInfo {
    return { name: m.name, type, help: '', unit: '' };
  }

  context(resource: Resource, _scope: Scope): string {
    const sel: Attributes = {};
    for (const k of this.resourceAttributes) {
      const v = resource.attributes[k];
      if (v !== undefined) sel[k] = v as AttrValue;
    }
    const ctx = JSON.stringify(sel);
    if (!this.contexts.has(ctx)) {
      if (this.contexts.size >= MAX_CONTEXTS) this.contexts.clear();
      this.contexts.set(ctx, sel);
    }
    return ctx;
  }

  series(attrs: Attributes, ctx: string): string {
    let res = this.contexts.get(ctx);
    if (res === undefined) {
      res = JSON.parse(ctx) as Attributes;
      this.contexts.set(ctx, res);
    }
    return streamTags(res, attrs);
  }
}

function keyOf(name: string, tags: string): string {
  return JSON.stringify(tags === '' ? name : name + '|ST[' + tags + ']');
}

function typed(t: { _type: string; _value: unknown }): string {
  return '{"_type":"' + t._type + '","_value":' + JSON.stringify(t._value) + '}';
}

function histValue(store: CumulativeStore, id: number): string[] | undefined {
  const e = store.exp(id);
  if (e !== undefined) {
    const f = expToFixed(e);
    return rebin(f.bounds, f.counts, e.min, e.max);
  }
  const h = store.hist(id);
  if (h !== undefined) return rebin(h.bounds, h.counts);
  return undefined;
}

/** The JSON:Pull body and the number of metrics in it. */
export function renderJsonPull(store: CumulativeStore): { body: string; metrics: number } {
  const parts: string[] = [];
  for (const f of store.families.values()) {
    const name = f.info.name;
    const type = f.info.type;
    for (const [mk, id] of f.series) {
      const key = store.labels(mk, id);
      switch (type) {
        case 'counter':
        case 'gauge': {
          const v = numeric(store.value(id), type === 'counter');
          if (v !== undefined) parts.push(keyOf(name, key) + ':' + typed(v));
          break;
        }
        case 'histogram': {
          const h = histValue(store, id);
          if (h !== undefined) parts.push(keyOf(name, key) + ':' + typed({ _type: 'H', _value: h }));
          break;
        }
        case 'summary': {
          const sm = store.summary(id);
          if (sm === undefined) break;
          const c = numeric(sm.count, true);
          if (c !== undefined) parts.push(keyOf(name + '`count', key) + ':' + typed(c));
          const su = numeric(sm.sum, false);
          if (su !== undefined) parts.push(keyOf(name + '`sum', key) + ':' + typed(su));
          for (const q of sm.quantiles) {
            const qv = numeric(q.value, false);
            if (qv !== undefined) parts.push(keyOf(`${name}\`quantile_${q.quantile}`, key) + ':' + typed(qv));
          }
          break;
        }
      }
    }
  }
  return { body: '{' + parts.join(',') + '}', metrics: parts.length };
}

/** `X-Reconnoiter-Period` (milliseconds) as a number, or undefined when absent or not a positive integer. */
export function parsePeriodHeader(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (v === undefined || !/^\s*\d{1,10}\s*$/.test(v)) return undefined;
  const n = Number(v);
  return n > 0 ? n : undefined;
}
