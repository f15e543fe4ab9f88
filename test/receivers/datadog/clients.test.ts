/**
 * The real Datadog clients, unmodified, pointed at the built service's
 * `datadog` receivers, into a real Prometheus (scraping the `prometheus`
 * store) and a real InfluxDB (the `influxdb` store), exact values:
 *
 * - `@datadog/datadog-api-client` 1.64: v2 `MetricsApi.submitMetrics`
 *   (gauge, count, rate with resources, tags, unit) and v1
 *   `submitDistributionPoints`, through `baseServer` = the plain-HTTP receiver;
 * - `datadog-metrics` 0.12: gauges, increments, histograms and distributions
 *   with tags and host, through its own `site` option: it always calls
 *   https://api.<site>, so a second receiver serves TLS with a certificate
 *   for api.metricport.test; this process resolves that name to 127.0.0.1
 *   and trusts the test CA through the HTTPS agent's options (what a hosts
 *   entry and NODE_EXTRA_CA_CERTS do for an app), nothing in the library;
 * - a wrong key: refused (403), counted, the client reports it through its
 *   own error type and keeps going.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import dns from 'node:dns';
import https from 'node:https';
import { createRequire } from 'node:module';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInfluxDB, startPrometheus, usePeer, type InfluxDBPeer, type PrometheusPeer } from '../../harness/peers.js';
import { freePort, waitFor } from '../../harness/ports.js';
import { startMetricport, type Started } from '../../e2e/metricport.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dd = require('@datadog/datadog-api-client') as typeof import('@datadog/datadog-api-client');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ddm = require('datadog-metrics') as { BufferedMetricsLogger: new (o: Record<string, unknown>) => DdmLogger };
interface DdmLogger {
  gauge(k: string, v: number, tags?: string[]): void;
  increment(k: string, v?: number, tags?: string[]): void;
  histogram(k: string, v: number, tags?: string[]): void;
  distribution(k: string, v: number, tags?: string[]): void;
  flush(): Promise<void>;
  stop(opts?: { flush?: boolean }): Promise<void>;
}

const KEY = 'ddClientsE2Ekey0123456789abcdef';
const TOK = 'ddClientsE2Eprometheustoken01';
const SITE = 'metricport.test';

/** a CA and a server certificate for api.metricport.test and 127.0.0.1 */
function pki(): { dir: string; ca: Buffer; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'mp-dd-pki-'));
  const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  o('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=metricport datadog test CA');
  writeFileSync(join(dir, 'server.ext'), `subjectAltName=DNS:api.${SITE},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`);
  o('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=api.${SITE}`);
  o('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext');
  return { dir, ca: readFileSync(join(dir, 'ca.crt')), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

describe('datadog receiver: the real clients into a real Prometheus and InfluxDB (exact values)', function () {
  this.timeout(120_000);
  let influx: InfluxDBPeer | undefined;
  let prom: PrometheusPeer | undefined;
  let mp: Started | undefined;
  let certs: ReturnType<typeof pki> | undefined;
  const ports = { http: 0, tls: 0, prom: 0 };
  const agentOptions = https.globalAgent.options as https.AgentOptions & { lookup?: unknown };
  const saved = { ca: agentOptions.ca, lookup: agentOptions.lookup };

  before(async function () {
    await usePeer(this, 'prometheus', 'influxdb');
    certs = pki();
    influx = await startInfluxDB();
    await influx.createDatabase('dd');
    ports.http = await freePort();
    ports.tls = await freePort();
    ports.prom = await freePort();
    mp = await startMetricport(
      `receivers:
  datadog:
    endpoint: 127.0.0.1:${ports.http}
    api_keys: [{ key: "\${env:DD_KEY}", name: apps }]
  datadog/tls:
    endpoint: 127.0.0.1:${ports.tls}
    api_keys: [{ key: "\${env:DD_KEY}", name: apps }]
    tls: { cert_file: ${certs.cert}, key_file: ${certs.key} }
exporters:
  prometheus: { endpoint: 127.0.0.1:${ports.prom}, token: ${TOK}, add_unit_suffix: false }
  influxdb: { endpoint: "${influx.url}", db: dd, period: 1s, resource_attributes: [host.name] }
service:
  pipelines:
    metrics: { receivers: [datadog, datadog/tls], exporters: [prometheus, influxdb] }
`,
      { env: { DD_KEY: KEY } },
    );
    prom = await startPrometheus({ scrapeTargets: [{ target: `127.0.0.1:${ports.prom}`, metricsPath: `/${TOK}/metrics`, job: 'metricport' }] });
    // what a hosts entry (api.metricport.test → the sidecar) and NODE_EXTRA_CA_CERTS do for an app
    agentOptions.ca = certs.ca;
    const lookup = ((host: string, opts: dns.LookupOptions, cb: (...a: unknown[]) => void): void => {
      if (host !== `api.${SITE}`) {
        dns.lookup(host, opts, cb as never);
        return;
      }
      if (opts.all === true) cb(null, [{ address: '127.0.0.1', family: 4 }]);
      else cb(null, '127.0.0.1', 4);
    }) as unknown as https.AgentOptions['lookup'];
    agentOptions.lookup = lookup;
  });
  after(async () => {
    if (saved.ca === undefined) delete agentOptions.ca;
    else agentOptions.ca = saved.ca;
    if (saved.lookup === undefined) delete agentOptions.lookup;
    else agentOptions.lookup = saved.lookup;
    await mp?.stop();
    await prom?.stop();
    await influx?.stop();
    if (certs !== undefined) rmSync(certs.dir, { recursive: true, force: true });
  });

  const status = async (id: string): Promise<Record<string, unknown>> => {
    const j = (await (await fetch(`${mp!.adminUrl}/api/v1/status`)).json()) as { receivers: Array<{ id: string; counters: Record<string, unknown> }> };
    return j.receivers.find((r) => r.id === id)!.counters;
  };
  const promValue = async (q: string): Promise<Array<{ metric: Record<string, string>; value: number }>> => {
    let got: Array<{ metric: Record<string, string>; value: number }> = [];
    await waitFor(
      async () => {
        got = await prom!.queryValues(q);
        return got.length > 0;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: `prometheus ${q}` },
    );
    return got;
  };
  const influxRow = async (q: string): Promise<unknown[]> => {
    let row: unknown[] | undefined;
    await waitFor(
      async () => {
        const r = await influx!.query('dd', q);
        row = r[0]?.series?.[0]?.values[0];
        return row !== undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: `influxdb ${q}` },
    );
    return row!;
  };
  /** InfluxDB: sums over every period row written so far equal `want` (periods may split a client's points) */
  const influxSums = async (measurement: string, fields: string[], want: number[], where = ''): Promise<void> => {
    const q = `SELECT ${fields.map((f) => `sum("${f}")`).join(', ')} FROM "${measurement}"${where}`;
    let last: unknown[] = [];
    await waitFor(
      async () => {
        const r = await influx!.query('dd', q);
        last = (r[0]?.series?.[0]?.values[0] ?? []).slice(1);
        return JSON.stringify(last) === JSON.stringify(want);
      },
      { timeoutMs: 30_000, intervalMs: 500, what: `influxdb ${q} = ${JSON.stringify(want)} (last ${JSON.stringify(last)})` },
    );
  };

  it('@datadog/datadog-api-client: v2 submitMetrics (gauge, count, rate, resources, tags, unit) and submitDistributionPoints', async () => {
    const configuration = dd.client.createConfiguration({
      authMethods: { apiKeyAuth: KEY },
      baseServer: new dd.client.BaseServerConfiguration(`http://127.0.0.1:${ports.http}`, {}),
    });
    const now = Math.floor(Date.now() / 1000);
    const host = [{ type: 'host', name: 'h-api' }];
    const r = await new dd.v2.MetricsApi(configuration).submitMetrics({
      body: {
        series: [
          { metric: 'ddapi.gauge', type: 3, points: [{ timestamp: now, value: 12.5 }], resources: host, tags: ['env:test', 'canary'], unit: 'byte' },
          { metric: 'ddapi.count', type: 1, interval: 10, points: [{ timestamp: now, value: 7 }], resources: host, tags: ['env:test'] },
          { metric: 'ddapi.rate', type: 2, interval: 10, points: [{ timestamp: now, value: 1.5 }], resources: host, tags: ['env:test'] },
        ],
      },
    });
    expect(r).to.deep.equal({ errors: [] });
    const d = await new dd.v1.MetricsApi(configuration).submitDistributionPoints({
      body: { series: [{ metric: 'ddapi.dist', points: [[now, [1, 2, 3, 4, 100]]], host: 'h-api', tags: ['env:test'] }] },
    });
    expect(d).to.deep.equal({ status: 'ok' });

    expect((await promValue('ddapi_gauge')).map((s) => [s.metric.env, s.value])).to.deep.equal([['test', 12.5]]);
    expect((await promValue('ddapi_count_total')).map((s) => s.value)).to.deep.equal([7]);
    expect((await promValue('ddapi_rate_total')).map((s) => s.value)).to.deep.equal([15]);
    expect((await promValue('ddapi_dist_count')).map((s) => s.value)).to.deep.equal([5]);
    expect((await promValue('ddapi_dist_sum')).map((s) => s.value)).to.deep.equal([110]);
    // the exponential buckets keep the percentiles: p50 of 1,2,3,4,100 is 3 (within the bucket's relative width)
    const p50 = (await promValue('histogram_quantile(0.5, ddapi_dist_bucket)'))[0]!.value;
    expect(p50).to.be.within(2.9, 3.1);
    expect((await promValue('target_info{host_name="h-api"}')).length).to.equal(1);

    expect(await influxRow('SELECT last("value"), "env", "host.name" FROM "ddapi.gauge"')).to.deep.include.members([12.5, 'test', 'h-api']);
    await influxSums('ddapi.count', ['value'], [7]);
    await influxSums('ddapi.rate', ['value'], [15]);
    await influxSums('ddapi.dist', ['count', 'sum'], [5, 110]);
    const mm = await influxRow('SELECT min("min"), max("max") FROM "ddapi.dist"');
    expect(mm.slice(1)).to.deep.equal([1, 100]);
  });

  it('datadog-metrics: gauges, increments, histograms and distributions with tags and host, over its own https://api.<site>', async () => {
    const errors: unknown[] = [];
    const logger = new ddm.BufferedMetricsLogger({
      apiKey: KEY,
      site: `${SITE}:${ports.tls}`,
      host: 'h-ddm',
      prefix: 'ddm.',
      defaultTags: ['app:shop'],
      flushIntervalSeconds: 0,
      retries: 0,
      onError: (e: unknown) => errors.push(e),
    });
    logger.gauge('temp', 21.5, ['room:a']);
    logger.increment('hits', 3, ['route:/x']);
    logger.increment('hits', 2, ['route:/x']);
    for (const v of [10, 20, 30]) logger.histogram('lat', v);
    logger.distribution('size', 5);
    logger.distribution('size', 7);
    await logger.flush();
    expect(errors).to.deep.equal([]);

    expect((await promValue('ddm_temp')).map((s) => [s.metric.room, s.metric.app, s.value])).to.deep.equal([['a', 'shop', 21.5]]);
    expect((await promValue('ddm_hits_total')).map((s) => [s.metric.route, s.value])).to.deep.equal([['/x', 5]]);
    expect((await promValue('ddm_lat_max')).map((s) => s.value)).to.deep.equal([30]);
    expect((await promValue('ddm_lat_avg')).map((s) => s.value)).to.deep.equal([20]);
    expect((await promValue('ddm_lat_count_total')).map((s) => s.value)).to.deep.equal([3]);
    expect((await promValue('ddm_lat_95percentile')).map((s) => s.value)).to.deep.equal([30]);
    expect((await promValue('ddm_size_count')).map((s) => s.value)).to.deep.equal([2]);
    expect((await promValue('ddm_size_sum')).map((s) => s.value)).to.deep.equal([12]);

    expect(await influxRow('SELECT last("value"), "room", "app", "host.name" FROM "ddm.temp"')).to.deep.include.members([21.5, 'a', 'shop', 'h-ddm']);
    await influxSums('ddm.hits', ['value'], [5]);
    await influxSums('ddm.size', ['count', 'sum'], [2, 12]);
    expect((await status('datadog/tls')).accepted).to.be.at.least(10);
    await logger.stop({ flush: false });
  });

  it('a wrong key: 403, counted, the client raises its AuthorizationError and keeps going', async () => {
    const before = (await status('datadog/tls')).auth_failures as number;
    const errors: Array<Error & { code?: number }> = [];
    const wrong = new ddm.BufferedMetricsLogger({
      apiKey: 'SECRET-not-a-configured-key',
      site: `${SITE}:${ports.tls}`,
      host: 'h-bad',
      flushIntervalSeconds: 0,
      retries: 0,
      onError: (e: Error) => errors.push(e),
    });
    wrong.gauge('ddm.wrong', 1);
    let thrown: (Error & { code?: string; status?: number; cause?: { code?: number } }) | undefined;
    try {
      await wrong.flush();
    } catch (e) {
      thrown = e as typeof thrown;
    }
    // datadog-metrics' AuthorizationError (lib/errors.js), made from the client's 403
    expect([thrown?.code, thrown?.status, thrown?.cause?.code]).to.deep.equal(['DATADOG_AUTHORIZATION_ERROR', 403, 403]);
    expect((await status('datadog/tls')).auth_failures).to.equal(before + 1);
    // the same app keeps going: the next flush with the right key is accepted
    const right = new ddm.BufferedMetricsLogger({ apiKey: KEY, site: `${SITE}:${ports.tls}`, host: 'h-ok', flushIntervalSeconds: 0, retries: 0 });
    right.gauge('ddm.after', 2);
    await right.flush();
    expect((await promValue('ddm_after')).map((s) => s.value)).to.deep.equal([2]);
    expect(mp!.output()).to.not.include('SECRET-not-a-configured-key');
    expect(mp!.output()).to.not.include(KEY);
    await wrong.stop({ flush: false });
    await right.stop({ flush: false });
  });
});
