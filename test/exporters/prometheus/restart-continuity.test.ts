/**
 * Issue 15 item 4 (single instance): restarting metricport keeps its
 * counters continuous for a real Prometheus. The built service (otlp → two
 * prometheus stores) runs as a child process with a state directory that
 * survives the restart; Prometheus scrapes both stores every second. The
 * store with checkpoints (`checkpoint_interval`, the default 30 s, plus the
 * write at shutdown) shows `resets() == 0` over the whole run and the exact
 * total; the control store with `checkpoint_interval: 0` shows the restart as
 * the one reset it used to be (so the test can tell the difference).
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from '../../e2e/metricport.js';
import { startPrometheus, usePeer, type PrometheusPeer } from '../../harness/peers.js';
import { freePort, waitFor } from '../../harness/ports.js';
import { recordForScan } from '../../secretscan.js';

const S1 = 1_700_000_000_000_000_000n;
const SEC = 1_000_000_000n;
const TOKEN = 'continuity0test0token0abcdef0123';
const CONTROL = 'continuity0test0control0abcdef01';

describe('prometheus store: a restart is not a counter reset (checkpointed running totals, real Prometheus)', function () {
  this.timeout(180_000);
  let dir: string;
  let prom: PrometheusPeer | undefined;
  let proc: ChildProcess | undefined;
  let out = '';
  let otlpPort: number;
  let adminPort: number;
  let port: number;
  let controlPort: number;
  let sent = 0;

  const start = async () => {
    proc = spawn(
      process.execPath,
      [BIN, 'run', '--config', join(dir, 'config.yaml'), '--admin-endpoint', `127.0.0.1:${adminPort}`, '--state-dir', join(dir, 'state')],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, METRICPORT_LOG_LEVEL: 'info' } },
    );
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    proc.stderr!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const p = proc;
    await waitFor(
      async () => {
        try {
          return (await fetch(`http://127.0.0.1:${adminPort}/healthz`)).status === 200;
        } catch {
          return false;
        }
      },
      {
        timeoutMs: 20_000,
        what: 'metricport /healthz 200',
        abortIf: () => {
          if (p.exitCode !== null) throw new Error(`metricport exited:\n${out}`);
        },
      },
    );
  };
  const stop = async () => {
    const p = proc;
    if (p === undefined || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  };
  const post = async (v: number) => {
    const i = sent++;
    const body = JSON.stringify({
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] },
          scopeMetrics: [
            {
              scope: { name: 'shop.lib' },
              metrics: [
                {
                  name: 'orders',
                  unit: '',
                  sum: {
                    aggregationTemporality: 1,
                    isMonotonic: true,
                    dataPoints: [{ asInt: String(v), startTimeUnixNano: String(S1 + BigInt(i) * SEC), timeUnixNano: String(S1 + BigInt(i + 1) * SEC) }],
                  },
                },
              ],
            },
          ],
        },
      ],
    });
    const r = await fetch(`http://127.0.0.1:${otlpPort}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(r.status, await r.text()).to.equal(200);
  };
  const value = async (q: string): Promise<number | undefined> => (await prom!.queryValues(q))[0]?.value;
  const until = async (q: string, want: number) => {
    let last: number | undefined;
    await waitFor(
      async () => {
        last = await value(q);
        return last === want;
      },
      { timeoutMs: 30_000, intervalMs: 250, what: `${q} == ${want} (last ${last})` },
    );
  };

  before(async function () {
    await usePeer(this, 'prometheus');
    dir = mkdtempSync(join(tmpdir(), 'mp-continuity-'));
    [otlpPort, adminPort, port, controlPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    writeFileSync(
      join(dir, 'config.yaml'),
      `
receivers:
  otlp: { protocols: { http: { endpoint: "127.0.0.1:${otlpPort}" } } }
exporters:
  prometheus:
    endpoint: "127.0.0.1:${port}"
    token: "${TOKEN}"
  prometheus/control:
    endpoint: "127.0.0.1:${controlPort}"
    token: "${CONTROL}"
    checkpoint_interval: 0
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheus, prometheus/control] }
`,
    );
    await start();
    prom = await startPrometheus({
      scrapeTargets: [
        { target: `127.0.0.1:${port}`, metricsPath: `/${TOKEN}/metrics`, job: 'checkpointed' },
        { target: `127.0.0.1:${controlPort}`, metricsPath: `/${CONTROL}/metrics`, job: 'control' },
      ],
      scrapeInterval: '1s',
    });
  });
  after(async () => {
    await prom?.stop();
    await stop();
    recordForScan('metricport output', out);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('resets() stays 0 across a restart and the total is exact; without checkpoints the restart is one reset', async () => {
    for (let i = 0; i < 10; i++) await post(5);
    await until('orders_total{job="checkpointed"}', 50);
    await until('orders_total{job="control"}', 50);

    await stop();
    expect(out).not.to.contain(TOKEN);
    await start();
    expect(out).to.match(/prometheus store prometheus: running totals of \d+ series restored from the checkpoint/);
    // one point, scraped by Prometheus, before the rest: the control's drop to 5 is then seen
    await post(5);
    await until('orders_total{job="control"}', 5);
    await until('orders_total{job="checkpointed"}', 55);
    for (let i = 0; i < 9; i++) await post(5);
    await until('orders_total{job="checkpointed"}', 100);
    await until('orders_total{job="control"}', 50); // restarted from zero: 10 × 5 again

    expect(await value('resets(orders_total{job="checkpointed"}[10m])')).to.equal(0);
    expect(await value('resets(orders_total{job="control"}[10m])')).to.equal(1);
    const status = (await (await fetch(`http://127.0.0.1:${adminPort}/api/v1/status`)).json()) as {
      exporters: Array<{ id: string; checkpoint?: { restored: { series: number } | null } }>;
    };
    expect(status.exporters.find((e) => e.id === 'prometheus')?.checkpoint?.restored?.series).to.be.greaterThan(0);
    expect(status.exporters.find((e) => e.id === 'prometheus/control')?.checkpoint?.restored).to.equal(null);
  });
});
