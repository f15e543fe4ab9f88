/**
 * Loopback ports and polling with a deadline: the only synchronisation the
 * test suites use (never a bare sleep).
 */
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

/** Ports this process handed out recently: never hand the same one to two peers starting in parallel. */
const recentlyGiven: number[] = [];

/** A TCP port that was free on 127.0.0.1 a moment ago (listen on :0, read, close). */
export async function freePort(): Promise<number> {
  for (let i = 0; ; i++) {
    const port = await probeFreePort();
    if (recentlyGiven.includes(port) && i < 20) continue;
    recentlyGiven.push(port);
    if (recentlyGiven.length > 256) recentlyGiven.shift();
    return port;
  }
}

function probeFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: no port assigned'));
        return;
      }
      const port = addr.port;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** `n` distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Pause between attempts (default 100 ms). */
  intervalMs?: number;
  /** What we are waiting for; named in the timeout error. */
  what?: string;
  /** Called before every attempt; throw from it to abort the wait early (e.g. the peer process died). */
  abortIf?: () => void;
}

/**
 * Polls `fn` until it returns true, with a deadline. An exception thrown by
 * `fn` counts as "not yet"; the last one is quoted in the timeout error.
 */
export async function waitFor(fn: () => Promise<boolean> | boolean, opts: WaitOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 100;
  const what = opts.what ?? 'condition';
  const started = Date.now();
  const deadline = started + timeoutMs;
  let lastError: unknown;
  let attempts = 0;
  for (;;) {
    opts.abortIf?.();
    attempts++;
    try {
      if (await fn()) return;
    } catch (err) {
      lastError = err;
    }
    const now = Date.now();
    if (now >= deadline) break;
    await delay(Math.min(intervalMs, deadline - now));
  }
  opts.abortIf?.();
  const last = lastError === undefined ? '' : `; last error: ${describeError(lastError)}`;
  throw new Error(`timed out after ${Date.now() - started} ms (${attempts} attempts) waiting for ${what}${last}`);
}

export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
  }
  return String(err);
}

export interface WaitForHttpOptions {
  /** Expected status (default: any 2xx). */
  status?: number;
  timeoutMs?: number;
  intervalMs?: number;
  /** Optional check of the body (e.g. VictoriaMetrics /health answers "OK"). */
  body?: (text: string) => boolean;
  what?: string;
  abortIf?: () => void;
}

/** Polls `url` with GET until it answers the expected status (and body). */
export async function waitForHttp(url: string, opts: WaitForHttpOptions = {}): Promise<void> {
  await waitFor(
    async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const text = await res.text();
      const statusOk = opts.status === undefined ? res.ok : res.status === opts.status;
      if (!statusOk) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
      if (opts.body && !opts.body(text)) throw new Error(`unexpected body: ${text.slice(0, 200)}`);
      return true;
    },
    {
      timeoutMs: opts.timeoutMs ?? 10_000,
      intervalMs: opts.intervalMs ?? 50,
      what: opts.what ?? `GET ${url}${opts.status === undefined ? '' : ` -> ${opts.status}`}`,
      abortIf: opts.abortIf,
    },
  );
}

/** True once a TCP connection to host:port succeeds. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Opens a TCP connection, writes `text`, half-closes and waits for the peer to close (Graphite plaintext, etc.). */
export function sendTcp(port: number, text: string, host = '127.0.0.1', timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`sendTcp ${host}:${port}: timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once('connect', () => sock.end(text));
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.once('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve();
    });
    sock.resume();
  });
}

export interface ResettingServer {
  port: number;
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** connections accepted (and reset) so far */
  connections(): number;
  stop(): Promise<void>;
}

/**
 * A loopback TCP port the test owns where every connection is accepted and
 * at once reset (RST): the "upstream is down" peer for a client under test,
 * instead of a fixed port assumed to be closed (127.0.0.1:9 may be taken).
 */
export function startResettingServer(): Promise<ResettingServer> {
  let accepted = 0;
  const srv = net.createServer((sock) => {
    accepted++;
    sock.on('error', () => {
      /* the reset is the point */
    });
    sock.resetAndDestroy();
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (srv.address() as net.AddressInfo).port;
      resolve({
        port,
        url: `http://127.0.0.1:${port}`,
        connections: () => accepted,
        stop: () =>
          new Promise<void>((res) => {
            srv.close(() => res());
          }),
      });
    });
  });
}
