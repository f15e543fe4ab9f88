/**
 * Hot reload under load: a client sends continuously while the config is
 * reloaded 10 times (POST /api/v1/reload and SIGHUP, alternately), adding and
 * removing an exporter and changing a processor; an invalid config in between
 * is rejected with every error's key path and changes nothing. The file
 * exporter that stays unchanged (same instance) receives every point exactly
 * once, and no request fails.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { decodeMetricsJson } from '../../src/otlp/json.js';
import { freePort, waitFor } from '../harness/ports.js';
import { startMetricport, type Started } from './metricport.js';

const POINTS_PER_REQUEST = 10;

function body(seq: number): string {
  return JSON.stringify({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'reload' } }] },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'reload.points',
                sum: {
                  aggregationTemporality: 2,
                  isMonotonic: true,
                  dataPoints: Array.from({ length: POINTS_PER_REQUEST }, (_, i) => ({
                    asInt: '1',
                    timeUnixNano: '1700000000123456789',
                    attributes: [{ key: 'seq', value: { intValue: String(seq * POINTS_PER_REQUEST + i) } }],
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

/** variant i: batch timeout alternates (processor changed); an extra file exporter and debug come and go */
function config(otlp: string, dir: string, i: number): string {
  const extra = i % 2 === 1;
  return `
receivers:
  otlp: { protocols: { http: { endpoint: "${otlp}" } } }
processors:
  batch: { timeout: ${i % 3 === 0 ? '50ms' : i % 3 === 1 ? '120ms' : '0s'}, send_batch_size: ${100 + i} }
exporters:
  file/keep: { path: "${dir}/out/keep.jsonl", flush_interval: 0s }
  file/extra: { path: "${dir}/out/extra-${i}.jsonl" }
  debug: { verbosity: basic }
service:
  pipelines:
    metrics: { receivers: [otlp], processors: [batch], exporters: [file/keep${extra ? ', file/extra, debug' : ''}] }
`;
}

describe('e2e: hot reload under load', function () {
  this.timeout(90_000);

  it('10 reloads while a client sends: no request fails, every point reaches the unchanged file exporter exactly once', async () => {
    const mp = await startMetricport(config('{{OTLP}}', '{{DIR}}', 0));
    const cfgFile = join(mp.dir, 'config.yaml');
    const otlp = `127.0.0.1:${mp.otlpPort}`;
    let stop = false;
    let seq = 0;
    let acked = 0;
    const failures: string[] = [];
    const sender = async () => {
      while (!stop) {
        const s = seq++;
        try {
          const r = await fetch(`${mp.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(s) });
          await r.arrayBuffer();
          if (r.status === 200) acked++;
          else failures.push(`request ${s}: HTTP ${r.status}`);
        } catch (e) {
          failures.push(`request ${s}: ${(e as Error).message}`);
        }
      }
    };
    const senders = [sender(), sender(), sender(), sender()];
    try {
      const summaries: Array<{ added: string[]; removed: string[]; kept: string[] }> = [];
      for (let i = 1; i <= 10; i++) {
        const before = acked;
        await waitFor(() => acked >= before + 20, { timeoutMs: 10_000, what: `20 requests acknowledged before reload ${i}` });
        writeFileSync(cfgFile, config(otlp, mp.dir, i));
        if (i % 2 === 0) {
          const res = await fetch(`${mp.adminUrl}/api/v1/reload`, { method: 'POST' });
          const j = (await res.json()) as { status: string; added: string[]; removed: string[]; kept: string[] };
          expect(res.status, JSON.stringify(j)).to.equal(200);
          expect(j.status).to.equal('reloaded');
          summaries.push(j);
        } else {
          const n = summaries.length;
          mp.proc.kill('SIGHUP');
          await waitFor(
            async () => {
              const st = (await (await fetch(`${mp.adminUrl}/api/v1/status`)).json()) as { reloads: number };
              return st.reloads === i;
            },
            { timeoutMs: 10_000, what: `reload ${i} applied (SIGHUP)` },
          );
          expect(summaries).to.have.length(n);
        }
        if (i === 5) {
          // an invalid config: rejected with every error's key path; nothing changes
          writeFileSync(cfgFile, config(otlp, mp.dir, i).replace('send_batch_size: 105', 'send_batch_size: -1').replace('verbosity: basic', 'verbosity: loud'));
          const res = await fetch(`${mp.adminUrl}/api/v1/reload`, { method: 'POST' });
          const j = (await res.json()) as { status: string; errors: Array<{ path: string; message: string }> };
          expect(res.status).to.equal(400);
          expect(j.status).to.equal('rejected');
          expect(j.errors.map((e) => e.path).sort()).to.deep.equal(['exporters.debug.verbosity', 'processors.batch.send_batch_size']);
          mp.proc.kill('SIGHUP');
          await waitFor(() => /reload rejected: the config is invalid/.test(mp.output()), { timeoutMs: 10_000, what: 'SIGHUP with an invalid config logged' });
          expect(mp.output()).to.match(/processors\.batch\.send_batch_size/);
          const st = (await (await fetch(`${mp.adminUrl}/api/v1/status`)).json()) as { reloads: number; exporters: Array<{ id: string }> };
          expect(st.reloads).to.equal(5);
          expect(st.exporters.map((e) => e.id).sort()).to.deep.equal(['debug', 'file/extra', 'file/keep']);
          writeFileSync(cfgFile, config(otlp, mp.dir, i));
        }
      }
      // the POST answers say what was kept: the receiver and the unchanged file exporter, every time
      for (const s of summaries) {
        expect(s.kept).to.include('receiver otlp');
        expect(s.kept).to.include('exporter file/keep (metrics)');
        expect(s.added).to.include('processor metrics/batch');
        expect(s.removed).to.include('processor metrics/batch');
      }
      // i even → odd: file/extra and debug were removed when going to an even config
      expect(summaries[0]!.removed).to.include.members(['exporter file/extra (metrics)', 'exporter debug (metrics)']);
      const health = await fetch(`${mp.adminUrl}/healthz`);
      expect(health.status).to.equal(200);
    } finally {
      stop = true;
      await Promise.all(senders);
    }
    expect(failures).to.deep.equal([]);
    const total = seq * POINTS_PER_REQUEST;
    expect(acked).to.equal(seq);
    // every acknowledged point is in keep.jsonl exactly once (the batch processor answers only once exported)
    const keep = join(mp.dir, 'out/keep.jsonl');
    const counts = new Map<number, number>();
    for (const line of readFileSync(keep, 'utf8').split('\n')) {
      if (line === '') continue;
      for (const rm of decodeMetricsJson(line).data.resourceMetrics)
        for (const sm of rm.scopeMetrics)
          for (const m of sm.metrics)
            for (const p of m.points) {
              const k = Number(p.attributes.seq);
              counts.set(k, (counts.get(k) ?? 0) + 1);
            }
    }
    const missing: number[] = [];
    const dup: number[] = [];
    for (let k = 0; k < total; k++) {
      const c = counts.get(k) ?? 0;
      if (c === 0) missing.push(k);
      else if (c > 1) dup.push(k);
    }
    expect({ missing: missing.slice(0, 10), dup: dup.slice(0, 10), distinct: counts.size }).to.deep.equal({ missing: [], dup: [], distinct: total });
    expect(total).to.be.greaterThan(10 * 20 * POINTS_PER_REQUEST);
    expect(await mp.stop()).to.equal(0);
  });
});

describe('e2e: a reload that fails leaves every old component serving as before', function () {
  this.timeout(60_000);
  const TOKEN_1 = 'reload-token-one-0123456789';
  const TOKEN_2 = 'reload-token-two-0123456789';

  // a test that fails must not leave its metricport behind
  const started: Started[] = [];
  afterEach(async () => {
    for (const mp of started.splice(0)) {
      if (mp.proc.exitCode === null && mp.proc.signalCode === null) mp.proc.kill('SIGKILL');
      await mp.exited;
    }
  });

  /** a port held by the test (another process's listener, as far as metricport can tell) */
  async function holdPort(): Promise<{ port: number; close(): Promise<void> }> {
    const srv = createServer((s) => s.destroy());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return { port: (srv.address() as AddressInfo).port, close: () => new Promise((r) => srv.close(() => r())) };
  }
  const config = (otlp: string, promPort: number, token: string) => `
receivers:
  otlp: { protocols: { http: { endpoint: "${otlp}" } } }
exporters:
  prometheus: { endpoint: "127.0.0.1:${promPort}", token: ${token} }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [prometheus] }
`;
  const gauge = (name: string, v: number) =>
    JSON.stringify({
      resourceMetrics: [
        { scopeMetrics: [{ metrics: [{ name, gauge: { dataPoints: [{ asInt: String(v), timeUnixNano: String(BigInt(Date.now()) * 1_000_000n) }] } }] }] },
      ],
    });

  async function setup() {
    const promPort = await freePort();
    const mp = await startMetricport(config('{{OTLP}}', promPort, TOKEN_1));
    started.push(mp);
    const send = (name: string, v: number) =>
      fetch(`${mp.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: gauge(name, v) }).then(async (r) => {
        await r.arrayBuffer();
        return r.status;
      });
    const scrape = async (token: string) => {
      const r = await fetch(`http://127.0.0.1:${promPort}/${token}/metrics`);
      return { status: r.status, body: await r.text() };
    };
    const stores = async () =>
      ((await (await fetch(`${mp.adminUrl}/api/v1/stores`)).json()) as { stores: Array<{ name: string; state: string; url: string }> }).stores;
    const reload = async () => {
      const r = await fetch(`${mp.adminUrl}/api/v1/reload`, { method: 'POST' });
      return { status: r.status, body: (await r.json()) as { status: string; error: string } };
    };
    const healthz = async () => (await fetch(`${mp.adminUrl}/healthz`)).status;
    const write = (text: string) => writeFileSync(join(mp.dir, 'config.yaml'), text);
    expect(await send('before.reload', 7)).to.equal(200);
    expect((await scrape(TOKEN_1)).body).to.match(/^before_reload 7$/m);
    return { mp, promPort, send, scrape, stores, reload, healthz, write, storesBefore: await stores() };
  }

  it('the OTLP receiver moved to a port another process holds: 409, the old port keeps answering, healthy', async () => {
    const t = await setup();
    const busy = await holdPort();
    try {
      t.write(config(`127.0.0.1:${busy.port}`, t.promPort, TOKEN_1));
      const r = await t.reload();
      expect(r.status).to.equal(409);
      expect(r.body.error).to.match(
        new RegExp(
          `^reload failed, the previous config keeps running: receiver "otlp" failed to start: .*127\\.0\\.0\\.1:${busy.port}: address already in use`,
        ),
      );
      expect(await t.send('after.reload', 8)).to.equal(200);
      expect(await t.healthz()).to.equal(200);
      const st = (await (await fetch(`${t.mp.adminUrl}/api/v1/status`)).json()) as { reloads: number; receivers: Array<{ id: string; state: string }> };
      expect(st.receivers.map((x) => `${x.id} ${x.state}`)).to.deep.equal(['otlp running']);
      expect(st.reloads).to.equal(0);
      expect((await t.scrape(TOKEN_1)).body).to.match(/^after_reload 8$/m);
      // the old instance was never touched (the log line of the failure comes after any retry's)
      await waitFor(() => /reload failed; the previous config keeps running/.test(t.mp.output()), { timeoutMs: 5_000, what: 'the reload failure logged' });
      expect(t.mp.output()).not.to.match(/stopping the old one first/);
    } finally {
      await busy.close();
    }
    expect(await t.mp.stop()).to.equal(0);
  });

  it('the prometheus store moved to a port another process holds: 409 (not "reloaded"), the same URL, the old endpoint still serves what it held', async () => {
    const t = await setup();
    const busy = await holdPort();
    try {
      t.write(config(`127.0.0.1:${t.mp.otlpPort}`, busy.port, TOKEN_1));
      const r = await t.reload();
      expect(r.status).to.equal(409);
      expect(r.body.error).to.match(new RegExp(`exporter "prometheus" failed to start: .*127\\.0\\.0\\.1:${busy.port}.*address already in use`));
      expect(await t.stores()).to.deep.equal(t.storesBefore);
      expect(t.storesBefore[0]!.url).to.equal(`http://127.0.0.1:${t.promPort}/${TOKEN_1}/metrics`);
      // the same instance: the value ingested before the reload is still there
      expect((await t.scrape(TOKEN_1)).body).to.match(/^before_reload 7$/m);
      expect(await t.healthz()).to.equal(200);
    } finally {
      await busy.close();
    }
    expect(await t.mp.stop()).to.equal(0);
  });

  it('a store replaced on its own port (stopped to make room) is restarted from its old config when a later component fails', async () => {
    const t = await setup();
    const busy = await holdPort();
    try {
      // the new prometheus (new token, same port) starts after the old one is stopped; then the receiver cannot
      t.write(config(`127.0.0.1:${busy.port}`, t.promPort, TOKEN_2));
      const r = await t.reload();
      expect(r.status).to.equal(409);
      expect(r.body.error).to.match(/receiver "otlp" failed to start/);
      await waitFor(() => /"id":"prometheus","msg":"reload failed: the old instance was restarted from its old config"/.test(t.mp.output()), {
        timeoutMs: 5_000,
        what: 'the old prometheus store restarted',
      });
      // the old token's URL serves again on the old port; the new token's is unknown
      expect((await t.scrape(TOKEN_1)).status).to.equal(200);
      expect((await t.scrape(TOKEN_2)).status).to.equal(404);
      const pick = (x: Array<{ name: string; state: string; url: string }>) => x.map((y) => ({ name: y.name, state: y.state, url: y.url }));
      expect(pick(await t.stores())).to.deep.equal(pick(t.storesBefore));
      expect(await t.healthz()).to.equal(200);
      expect(await t.send('after.restore', 9)).to.equal(200);
      expect((await t.scrape(TOKEN_1)).body).to.match(/^after_restore 9$/m);
    } finally {
      await busy.close();
    }
    expect(await t.mp.stop()).to.equal(0);
  });
});
