/**
 * The dogstatsd exporter (the implementation its factory loads): UDP or Unix
 * datagram senders, encoding each batch once, through the exporter helper.
 */
import dgram from 'node:dgram';
import { createRequire } from 'node:module';
import type { ExporterImpl } from '../../src/component.js';
import { parseEndpoint } from '../../src/config/schema.js';
import { createExporter } from '../../src/exporterhelper/exporter.js';
import { countPoints, type MetricsBatch } from '../../src/model/index.js';
import { CumulativeBaselines, encodeDogStatsd, type DogStatsdEncodeOptions } from './encode.js';
import type { DogStatsdConfig } from './factory.js';

interface UnixDgramSocket {
  send(buf: Buffer, cb?: (err?: Error) => void): void;
  connect(path: string): void;
  close(): void;
  on(ev: string, fn: (...a: unknown[]) => void): void;
}
type UnixDgramModule = { createSocket(type: 'unix_dgram'): UnixDgramSocket };

interface Sender {
  send(packets: Buffer[]): Promise<void>;
  close(): void;
}

function udpSender(endpoint: string): Sender {
  const ep = parseEndpoint(endpoint)!;
  const host = ep.host === '' ? '127.0.0.1' : ep.host;
  let sock: dgram.Socket | undefined;
  const open = (): dgram.Socket => {
    if (sock !== undefined) return sock;
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.on('error', () => {
      if (sock === s) sock = undefined;
      try {
        s.close();
      } catch {
        /* closed */
      }
    });
    s.unref();
    sock = s;
    return s;
  };
  return {
    send: (packets) =>
      new Promise((resolve, reject) => {
        const s = open();
        let left = packets.length;
        let failed: Error | undefined;
        if (left === 0) {
          resolve();
          return;
        }
        for (const p of packets) {
          s.send(p, ep.port, host, (err) => {
            if (err && failed === undefined) failed = err;
            if (--left === 0) {
              if (failed) reject(failed);
              else resolve();
            }
          });
        }
      }),
    close: () => {
      const s = sock;
      sock = undefined;
      try {
        s?.close();
      } catch {
        /* closed */
      }
    },
  };
}

function unixSender(path: string): Sender {
  let mod: UnixDgramModule;
  try {
    mod = createRequire(import.meta.url)('unix-dgram') as UnixDgramModule;
  } catch {
    throw new Error('transport unixgram needs the optional package unix-dgram (npm install unix-dgram); it is not installed');
  }
  let sock: UnixDgramSocket | undefined;
  const open = (): UnixDgramSocket => {
    if (sock !== undefined) return sock;
    const s = mod.createSocket('unix_dgram');
    s.on('error', () => {
      if (sock === s) sock = undefined;
      try {
        s.close();
      } catch {
        /* closed */
      }
    });
    s.connect(path);
    sock = s;
    return s;
  };
  return {
    send: async (packets) => {
      const s = open();
      for (const p of packets) {
        await new Promise<void>((resolve, reject) =>
          s.send(p, (err) => {
            if (err) {
              sock = undefined;
              try {
                s.close();
              } catch {
                /* closed */
              }
              reject(new Error(`send to ${path}: ${err.message}`));
            } else resolve();
          }),
        );
      }
    },
    close: () => {
      const s = sock;
      sock = undefined;
      try {
        s?.close();
      } catch {
        /* closed */
      }
    },
  };
}

/** What the factory's load() returns. */
export const dogstatsdImpl: ExporterImpl<DogStatsdConfig> = {
  create(set, cfg, signal) {
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
      shutdown: async () => {
        sender?.close();
        sender = undefined;
      },
      timeout: cfg.timeout,
      retry: cfg.retry_on_failure,
      queue: cfg.sending_queue,
      endpoint: cfg.transport === 'unixgram' ? 'unixgram' : cfg.endpoint,
      status: () => ({ transport: cfg.transport, packets, lines, bytes_sent: bytes, skipped: { ...skipped }, cumulative_series: baselines.size }),
    });
  },
};
