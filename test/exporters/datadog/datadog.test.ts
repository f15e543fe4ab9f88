/** datadog exporter: encoder as data against fixtures (protocols.md §2), a v2 test double checking every header and answer, the 512,000-byte split, and v1 against a real VictoriaMetrics. */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { encodeSeries, sanitizeMetricName } from '../../../exporters/datadog/encode.js';
import { DD_MAX_COMPRESSED, DD_MAX_UNCOMPRESSED, type DatadogConfig } from '../../../exporters/datadog/factory.js';
import { createDatadog, datadogEncoder, seriesUrl } from '../../../exporters/datadog/exporter.js';
import { packageRoot } from '../../../src/paths.js';
import { encodeSplit } from '../../../src/storehelper/store.js';
import { PeriodAccumulator } from '../../../src/storehelper/accumulator.js';
import { startVictoriaMetrics, usePeer, type VictoriaMetricsPeer } from '../../harness/peers.js';
import { host, never, settings } from '../../exporterhelper/fakes.js';
import { HttpDouble } from '../../storehelper/double.js';
import { S, batch, gauge, hist, histogram, num, pointsOf, storeCfg, sum } from '../../storehelper/util.js';

const T0 = 1_700_000_000;
const fixture = (f: string): string => readFileSync(join(packageRoot(), 'test', 'fixtures', 'datadog', f), 'utf8').trim();
const KEY = 'dd-key-secret-0123456789abcdef';
export function ddCfg(endpoint: string | undefined, over: Partial<DatadogConfig> = {}): DatadogConfig {
  return {
    ...storeCfg({ cumulative: 'delta' }),
    api_key: KEY,
    site: 'datadoghq.com',
    api_version: 'v2',
    compression: 'gzip',
    resource_attributes: ['env'],
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...over,
  };
}
const example = () =>
  batch(
    [
      sum('app.requests', [num(BigInt(T0 + 1) * S, 40n, { route: '/a' }), num(BigInt(T0 + 2) * S, 2n, { route: '/a' })]),
      gauge('app.cpu', [num(BigInt(T0 + 3) * S, 0.64)]),
    ],
    { 'host.name': 'host-1', env: 'prod', 'service.name': 'x' },
  );

describe('datadog: encode (protocols.md §2)', () => {
  const ps = () => {
    const p = pointsOf(example());
    for (const x of p) (x.meta as { resource: object }).resource = { env: 'prod' };
    return p;
  };
  it('v2 body equals the fixture byte for byte (count with interval = period, gauge, host in resources)', () => {
    expect(encodeSeries(ps(), { api: 'v2', intervalSeconds: 10, nowMs: T0 * 1000 }).json).to.equal(fixture('v2-series.json'));
  });
  it('v1 body equals the fixture byte for byte', () => {
    expect(encodeSeries(ps(), { api: 'v1', intervalSeconds: 10, nowMs: T0 * 1000 }).json).to.equal(fixture('v1-series.json'));
  });
  it('histograms → .count/.sum counts, .min/.max gauges, per-bucket counts; points older than 1 h dropped, counted', () => {
    const p = pointsOf(batch([histogram('lat', [hist(BigInt(T0) * S, [1], [2, 3], 9, {}, 0n, [0.5, 4])])]));
    const body = JSON.parse(encodeSeries(p, { api: 'v2', intervalSeconds: 10, nowMs: T0 * 1000 }).json) as {
      series: Array<{ metric: string; type: number; points: Array<{ value: number }>; tags: string[] }>;
    };
    expect(body.series.map((s) => [s.metric, s.type, s.points[0]!.value, s.tags.filter((t) => t.includes('bound'))])).to.deep.equal([
      ['lat.count', 1, 5, []],
      ['lat.sum', 1, 9, []],
      ['lat.min', 3, 0.5, []],
      ['lat.max', 3, 4, []],
      ['lat.bucket', 1, 2, ['lower_bound:-inf', 'upper_bound:1']],
      ['lat.bucket', 1, 3, ['lower_bound:1', 'upper_bound:inf']],
    ]);
    expect(encodeSeries(p, { api: 'v2', intervalSeconds: 10, nowMs: (T0 + 3611) * 1000 })).to.deep.include({ n: 0, tooOld: 1 });
  });
  it('metric names per Datadog rules', () => {
    expect(sanitizeMetricName('9 http-requests/µs')).to.equal('http_requests__s');
    expect(sanitizeMetricName('x'.repeat(300))).to.have.length(200);
  });
  it('every site maps to https://api.<site>/api/v2/series', () => {
    expect(seriesUrl(ddCfg(undefined, { site: 'datadoghq.eu' })).href).to.equal('https://api.datadoghq.eu/api/v2/series');
    expect(seriesUrl(ddCfg(undefined, { site: 'us2.ddog-gov.com', api_version: 'v1' })).href).to.equal('https://api.us2.ddog-gov.com/api/v1/series');
  });
  it('splits high-cardinality batches under 512,000 bytes compressed and 5,242,880 uncompressed, no point lost', function () {
    this.timeout(30_000);
    const pts = [];
    for (let i = 0; i < 25_000; i++) pts.push(num(BigInt(T0) * S, i, { id: createHash('sha256').update(String(i)).digest('hex') }));
    const acc = new PeriodAccumulator({
      periodMs: 10_000,
      latenessMs: 0,
      maxSeries: 100_000,
      seriesExpiryMs: 600_000,
      cumulative: 'delta',
      resourceAttributes: [],
      now: () => T0 * 1000,
    });
    acc.add(batch([gauge('hc', pts)]));
    const points = acc.collect(true);
    const adapter = {
      type: 'datadog',
      maxPayloadBytes: DD_MAX_COMPRESSED,
      endpoint: '',
      encode: datadogEncoder({ api_version: 'v2', compression: 'gzip' }),
      send: async () => undefined,
    };
    const dropped: Record<string, number> = {};
    const payloads = encodeSplit(adapter as never, points, { periodSeconds: 10, nowMs: T0 * 1000 }, dropped);
    expect(payloads.length).to.be.greaterThan(1);
    let total = 0;
    for (const p of payloads) {
      expect(p.body.length).to.be.at.most(DD_MAX_COMPRESSED);
      const raw = gunzipSync(p.body);
      expect(raw.length).to.be.below(DD_MAX_UNCOMPRESSED);
      total += (JSON.parse(raw.toString()) as { series: unknown[] }).series.length;
    }
    expect(total).to.equal(25_000);
    expect(dropped).to.deep.equal({});
  });
});

describe('datadog exporter v2 → test double', function () {
  this.timeout(30_000);
  let d: HttpDouble;
  beforeEach(async () => {
    d = new HttpDouble();
    d.fallback = { status: 202, body: '{"errors":[]}' };
    await d.start();
  });
  afterEach(async () => {
    await d.stop();
  });

  async function run(script: typeof d.script, over: Partial<DatadogConfig> = {}) {
    d.script = script;
    const set = settings('datadog');
    const clock = { ms: (T0 + 5) * 1000 };
    const ex = createDatadog(set, ddCfg(d.url, { period: 10_000, timeout: 300, ...over }), { startedAtMs: 0, now: () => clock.ms, random: () => 0.5 });
    await ex.start(host(set));
    await ex.consume(example());
    clock.ms = (T0 + 12) * 1000;
    await ex.shutdown(never());
    return { ex, set };
  }

  it('202: every header, gzip, and the body equal to the fixture', async () => {
    const { ex } = await run([]);
    expect(d.requests).to.have.length(1);
    const r = d.requests[0]!;
    expect(r.method).to.equal('POST');
    expect(r.url).to.equal('/api/v2/series');
    expect(r.headers['dd-api-key']).to.equal(KEY);
    expect(r.headers['content-type']).to.equal('application/json');
    expect(r.headers['content-encoding']).to.equal('gzip');
    expect(Number(r.headers['content-length'])).to.equal(r.raw.length);
    expect(r.raw.subarray(0, 2).toString('hex')).to.equal('1f8b');
    expect(r.body.toString()).to.equal(fixture('v2-series.json'));
    expect(ex.status()).to.deep.include({ points_sent: 2, points_dropped: 0, adapter: 'datadog', period_seconds: 10 });
  });

  for (const status of [400, 403, 404]) {
    it(`${status}: permanent — not retried, points counted dropped`, async () => {
      const { ex } = await run([{ status, body: '{"errors":["bad"]}' }]);
      expect(d.requests).to.have.length(1);
      expect(ex.status()).to.deep.include({ points_sent: 0, points_dropped: 2 });
      expect((ex.status().dropped as Record<string, number>).permanent).to.equal(2);
    });
  }

  it('413: split in two and resent; 429 with Retry-After honoured; 500, 503, a slow answer and a dropped connection retried', async () => {
    const { ex } = await run(
      [
        { status: 413 },
        { status: 429, headers: { 'Retry-After': '1' } },
        { status: 500 },
        { status: 503 },
        { status: 202, delayMs: 1000 },
        'drop',
        { status: 202 },
        { status: 202 },
      ],
      { retry_on_failure: { enabled: true, initial_interval: 10, max_interval: 20, max_elapsed_time: 0, multiplier: 1, randomization_factor: 0 } },
    );
    const bodies = d.requests.map((r) => (JSON.parse(r.body.toString()) as { series: Array<{ metric: string }> }).series.map((s) => s.metric).join(','));
    expect(bodies).to.deep.equal([
      'app.requests,app.cpu',
      'app.requests',
      'app.requests',
      'app.requests',
      'app.requests',
      'app.requests',
      'app.requests',
      'app.cpu',
    ]);
    expect(d.requests[2]!.at - d.requests[1]!.at).to.be.at.least(950);
    expect(ex.status()).to.deep.include({ points_sent: 2, points_dropped: 0 });
  });
});

describe('datadog exporter v1 → real VictoriaMetrics (/datadog/api/v1/series)', function () {
  this.timeout(60_000);
  let vm: VictoriaMetricsPeer;
  before(async function () {
    await usePeer(this, 'victoria-metrics');
    vm = await startVictoriaMetrics();
  });
  after(async () => {
    await vm?.stop();
  });
  it('v1 payloads (gzip) accepted and exported back exactly', async () => {
    const set = settings('datadog/vm');
    const ex = createDatadog(set, ddCfg(`${vm.url}/datadog`, { api_version: 'v1' }), { startedAtMs: 0 });
    await ex.start(host(set));
    const nowS = Math.floor(Date.now() / 1000);
    await ex.consume(
      batch([sum('dd.requests', [num(BigInt(nowS) * S, 5n, { route: '/a' })]), gauge('dd.cpu', [num(BigInt(nowS) * S, 0.25)])], {
        'host.name': 'h1',
        env: 'prod',
      }),
    );
    await ex.shutdown(never());
    const s = await vm.waitForSeries('{__name__=~"dd.*"}', { predicate: (x) => x.length === 2 });
    s.sort((a, b) => (a.metric.__name__! < b.metric.__name__! ? -1 : 1));
    const ts = (nowS + 1) * 1000;
    expect(s).to.deep.equal([
      { metric: { __name__: 'dd.cpu', host: 'h1', env: 'prod' }, values: [0.25], timestamps: [ts] },
      { metric: { __name__: 'dd.requests', host: 'h1', env: 'prod', route: '/a' }, values: [5], timestamps: [ts] },
    ]);
    expect(ex.status()).to.deep.include({ points_sent: 2, points_dropped: 0 });
  });
});
