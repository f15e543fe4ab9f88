/**
 * A loopback TCP proxy in front of a real store (or a test double) that
 * injects one fault at a time, for every connection opened while it is set:
 * - `pass`: forward both ways (taps the client→store bytes that got through);
 * - `refuse`: not listening (connects are refused), same port afterwards;
 * - `reset`: read the request's first chunk, forward half of it upstream and
 *   reset both sides (RST) — a reset mid-request; the bytes it swallowed are
 *   counted (`swallowed`);
 * - `stall`: accept, read nothing for `stallMs` (30 s), then either reset
 *   (`stallThen: 'reset'`, what an HTTP client sees from a hung server) or
 *   forward what waited (`'forward'`, a TCP store that was slow to read);
 * - `http`: answer every HTTP/1.1 request itself with `answer` (status,
 *   headers), reading each request whole first (Content-Length) so keep-alive
 *   clients stay in step; answers are timestamped in `answered`.
 * Changing the mode closes the connections of the previous mode (except
 * stalled ones waiting to forward), so each connection sees one mode.
 */
import net from 'node:net';

export type FaultMode = 'pass' | 'refuse' | 'reset' | 'stall' | 'http';

interface Conn {
  c: net.Socket;
  u?: net.Socket;
  mode: FaultMode;
  keep?: boolean;
}

export class FaultProxy {
  private server: net.Server | undefined;
  private readonly conns = new Set<Conn>();
  private readonly timers = new Set<NodeJS.Timeout>();
  mode: FaultMode = 'pass';
  stallMs = 30_000;
  stallThen: 'reset' | 'forward' = 'reset';
  answer: { status: number; reason: string; headers?: Record<string, string> } = { status: 503, reason: 'Service Unavailable' };
  /** client→store bytes that reached the store (pass and forwarded stalls) */
  tapped = '';
  /** bytes taken from clients and never forwarded (resets, stalls that reset) */
  swallowed = '';
  /** connections accepted per mode */
  readonly accepted: Record<FaultMode, number> = { pass: 0, refuse: 0, reset: 0, stall: 0, http: 0 };
  /** time (ms) of each `http` answer */
  readonly answered: number[] = [];
  /** time (ms) of each request received in `http` mode */
  readonly requestsAt: number[] = [];
  /** reset mode: pass half of the request upstream before the reset (HTTP stores drop an incomplete request; keep false for line protocols, whose half line could parse) */
  halfUpstream = true;
  port = 0;

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = '127.0.0.1',
  ) {}

  async start(): Promise<void> {
    await this.listen();
  }

  private listen(): Promise<void> {
    const server = net.createServer((c) => this.accept(c));
    this.server = server;
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        this.port = (server.address() as net.AddressInfo).port;
        resolve();
      });
    });
  }

  private async unlisten(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private forward(k: Conn): void {
    const u = net.createConnection({ host: this.targetHost, port: this.targetPort });
    k.u = u;
    k.c.on('data', (d: Buffer) => {
      this.tapped += d.toString('latin1');
      u.write(d);
    });
    u.on('data', (d: Buffer) => k.c.write(d));
    k.c.on('end', () => u.end());
    u.on('end', () => k.c.end());
    u.on('error', () => this.close(k));
    u.on('close', () => this.close(k));
    k.c.resume();
  }

  private close(k: Conn): void {
    k.c.destroy();
    k.u?.destroy();
    this.conns.delete(k);
  }

  private accept(c: net.Socket): void {
    const mode = this.mode;
    this.accepted[mode]++;
    const k: Conn = { c, mode };
    this.conns.add(k);
    c.on('error', () => this.close(k));
    c.on('close', () => this.close(k));
    if (mode === 'pass') {
      this.forward(k);
      return;
    }
    if (mode === 'reset') {
      c.once('data', (d: Buffer) => {
        const half = d.subarray(0, this.halfUpstream ? d.length >> 1 : 0);
        this.swallowed += d.subarray(half.length).toString('latin1');
        if (half.length > 0) {
          // an incomplete request reaches the store, then the connection resets
          const u = net.createConnection({ host: this.targetHost, port: this.targetPort }, () => {
            u.write(half, () => u.resetAndDestroy());
          });
          u.on('error', () => undefined);
        }
        c.resetAndDestroy();
        this.conns.delete(k);
      });
      return;
    }
    if (mode === 'stall') {
      c.pause();
      if (this.stallThen === 'forward') k.keep = true;
      const t = setTimeout(() => {
        this.timers.delete(t);
        if (c.destroyed) return;
        if (this.stallThen === 'forward' || k.keep) this.forward(k);
        else {
          // whatever the client sent while stalled is lost with the reset
          const pending = c.read() as Buffer | null;
          if (pending !== null) this.swallowed += pending.toString('latin1');
          c.resetAndDestroy();
          this.conns.delete(k);
        }
      }, this.stallMs);
      t.unref();
      this.timers.add(t);
      return;
    }
    // http: answer each request once it is whole
    let buf = Buffer.alloc(0);
    c.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        const len = m ? Number(m[1]) : 0;
        if (buf.length < end + 4 + len) return;
        this.swallowed += buf.subarray(0, end + 4 + len).toString('latin1');
        buf = buf.subarray(end + 4 + len);
        this.requestsAt.push(Date.now());
        const a = this.answer;
        const h = Object.entries({ 'Content-Type': 'text/plain', ...(a.headers ?? {}) })
          .map(([x, v]) => `${x}: ${v}\r\n`)
          .join('');
        const body = `${a.status} ${a.reason}\n`;
        c.write(`HTTP/1.1 ${a.status} ${a.reason}\r\n${h}Content-Length: ${body.length}\r\n\r\n${body}`);
        this.answered.push(Date.now());
      }
    });
  }

  /** switch the fault for new connections; connections of the previous mode are closed (stalls set to forward keep waiting) */
  async set(mode: FaultMode): Promise<void> {
    for (const k of [...this.conns]) if (k.keep !== true) this.close(k);
    if (mode === 'refuse' && this.server) await this.unlisten();
    if (mode !== 'refuse' && !this.server) await this.listen();
    this.mode = mode;
  }

  /** stalled connections still waiting */
  stalled(): number {
    let n = 0;
    for (const k of this.conns) if (k.mode === 'stall' && k.u === undefined) n++;
    return n;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const k of [...this.conns]) this.close(k);
    await this.unlisten();
  }
}
