/** A loopback TCP proxy in front of a real store that a test can take down (refuse + reset) and bring back on the same port; it taps the client→store bytes. */
import net from 'node:net';

export class OutageProxy {
  private server: net.Server | undefined;
  private readonly socks = new Set<net.Socket>();
  /** every byte clients sent, in order (only while up) */
  tapped = '';
  port = 0;
  constructor(private readonly targetPort: number, private readonly targetHost = '127.0.0.1') {}

  async up(): Promise<void> {
    const server = net.createServer((c) => {
      const u = net.createConnection({ host: this.targetHost, port: this.targetPort });
      this.socks.add(c); this.socks.add(u);
      c.on('data', (d: Buffer) => { this.tapped += d.toString('latin1'); u.write(d); });
      u.on('data', (d: Buffer) => c.write(d));
      const close = (): void => { c.destroy(); u.destroy(); this.socks.delete(c); this.socks.delete(u); };
      c.on('error', close); u.on('error', close); c.on('close', close); u.on('close', close);
      c.on('end', () => u.end()); u.on('end', () => c.end());
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(this.port, '127.0.0.1', () => resolve()); });
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** stop listening (connects are refused) and reset every open connection */
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const x of this.socks) x.destroy();
    this.socks.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
