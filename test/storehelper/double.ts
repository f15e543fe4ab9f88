/** A local HTTP test double for SaaS stores: records every request (headers, raw and decoded body) and answers from a script. */
import http from 'node:http';
import https from 'node:https';
import { gunzipSync, inflateSync } from 'node:zlib';

export interface Recorded {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  body: Buffer;
  at: number;
}
/** an answer: status, headers, body; 'drop' destroys the connection; delayMs answers late */
export type Answer = { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | 'drop';

export class HttpDouble {
  readonly requests: Recorded[] = [];
  /** answers used in order; when empty, `fallback` */
  script: Answer[] = [];
  fallback: Answer = { status: 202, body: '{}' };
  private server: http.Server | https.Server | undefined;
  port = 0;

  constructor(private readonly tls?: { key: string | Buffer; cert: string | Buffer }) {}

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  start(): Promise<void> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks);
        const enc = req.headers['content-encoding'];
        const body = enc === 'gzip' ? gunzipSync(raw) : enc === 'deflate' ? inflateSync(raw) : raw;
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, raw, body, at: Date.now() });
        const a = this.script.length > 0 ? this.script.shift()! : this.fallback;
        if (a === 'drop') {
          req.socket.destroy();
          return;
        }
        const send = (): void => {
          res.writeHead(a.status, { 'Content-Type': 'application/json', ...(a.headers ?? {}) });
          res.end(a.body ?? '');
        };
        if (a.delayMs !== undefined) setTimeout(send, a.delayMs).unref();
        else send();
      });
    };
    this.server = this.tls ? https.createServer(this.tls, handler) : http.createServer(handler);
    return new Promise((resolve) =>
      this.server!.listen(0, '127.0.0.1', () => {
        this.port = (this.server!.address() as { port: number }).port;
        resolve();
      }),
    );
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}
