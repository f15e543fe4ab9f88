/**
 * datadog receiver:
 * - round trip: series sent by @datadog/datadog-api-client into the built
 *   service's `datadog` receiver and out through the `datadog` store (v2,
 *   gzip) to the Datadog test double arrive with the same names, types, tags,
 *   host and values;
 * - the Python `datadog` client's wire format (fixtures written from its
 *   source, test/fixtures/datadog-python/README.md: PyPI is not reachable
 *   here) → the exact model.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import type { Consumer } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/logger.js';
import type { ExponentialHistogramMetric, GaugeMetric, MetricsBatch, SumMetric } from '../../../src/model/index.js';
import { packageRoot } from '../../../src/paths.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { datadogConfigSchema, type DatadogReceiverConfig } from '../../../receivers/datadog/config.js';
import { DatadogReceiver } from '../../../receivers/datadog/receiver.js';
import { freePort, waitFor } from '../../harness/ports.js';
import { startMetricport, type Started } from '../../e2e/metricport.js';
import { HttpDouble } from '../../storehelper/double.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dd = require('@datadog/datadog-api-client') as typeof import('@datadog/datadog-api-client');

const KEY = 'ddRoundTripKey0123456789abcdef';
const FWD = 'ddForwardKey0123456789abcdef00';

interface V2Series {
  metric: string;
  type: number;
  interval?: number;
  points: Array<{ timestamp: number; value: number }>;
  resources?: Array<{ name: string; type: string }>;
  tags: string[];
}

describe('datadog round trip: client → datadog receiver → datadog store → the Datadog test double', function () {
  this.timeout(60_000);
  const double = new HttpDouble();
  let mp: Started | undefined;
  let port = 0;
  before(async () => {
    await double.start();
    port = await freePort();
    mp = await startMetricport(
      `receivers:
  datadog: { endpoint: 127.0.0.1:${port}, api_keys: [{ key: "\${env:DD_KEY}" }] }
exporters:
  datadog: { api_key: "\${env:DD_FWD}", endpoint: "${double.url}", api_version: v2, compression: gzip, period: 1s, resource_attributes: [] }
service:
  pipelines:
    metrics: { receivers: [datadog], exporters: [datadog] }
`,
      { env: { DD_KEY: KEY, DD_FWD: FWD } },
    );
  });
  after(async () => {
    await mp?.stop();
    await double.stop();
  });

  it("gauges and counts keep their names, types, tags, host and values; the forwarded request carries the store's own key", async () => {
    const configuration = dd.client.createConfiguration({
      authMethods: { apiKeyAuth: KEY },
      baseServer: new dd.client.BaseServerConfiguration(`http://127.0.0.1:${port}`, {}),
    });
    const now = Math.floor(Date.now() / 1000);
    const sent: V2Series[] = [
      {
        metric: 'rt.cpu',
        type: 3,
        points: [{ timestamp: now, value: 0.64 }],
        resources: [{ name: 'h-rt', type: 'host' }],
        tags: ['canary', 'env:prod', 'route:/a'],
      },
      {
        metric: 'rt.requests',
        type: 1,
        interval: 10,
        points: [{ timestamp: now, value: 42 }],
        resources: [{ name: 'h-rt', type: 'host' }],
        tags: ['env:prod', 'route:/a'],
      },
      { metric: 'rt.nohost', type: 3, points: [{ timestamp: now, value: -3.5 }], tags: ['url:http://x/y'] },
    ];
    expect(
      await new dd.v2.MetricsApi(configuration).submitMetrics({ body: { series: sent as unknown as import('@datadog/datadog-api-client').v2.MetricSeries[] } }),
    ).to.deep.equal({ errors: [] });

    const received = (): V2Series[] => double.requests.flatMap((r) => (JSON.parse(r.body.toString()) as { series: V2Series[] }).series);
    await waitFor(() => received().length >= 3, { timeoutMs: 20_000, what: 'three series at the double' });
    const req = double.requests[0]!;
    expect([req.method, req.url, req.headers['dd-api-key'], req.headers['content-encoding']]).to.deep.equal(['POST', '/api/v2/series', FWD, 'gzip']);
    const got = received().map((s) => ({
      metric: s.metric,
      type: s.type,
      value: s.points[0]!.value,
      host: s.resources?.find((r) => r.type === 'host')?.name,
      tags: [...s.tags].sort(),
    }));
    got.sort((a, b) => a.metric.localeCompare(b.metric));
    expect(got).to.deep.equal([
      { metric: 'rt.cpu', type: 3, value: 0.64, host: 'h-rt', tags: ['canary', 'env:prod', 'route:/a'] },
      { metric: 'rt.nohost', type: 3, value: -3.5, host: undefined, tags: ['url:http://x/y'] },
      { metric: 'rt.requests', type: 1, value: 42, host: 'h-rt', tags: ['env:prod', 'route:/a'] },
    ]);
    // the count's interval is the store's period; its point lies in the period of the original timestamp
    const count = received().find((s) => s.metric === 'rt.requests')!;
    expect(count.interval).to.equal(1);
    expect(count.points[0]!.timestamp).to.be.within(now, now + 2);
  });
});

interface Fixture {
  what: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  deflate?: boolean;
}

describe("datadog receiver: the Python `datadog` client's wire format (fixtures from its source; PyPI is not reachable here)", () => {
  const fixtures = JSON.parse(readFileSync(join(packageRoot(), 'test', 'fixtures', 'datadog-python', 'requests.json'), 'utf8')) as Fixture[];
  let rcv: DatadogReceiver;
  let url = '';
  const got: MetricsBatch[] = [];
  const next: Consumer<MetricsBatch> = {
    consume: async (b) => {
      got.push(b);
    },
  };
  before(async () => {
    const { value } = validateSchema(datadogConfigSchema, { endpoint: '127.0.0.1:0', api_keys: [{ key: KEY }] }, 'datadog');
    const tel = new ServiceTelemetry();
    rcv = new DatadogReceiver(
      { id: 'datadog', logger: silentLogger(), telemetry: tel, stateDir: mkdtempSync(join(tmpdir(), 'mp-dd-py-')) },
      value as unknown as DatadogReceiverConfig,
      next,
    );
    await rcv.start({ logger: silentLogger(), telemetry: tel, stateDir: '' });
    url = `http://127.0.0.1:${rcv.boundAddress()!.port}`;
  });
  after(async () => {
    await rcv.shutdown(AbortSignal.timeout(2000));
  });

  const send = async (f: Fixture) => {
    const headers = Object.fromEntries(Object.entries(f.headers).map(([k, v]) => [k, v.replace('{{KEY}}', KEY)]));
    const body = f.deflate === true ? zlib.deflateSync(Buffer.from(f.body)) : f.body;
    const r = await fetch(`${url}${f.path.replace('{{KEY}}', KEY)}`, { method: 'POST', headers, body });
    return { status: r.status, body: await r.text() };
  };
  const metrics = (b: MetricsBatch) =>
    b.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => ({ host: rm.resource.attributes['host.name'], m }))));

  it('api.Metric.send (keys in the query, float time.time() timestamps) → a monotonic delta sum with microsecond time; the answer has no "errors" (the client raises on one)', async () => {
    got.length = 0;
    expect(await send(fixtures[0]!)).to.deep.equal({ status: 202, body: '{"status":"ok"}' });
    const [{ host, m }] = metrics(got[0]!) as [{ host: unknown; m: SumMetric }];
    expect(host).to.equal('web-1');
    expect(m).to.deep.include({ kind: 'sum', name: 'shop.orders', isMonotonic: true, temporality: 1 });
    expect(m.points.map((p) => [p.timeUnixNano, p.value, p.attributes])).to.deep.equal([[1_700_000_000_123_456_000n, 3, { env: 'prod', canary: '' }]]);
  });

  it("a ThreadStats flush (Sentry's DatadogMetricsBackend), deflated: rate × interval → counts, gauges, device null or set, tags null", async () => {
    got.length = 0;
    expect(await send(fixtures[1]!)).to.deep.equal({ status: 202, body: '{"status":"ok"}' });
    const all = metrics(got[0]!);
    expect(
      all.map(({ host, m }) => [
        host,
        m.kind,
        m.name,
        (m as SumMetric | GaugeMetric).points.map((p) => [p.value, p.attributes, p.startTimeUnixNano, p.timeUnixNano]),
      ]),
    ).to.deep.equal([
      ['web-1', 'sum', 'sentry.login.attempt', [[1, { instance: 'failure' }, 1_700_000_000n * 1_000_000_000n, 1_700_000_010n * 1_000_000_000n]]],
      ['web-1', 'gauge', 'sentry.tasks.app_store_connect.refreshed', [[3, {}, 0n, 1_700_000_010n * 1_000_000_000n]]],
      ['web-1', 'gauge', 'sentry.events.latency.95percentile', [[0.25, { from_relay: 'False' }, 0n, 1_700_000_010n * 1_000_000_000n]]],
      [
        'web-1',
        'sum',
        'sentry.events.latency.count',
        [[4, { from_relay: 'False', device: 'sda' }, 1_700_000_000n * 1_000_000_000n, 1_700_000_010n * 1_000_000_000n]],
      ],
    ]);
  });

  it('api.Metric.send_dist → an exponential histogram with exact count, sum, min and max', async () => {
    got.length = 0;
    expect(await send(fixtures[2]!)).to.deep.equal({ status: 202, body: '{"status":"ok"}' });
    const [{ host, m }] = metrics(got[0]!) as [{ host: unknown; m: ExponentialHistogramMetric }];
    expect(host).to.equal('web-1');
    expect(m.points[0]).to.deep.include({ count: 3, sum: 257, min: 12, max: 230, timeUnixNano: 1_700_000_020_500_000_000n, attributes: { route: '/cart' } });
  });
});
