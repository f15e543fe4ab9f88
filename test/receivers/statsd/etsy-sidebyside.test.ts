/**
 * Side by side with the Etsy statsd daemon: the same hot-shots traffic into
 * the real Etsy statsd (graphite backend → carbon-cache A) and into
 * metricport (statsd receiver with Etsy names → graphite store → carbon-cache
 * B); counters, gauges, sets and timer count/mean/upper/lower/upper_90 read
 * back from both whisper trees must match.
 */
import { expect } from 'chai';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import StatsD from 'hot-shots';
import type { Exporter } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/logger.js';
import type { MetricsBatch } from '../../../src/model/index.js';
import { graphiteExporterFactory } from '../../../exporters/graphite/factory.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { StatsdReceiver } from '../../../receivers/statsd/receiver.js';
import type { StatsdReceiverConfig } from '../../../receivers/statsd/config.js';
import { startAll, startCarbon, usePeer, type CarbonPeer, type WhisperPoint } from '../../harness/peers.js';
import { waitFor } from '../../harness/ports.js';
import { startEtsyStatsd, type EtsyStatsdPeer } from '../../harness/statsd.js';

const FLUSH_MS = 2000;

function listWsp(dir: string): string[] {
  try {
    return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.wsp'));
  } catch {
    return [];
  }
}

describe('statsd side by side with Etsy statsd (both into real carbon-cache)', function () {
  this.timeout(120_000);
  // UDP: on a starved machine the kernel may drop a packet on its way to the
  // single-threaded Etsy daemon. A retry sends a fresh burst and reads only
  // the windows after it, so every attempt still compares exact values.
  this.retries(2);
  let carbons: { a: CarbonPeer; b: CarbonPeer } | undefined;
  let etsy: EtsyStatsdPeer | undefined;
  let rcv: StatsdReceiver | undefined;
  let store: Exporter<MetricsBatch> | undefined;

  before(async function () {
    await usePeer(this, 'carbon');
    carbons = await startAll({ a: () => startCarbon(), b: () => startCarbon() });
    etsy = await startEtsyStatsd({ graphitePort: carbons.a.linePort, flushIntervalMs: FLUSH_MS });
    const telemetry = new ServiceTelemetry();
    const host = { logger: silentLogger(), telemetry, stateDir: os.tmpdir() };
    const gf = graphiteExporterFactory;
    await gf.load(); // the registry is lazy: create() needs the implementation loaded first
    const g = validateSchema(
      gf.configSchema,
      { host: '127.0.0.1', port: carbons.b.linePort, period: `${FLUSH_MS}ms`, retry_on_failure: { initial_interval: '200ms' } },
      '',
    );
    expect(g.issues).to.deep.equal([]);
    store = gf.create({ id: 'graphite', logger: silentLogger(), telemetry, stateDir: os.tmpdir() }, g.value as never, 'metrics') as Exporter<MetricsBatch>;
    await store.start(host);
    const s = validateSchema(
      (await import('../../../receivers/statsd/config.js')).statsdConfigSchema,
      { udp: { endpoint: '127.0.0.1:0' }, flush_interval: `${FLUSH_MS}ms`, naming: 'etsy' },
      '',
    );
    expect(s.issues).to.deep.equal([]);
    rcv = new StatsdReceiver({ id: 'statsd', logger: silentLogger(), telemetry, stateDir: os.tmpdir() }, s.value as unknown as StatsdReceiverConfig, {
      metrics: store,
    });
    await rcv.start(host);
  });

  after(async () => {
    await rcv?.shutdown(AbortSignal.timeout(5_000));
    await store?.shutdown(AbortSignal.timeout(5_000));
    await etsy?.stop();
    await carbons?.a.stop();
    await carbons?.b.stop();
  });

  it('counters, gauges, sets and timer count/mean/upper/lower/upper_90 match', async () => {
    // hot-shots in mock mode records exactly the lines it would send (after its own sampling);
    // the same packets then go to both daemons
    const c = new StatsD({ mock: true });
    for (let i = 0; i < 50; i++) c.increment('sbs.hits');
    for (let i = 0; i < 10; i++) c.increment('sbs.bytes', 1500);
    for (let i = 0; i < 100; i++) c.increment('sbs.sampled', 1, 0.5);
    c.gauge('sbs.temp', 20);
    c.gaugeDelta('sbs.temp', 5);
    c.gaugeDelta('sbs.temp', -3);
    c.gauge('sbs.conns', 7);
    for (let i = 0; i < 200; i++) c.set('sbs.users', `u${i % 37}`);
    for (let i = 0; i < 200; i++) c.timing('sbs.latency', ((i * 37) % 101) + 0.5);
    for (let i = 0; i < 40; i++) c.timing('sbs.rt', 10 + (i % 7), 0.25);
    c.timing('sbs.one', 42);
    const lines = [...(c.mockBuffer ?? [])];
    expect(lines.length).to.be.greaterThan(500);
    // one line per packet for the first half, 20 per packet after; plus malformed lines both skip
    const packets: string[] = [];
    const half = Math.floor(lines.length / 2);
    for (let i = 0; i < half; i++) packets.push(lines[i]!);
    for (let i = half; i < lines.length; i += 20) packets.push(lines.slice(i, i + 20).join('\n'));
    packets.push('garbage\nsbs.hits:1|c|@x\nsbs.hits:1|c');

    // both daemons cut windows on whole seconds (Etsy: startup second + k·2 s; metricport: epoch-aligned):
    // send the burst inside one second, away from its edges
    await waitFor(
      () => {
        const ms = Date.now() % 1000;
        return ms > 150 && ms < 350;
      },
      { intervalMs: 5, what: 'a quiet moment inside a second' },
    );
    const t0 = Date.now();
    const linesBefore = rcv!.lines;
    const sock = dgram.createSocket('udp4');
    for (const p of packets) {
      await new Promise<void>((r, j) => sock.send(p, etsy!.port, '127.0.0.1', (e) => (e ? j(e) : r())));
      await new Promise<void>((r, j) => sock.send(p, rcv!.addresses().udp!.port, '127.0.0.1', (e) => (e ? j(e) : r())));
    }
    sock.close();
    expect(Date.now() - t0, 'the burst fit in one window').to.be.below(600);
    await waitFor(() => rcv!.lines === linesBefore + lines.length + 1, { what: 'metricport counted every line' });

    const names = [
      'stats_counts.sbs.hits',
      'stats.sbs.hits',
      'stats_counts.sbs.bytes',
      'stats_counts.sbs.sampled',
      'stats.sbs.sampled',
      'stats.gauges.sbs.temp',
      'stats.gauges.sbs.conns',
      'stats.sets.sbs.users.count',
      ...['latency', 'rt', 'one'].flatMap((t) =>
        ['count', 'mean', 'upper', 'lower', 'upper_90', 'count_90', 'mean_90', 'sum', 'median', 'std'].map((s) => `stats.timers.sbs.${t}.${s}`),
      ),
    ];
    // the window's value: counters and timers add up over the points (idle windows write 0 / nothing);
    // gauges and sets: the largest value seen (gauges repeat, idle sets write 0)
    const valueOf = (name: string, pts: WhisperPoint[]): number | undefined => {
      if (pts.length === 0) return undefined;
      if (name.includes('.gauges.') || name.includes('.sets.')) return Math.max(...pts.map((p) => p.value));
      const nz = pts.filter((p) => p.value !== 0);
      return nz.length === 0 ? 0 : nz.length === 1 ? nz[0]!.value : NaN;
    };
    const read = async (carbon: CarbonPeer) => {
      const out: Record<string, number | undefined> = {};
      // an explicit recent `from`: at the default (now − 1 h) whisper may pick the 60 s archive
      const all = await Promise.all(names.map((n) => carbon.fetchWhisper(n, Math.floor(t0 / 1000) - 5)));
      names.forEach((n, i) => {
        out[n] = valueOf(n, all[i]!);
      });
      return out;
    };
    let a: Record<string, number | undefined> = {};
    let b: Record<string, number | undefined> = {};
    await waitFor(
      async () => {
        [a, b] = await Promise.all([read(carbons!.a), read(carbons!.b)]);
        return names.every((n) => a[n] !== undefined && b[n] !== undefined) && b['stats_counts.sbs.hits'] === 51 && a['stats_counts.sbs.hits'] === 51;
      },
      { timeoutMs: 60_000, intervalMs: 1000, what: 'every metric in both carbons' },
    ).catch((e: Error) => {
      throw new Error(
        `${e.message}\netsy: ${JSON.stringify(a)}\nmetricport: ${JSON.stringify(b)}\nfiles A: ${listWsp(carbons!.a.whisperDir).slice(0, 30).join(' ')}\nfiles B: ${listWsp(carbons!.b.whisperDir).slice(0, 30).join(' ')}\nmetricport store: ${JSON.stringify((store as { status?: () => unknown }).status?.())}`,
      );
    });
    for (const n of names) {
      const x = a[n] as number;
      const y = b[n] as number;
      expect(Number.isFinite(x), `${n} from Etsy: ${x}`).to.equal(true);
      expect(y, `${n}: metricport ${y} vs Etsy ${x}`).to.be.closeTo(x, Math.abs(x) * 1e-9 + 1e-9);
    }
    // and the values are the right ones
    expect(a['stats_counts.sbs.bytes']).to.equal(15000);
    expect(a['stats.gauges.sbs.temp']).to.equal(22);
    expect(a['stats.sets.sbs.users.count']).to.equal(37);
    expect(a['stats.timers.sbs.latency.count']).to.equal(200);
    expect(a['stats.timers.sbs.one.upper_90']).to.equal(42);
  });
});
