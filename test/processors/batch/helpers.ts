/** Shared helpers for processor tests: settings, config validation, data builders, a recording consumer. */
import type { Consumer, CreateSettings, ProcessorFactory } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { ConfigError, type ConfigIssue } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import type { Attributes, Event, EventBatch, Metric, MetricsBatch, NumberDataPoint, ResourceMetrics, ScopeMetrics } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';

export function settings(id: string): CreateSettings {
  return { id, logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: '/nonexistent', pipeline: 'metrics' };
}

/** Validate raw user config like the service does; returns the value and every issue. */
export function check<C>(factory: ProcessorFactory<C>, raw: unknown): { value: C; issues: ConfigIssue[] } {
  const res = validateSchema(factory.configSchema, raw, '');
  const issues = [...res.issues];
  if (issues.length === 0 && factory.validate) issues.push(...factory.validate(res.value as C));
  return { value: res.value as C, issues };
}

/** Validated config; throws ConfigError on any error. */
export function configure<C>(factory: ProcessorFactory<C>, raw: unknown): C {
  const { value, issues } = check(factory, raw);
  if (issues.some((i) => i.severity === 'error')) throw new ConfigError(issues);
  return value;
}

let seq = 0n;

export function point(attributes: Attributes = {}, value: number | bigint = 1): NumberDataPoint {
  seq++;
  return { attributes, startTimeUnixNano: 1_700_000_000_000_000_000n, timeUnixNano: 1_700_000_000_000_000_000n + seq, flags: 0, value };
}

export function gauge(name: string, points: NumberDataPoint[]): Metric {
  return { kind: 'gauge', name, description: `${name} description`, unit: '1', points };
}

export function sum(name: string, points: NumberDataPoint[]): Metric {
  return { kind: 'sum', name, description: `${name} description`, unit: 'By', temporality: 2, isMonotonic: true, points, metadata: { origin: 'test' } };
}

/** n points with attribute i = 0..n-1 */
export function points(n: number, extra: Attributes = {}): NumberDataPoint[] {
  return Array.from({ length: n }, (_, i) => point({ ...extra, i }, i));
}

export function scope(name: string, metrics: Metric[]): ScopeMetrics {
  return {
    scope: { name, version: '1.0', attributes: { 'scope.attr': name }, droppedAttributesCount: 0 },
    metrics,
    schemaUrl: 'https://opentelemetry.io/schemas/1.21.0',
  };
}

export function resource(attributes: Attributes, scopes: ScopeMetrics[]): ResourceMetrics {
  return { resource: { attributes, droppedAttributesCount: 0 }, scopeMetrics: scopes, schemaUrl: 'https://opentelemetry.io/schemas/1.21.0' };
}

export function batch(...rms: ResourceMetrics[]): MetricsBatch {
  return { resourceMetrics: rms };
}

export function events(n: number, attrs: (i: number) => Attributes = (i) => ({ i })): EventBatch {
  return { events: Array.from({ length: n }, (_, i): Event => ({ timeUnixNano: 1_700_000_000_000_000_000n + BigInt(i), attributes: attrs(i) })) };
}

/** Every data point of a batch, in order. */
export function allPoints(b: MetricsBatch): NumberDataPoint[] {
  const out: NumberDataPoint[] = [];
  for (const rm of b.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) out.push(...(m.points as NumberDataPoint[]));
  return out;
}

export function metricNames(b: MetricsBatch): string[] {
  const out: string[] = [];
  for (const rm of b.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) out.push(m.name);
  return out;
}

export interface Call<T> {
  data: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * A downstream consumer that records every call. With `auto` (the default)
 * it accepts at once; otherwise each call waits until the test settles it.
 */
export class Recorder<T> implements Consumer<T> {
  readonly calls: Array<Call<T>> = [];
  readonly mutatesData = false;
  constructor(private readonly auto: boolean | Error = true) {}
  consume(data: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.calls.push({ data, resolve, reject });
      if (this.auto === true) resolve();
      else if (this.auto instanceof Error) reject(this.auto);
    });
  }
  get data(): T[] {
    return this.calls.map((c) => c.data);
  }
}

/** Poll (not sleep) until `cond` holds, failing after `ms`. */
export async function waitFor(cond: () => boolean, ms = 2000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Let queued promise callbacks run (a macrotask turn). */
export function tick(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Track a promise's state without awaiting it. */
export function track(p: Promise<unknown>): { state: 'pending' | 'resolved' | 'rejected'; error: unknown } {
  const s: { state: 'pending' | 'resolved' | 'rejected'; error: unknown } = { state: 'pending', error: undefined };
  p.then(
    () => {
      s.state = 'resolved';
    },
    (e: unknown) => {
      s.state = 'rejected';
      s.error = e;
    },
  );
  return s;
}

export function neverAbort(): AbortSignal {
  return new AbortController().signal;
}
