import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeMetricsJson } from '../../src/otlp/json.js';
import { freePort, waitFor } from '../harness/ports.js';
import { startMetricport, type Started } from './metricport.js';

function body(name: string, n: number): string {
  return JSON.stringify({
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              {
                name,
                sum: {
                  aggregationTemporality: 1,
                  isMonotonic: true,
                  dataPoints: Array.from({ length: n }, (_, i) => ({
                    asInt: String(i + 1),
                    timeUnixNano: '1700000000123456789',
                    attributes: [{ key: 'i', value: { intValue: String(i) } }],
                  })),
                },
              },
            ],
          },
        ],
      },
    ],
  });
}

describe('e2e: graceful shutdown', function () {
  this.timeout(60_000);

  it('flushes data accepted before SIGTERM (held by the batch processor) to the file exporter, then exits 0', async () => {
    const mp = await startMetricport(`
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
processors:
  batch: { timeout: 60s, send_batch_size: 100000 }
exporters:
  file: { path: "{{DIR}}/out/metrics.jsonl", flush_interval: 30s }
service:
  pipelines:
    metrics: { receivers: [otlp], processors: [batch], exporters: [file] }
`);
    const out = join(mp.dir, 'out/metrics.jsonl');
    // the batch processor resolves each request only once its batch is exported; fire them and signal while they wait
    const pending = [1, 2, 3].map((k) =>
      fetch(`${mp.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(`shutdown.m${k}`, 10) }),
    );
    // wait until all three requests are inside metricport (accepted counter on /metrics)
    await waitFor(
      async () => {
        const t = await (await fetch(`${mp.adminUrl}/metrics`)).text();
        return /metricport_processor_incoming_items_total\{[^}]*\} 30\b/.test(t);
      },
      { timeoutMs: 10_000, what: '30 points inside the batch processor' },
    );
    expect(existsSync(out) ? readFileSync(out, 'utf8') : '').to.equal('');
    mp.proc.kill('SIGTERM');
    const statuses = await Promise.all(pending.map(async (p) => (await p).status));
    expect(statuses).to.deep.equal([200, 200, 200]);
    const code = await mp.exited;
    expect(code).to.equal(0);
    const lines = readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const names = lines.flatMap((l) =>
      decodeMetricsJson(l).data.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => `${m.name}:${m.points.length}`))),
    );
    expect(names.sort()).to.deep.equal(['shutdown.m1:10', 'shutdown.m2:10', 'shutdown.m3:10']);
    await mp.stop();
  });

  it('processors stop upstream first: metric-set windows flushed at SIGTERM pass through a following batch processor (none refused)', async () => {
    // events in two windows (the previous hour's is still open: allowed_lateness is one period), so the
    // shutdown flush sends two batches, the second only after the first was accepted
    const mp = await startMetricport(`
receivers:
  errors: { endpoint: "{{OTLP}}" }
processors:
  metricsets:
    period: 1h
    sets:
      - { name: A, metrics: [{ name: Errors, group_by: [app.version], group_by_defaults: { app.version: none }, aggregates: [count] }] }
  batch: { timeout: 60s }
exporters:
  file: { path: "{{DIR}}/out/metrics.jsonl", flush_interval: 0s }
service:
  pipelines:
    errors: { receivers: [errors], processors: [metricsets, batch], exporters: [file] }
`);
    const now = Date.now();
    const res = await fetch(`${mp.otlpUrl}/v1/errors`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { timestamp: now - 3_600_000, attributes: { 'app.version': '1.0' } },
        { timestamp: now, attributes: { 'app.version': '1.0' } },
        { timestamp: now, attributes: { 'app.version': '1.0' } },
        { timestamp: now, attributes: { 'app.version': '2.0' } },
      ]),
    });
    expect(res.status).to.equal(200);
    mp.proc.kill('SIGTERM');
    expect(await mp.exited).to.equal(0);
    const out = join(mp.dir, 'out/metrics.jsonl');
    const points = (existsSync(out) ? readFileSync(out, 'utf8') : '')
      .split('\n')
      .filter(Boolean)
      .flatMap((l) =>
        decodeMetricsJson(l).data.resourceMetrics.flatMap((rm) =>
          rm.scopeMetrics.flatMap((sm) =>
            sm.metrics.flatMap((m) => m.points.map((p) => `${m.name}{${String(p.attributes['app.version'])}}=${String((p as { value: unknown }).value)}`)),
          ),
        ),
      );
    expect(points.sort()).to.deep.equal(['Errors.count{1.0}=1', 'Errors.count{1.0}=2', 'Errors.count{2.0}=1']);
    expect(mp.output()).not.to.match(/downstream refused a closed window/);
    await mp.stop();
  });

  // a test that fails must not leave its metricport behind (it may be the one that does not exit)
  const started: Started[] = [];
  const track = (mp: Started) => {
    started.push(mp);
    return mp;
  };
  afterEach(async () => {
    for (const mp of started.splice(0)) {
      if (mp.proc.exitCode === null && mp.proc.signalCode === null) mp.proc.kill('SIGKILL');
      await mp.exited;
    }
  });
  /** the exit code, or 'running' if the process has not exited within `ms` */
  const exitWithin = (mp: Started, ms: number) => Promise.race([mp.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), ms).unref())]);
  /** close the reading ends of the child's stdout and stderr, as when the parent that spawned it crashes */
  const closePipes = (mp: Started) => {
    mp.proc.stdout!.destroy();
    mp.proc.stderr!.destroy();
  };

  it('SIGTERM ends the process within the deadline when the reader of its stdout/stderr has gone (EPIPE on every log line)', async () => {
    const mp = track(
      await startMetricport(
        `
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:
  debug: {}
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [debug] }
`,
        { args: ['--shutdown-timeout', '3s'] },
      ),
    );
    closePipes(mp);
    // the first line to fail (EPIPE) is the shutdown's own: it is still in flight when the last lines are
    // logged and the process exits (pino's destination then retried the write to the closed pipe forever)
    const t0 = Date.now();
    mp.proc.kill('SIGTERM');
    expect(await exitWithin(mp, 5_000)).to.equal(0);
    expect(Date.now() - t0).to.be.below(3_000);
    await mp.stop();
  });

  /**
   * metricport with one point accepted for an OTLP store that accepts
   * connections and never answers, so its drain is stuck for the whole
   * shutdown; `close()` releases the store
   */
  async function startStuck(shutdownTimeout: string): Promise<{ mp: Started; close(): void }> {
    const sockets: Array<{ destroy(): void }> = [];
    const black: Server = createServer(() => {
      /* never respond */
    });
    black.on('connection', (s) => sockets.push(s));
    const port = await freePort();
    await new Promise<void>((r) => black.listen(port, '127.0.0.1', r));
    const close = () => {
      sockets.forEach((s) => s.destroy());
      black.close();
    };
    try {
      const mp = track(
        await startMetricport(
          `
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:
  otlphttp: { endpoint: "http://127.0.0.1:${port}", timeout: 60s, sending_queue: { enabled: true }, retry_on_failure: { enabled: true } }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [otlphttp] }
`,
          { args: ['--shutdown-timeout', shutdownTimeout] },
        ),
      );
      const res = await fetch(`${mp.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body('stuck', 1) });
      expect(res.status).to.equal(200);
      return { mp, close };
    } catch (e) {
      close();
      throw e;
    }
  }

  it('with its pipes closed and a flush stuck, a second SIGTERM still exits at once', async () => {
    const { mp, close } = await startStuck('60s');
    try {
      closePipes(mp);
      // a line logged now goes nowhere: dropped and counted, the reload still answers
      expect((await fetch(`${mp.adminUrl}/api/v1/reload`, { method: 'POST' })).status).to.equal(200);
      await waitFor(async () => /^metricport_log_dropped_lines_total [1-9]/m.test(await (await fetch(`${mp.adminUrl}/metrics`)).text()), {
        timeoutMs: 5_000,
        what: 'metricport_log_dropped_lines_total ≥ 1',
      });
      mp.proc.kill('SIGTERM');
      // the receiver is closed once the shutdown has begun (the log saying so goes nowhere now)
      await waitFor(
        async () => {
          try {
            await fetch(`${mp.otlpUrl}/v1/metrics`, { method: 'POST', body: '{}' });
            return false;
          } catch {
            return true;
          }
        },
        { timeoutMs: 5_000, what: 'the OTLP receiver closed by the shutdown' },
      );
      const t0 = Date.now();
      mp.proc.kill('SIGTERM');
      expect(await exitWithin(mp, 5_000)).to.equal(1);
      expect(Date.now() - t0).to.be.below(2_000);
      await mp.stop();
    } finally {
      close();
    }
  });

  it('the whole shutdown ends by --shutdown-timeout while a store never answers (pipes closed too)', async () => {
    const { mp, close } = await startStuck('2s');
    try {
      closePipes(mp);
      const t0 = Date.now();
      mp.proc.kill('SIGTERM');
      expect(await exitWithin(mp, 6_000)).to.be.oneOf([0, 1]);
      expect(Date.now() - t0).to.be.below(2_000 + 750);
      await mp.stop();
    } finally {
      close();
    }
  });

  it('a second signal exits at once even while a flush is stuck', async () => {
    const { mp, close } = await startStuck('60s');
    try {
      mp.proc.kill('SIGTERM');
      const t0 = Date.now();
      await waitFor(() => mp.output().includes('shutting down'), { timeoutMs: 5_000, what: 'shutting down log' });
      mp.proc.kill('SIGTERM');
      const code = await mp.exited;
      expect(code).to.equal(1);
      expect(Date.now() - t0).to.be.below(10_000);
      await mp.stop();
    } finally {
      close();
    }
  });
});
