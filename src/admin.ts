/**
 * The admin server (default 127.0.0.1:8888): GET /healthz, GET /metrics (the
 * service's own telemetry in the Prometheus text format), GET /api/v1/status,
 * GET /api/v1/stores (every metric store, push and pull, with the URL to hand
 * to the third party for pull stores; never credentials), GET /api/v1/metricsets
 * and GET /api/v1/metricsets/<set>/preview (metric set definitions and the
 * open windows' current values), POST /api/v1/importers/<name>/test (an
 * importer's test query: nothing sent, no watermark moves).
 * Bound in start(), never in the constructor.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { loadTlsOptions, RequestGuard, type TlsConfig } from './config/security.js';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { parseEndpoint } from './config/schema.js';
import type { Logger } from './logger.js';
import { storesFromStatus } from './pullstore/stores.js';
import { listMetricSets, previewMetricSet } from '../processors/metricsets/admin.js';
import { testImporter } from '../receivers/importer/admin.js';
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
}

export class AdminServer {
  private server?: Server;
  private readonly app = express();
  readonly guard: RequestGuard;

  constructor(private readonly opts: AdminOptions) {
    const app = this.app;
    app.disable('x-powered-by');
    app.disable('etag');
    app.get('/healthz', (_req, res) => {
      const svc = opts.service();
      if (svc === null) {
        res.status(503).json({ status: 'starting' });
        return;
      }
      const h = svc.health();
      res.status(h.healthy ? 200 : 503).json({ status: h.healthy ? 'ok' : 'unhealthy', components: h.components });
    });
    // GET /healthz stays open for probes; everything else needs the token when one is set
    const guard = new RequestGuard(opts.token !== undefined && opts.token !== '' ? { tokens: [opts.token] } : undefined, { requests_per_second: 200, burst: 400 }, 'metricport-admin');
    this.guard = guard;
    app.use((req, res, next) => { if (guard.check(req, res)) next(); });
    app.get('/metrics', (req, res) => opts.telemetry.handle(req, res));
    app.get('/api/v1/status', (_req, res) => {
      const svc = opts.service();
      res.json({ ...opts.info(), ...(svc ? redactStoreUrls(svc.status()) : { state: 'starting' }) });
    });
    app.get('/api/v1/stores', (_req, res) => {
      const svc = opts.service();
      if (svc === null) {
        res.status(503).json({ state: 'starting', stores: [] });
        return;
      }
      res.json({ stores: storesFromStatus(svc.status()) });
    });
    app.get('/api/v1/metricsets', (_req, res) => {
      const svc = opts.service();
      if (svc === null) { res.status(503).json({ state: 'starting', metricsets: [] }); return; }
      res.json(listMetricSets(svc));
    });
    app.get('/api/v1/metricsets/:set/preview', (req, res) => {
      const svc = opts.service();
      if (svc === null) { res.status(503).json({ state: 'starting' }); return; }
      const p = previewMetricSet(svc, req.params.set);
      if (p === undefined) { res.status(404).json({ error: `no metric set named ${JSON.stringify(req.params.set)}; GET /api/v1/metricsets lists them` }); return; }
      res.json(p);
    });
    app.post('/api/v1/importers/:name/test', (req, res) => {
      const svc = opts.service();
      if (svc === null) { res.status(503).json({ state: 'starting' }); return; }
      const q = req.query as Record<string, unknown>;
      void testImporter(svc, req.params.name, { receiver: typeof q.receiver === 'string' ? q.receiver : undefined, since: typeof q.since === 'string' ? q.since : undefined })
        .then((r) => res.status(r.status).json(r.body), (e: unknown) => res.status(500).json({ error: (e as Error).message }));
    });
    app.post('/api/v1/reload', (_req, res) => {
      const reload = opts.reload;
      if (reload === undefined || opts.service() === null) { res.status(503).json({ state: 'starting' }); return; }
      void reload().then(
        (r) => { if (r.ok) res.json({ status: 'reloaded', ...r.summary, warnings: r.warnings.map((w) => ({ path: w.path, message: w.message })) }); else res.status(r.status).json({ status: 'rejected', error: r.error, errors: r.errors }); },
        (e: unknown) => res.status(500).json({ status: 'failed', error: (e as Error).message }),
      );
    });
    app.get('/', (_req, res) => {
      res.type('text/plain').send('metricport admin: GET /healthz, GET /metrics, GET /api/v1/status, GET /api/v1/stores, GET /api/v1/metricsets, GET /api/v1/metricsets/<set>/preview, POST /api/v1/importers/<name>/test, POST /api/v1/reload\n');
    });
    app.use((_req, res) => {
      res.status(404).json({ error: 'not found', endpoints: ['GET /healthz', 'GET /metrics', 'GET /api/v1/status', 'GET /api/v1/stores', 'GET /api/v1/metricsets', 'GET /api/v1/metricsets/<set>/preview', 'POST /api/v1/importers/<name>/test', 'POST /api/v1/reload'] });
    });
  }

  async start(): Promise<void> {
    const ep = parseEndpoint(this.opts.endpoint);
    if (!ep) throw new Error(`invalid admin endpoint "${this.opts.endpoint}": expected host:port`);
    await new Promise<void>((resolve, reject) => {
      let server: Server;
      try {
        server = this.opts.tls === undefined ? createServer(this.app) : createHttpsServer({ ...loadTlsOptions(this.opts.tls, 'admin'), keepAlive: true }, this.app) as unknown as Server;
      } catch (e) {
        reject(e);
        return;
      }
      server.listen(ep.port, ep.host === '' ? undefined : ep.host);
      server.once('listening', () => { this.server = server; resolve(); });
      server.once('error', (e: NodeJS.ErrnoException) => {
        reject(new Error(e.code === 'EADDRINUSE'
          ? `cannot listen on ${this.opts.endpoint} for the admin server: address already in use; set --admin-endpoint or METRICPORT_ADMIN_ENDPOINT to a free host:port`
          : `cannot listen on ${this.opts.endpoint} for the admin server: ${e.message}`));
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
      try { const u = new URL(store.url); url = `${u.protocol}//${u.host}/[REDACTED]`; } catch { /* keep the placeholder */ }
      return { ...e, store: { ...store, url } };
    }),
  };
}
