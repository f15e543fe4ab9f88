/**
 * One HTTP listener per endpoint, shared by every receiver configured on it
 * (the OTLP receiver mounts /v1/metrics and /v1/logs; the errors receiver adds
 * /v1/errors on the same port). Plain node:http: this is the ingest hot path.
 *
 * - `acquireServer(endpoint)` returns a lease; no socket is opened until
 *   `listen()`. The first lease to listen binds; the others await that bind.
 * - Each lease mounts routes; a method+path pair can have one owner only.
 * - An unknown path is answered 404; a known path with another method 405 with
 *   `Allow` (or by the route's own `onWrongMethod`).
 * - `release(deadline)` unmounts the lease's routes; the last lease closes the
 *   server: stop accepting, close idle keep-alive connections, let in-flight
 *   requests finish (answering them with `Connection: close`), and destroy
 *   what is left when the deadline aborts.
 *
 * Endpoints with port 0 are never shared (each gets a fresh port); once bound
 * they are also reachable under their real `host:port`, so a second receiver
 * configured with that port joins the same server.
 */
import http from 'node:http';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import { createTlsServer, type RequestGuard } from './config/security.js';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { parseEndpoint } from './config/schema.js';
import type { Logger } from './logger.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface RouteOptions {
  /**
   * Answer a request for this path with a method no route serves (instead of
   * the default plain-text 405). `allow` is the `Allow` header value.
   */
  onWrongMethod?: (req: IncomingMessage, res: ServerResponse, allow: string) => void;
}

export interface AcquireOptions {
  /** who holds the lease (component id), for messages */
  owner?: string;
  /** the config key of the endpoint, named in the "port taken" message */
  configKey?: string;
  /** serve HTTPS (every lease on the endpoint must agree) */
  tls?: TlsServerOptions;
  /** bearer-token and rate-limit checks in front of this lease's routes */
  guard?: RequestGuard;
}

/** https.createServer options, and a fingerprint telling whether two leases agree */
export interface TlsServerOptions {
  options: HttpsServerOptions;
  fingerprint: string;
}

export interface BoundAddress {
  host: string;
  port: number;
}

export interface SharedServer {
  /** the endpoint as configured */
  readonly endpoint: string;
  /** mount a handler; throws when another lease already serves method+path */
  route(method: string, path: string, handler: RouteHandler, opts?: RouteOptions): void;
  /**
   * mount a handler for every path `pattern` matches (e.g. `/api/<project>/envelope/`
   * under any prefix); exact routes are tried first, then patterns in mount
   * order. `name` identifies the pattern in messages (e.g. `/api/{project}/envelope/`).
   */
  routePattern(method: string, name: string, pattern: RegExp, handler: RouteHandler, opts?: RouteOptions): void;
  /** bind (first caller) or await the bind; rejects with a message naming the config key */
  listen(): Promise<void>;
  /** the bound address, once listening */
  address(): BoundAddress | undefined;
  /** unmount this lease's routes; the last lease closes the server (safe twice) */
  release(deadline: AbortSignal): Promise<void>;
}

interface Route {
  handlers: Map<string, { handler: RouteHandler; owner: Lease }>;
  allow: string;
  onWrongMethod: RouteOptions['onWrongMethod'] | undefined;
}

interface PatternRoute {
  method: string;
  name: string;
  pattern: RegExp;
  handler: RouteHandler;
  owner: Lease;
  onWrongMethod: RouteOptions['onWrongMethod'] | undefined;
}

const listeners = new Map<string, Listener>();
const DEFAULT_OWNER = 'a receiver';

const TEXT_HEADERS_404 = { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '19' };
const BODY_404 = Buffer.from('404 page not found\n');

function describeListenError(endpoint: string, err: NodeJS.ErrnoException, configKey: string | undefined): string {
  const fix = configKey ? `; set ${configKey} to a free port` : '; choose a free port';
  switch (err.code) {
    case 'EADDRINUSE':
      return `cannot listen on ${endpoint}: address already in use${fix}`;
    case 'EACCES':
      return `cannot listen on ${endpoint}: permission denied (ports below 1024 need privileges)${fix}`;
    case 'EADDRNOTAVAIL':
      return `cannot listen on ${endpoint}: the address is not assigned to this host${configKey ? `; check ${configKey}` : ''}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${endpoint}: the host name does not resolve${configKey ? `; check ${configKey}` : ''}`;
    default:
      return `cannot listen on ${endpoint}: ${err.message}`;
  }
}

class Listener {
  readonly server: Server;
  readonly routes = new Map<string, Route>();
  readonly patterns: PatternRoute[] = [];
  readonly leases = new Set<Lease>();
  readonly sockets = new Set<Socket>();
  readonly inflight = new Set<ServerResponse>();
  readonly keys: string[];
  bound: BoundAddress | undefined;
  closing = false;
  tlsErrors = 0;
  private listening: Promise<void> | undefined;
  private closed: Promise<void> | undefined;
  private readonly onResClose: (this: ServerResponse) => void;

  constructor(
    readonly endpoint: string,
    readonly logger: Logger,
    key: string | undefined,
    readonly tls: TlsServerOptions | undefined,
  ) {
    this.keys = key === undefined ? [] : [key];
    this.server =
      tls === undefined
        ? http.createServer({ keepAlive: true }, (req, res) => this.dispatch(req, res))
        : createTlsServer({ ...tls.options, keepAlive: true }, (req, res) => this.dispatch(req, res));
    // failed TLS handshakes (no or a wrong client certificate) are the client's problem: counted, not logged per connection
    if (tls !== undefined)
      this.server.on('tlsClientError', () => {
        this.tlsErrors++;
      });
    this.server.keepAliveTimeout = 30_000;
    this.server.headersTimeout = 60_000;
    this.server.requestTimeout = 300_000;
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    const inflight = this.inflight;
    const self = this;
    // one function for every request (no per-request closure)
    this.onResClose = function onResClose(this: ServerResponse) {
      inflight.delete(this);
      if (self.closing) self.server.closeIdleConnections();
    };
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const route = this.routes.get(path);
    this.inflight.add(res);
    res.once('close', this.onResClose);
    if (this.closing) res.shouldKeepAlive = false;
    if (route === undefined) {
      if (this.patterns.length > 0 && this.dispatchPattern(req, res, path)) return;
      res.writeHead(404, TEXT_HEADERS_404);
      res.end(BODY_404);
      return;
    }
    const h = route.handlers.get(req.method ?? '');
    if (h === undefined) {
      if (route.onWrongMethod !== undefined) {
        route.onWrongMethod(req, res, route.allow);
        return;
      }
      const body = `405 method not allowed, supported: [${route.allow}]\n`;
      res.writeHead(405, { Allow: route.allow, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)) });
      res.end(body);
      return;
    }
    try {
      h.handler(req, res);
    } catch (err) {
      // a handler bug must not take the listener down; answer once
      this.logger.error({ err, path }, 'HTTP route handler threw');
      if (!res.headersSent) {
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('internal error\n');
      } else {
        res.destroy();
      }
    }
  }

  /** a pattern route for `path`, if any; true when the request was handed to one */
  private dispatchPattern(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    let wrong: PatternRoute | undefined;
    let allow = '';
    for (const p of this.patterns) {
      if (!p.pattern.test(path)) continue;
      if (p.method === req.method) {
        try {
          p.handler(req, res);
        } catch (err) {
          this.logger.error({ err, route: p.name }, 'HTTP route handler threw');
          if (!res.headersSent) {
            res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
            res.end('internal error\n');
          } else {
            res.destroy();
          }
        }
        return true;
      }
      wrong ??= p;
      allow = allow === '' ? p.method : `${allow}, ${p.method}`;
    }
    if (wrong === undefined) return false;
    if (wrong.onWrongMethod !== undefined) {
      wrong.onWrongMethod(req, res, allow);
      return true;
    }
    const body = `405 method not allowed, supported: [${allow}]\n`;
    res.writeHead(405, { Allow: allow, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)) });
    res.end(body);
    return true;
  }

  addPattern(lease: Lease, method: string, name: string, pattern: RegExp, handler: RouteHandler, opts: RouteOptions | undefined): void {
    const m = method.toUpperCase();
    const existing = this.patterns.find((p) => p.method === m && p.name === name);
    if (existing !== undefined && existing.owner.owner === lease.owner && lease.owner !== DEFAULT_OWNER && existing.owner !== lease) {
      Object.assign(existing, { handler, owner: lease, pattern, onWrongMethod: opts?.onWrongMethod });
      return;
    }
    if (existing !== undefined) {
      throw new Error(
        `cannot serve ${m} ${name} on ${this.endpoint} for ${lease.owner}: already served by ${existing.owner.owner}; give one of them another endpoint`,
      );
    }
    this.patterns.push({ method: m, name, pattern, handler, owner: lease, onWrongMethod: opts?.onWrongMethod });
  }

  addRoute(lease: Lease, method: string, path: string, handler: RouteHandler, opts: RouteOptions | undefined): void {
    if (!path.startsWith('/')) throw new Error(`route path must start with "/", got ${JSON.stringify(path)}`);
    const m = method.toUpperCase();
    let route = this.routes.get(path);
    if (route === undefined) {
      route = { handlers: new Map(), allow: '', onWrongMethod: undefined };
      this.routes.set(path, route);
    }
    const existing = route.handlers.get(m);
    // a reload replacing a receiver in place: the new instance (same owner)
    // takes the route over, and the listener stays open throughout
    if (existing !== undefined && existing.owner.owner === lease.owner && lease.owner !== DEFAULT_OWNER && existing.owner !== lease) {
      route.handlers.set(m, { handler, owner: lease });
      if (opts?.onWrongMethod !== undefined) route.onWrongMethod = opts.onWrongMethod;
      return;
    }
    if (existing !== undefined) {
      throw new Error(
        `cannot serve ${m} ${path} on ${this.endpoint} for ${lease.owner}: already served by ${existing.owner.owner}; give one of them another path or endpoint`,
      );
    }
    route.handlers.set(m, { handler, owner: lease });
    route.allow = [...route.handlers.keys()].join(', ');
    if (opts?.onWrongMethod !== undefined) route.onWrongMethod = opts.onWrongMethod;
  }

  removeRoutes(lease: Lease): void {
    for (let i = this.patterns.length - 1; i >= 0; i--) if (this.patterns[i]!.owner === lease) this.patterns.splice(i, 1);
    for (const [path, route] of this.routes) {
      for (const [m, h] of route.handlers) if (h.owner === lease) route.handlers.delete(m);
      if (route.handlers.size === 0) this.routes.delete(path);
      else route.allow = [...route.handlers.keys()].join(', ');
    }
  }

  listen(): Promise<void> {
    if (this.listening === undefined) {
      this.listening = new Promise<void>((resolve, reject) => {
        const ep = parseEndpoint(this.endpoint);
        if (ep === undefined) {
          reject(Object.assign(new Error(`invalid endpoint ${JSON.stringify(this.endpoint)}: expected host:port`), { code: 'EINVAL' }));
          return;
        }
        const onError = (err: Error) => {
          this.server.off('listening', onListening);
          reject(err);
        };
        const onListening = () => {
          this.server.off('error', onError);
          this.server.on('error', (err) => this.logger.error({ err, endpoint: this.endpoint }, 'HTTP server error'));
          const a = this.server.address();
          if (a !== null && typeof a === 'object') {
            this.bound = { host: a.address, port: a.port };
            if (ep.port === 0) {
              const alias = `${ep.host.includes(':') ? `[${ep.host}]` : ep.host}:${a.port}`;
              if (!listeners.has(alias) && !this.closing) {
                listeners.set(alias, this);
                this.keys.push(alias);
              }
            }
          }
          resolve();
        };
        this.server.once('error', onError);
        this.server.once('listening', onListening);
        if (ep.host === '') this.server.listen(ep.port);
        else this.server.listen(ep.port, ep.host);
      });
      // a failed bind frees the key so that a later acquire tries again
      this.listening.catch(() => this.unregister());
    }
    return this.listening;
  }

  private unregister(): void {
    for (const k of this.keys) if (listeners.get(k) === this) listeners.delete(k);
    this.keys.length = 0;
  }

  close(deadline: AbortSignal): Promise<void> {
    if (this.closed !== undefined) return this.closed;
    this.closing = true;
    this.unregister();
    if (!this.server.listening) {
      this.closed = Promise.resolve();
      return this.closed;
    }
    this.closed = new Promise<void>((resolve) => {
      let done = false;
      const destroyAll = () => {
        for (const s of this.sockets) s.destroy();
      };
      const onAbort = () => destroyAll();
      this.server.close(() => {
        done = true;
        deadline.removeEventListener('abort', onAbort);
        resolve();
      });
      // answers still to be written go out with Connection: close
      for (const res of this.inflight) if (!res.headersSent) res.shouldKeepAlive = false;
      this.server.closeIdleConnections();
      if (!done) {
        if (deadline.aborted) destroyAll();
        else deadline.addEventListener('abort', onAbort, { once: true });
      }
    });
    return this.closed;
  }
}

class Lease implements SharedServer {
  private released = false;
  constructor(
    private readonly l: Listener,
    readonly owner: string,
    private readonly configKey: string | undefined,
    private readonly guard: RequestGuard | undefined,
  ) {}

  /** the handler behind this lease's guard (auth, rate limit), when it has one */
  private guarded(handler: RouteHandler): RouteHandler {
    const g = this.guard;
    if (g === undefined || !g.active) return handler;
    return (req, res) => {
      if (g.check(req, res)) handler(req, res);
    };
  }

  get endpoint(): string {
    return this.l.endpoint;
  }

  route(method: string, path: string, handler: RouteHandler, opts?: RouteOptions): void {
    if (this.released) throw new Error(`cannot mount ${method} ${path}: the lease on ${this.l.endpoint} was released`);
    this.l.addRoute(this, method, path, this.guarded(handler), opts);
  }

  routePattern(method: string, name: string, pattern: RegExp, handler: RouteHandler, opts?: RouteOptions): void {
    if (this.released) throw new Error(`cannot mount ${method} ${name}: the lease on ${this.l.endpoint} was released`);
    this.l.addPattern(this, method, name, pattern, this.guarded(handler), opts);
  }

  async listen(): Promise<void> {
    try {
      await this.l.listen();
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw Object.assign(new Error(describeListenError(this.l.endpoint, e, this.configKey), { cause: err }), { code: e.code });
    }
  }

  address(): BoundAddress | undefined {
    return this.l.bound === undefined ? undefined : { ...this.l.bound };
  }

  async release(deadline: AbortSignal): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.l.removeRoutes(this);
    this.l.leases.delete(this);
    if (this.l.leases.size === 0) await this.l.close(deadline);
  }
}

/**
 * A lease on the HTTP server for `endpoint` (host:port), created on first use.
 * Call from `start()`, never from `create()`.
 */
export function acquireServer(endpoint: string, logger: Logger, opts: AcquireOptions = {}): SharedServer {
  const ep = parseEndpoint(endpoint);
  const key = ep === undefined || ep.port === 0 ? undefined : endpoint.trim();
  let l = key === undefined ? undefined : listeners.get(key);
  if (l === undefined || l.closing) {
    l = new Listener(endpoint.trim(), logger, key, opts.tls);
    if (key !== undefined) listeners.set(key, l);
  } else if ((l.tls?.fingerprint ?? '') !== (opts.tls?.fingerprint ?? '')) {
    const owners = [...l.leases].map((x) => x.owner).join(', ');
    throw new Error(
      `cannot serve ${endpoint} for ${opts.owner ?? DEFAULT_OWNER}${opts.configKey ? ` (${opts.configKey})` : ''}: ${owners || 'another receiver'} already serves it ${l.tls === undefined ? 'without' : 'with other'} TLS settings; receivers sharing an endpoint need the same tls settings`,
    );
  }
  const lease = new Lease(l, opts.owner ?? DEFAULT_OWNER, opts.configKey, opts.guard);
  l.leases.add(lease);
  return lease;
}

/** Endpoints with a live server (tests, status). */
export function sharedEndpoints(): string[] {
  return [...listeners.keys()];
}
