/**
 * The stability join (semantics.md §8), clock-free so tests drive it: for
 * each group, each tuple of linked attribute values v and each denominator
 * window w (aligned to the epoch), it sums the error windows inside w and the
 * denominator's points in w; when w closes (end + allowed lateness) it emits
 *   errors_per_<group>   = errors(v, w) ÷ denominator(v, w)
 *   impacted_share_<group> = impacted(v, w) ÷ denominator(v, w)   (when an impacted metric is configured and seen)
 *   crash_free_rate_<group> = 1 − crashed(v, w) ÷ denominator(v, w)   (when a crashed metric is configured; none seen = 0)
 *   errored_rate_<group>    = errored(v, w) ÷ denominator(v, w)       (when an errored metric is configured; none seen = 0)
 * (errors_per_<group> only when an errors metric is configured)
 * as gauges with start = w's start and time = w's end. No denominator, or
 * zero: no point, counted. A point's window is taken from its start time when
 * it has one (metric-set windows, delta sums), else from its time.
 *
 * A ratio needs both sides covered by collected data: errors are collected
 * from `coverFrom()` on (the processor's start), so a window that began
 * earlier (history imported for the days before, the hour the service
 * started in) has no error side: no point, counted `uncovered`, whenever its
 * points arrive. Only windows from the start on are scored, 0 included.
 */
import type { Attributes, Metric, MetricsBatch, NumberDataPoint, ResourceMetrics } from '../../src/model/index.js';
import { slug, type StabilityConfig, type StabilityGroup } from './config.js';

const IMPORTER_SCOPE = 'metricport/importer';
export const STABILITY_SCOPE = 'metricport/stability';

interface Entry {
  g: number;
  values: string[];
  w: bigint;
  errors: number;
  impacted: number;
  hasImpacted: boolean;
  crashed: number;
  errored: number;
  den: number;
  hasDen: boolean;
  /** gauges as denominators: last by time */
  denTime: bigint;
}

export interface StabilityCounters {
  /** windows closed without a denominator (or with zero): no point */
  no_denominator: number;
  /** points of a group without a linked attribute (and no default): dropped */
  missing_attribute: number;
  /** points for a window already emitted */
  late: number;
  /** points for a window that began before the error side was collected (before start): never scored */
  uncovered: number;
  /** entries refused at max_entries */
  overflow: number;
  /** cumulative or histogram points offered as a denominator: ignored */
  unsupported: number;
  emitted: number;
}

interface Compiled {
  g: StabilityGroup;
  keys: string[];
  defaults: string[];
  metrics: Set<string>;
  W: bigint;
  out: string;
}

export class StabilityEngine {
  private readonly groups: Compiled[];
  private readonly entries = new Map<string, Entry>();
  /** per group: windows before this are closed (emitted) */
  private readonly closedBefore: bigint[];
  readonly counters: StabilityCounters = { no_denominator: 0, missing_attribute: 0, late: 0, uncovered: 0, overflow: 0, unsupported: 0, emitted: 0 };
  /** windows starting before this (ns) are not covered by collected errors; undefined: every window is (the engine driven alone, in tests) */
  private coveredFrom: bigint | undefined;

  constructor(private readonly cfg: StabilityConfig) {
    this.groups = cfg.groups.map((g) => ({
      g,
      keys: Object.keys(g.attributes),
      defaults: Object.values(g.attributes),
      metrics: new Set(g.metrics),
      W: BigInt(g.window) * 1_000_000n,
      out: g.output !== '' ? g.output : slug(g.name),
    }));
    this.closedBefore = this.groups.map(() => -1n);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Errors are collected from `ns` on: windows that began earlier are never scored. */
  coverFrom(ns: bigint): void {
    this.coveredFrom = ns;
  }

  private lateness(c: Compiled): bigint {
    return this.cfg.allowed_lateness !== undefined ? BigInt(this.cfg.allowed_lateness) * 1_000_000n : c.W;
  }

  /**
   * Take a batch in. Returns the batch to pass on: the same object, or a
   * copy without the group points that lack a linked attribute (dropped).
   */
  add(batch: MetricsBatch): MetricsBatch {
    let dropAny = false;
    const drops = new Map<NumberDataPoint, true>();
    for (const rm of batch.resourceMetrics)
      for (const sm of rm.scopeMetrics) {
        const fromImporter = sm.scope.name === IMPORTER_SCOPE;
        const scopeGroup = sm.scope.attributes['metric.group'];
        for (const m of sm.metrics) {
          for (let gi = 0; gi < this.groups.length; gi++) {
            const c = this.groups[gi]!;
            const isDen = c.metrics.has(m.name) || (typeof scopeGroup === 'string' && scopeGroup === c.g.name);
            const role = isDen ? 'den' : roleOf(c.g, m.name);
            if (role === undefined) continue;
            if (m.kind !== 'gauge' && !(m.kind === 'sum' && m.temporality === 1)) {
              this.counters.unsupported += m.points.length;
              continue;
            }
            for (const p of m.points as NumberDataPoint[]) {
              const values = this.values(c, p.attributes, role !== 'den' || fromImporter);
              if (values === undefined) {
                this.counters.missing_attribute++;
                if (role === 'den') {
                  drops.set(p, true);
                  dropAny = true;
                }
                continue;
              }
              this.fold(gi, c, values, p, m, role);
            }
          }
        }
      }
    return dropAny ? withoutPoints(batch, drops) : batch;
  }

  private values(c: Compiled, attrs: Attributes, useDefaults: boolean): string[] | undefined {
    const out: string[] = new Array(c.keys.length);
    for (let i = 0; i < c.keys.length; i++) {
      const v = attrs[c.keys[i]!];
      if (v === undefined || v === null) {
        const d = c.defaults[i]!;
        if (!useDefaults || d === '') return undefined;
        out[i] = d;
      } else out[i] = typeof v === 'string' ? v : String(v);
    }
    return out;
  }

  private fold(gi: number, c: Compiled, values: string[], p: NumberDataPoint, m: Metric, role: Role): void {
    const t = p.startTimeUnixNano > 0n ? p.startTimeUnixNano : p.timeUnixNano;
    const w = t - (((t % c.W) + c.W) % c.W);
    if (this.coveredFrom !== undefined && w < this.coveredFrom) {
      this.counters.uncovered++;
      return;
    }
    if (w < this.closedBefore[gi]!) {
      this.counters.late++;
      return;
    }
    const key = `${gi}\u0000${w}\u0000${values.join('\u0000')}`;
    let e = this.entries.get(key);
    if (e === undefined) {
      if (this.entries.size >= this.cfg.max_entries) {
        this.counters.overflow++;
        return;
      }
      e = { g: gi, values, w, errors: 0, impacted: 0, hasImpacted: false, crashed: 0, errored: 0, den: 0, hasDen: false, denTime: -1n };
      this.entries.set(key, e);
    }
    const v = typeof p.value === 'bigint' ? Number(p.value) : p.value;
    if (role === 'errors') e.errors += v;
    else if (role === 'impacted') {
      e.impacted += v;
      e.hasImpacted = true;
    } else if (role === 'crashed') e.crashed += v;
    else if (role === 'errored') e.errored += v;
    else if (m.kind === 'gauge') {
      if (p.timeUnixNano >= e.denTime) {
        e.den = v;
        e.denTime = p.timeUnixNano;
      }
      e.hasDen = true;
    } else {
      e.den += v;
      e.hasDen = true;
    }
  }

  /** Emit every window that ended at least `lateness` before `nowNs` (all of them when `all`). */
  close(nowNs: bigint, all = false): MetricsBatch | undefined {
    const due: Entry[] = [];
    for (let gi = 0; gi < this.groups.length; gi++) {
      const c = this.groups[gi]!;
      if (!all) {
        // windows whose end + lateness ≤ now are closed
        const edge = nowNs - this.lateness(c);
        const closed = edge - (((edge % c.W) + c.W) % c.W);
        if (closed > this.closedBefore[gi]!) this.closedBefore[gi] = closed;
      }
    }
    for (const [k, e] of this.entries) {
      const c = this.groups[e.g]!;
      if (all || e.w + c.W <= this.closedBefore[e.g]!) {
        due.push(e);
        this.entries.delete(k);
      }
    }
    if (due.length === 0) return undefined;
    const metrics = new Map<string, Metric>();
    const gauge = (name: string, unit: string, description: string): NumberDataPoint[] => {
      let m = metrics.get(name);
      if (m === undefined) {
        m = { kind: 'gauge', name, unit, description, points: [] };
        metrics.set(name, m);
      }
      return m.points as NumberDataPoint[];
    };
    due.sort((a, b) => (a.w < b.w ? -1 : a.w > b.w ? 1 : 0));
    for (const e of due) {
      const c = this.groups[e.g]!;
      if (!e.hasDen || e.den === 0) {
        this.counters.no_denominator++;
        continue;
      }
      const attributes: Attributes = {};
      c.keys.forEach((k, i) => {
        attributes[k] = e.values[i]!;
      });
      const start = e.w;
      const end = e.w + c.W;
      if (c.g.errors !== '') {
        gauge(`errors_per_${c.out}`, '1', `Errors (${c.g.errors}) per ${c.g.name}, over the group's ${c.g.window / 1000}s windows`).push({
          attributes,
          startTimeUnixNano: start,
          timeUnixNano: end,
          flags: 0,
          value: e.errors / e.den,
        });
        this.counters.emitted++;
      }
      if (c.g.crashed !== '') {
        gauge(
          `crash_free_rate_${c.out}`,
          '1',
          `Crash-free rate of ${c.g.name}: 1 − ${c.g.crashed} ÷ ${c.g.name}, over the group's ${c.g.window / 1000}s windows`,
        ).push({ attributes: { ...attributes }, startTimeUnixNano: start, timeUnixNano: end, flags: 0, value: 1 - e.crashed / e.den });
        this.counters.emitted++;
      }
      if (c.g.errored !== '') {
        gauge(`errored_rate_${c.out}`, '1', `Errored rate of ${c.g.name}: ${c.g.errored} ÷ ${c.g.name}, over the group's ${c.g.window / 1000}s windows`).push({
          attributes: { ...attributes },
          startTimeUnixNano: start,
          timeUnixNano: end,
          flags: 0,
          value: e.errored / e.den,
        });
        this.counters.emitted++;
      }
      if (c.g.impacted !== '' && e.hasImpacted) {
        gauge(`impacted_share_${c.out}`, '1', `Share of ${c.g.name} impacted (${c.g.impacted} ÷ ${c.g.name})`).push({
          attributes: { ...attributes },
          startTimeUnixNano: start,
          timeUnixNano: end,
          flags: 0,
          value: e.impacted / e.den,
        });
        this.counters.emitted++;
      }
    }
    if (metrics.size === 0) return undefined;
    return {
      resourceMetrics: [
        {
          schemaUrl: '',
          resource: { attributes: {}, droppedAttributesCount: 0 },
          scopeMetrics: [
            { schemaUrl: '', scope: { name: STABILITY_SCOPE, version: '', attributes: {}, droppedAttributesCount: 0 }, metrics: [...metrics.values()] },
          ],
        },
      ],
    };
  }
}

type Role = 'den' | 'errors' | 'impacted' | 'crashed' | 'errored';

/** the part a metric plays in a group besides the denominator, if any */
function roleOf(g: StabilityGroup, name: string): Role | undefined {
  if (g.errors !== '' && name === g.errors) return 'errors';
  if (g.impacted !== '' && name === g.impacted) return 'impacted';
  if (g.crashed !== '' && name === g.crashed) return 'crashed';
  if (g.errored !== '' && name === g.errored) return 'errored';
  return undefined;
}

/** A shallow copy of the batch without the given points (the input is not changed). */
function withoutPoints(batch: MetricsBatch, drop: Map<NumberDataPoint, true>): MetricsBatch {
  const resourceMetrics: ResourceMetrics[] = [];
  for (const rm of batch.resourceMetrics) {
    const scopeMetrics = rm.scopeMetrics
      .map((sm) => ({
        ...sm,
        metrics: sm.metrics
          .map((m) => (m.kind === 'gauge' || m.kind === 'sum' ? ({ ...m, points: (m.points as NumberDataPoint[]).filter((p) => !drop.has(p)) } as Metric) : m))
          .filter((m) => m.points.length > 0),
      }))
      .filter((sm) => sm.metrics.length > 0);
    if (scopeMetrics.length > 0) resourceMetrics.push({ ...rm, scopeMetrics });
  }
  return { resourceMetrics };
}
