/**
 * The floor Node itself sets for the `statsd` bench scenario: a bare
 * `node:dgram` server that only receives datagrams and counts their lines
 * (no parse, no aggregation), at the same UDP receive buffer as the daemons
 * under test. A child process (forked with IPC); argv: port rcvbuf(bytes)
 * [coalesceMs]. It sends `{ ready: true }` once bound, and answers any
 * message with `{ lines: <lines received so far> }`.
 *
 * coalesceMs > 0 (an experiment, `--bare-coalesce-ms`): once the socket has
 * been drained (a loop iteration delivered fewer datagrams than libuv's 32
 * per read), reading stops for coalesceMs, so at low rates one wake-up
 * reads many datagrams instead of one each. Node has no public API for
 * this: it calls recvStop/recvStart on the socket's internal handle (a
 * private symbol), which is why metricport itself does not do it.
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

interface UdpHandle {
  recvStart(): number;
  recvStop(): number;
}

/** Stop reading once a loop iteration drains the socket, start again coalesceMs later. */
function coalesce(sock: dgram.Socket, coalesceMs: number): () => void {
  const sym = Object.getOwnPropertySymbols(sock).find((x) => x.description === 'state symbol');
  const handle = sym !== undefined ? (sock as unknown as Record<symbol, { handle?: UdpHandle }>)[sym]?.handle : undefined;
  if (handle === undefined || typeof handle.recvStop !== 'function') throw new Error('this Node has no internal UDP handle with recvStop');
  let inIteration = 0;
  let armed = false;
  const check = (): void => {
    if (inIteration < 32) {
      handle.recvStop();
      inIteration = 0;
      armed = false;
      setTimeout(() => handle.recvStart(), coalesceMs);
    } else {
      inIteration = 0;
      setImmediate(check);
    }
  };
  return () => {
    inIteration++;
    if (!armed) {
      armed = true;
      setImmediate(check);
    }
  };
}

function main(): void {
  const [port, rcvbuf, coalesceMs = 0] = process.argv.slice(2).map(Number) as [number, number, number?];
  let lines = 0;
  const sock = dgram.createSocket('udp4');
  let onDatagram: (() => void) | undefined;
  sock.on('message', (msg: Buffer) => {
    lines += countLines(msg);
    onDatagram?.();
  });
  sock.bind(port, '127.0.0.1', () => {
    if (rcvbuf > 0) {
      try {
        sock.setRecvBufferSize(rcvbuf);
      } catch {
        /* capped by the kernel */
      }
    }
    if (coalesceMs > 0) onDatagram = coalesce(sock, coalesceMs);
    process.send?.({ ready: true });
  });
  process.on('message', () => process.send?.({ lines }));
  process.on('disconnect', () => sock.close());
}

if (process.argv[1]?.endsWith('statsd-bare.js')) main();
