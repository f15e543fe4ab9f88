/**
 * One in-process target of the `datadog` benchmark in a process of its own
 * (forked by bench/datadog.ts once per target and round): points/s of the
 * bare parse or the receiver's reading of the same body, after a warm-up
 * round of the same length. A process each, because in one process V8's
 * compilation of one target sometimes left another at a third of its
 * speed for the whole run (bare protobufjs measured at 0.28 M points/s
 * there and 0.9-1.0 M on its own), which made the ratios a matter of luck.
 *
 *   node dist/bench/datadog-inprocess.js <target> <seconds> <now, s>
 *   target: bare-v1 | receiver-v1 | bare-v2 | receiver-v2; answers {pps} by IPC
 */
import { SeriesMapper, v1Series, type MapOptions } from '../receivers/datadog/map.js';
import { scanV1Series } from '../receivers/datadog/json.js';
import { decodeSeriesProto } from '../receivers/datadog/proto.js';
import { encodeMetricPayload, metricPayloadType } from '../receivers/datadog/schema.js';
import { benchSeries, SERIES_PER_REQUEST, v1Body } from './datadog.js';

const [target, secondsArg, nowArg] = process.argv.slice(2);
const seconds = Number(secondsArg);
const series = benchSeries(Number(nowArg));
const v1 = v1Body(series);
const v2 = encodeMetricPayload(series);
const MAP: Omit<MapOptions, 'nowNs'> = { rateAs: 'count', maxTags: 1000, distributions: { explicitBounds: [], maxScale: 20, maxBuckets: 160 } };
/** requests per call: each target runs its own loop */
const BATCH = 4;
let sink = 0;

const payload = metricPayloadType();
const targets: Record<string, (n: number) => void> = {
  'bare-v1': (n) => {
    for (let k = 0; k < n; k++) sink += (JSON.parse(v1.toString('utf8')) as { series: unknown[] }).series.length;
  },
  // what the receiver does with a v1 body (receiver.ts): the fast path (json.ts), else JSON.parse + v1Series
  'receiver-v1': (n) => {
    for (let k = 0; k < n; k++) {
      let m = new SeriesMapper({ ...MAP, nowNs: 0n });
      if (!scanV1Series(v1, m)) {
        m = new SeriesMapper({ ...MAP, nowNs: 0n });
        const d = JSON.parse(v1.toString('utf8')) as { series: Array<Record<string, unknown>> };
        for (let i = 0; i < d.series.length; i++) m.add(v1Series(d.series[i]!), i);
      }
      sink += m.result().points;
    }
  },
  'bare-v2': (n) => {
    for (let k = 0; k < n; k++) sink += (payload.decode(v2) as unknown as { series: unknown[] }).series.length;
  },
  'receiver-v2': (n) => {
    for (let k = 0; k < n; k++) {
      const list = decodeSeriesProto(v2);
      const m = new SeriesMapper({ ...MAP, nowNs: 0n });
      for (let i = 0; i < list.length; i++) m.add(list[i]!, i);
      sink += m.result().points;
    }
  },
};

const fn = targets[target ?? ''];
if (fn === undefined || !(seconds > 0)) throw new Error(`usage: datadog-inprocess.js <${Object.keys(targets).join('|')}> <seconds> <now>`);
let pps = 0;
for (let r = 0; r < 2; r++) {
  let n = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    fn(BATCH);
    n += BATCH * SERIES_PER_REQUEST;
  }
  pps = n / ((performance.now() - t0) / 1000);
}
if (sink < 0) console.log(sink);
process.send?.({ pps }, () => process.exit(0));
