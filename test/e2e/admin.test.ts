import { expect } from 'chai';
import { promtoolCheckMetrics, startPrometheus, usePeer, type PrometheusPeer } from '../harness/peers.js';
import { startResettingServer, type ResettingServer } from '../harness/ports.js';
import { startMetricport, type Started } from './metricport.js';

const CONFIG = `
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
processors:
  batch: { timeout: 10ms }
exporters:
  nop: {}
  otlphttp:
    endpoint: "{{UPSTREAM}}"
    headers: { Authorization: "Bearer TOPSECRET-123" }
    retry_on_failure: { enabled: false }
service:
  pipelines:
    metrics: { receivers: [otlp], processors: [batch], exporters: [nop] }
    metrics/fwd: { receivers: [otlp], exporters: [otlphttp] }
`;

describe('e2e: admin server', function () {
  this.timeout(90_000);
  let mp: Started;
  let prom: PrometheusPeer | undefined;
  /** the otlphttp exporter's upstream: a port this test owns that resets every connection */
  let upstream: ResettingServer;
  before(async function () {
    await usePeer(this, 'prometheus');
    upstream = await startResettingServer();
    mp = await startMetricport(CONFIG.replace('{{UPSTREAM}}', upstream.url));
  });
  after(async () => {
    await prom?.stop();
    await mp?.stop();
    await upstream?.stop();
  });

  it('/api/v1/status shows pipelines and components with state and counters, and no secrets', async () => {
    await fetch(`${mp.otlpUrl}/v1/metrics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"s","gauge":{"dataPoints":[{"asDouble":1}]}}]}]}]}',
    });
    const res = await fetch(`${mp.adminUrl}/api/v1/status`);
    expect(res.status).to.equal(200);
    const text = await res.text();
    expect(text).to.not.contain('TOPSECRET');
    const s = JSON.parse(text) as {
      version: string;
      pipelines: Array<{ id: string; receivers: string[]; exporters: string[] }>;
      receivers: Array<{ id: string; state: string }>;
      processors: Array<{ id: string; pipeline: string }>;
      exporters: Array<{ id: string; state: string }>;
    };
    expect(s.version).to.match(/^\d+\.\d+\.\d+/);
    expect(s.pipelines.map((p) => p.id)).to.deep.equal(['metrics', 'metrics/fwd']);
    expect(s.receivers.map((r) => [r.id, r.state])).to.deep.equal([['otlp', 'running']]);
    expect(s.processors.map((p) => [p.id, p.pipeline])).to.deep.equal([['batch', 'metrics']]);
    expect(s.exporters.map((e) => e.id).sort()).to.deep.equal(['nop', 'otlphttp']);
  });

  it('/healthz answers 503 naming the exporter that fails hard (its upstream is down, retries off), others healthy', async () => {
    const { waitFor } = await import('../harness/ports.js');
    let h: { status: string; components: Array<{ id: string; healthy: boolean; state: string }> } | undefined;
    await waitFor(
      async () => {
        const res = await fetch(`${mp.adminUrl}/healthz`);
        h = (await res.json()) as typeof h;
        return res.status === 503;
      },
      { timeoutMs: 10_000, what: '/healthz 503 after the failed export' },
    );
    expect(h!.status).to.equal('unhealthy');
    expect(h!.components.length).to.equal(4);
    expect(h!.components.filter((c) => !c.healthy).map((c) => c.id)).to.deep.equal(['otlphttp']);
    expect(h!.components.every((c) => c.state === 'running')).to.equal(true);
    const st = await (await fetch(`${mp.adminUrl}/api/v1/status`)).text();
    expect(upstream.connections(), "the exporter reached the test's upstream").to.be.greaterThan(0);
    expect(st).to.match(new RegExp(`"last_error":"[^"]*127\\.0\\.0\\.1:${upstream.port}`));
    expect(st).to.not.contain('TOPSECRET');
  });

  it('/metrics passes promtool check metrics and counts what was received and sent', async () => {
    const text = await (await fetch(`${mp.adminUrl}/metrics`)).text();
    expect(text).to.not.contain('TOPSECRET');
    const check = await promtoolCheckMetrics(text);
    expect(check.ok, check.output).to.equal(true);
    expect(text).to.match(/metricport_receiver_accepted_items_total\{[^}]*receiver="otlp"[^}]*\} [1-9]/);
    expect(text).to.match(/metricport_exporter_sent_items_total\{[^}]*exporter="nop"[^}]*\} [1-9]/);
    expect(text).to.match(/metricport_receiver_request_duration_seconds_bucket/);
    expect(text).to.match(/metricport_exporter_queue_size/);
  });

  it('a real Prometheus scrapes /metrics and sees the counters', async () => {
    prom = await startPrometheus({ scrapeTargets: [{ target: `127.0.0.1:${mp.adminPort}` }], scrapeInterval: '1s' });
    const { waitFor } = await import('../harness/ports.js');
    let value = 0;
    await waitFor(
      async () => {
        const r = await prom!.queryValues('sum(metricport_receiver_accepted_items_total{receiver="otlp"})');
        value = r[0]?.value ?? 0;
        return value >= 1;
      },
      { timeoutMs: 30_000, what: 'Prometheus to scrape metricport_receiver_accepted_items_total' },
    );
    expect(value).to.be.at.least(1);
  });
});

describe('admin: the general status hides pull-store URLs (they carry the token)', () => {
  it('redactStoreUrls keeps host and scheme, replaces the path', async () => {
    const { redactStoreUrls } = await import('../../src/admin.js');
    const st = redactStoreUrls({ exporters: [{ id: 'prometheus', store: { url: 'https://h:9464/SECRET-tok/metrics', mode: 'pull' } }, { id: 'nop' }] });
    expect(JSON.stringify(st)).to.not.contain('SECRET-tok');
    expect((st.exporters as Array<{ store?: { url: string } }>)[0]!.store!.url).to.equal('https://h:9464/[REDACTED]');
    expect((st.exporters as unknown[])[1]).to.deep.equal({ id: 'nop' });
  });
});
