/**
 * The admin server (default 127.0.0.1:8888), on node:http with a small
 * router. Its own routes: GET /healthz (no token), GET /metrics (the service's
 * own telemetry in the Prometheus text format), GET /api/v1/status,
 * GET /api/v1/stores (every metric store, push and pull, with the URL to hand
 * to the third party for pull stores; never credentials), POST /api/v1/reload.
 * Every other route is contributed by a component factory or an extension
 * (`admin` in src/extension.ts, collected by src/registry.ts): this file
 * imports no component. `GET /` and the 404 body list every route.
 * Bound in start(), never in the constructor.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createTlsServer, loadTlsOptions, RequestGuard, secretEquals, type TlsConfig } from './config/security.js';
import type { AddressInfo } from 'node:net';
import { parseEndpoint } from './config/schema.js';
import { displayPath, type AdminMethod, type AdminReply, type AdminRequest, type AdminRoute, type AdminSessions, type ConsoleContext } from './extension.js';
import type { Logger } from './logger.js';
import { storesFromStatus } from './pullstore/stores.js';
import { contributedRoutes, type Contributed } from './registry.js';
import type { Service } from './service.js';
import type { ReloadOutcome } from './run.js';
import type { ServiceTelemetry } from './telemetry.js';

export interface AdminOptions {
  endpoint: string;
  logger: Logger;
  telemetry: ServiceTelemetry;
  /** the running service; null while starting */
  service: () => Service | null;
  /** HTTPS (cert/key files; client CA for mTLS) */
  tls?: TlsConfig;
  /** bearer token required by every route but GET /healthz ('' or absent: none) */
  token?: string;
  /** re-read and apply the config (absent: reload is not offered) */
  reload?: () => Promise<ReloadOutcome>;
  /** extra status for the service as a whole (settings, version) */
  info: () => Record<string, unknown>;
  /** the contributed routes (default: every factory's and extension's, from the registry) */
  routes?: ReadonlyArray<Contributed<AdminRoute>>;
  /** the console (src/console/): default enabled, read-only, no config file */
  console?: Omit<ConsoleContext, 'reload'>;
}

/** The console's session cookie. */
const SESSION_COOKIE = 'mp_session';
const SESSION_TTL_MS = 12 * 3600_000;
const MAX_SESSIONS = 1000;

/** The session id in a request's Cookie header, if any. */
function sessionCookie(headers: IncomingHttpHeaders): string | undefined {
  const c = headers.cookie;
  if (c === undefined) return undefined;
  for (const part of c.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === SESSION_COOKIE) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * Browser sessions for the console: a login with the admin token gets a
 * random id in a cookie (HttpOnly, SameSite=Strict, Secure under TLS); the
 * server keeps the ids (never the token) for 12 h, at most 1,000.
 */
class Sessions implements AdminSessions {
  private readonly ids = new Map<string, number>();
  failedLogins = 0;
  constructor(
    private readonly token: string,
    private readonly secure: boolean,
  ) {}
  get tokenRequired(): boolean {
    return this.token !== '';
  }
  private cookie(value: string, maxAgeS: number): string {
    return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${this.secure ? '; Secure' : ''}`;
  }
  login(token: string): string | undefined {
    if (this.token !== '' && !secretEquals(token, this.token)) {
      this.failedLogins++;
      return undefined;
    }
    const id = randomBytes(32).toString('base64url');
    if (this.ids.size >= MAX_SESSIONS) this.ids.delete(this.ids.keys().next().value!);
    this.ids.set(id, Date.now() + SESSION_TTL_MS);
    return this.cookie(id, SESSION_TTL_MS / 1000);
  }
  logout(headers: IncomingHttpHeaders): string {
    const id = sessionCookie(headers);
    if (id !== undefined) this.ids.delete(id);
    return this.cookie('', 0);
  }
  valid(headers: IncomingHttpHeaders): boolean {
    const id = sessionCookie(headers);
    if (id === undefined) return false;
    const exp = this.ids.get(id);
    if (exp === undefined) return false;
    if (exp < Date.now()) {
      this.ids.delete(id);
      return false;
    }
    return true;
  }
}

/**
 * A request a browser sent from another site: its Sec-Fetch-Site (or, from
 * an older browser, its Origin) says so. Such a request never changes
 * anything here. Clients that are not browsers send neither.
 */
function crossSite(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  if (origin === 'null') return true;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

/** A route of the admin server's own: may run while the service starts, may be open (no token). */
interface CoreRoute {
  method: AdminMethod;
  path: string;
  summary: string;
  /** answered without the admin token (probes) */
  open?: boolean;
  handle(req: AdminRequest, svc: Service | null, opts: AdminOptions): AdminReply | Promise<AdminReply>;
}

interface Compiled {
  route: CoreRoute;
  re: RegExp;
  names: string[];
}

const MAX_BODY = 1 << 20;
const STARTING: AdminReply = { status: 503, json: { state: 'starting' } };

/** `/a/:b/c` → a RegExp matching one segment per `:name`. */
function compile(route: CoreRoute): Compiled {
  const names: string[] = [];
  const src = route.path
    .split('/')
    .map((seg) => {
      const m = /^:([A-Za-z_][A-Za-z0-9_]*)$/.exec(seg);
      if (m === null) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]!);
      return '([^/]+)';
    })
    .join('/');
  return { route, re: new RegExp(`^${src}/?$`), names };
}

/** The admin server's own routes. */
const CORE_ROUTES: readonly CoreRoute[] = [
  {
    method: 'GET',
    path: '/healthz',
    open: true,
    summary: 'health of every component: 200 ok (or degraded: serving while NATS is away, in a cluster), 503 starting or unhealthy (no token needed)',
    handle: (_req, svc) => {
      if (svc === null) return STARTING;
      const h = svc.health();
      // degraded: every component runs but a dependency (NATS, in a cluster) is away; 200 so a probe does not restart the instance
      const degraded = h.degraded ?? [];
      const status = !h.healthy ? 'unhealthy' : degraded.length > 0 ? 'degraded' : 'ok';
      return { status: h.healthy ? 200 : 503, json: { status, ...(degraded.length > 0 ? { degraded } : {}), components: h.components } };
    },
  },
  {
    method: 'GET',
    path: '/metrics',
    summary: "metricport's own telemetry (Prometheus text format)",
    handle: async (_req, _svc, opts) => ({ text: await opts.telemetry.render(), contentType: 'text/plain; version=0.0.4; charset=utf-8' }),
  },
  {
    method: 'GET',
    path: '/api/v1/status',
    summary: "the service, its pipelines and every component's counters",
    handle: (_req, svc, opts) => ({ json: { ...opts.info(), ...(svc ? redactStoreUrls(svc.status()) : { state: 'starting' }) } }),
  },
  {
    method: 'GET',
    path: '/api/v1/stores',
    summary: 'every metric store, push and pull, with the pull URLs to hand out',
    handle: (_req, svc) => (svc === null ? { status: 503, json: { state: 'starting', stores: [] } } : { json: { stores: storesFromStatus(svc.status()) } }),
  },
  {
    method: 'POST',
    path: '/api/v1/reload',
    summary: 're-read the config file and apply it (the previous config keeps running if it cannot)',
    handle: async (_req, svc, opts) => {
      const reload = opts.reload;
      if (reload === undefined || svc === null) return STARTING;
      try {
        const r = await reload();
        if (r.ok) return { json: { status: 'reloaded', ...r.summary, warnings: r.warnings.map((w) => ({ path: w.path, message: w.message })) } };
        return { status: r.status, json: { status: 'rejected', error: r.error, errors: r.errors } };
      } catch (e) {
        return { status: 500, json: { status: 'failed', error: (e as Error).message } };
      }
    },
  },
];

/** Every admin route, the server's own first: `GET /healthz`, `GET /api/v1/metricsets/<set>/preview`, ... */
export function adminEndpoints(routes: ReadonlyArray<Contributed<AdminRoute>> = contributedRoutes()): Array<{ endpoint: string; summary: string }> {
  return [...CORE_ROUTES, ...routes.map((r) => r.item)].map((r) => ({ endpoint: `${r.method} ${displayPath(r.path)}`, summary: r.summary }));
}

export class AdminServer {
  private server?: Server;
  readonly guard: RequestGuard;
  private readonly routes: Compiled[];
  /** `GET /healthz`, ... for the index and the 404 body */
  readonly endpoints: string[];

  /** the console's browser sessions */
  readonly sessions: Sessions;
  private readonly rateOnly: RequestGuard;
  private readonly consoleCtx: ConsoleContext;
  /** cross-site requests refused (counted; never served) */
  crossSiteRefused = 0;

  constructor(private readonly opts: AdminOptions) {
    // GET /healthz stays open for probes; everything else needs the token when one is set
    this.guard = new RequestGuard(
      opts.token !== undefined && opts.token !== '' ? { tokens: [opts.token] } : undefined,
      { requests_per_second: 200, burst: 400 },
      'metricport-admin',
    );
    this.rateOnly = new RequestGuard(undefined, { requests_per_second: 200, burst: 400 }, 'metricport-admin');
    this.sessions = new Sessions(opts.token ?? '', opts.tls !== undefined);
    const c = opts.console ?? { enabled: true, allowConfigChanges: false, configFile: '', stateDir: '' };
    this.consoleCtx = { ...c, ...(opts.reload !== undefined ? { reload: opts.reload as ConsoleContext['reload'] } : {}) };
    const all: CoreRoute[] = [...CORE_ROUTES];
    for (const { item, from } of opts.routes ?? contributedRoutes()) {
      const clash = all.find((r) => r.method === item.method && r.path === item.path);
      if (clash !== undefined) throw new Error(`admin route ${item.method} ${item.path} (from ${from}) is already taken`);
      all.push({
        method: item.method,
        path: item.path,
        summary: item.summary,
        ...(item.open === true ? { open: true } : {}),
        handle: (req, svc) =>
          svc === null && item.open !== true
            ? STARTING
            : item.handle(req, { service: svc as Service, logger: opts.logger, sessions: this.sessions, console: this.consoleCtx }),
      });
    }
    this.routes = all.map(compile);
    this.endpoints = all.map((r) => `${r.method} ${displayPath(r.path)}`);
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = (req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET')) as AdminMethod;
    let pathMatched: Compiled[] = [];
    let hit: { c: Compiled; m: RegExpExecArray } | undefined;
    for (const c of this.routes) {
      const m = c.re.exec(url.pathname);
      if (m === null) continue;
      if (c.route.method === method) {
        hit = { c, m };
        break;
      }
      pathMatched = [...pathMatched, c];
    }
    // a browser on another site never gets to change anything (the console's forms and API calls carry the Origin)
    if (method !== 'GET' && crossSite(req)) {
      this.crossSiteRefused++;
      send(req, res, { status: 403, json: { error: 'cross-site request refused: the admin API takes requests from its own origin only' } });
      return;
    }
    if (hit !== undefined && hit.c.route.open) {
      if (!this.rateOnly.check(req, res)) return;
    } else if (this.sessions.tokenRequired && req.headers.authorization === undefined && this.sessions.valid(req.headers)) {
      // the console's session cookie stands for the token
      if (!this.rateOnly.check(req, res)) return;
    } else {
      if (this.sessions.tokenRequired && req.headers.authorization === undefined && method === 'GET' && wantsHtml(req) && this.consoleCtx.enabled) {
        send(req, res, { status: 303, headers: { Location: '/console/login' }, text: 'see /console/login\n' });
        return;
      }
      if (!this.guard.check(req, res)) return;
    }
    if (hit === undefined) {
      if (url.pathname === '/' && method === 'GET' && wantsHtml(req) && this.consoleCtx.enabled) {
        send(req, res, { status: 302, headers: { Location: '/console/' }, text: 'see /console/\n' });
        return;
      }
      if (url.pathname === '/' && method === 'GET') {
        send(req, res, { text: `metricport admin: ${this.endpoints.join(', ')}\n` });
        return;
      }
      if (pathMatched.length > 0) {
        const allow = [...new Set(pathMatched.map((c) => c.route.method))].join(', ');
        send(req, res, {
          status: 405,
          headers: { Allow: allow },
          json: { error: `method ${req.method ?? ''} not allowed on ${url.pathname}; use ${allow}`, endpoints: this.endpoints },
        });
        return;
      }
      send(req, res, { status: 404, json: { error: 'not found', endpoints: this.endpoints } });
      return;
    }
    const { c, m } = hit;
    const params: Record<string, string> = {};
    try {
      c.names.forEach((n, i) => {
        params[n] = decodeURIComponent(m[i + 1]!);
      });
    } catch {
      send(req, res, { status: 400, json: { error: `malformed percent-encoding in ${url.pathname}` } });
      return;
    }
    const areq: AdminRequest = { method, path: url.pathname, params, query: url.searchParams, headers: req.headers, body: () => readBody(req) };
    let reply: AdminReply | Promise<AdminReply>;
    try {
      reply = c.route.handle(areq, this.opts.service(), this.opts);
    } catch (e) {
      reply = Promise.reject(e);
    }
    void Promise.resolve(reply).then(
      (r) => send(req, res, r),
      (e: unknown) => {
        if ((e as { status?: unknown }).status === 413) {
          send(req, res, { status: 413, json: { error: (e as Error).message } });
          return;
        }
        this.opts.logger.warn({ route: `${c.route.method} ${c.route.path}`, err: (e as Error).message }, 'admin route failed');
        send(req, res, { status: 500, json: { error: (e as Error).message } });
      },
    );
  }

  async start(): Promise<void> {
    const ep = parseEndpoint(this.opts.endpoint);
    if (!ep) throw new Error(`invalid admin endpoint "${this.opts.endpoint}": expected host:port`);
    const listener = (req: IncomingMessage, res: ServerResponse) => this.dispatch(req, res);
    await new Promise<void>((resolve, reject) => {
      let server: Server;
      try {
        server =
          this.opts.tls === undefined
            ? createServer(listener)
            : (createTlsServer({ ...loadTlsOptions(this.opts.tls, 'admin'), keepAlive: true }, listener) as unknown as Server);
      } catch (e) {
        reject(e);
        return;
      }
      server.listen(ep.port, ep.host === '' ? undefined : ep.host);
      server.once('listening', () => {
        this.server = server;
        resolve();
      });
      server.once('error', (e: NodeJS.ErrnoException) => {
        reject(
          new Error(
            e.code === 'EADDRINUSE'
              ? `cannot listen on ${this.opts.endpoint} for the admin server: address already in use; set --admin-endpoint or METRICPORT_ADMIN_ENDPOINT to a free host:port`
              : `cannot listen on ${this.opts.endpoint} for the admin server: ${e.message}`,
          ),
        );
      });
    });
    this.server!.keepAliveTimeout = 5000;
  }

  address(): AddressInfo | undefined {
    return this.server?.address() as AddressInfo | undefined;
  }

  async shutdown(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}

/** A browser asking for a page (not an API client). */
function wantsHtml(req: IncomingMessage): boolean {
  return (req.headers.accept ?? '').includes('text/html');
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY) {
        req.removeAllListeners('data');
        req.resume();
        reject(Object.assign(new Error(`request body larger than ${MAX_BODY} bytes`), { status: 413 }));
        return;
      }
      chunks.push(c);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function send(req: IncomingMessage, res: ServerResponse, r: AdminReply): void {
  if (res.headersSent) return;
  let body: Buffer;
  let type: string;
  if (r.text !== undefined) {
    body = typeof r.text === 'string' ? Buffer.from(r.text) : r.text;
    type = r.contentType ?? 'text/plain; charset=utf-8';
  } else {
    body = Buffer.from(r.json === undefined ? '' : JSON.stringify(r.json));
    type = r.contentType ?? 'application/json; charset=utf-8';
  }
  res.writeHead(r.status ?? 200, { ...r.headers, 'Content-Type': type, 'Content-Length': String(body.length) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * A pull store's URL holds its secret token: it is handed out by
 * GET /api/v1/stores (and `metricport stores`) only; the general status shows
 * it with the path replaced.
 */
export function redactStoreUrls(status: Record<string, unknown>): Record<string, unknown> {
  const exporters = status.exporters;
  if (!Array.isArray(exporters)) return status;
  return {
    ...status,
    exporters: exporters.map((e: Record<string, unknown>) => {
      const store = e.store as { url?: string | null } | undefined;
      if (store === undefined || typeof store.url !== 'string') return e;
      let url = '[REDACTED]';
      try {
        const u = new URL(store.url);
        url = `${u.protocol}//${u.host}/[REDACTED]`;
      } catch {
        /* keep the placeholder */
      }
      return { ...e, store: { ...store, url } };
    }),
  };
}
