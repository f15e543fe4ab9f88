/**
 * The prometheus store end to end: the built service (otlp → prometheus) as a
 * child process, a real Prometheus (1 s scrape interval) scraping it through
 * the token URL with Basic auth, and PromQL answers checked exactly.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMetricport, type Started } from '../../e2e/metricport.js';
import { promtoolCheckMetrics, startPrometheus, usePeer, type PrometheusPeer } from '../../harness/peers.js';
import { freePort, waitFor } from '../../harness/ports.js';
import { duplicates, parseSamples, sample } from './util.js';

const S1 = 1_700_000_000_000_000_000n;
const SEC = 1_000_000_000n;

type Json = Record<string, unknown>;
const attr = (key: string, v: string) => ({ key, value: { stringValue: v } });
function body(metrics: Json[]): string {
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: [attr('service.name', 'shop'), attr('host.name', 'h1')] },
        scopeMetrics: [{ scope: { name: 'shop.lib', version: '2.1' }, metrics }],
      },
    ],
  });
}
const deltaSum = (name: string, unit: string, v: number, i: number, attributes: Json[] = []) => ({
  name,
  unit,
  sum: {
    aggregationTemporality: 1,
    isMonotonic: true,
    dataPoints: [{ asInt: String(v), startTimeUnixNano: String(S1 + BigInt(i) * SEC), timeUnixNano: String(S1 + BigInt(i + 1) * SEC), attributes }],
  },
});
const cumSum = (name: string, unit: string, v: number, start: bigint, time: bigint) => ({
  name,
  unit,
  sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ asInt: String(v), startTimeUnixNano: String(start), timeUnixNano: String(time) }] },
});

describe('prometheus store: a real Prometheus scrapes the token URL with Basic auth', function () {
  this.timeout(120_000);
  let mp: Started;
  let prom: PrometheusPeer | undefined;
  let port: number;
  let url: string;
  let creds: { token: string; username: string; password: string };
  const basic = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');

  const post = async (metrics: Json[]) => {
    const r = await fetch(`${mp.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(metrics) });
    expect(r.status, await r.text()).to.equal(200);
  };
  const value = async (q: string): Promise<number | undefined> => (await prom!.queryValues(q))[0]?.value;
  const until = async (q: string, want: number, tolerance = 0) => {
    let last: number | undefined;
    await waitFor(
      async () => {
        last = await value(q);
        return last !== undefined && Math.abs(last - want) <= tolerance;
      },
      { timeoutMs: 20_000, intervalMs: 250, what: `${q} == ${want} (last ${last})` },
    );
    return last!;
  };

  before(async function () {
    await usePeer(this, 'prometheus');
    port = await freePort();
    mp = await startMetricport(`
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:
  prometheus:
    endpoint: "127.0.0.1:${port}"
    basic_auth: { enabled: true }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheus] }
`);
    creds = JSON.parse(readFileSync(join(mp.dir, 'state', 'exporter', 'prometheus', 'credentials.json'), 'utf8')) as typeof creds;
  });
  after(async () => {
    await prom?.stop();
    await mp?.stop();
  });

  it('GET /api/v1/stores lists the pull store with its URL (token in the path, no credentials)', async () => {
    const res = await fetch(`${mp.adminUrl}/api/v1/stores`);
    expect(res.status).to.equal(200);
    const text = await res.text();
    const { stores } = JSON.parse(text) as { stores: Array<Record<string, unknown>> };
    expect(stores).to.have.length(1);
    const s = stores[0]!;
    expect(s).to.include({
      name: 'prometheus',
      adapter: 'prometheus',
      mode: 'pull',
      period: null,
      last_scrape: null,
      last_error: null,
      target: `127.0.0.1:${port}`,
      basic_auth: true,
      state: 'running',
    });
    expect(creds.token).to.match(/^[0-9a-f]{32}$/);
    expect(s.url).to.equal(`http://127.0.0.1:${port}/${creds.token}/metrics`);
    url = s.url as string;
    expect(text).to.not.contain(creds.password);
    expect(await (await fetch(`${mp.adminUrl}/api/v1/status`)).text()).to.not.contain(creds.password);
    // the first-start log line names the URL and username, never the password
    expect(mp.output()).to.contain(url);
    expect(mp.output()).to.contain(creds.username);
    expect(mp.output()).to.not.contain(creds.password);
  });

  it('metricport stores: the same table live and from the config; --show-credentials prints the generated password', async () => {
    const { spawnSync } = await import('node:child_process');
    const { BIN } = await import('../../e2e/metricport.js');
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [BIN, 'stores', '--config', join(mp.dir, 'config.yaml'), '--state-dir', join(mp.dir, 'state'), ...args], {
        encoding: 'utf8',
        timeout: 20_000,
      });
    const live = cli('--admin-endpoint', `127.0.0.1:${mp.adminPort}`);
    expect(live.status, live.stderr).to.equal(0);
    expect(live.stdout).to.match(/^NAME\s+ADAPTER\s+MODE\s+PERIOD\s+LAST OK\s+LAST ERROR\s+TARGET\s+URL\n/);
    expect(live.stdout).to.match(new RegExp(`^prometheus\\s+prometheus\\s+pull\\s+-\\s+.*127\\.0\\.0\\.1:${port}\\s+${url.replace(/[.]/g, '\\.')}$`, 'm'));
    expect(live.stdout).to.match(new RegExp(`${url.replace(/[.]/g, '\\.')}\n\n\\(source: live\\)\n$`));
    expect(live.stdout).to.not.contain(creds.password);
    const offline = cli('--admin-endpoint', `127.0.0.1:${await freePort()}`, '--json');
    expect(offline.status, offline.stderr).to.equal(0);
    const o = JSON.parse(offline.stdout) as { source: string; stores: Array<{ name: string; url: string; mode: string }> };
    expect(o.source).to.match(/^config/);
    expect(o.stores.map((r) => [r.name, r.mode, r.url])).to.deep.equal([['prometheus', 'pull', url]]);
    const withCreds = cli('--admin-endpoint', `127.0.0.1:${mp.adminPort}`, '--show-credentials');
    expect(withCreds.status, withCreds.stderr).to.equal(0);
    expect(withCreds.stdout).to.contain(`prometheus: ${url}\n  username: ${creds.username}\n  password: ${creds.password}\n`);
    const bad = spawnSync(process.execPath, [BIN, 'validate', '--show-credentials'], { encoding: 'utf8' });
    expect(bad.status).to.equal(2);
    expect(bad.stderr).to.contain('--show-credentials only goes with the stores command');
  });

  it('wrong token → 404 (no hint), wrong password → 401, both counted on /metrics', async () => {
    const wrongToken = `http://127.0.0.1:${port}/${'0'.repeat(32)}/metrics`;
    for (const u of [wrongToken, `http://127.0.0.1:${port}/metrics`, `http://127.0.0.1:${port}/`]) {
      const r = await fetch(u, { headers: { authorization: basic(creds.username, creds.password) } });
      expect(r.status).to.equal(404);
      expect(await r.text()).to.equal('404 page not found\n');
      expect(r.headers.get('www-authenticate')).to.equal(null);
    }
    const noAuth = await fetch(url);
    expect(noAuth.status).to.equal(401);
    expect(noAuth.headers.get('www-authenticate')).to.match(/^Basic realm="metricport"/);
    expect((await fetch(url, { headers: { authorization: basic(creds.username, 'wrong') } })).status).to.equal(401);
    expect((await fetch(url, { headers: { authorization: basic(creds.username, creds.password) } })).status).to.equal(200);
    const m = await (await fetch(`${mp.adminUrl}/metrics`)).text();
    expect(m).to.match(/metricport_pull_requests_total\{[^}]*code="404"[^}]*\} 3\b/);
    expect(m).to.match(/metricport_pull_requests_total\{[^}]*code="401"[^}]*\} 2\b/);
    expect(m).to.match(/metricport_pull_requests_total\{[^}]*code="200"[^}]*\} 1\b/);
    const st = (await (await fetch(`${mp.adminUrl}/api/v1/status`)).json()) as { exporters: Array<{ id: string; not_found: number; unauthorized: number }> };
    expect(st.exporters.find((e) => e.id === 'prometheus')).to.include({ not_found: 3, unauthorized: 2 });
  });

  it('PromQL answers: delta counter total, gauge, cumulative counter across a reset, histogram_quantile over delta histograms, odd names', async () => {
    prom = await startPrometheus({
      scrapeTargets: [
        { target: `127.0.0.1:${port}`, metricsPath: `/${creds.token}/metrics`, basicAuth: { username: creds.username, password: creds.password } },
      ],
      scrapeInterval: '1s',
    });
    // a counter fed only by delta sums: 1 + 2 + ... + 50
    for (let i = 1; i <= 50; i++) await post([deltaSum('orders.placed', '{order}', i, i, [attr('shop', 'berlin')])]);
    // a gauge
    await post([{ name: 'queue.depth', unit: '{item}', gauge: { dataPoints: [{ asDouble: 42.5, timeUnixNano: String(S1) }] } }]);
    // delta histograms in ms: 20 × counts [1,2,3,4,0] over bounds [10,50,100,500]
    for (let i = 0; i < 20; i++) {
      await post([
        {
          name: 'http.server.duration',
          unit: 'ms',
          histogram: {
            aggregationTemporality: 1,
            dataPoints: [
              {
                startTimeUnixNano: String(S1 + BigInt(i) * SEC),
                timeUnixNano: String(S1 + BigInt(i + 1) * SEC),
                count: '10',
                sum: 900,
                bucketCounts: ['1', '2', '3', '4', '0'],
                explicitBounds: [10, 50, 100, 500],
              },
            ],
          },
        },
      ]);
    }
    // dots, dashes, unicode and a leading digit in the name and a label
    for (let i = 0; i < 7; i++) await post([deltaSum('1st.cäche-hits', '{hit}', 1, i, [attr('2nd.kéy-x', 'välue-1.x')])]);
    // a cumulative counter: 100, 250, then the source restarts (new start time) at 30
    await post([cumSum('egress', 'By', 100, S1, S1 + SEC)]);

    expect(await until('orders_placed_total', 1275)).to.equal(1275);
    const series = await prom.queryValues('orders_placed_total');
    expect(series).to.have.length(1);
    expect(series[0]!.metric).to.include({ shop: 'berlin', otel_scope_name: 'shop.lib', otel_scope_version: '2.1' });
    expect(await until('queue_depth', 42.5)).to.equal(42.5);
    expect(await until('http_server_duration_seconds_count', 200)).to.equal(200);
    expect(await value('http_server_duration_seconds_bucket{le="0.05"}')).to.equal(60);
    // rank 100 of 200 lies in (0.05, 0.1]: 0.05 + (100 - 60) / (120 - 60) × 0.05
    const q = await value('histogram_quantile(0.5, sum by (le) (http_server_duration_seconds_bucket))');
    expect(q).to.be.closeTo(0.05 + (40 / 60) * 0.05, 1e-9);
    expect(await until('_1st_c_che_hits_total{key_2nd_k_y_x="välue-1.x"}', 7)).to.equal(7);

    expect(await until('egress_bytes_total', 100)).to.equal(100);
    await post([cumSum('egress', 'By', 250, S1, S1 + 2n * SEC)]);
    expect(await until('egress_bytes_total', 250)).to.equal(250);
    await post([cumSum('egress', 'By', 30, S1 + 100n * SEC, S1 + 101n * SEC)]);
    expect(await until('egress_bytes_total', 30)).to.equal(30);
    expect(await value('resets(egress_bytes_total[5m])')).to.equal(1);
    // every scrape parsed: Prometheus asked for OpenMetrics and got it
    const t = (await prom.targets())[0]!;
    expect(t.health).to.equal('up');
    expect(t.lastError).to.equal('');
    const st = (await (await fetch(`${mp.adminUrl}/api/v1/stores`)).json()) as { stores: Array<{ last_scrape: string | null }> };
    expect(Date.parse(st.stores[0]!.last_scrape!)).to.be.greaterThan(Date.now() - 10_000);
    const status = (await (await fetch(`${mp.adminUrl}/api/v1/status`)).json()) as {
      exporters: Array<{ id: string; last_scrape_format: string; accumulator: { resets: number } }>;
    };
    const ps = status.exporters.find((e) => e.id === 'prometheus')!;
    expect(ps.last_scrape_format).to.equal('openmetrics');
    expect(ps.accumulator.resets).to.equal(1);
  });

  it('both formats of the live endpoint: promtool passes on text, OpenMetrics ends with # EOF and has no duplicate series; gzip when asked', async () => {
    const auth = { authorization: basic(creds.username, creds.password) };
    const text = await fetch(url, { headers: { ...auth, accept: 'text/plain;version=0.0.4' } });
    expect(text.headers.get('content-type')).to.equal('text/plain; version=0.0.4; charset=utf-8');
    const t = await text.text();
    const check = await promtoolCheckMetrics(t);
    expect(check.ok, `${check.output}\n${t}`).to.equal(true);
    expect(duplicates(parseSamples(t))).to.deep.equal([]);
    expect(sample(parseSamples(t), 'orders_placed_total')!.value).to.equal('1275');
    const om = await fetch(url, { headers: { ...auth, accept: 'application/openmetrics-text;version=1.0.0' } });
    expect(om.headers.get('content-type')).to.equal('application/openmetrics-text; version=1.0.0; charset=utf-8');
    const o = await om.text();
    expect(o.endsWith('\n# EOF\n')).to.equal(true);
    expect(duplicates(parseSamples(o))).to.deep.equal([]);
    expect(sample(parseSamples(o), 'orders_placed_total')!.value).to.equal('1275');
    expect(sample(parseSamples(o), 'target_info')!.labels).to.deep.equal({ host_name: 'h1', job: 'shop' });
    // gzip: node's fetch decodes it; check the header and the raw size with a plain request
    const { request } = await import('node:http');
    const raw = await new Promise<{ enc: string | undefined; bytes: Buffer }>((resolve, reject) => {
      request(url, { headers: { ...auth, 'accept-encoding': 'gzip' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ enc: res.headers['content-encoding'], bytes: Buffer.concat(chunks) }));
      })
        .on('error', reject)
        .end();
    });
    expect(raw.enc).to.equal('gzip');
    const { gunzipSync } = await import('node:zlib');
    expect(gunzipSync(raw.bytes).toString()).to.equal(t);
  });
});
