/**
 * metricport's own instruments: a small implementation of the OpenTelemetry
 * `Meter` API (counters, up-down counters, gauges, histograms and their
 * observable forms) with cumulative state and a Prometheus text exposition
 * (format 0.0.4) written the way @opentelemetry/exporter-prometheus writes
 * it: `_total` on monotonic sums, `_count`/`_sum`/`_bucket` for histograms,
 * label names sanitised, values escaped, a `target_info` line. It replaces
 * @opentelemetry/sdk-metrics and the Prometheus exporter, which cost ~10 MiB
 * of heap and ~250 ms at start for what metricport uses of them.
 *
 * Each instrument holds at most CARDINALITY_LIMIT series: past LIMIT - 1
 * attribute sets, further ones are folded into one series labelled
 * `otel_metric_overflow="true"`, as the SDK does.
 */
import type {
  Attributes,
  BatchObservableCallback,
  Counter,
  Gauge,
  Histogram,
  Meter,
  MetricOptions,
  Observable,
  ObservableCallback,
  ObservableCounter,
  ObservableGauge,
  ObservableResult,
  ObservableUpDownCounter,
  UpDownCounter,
} from '@opentelemetry/api';

export const CARDINALITY_LIMIT = 2000;
/** The SDK's default explicit bucket boundaries. */
const DEFAULT_BOUNDARIES: readonly number[] = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];
const OVERFLOW: Attributes = { 'otel.metric.overflow': true };

type Kind = 'counter' | 'updowncounter' | 'gauge' | 'histogram' | 'observable_counter' | 'observable_updowncounter' | 'observable_gauge';

interface HistState {
  counts: number[];
  sum: number;
  count: number;
}
interface Series {
  attrs: Attributes;
  value: number;
  hist?: HistState;
}

/** Identity of an attribute set: its entries sorted by key. */
function keyOf(attrs: Attributes): string {
  const keys = Object.keys(attrs);
  if (keys.length === 0) return '';
  if (keys.length > 1) keys.sort();
  let k = '';
  for (const name of keys) k += `${name}\u0000${typeof attrs[name]}\u0000${String(attrs[name])}\u0001`;
  return k;
}

const OVERFLOW_KEY = keyOf(OVERFLOW);

class Instrument {
  readonly series = new Map<string, Series>();
  /** the series of an attribute object the caller keeps and passes again (the common case) */
  private byObject = new WeakMap<Attributes, Series>();
  readonly callbacks: ObservableCallback[] = [];
  readonly boundaries: readonly number[];

  constructor(
    readonly name: string,
    readonly kind: Kind,
    readonly description: string,
    readonly unit: string,
    boundaries?: readonly number[],
  ) {
    this.boundaries = boundaries ?? DEFAULT_BOUNDARIES;
  }

  get observable(): boolean {
    return this.kind.startsWith('observable_');
  }

  /** forget every series (an observable's, before its callbacks observe again) */
  reset(): void {
    this.series.clear();
    this.byObject = new WeakMap();
  }

  get(attrs: Attributes = {}): Series {
    let s = this.byObject.get(attrs);
    if (s !== undefined) return s;
    const key = keyOf(attrs);
    s = this.series.get(key);
    if (s === undefined) {
      // as the SDK: LIMIT - 1 attribute sets, then one overflow series for the rest
      if (this.series.size >= CARDINALITY_LIMIT - 1 && key !== OVERFLOW_KEY) return this.get(OVERFLOW);
      s = { attrs: { ...attrs }, value: 0 };
      if (this.kind === 'histogram') s.hist = { counts: new Array<number>(this.boundaries.length + 1).fill(0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    this.byObject.set(attrs, s);
    return s;
  }

  add(value: number, attrs?: Attributes): void {
    if (!Number.isFinite(value) || (this.kind === 'counter' && value < 0)) return;
    this.get(attrs).value += value;
  }

  set(value: number, attrs?: Attributes): void {
    if (Number.isNaN(value)) return;
    this.get(attrs).value = value;
  }

  record(value: number, attrs?: Attributes): void {
    if (!Number.isFinite(value)) return;
    const h = this.get(attrs).hist!;
    const b = this.boundaries;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    h.counts[i]!++;
    h.sum += value;
    h.count++;
  }
}

/** The Meter handed to components (`telemetry.meter`). */
export class SelfMeter implements Meter {
  private readonly instruments = new Map<string, Instrument>();
  private readonly batch: Array<{ cb: BatchObservableCallback; observables: Observable[] }> = [];

  private instrument(name: string, kind: Kind, options?: MetricOptions): Instrument {
    let i = this.instruments.get(name);
    if (i === undefined) {
      i = new Instrument(name, kind, options?.description ?? '', options?.unit ?? '', options?.advice?.explicitBucketBoundaries);
      this.instruments.set(name, i);
    }
    return i;
  }

  createCounter(name: string, options?: MetricOptions): Counter {
    const i = this.instrument(name, 'counter', options);
    return { add: (v, a) => i.add(v, a) };
  }

  createUpDownCounter(name: string, options?: MetricOptions): UpDownCounter {
    const i = this.instrument(name, 'updowncounter', options);
    return { add: (v, a) => i.add(v, a) };
  }

  createGauge(name: string, options?: MetricOptions): Gauge {
    const i = this.instrument(name, 'gauge', options);
    return { record: (v, a) => i.set(v, a) };
  }

  createHistogram(name: string, options?: MetricOptions): Histogram {
    const i = this.instrument(name, 'histogram', options);
    return { record: (v, a) => i.record(v, a) };
  }

  private observable(name: string, kind: Kind, options?: MetricOptions): Observable & { readonly instrument: Instrument } {
    const i = this.instrument(name, kind, options);
    return {
      instrument: i,
      addCallback: (cb) => {
        i.callbacks.push(cb);
      },
      removeCallback: (cb) => {
        const at = i.callbacks.indexOf(cb);
        if (at >= 0) i.callbacks.splice(at, 1);
      },
    };
  }

  createObservableCounter(name: string, options?: MetricOptions): ObservableCounter {
    return this.observable(name, 'observable_counter', options);
  }

  createObservableUpDownCounter(name: string, options?: MetricOptions): ObservableUpDownCounter {
    return this.observable(name, 'observable_updowncounter', options);
  }

  createObservableGauge(name: string, options?: MetricOptions): ObservableGauge {
    return this.observable(name, 'observable_gauge', options);
  }

  addBatchObservableCallback(cb: BatchObservableCallback, observables: Observable[]): void {
    this.batch.push({ cb, observables });
  }

  removeBatchObservableCallback(cb: BatchObservableCallback, observables: Observable[]): void {
    const at = this.batch.findIndex((b) => b.cb === cb && b.observables.length === observables.length && b.observables.every((o, k) => o === observables[k]));
    if (at >= 0) this.batch.splice(at, 1);
  }

  /** Run the observable callbacks: each observable's series are what its callbacks observe now (a failing callback is skipped). */
  private async observe(): Promise<void> {
    const pending: Array<Promise<void>> = [];
    const run = (f: () => void | Promise<void>) => {
      try {
        const r = f();
        if (r !== undefined && typeof (r as Promise<void>).then === 'function') pending.push((r as Promise<void>).catch(() => undefined));
      } catch {
        /* a failing callback never breaks /metrics */
      }
    };
    for (const i of this.instruments.values()) {
      if (!i.observable) continue;
      i.reset();
      const result: ObservableResult = { observe: (v, a) => i.set(v, a) };
      for (const cb of i.callbacks) run(() => cb(result));
    }
    for (const { cb } of this.batch) {
      run(() => cb({ observe: (o, v, a) => (o as Observable & { instrument?: Instrument }).instrument?.set(v, a) }));
    }
    await Promise.all(pending);
  }

  /** The Prometheus text exposition (0.0.4) of every instrument with data, after the `target_info` line. */
  async render(resource: Attributes): Promise<string> {
    await this.observe();
    let out = `# HELP target_info Target metadata\n# TYPE target_info gauge\n${sample('target_info', resource, 1)}`;
    let any = false;
    for (const i of this.instruments.values()) {
      if (i.series.size === 0) continue;
      any = true;
      out += block(i);
    }
    return any ? out : `${out}# no registered metrics`;
  }
}

function block(i: Instrument): string {
  let name = i.name.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_');
  const monotonic = i.kind === 'counter' || i.kind === 'observable_counter';
  if (monotonic && !name.endsWith('_total')) name += '_total';
  const type = i.kind === 'histogram' ? 'histogram' : monotonic ? 'counter' : 'gauge';
  let out = `# HELP ${name} ${escape(i.description === '' ? 'description missing' : i.description)}\n`;
  if (i.unit !== '') out += `# UNIT ${name} ${escape(i.unit)}\n`;
  out += `# TYPE ${name} ${type}\n`;
  for (const s of i.series.values()) {
    if (s.hist === undefined) {
      out += sample(name, s.attrs, s.value);
      continue;
    }
    const h = s.hist;
    out += sample(`${name}_count`, s.attrs, h.count);
    out += sample(`${name}_sum`, s.attrs, h.sum);
    let cum = 0;
    h.counts.forEach((c, k) => {
      cum += c;
      const le = k < i.boundaries.length ? String(i.boundaries[k]) : '+Inf';
      out += sample(`${name}_bucket`, s.attrs, cum, le);
    });
  }
  return out;
}

function escape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function sample(name: string, attrs: Attributes, value: number, le?: string): string {
  let labels = '';
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined) continue;
    labels += `${labels === '' ? '' : ','}${k.replace(/[^a-z0-9_]/gi, '_').replace(/_{2,}/g, '_')}="${escape(typeof v === 'string' ? v : JSON.stringify(v)).replace(/"/g, '\\"')}"`;
  }
  if (le !== undefined) labels += `${labels === '' ? '' : ','}le="${le}"`;
  const v = value === Infinity ? '+Inf' : value === -Infinity ? '-Inf' : String(value);
  return `${name}${labels === '' ? '' : `{${labels}}`} ${v}\n`;
}
