/** A loopback TCP proxy in front of a real store that a test can take down (refuse + reset) and bring back on the same port; it taps the client→store bytes. */
import net from 'node:net';

export class OutageProxy {
  private server: net.Server | undefined;
  private readonly socks = new Set<net.Socket>();
  private readonly clients = new Set<net.Socket>();
  /** every byte clients sent, in order (only while up) */
  tapped = '';
  port = 0;
  constructor(
    private readonly targetPort: number,
    private readonly targetHost = '127.0.0.1',
  ) {}

  async up(): Promise<void> {
    const server = net.createServer((c) => {
      const u = net.createConnection({ host: this.targetHost, port: this.targetPort });
      this.socks.add(c);
      this.socks.add(u);
      this.clients.add(c);
      c.on('data', (d: Buffer) => {
        this.tapped += d.toString('latin1');
        u.write(d);
      });
      u.on('data', (d: Buffer) => c.write(d));
      const close = (): void => {
        c.destroy();
        u.destroy();
        this.socks.delete(c);
        this.socks.delete(u);
        this.clients.delete(c);
      };
      c.on('error', close);
      u.on('error', close);
      c.on('close', close);
      u.on('close', close);
      c.on('end', () => u.end());
      u.on('end', () => c.end());
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
  }

  /**
   * Stop listening (connects are refused) and reset every open connection.
   * `graceful`: like a store that shuts down cleanly, close each connection
   * with a FIN and keep reading (and forwarding) what the client had already
   * written for up to `graceMs` before resetting. Plaintext TCP has no
   * acknowledgement: a reset swallows lines the client's kernel accepted
   * (the fault-injection test accounts for that case exactly).
   */
  async down(opts: { graceful?: boolean; graceMs?: number } = {}): Promise<void> {
    const s = this.server;
    this.server = undefined;
    const closing = s ? new Promise<void>((resolve) => s.close(() => resolve())) : Promise.resolve();
    if (opts.graceful === true && this.clients.size > 0) {
      const open = [...this.clients];
      for (const c of open) c.end();
      const deadline = Date.now() + (opts.graceMs ?? 500);
      while (open.some((c) => !c.destroyed) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    }
    for (const x of this.socks) x.destroy();
    this.socks.clear();
    this.clients.clear();
    await closing;
  }
}
