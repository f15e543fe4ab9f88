/**
 * circonus mode pull end to end: the built service (otlp → circonus pull) as
 * a child process; OTLP/HTTP JSON posts in; a test acting as the Circonus
 * broker (the broker itself is not runnable here) fetches the URL from
 * GET /api/v1/stores with the generated Basic credentials and checks the
 * body byte for byte; wrong password / wrong path counted on /metrics.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor } from '../harness/ports.js';
import { startMetricport, type Started } from './metricport.js';

const S1 = 1_700_000_000_000_000_000n;
const SEC = 1_000_000_000n;
type Json = Record<string, unknown>;
const attr = (key: string, v: string) => ({ key, value: { stringValue: v } });
const body = (metrics: Json[]) =>
  JSON.stringify({
    resourceMetrics: [
      { resource: { attributes: [attr('service.name', 'shop'), attr('host.name', 'h1')] }, scopeMetrics: [{ scope: { name: 'lib' }, metrics }] },
    ],
  });
const t = (i: number) => ({ startTimeUnixNano: String(S1 + BigInt(i) * SEC), timeUnixNano: String(S1 + BigInt(i + 1) * SEC) });

describe('e2e: circonus pull store scraped by a test broker', function () {
  this.timeout(60_000);
  let mp: Started;
  let port: number;

  before(async () => {
    port = await freePort();
    mp = await startMetricport(`
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:
  circonus/pull:
    mode: pull
    endpoint: "127.0.0.1:${port}"
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [circonus/pull] }
`);
  });
  after(async () => {
    await mp?.stop();
  });

  it('exact running total of 60 delta pushes, a gauge and an accumulated delta histogram; listed in /api/v1/stores; 401/404 counted', async () => {
    const post = async (metrics: Json[]) => {
      const r = await fetch(`${mp.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(metrics) });
      expect(r.status, await r.text()).to.equal(200);
    };
    let total = 0;
    for (let i = 0; i < 60; i++) {
      total += i * 3 + 1;
      await post([
        {
          name: 'orders',
          sum: { aggregationTemporality: 1, isMonotonic: true, dataPoints: [{ asInt: String(i * 3 + 1), ...t(i), attributes: [attr('region', 'eu-west')] }] },
        },
        { name: 'cpu.load', gauge: { dataPoints: [{ asDouble: 0.25 + i / 100, ...t(i) }] } },
        {
          name: 'latency',
          unit: 's',
          histogram: {
            aggregationTemporality: 1,
            dataPoints: [{ count: '10', sum: 12.5, bucketCounts: ['1', '2', '3', '4'], explicitBounds: [0.1, 1, 10], ...t(i) }],
          },
        },
      ]);
    }
    expect(total).to.equal(5370);

    const stores = (await (await fetch(`${mp.adminUrl}/api/v1/stores`)).json()) as { stores: Array<Record<string, unknown>> };
    const row = stores.stores.find((s) => s.name === 'circonus/pull')!;
    const state = join(mp.dir, 'state', 'exporter', 'circonus_pull', 'credentials.json');
    const creds = JSON.parse(readFileSync(state, 'utf8')) as { token: string; username: string; password: string };
    const url = `http://127.0.0.1:${port}/${creds.token}`;
    expect(row).to.deep.include({ adapter: 'circonus', mode: 'pull', url, target: `127.0.0.1:${port}`, basic_auth: true, last_error: null });
    expect(JSON.stringify(stores)).to.not.contain(creds.password);
    expect(mp.output()).to.contain(creds.username).and.contain(url).and.not.contain(creds.password);

    const auth = 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
    const want =
      '{"orders|ST[region:eu-west,service.name:shop]":{"_type":"L","_value":"5370"},' +
      '"cpu.load|ST[service.name:shop]":{"_type":"n","_value":0.84},' +
      '"latency|ST[service.name:shop]":{"_type":"H","_value":["H[0.10]=60","H[0.55]=120","H[5.5]=180","H[10]=240"]}}';
    let got = '';
    await waitFor(
      async () => {
        const r = await fetch(url, { headers: { authorization: auth, 'x-reconnoiter-period': '60000' } });
        expect(r.status).to.equal(200);
        expect(r.headers.get('content-type')).to.equal('application/json');
        got = await r.text();
        return got === want;
      },
      { timeoutMs: 10_000, what: `the JSON:Pull body (last ${got})` },
    );
    expect(JSON.parse(got)).to.have.keys('orders|ST[region:eu-west,service.name:shop]', 'cpu.load|ST[service.name:shop]', 'latency|ST[service.name:shop]');

    expect((await fetch(url, { headers: { authorization: 'Basic ' + Buffer.from(`${creds.username}:wrong`).toString('base64') } })).status).to.equal(401);
    const nf = await fetch(`http://127.0.0.1:${port}/${'f'.repeat(32)}`, { headers: { authorization: auth } });
    expect(nf.status).to.equal(404);
    expect(await nf.text()).to.equal('404 page not found\n');
    const m = await (await fetch(`${mp.adminUrl}/metrics`)).text();
    expect(m).to.match(
      /metricport_pull_requests_total\{[^}]*code="401"[^}]*exporter="circonus\/pull"[^}]*\} 1\b|metricport_pull_requests_total\{[^}]*exporter="circonus\/pull"[^}]*code="401"[^}]*\} 1\b/,
    );
    expect(m).to.match(/metricport_pull_requests_total\{[^}]*code="404"[^}]*\} 1\b/);
    const after = (await (await fetch(`${mp.adminUrl}/api/v1/stores`)).json()) as { stores: Array<Record<string, unknown>> };
    const r2 = after.stores.find((s) => s.name === 'circonus/pull')!;
    expect(r2.period).to.equal(60);
    expect(typeof r2.last_scrape).to.equal('string');
  });
});
