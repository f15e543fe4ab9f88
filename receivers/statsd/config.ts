/**
 * Configuration of the `statsd` receiver.
 *
 * ```yaml
 * receivers:
 *   statsd:
 *     udp: { endpoint: 127.0.0.1:8125 }
 *     flush_interval: 10s
 * ```
 */
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import type { EtsyNaming } from './aggregator.js';

export interface StatsdReceiverConfig {
  udp: { enabled: boolean; endpoint: string; receive_buffer_size: number; reader: 'auto' | 'dgram' };
  tcp: { enabled: boolean; endpoint: string; max_line_length: number; max_connections: number };
  unixgram: { enabled: boolean; path: string };
  flush_interval: number;
  scope: 'local' | 'cluster';
  /** ms */
  cluster_wait: number;
  naming: 'otel' | 'etsy';
  percentiles: number[];
  histogram_buckets: number[];
  keep_gauges: boolean;
  idle_expiry: number;
  max_series: number;
  timer_exact_samples: number;
  relative_accuracy: number;
  etsy: EtsyNaming;
}

const pct: Schema[string] = { type: 'number', min: 0.001, max: 100, doc: 'a percentile in (0, 100]' };

export const statsdConfigSchema: Schema = {
  udp: {
    type: 'object',
    doc: 'UDP listener: one or more newline-separated lines per datagram.',
    fields: {
      enabled: { type: 'boolean', default: true, doc: 'listen on UDP' },
      endpoint: { type: 'endpoint', default: '127.0.0.1:8125', doc: 'host:port to listen on (0.0.0.0:8125 for all interfaces; port 0 picks a free port)' },
      receive_buffer_size: {
        type: 'bytes',
        default: '8MiB',
        min: 0,
        doc: 'SO_RCVBUF asked of the kernel (it caps the value at net.core.rmem_max; 0 keeps the system default); a larger buffer rides out bursts without loss',
      },
      reader: {
        type: 'enum',
        values: ['auto', 'dgram'] as const,
        default: 'auto',
        doc: 'auto: on Linux, with the native reader built (npm run build), drain the socket many datagrams per system call (recvmmsg), else read through node:dgram (logged once); dgram: always node:dgram, one callback per datagram',
      },
    },
  },
  tcp: {
    type: 'object',
    doc: 'TCP listener: newline-delimited lines on long-lived connections.',
    fields: {
      enabled: { type: 'boolean', default: false, doc: 'listen on TCP' },
      endpoint: { type: 'endpoint', default: '127.0.0.1:8125', doc: 'host:port to listen on' },
      max_line_length: {
        type: 'bytes',
        default: '64KiB',
        min: 16,
        doc: 'longest line accepted; a longer line is dropped and counted (reason line_too_long), the connection stays',
      },
      max_connections: { type: 'int', default: 1024, min: 1, doc: 'concurrent connections; more are closed at once and counted' },
    },
  },
  unixgram: {
    type: 'object',
    doc: 'Unix datagram socket (what DogStatsD clients call "uds"/"unixgram"); needs the optional package unix-dgram.',
    fields: {
      enabled: { type: 'boolean', default: false, doc: 'listen on a Unix datagram socket' },
      path: { type: 'string', default: '/var/run/metricport/dsd.socket', doc: 'socket file; a stale file there is replaced' },
    },
  },
  flush_interval: {
    type: 'duration',
    default: '10s',
    min: '100ms',
    doc: 'aggregation window, aligned to the Unix epoch: window k covers [k·interval, (k+1)·interval) by arrival time',
  },
  scope: {
    type: 'enum',
    values: ['local', 'cluster'] as const,
    default: 'local',
    doc: "local: this instance flushes what it received. cluster (with service.cluster): every replica publishes its window's series as mergeable partials and the owner of each series' partition merges them: counters, timers and sets of a client spread over replicas come out as one series, as from one statsd (docs/cluster.md). Every replica must run the same statsd settings. Without service.cluster, cluster behaves as local.",
  },
  cluster_wait: {
    type: 'duration',
    default: '5s',
    min: '0s',
    max: '1h',
    doc: 'With scope cluster: how long after a flush window ends the owner of a partition waits for replicas that have not sent their partial before flushing without them; partials arriving later are counted as late, never merged.',
  },
  naming: {
    type: 'enum',
    values: ['otel', 'etsy'],
    default: 'otel',
    doc: '"otel": counters → delta sums, gauges, timers/histograms/distributions → histograms + percentile gauges, sets → gauges; "etsy": the names and values Etsy statsd writes to Graphite (stats.<k>, stats_counts.<k>, stats.timers.<k>.mean ...), all gauges',
  },
  percentiles: {
    type: 'array',
    items: pct,
    default: [50, 90, 95, 99],
    doc: 'naming otel: one gauge <name>.p<pct> per percentile for ms, h and d (99.9 → p99_9)',
  },
  histogram_buckets: {
    type: 'array',
    items: { type: 'number', doc: 'an upper bound' },
    default: [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
    doc: 'naming otel: explicit upper bounds of the histogram for ms, h and d (ascending; +Inf is implied)',
  },
  keep_gauges: {
    type: 'boolean',
    default: true,
    doc: 'send the last value of a gauge every flush until it expires (as Etsy statsd); false sends a gauge only in windows where it was set',
  },
  idle_expiry: { type: 'duration', default: '1h', min: '1s', doc: 'a series not updated for this long is forgotten (its gauge and idle zeros stop)' },
  max_series: {
    type: 'int',
    default: 100000,
    min: 1,
    doc: 'distinct series (type + name + tags) held at once; lines for new series beyond it are dropped and counted (reason series_limit)',
  },
  timer_exact_samples: {
    type: 'int',
    default: 1000,
    min: 1,
    doc: 'raw samples a timer/histogram keeps per window for exact percentiles (Etsy-identical); beyond it a DDSketch takes over',
  },
  relative_accuracy: { type: 'number', default: 0.01, min: 0.0001, max: 0.5, doc: 'DDSketch relative accuracy of percentiles past timer_exact_samples' },
  etsy: {
    type: 'object',
    doc: 'naming etsy: Etsy statsd graphite backend settings (legacy namespace)',
    fields: {
      global_prefix: { type: 'string', default: 'stats', doc: 'prefix of rates, timers, gauges and sets (Etsy globalPrefix)' },
      counts_prefix: { type: 'string', default: 'stats_counts', doc: 'prefix of counter counts' },
      timers_prefix: { type: 'string', default: 'timers', doc: 'Etsy prefixTimer' },
      gauges_prefix: { type: 'string', default: 'gauges', doc: 'Etsy prefixGauge' },
      sets_prefix: { type: 'string', default: 'sets', doc: 'Etsy prefixSet' },
      percent_threshold: {
        type: 'array',
        items: { type: 'number', min: -100, max: 100, doc: 'a threshold' },
        default: [90],
        doc: 'Etsy percentThreshold: per value p, count_p, mean_p, upper_p (lower_topN for negative), sum_p, sum_squares_p',
      },
      send_idle_stats: {
        type: 'boolean',
        default: true,
        doc: 'keep sending 0 for idle counters, timers (count, count_ps) and sets until they expire, as Etsy does with deleteIdleStats off',
      },
      sanitize_names: { type: 'boolean', default: true, doc: 'Etsy key sanitising: whitespace → _, / → -, drop characters other than a-z A-Z 0-9 _ - . ; =' },
    },
  },
};

export function validateStatsdConfig(cfg: StatsdReceiverConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (!cfg.udp?.enabled && !cfg.tcp?.enabled && !cfg.unixgram?.enabled) {
    issues.push({ path: 'udp.enabled', message: 'at least one of udp, tcp and unixgram must be enabled', severity: 'error' });
  }
  if (cfg.unixgram?.enabled && cfg.unixgram.path === '')
    issues.push({ path: 'unixgram.path', message: 'must not be empty when unixgram is enabled', severity: 'error' });
  const b = cfg.histogram_buckets ?? [];
  for (let i = 1; i < b.length; i++) {
    if (!((b[i] as number) > (b[i - 1] as number))) {
      issues.push({ path: `histogram_buckets[${i}]`, message: `bounds must be strictly ascending (${b[i - 1]} then ${b[i]})`, severity: 'error' });
      break;
    }
  }
  return issues;
}
