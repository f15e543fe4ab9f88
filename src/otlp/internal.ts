/**
 * Helpers shared by the protobuf and JSON codecs. Internal to src/otlp.
 */
import type { Metric } from '../model/metrics.js';

/** Shared bigint instances for small non-negative integers (bigints are immutable). */
export const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 1024 }, (_, i) => BigInt(i));

/** A safe integer as a bigint, sharing instances for 0..1023. */
export function safeToBigInt(n: number): bigint {
  return n >= 0 && n < 1024 ? (SMALL_BIGINTS[n] as bigint) : BigInt(n);
}

/** Where a metric sits in the request, for messages. */
export function metricLabel(name: string, ri: number, si: number, mi: number): string {
  return name !== '' ? `metric ${JSON.stringify(name)}` : `metric #${mi} (resourceMetrics[${ri}].scopeMetrics[${si}])`;
}

export function pointMessage(name: string, ri: number, si: number, mi: number, pi: number, reason: string): string {
  return `${metricLabel(name, ri, si, mi)} data point ${pi}: ${reason}`;
}

export function logRecordMessage(ri: number, si: number, li: number, reason: string): string {
  return `log record ${li} (resourceLogs[${ri}].scopeLogs[${si}]): ${reason}`;
}

/** Number of data points in a list of decoded metrics. */
export function pointsIn(metrics: readonly Metric[]): number {
  let n = 0;
  for (let i = 0; i < metrics.length; i++) n += (metrics[i] as Metric).points.length;
  return n;
}

export const REASON_TOO_DEEP = (max: number): string => `attribute value nested deeper than ${max} levels`;
export const REASON_TOO_LONG = (max: number): string => `attribute string value longer than ${max} characters`;
export const REASON_TOO_MANY = (what: string, max: number): string => `more than ${max} ${what}`;

/** `AGGREGATION_TEMPORALITY_*` names, for lenient JSON. */
export const TEMPORALITY_NAMES: Readonly<Record<string, number>> = Object.freeze({
  AGGREGATION_TEMPORALITY_UNSPECIFIED: 0,
  AGGREGATION_TEMPORALITY_DELTA: 1,
  AGGREGATION_TEMPORALITY_CUMULATIVE: 2,
});

const SEVERITY_SUFFIXES = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];
/** `SEVERITY_NUMBER_*` names, for lenient JSON. */
export const SEVERITY_NAMES: Readonly<Record<string, number>> = (() => {
  const m: Record<string, number> = { SEVERITY_NUMBER_UNSPECIFIED: 0 };
  for (let i = 0; i < SEVERITY_SUFFIXES.length; i++) {
    const base = 'SEVERITY_NUMBER_' + (SEVERITY_SUFFIXES[i] as string);
    m[base] = i * 4 + 1;
    for (let k = 2; k <= 4; k++) m[base + k] = i * 4 + k;
  }
  return Object.freeze(m);
})();

/** Validate a decoded temporality (proto3 enums are open: unknown numbers arrive). */
export function isTemporality(t: number): t is 0 | 1 | 2 {
  return t === 0 || t === 1 || t === 2;
}

/** Histogram point checks shared by both codecs; null when valid. */
export function histogramProblem(bucketCounts: readonly number[], explicitBounds: readonly number[]): string | null {
  if (bucketCounts.length !== 0 && bucketCounts.length !== explicitBounds.length + 1) {
    return `bucketCounts has ${bucketCounts.length} entries, expected explicitBounds.length + 1 = ${explicitBounds.length + 1}`;
  }
  for (let i = 1; i < explicitBounds.length; i++) {
    // `!(a < b)` also catches NaN
    if (!((explicitBounds[i - 1] as number) < (explicitBounds[i] as number))) return 'explicitBounds not strictly increasing';
  }
  if (explicitBounds.length === 1 && Number.isNaN(explicitBounds[0])) return 'explicitBounds contains NaN';
  return null;
}
