/**
 * circonus mode pull (JSON:Pull): the body as data (parsed back), then the
 * store in process with a test acting as the Circonus broker (a raw HTTP
 * client sending Basic auth and X-Reconnoiter-Period, checking the status
 * line, every header and the body byte for byte), 401/404 counted, and the
 * URL and credentials surviving a restart. The built service end to end
 * (OTLP in, /api/v1/stores, /metrics) is in test/e2e/circonus-pull.test.ts.
 */
import { expect } from 'chai';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { circonusConfigSchema, circonusExporterFactory } from '../../../exporters/circonus/factory.js';
import { CirconusKeyer, parsePeriodHeader, renderJsonPull } from '../../../exporters/circonus/pull-encode.js';
import { CumulativeStore } from '../../../src/pullstore/cumulative.js';
import { validateSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/logger.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { freePort } from '../../harness/ports.js';
import { SEC, T0, batch, exph, gauge, hist, num, sum, summary } from '../prometheus/util.js';

// the registry is lazy: the implementation is imported on first use
await circonusExporterFactory.load();

const b64 = (s: string) => `b"${Buffer.from(s).toString('base64')}"`;

describe('circonus pull: JSON:Pull body (protocols.md §6)', () => {
  const keyer = () => new CirconusKeyer(['service.name']);

  it('a delta counter accumulated over 200 pushes is an exact L running total; a gauge is n; integer gauges l', () => {
    const store = new CumulativeStore({ expiryMs: 0 });
    const k = keyer();
    let want = 0n;
    for (let i = 1; i <= 200; i++) {
      const v = BigInt(i) * 100_000_000_000_007n; // beyond 2^53 in total: exact as a bigint string
      want += v;
      store.ingest(batch([sum('requests', [num(v, { route: '/checkout' }, T0 + BigInt(i) * SEC, T0 + BigInt(i + 1) * SEC)])]), k);
    }
    store.ingest(batch([gauge('temperature', [num(21.5, { room: 'Kitchen 1' })]), gauge('queue.depth', [num(7n)])]), k);
    const out = renderJsonPull(store);
    expect(want).to.equal(2_010_000_000_000_140_700n);
    expect(out.body).to.equal(
      `{"requests|ST[route:/checkout,service.name:shop]":{"_type":"L","_value":"2010000000000140700"},` +
        `"temperature|ST[room:${b64('Kitchen 1').replaceAll('"', '\\"')},service.name:shop]":{"_type":"n","_value":21.5},` +
        `"queue.depth|ST[service.name:shop]":{"_type":"l","_value":"7"}}`,
    );
    expect(out.metrics).to.equal(3);
    const parsed = JSON.parse(out.body) as Record<string, { _type: string; _value: unknown }>;
    expect(parsed[`temperature|ST[room:${b64('Kitchen 1')},service.name:shop]`]).to.deep.equal({ _type: 'n', _value: 21.5 });
  });

  it('a delta histogram accumulates bucket by bucket and is rebinned into Circonus bins as a cumulative H', () => {
    const store = new CumulativeStore({ expiryMs: 0 });
    const k = keyer();
    for (let i = 0; i < 3; i++) store.ingest(batch([hist('latency', [0.1, 1, 10], [1, 2, 3, 4], { time: T0 + BigInt(i + 1) * SEC })], {}), k);
    expect(renderJsonPull(store).body).to.equal('{"latency":{"_type":"H","_value":["H[0.10]=3","H[0.55]=6","H[5.5]=9","H[10]=12"]}}');
  });

  it('exponential histograms through fixed buckets; summaries as count/sum/quantile_q; cumulative counter reset', () => {
    const store = new CumulativeStore({ expiryMs: 0 });
    const k = keyer();
    // scale 0: buckets (1,2], (2,4], (4,8] with 1, 2, 3; min 1.5, max 7
    store.ingest(batch([exph('size', { count: 6, sum: 30, positive: { offset: 0, bucketCounts: [1, 2, 3] }, min: 1.5, max: 7 })], {}), k);
    store.ingest(
      batch(
        [
          summary('rt', {
            count: 10,
            sum: 2.5,
            quantileValues: [
              { quantile: 0.5, value: 0.2 },
              { quantile: 0.99, value: 0.9 },
            ],
          }),
        ],
        {},
      ),
      k,
    );
    store.ingest(batch([sum('bytes', [num(500n, {}, T0, T0 + SEC)], { delta: false })], {}), k);
    store.ingest(batch([sum('bytes', [num(20n, {}, T0 + 5n * SEC, T0 + 6n * SEC)], { delta: false })], {}), k);
    expect(renderJsonPull(store).body).to.equal(
      '{"size":{"_type":"H","_value":["H[1.5]=1","H[3.0]=2","H[6.0]=3"]},' +
        '"rt`count":{"_type":"L","_value":"10"},"rt`sum":{"_type":"n","_value":2.5},"rt`quantile_0.5":{"_type":"n","_value":0.2},"rt`quantile_0.99":{"_type":"n","_value":0.9},' +
        '"bytes":{"_type":"L","_value":"20"}}',
    );
    expect(store.counters.resets).to.equal(1);
  });

  it('X-Reconnoiter-Period: positive integer milliseconds, else ignored', () => {
    expect([
      parsePeriodHeader('60000'),
      parsePeriodHeader(' 5000 '),
      parsePeriodHeader(['1000']),
      parsePeriodHeader('0'),
      parsePeriodHeader('6e4'),
      parsePeriodHeader(undefined),
    ]).to.deep.equal([60000, 5000, 1000, undefined, undefined, undefined]);
  });
});

interface Raw {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** The broker's side: one GET with the headers a reconnoiter JSON check sends. */
function brokerGet(url: string, headers: Record<string, string>): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const h: Record<string, string> = {};
        for (let i = 0; i < res.rawHeaders.length; i += 2) h[(res.rawHeaders[i] as string).toLowerCase()] = res.rawHeaders[i + 1] as string;
        resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('circonus pull: a test broker fetches with Basic auth; credentials survive a restart', function () {
  this.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), 'mp-circonus-pull-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');

  it('200 application/json byte for byte, 401 wrong password, 404 wrong path (counted), period from X-Reconnoiter-Period, same URL after a restart', async () => {
    const port = await freePort();
    const { value: cfg, issues } = validateSchema(circonusConfigSchema, { mode: 'pull', endpoint: `127.0.0.1:${port}` }, 'circonus');
    expect(issues).to.deep.equal([]);
    const telemetry = new ServiceTelemetry();
    const host = { logger: silentLogger(), telemetry, stateDir: dir };
    const lines: Array<{ obj: unknown; msg: string }> = [];
    const logger = {
      ...silentLogger(),
      info: (obj: unknown, msg: string) => {
        lines.push({ obj, msg });
      },
    } as unknown as ReturnType<typeof silentLogger>;
    const set = { id: 'circonus/pull', logger, telemetry, stateDir: join(dir, 'exporter', 'circonus_pull') };
    const run = async () => {
      const e = circonusExporterFactory.create(set, cfg as never, 'metrics');
      await e.start(host);
      return e;
    };
    const a = await run();
    const file = join(set.stateDir, 'credentials.json');
    const stored = readFileSync(file, 'utf8');
    expect(statSync(file).mode & 0o777).to.equal(0o600);
    const { token, username, password } = JSON.parse(stored) as { token: string; username: string; password: string };
    expect(token).to.match(/^[0-9a-f]{32}$/);
    expect(username).to.match(/^mp-[0-9a-f]{12}$/);
    expect(password).to.match(/^[A-Za-z0-9_-]{24}$/);
    const url = `http://127.0.0.1:${port}/${token}`;
    // the first-start log line: URL and username, never the password
    expect(lines).to.have.length(1);
    expect(JSON.stringify(lines)).to.contain(url).and.contain(username).and.not.contain(password);
    expect((a.status!() as { store: unknown }).store).to.deep.equal({
      adapter: 'circonus',
      mode: 'pull',
      period: null,
      last_scrape: null,
      last_error: null,
      target: `127.0.0.1:${port}`,
      url,
      basic_auth: true,
    });

    await a.consume(batch([sum('requests', [num(5n, { route: '/a' })])]));
    await a.consume(batch([sum('requests', [num(7n, { route: '/a' }, T0 + SEC, T0 + 2n * SEC)])]));
    const want = '{"requests|ST[route:/a,service.name:shop]":{"_type":"L","_value":"12"}}';
    const auth = { authorization: basic(username, password), 'x-reconnoiter-period': '600000', accept: 'application/json', host: `127.0.0.1:${port}` };
    const r = await brokerGet(url, auth);
    expect(r.status).to.equal(200);
    expect(r.body.toString('utf8')).to.equal(want);
    delete r.headers.date;
    expect(r.headers).to.deep.equal({
      'content-type': 'application/json',
      vary: 'Accept, Accept-Encoding',
      'cache-control': 'no-store',
      'content-length': String(Buffer.byteLength(want)),
      connection: 'close',
    });
    const gz = await brokerGet(url, { ...auth, 'accept-encoding': 'gzip, deflate' });
    expect(gz.headers['content-encoding']).to.equal('gzip');
    expect(gunzipSync(gz.body).toString('utf8')).to.equal(want);

    const wrongPass = await brokerGet(url, { ...auth, authorization: basic(username, 'not-it') });
    expect(wrongPass.status).to.equal(401);
    expect(wrongPass.headers['www-authenticate']).to.match(/^Basic realm="metricport"/);
    expect(wrongPass.body.toString()).to.equal('401 unauthorized\n');
    expect((await brokerGet(url, { 'x-reconnoiter-period': '600000' })).status).to.equal(401);
    for (const p of [`/${'0'.repeat(32)}`, `/${token}/metrics`, '/']) {
      const nf = await brokerGet(`http://127.0.0.1:${port}${p}`, auth);
      expect(nf.status).to.equal(404);
      expect(nf.body.toString()).to.equal('404 page not found\n');
      expect(nf.headers['www-authenticate']).to.equal(undefined);
    }
    const st = a.status!() as {
      store: { period: number; last_scrape: string };
      scrapes: number;
      not_found: number;
      unauthorized: number;
      series_expiry_ms: number;
      last_scrape_metrics: number;
    };
    expect(st).to.include({ scrapes: 2, not_found: 3, unauthorized: 2, last_scrape_metrics: 1 });
    // the broker's 10-minute period: reported, and series live 3 periods (30 m > the 15 m series_expiry)
    expect(st.store.period).to.equal(600);
    expect(st.series_expiry_ms).to.equal(1_800_000);
    expect(Date.parse(st.store.last_scrape)).to.be.within(Date.now() - 10_000, Date.now());

    await a.shutdown(AbortSignal.timeout(5000));
    await a.shutdown(AbortSignal.timeout(5000)); // safe twice
    lines.length = 0;
    const b = await run();
    try {
      expect(readFileSync(file, 'utf8')).to.equal(stored);
      // nothing generated: no first-start line; the running totals came back from the checkpoint (issue 15 item 4)
      expect(lines.map((l) => l.msg)).to.deep.equal(['circonus pull store circonus/pull: running totals of 1 series restored from the checkpoint']);
      expect((b.status!() as { store: { url: string } }).store.url).to.equal(url);
      await b.consume(batch([gauge('up', [num(1)])], {}));
      const again = await brokerGet(url, auth);
      expect(again.status).to.equal(200);
      expect(again.body.toString()).to.equal('{"requests|ST[route:/a,service.name:shop]":{"_type":"L","_value":"12"},"up":{"_type":"n","_value":1}}');
    } finally {
      await b.shutdown(AbortSignal.timeout(5000));
      await telemetry.shutdown();
    }
  });
});
