/** Builders for metrics batches and a parser for the text expositions (tests only). */
import type {
  Attributes,
  ExponentialHistogramDataPoint,
  HistogramDataPoint,
  Metric,
  MetricsBatch,
  NumberDataPoint,
  Resource,
  SummaryDataPoint,
} from '../../../src/model/index.js';

export const T0 = 1_700_000_000_000_000_000n;
export const SEC = 1_000_000_000n;

export function batch(metrics: Metric[], resource: Attributes = { 'service.name': 'shop' }, scope = { name: 'lib', version: '1.0' }): MetricsBatch {
  const r: Resource = { attributes: resource, droppedAttributesCount: 0 };
  return {
    resourceMetrics: [
      { resource: r, schemaUrl: '', scopeMetrics: [{ scope: { ...scope, attributes: {}, droppedAttributesCount: 0 }, schemaUrl: '', metrics }] },
    ],
  };
}

export function num(value: number | bigint, attributes: Attributes = {}, start = T0, time = T0 + SEC): NumberDataPoint {
  return { value, attributes, startTimeUnixNano: start, timeUnixNano: time, flags: 0 };
}

export function sum(name: string, points: NumberDataPoint[], o: { delta?: boolean; monotonic?: boolean; unit?: string; description?: string } = {}): Metric {
  return {
    kind: 'sum',
    name,
    unit: o.unit ?? '',
    description: o.description ?? '',
    temporality: o.delta === false ? 2 : 1,
    isMonotonic: o.monotonic ?? true,
    points,
  };
}

export function gauge(name: string, points: NumberDataPoint[], unit = ''): Metric {
  return { kind: 'gauge', name, unit, description: '', points };
}

export function hist(
  name: string,
  bounds: number[],
  counts: number[],
  o: { delta?: boolean; unit?: string; attributes?: Attributes; start?: bigint; time?: bigint; sum?: number } = {},
): Metric {
  const count = counts.reduce((a, b) => a + b, 0);
  const p: HistogramDataPoint = {
    attributes: o.attributes ?? {},
    startTimeUnixNano: o.start ?? T0,
    timeUnixNano: o.time ?? T0 + SEC,
    flags: 0,
    count,
    sum: o.sum ?? count,
    bucketCounts: counts,
    explicitBounds: bounds,
  };
  return { kind: 'histogram', name, unit: o.unit ?? '', description: '', temporality: o.delta === false ? 2 : 1, points: [p] };
}

export function exph(name: string, p: Partial<ExponentialHistogramDataPoint>, delta = true): Metric {
  const full: ExponentialHistogramDataPoint = {
    attributes: {},
    startTimeUnixNano: T0,
    timeUnixNano: T0 + SEC,
    flags: 0,
    count: 0,
    sum: 0,
    scale: 0,
    zeroCount: 0,
    positive: { offset: 0, bucketCounts: [] },
    negative: { offset: 0, bucketCounts: [] },
    zeroThreshold: 0,
    ...p,
  };
  return { kind: 'exponentialHistogram', name, unit: '', description: '', temporality: delta ? 1 : 2, points: [full] };
}

export function summary(name: string, p: Partial<SummaryDataPoint>): Metric {
  const full: SummaryDataPoint = { attributes: {}, startTimeUnixNano: T0, timeUnixNano: T0 + SEC, flags: 0, count: 0, sum: 0, quantileValues: [], ...p };
  return { kind: 'summary', name, unit: '', description: '', points: [full] };
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: string;
  line: string;
}

/** Parse sample lines of a text exposition (0.0.4 or OpenMetrics); comments are skipped. */
export function parseSamples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparseable sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3] !== undefined && m[3] !== '') {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
      let lm: RegExpExecArray | null;
      let pos = 0;
      while ((lm = re.exec(m[3])) !== null) {
        labels[lm[1]!] = lm[2]!.replace(/\\(["\\n])/g, (_x, c: string) => (c === 'n' ? '\n' : c));
        pos = re.lastIndex;
      }
      if (pos !== m[3].length) throw new Error(`unparseable labels: ${line}`);
    }
    out.push({ name: m[1]!, labels, value: m[4]!, line });
  }
  return out;
}

/** Find one sample by name and (a subset of) labels. */
export function sample(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** Series identities (name + sorted labels) that occur more than once. */
export function duplicates(samples: Sample[]): string[] {
  const seen = new Set<string>();
  const dup: string[] = [];
  for (const s of samples) {
    const id = s.name + JSON.stringify(Object.entries(s.labels).sort());
    if (seen.has(id)) dup.push(id);
    else seen.add(id);
  }
  return dup;
}
