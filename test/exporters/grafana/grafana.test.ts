/** grafana exporter: rows as data; a test double checking the auth forms, headers, body, Invalid points and retries. */
import { expect } from 'chai';
import { grafanaRows } from '../../../exporters/grafana/encode.js';
import { createGrafana } from '../../../exporters/grafana/exporter.js';
import type { GrafanaConfig } from '../../../exporters/grafana/factory.js';
import { host, never, settings } from '../../exporterhelper/fakes.js';
import { HttpDouble } from '../../storehelper/double.js';
import { S, batch, gauge, num, pointsOf, storeCfg, sum } from '../../storehelper/util.js';

const T0 = 1_700_000_000;
const KEY = 'glc_secret_api_key_987';
export function grafanaCfg(url: string, over: Partial<GrafanaConfig> = {}): GrafanaConfig {
  return { ...storeCfg({ cumulative: 'delta' }), url, api_key: KEY, instance_id: '', prefix: '', resource_attributes: [], ...over };
}
const example = () =>
  batch([sum('app.requests', [num(BigInt(T0 + 1) * S, 42n, { env: 'prod', host: 'web01' })]), gauge('app.cpu', [num(BigInt(T0 + 2) * S, 0.5)])]);
const FIXTURE =
  '[{"name":"mp.app.requests","interval":10,"value":42,"time":1700000010,"mtype":"count","unit":"","tags":["env=prod","host=web01"]},{"name":"mp.app.cpu","interval":10,"value":0.5,"time":1700000010,"mtype":"gauge","unit":"","tags":[]}]';

describe('grafana: rows (protocols.md §4)', () => {
  it('name, interval = period, value, time in seconds, mtype, k=v tags', () => {
    const pts = pointsOf(example());
    for (const p of pts) (p.meta as { resource: object }).resource = {};
    expect(JSON.stringify(grafanaRows(pts, { prefix: 'mp', intervalSeconds: 10 }).rows)).to.equal(FIXTURE);
  });
});

describe('grafana exporter → test double', function () {
  this.timeout(30_000);
  let d: HttpDouble;
  beforeEach(async () => {
    d = new HttpDouble();
    d.fallback = { status: 200, body: '{"Invalid":0,"Published":2,"ValidationErrors":{}}' };
    await d.start();
  });
  afterEach(async () => {
    await d.stop();
  });
  async function run(over: Partial<GrafanaConfig>, script: typeof d.script = []) {
    d.script = script;
    const set = settings('grafana');
    const clock = { ms: (T0 + 5) * 1000 };
    const ex = createGrafana(
      set,
      grafanaCfg(`${d.url}/graphite/metrics`, {
        period: 10_000,
        prefix: 'mp',
        retry_on_failure: { enabled: true, initial_interval: 10, max_interval: 20, max_elapsed_time: 0, multiplier: 1, randomization_factor: 0 },
        ...over,
      }),
      { now: () => clock.ms, random: () => 0.5 },
    );
    await ex.start(host(set));
    await ex.consume(example());
    clock.ms = (T0 + 12) * 1000;
    await ex.shutdown(never());
    return { ex, set };
  }
  it('shared instance: Bearer <instanceId>:<apiKey>; JSON body equal to the fixture', async () => {
    const { ex } = await run({ instance_id: '12345' });
    expect(d.requests).to.have.length(1);
    const r = d.requests[0]!;
    expect([r.method, r.url]).to.deep.equal(['POST', '/graphite/metrics']);
    expect(r.headers.authorization).to.equal(`Bearer 12345:${KEY}`);
    expect(r.headers['content-type']).to.equal('application/json');
    expect(r.headers['content-encoding']).to.equal(undefined);
    expect(r.body.toString()).to.equal(FIXTURE);
    expect(ex.status()).to.deep.include({ points_sent: 2, points_dropped: 0 });
  });
  it('dedicated instance: Bearer <apiKey>', async () => {
    await run({});
    expect(d.requests[0]!.headers.authorization).to.equal(`Bearer ${KEY}`);
  });
  it('a 200 reporting Invalid points counts them dropped with the reason, no retry', async () => {
    const { ex } = await run({}, [{ status: 200, body: '{"Invalid":1,"Published":1,"ValidationErrors":{"invalid-interval":{"Count":1}}}' }]);
    expect(d.requests).to.have.length(1);
    expect(ex.status()).to.deep.include({ points_sent: 1, points_dropped: 1, invalid_points: 1 });
    expect((ex.status().dropped as Record<string, number>).partial_success).to.equal(1);
  });
  it('400 permanent; 429 Retry-After, 500, dropped connection retried; 413 split', async () => {
    const a = await run({}, [{ status: 400 }]);
    expect(d.requests).to.have.length(1);
    expect(a.ex.status()).to.deep.include({ points_sent: 0, points_dropped: 2 });
    d.requests.length = 0;
    const b = await run({}, [{ status: 429, headers: { 'Retry-After': '1' } }, { status: 500 }, 'drop', { status: 413 }]);
    expect(d.requests.map((r) => (JSON.parse(r.body.toString()) as unknown[]).length)).to.deep.equal([2, 2, 2, 2, 1, 1]);
    expect(d.requests[1]!.at - d.requests[0]!.at).to.be.at.least(950);
    expect(b.ex.status()).to.deep.include({ points_sent: 2, points_dropped: 0 });
  });
});
