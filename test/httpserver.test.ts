import { expect } from 'chai';
import { acquireServer, sharedEndpoints } from '../src/httpserver.js';
import { silentLogger } from '../src/logger.js';
import { request } from './receivers/otlp/helpers.js';

const log = silentLogger();

describe('shared HTTP server', () => {
  it('404 for unknown paths, 405 + Allow for other methods, routes of two leases on one port', async () => {
    const a = acquireServer('127.0.0.1:0', log, { owner: 'a' });
    a.route('POST', '/v1/metrics', (_req, res) => {
      res.writeHead(200);
      res.end('metrics');
    });
    await a.listen();
    const port = a.address()!.port;
    expect(sharedEndpoints()).to.include(`127.0.0.1:${port}`);
    const b = acquireServer(`127.0.0.1:${port}`, log, { owner: 'b' });
    b.route('POST', '/v1/errors', (_req, res) => {
      res.writeHead(200);
      res.end('errors');
    });
    await b.listen();
    try {
      expect((await request(port, 'POST', '/v1/metrics?x=1', 'x')).body.toString()).to.equal('metrics');
      expect((await request(port, 'POST', '/v1/errors', 'x')).body.toString()).to.equal('errors');
      const nf = await request(port, 'POST', '/nope', 'x');
      expect(nf.status).to.equal(404);
      const na = await request(port, 'GET', '/v1/errors', undefined);
      expect(na.status).to.equal(405);
      expect(na.headers.allow).to.equal('POST');
      expect(() => b.route('POST', '/v1/metrics', () => undefined)).to.throw(/already served by a/);
    } finally {
      await a.release(AbortSignal.timeout(5_000));
      expect((await request(port, 'POST', '/v1/metrics', 'x')).status).to.equal(404);
      await b.release(AbortSignal.timeout(5_000));
      await b.release(AbortSignal.timeout(5_000));
    }
    expect(sharedEndpoints()).to.not.include(`127.0.0.1:${port}`);
  });

  it('endpoints with port 0 are not shared', async () => {
    const a = acquireServer('127.0.0.1:0', log);
    const b = acquireServer('127.0.0.1:0', log);
    await a.listen();
    await b.listen();
    try {
      expect(a.address()!.port).to.not.equal(b.address()!.port);
    } finally {
      await a.release(AbortSignal.timeout(5_000));
      await b.release(AbortSignal.timeout(5_000));
    }
  });

  it('release destroys requests still running at the deadline', async () => {
    const a = acquireServer('127.0.0.1:0', log);
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => {
      entered = resolve;
    });
    a.route('POST', '/hang', () => {
      entered(); /* never answers */
    });
    await a.listen();
    const port = a.address()!.port;
    const pending = request(port, 'POST', '/hang', 'x').then(
      () => 'answered',
      (err: Error) => `failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
    );
    await inHandler;
    const ac = new AbortController();
    const closing = a.release(ac.signal);
    ac.abort();
    await closing;
    expect(await pending).to.equal('failed: ECONNRESET');
  });

  it('release before listen and a failed listen are safe', async () => {
    const a = acquireServer('127.0.0.1:0', log);
    await a.release(AbortSignal.timeout(1_000));
    const bad = acquireServer('256.0.0.1:1', log, { configKey: 'receivers.x.endpoint' });
    let err: Error | undefined;
    try {
      await bad.listen();
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).to.match(/^cannot listen on 256\.0\.0\.1:1: /);
    await bad.release(AbortSignal.timeout(1_000));
    expect(sharedEndpoints()).to.not.include('256.0.0.1:1');
  });
});
