/**
 * The Prometheus series keyer: OTLP metric → family name, resource + scope +
 * point attributes → the rendered label string (`a="x",b="y"`, no braces),
 * which is both the series key in the store and its exposition text.
 *
 * - point attributes: names sanitised (naming.ts); collisions joined with `;`
 *   in the order of the original keys; sorted by label name. An attribute
 *   whose label would be `job`, `instance`, `otel_scope_name`,
 *   `otel_scope_version`, `le` or `quantile` is renamed `exported_<name>`.
 * - scope → `otel_scope_name`, `otel_scope_version` (when not empty);
 * - resource → `job` = `service.namespace/service.name` (or `service.name`),
 *   `instance` = `service.instance.id`; every other resource attribute goes
 *   into `target_info{job,instance,...} 1`.
 */
import type { Attributes, AttrValue, Metric, Resource, Scope } from '../../src/model/index.js';
import { valueToString } from '../../src/model/attributes.js';
import type { CumulativeStore, FamilyInfo, SeriesKeyer } from '../../src/pullstore/cumulative.js';
import { baseUnit, BoundedMemo, escapeLabelValue, labelNameMemo, metricName, type PromType } from './naming.js';

const RESERVED = new Set(['job', 'instance', 'otel_scope_name', 'otel_scope_version', 'le', 'quantile']);
// metricport.partition: the cluster's partition tag of merged series (src/pullstore/cumulative.ts), never a label
const RESOURCE_ID_KEYS = new Set(['service.name', 'service.namespace', 'service.instance.id', 'metricport.partition']);

/** point attribute key → label name (sanitised, reserved names prefixed), memoised in one lookup */
const pointLabelMemo = new BoundedMemo<string>(10_000, (key) => {
  const l = labelNameMemo.get(key);
  return RESERVED.has(l) ? 'exported_' + l : l;
});

function pointLabel(key: string): string {
  return pointLabelMemo.get(key);
}

// scratch for the common path (no collisions): reused, so rendering a
// point's labels allocates only the result string
const scratchNames: string[] = [];
const scratchValues: string[] = [];

/**
 * Render attributes as sorted `name="value"` pairs (collisions joined with
 * `;`); `suffix` (already rendered pairs, e.g. the resource/scope context) is
 * appended after a comma. Hot path of ingest: no per-point arrays.
 */
export function renderLabels(attrs: Attributes, rename: (k: string) => string = pointLabel, suffix = ''): string {
  let n = 0;
  for (const k in attrs) {
    const name = rename(k);
    const v = valueToString(attrs[k] as AttrValue);
    // insertion into the sorted scratch (attribute sets are small)
    let j = n;
    while (j > 0 && (scratchNames[j - 1] as string) > name) {
      scratchNames[j] = scratchNames[j - 1] as string;
      scratchValues[j] = scratchValues[j - 1] as string;
      j--;
    }
    if (j > 0 && scratchNames[j - 1] === name) {
      // two keys sanitise to one label name: the rare path joins them in key order
      scratchNames.length = 0;
      scratchValues.length = 0;
      return joinLabels(renderColliding(attrs, rename), suffix);
    }
    scratchNames[j] = name;
    scratchValues[j] = v;
    n++;
  }
  let out = '';
  for (let i = 0; i < n; i++) {
    if (i > 0) out += ',';
    out += (scratchNames[i] as string) + '="' + escapeLabelValue(scratchValues[i] as string) + '"';
  }
  // drop references to the point's strings
  for (let i = 0; i < n; i++) {
    scratchNames[i] = '';
    scratchValues[i] = '';
  }
  return suffix === '' ? out : out === '' ? suffix : out + ',' + suffix;
}

function renderColliding(attrs: Attributes, rename: (k: string) => string): string {
  const keys = Object.keys(attrs).sort();
  const names: string[] = [];
  const values: string[] = [];
  for (const k of keys) {
    const name = rename(k);
    const v = valueToString(attrs[k] as AttrValue);
    const j = names.indexOf(name);
    if (j >= 0) {
      values[j] = values[j] + ';' + v;
      continue;
    }
    names.push(name);
    values.push(v);
  }
  const order = names.map((_, i) => i).sort((a, b) => ((names[a] as string) < (names[b] as string) ? -1 : 1));
  return order.map((i) => names[i] + '="' + escapeLabelValue(values[i] as string) + '"').join(',');
}

function str(v: AttrValue | undefined): string {
  return v === undefined || v === null ? '' : valueToString(v);
}

/** `job` and `instance` from a resource's service.* attributes. */
function jobInstance(r: Resource): { job: string; instance: string } {
  const name = str(r.attributes['service.name']);
  const ns = str(r.attributes['service.namespace']);
  return { job: ns !== '' && name !== '' ? `${ns}/${name}` : name, instance: str(r.attributes['service.instance.id']) };
}

function joinLabels(a: string, b: string): string {
  return a === '' ? b : b === '' ? a : a + ',' + b;
}

export class PromKeyer implements SeriesKeyer {
  /** series() renders the point's labels only; the context (scope, job, instance labels) is kept once per resource and scope by the store */
  readonly splitsContext = true;
  private readonly names: BoundedMemo<{ name: string; unit: string; mul: number; div: number }>;
  private readonly targetInfo: FamilyInfo = { name: 'target_info', type: 'gauge', help: 'Target metadata', unit: '' };

  constructor(
    private readonly namespace = '',
    private readonly withTargetInfo = true,
    private readonly baseUnits = true,
    private readonly unitSuffix = true,
  ) {
    this.names = new BoundedMemo(10_000, (k) => {
      const [name, rawUnit, type] = k.split('\u0000') as [string, string, PromType];
      // without unit suffixes the unit plays no part: no suffix, no scaling, no # UNIT
      const unit = this.unitSuffix ? rawUnit : '';
      const b = this.baseUnits ? baseUnit(unit) : { unit, mul: 1, div: 1 };
      return { name: metricName(this.namespace === '' ? name : `${this.namespace}_${name}`, b.unit, type), unit: b.unit, mul: b.mul, div: b.div };
    });
  }

  family(m: Metric, type: PromType): FamilyInfo {
    const n = this.names.get(m.name + '\u0000' + m.unit + '\u0000' + type);
    // HELP is never empty (promtool lints that): the OTLP name stands in for a missing description
    return { name: n.name, type, help: m.description !== '' ? m.description : m.name, unit: n.unit, mul: n.mul, div: n.div };
  }

  context(resource: Resource, scope: Scope): string {
    const { job, instance } = jobInstance(resource);
    let s = '';
    if (scope.name !== '') s = 'otel_scope_name="' + escapeLabelValue(scope.name) + '"';
    if (scope.version !== '') s = joinLabels(s, 'otel_scope_version="' + escapeLabelValue(scope.version) + '"');
    if (job !== '') s = joinLabels(s, 'job="' + escapeLabelValue(job) + '"');
    if (instance !== '') s = joinLabels(s, 'instance="' + escapeLabelValue(instance) + '"');
    return s;
  }

  series(attrs: Attributes, _ctx: string): string {
    return renderLabels(attrs, pointLabel);
  }

  onResource(resource: Resource, store: CumulativeStore): void {
    if (!this.withTargetInfo) return;
    const other: Attributes = {};
    let any = false;
    for (const k of Object.keys(resource.attributes)) {
      if (RESOURCE_ID_KEYS.has(k)) continue;
      other[k] = resource.attributes[k] as AttrValue;
      any = true;
    }
    if (!any) return;
    const { job, instance } = jobInstance(resource);
    let id = '';
    if (job !== '') id = 'job="' + escapeLabelValue(job) + '"';
    if (instance !== '') id = joinLabels(id, 'instance="' + escapeLabelValue(instance) + '"');
    store.setGauge(this.targetInfo, joinLabels(renderLabels(other), id), 1, 0n);
  }
}
