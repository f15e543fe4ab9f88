/**
 * UDP load for the `statsd` bench scenario (a child process, so the sender
 * does not share an event loop with what it measures). argv: port rate(lines/s) seconds.
 * Packets: 20 lines each over 1,000 names (c 50 %, ms 30 %, g 10 %, s 10 %).
 * Sends `{ sent: <lines> }` to the parent when done.
 */
import dgram from 'node:dgram';

export const LINES_PER_PACKET = 20;
export const NAMES = 1000;

export function buildPackets(n = 2000): Buffer[] {
  const out: Buffer[] = [];
  let k = 0;
  for (let p = 0; p < n; p++) {
    const lines: string[] = [];
    for (let i = 0; i < LINES_PER_PACKET; i++, k++) {
      const name = `bench.app.metric_${k % NAMES}`;
      const r = k % 10;
      if (r < 5) lines.push(`${name}:1|c`);
      else if (r < 8) lines.push(`${name}.t:${(k * 7) % 500}|ms`);
      else if (r < 9) lines.push(`${name}.g:${k % 100}|g`);
      else lines.push(`${name}.s:u${k % 5000}|s`);
    }
    out.push(Buffer.from(lines.join('\n')));
  }
  return out;
}

async function main(): Promise<void> {
  const [port, rate, seconds] = process.argv.slice(2).map(Number) as [number, number, number];
  const packets = buildPackets();
  const sock = dgram.createSocket('udp4');
  sock.connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const pps = rate / LINES_PER_PACKET;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let sent = 0;
  let errors = 0;
  let i = 0;
  let inflight = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (now >= end) {
        resolve();
        return;
      }
      const due = Math.floor(((now - t0) / 1000) * pps) - sent - errors - inflight;
      for (let j = 0; j < due && inflight < 5000; j++) {
        inflight++;
        sock.send(packets[i++ % packets.length]!, (err) => {
          inflight--;
          if (err) errors++;
          else sent++;
        });
      }
      setImmediate(tick);
    };
    tick();
  });
  while (inflight > 0) await new Promise((r) => setImmediate(r));
  sock.close();
  process.send?.({ sent: sent * LINES_PER_PACKET, seconds: (performance.now() - t0) / 1000 });
}

if (process.argv[1]?.endsWith('statsd-sender.js')) void main();
