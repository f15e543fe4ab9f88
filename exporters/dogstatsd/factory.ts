/**
 * dogstatsd: sends metrics to a DogStatsD agent (the Datadog Agent, or any
 * StatsD server that reads DogStatsD tags) over UDP or a Unix datagram
 * socket, in datagrams under the MTU, through the exporter helper's queue
 * and retries. Mapping: see encode.ts and docs/exporters/dogstatsd.md.
 */
import { defineExporter } from '../../src/component.js';
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { helperSchema, type HelperConfig } from '../../src/exporterhelper/config.js';

export interface DogStatsdConfig extends HelperConfig {
  transport: 'udp' | 'unixgram';
  endpoint: string;
  socket_path: string;
  max_packet_size: number;
  prefix: string;
  tags: Record<string, string>;
  histogram_buckets: boolean;
  resource_attributes_as_tags: boolean;
  send_timestamps: boolean;
  max_cumulative_series: number;
}

export const dogstatsdConfigSchema: Schema = {
  transport: {
    type: 'enum',
    values: ['udp', 'unixgram'],
    default: 'udp',
    doc: '"udp" to `endpoint`, or "unixgram" to the Unix datagram socket at `socket_path` (needs the optional package unix-dgram)',
  },
  endpoint: { type: 'endpoint', default: '127.0.0.1:8125', doc: 'DogStatsD host:port (transport udp)' },
  socket_path: { type: 'string', default: '/var/run/datadog/dsd.socket', doc: 'DogStatsD socket (transport unixgram)' },
  max_packet_size: {
    type: 'bytes',
    default: 1432,
    min: 64,
    max: 65000,
    doc: "largest datagram sent; lines are packed up to it (1432 fits a 1500-byte Ethernet MTU; 8192 is the Agent's default for Unix sockets)",
  },
  prefix: { type: 'string', default: '', doc: 'put before every metric name, e.g. "myapp" → "myapp.<name>"' },
  tags: { type: 'map', values: { type: 'string', doc: 'tag value' }, default: {}, doc: 'constant tags added to every line, e.g. { env: prod }' },
  histogram_buckets: { type: 'boolean', default: true, doc: 'also send delta histogram buckets as `<name>.bucket` counts tagged lower_bound/upper_bound' },
  resource_attributes_as_tags: { type: 'boolean', default: true, doc: 'resource attributes (service.name, ...) become tags too' },
  send_timestamps: {
    type: 'boolean',
    default: false,
    doc: 'append `|T<seconds>` (DogStatsD 1.3) with every line so the Agent keeps the point time instead of aggregating',
  },
  max_cumulative_series: { type: 'int', default: 100000, min: 1, doc: 'cumulative monotonic sums: baselines kept (oldest forgotten first)' },
  ...helperSchema(),
};

function validate(cfg: DogStatsdConfig): ConfigIssue[] {
  if (cfg.transport === 'unixgram' && cfg.socket_path === '')
    return [{ path: 'socket_path', message: 'must not be empty with transport unixgram', severity: 'error' }];
  return [];
}

export const dogstatsdExporterFactory = defineExporter<DogStatsdConfig>({
  type: 'dogstatsd',
  description: 'Sends metrics to a DogStatsD agent (Datadog Agent) over UDP or a Unix datagram socket, in packets under the MTU',
  signals: ['metrics'],
  configSchema: dogstatsdConfigSchema,
  validate,
  load: async () => (await import('./exporter.js')).dogstatsdImpl,
});
