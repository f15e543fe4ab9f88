/**
 * The streamed scrape (issue 19): the exposition leaves in chunks pulled as
 * the socket drains, ingest may run between two chunks, and no scrape shows
 * a series twice or a family header twice.
 */
import { expect } from 'chai';
import { request, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { createNoopMeter } from '@opentelemetry/api';
import { CumulativeStore } from '../../src/pullstore/cumulative.js';
import { PullServer } from '../../src/pullstore/server.js';
import { silentLogger } from '../../src/logger.js';
import { prometheusResponse, renderBytes, renderChunks } from '../../exporters/prometheus/exposition.js';
import { PromKeyer } from '../../exporters/prometheus/labels.js';
import { batch, duplicates, num, parseSamples, sum, gauge, SEC, T0 } from '../exporters/prometheus/util.js';
import { waitFor } from '../harness/ports.js';

const keyer = new PromKeyer();

function fill(store: CumulativeStore, from: number, to: number, name = 'req'): void {
  const pts = [];
  for (let i = from; i < to; i++) pts.push(num(BigInt(i + 1), { series: `s${i}` }, T0, T0 + SEC));
  store.ingest(batch([sum(name, pts)]), keyer);
}

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, method }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A pull server on a free loopback port at /tok/metrics answering with `respond`. */
function pullServer(respond: ConstructorParameters<typeof PullServer>[0]['respond']): PullServer {
  return new PullServer({
    endpoint: '127.0.0.1:0',
    configKey: 'exporters.prometheus.endpoint',
    owner: 'prometheus',
    logger: silentLogger(),
    meter: createNoopMeter(),
    path: '/tok/metrics',
    respond,
  });
}

describe('pull store: streamed exposition', () => {
  it('ingest between chunks: no series or family twice, new ones wait for the next scrape, values as of their chunk', () => {
    const store = new CumulativeStore({ expiryMs: 0 });
    fill(store, 0, 20_000);
    const it = renderChunks(store, 'text');
    const first = it.next();
    expect(first.done).to.equal(false);
    const parts: Buffer[] = [first.value as Buffer];
    // between two chunks: s0 (already rendered) ends and comes back, new series and a new family appear
    store.ingest(batch([sum('req', [{ ...num(1n, { series: 's0' }), flags: 1 }])]), keyer);
    fill(store, 0, 1);
    fill(store, 20_000, 20_100);
    store.ingest(batch([gauge('late_family', [num(5, { a: 'b' })])]), keyer);
    for (let n = it.next(); n.done !== true; n = it.next()) parts.push(n.value);
    const samples = parseSamples(Buffer.concat(parts).toString('utf8'));
    expect(duplicates(samples)).to.deep.equal([]);
    const text = Buffer.concat(parts).toString('utf8');
    expect(text.match(/^# TYPE req_total counter$/gm)).to.have.length(1);
    expect(text).not.to.include('late_family');
    // s0 went out in the first chunk (once); s20000.. are not in this scrape yet
    expect(samples.filter((s) => s.name === 'req_total')).to.have.length(20_000);
    expect(samples.filter((s) => s.labels.series === 's0')).to.have.length(1);
    expect(samples.some((s) => s.labels.series === 's20000')).to.equal(false);
    const next = parseSamples(renderBytes(store, 'text').toString('utf8'));
    expect(next.filter((s) => s.name === 'req_total')).to.have.length(20_100);
    expect(next.find((s) => s.name === 'late_family')?.value).to.equal('5');
  });

  it('a large scrape waits for the socket to drain many times without adding listeners to the response each time', async () => {
    const store = new CumulativeStore({ expiryMs: 0 });
    fill(store, 0, 60_000);
    const server = pullServer((req) => prometheusResponse(store, req.headers.accept));
    const warnings: string[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(`${w.name}: ${w.message}`);
    };
    process.on('warning', onWarning);
    await server.start();
    try {
      const port = server.address()!.port;
      // a slow reader: the server fills the socket and waits for 'drain' again and again
      const got = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/tok/metrics' }, (res) => {
          let n = 0;
          res.on('readable', () => {
            let c: Buffer | null;
            while ((c = res.read(16 * 1024) as Buffer | null) !== null) n += c.length;
          });
          res.on('end', () => resolve(n));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
      expect(got).to.equal(renderBytes(store, 'text').length);
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => /MaxListeners/.test(w))).to.deep.equal([]);
    } finally {
      process.off('warning', onWarning);
      await server.close(AbortSignal.timeout(1000));
    }
  });

  it('a client that stops reading stops the render: at most ~1 MiB is queued beyond the socket, the rest arrives when it reads again', async () => {
    const CHUNK = Buffer.alloc(64 * 1024, 0x61);
    const TOTAL = 4096; // 256 MiB if nothing held the render back
    let pulled = 0;
    const server = pullServer(() => ({
      contentType: 'text/plain',
      body: {
        *[Symbol.iterator]() {
          for (let i = 0; i < TOTAL; i++) {
            pulled++;
            yield CHUNK;
          }
        },
      },
    }));
    await server.start();
    try {
      const port = server.address()!.port;
      let res: IncomingMessage | undefined;
      await new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/tok/metrics' }, (r) => {
          res = r;
          r.pause();
          resolve();
        });
        req.on('error', reject);
        req.end();
      });
      // the render stops once the socket buffers and the 1 MiB allowance are full
      let last = -1;
      await waitFor(
        async () => {
          const now = pulled;
          const still = now === last;
          last = now;
          await new Promise((r) => setTimeout(r, 200));
          return still && pulled === now;
        },
        { timeoutMs: 20_000, what: 'the render to stop while the client does not read' },
      );
      expect(pulled * CHUNK.length, `${pulled} chunks pulled`).to.be.below(64 * 2 ** 20);
      expect(pulled).to.be.below(TOTAL);
      let got = 0;
      await new Promise<void>((resolve, reject) => {
        res!.on('data', (c: Buffer) => (got += c.length));
        res!.on('end', () => resolve());
        res!.on('error', reject);
        res!.resume();
      });
      expect(got).to.equal(TOTAL * CHUNK.length);
      expect(pulled).to.equal(TOTAL);
    } finally {
      await server.close(AbortSignal.timeout(1000));
    }
  });

  it('a scrape is chunked (no Content-Length), gzip when asked, identical to the whole render; HEAD renders nothing', async () => {
    const store = new CumulativeStore({ expiryMs: 0 });
    fill(store, 0, 30_000);
    let responses = 0;
    const server = pullServer((req) => {
      responses++;
      return prometheusResponse(store, req.headers.accept);
    });
    await server.start();
    try {
      const port = server.address()!.port;
      const whole = renderBytes(store, 'text');
      expect(whole.length).to.be.greaterThan(1 << 20);
      const plain = await get(port, '/tok/metrics');
      expect(plain.status).to.equal(200);
      expect(plain.headers['content-length']).to.equal(undefined);
      expect(plain.headers['transfer-encoding']).to.equal('chunked');
      expect(plain.body.equals(whole)).to.equal(true);
      const gz = await get(port, '/tok/metrics', { 'accept-encoding': 'gzip', accept: 'application/openmetrics-text; version=1.0.0' });
      expect(gz.headers['content-encoding']).to.equal('gzip');
      expect(gz.headers['content-type']).to.match(/^application\/openmetrics-text/);
      expect(gunzipSync(gz.body).equals(renderBytes(store, 'openmetrics'))).to.equal(true);
      const head = await get(port, '/tok/metrics', {}, 'HEAD');
      expect(head.status).to.equal(200);
      expect(head.body.length).to.equal(0);
      expect(responses).to.equal(3);
      expect(server.stats.served).to.equal(3);
      expect(server.stats.errors).to.equal(0);
    } finally {
      await server.close(AbortSignal.timeout(1000));
    }
  });
});
