/**
 * The HTTP endpoint of a pull store: one secret path (holding the 128-bit
 * token), optional Basic auth, nothing else.
 *
 * - any other path → 404 `404 page not found` (the same body as every other
 *   unknown path: no hint that a store lives here); counted.
 * - the right path without valid credentials → 401 with
 *   `WWW-Authenticate: Basic realm="metricport"`; counted.
 * - the right path with another method than GET/HEAD → 405.
 * - path and credentials are compared in constant time.
 * - `Content-Encoding: gzip` when the client accepts it.
 * - a streamed body is pulled chunk by chunk with backpressure (the next
 *   chunk is rendered only once the socket, or the gzip stream, drained); a
 *   failure mid-body destroys the connection so the client sees a truncated
 *   response, never a short one that looks complete.
 *
 * Bound in start(), never in the constructor; close(deadline) is safe twice.
 */
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createTlsServer, loadTlsOptions, type TlsConfig } from '../config/security.js';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import type { Writable } from 'node:stream';
import { createGzip, gzip as gzipCb, constants as zc } from 'node:zlib';
import type { Counter, Meter } from '@opentelemetry/api';
import { parseEndpoint } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { checkBasicAuth, safeEqual } from './credentials.js';

const gzip = promisify(gzipCb);

/**
 * A response body: whole (string, string chunks, Buffer; sent with a
 * Content-Length), or streamed (an Iterable of Buffers pulled one chunk at a
 * time as the socket drains, chunked transfer encoding: a scrape of millions
 * of series never holds the whole body; iteration starts only for a GET).
 */
export interface PullResponse {
  contentType: string;
  body: string | string[] | Buffer | Iterable<Buffer>;
}

function isStream(b: PullResponse['body']): b is Iterable<Buffer> {
  return typeof b !== 'string' && !Array.isArray(b) && !Buffer.isBuffer(b);
}

export interface PullServerOptions {
  endpoint: string;
  /** config key of the endpoint, for the "port taken" message */
  configKey: string;
  owner: string;
  logger: Logger;
  meter: Meter;
  /** the secret path, e.g. `/<token>/metrics` */
  path: string;
  basicAuth?: { username: string; password: string };
  /** serve HTTPS (and require client certificates when client_ca_file is set) */
  tls?: TlsConfig;
  /** produce the body for an authorised GET */
  respond(req: IncomingMessage): PullResponse | Promise<PullResponse>;
}

export interface PullServerStats {
  requests: number;
  served: number;
  not_found: number;
  unauthorized: number;
  errors: number;
  last_request: string | null;
  last_error: string | null;
}

const counters = new WeakMap<Meter, Counter>();
function requestCounter(meter: Meter): Counter {
  let c = counters.get(meter);
  if (c === undefined) {
    c = meter.createCounter('metricport_pull_requests', {
      description: 'Requests to a pull store endpoint (Prometheus scrape, Circonus JSON:Pull), by status code: 404 wrong path, 401 wrong credentials',
    });
    counters.set(meter, c);
  }
  return c;
}

const BODY_404 = '404 page not found\n';

function acceptsGzip(h: string | undefined): boolean {
  if (h === undefined) return false;
  for (const part of h.split(',')) {
    const [enc, ...params] = part.trim().split(';');
    if (enc?.trim().toLowerCase() !== 'gzip') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

export class PullServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly counter: Counter;
  private readonly attrs: Record<number, Record<string, string | number>> = {};
  private closed: Promise<void> | undefined;
  readonly stats: PullServerStats = { requests: 0, served: 0, not_found: 0, unauthorized: 0, errors: 0, last_request: null, last_error: null };
  private bound: { host: string; port: number } | undefined;

  constructor(private readonly o: PullServerOptions) {
    this.counter = requestCounter(o.meter);
  }

  address(): { host: string; port: number } | undefined {
    return this.bound;
  }

  private count(code: number): void {
    this.stats.requests++;
    const a = (this.attrs[code] ??= { exporter: this.o.owner, code });
    this.counter.add(1, a);
  }

  private finish(res: ServerResponse, code: number, headers: Record<string, string>, body: string): void {
    this.count(code);
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (!safeEqual(path, this.o.path)) {
      this.stats.not_found++;
      this.finish(res, 404, {}, BODY_404);
      return;
    }
    const auth = this.o.basicAuth;
    if (auth !== undefined && !checkBasicAuth(req.headers.authorization, auth.username, auth.password)) {
      this.stats.unauthorized++;
      this.finish(res, 401, { 'WWW-Authenticate': 'Basic realm="metricport", charset="UTF-8"' }, '401 unauthorized\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.finish(res, 405, { Allow: 'GET, HEAD' }, '405 method not allowed, supported: [GET, HEAD]\n');
      return;
    }
    this.stats.last_request = new Date().toISOString();
    void this.serve(req, res);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const r = await this.o.respond(req);
      if (isStream(r.body)) {
        await this.stream(req, res, r.contentType, r.body);
        return;
      }
      let body: Buffer = Buffer.isBuffer(r.body) ? r.body : Buffer.from(Array.isArray(r.body) ? r.body.join('') : r.body, 'utf8');
      const headers: Record<string, string> = { 'Content-Type': r.contentType, Vary: 'Accept, Accept-Encoding', 'Cache-Control': 'no-store' };
      if (acceptsGzip(req.headers['accept-encoding'] as string | undefined)) {
        body = await gzip(body, { level: zc.Z_BEST_SPEED });
        headers['Content-Encoding'] = 'gzip';
      }
      headers['Content-Length'] = String(body.length);
      this.count(200);
      this.stats.served++;
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      this.stats.errors++;
      this.stats.last_error = `rendering failed: ${(e as Error).name}`;
      this.o.logger.error({ err: (e as Error).message }, 'pull store could not render its response');
      if (!res.headersSent) this.finish(res, 500, {}, '500 internal error\n');
      else res.destroy();
    }
  }

  private async stream(req: IncomingMessage, res: ServerResponse, contentType: string, body: Iterable<Buffer>): Promise<void> {
    const headers: Record<string, string> = { 'Content-Type': contentType, Vary: 'Accept, Accept-Encoding', 'Cache-Control': 'no-store' };
    const gz = acceptsGzip(req.headers['accept-encoding'] as string | undefined);
    if (gz) headers['Content-Encoding'] = 'gzip';
    this.count(200);
    this.stats.served++;
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    let out: Writable = res;
    if (gz) {
      const z = createGzip({ level: zc.Z_BEST_SPEED });
      z.pipe(res);
      z.on('error', () => res.destroy());
      out = z;
    }
    const it = body[Symbol.iterator]();
    let gone = false;
    const onClose = (): void => {
      gone = true;
    };
    res.once('close', onClose);
    try {
      for (;;) {
        if (gone || res.destroyed) return;
        const n = it.next();
        if (n.done === true) break;
        // up to MAX_BUFFERED bytes queued ahead of the socket: the next chunks render while the kernel sends
        // (waiting at every write's false, i.e. past 16 KiB, made a scrape take render + transfer in turn)
        if (!out.write(n.value) && out.writableLength > MAX_BUFFERED) await drainOrClose(out, res);
      }
      out.end();
    } catch (e) {
      this.stats.errors++;
      this.stats.last_error = `rendering failed: ${(e as Error).name}`;
      this.o.logger.error({ err: (e as Error).message }, 'pull store could not render its response');
      res.destroy();
    } finally {
      res.off('close', onClose);
      // a body left unfinished (client gone, error): let the renderer clean up
      it.return?.();
    }
  }

  async start(): Promise<void> {
    if (this.server !== undefined || this.closed !== undefined) return;
    const ep = parseEndpoint(this.o.endpoint);
    if (ep === undefined) throw new Error(`invalid endpoint ${JSON.stringify(this.o.endpoint)}: expected host:port; check ${this.o.configKey}`);
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      try {
        this.handle(req, res);
      } catch (e) {
        this.stats.errors++;
        if (!res.headersSent) this.finish(res, 500, {}, '500 internal error\n');
        this.o.logger.error({ err: (e as Error).message }, 'pull store handler failed');
      }
    };
    const tlsKey = this.o.configKey.replace(/\.endpoint$/, '.tls');
    const server: Server =
      this.o.tls === undefined
        ? http.createServer({ keepAlive: true }, handler)
        : (createTlsServer({ ...loadTlsOptions(this.o.tls, tlsKey), keepAlive: true }, handler) as unknown as Server);
    server.keepAliveTimeout = 30_000;
    server.headersTimeout = 30_000;
    server.requestTimeout = 60_000;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
        reject(
          Object.assign(new Error(`cannot listen on ${this.o.endpoint} for ${this.o.owner}: ${why}; set ${this.o.configKey} to a free host:port`), {
            code: err.code,
          }),
        );
      });
      server.listen(ep.port, ep.host === '' ? undefined : ep.host, () => resolve());
    });
    server.on('error', (err) => this.o.logger.error({ err: err.message }, 'pull store server error'));
    const a = server.address();
    if (a !== null && typeof a === 'object') this.bound = { host: a.address, port: a.port };
    this.server = server;
  }

  close(deadline: AbortSignal): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    const server = this.server;
    if (server === undefined) {
      this.closed = Promise.resolve();
      return this.closed;
    }
    this.closed = new Promise<void>((resolve) => {
      const destroy = () => {
        for (const s of this.sockets) s.destroy();
      };
      server.close(() => {
        deadline.removeEventListener('abort', destroy);
        resolve();
      });
      server.closeIdleConnections();
      if (deadline.aborted) destroy();
      else deadline.addEventListener('abort', destroy, { once: true });
    });
    return this.closed;
  }
}

/** Bytes a streamed response may queue beyond the socket before the render waits for it to drain. */
const MAX_BUFFERED = 1 << 20;

/**
 * Wait until `out` drains or `res` closes, whichever comes first, and take
 * both listeners off again. (`Promise.race` of two `events.once` left the
 * loser's listeners on the response at every wait: a large scrape added
 * hundreds, and Node warned "MaxListenersExceededWarning".)
 */
function drainOrClose(out: Writable, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done);
      res.off('close', done);
      resolve();
    };
    out.on('drain', done);
    res.on('close', done);
  });
}
