/**
 * Compiled include/exclude conditions of the filter processor, and the
 * filtering itself. Everything is compiled once (regexes included); filtering
 * never changes its input: it builds new containers only where something was
 * removed and reuses every unchanged object.
 */
import type { ConfigIssue } from '../../src/errors.js';
import {
  valueToString,
  type AttrValue,
  type Attributes,
  type Event,
  type EventBatch,
  type Metric,
  type MetricsBatch,
  type ResourceMetrics,
  type ScopeMetrics,
} from '../../src/model/index.js';

export type MatchType = 'regexp' | 'strict';

export interface AttributeCondition {
  key: string;
  /** absent: the key only has to be present */
  value?: string;
}

export interface MetricMatchConfig {
  match_type: MatchType;
  metric_names?: string[];
  resource_attributes?: AttributeCondition[];
  attributes?: AttributeCondition[];
}

export interface EventMatchConfig {
  match_type: MatchType;
  attributes?: AttributeCondition[];
}

export interface FilterConfig {
  metrics?: { include?: MetricMatchConfig; exclude?: MetricMatchConfig };
  events?: { include?: EventMatchConfig; exclude?: EventMatchConfig };
}

type StringTest = (s: string) => boolean;

interface CompiledAttr {
  key: string;
  test: StringTest | undefined;
}

export interface CompiledMetricMatch {
  /** undefined: any name */
  names: StringTest | undefined;
  resource: CompiledAttr[];
  point: CompiledAttr[];
}

export interface CompiledEventMatch {
  attrs: CompiledAttr[];
}

export interface CompiledFilter {
  metrics: { include?: CompiledMetricMatch; exclude?: CompiledMetricMatch } | undefined;
  events: { include?: CompiledEventMatch; exclude?: CompiledEventMatch } | undefined;
}

/** A full-match (anchored) regex for `src`; issues go to `path` when it does not compile. */
function compileRegex(src: string, path: string, issues: ConfigIssue[]): RegExp | undefined {
  try {
    // check the source alone first: wrapping can make an unbalanced source like "a)|(b" valid
    new RegExp(src);
    return new RegExp(`^(?:${src})$`);
  } catch (e) {
    issues.push({ path, message: `invalid regular expression ${JSON.stringify(src)}: ${(e as Error).message}`, severity: 'error' });
    return undefined;
  }
}

function compileStrings(matchType: MatchType, values: string[], path: string, issues: ConfigIssue[]): StringTest | undefined {
  if (values.length === 0) return undefined;
  if (matchType === 'strict') {
    if (values.length === 1) {
      const v = values[0] as string;
      return (s) => s === v;
    }
    const set = new Set(values);
    return (s) => set.has(s);
  }
  const res: RegExp[] = [];
  values.forEach((v, i) => {
    const re = compileRegex(v, `${path}[${i}]`, issues);
    if (re) res.push(re);
  });
  if (res.length === 1) {
    const re = res[0] as RegExp;
    return (s) => re.test(s);
  }
  return (s) => res.some((re) => re.test(s));
}

function compileAttrs(matchType: MatchType, conds: AttributeCondition[], path: string, issues: ConfigIssue[]): CompiledAttr[] {
  return conds.map((c, i) => {
    if (c.value === undefined) return { key: c.key, test: undefined };
    if (matchType === 'strict') {
      const v = c.value;
      return { key: c.key, test: (s: string) => s === v };
    }
    const re = compileRegex(c.value, `${path}[${i}].value`, issues);
    return { key: c.key, test: re ? (s: string) => re.test(s) : () => false };
  });
}

function compileMetricMatch(m: MetricMatchConfig, path: string, issues: ConfigIssue[]): CompiledMetricMatch {
  const names = m.metric_names ?? [];
  const resource = m.resource_attributes ?? [];
  const point = m.attributes ?? [];
  if (names.length === 0 && resource.length === 0 && point.length === 0) {
    issues.push({ path, message: 'needs at least one of metric_names, resource_attributes, attributes', severity: 'error' });
  }
  return {
    names: compileStrings(m.match_type, names, `${path}.metric_names`, issues),
    resource: compileAttrs(m.match_type, resource, `${path}.resource_attributes`, issues),
    point: compileAttrs(m.match_type, point, `${path}.attributes`, issues),
  };
}

function compileEventMatch(m: EventMatchConfig, path: string, issues: ConfigIssue[]): CompiledEventMatch {
  const attrs = m.attributes ?? [];
  if (attrs.length === 0) issues.push({ path, message: 'needs at least one condition in attributes', severity: 'error' });
  return { attrs: compileAttrs(m.match_type, attrs, `${path}.attributes`, issues) };
}

/** Compile a validated config; `issues` collects bad regexes and empty blocks with their key paths. */
export function compileFilter(cfg: FilterConfig, issues: ConfigIssue[]): CompiledFilter {
  const out: CompiledFilter = { metrics: undefined, events: undefined };
  const m = cfg.metrics;
  if (m && (m.include || m.exclude)) {
    out.metrics = {};
    if (m.include) out.metrics.include = compileMetricMatch(m.include, 'metrics.include', issues);
    if (m.exclude) out.metrics.exclude = compileMetricMatch(m.exclude, 'metrics.exclude', issues);
  }
  const e = cfg.events;
  if (e && (e.include || e.exclude)) {
    out.events = {};
    if (e.include) out.events.include = compileEventMatch(e.include, 'events.include', issues);
    if (e.exclude) out.events.exclude = compileEventMatch(e.exclude, 'events.exclude', issues);
  }
  return out;
}

/** Every condition holds: the key is present and (when a value is given) its value as a string matches. */
function attrsMatch(attrs: Attributes, conds: CompiledAttr[]): boolean {
  for (const c of conds) {
    if (!Object.prototype.hasOwnProperty.call(attrs, c.key)) return false;
    if (c.test !== undefined && !c.test(valueToString(attrs[c.key] as AttrValue))) return false;
  }
  return true;
}

export interface FilterResult<T> {
  /** the data to pass on (the input itself when nothing was removed); undefined when nothing remains */
  data: T | undefined;
  /** items (data points or events) in the input */
  incoming: number;
  /** items kept */
  kept: number;
}

/**
 * Keep a data point when it matches include (if given) and does not match
 * exclude (if given). A block matches a point when all its conditions hold:
 * the metric name matches one of metric_names, the resource has every
 * resource_attribute, the point has every attribute; absent lists hold.
 */
export function filterMetrics(
  batch: MetricsBatch,
  include: CompiledMetricMatch | undefined,
  exclude: CompiledMetricMatch | undefined,
): FilterResult<MetricsBatch> {
  let incoming = 0;
  let kept = 0;
  let changed = false;
  const rmsOut: ResourceMetrics[] = [];
  for (const rm of batch.resourceMetrics) {
    const resAttrs = rm.resource.attributes;
    const incRes = include === undefined || attrsMatch(resAttrs, include.resource);
    // exclude can only match inside this resource when its resource conditions hold here
    const exRes = exclude !== undefined && attrsMatch(resAttrs, exclude.resource);
    let rmChanged = false;
    const smsOut: ScopeMetrics[] = [];
    for (const sm of rm.scopeMetrics) {
      let smChanged = false;
      const metricsOut: Metric[] = [];
      for (const m of sm.metrics) {
        const n = m.points.length;
        incoming += n;
        const out = incRes ? filterMetric(m, include, exRes ? exclude : undefined) : undefined;
        if (out === undefined || out.points.length === 0) {
          smChanged = true;
          continue;
        }
        if (out !== m) smChanged = true;
        kept += out.points.length;
        metricsOut.push(out);
      }
      if (metricsOut.length === 0) {
        rmChanged = true;
        continue;
      }
      if (smChanged) {
        rmChanged = true;
        smsOut.push({ scope: sm.scope, metrics: metricsOut, schemaUrl: sm.schemaUrl });
      } else smsOut.push(sm);
    }
    if (smsOut.length === 0) {
      changed = true;
      continue;
    }
    if (rmChanged) {
      changed = true;
      rmsOut.push({ resource: rm.resource, scopeMetrics: smsOut, schemaUrl: rm.schemaUrl });
    } else rmsOut.push(rm);
  }
  const data = rmsOut.length === 0 ? undefined : changed ? { resourceMetrics: rmsOut } : batch;
  return { data, incoming, kept };
}

/**
 * One metric whose resource passed include's resource conditions; `exclude`
 * is given only when its resource conditions hold for the resource. Returns
 * the metric itself when all its points stay, a copy with fewer points, or
 * undefined when none stays.
 */
function filterMetric(m: Metric, include: CompiledMetricMatch | undefined, exclude: CompiledMetricMatch | undefined): Metric | undefined {
  if (include?.names !== undefined && !include.names(m.name)) return undefined;
  const exName = exclude !== undefined && (exclude.names === undefined || exclude.names(m.name));
  if (exName && exclude.point.length === 0) return undefined;
  const inc = include !== undefined && include.point.length > 0 ? include.point : undefined;
  const ex = exName ? exclude.point : undefined;
  if (inc === undefined && ex === undefined) return m;
  const points = (m.points as Array<{ attributes: Attributes }>).filter(
    (p) => (inc === undefined || attrsMatch(p.attributes, inc)) && (ex === undefined || !attrsMatch(p.attributes, ex)),
  );
  if (points.length === m.points.length) return m;
  if (points.length === 0) return undefined;
  return { ...m, points } as Metric;
}

/** Keep an event when it has every include attribute (if given) and not every exclude attribute (if given). */
export function filterEvents(batch: EventBatch, include: CompiledEventMatch | undefined, exclude: CompiledEventMatch | undefined): FilterResult<EventBatch> {
  const incoming = batch.events.length;
  const events: Event[] = batch.events.filter(
    (e) => (include === undefined || attrsMatch(e.attributes, include.attrs)) && (exclude === undefined || !attrsMatch(e.attributes, exclude.attrs)),
  );
  const kept = events.length;
  const data = kept === 0 ? undefined : kept === incoming ? batch : { events };
  return { data, incoming, kept };
}
