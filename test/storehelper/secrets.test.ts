/**
 * No secret (API key, token, password, submission-URL secret) appears in any
 * log line, error, or status output of the push stores: each store is run
 * against failures that produce errors and logs (refused connections, 401,
 * 403, 500, a dropped connection), and everything they said is scanned.
 */
import { expect } from 'chai';
import { circonusConfigSchema, circonusExporterFactory } from '../../exporters/circonus/factory.js';
import { datadogConfigSchema, datadogExporterFactory } from '../../exporters/datadog/factory.js';
import { grafanaConfigSchema, grafanaExporterFactory } from '../../exporters/grafana/factory.js';
import { influxConfigSchema, influxdbExporterFactory } from '../../exporters/influxdb/factory.js';
import type { ExporterFactory } from '../../src/component.js';
import { redact, validateSchema, type Schema } from '../../src/config/schema.js';
import { host, settings } from '../exporterhelper/fakes.js';
import { startResettingServer, type ResettingServer } from '../harness/ports.js';
import { HttpDouble } from './double.js';
import { batch, gauge, num } from './util.js';

const SECRETS = {
  dd: 'DDKEY-5ecret-aaaa1111',
  graf: 'GRAFKEY-5ecret-bbbb2222',
  token: 'INFLUXTOKEN-5ecret-cccc3333',
  pw: 'INFLUXPW-5ecret-dddd4444',
  trap: 'TRAPSECRET-5ecret-eeee5555',
};

describe('secrets never appear in logs, errors or status', function () {
  this.timeout(30_000);
  let d: HttpDouble;
  let reset: ResettingServer;
  before(async () => {
    d = new HttpDouble();
    await d.start();
    reset = await startResettingServer();
  });
  after(async () => {
    await d.stop();
    await reset.stop();
  });

  const cases: Array<[string, ExporterFactory, Schema, (url: string) => Record<string, unknown>]> = [
    ['datadog', datadogExporterFactory, datadogConfigSchema, (url) => ({ api_key: SECRETS.dd, endpoint: url })],
    ['grafana', grafanaExporterFactory, grafanaConfigSchema, (url) => ({ api_key: SECRETS.graf, instance_id: '42', url: `${url}/graphite/metrics` })],
    ['influxdb v2', influxdbExporterFactory, influxConfigSchema, (url) => ({ endpoint: url, api_version: 'v2', org: 'o', bucket: 'b', token: SECRETS.token })],
    ['influxdb v1', influxdbExporterFactory, influxConfigSchema, (url) => ({ endpoint: url, db: 'x', username: 'u', password: SECRETS.pw })],
    [
      'circonus',
      circonusExporterFactory,
      circonusConfigSchema,
      (url) => ({ submission_url: `${url}/module/httptrap/0f5f0a4e-1111-2222-3333-444455556666/${SECRETS.trap}` }),
    ],
  ];
  const common = { period: '1s', timeout: '300ms', retry_on_failure: { initial_interval: '10ms', max_interval: '20ms', max_elapsed_time: '200ms' } };

  for (const [name, f, schema, raw] of cases) {
    it(name, async () => {
      await f.load?.(); // the registry is lazy: create() needs the implementation loaded first
      const said: string[] = [];
      for (const [target, script] of [
        [d.url, [{ status: 401 }]],
        [d.url, [{ status: 403 }]],
        [d.url, [{ status: 500 }, 'drop', { status: 503 }]],
        [reset.url, []],
      ] as const) {
        d.script = [...script];
        const { value, issues } = validateSchema(schema, { ...common, ...raw(target) }, name);
        expect(issues).to.deep.equal([]);
        expect(f.validate?.(value) ?? []).to.deep.equal([]);
        said.push(JSON.stringify(redact(schema, value)));
        const set = settings(name);
        const ex = f.create(set, value, 'metrics');
        await ex.start(host(set));
        await ex.consume(batch([gauge('g', [num(BigInt(Date.now()) * 1_000_000n, 1)])]));
        try {
          await ex.shutdown(AbortSignal.timeout(3000));
        } catch (e) {
          said.push(String(e), (e as Error).stack ?? '');
        }
        const st = ex.status!();
        expect(st.failed as number, `${name} → ${target}: a send failed`).to.be.greaterThan(0);
        expect(st.last_error).to.be.a('string');
        said.push(JSON.stringify(st), set.logger.text());
      }
      const text = said.join('\n');
      expect(text).to.match(/HTTP 40[13]|HTTP 50[03]/);
      expect(text, "the connection reset by the test's own server").to.match(/ECONNRESET|socket hang up/);
      for (const s of Object.values(SECRETS)) expect(text, `secret ${s.slice(0, 8)}…`).not.to.contain(s);
    });
  }
});
