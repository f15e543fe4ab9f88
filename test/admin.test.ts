/**
 * The admin server's router: its own routes and the routes factories and
 * extensions contribute (src/extension.ts), listed in the index and the 404
 * body, with params, query, body, 503 while starting, 405 and the token.
 */
import { expect } from 'chai';
import { AdminServer, adminEndpoints } from '../src/admin.js';
import type { AdminRoute } from '../src/extension.js';
import { silentLogger } from '../src/logger.js';
import { contributedRoutes } from '../src/registry.js';
import type { Service } from '../src/service.js';
import { ServiceTelemetry } from '../src/telemetry.js';

const echo: AdminRoute = {
  method: 'POST',
  path: '/api/v1/echo/:name',
  summary: 'echo the name, the query and the body',
  handle: async (req, ctx) => ({
    status: 201,
    json: { name: req.params.name, q: req.query.get('q'), body: (await req.body()).toString(), up: ctx.service !== null },
  }),
};
const boom: AdminRoute = {
  method: 'GET',
  path: '/api/v1/boom',
  summary: 'throws',
  handle: () => {
    throw new Error('it broke');
  },
};

describe('admin server: own and contributed routes', () => {
  let admin: AdminServer;
  let svc: Service | null = null;
  let base: string;
  const fakeService = { health: () => ({ healthy: true, components: [] }), status: () => ({}) } as unknown as Service;

  before(async () => {
    admin = new AdminServer({
      endpoint: '127.0.0.1:0',
      logger: silentLogger(),
      telemetry: new ServiceTelemetry(),
      service: () => svc,
      token: 'admin-secret-token',
      info: () => ({}),
      routes: [
        { item: echo, from: 'test' },
        { item: boom, from: 'test' },
      ],
    });
    await admin.start();
    base = `http://127.0.0.1:${admin.address()!.port}`;
  });
  after(() => admin.shutdown());
  const auth = { authorization: 'Bearer admin-secret-token' };

  it('a contributed route answers 503 starting until the service runs, then gets params, query and body', async () => {
    svc = null;
    const a = await fetch(`${base}/api/v1/echo/x`, { method: 'POST', headers: auth, body: 'hi' });
    expect(a.status).to.equal(503);
    expect(await a.json()).to.deep.equal({ state: 'starting' });
    svc = fakeService;
    const b = await fetch(`${base}/api/v1/echo/a%2Fb?q=1`, { method: 'POST', headers: auth, body: 'hello' });
    expect(b.status).to.equal(201);
    expect(b.headers.get('content-type')).to.equal('application/json; charset=utf-8');
    expect(await b.json()).to.deep.equal({ name: 'a/b', q: '1', body: 'hello', up: true });
  });

  it('contributed routes need the admin token like the own ones; /healthz does not', async () => {
    svc = fakeService;
    expect((await fetch(`${base}/api/v1/echo/x`, { method: 'POST' })).status).to.equal(401);
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
  });

  it('the index and the 404 body list every route, contributed ones included', async () => {
    const index = await (await fetch(`${base}/`, { headers: auth })).text();
    expect(index).to.contain('GET /healthz').and.to.contain('POST /api/v1/reload').and.to.contain('POST /api/v1/echo/<name>');
    const nf = await fetch(`${base}/api/v1/nope`, { headers: auth });
    expect(nf.status).to.equal(404);
    const body = (await nf.json()) as { endpoints: string[] };
    expect(body.endpoints).to.include.members([
      'GET /healthz',
      'GET /metrics',
      'GET /api/v1/status',
      'GET /api/v1/stores',
      'POST /api/v1/echo/<name>',
      'GET /api/v1/boom',
    ]);
  });

  it('a known path with the wrong method is 405 with Allow', async () => {
    const r = await fetch(`${base}/api/v1/echo/x`, { headers: auth });
    expect(r.status).to.equal(405);
    expect(r.headers.get('allow')).to.equal('POST');
  });

  it('a handler that throws is a 500 with its message; the server keeps serving', async () => {
    svc = fakeService;
    const r = await fetch(`${base}/api/v1/boom`, { headers: auth });
    expect(r.status).to.equal(500);
    expect(await r.json()).to.deep.equal({ error: 'it broke' });
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
  });

  it('HEAD on a GET route answers the headers without a body', async () => {
    svc = fakeService;
    const r = await fetch(`${base}/healthz`, { method: 'HEAD' });
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-length')).to.not.equal('0');
    expect(await r.text()).to.equal('');
  });

  it('a route taken twice is refused at construction, naming who contributed it', () => {
    expect(
      () =>
        new AdminServer({
          endpoint: '127.0.0.1:0',
          logger: silentLogger(),
          telemetry: new ServiceTelemetry(),
          service: () => null,
          info: () => ({}),
          routes: [{ item: { ...echo, path: '/api/v1/status', method: 'GET' }, from: 'extension x' }],
        }),
    ).to.throw(/GET \/api\/v1\/status \(from extension x\) is already taken/);
  });

  it("the registry's contributions are listed: metric sets and the importer test", () => {
    const all = adminEndpoints(contributedRoutes()).map((e) => e.endpoint);
    expect(all).to.include.members(['GET /api/v1/metricsets', 'GET /api/v1/metricsets/<set>/preview', 'POST /api/v1/importers/<name>/test']);
  });
});
