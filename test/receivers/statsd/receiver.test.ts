/**
 * The statsd receiver over real sockets: the hot-shots client (StatsD and
 * DogStatsD styles, UDP, TCP, Unix datagram) and raw packets.
 */
import { expect } from 'chai';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import StatsD from 'hot-shots';
import type { Consumer } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/logger.js';
import type { GaugeMetric, HistogramMetric, Metric, MetricsBatch, SumMetric } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { statsdConfigSchema, type StatsdReceiverConfig } from '../../../receivers/statsd/config.js';
import { statsdReceiverFactory } from '../../../receivers/statsd/factory.js';
import { StatsdReceiver } from '../../../receivers/statsd/receiver.js';
import { waitFor } from '../../harness/ports.js';

// the registry is lazy: the implementation is imported on first use
await statsdReceiverFactory.load();

interface Rig {
  rcv: StatsdReceiver;
  batches: MetricsBatch[];
  udpPort: number;
  tcpPort: number;
  sock?: string;
}

async function rig(extra: Record<string, unknown> = {}): Promise<Rig> {
  const raw = { udp: { endpoint: '127.0.0.1:0' }, tcp: { enabled: true, endpoint: '127.0.0.1:0' }, flush_interval: '1h', ...extra };
  const { value, issues } = validateSchema(statsdConfigSchema, raw, '');
  expect(issues).to.deep.equal([]);
  expect(statsdReceiverFactory.validate!(value as unknown as StatsdReceiverConfig)).to.deep.equal([]);
  const batches: MetricsBatch[] = [];
  const sink: Consumer<MetricsBatch> = {
    consume: async (b) => {
      batches.push(b);
    },
  };
  const telemetry = new ServiceTelemetry();
  const rcv = statsdReceiverFactory.create(
    { id: 'statsd', logger: silentLogger(), telemetry, stateDir: os.tmpdir() },
    value as unknown as StatsdReceiverConfig,
    { metrics: sink },
  ) as StatsdReceiver;
  await rcv.start({ logger: silentLogger(), telemetry, stateDir: os.tmpdir() });
  const a = rcv.addresses();
  return { rcv, batches, udpPort: a.udp?.port ?? 0, tcpPort: a.tcp?.port ?? 0 };
}

/** Waits until the receiver counted `lines` good lines (+ `bad` bad ones), then shuts it down (which flushes) and returns the metrics by kind:name. */
async function collect(r: Rig, lines: number, bad = 0): Promise<Map<string, Metric>> {
  const badTotal = () => Object.values(r.rcv.bad).reduce((x, y) => x + y, 0);
  await waitFor(() => r.rcv.lines >= lines && badTotal() >= bad, {
    timeoutMs: 10_000,
    what: `${lines} lines and ${bad} bad lines (have ${r.rcv.lines}, ${badTotal()})`,
  });
  await r.rcv.shutdown(AbortSignal.timeout(5_000));
  expect(r.rcv.lines).to.equal(lines);
  expect(badTotal()).to.equal(bad);
  const out = new Map<string, Metric>();
  for (const b of r.batches)
    for (const rm of b.resourceMetrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) {
          expect(out.has(`${m.kind}:${m.name}`), `one window only: ${m.name}`).to.equal(false);
          out.set(`${m.kind}:${m.name}`, m);
        }
  return out;
}

function sendUdp(port: number, packets: string[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    let left = packets.length;
    for (const p of packets)
      s.send(p, port, '127.0.0.1', (err) => {
        if (err) reject(err);
        else if (--left === 0) {
          s.close();
          resolve();
        }
      });
  });
}

function closeClient(c: InstanceType<typeof StatsD>): Promise<void> {
  return new Promise((resolve) => c.close(() => resolve()));
}

const pointsOf = (m: Metric | undefined) => {
  expect(m, 'metric present').to.not.equal(undefined);
  return (m as SumMetric | GaugeMetric).points.map((p) => [p.attributes, p.value]);
};

describe('statsd receiver over real sockets', function () {
  this.timeout(30_000);

  // both UDP readers: the native one (recvmmsg; built by npm run build, required on Linux) and node:dgram
  for (const [reader, want] of [
    ['auto', process.platform === 'linux' ? ['recvmmsg'] : ['dgram-coalesced', 'dgram']],
    ['dgram', ['dgram-coalesced', 'dgram']],
  ] as const) {
    it(`hot-shots, StatsD style over UDP (reader ${reader}): every type, one line per packet`, async () => {
      const r = await rig({ udp: { endpoint: '127.0.0.1:0', reader } });
      expect(r.rcv.udpReader).to.be.oneOf(want);
      const c = new StatsD({
        host: '127.0.0.1',
        port: r.udpPort,
        errorHandler: (e) => {
          throw e;
        },
      });
      c.increment('app.hits');
      c.increment('app.hits', 4);
      c.gauge('app.queue', 17);
      c.gaugeDelta('app.queue', -2);
      c.timing('app.latency', 12);
      c.timing('app.latency', 30);
      c.timing('app.latency', 18);
      c.histogram('app.size', 900);
      c.distribution('app.dist', 5);
      c.set('app.users', 'alice');
      c.set('app.users', 'bob');
      c.set('app.users', 'alice');
      await closeClient(c);
      const m = await collect(r, 12);
      expect(pointsOf(m.get('sum:app.hits'))).to.deep.equal([[{}, 5]]);
      expect(pointsOf(m.get('gauge:app.queue'))).to.deep.equal([[{}, 15]]);
      const lat = m.get('histogram:app.latency') as HistogramMetric;
      expect(lat.unit).to.equal('ms');
      expect(lat.points[0]).to.include({ count: 3, sum: 60, min: 12, max: 30 });
      expect(pointsOf(m.get('gauge:app.latency.p50'))).to.deep.equal([[{}, 18]]);
      expect(pointsOf(m.get('gauge:app.latency.p90'))).to.deep.equal([[{}, 30]]);
      expect((m.get('histogram:app.size') as HistogramMetric).points[0]).to.include({ count: 1, sum: 900 });
      expect((m.get('histogram:app.dist') as HistogramMetric).points[0]).to.include({ count: 1, sum: 5 });
      expect(pointsOf(m.get('gauge:app.users'))).to.deep.equal([[{}, 2]]);
      expect(r.rcv.packets).to.equal(12);
    });

    it(`hot-shots, DogStatsD style (reader ${reader}): tags and global tags → attributes, buffered (several lines per packet), timestamps`, async () => {
      const r = await rig({ udp: { endpoint: '127.0.0.1:0', reader } });
      expect(r.rcv.udpReader).to.be.oneOf(want);
      const c = new StatsD({
        host: '127.0.0.1',
        port: r.udpPort,
        globalTags: { env: 'prod' },
        maxBufferSize: 1000,
        bufferFlushInterval: 20,
        errorHandler: (e) => {
          throw e;
        },
      });
      c.increment('login.attempt', 1, { instance: 'failure' });
      c.increment('login.attempt', 1, { instance: 'failure' });
      c.increment('login.attempt', 1, { instance: 'success' });
      c.timing('events.latency', 40, ['from_relay:true']);
      c.distribution('events.size', 2048, { from_relay: 'false' });
      c.gauge('tasks.app_store_connect.refreshed', 3, { timestamp: 1_700_000_000 });
      await closeClient(c);
      const m = await collect(r, 6);
      expect(r.rcv.packets, 'lines were packed into fewer packets').to.be.below(6);
      expect(pointsOf(m.get('sum:login.attempt'))).to.deep.equal([
        [{ env: 'prod', instance: 'failure' }, 2],
        [{ env: 'prod', instance: 'success' }, 1],
      ]);
      expect((m.get('histogram:events.latency') as HistogramMetric).points[0]!.attributes).to.deep.equal({ env: 'prod', from_relay: 'true' });
      expect((m.get('histogram:events.size') as HistogramMetric).points[0]).to.include({ count: 1, sum: 2048 });
      const g = m.get('gauge:tasks.app_store_connect.refreshed') as GaugeMetric;
      expect(g.points.map((p) => [p.value, p.timeUnixNano])).to.deep.equal([[3, 1_700_000_000_000_000_000n]]);
    });
  }

  it('hot-shots over TCP: newline-delimited lines on one connection', async () => {
    const r = await rig();
    const c = new StatsD({
      host: '127.0.0.1',
      port: r.tcpPort,
      protocol: 'tcp',
      errorHandler: (e) => {
        throw e;
      },
    });
    for (let i = 0; i < 100; i++) c.increment('tcp.count', 1, { shard: String(i % 2) });
    c.gauge('tcp.gauge', 7.5);
    await closeClient(c);
    const m = await collect(r, 101);
    expect(pointsOf(m.get('sum:tcp.count'))).to.deep.equal([
      [{ shard: '0' }, 50],
      [{ shard: '1' }, 50],
    ]);
    expect(pointsOf(m.get('gauge:tcp.gauge'))).to.deep.equal([[{}, 7.5]]);
  });

  it('hot-shots over a Unix datagram socket (uds)', async () => {
    const sock = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mp-statsd-')), 'dsd.socket');
    const r = await rig({ udp: { enabled: false }, tcp: { enabled: false }, unixgram: { enabled: true, path: sock } });
    expect(fs.statSync(sock).isSocket()).to.equal(true);
    const c = new StatsD({
      protocol: 'uds',
      path: sock,
      errorHandler: (e) => {
        throw e;
      },
    });
    c.increment('uds.count', 3, { k: 'v' });
    c.histogram('uds.h', 10);
    await closeClient(c);
    const m = await collect(r, 2);
    expect(pointsOf(m.get('sum:uds.count'))).to.deep.equal([[{ k: 'v' }, 3]]);
    expect(fs.existsSync(sock), 'socket file removed on shutdown').to.equal(false);
  });

  it('raw packets: sampling, packing, every type, and malformed lines skipped without losing the rest', async () => {
    const r = await rig();
    await sendUdp(r.udpPort, [
      'gorets:1|c|@0.1\nglork:320|ms\ngaugor:333|g\ngaugor:-10|g\nuniques:765|s',
      'packed:1:2:3:4|h|#a:b\nbroken\nsampled:10|ms|@0.5\nx:1|c|@2\ny:oops|g\nsetp:a:b:c|s\nok:2|c',
      'dd:7|d|#k,z:1\n_e{2,2}:ti|te\nlast:1|c\n',
    ]);
    const m = await collect(r, 11, 4);
    expect(r.rcv.bad).to.include({ no_value: 1, bad_sample_rate: 1, bad_value: 1, unsupported: 1 });
    expect(pointsOf(m.get('sum:gorets'))).to.deep.equal([[{}, 10]]);
    expect(pointsOf(m.get('gauge:gaugor'))).to.deep.equal([[{}, 323]]);
    expect(pointsOf(m.get('gauge:uniques'))).to.deep.equal([[{}, 1]]);
    expect(pointsOf(m.get('gauge:setp'))).to.deep.equal([[{}, 3]]);
    expect((m.get('histogram:packed') as HistogramMetric).points[0]).to.deep.include({ count: 4, sum: 10, attributes: { a: 'b' } });
    expect((m.get('histogram:sampled') as HistogramMetric).points[0]).to.include({ count: 2, sum: 20, min: 10, max: 10 });
    expect((m.get('histogram:dd') as HistogramMetric).points[0]!.attributes).to.deep.equal({ k: '', z: '1' });
    expect(pointsOf(m.get('sum:ok'))).to.deep.equal([[{}, 2]]);
    expect(pointsOf(m.get('sum:last'))).to.deep.equal([[{}, 1]]);
    expect(m.has('gauge:y')).to.equal(false);
    const st = r.rcv.status();
    expect(st).to.include({ packets: 3, lines: 11 });
  });

  it('TCP: a line split across writes is reassembled; an over-long line is dropped and counted, the connection goes on', async () => {
    const r = await rig({ tcp: { enabled: true, endpoint: '127.0.0.1:0', max_line_length: 64 } });
    const c = net.connect({ host: '127.0.0.1', port: r.tcpPort });
    await new Promise<void>((res) => c.once('connect', () => res()));
    c.write('spl');
    c.write('it:5|c\nlong:' + 'x'.repeat(100));
    c.write('|s\nafter:1|c\nend:2|c');
    c.end();
    const m = await collect(r, 3);
    expect(pointsOf(m.get('sum:split'))).to.deep.equal([[{}, 5]]);
    expect(pointsOf(m.get('sum:after'))).to.deep.equal([[{}, 1]]);
    expect(pointsOf(m.get('sum:end'))).to.deep.equal([[{}, 2]]);
    expect((r.rcv.status().dropped as Record<string, number>).line_too_long).to.equal(1);
  });

  it('windows are aligned to the epoch and close on time without traffic', async () => {
    const r = await rig({ flush_interval: '200ms', tcp: { enabled: false } });
    await sendUdp(r.udpPort, ['w:1|c']);
    await waitFor(() => r.batches.length > 0, { timeoutMs: 5_000, what: 'a flush' });
    const m = r.batches[0]!.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0] as SumMetric;
    const p = m.points[0]!;
    expect(p.value).to.equal(1);
    expect(p.timeUnixNano - p.startTimeUnixNano).to.equal(200_000_000n);
    expect(p.timeUnixNano % 200_000_000n).to.equal(0n);
    await r.rcv.shutdown(AbortSignal.timeout(5_000));
    await r.rcv.shutdown(AbortSignal.timeout(5_000));
  });

  it('a batch refused downstream is dropped and counted, never retried; the receiver keeps going', async () => {
    const { value } = validateSchema(statsdConfigSchema, { udp: { endpoint: '127.0.0.1:0' }, flush_interval: '1h' }, '');
    const telemetry = new ServiceTelemetry();
    const rcv = new StatsdReceiver({ id: 'statsd', logger: silentLogger(), telemetry, stateDir: os.tmpdir() }, value as unknown as StatsdReceiverConfig, {
      metrics: {
        consume: async () => {
          throw new Error('queue full');
        },
      },
    });
    await rcv.start({ logger: silentLogger(), telemetry, stateDir: os.tmpdir() });
    await sendUdp(rcv.addresses().udp!.port, ['a:1|c\nb:2|g']);
    await waitFor(() => rcv.lines === 2, { what: 'two lines' });
    await rcv.shutdown(AbortSignal.timeout(5_000));
    const st = rcv.status();
    expect((st.dropped as Record<string, number>).refused).to.equal(2);
    expect(st.last_error).to.equal('refused: queue full');
  });

  it('a port in use fails start with a clear message', async () => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
    const port = s.address().port;
    const { value } = validateSchema(statsdConfigSchema, { udp: { endpoint: `127.0.0.1:${port}` } }, '');
    const telemetry = new ServiceTelemetry();
    const rcv = new StatsdReceiver({ id: 'statsd', logger: silentLogger(), telemetry, stateDir: os.tmpdir() }, value as unknown as StatsdReceiverConfig, {});
    let err: Error | undefined;
    try {
      await rcv.start({ logger: silentLogger(), telemetry, stateDir: os.tmpdir() });
    } catch (e) {
      err = e as Error;
    }
    s.close();
    expect(err?.message).to.match(/receiver statsd: .*EADDRINUSE/);
    await rcv.shutdown(AbortSignal.timeout(1000));
  });
});
