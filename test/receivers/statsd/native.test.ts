/**
 * The native UDP reader (receivers/statsd/udpbatch.ts, native/udprecv.c:
 * recvmmsg) against node:dgram over real sockets: the same datagrams (every
 * type, tags, sample rates, sets, gauge adjustments, bad lines, an empty
 * datagram, one near UDP's 64 KiB limit) give the same counters and the
 * same exported metrics through both readers; a missing addon logs once
 * and falls back to node:dgram.
 */
import { expect } from 'chai';
import dgram from 'node:dgram';
import os from 'node:os';
import StatsD from 'hot-shots';
import type { Consumer } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { silentLogger, type Logger } from '../../../src/logger.js';
import type { MetricsBatch } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { statsdConfigSchema, type StatsdReceiverConfig } from '../../../receivers/statsd/config.js';
import { statsdReceiverFactory } from '../../../receivers/statsd/factory.js';
import type { StatsdReceiver } from '../../../receivers/statsd/receiver.js';
import { nativeUdp, setNativeUdpPath } from '../../../receivers/statsd/udpbatch.js';
import { captureLogger } from '../../helpers/logs.js';
import { prng } from '../../helpers/prng.js';
import { waitFor } from '../../harness/ports.js';

await statsdReceiverFactory.load();

async function start(reader: 'auto' | 'dgram', logger: Logger = silentLogger()): Promise<{ rcv: StatsdReceiver; batches: MetricsBatch[]; port: number }> {
  const { value, issues } = validateSchema(statsdConfigSchema, { udp: { endpoint: '127.0.0.1:0', reader }, flush_interval: '1h' }, '');
  expect(issues).to.deep.equal([]);
  const batches: MetricsBatch[] = [];
  const sink: Consumer<MetricsBatch> = {
    consume: async (b) => {
      batches.push(b);
    },
  };
  const telemetry = new ServiceTelemetry();
  const rcv = statsdReceiverFactory.create({ id: 'statsd', logger, telemetry, stateDir: os.tmpdir() }, value as unknown as StatsdReceiverConfig, {
    metrics: sink,
  }) as StatsdReceiver;
  await rcv.start({ logger, telemetry, stateDir: os.tmpdir() });
  return { rcv, batches, port: rcv.addresses().udp?.port ?? 0 };
}

/** seeded datagrams of every kind; with the good and bad lines they hold */
function datagrams(seed: number): { packets: Buffer[]; good: number; bad: number } {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const goodLines = [
    () => `req.count:${1 + Math.floor(rnd() * 5)}|c`,
    () => `req.count:1|c|@0.${1 + Math.floor(rnd() * 9)}`,
    () => `req.count:2|c|#env:prod,zone:${pick(['a', 'b', 'c'])}`,
    () => `q.depth:${Math.floor(rnd() * 100)}|g`,
    () => `q.depth:${pick(['+', '-'])}${Math.floor(rnd() * 10)}|g`,
    () => `lat:${(rnd() * 500).toFixed(3)}|ms|@0.5`,
    () => `lat:${Math.floor(rnd() * 90)}:${Math.floor(rnd() * 90)}|ms|#route:/x`,
    () => `size:${Math.floor(rnd() * 4096)}|h`,
    () => `dist:${Math.floor(rnd() * 50)}|d|#a,b:c`,
    () => `users:${pick(['alice', 'bob', 'carol', 'dave', 'é-ü'])}|s`,
  ];
  const badLines = ['nocolon', ':1|c', 'x:1', 'x:1|zz', 'x:abc|c', 'x:1|c|@2', 'x:1|c|#a,,b', 'x:-1|ms', 'x:1|g|Tbad', '_e{1,1}:a|b'];
  const packets: Buffer[] = [Buffer.alloc(0)];
  let good = 0;
  let bad = 0;
  for (let p = 0; p < 400; p++) {
    const lines: string[] = [];
    const n = 1 + Math.floor(rnd() * 30);
    for (let i = 0; i < n; i++) {
      if (rnd() < 0.1) {
        lines.push(pick(badLines));
        bad++;
      } else {
        lines.push(pick(goodLines)());
        good++;
      }
    }
    packets.push(Buffer.from(lines.join(rnd() < 0.5 ? '\n' : '\r\n') + (rnd() < 0.5 ? '\n' : '')));
  }
  // one datagram near UDP's limit (65,507 B over IPv4)
  const big: string[] = [];
  let size = 0;
  for (let i = 0; size + 20 < 65_000; i++) {
    const l = `big.c${i % 500}:1|c`;
    big.push(l);
    size += l.length + 1;
  }
  packets.push(Buffer.from(big.join('\n')));
  good += big.length;
  return { packets, good, bad };
}

/** sends the datagrams in bursts of 50, each once the receiver has read the last (sender and receiver share one event loop) */
async function send(rcv: StatsdReceiver, port: number, packets: Buffer[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  for (let a = 0; a < packets.length; a += 50) {
    const burst = packets.slice(a, a + 50);
    const want = rcv.packets + burst.length;
    await Promise.all(burst.map((p) => new Promise<void>((res, rej) => s.send(p, port, '127.0.0.1', (err) => (err ? rej(err) : res())))));
    await waitFor(() => rcv.packets >= want, { timeoutMs: 10_000, intervalMs: 1, what: `${want} datagrams (have ${rcv.packets})` });
  }
  await new Promise<void>((r) => s.close(() => r()));
}

/** the exported metrics without times (the two receivers' windows close at different instants) */
function shape(batches: MetricsBatch[]): unknown {
  return JSON.parse(
    JSON.stringify(batches, (k, v: unknown) => (k === 'timeUnixNano' || k === 'startTimeUnixNano' ? undefined : typeof v === 'bigint' ? String(v) : v)),
  ) as unknown;
}

describe('statsd receiver: native UDP reader (recvmmsg)', function () {
  this.timeout(60_000);

  it('is built and used on Linux', async function () {
    if (process.platform !== 'linux') this.skip();
    const n = nativeUdp();
    expect('mod' in n, 'why' in n ? n.why : '').to.equal(true);
    const { rcv } = await start('auto');
    expect(rcv.udpReader).to.equal('recvmmsg');
    expect(rcv.status().udp_reader).to.equal('recvmmsg');
    await rcv.shutdown(AbortSignal.timeout(5_000));
  });

  it('gives the same counters and metrics as node:dgram for the same datagrams (every type, tags, rates, sets, bad lines, 64 KiB)', async () => {
    for (const seed of [1, 2]) {
      const { packets, good, bad } = datagrams(seed);
      const out: Record<string, { lines: number; bad: number; packets: number; badBy: Record<string, number>; shape: unknown; reads: number }> = {};
      for (const reader of ['auto', 'dgram'] as const) {
        const { rcv, batches, port } = await start(reader);
        await send(rcv, port, packets);
        await rcv.shutdown(AbortSignal.timeout(5_000));
        expect(rcv.status().last_error, reader).to.equal(null);
        out[reader] = {
          lines: rcv.lines,
          bad: Object.values(rcv.bad).reduce((x, y) => x + y, 0),
          packets: rcv.packets,
          badBy: { ...rcv.bad },
          shape: shape(batches),
          reads: rcv.nativeReads,
        };
      }
      const a = out.auto!;
      const d = out.dgram!;
      expect(d.lines, `seed ${seed}: dgram lines`).to.equal(good);
      expect(d.bad, `seed ${seed}: dgram bad lines`).to.equal(bad);
      expect(d.packets).to.equal(packets.length);
      expect(d.reads, 'dgram made no native reads').to.equal(0);
      if (process.platform === 'linux') expect(a.reads, 'native reads were made').to.be.greaterThan(0);
      expect(a.lines, `seed ${seed}: lines`).to.equal(d.lines);
      expect(a.badBy, `seed ${seed}: bad lines by reason`).to.deep.equal(d.badBy);
      expect(a.packets).to.equal(d.packets);
      expect(a.shape, `seed ${seed}: exported metrics`).to.deep.equal(d.shape);
    }
  });

  it('a missing addon: logs once why, reads through node:dgram (hot-shots), and a later receiver does not log again', async () => {
    setNativeUdpPath('./native/no-such-addon.node');
    try {
      const cap = captureLogger('info');
      const first = await start('auto', cap.logger);
      const second = await start('auto', cap.logger);
      for (const r of [first, second]) expect(r.rcv.udpReader).to.be.oneOf(['dgram-coalesced', 'dgram']);
      const notes = cap.records().filter((r) => String(r.msg).includes('native UDP reader not used'));
      expect(notes.length, cap.lines.join('\n')).to.equal(1);
      expect(String(notes[0]!.msg)).to.match(process.platform === 'linux' ? /no-such-addon/ : /Linux only/);
      const c = new StatsD({
        host: '127.0.0.1',
        port: first.port,
        maxBufferSize: 1000,
        bufferFlushInterval: 10,
        errorHandler: (e) => {
          throw e;
        },
      });
      for (let i = 0; i < 100; i++) c.increment('fallback.hits', 1, { k: String(i % 3) });
      c.set('fallback.users', 'x');
      await new Promise<void>((r) => c.close(() => r()));
      await waitFor(() => first.rcv.lines >= 101, { timeoutMs: 10_000, what: `101 lines (have ${first.rcv.lines})` });
      expect(first.rcv.nativeReads).to.equal(0);
      await first.rcv.shutdown(AbortSignal.timeout(5_000));
      await second.rcv.shutdown(AbortSignal.timeout(5_000));
      expect(first.rcv.lines).to.equal(101);
      const sums = new Map<string, number>();
      for (const b of first.batches)
        for (const rm of b.resourceMetrics)
          for (const sm of rm.scopeMetrics)
            for (const m of sm.metrics) if (m.kind === 'sum') for (const p of m.points) sums.set(`${m.name}{${String(p.attributes.k)}}`, Number(p.value));
      expect(Object.fromEntries(sums)).to.deep.equal({ 'fallback.hits{0}': 34, 'fallback.hits{1}': 33, 'fallback.hits{2}': 33 });
    } finally {
      setNativeUdpPath(undefined);
    }
  });
});
