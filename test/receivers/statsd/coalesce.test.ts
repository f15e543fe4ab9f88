/**
 * Coalesced UDP reads (receiver.ts): with a receive buffer of at least 1 MiB
 * as granted, reading pauses 1 ms each time the socket is drained. Nothing
 * may be lost or changed by it: every datagram of bursts and of a trickle is
 * counted and aggregated, and a shutdown while reading is paused is clean.
 */
import { expect } from 'chai';
import dgram from 'node:dgram';
import os from 'node:os';
import type { Consumer } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/logger.js';
import type { MetricsBatch, SumMetric } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { statsdConfigSchema, type StatsdReceiverConfig } from '../../../receivers/statsd/config.js';
import { statsdReceiverFactory } from '../../../receivers/statsd/factory.js';
import type { StatsdReceiver } from '../../../receivers/statsd/receiver.js';
import { waitFor } from '../../harness/ports.js';

await statsdReceiverFactory.load();

async function start(
  receiveBuffer: string,
  reader: 'auto' | 'dgram',
): Promise<{ rcv: StatsdReceiver; batches: MetricsBatch[]; port: number; granted: number }> {
  const { value, issues } = validateSchema(
    statsdConfigSchema,
    { udp: { endpoint: '127.0.0.1:0', receive_buffer_size: receiveBuffer, reader }, flush_interval: '1h' },
    '',
  );
  expect(issues).to.deep.equal([]);
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
  const port = rcv.addresses().udp?.port ?? 0;
  // the buffer as the kernel granted it (Linux reports twice SO_RCVBUF), read on a probe socket asking the same
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
  const want = (value as unknown as StatsdReceiverConfig).udp.receive_buffer_size;
  if (want > 0) probe.setRecvBufferSize(want);
  const granted = probe.getRecvBufferSize();
  await new Promise<void>((r) => probe.close(() => r()));
  return { rcv, batches, port, granted };
}

/**
 * `bursts` bursts of `perBurst` datagrams (each `c<i>:1|c` ×10 lines); the
 * next burst once the receiver has read the previous one (sender and
 * receiver share this event loop: unpaced, the kernel's buffer would
 * overflow before the receiver runs)
 */
async function send(rcv: StatsdReceiver, port: number, bursts: number, perBurst: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  const packet = Buffer.from(Array.from({ length: 10 }, (_, i) => `c${i}:1|c`).join('\n'));
  for (let b = 0; b < bursts; b++) {
    const want = rcv.packets + perBurst;
    await new Promise<void>((resolve, reject) => {
      let left = perBurst;
      for (let i = 0; i < perBurst; i++)
        s.send(packet, port, '127.0.0.1', (err) => {
          if (err) reject(err);
          else if (--left === 0) resolve();
        });
    });
    await waitFor(() => rcv.packets >= want, { timeoutMs: 10_000, intervalMs: 1, what: `${want} datagrams (have ${rcv.packets})` });
  }
  await new Promise<void>((r) => s.close(() => r()));
}

function counters(batches: MetricsBatch[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const b of batches)
    for (const rm of b.resourceMetrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) if (m.kind === 'sum') for (const p of (m as SumMetric).points) out.set(m.name, (out.get(m.name) ?? 0) + Number(p.value));
  return out;
}

const READERS = ['dgram', 'auto'] as const;

describe('statsd receiver: coalesced UDP reads', function () {
  this.timeout(30_000);

  it('counts and aggregates every datagram of bursts and of a trickle; pauses only with a buffer of 1 MiB or more (both readers)', async () => {
    for (const reader of READERS)
      for (const buf of ['8MiB', '0']) {
        const { rcv, batches, port, granted } = await start(buf, reader);
        const what = `${reader}, ${buf}`;
        if (reader === 'auto' && process.platform === 'linux') expect(rcv.udpReader, what).to.equal('recvmmsg');
        // a trickle (one datagram at a time: drained after each), bursts of 100 (several reads per wake-up), then
        // with a buffer that holds them, bursts of 1,000 (several native batches of 128 per drain)
        await send(rcv, port, 50, 1);
        await send(rcv, port, 20, 100);
        const big = granted >= 1 << 20 ? 3 : 0;
        await send(rcv, port, big, 1000);
        const n = 50 + 20 * 100 + big * 1000;
        await rcv.shutdown(AbortSignal.timeout(5_000));
        expect(rcv.lines, what).to.equal(n * 10);
        expect(rcv.packets, what).to.equal(n);
        const c = counters(batches);
        for (let i = 0; i < 10; i++) expect(c.get(`c${i}`), `c${i} (${what})`).to.equal(n);
        if (granted >= 1 << 20) expect(rcv.readPauses, `pauses with ${granted} B granted (${what})`).to.be.greaterThan(0);
        else expect(rcv.readPauses, `no pauses with ${granted} B granted (${what})`).to.equal(0);
        expect(rcv.status().last_error, what).to.equal(null);
      }
  });

  for (const reader of READERS)
    it(`shuts down cleanly while reading is paused, and counts what came before (reader ${reader})`, async () => {
      const { rcv, port, granted } = await start('8MiB', reader);
      if (granted < 1 << 20) return; // this kernel grants less (net.core.rmem_max): no coalescing to test
      await send(rcv, port, 1, 1);
      await send(rcv, port, 1, 5);
      await waitFor(() => rcv.readPauses > 0 && rcv.lines === 60, { timeoutMs: 5_000, intervalMs: 1, what: 'a pause after the datagrams' });
      await rcv.shutdown(AbortSignal.timeout(5_000));
      expect(rcv.lines).to.equal(60);
      expect(rcv.status().last_error).to.equal(null);
    });
});
