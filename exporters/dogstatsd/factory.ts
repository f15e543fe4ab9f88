/**
 * dogstatsd: sends metrics to a DogStatsD agent (the Datadog Agent, or any
 * StatsD server that reads DogStatsD tags) over UDP or a Unix datagram
 * socket, in datagrams under the MTU, through the exporter helper's queue
 * and retries. Mapping: see encode.ts and docs/exporters/dogstatsd.md.
 */
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import type { CreateSettings, Exporter, ExporterFactory, Signal } from '../../src/component.js';
import type { Schema } from '../../src/config/schema.js';
import { parseEndpoint } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { createExporter } from '../../src/exporterhelper/exporter.js';
import { helperSchema, type HelperConfig } from '../../src/exporterhelper/config.js';
import { countPoints, type MetricsBatch } from '../../src/model/index.js';
import { CumulativeBaselines, encodeDogStatsd, type DogStatsdEncodeOptions } from './encode.js';

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
  transport: { type: 'enum', values: ['udp', 'unixgram'], default: 'udp', doc: '"udp" to `endpoint`, or "unixgram" to the Unix datagram socket at `socket_path` (needs the optional package unix-dgram)' },
  endpoint: { type: 'endpoint', default: '127.0.0.1:8125', doc: 'DogStatsD host:port (transport udp)' },
  socket_path: { type: 'string', default: '/var/run/datadog/dsd.socket', doc: 'DogStatsD socket (transport unixgram)' },
  max_packet_size: { type: 'bytes', default: 1432, min: 64, max: 65000, doc: 'largest datagram sent; lines are packed up to it (1432 fits a 1500-byte Ethernet MTU; 8192 is the Agent\'s default for Unix sockets)' },
  prefix: { type: 'string', default: '', doc: 'put before every metric name, e.g. "myapp" → "myapp.<name>"' },
  tags: { type: 'map', values: { type: 'string', doc: 'tag value' }, default: {}, doc: 'constant tags added to every line, e.g. { env: prod }' },
  histogram_buckets: { type: 'boolean', default: true, doc: 'also send delta histogram buckets as `<name>.bucket` counts tagged lower_bound/upper_bound' },
  resource_attributes_as_tags: { type: 'boolean', default: true, doc: 'resource attributes (service.name, ...) become tags too' },
  send_timestamps: { type: 'boolean', default: false, doc: 'append `|T<seconds>` (DogStatsD 1.3) with every line so the Agent keeps the point time instead of aggregating' },
  max_cumulative_series: { type: 'int', default: 100000, min: 1, doc: 'cumulative monotonic sums: baselines kept (oldest forgotten first)' },
  ...helperSchema(),
};

function validate(cfg: DogStatsdConfig): ConfigIssue[] {
  if (cfg.transport === 'unixgram' && cfg.socket_path === '') return [{ path: 'socket_path', message: 'must not be empty with transport unixgram', severity: 'error' }];
  return [];
}

interface UnixDgramSocket { send(buf: Buffer, cb?: (err?: Error) => void): void; connect(path: string): void; close(): void; on(ev: string, fn: (...a: unknown[]) => void): void }
type UnixDgramModule = { createSocket(type: 'unix_dgram'): UnixDgramSocket };

interface Sender { send(packets: Buffer[]): Promise<void>; close(): void }

function udpSender(endpoint: string): Sender {
  const ep = parseEndpoint(endpoint)!;
  const host = ep.host === '' ? '127.0.0.1' : ep.host;
  let sock: dgram.Socket | undefined;
  const open = (): dgram.Socket => {
    if (sock !== undefined) return sock;
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.on('error', () => { if (sock === s) sock = undefined; try { s.close(); } catch { /* closed */ } });
    s.unref();
    sock = s;
    return s;
  };
  return {
    send: (packets) => new Promise((resolve, reject) => {
      const s = open();
      let left = packets.length;
      let failed: Error | undefined;
      if (left === 0) { resolve(); return; }
      for (const p of packets) {
        s.send(p, ep.port, host, (err) => {
          if (err && failed === undefined) failed = err;
          if (--left === 0) { if (failed) reject(failed); else resolve(); }
        });
      }
    }),
    close: () => { const s = sock; sock = undefined; try { s?.close(); } catch { /* closed */ } },
  };
}

function unixSender(path: string): Sender {
  let mod: UnixDgramModule;
  try { mod = createRequire(import.meta.url)('unix-dgram') as UnixDgramModule; } catch {
    throw new Error('transport unixgram needs the optional package unix-dgram (npm install unix-dgram); it is not installed');
  }
  let sock: UnixDgramSocket | undefined;
  const open = (): UnixDgramSocket => {
    if (sock !== undefined) return sock;
    const s = mod.createSocket('unix_dgram');
    s.on('error', () => { if (sock === s) sock = undefined; try { s.close(); } catch { /* closed */ } });
    s.connect(path);
    sock = s;
    return s;
  };
  return {
    send: async (packets) => {
      const s = open();
      for (const p of packets) {
        await new Promise<void>((resolve, reject) => s.send(p, (err) => {
          if (err) { sock = undefined; try { s.close(); } catch { /* closed */ } reject(new Error(`send to ${path}: ${err.message}`)); } else resolve();
        }));
      }
    },
    close: () => { const s = sock; sock = undefined; try { s?.close(); } catch { /* closed */ } },
  };
}

export const dogstatsdExporterFactory: ExporterFactory<DogStatsdConfig> = {
  kind: 'exporter',
  type: 'dogstatsd',
  description: 'Sends metrics to a DogStatsD agent (Datadog Agent) over UDP or a Unix datagram socket, in packets under the MTU',
  signals: ['metrics'],
  configSchema: dogstatsdConfigSchema,
  validate,
  create(set: CreateSettings, cfg: DogStatsdConfig, signal: Signal): Exporter {
    if (signal !== 'metrics') throw new Error(`dogstatsd exporter does not support the ${signal} signal`);
    const opts: DogStatsdEncodeOptions = {
      prefix: cfg.prefix,
      tags: Object.entries(cfg.tags ?? {}).map(([k, v]) => (v === '' ? k : `${k}:${v}`)),
      maxPacketSize: cfg.max_packet_size,
      histogramBuckets: cfg.histogram_buckets,
      resourceTags: cfg.resource_attributes_as_tags,
      timestamps: cfg.send_timestamps,
    };
    const baselines = new CumulativeBaselines(cfg.max_cumulative_series);
    let sender: Sender | undefined;
    let packets = 0;
    let lines = 0;
    let bytes = 0;
    const skipped: Record<string, number> = {};
    const encoded = new WeakMap<MetricsBatch, Buffer[]>();
    return createExporter<MetricsBatch>(set, {
      signal: 'metrics',
      countItems: countPoints,
      push: async (batch) => {
        let pk = encoded.get(batch);
        if (pk === undefined) {
          const r = encodeDogStatsd(batch, opts, baselines);
          for (const [k, n] of Object.entries(r.skipped)) skipped[k] = (skipped[k] ?? 0) + n;
          lines += r.lines;
          pk = r.packets;
          encoded.set(batch, pk);
        }
        sender ??= cfg.transport === 'unixgram' ? unixSender(cfg.socket_path) : udpSender(cfg.endpoint);
        await sender.send(pk);
        packets += pk.length;
        for (const p of pk) bytes += p.length;
      },
      shutdown: async () => { sender?.close(); sender = undefined; },
      timeout: cfg.timeout,
      retry: cfg.retry_on_failure,
      queue: cfg.sending_queue,
      endpoint: cfg.transport === 'unixgram' ? 'unixgram' : cfg.endpoint,
      status: () => ({ transport: cfg.transport, packets, lines, bytes_sent: bytes, skipped: { ...skipped }, cumulative_series: baselines.size }),
    });
  },
};
