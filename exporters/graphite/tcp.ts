/**
 * One Carbon plaintext TCP connection, reopened on demand. A broken pipe, a
 * reset, the peer closing, or a refused connection marks it gone; the next
 * send reconnects (the exporter helper's retry gives the backoff). A write
 * counts as done when the kernel took the bytes (`write` callback).
 */
import net from 'node:net';
import { RetryableSendError } from '../../src/exporterhelper/retry.js';

export class CarbonConnection {
  private sock: net.Socket | undefined;
  private readonly host: string;
  private readonly port: number;
  private closed = false;
  connects = 0;
  disconnects = 0;

  constructor(host: string, port: number) {
    this.host = host;
    this.port = port;
  }

  get endpoint(): string {
    return `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }
  connected(): boolean {
    return this.sock !== undefined;
  }

  private drop(s: net.Socket): void {
    if (this.sock === s) {
      this.sock = undefined;
      this.disconnects++;
    }
    s.destroy();
  }

  private connect(abort: AbortSignal): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection({ host: this.host, port: this.port });
      s.setNoDelay(true);
      const onAbort = (): void => {
        s.destroy();
        reject(abort.reason);
      };
      abort.addEventListener('abort', onAbort, { once: true });
      s.once('connect', () => {
        abort.removeEventListener('abort', onAbort);
        s.removeAllListeners('error');
        s.on('error', () => this.drop(s));
        s.on('end', () => this.drop(s));
        s.on('close', () => this.drop(s));
        s.on('data', () => undefined); // carbon never answers; keep the stream flowing
        this.connects++;
        resolve(s);
      });
      s.once('error', (e) => {
        abort.removeEventListener('abort', onAbort);
        s.destroy();
        reject(
          new RetryableSendError(`cannot connect to carbon at ${this.endpoint}: ${(e as { code?: string }).code ?? e.name}`, { reason: 'network', cause: e }),
        );
      });
    });
  }

  async write(body: Uint8Array, abort: AbortSignal): Promise<void> {
    if (this.closed) throw new RetryableSendError('carbon connection closed', { reason: 'shutdown' });
    let s = this.sock;
    if (s === undefined || s.destroyed || !s.writable) {
      if (s !== undefined) this.drop(s);
      s = await this.connect(abort);
      if (this.closed) {
        s.destroy();
        throw new RetryableSendError('carbon connection closed', { reason: 'shutdown' });
      }
      this.sock = s;
    }
    const sock = s;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.drop(sock);
        reject(abort.reason);
      };
      abort.addEventListener('abort', onAbort, { once: true });
      sock.write(body, (err) => {
        abort.removeEventListener('abort', onAbort);
        if (err) {
          this.drop(sock);
          reject(
            new RetryableSendError(`write to carbon at ${this.endpoint} failed: ${(err as { code?: string }).code ?? err.name}`, {
              reason: 'network',
              cause: err,
            }),
          );
        } else resolve();
      });
    });
  }

  close(): void {
    this.closed = true;
    const s = this.sock;
    this.sock = undefined;
    if (s !== undefined) s.end();
  }
}
