/**
 * The floor Node itself sets for the `statsd` bench scenario: a bare
 * `node:dgram` server that only receives datagrams and counts their lines
 * (no parse, no aggregation), at the same UDP receive buffer as the daemons
 * under test. A child process (forked with IPC); argv: port rcvbuf(bytes).
 * It sends `{ ready: true }` once bound, and answers any message with
 * `{ lines: <lines received so far> }`.
 */
import dgram from 'node:dgram';

const C_LF = 10;

/** lines in one datagram: its '\n'-separated non-empty parts (the sender's packets have no trailing newline) */
function countLines(b: Uint8Array): number {
  const n = b.length;
  if (n === 0) return 0;
  let lines = 1;
  for (let i = 0; i < n; i++) if (b[i] === C_LF) lines++;
  return b[n - 1] === C_LF ? lines - 1 : lines;
}

function main(): void {
  const [port, rcvbuf] = process.argv.slice(2).map(Number) as [number, number];
  let lines = 0;
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg: Buffer) => {
    lines += countLines(msg);
  });
  sock.bind(port, '127.0.0.1', () => {
    if (rcvbuf > 0) {
      try {
        sock.setRecvBufferSize(rcvbuf);
      } catch {
        /* capped by the kernel */
      }
    }
    process.send?.({ ready: true });
  });
  process.on('message', () => process.send?.({ lines }));
  process.on('disconnect', () => sock.close());
}

if (process.argv[1]?.endsWith('statsd-bare.js')) main();
