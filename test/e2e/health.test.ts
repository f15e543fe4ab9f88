/**
 * /healthz and stores that refuse connections (defect: it stayed 200 while
 * every store had been refusing for many periods). The built service, two
 * push stores (influxdb over HTTP, graphite over TCP) pointed at ports with
 * nothing listening, `period: 1s`: once data has waited 3 periods without a
 * successful send, /healthz is 503 naming both (the receiver keeps
 * accepting); when the ports answer, the data arrives and /healthz is 200.
 */
import { expect } from 'chai';
import { createServer as createHttp, type Server as HttpServer } from 'node:http';
import { createServer as createTcp, type Server as TcpServer } from 'node:net';
import { freePort, waitFor } from '../harness/ports.js';
import { startMetricport, type Started } from './metricport.js';

describe('e2e: /healthz turns 503 when every store has been refusing connections for 3 periods', function () {
  this.timeout(60_000);
  let mp: Started | undefined;
  let http: HttpServer | undefined;
  let tcp: TcpServer | undefined;
  after(async () => {
    await mp?.stop();
    if (http !== undefined) {
      http.closeAllConnections();
      await new Promise((r) => http!.close(r));
    }
    if (tcp !== undefined) await new Promise((r) => tcp!.close(r));
  });

  it('503 naming both stores after 3 periods with data waiting; 200 once they accept, everything delivered', async () => {
    const influxPort = await freePort();
    const carbonPort = await freePort();
    mp = await startMetricport(`
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:
  influxdb:
    endpoint: "http://127.0.0.1:${influxPort}"
    db: health
    period: 1s
    compression: none
    retry_on_failure: { initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 0s }
  graphite:
    host: 127.0.0.1
    port: ${carbonPort}
    period: 1s
    retry_on_failure: { initial_interval: 100ms, max_interval: 200ms, max_elapsed_time: 0s }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [influxdb, graphite] }
`);
    const post = async (): Promise<number> =>
      (
        await fetch(`${mp!.otlpUrl}/v1/metrics`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            resourceMetrics: [
              {
                scopeMetrics: [
                  { metrics: [{ name: 'health_probe', gauge: { dataPoints: [{ asDouble: 1, timeUnixNano: String(BigInt(Date.now()) * 1_000_000n) }] } }] },
                ],
              },
            ],
          }),
        })
      ).status;
    expect(await post()).to.equal(200);
    const t0 = Date.now();
    let h: { status: string; components: Array<{ id: string; healthy: boolean }> } | undefined;
    await waitFor(
      async () => {
        const res = await fetch(`${mp!.adminUrl}/healthz`);
        h = (await res.json()) as typeof h;
        return res.status === 503;
      },
      { timeoutMs: 15_000, intervalMs: 100, what: '/healthz 503 while both stores refuse connections' },
    );
    // the first flush is ~1 s after the post (+ lateness), then 3 periods
    expect(Date.now() - t0).to.be.at.least(3_000);
    expect(h!.status).to.equal('unhealthy');
    expect(
      h!.components
        .filter((c) => !c.healthy)
        .map((c) => c.id)
        .sort(),
    ).to.deep.equal(['graphite', 'influxdb']);
    const st = (await (await fetch(`${mp.adminUrl}/api/v1/status`)).json()) as {
      exporters: Array<{ id: string; last_error: string; failing_since: string | null }>;
    };
    for (const e of st.exporters) {
      expect(e.last_error, e.id).to.match(/ECONNREFUSED/);
      expect(e.failing_since, e.id).to.be.a('string');
    }
    expect(await post(), 'the receiver keeps accepting (the queues have room)').to.equal(200);

    // the stores come up on their ports
    const influxLines: string[] = [];
    http = createHttp((req, res) => {
      let b = '';
      req.on('data', (d) => {
        b += d;
      });
      req.on('end', () => {
        influxLines.push(...b.split('\n').filter(Boolean));
        res.writeHead(204);
        res.end();
      });
    });
    await new Promise<void>((r) => http!.listen(influxPort, '127.0.0.1', () => r()));
    const carbonLines: string[] = [];
    tcp = createTcp((c) => {
      let b = '';
      c.on('data', (d) => {
        b += d;
        const parts = b.split('\n');
        b = parts.pop()!;
        carbonLines.push(...parts);
      });
    });
    await new Promise<void>((r) => tcp!.listen(carbonPort, '127.0.0.1', () => r()));
    await waitFor(async () => (await fetch(`${mp!.adminUrl}/healthz`)).status === 200, {
      timeoutMs: 15_000,
      intervalMs: 100,
      what: '/healthz 200 once the stores accept',
    });
    await waitFor(() => influxLines.length >= 1 && carbonLines.length >= 1, { timeoutMs: 10_000, what: 'the waiting points at both stores' });
    expect(influxLines[0]).to.match(/^health_probe/);
    expect(carbonLines[0]).to.match(/^health_probe/);
  });
});
