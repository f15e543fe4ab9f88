/**
 * The seeded input of the golden exposition test (golden.test.ts) and of the
 * checkpoint round-trip test: ~100k series of every kind, the same in every run.
 */
import { PromKeyer } from '../../../exporters/prometheus/labels.js';
import type { CumulativeStore } from '../../../src/pullstore/cumulative.js';
import type { Attributes, Metric, MetricsBatch, NumberDataPoint } from '../../../src/model/index.js';
import { SEC, T0 } from './util.js';
import { prng } from '../../helpers/prng.js';

const RESOURCES: Attributes[] = [
  { 'service.name': 'shop' },
  { 'service.name': 'api', 'service.namespace': 'prod', 'service.instance.id': 'pod-1', 'k8s.pod.name': 'api-7d9', 'host.name': 'n1' },
  { 'service.name': 'worker', 'service.instance.id': 'w"2\\x', region: 'eu\nwest' },
];
const SCOPES = [
  { name: 'lib', version: '1.0' },
  { name: 'io.other', version: '' },
];
const ODD = ['plain', 'quo"te', 'back\\slash', 'new\nline', 'ünïcødé', '', 'a,b=c', '{x}'];

interface Plan {
  name: string;
  unit: string;
  kind: 'dcount' | 'dcountf' | 'ccount' | 'gauge' | 'updown' | 'dhist' | 'chist' | 'exph' | 'summary';
  series: number;
}
const PLANS: Plan[] = [
  { name: 'http.requests', unit: '{request}', kind: 'dcount', series: 50_000 },
  { name: 'bytes.sent', unit: 'KiBy', kind: 'dcountf', series: 10_000 },
  { name: 'cpu.time', unit: 's', kind: 'ccount', series: 10_000 },
  { name: 'queue.latency', unit: 'ms', kind: 'gauge', series: 10_000 },
  { name: 'inflight', unit: '1', kind: 'updown', series: 5_000 },
  { name: 'rpc.duration', unit: 'ms', kind: 'dhist', series: 5_000 },
  { name: 'payload.size', unit: 'By', kind: 'chist', series: 3_000 },
  { name: 'lat.exp', unit: 's', kind: 'exph', series: 3_000 },
  { name: 'gc.pause', unit: 'ms', kind: 'summary', series: 3_998 },
];

function attrsFor(plan: Plan, i: number, rnd: () => number): Attributes {
  const a: Attributes = { series: `s${i}`, route: `/r${i % 37}` };
  if (i % 11 === 0) a.odd = ODD[i % ODD.length]!;
  if (i % 13 === 0) a['http.status_code'] = 200 + (i % 5);
  if (i % 17 === 0) {
    a['a.b'] = 'x';
    a.a_b = 'y';
  } // collide after sanitising
  if (i % 19 === 0) a.job = 'j'; // reserved → exported_job
  if (plan.kind === 'dcount' && i % 23 === 0) a.flag = rnd() < 0.5;
  return a;
}

/** Round r of the seeded input: every series gets zero or more points. */
function roundBatch(round: number, rnd: () => number, stale: boolean): MetricsBatch {
  const res = RESOURCES.map((attributes) => ({
    resource: { attributes, droppedAttributesCount: 0 },
    schemaUrl: '',
    scopeMetrics: SCOPES.map((s) => ({ scope: { ...s, attributes: {}, droppedAttributesCount: 0 }, schemaUrl: '', metrics: [] as Metric[] })),
  }));
  const t = T0 + BigInt(round + 1) * 10n * SEC;
  for (const plan of PLANS) {
    const byPlace = new Map<string, Metric>();
    for (let i = 0; i < plan.series; i++) {
      if (round > 0 && rnd() < 0.3) continue; // not every series every round
      const r = i % RESOURCES.length;
      const sc = (i >> 2) % SCOPES.length;
      const place = `${r}/${sc}`;
      let m = byPlace.get(place);
      if (m === undefined) {
        m = metricOf(plan);
        byPlace.set(place, m);
        res[r]!.scopeMetrics[sc]!.metrics.push(m);
      }
      const attributes = attrsFor(plan, i, rnd);
      const flags = stale && i % 97 === 0 ? 1 : 0;
      // cumulative start: changes (a reset) for some series in round 2
      const cstart = round === 2 && i % 7 === 0 ? T0 + 15n * SEC : T0;
      const dstart = t - 10n * SEC;
      // an out-of-order point now and then
      const time = round === 3 && i % 29 === 0 ? t - 25n * SEC : t;
      switch (plan.kind) {
        case 'dcount': {
          const v = i === 5 ? 9_007_199_254_740_000n + BigInt(round) : BigInt(Math.floor(rnd() * 1000));
          (m.points as NumberDataPoint[]).push({ attributes, startTimeUnixNano: dstart, timeUnixNano: time, flags, value: v });
          break;
        }
        case 'dcountf':
          (m.points as NumberDataPoint[]).push({ attributes, startTimeUnixNano: dstart, timeUnixNano: time, flags, value: i % 31 === 0 ? -1 : rnd() * 100 });
          break;
        case 'ccount': {
          const base = round === 2 && i % 7 === 0 ? 1 : (round + 1) * 10;
          const v = i % 9 === 0 && round === 1 ? 3 : base + (i % 100) / 8; // a decrease: a reset
          (m.points as NumberDataPoint[]).push({ attributes, startTimeUnixNano: cstart, timeUnixNano: time, flags, value: v });
          break;
        }
        case 'gauge': {
          const v = i % 101 === 0 ? NaN : i % 103 === 0 ? Infinity : i % 107 === 0 ? -Infinity : i % 3 === 0 ? BigInt(i) : rnd() * 1e6 - 5e5;
          (m.points as NumberDataPoint[]).push({ attributes, startTimeUnixNano: 0n, timeUnixNano: time, flags, value: v });
          break;
        }
        case 'updown':
          (m.points as NumberDataPoint[]).push({
            attributes,
            startTimeUnixNano: dstart,
            timeUnixNano: time,
            flags,
            value: BigInt(Math.floor(rnd() * 20) - 10),
          });
          break;
        case 'dhist': {
          const bounds = round === 2 && i % 5 === 0 ? [1, 10, 100] : [5, 50, 500, 5000];
          const counts = Array.from({ length: bounds.length + 1 }, () => Math.floor(rnd() * 10));
          const count = counts.reduce((a, b) => a + b, 0);
          const bc = i % 41 === 0 ? [] : counts;
          m.points.push({
            attributes,
            startTimeUnixNano: dstart,
            timeUnixNano: time,
            flags,
            count,
            sum: count * 12.5,
            bucketCounts: bc,
            explicitBounds: bc.length === 0 ? [] : bounds,
          } as never);
          break;
        }
        case 'chist': {
          const counts = [round + 1, 2 * (round + 1) + (i % 3), i % 4];
          const count = counts.reduce((a, b) => a + b, 0);
          m.points.push({
            attributes,
            startTimeUnixNano: cstart,
            timeUnixNano: time,
            flags,
            count,
            sum: count * 1024,
            bucketCounts: counts,
            explicitBounds: [256, 4096],
          } as never);
          break;
        }
        case 'exph': {
          const pos = Array.from({ length: 1 + (i % 6) }, () => Math.floor(rnd() * 5));
          const neg = i % 4 === 0 ? [1, 2] : [];
          const count = pos.reduce((a, b) => a + b, 0) + neg.reduce((a, b) => a + b, 0) + 1;
          m.points.push({
            attributes,
            startTimeUnixNano: dstart,
            timeUnixNano: time,
            flags,
            count,
            sum: rnd() * 10,
            scale: i % 3,
            zeroCount: 1,
            zeroThreshold: 0,
            positive: { offset: (i % 5) - 2, bucketCounts: pos },
            negative: { offset: 0, bucketCounts: neg },
            min: -3,
            max: 9,
          } as never);
          break;
        }
        case 'summary':
          m.points.push({
            attributes,
            startTimeUnixNano: cstart,
            timeUnixNano: time,
            flags,
            count: round * 10 + (i % 10),
            sum: rnd() * 1000,
            quantileValues: [
              { quantile: 0.5, value: rnd() * 10 },
              { quantile: 0.99, value: rnd() * 100 },
            ],
          } as never);
          break;
      }
    }
  }
  return { resourceMetrics: res };
}

function metricOf(p: Plan): Metric {
  const base = { name: p.name, unit: p.unit, description: p.name === 'inflight' ? '' : `the ${p.name} "metric"\\ of\nthe golden test` };
  switch (p.kind) {
    case 'dcount':
    case 'dcountf':
      return { ...base, kind: 'sum', temporality: 1, isMonotonic: true, points: [] };
    case 'ccount':
      return { ...base, kind: 'sum', temporality: 2, isMonotonic: true, points: [] };
    case 'gauge':
      return { ...base, kind: 'gauge', points: [] };
    case 'updown':
      return { ...base, kind: 'sum', temporality: 1, isMonotonic: false, points: [] };
    case 'dhist':
      return { ...base, kind: 'histogram', temporality: 1, points: [] };
    case 'chist':
      return { ...base, kind: 'histogram', temporality: 2, points: [] };
    case 'exph':
      return { ...base, kind: 'exponentialHistogram', temporality: 1, points: [] };
    case 'summary':
      return { ...base, kind: 'summary', points: [] };
  }
}

/** Feed the seeded rounds into a store; `clock` advances 10 s per round. */
export function feedGolden(store: CumulativeStore, clock: { now: number }, rounds = 5): void {
  const rnd = prng(19);
  const keyer = new PromKeyer();
  for (let r = 0; r < rounds; r++) {
    store.ingest(roundBatch(r, rnd, r === 3), keyer);
    clock.now += 10_000;
  }
}
