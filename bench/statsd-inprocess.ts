/**
 * In-process cost of metricport's StatsD path without the socket: the bench
 * sender's packets (bench/statsd-sender.ts: 20 lines each over 1,000 names,
 * 50 % c, 30 % ms, 10 % g, 10 % s) fed to parsePacket → Aggregator.add as
 * the receiver does, a window flushed every 10 M lines (a 10 s flush at
 * 1 M lines/s). Prints ns of CPU per line (process.cpuUsage) for parse only
 * and for parse + aggregate, median and spread of --rounds rounds of --ms each.
 *
 *   node dist/bench/statsd-inprocess.js [--rounds 7 --ms 1000]
 */
import { Aggregator } from '../receivers/statsd/aggregator.js';
import { newParsedLine, parsePacket, type LineSink } from '../receivers/statsd/parser.js';
import { buildPackets, LINES_PER_PACKET } from './statsd-sender.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const ROUNDS = opt('rounds', 7);
const MS = opt('ms', 1000);

const agg = new Aggregator({
  flushIntervalMs: 10_000,
  naming: 'otel',
  percentiles: [50, 90, 95, 99],
  histogramBuckets: [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
  keepGauges: true,
  idleExpiryMs: 3_600_000,
  maxSeries: 100_000,
  timerExactSamples: 1000,
  relativeAccuracy: 0.01,
  etsy: {
    global_prefix: 'stats',
    counts_prefix: 'stats_counts',
    timers_prefix: 'timers',
    gauges_prefix: 'gauges',
    sets_prefix: 'sets',
    percent_threshold: [90],
    send_idle_stats: true,
    sanitize_names: true,
  },
});
let lines = 0;
let bad = 0;
const now = Date.now();
const aggregate: LineSink = {
  line: (l) => {
    lines++;
    agg.add(l, now);
  },
  bad: () => {
    bad++;
  },
};
const parseOnly: LineSink = {
  line: () => {
    lines++;
  },
  bad: () => {
    bad++;
  },
};

const packets = buildPackets();
const line = newParsedLine();
const WINDOW_PACKETS = 10_000_000 / LINES_PER_PACKET;

function round(sink: LineSink): number {
  const c0 = process.cpuUsage();
  const l0 = lines;
  const t0 = performance.now();
  let p = 0;
  let inWindow = 0;
  while (performance.now() - t0 < MS) {
    for (let j = 0; j < 1000; j++) {
      parsePacket(packets[p]!, line, sink);
      if (++p === packets.length) p = 0;
      if (++inWindow === WINDOW_PACKETS) {
        agg.flush(0, 10_000);
        inWindow = 0;
      }
    }
  }
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / (lines - l0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [name, sink] of [
  ['parse only', parseOnly],
  ['parse + aggregate', aggregate],
] as const) {
  round(sink); // warm-up
  const r: number[] = [];
  for (let i = 0; i < ROUNDS; i++) r.push(round(sink));
  console.log(`${name}: ${median(r).toFixed(0)} ns CPU per line (rounds ${Math.min(...r).toFixed(0)}–${Math.max(...r).toFixed(0)})`);
}
if (bad !== 0) throw new Error(`${bad} bad lines`);
