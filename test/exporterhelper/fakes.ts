/** Test doubles for exporter tests: recording telemetry and logger, polling, sample batches. */
import { createNoopMeter } from '@opentelemetry/api';
import type { Attributes as OtelAttributes } from '@opentelemetry/api';
import type { CreateSettings, Host } from '../../src/component.js';
import type { Logger } from '../../src/logger.js';
import type { EventBatch, MetricsBatch } from '../../src/model/index.js';
import type { ExporterTelemetry, ProcessorTelemetry, ReceiverTelemetry, Telemetry } from '../../src/telemetry.js';

function bump(t: Record<string, number>, k: string, n: number): void {
  t[k] = (t[k] ?? 0) + n;
}

export class FakeTelemetry implements Telemetry {
  readonly meter = createNoopMeter();
  readonly exporterTotals = new Map<string, Record<string, number>>();
  readonly gauges = new Map<string, () => number>();

  exporter(id: string, signal: string): ExporterTelemetry {
    const t: Record<string, number> = {};
    this.exporterTotals.set(`${id}|${signal}`, t);
    return {
      sent: (n) => bump(t, 'sent', n),
      failed: (n, reason) => {
        bump(t, 'failed', n);
        bump(t, `failed.${reason}`, n);
      },
      dropped: (n, reason) => {
        bump(t, 'dropped', n);
        bump(t, `dropped.${reason}`, n);
      },
      totals: () => ({ ...t }),
    };
  }
  receiver(): ReceiverTelemetry {
    return { accepted: () => undefined, refused: () => undefined, rejected: () => undefined, request: () => undefined, totals: () => ({}) };
  }
  processor(): ProcessorTelemetry {
    return { incoming: () => undefined, outgoing: () => undefined, dropped: () => undefined, totals: () => ({}) };
  }
  gauge(name: string, _d: string, attrs: OtelAttributes, read: () => number): void {
    this.gauges.set(`${name}${JSON.stringify(attrs)}`, read);
  }

  counter(name: string, _d: string, attrs: OtelAttributes, read: () => number): void {
    this.gauges.set(`${name}${JSON.stringify(attrs)}`, read);
  }
  readGauge(name: string, attrs: OtelAttributes): number | undefined {
    return this.gauges.get(`${name}${JSON.stringify(attrs)}`)?.();
  }
}

export interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A Logger that records every call (and checks each entry is JSON-serialisable, as pino needs). */
export class RecordingLogger implements Logger {
  level = 'trace';
  constructor(
    readonly lines: LogLine[] = [],
    private readonly bindings: Record<string, unknown> = {},
  ) {}
  private rec(level: string, obj: object | string, msg?: string): void {
    const o = typeof obj === 'string' ? {} : (obj as Record<string, unknown>);
    JSON.stringify(o); // throws on bigint, like pino would
    this.lines.push({ level, obj: { ...this.bindings, ...o }, msg: typeof obj === 'string' ? obj : msg });
  }
  trace(o: object | string, m?: string): void {
    this.rec('trace', o, m);
  }
  debug(o: object | string, m?: string): void {
    this.rec('debug', o, m);
  }
  info(o: object | string, m?: string): void {
    this.rec('info', o, m);
  }
  warn(o: object | string, m?: string): void {
    this.rec('warn', o, m);
  }
  error(o: object | string, m?: string): void {
    this.rec('error', o, m);
  }
  fatal(o: object | string, m?: string): void {
    this.rec('fatal', o, m);
  }
  child(b: Record<string, unknown>): Logger {
    return new RecordingLogger(this.lines, { ...this.bindings, ...b });
  }
  text(): string {
    return this.lines.map((l) => JSON.stringify(l)).join('\n');
  }
}

export function settings(
  id = 'test',
  tel = new FakeTelemetry(),
  logger = new RecordingLogger(),
): CreateSettings & { telemetry: FakeTelemetry; logger: RecordingLogger } {
  return { id, logger, telemetry: tel, stateDir: '/nonexistent/state' };
}

export function host(set: CreateSettings): Host {
  return { logger: set.logger, telemetry: set.telemetry, stateDir: set.stateDir };
}

/** Poll `cond` until true or the deadline passes (then throw). */
export async function waitFor(cond: () => boolean, what = 'condition', timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A signal that never aborts (a far shutdown deadline). */
export function never(): AbortSignal {
  return new AbortController().signal;
}

/** An already-aborted signal. */
export function aborted(): AbortSignal {
  const c = new AbortController();
  c.abort();
  return c.signal;
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A metrics batch with `points` points over a gauge, a sum and a histogram, exact nanosecond times and int values. */
export function sampleMetrics(points = 3, tag = 'a'): MetricsBatch {
  const t0 = 1700000000123456789n;
  const gaugePts = Array.from({ length: points }, (_, i) => ({
    attributes: { route: `/${tag}/${i}`, code: 200n, ok: true },
    startTimeUnixNano: 0n,
    timeUnixNano: t0 + BigInt(i),
    flags: 0,
    value: i + 0.5,
  }));
  return {
    resourceMetrics: [
      {
        schemaUrl: '',
        resource: { attributes: { 'service.name': 'svc', 'host.id': tag }, droppedAttributesCount: 0 },
        scopeMetrics: [
          {
            schemaUrl: '',
            scope: { name: 'lib', version: '1.0.0', attributes: {}, droppedAttributesCount: 0 },
            metrics: [
              { name: 'g', description: 'a gauge', unit: '1', kind: 'gauge', points: gaugePts.slice(0, Math.max(0, points - 2)) },
              {
                name: 'c',
                description: '',
                unit: '{req}',
                kind: 'sum',
                temporality: 2,
                isMonotonic: true,
                points: points >= 1 ? [{ attributes: {}, startTimeUnixNano: t0 - 10_000_000_000n, timeUnixNano: t0, flags: 0, value: 9007199254740993n }] : [],
              },
              {
                name: 'h',
                description: '',
                unit: 'ms',
                kind: 'histogram',
                temporality: 1,
                points:
                  points >= 2
                    ? [
                        {
                          attributes: { k: 'v' },
                          startTimeUnixNano: t0 - 1n,
                          timeUnixNano: t0,
                          flags: 0,
                          count: 6,
                          sum: 12.5,
                          bucketCounts: [1, 2, 3],
                          explicitBounds: [1, 10],
                          min: 0.5,
                          max: 20,
                        },
                      ]
                    : [],
              },
            ],
          },
        ],
      },
    ],
  };
}

export function sampleEvents(n = 2): EventBatch {
  return {
    events: Array.from({ length: n }, (_, i) => ({
      timeUnixNano: 1700000000123456789n + BigInt(i),
      attributes: {
        'error.type': 'TypeError',
        _tx: BigInt(1000 + i),
        guid: `g${i}`,
        ratio: 0.25,
        nan: NaN,
        bytes: new Uint8Array([1, 2, 3]),
        list: ['x', 1n],
        kv: { a: 1n },
      },
    })),
  };
}
