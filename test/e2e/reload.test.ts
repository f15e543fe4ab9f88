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
import { join } from 'node:path';
import { decodeMetricsJson } from '../../src/otlp/json.js';
import { waitFor } from '../harness/ports.js';
import { startMetricport } from './metricport.js';

const POINTS_PER_REQUEST = 10;

function body(seq: number): string {
  return JSON.stringify({ resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'reload' } }] }, scopeMetrics: [{ metrics: [{ name: 'reload.points', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: Array.from({ length: POINTS_PER_REQUEST }, (_, i) => ({ asInt: '1', timeUnixNano: '1700000000123456789', attributes: [{ key: 'seq', value: { intValue: String(seq * POINTS_PER_REQUEST + i) } }] })) } }] }] }] });
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
          const j = await res.json() as { status: string; added: string[]; removed: string[]; kept: string[] };
          expect(res.status, JSON.stringify(j)).to.equal(200);
          expect(j.status).to.equal('reloaded');
          summaries.push(j);
        } else {
          const n = summaries.length;
          mp.proc.kill('SIGHUP');
          await waitFor(async () => {
            const st = await (await fetch(`${mp.adminUrl}/api/v1/status`)).json() as { reloads: number };
            return st.reloads === i;
          }, { timeoutMs: 10_000, what: `reload ${i} applied (SIGHUP)` });
          expect(summaries).to.have.length(n);
        }
        if (i === 5) {
          // an invalid config: rejected with every error's key path; nothing changes
          writeFileSync(cfgFile, config(otlp, mp.dir, i).replace('send_batch_size: 105', 'send_batch_size: -1').replace('verbosity: basic', 'verbosity: loud'));
          const res = await fetch(`${mp.adminUrl}/api/v1/reload`, { method: 'POST' });
          const j = await res.json() as { status: string; errors: Array<{ path: string; message: string }> };
          expect(res.status).to.equal(400);
          expect(j.status).to.equal('rejected');
          expect(j.errors.map((e) => e.path).sort()).to.deep.equal(['exporters.debug.verbosity', 'processors.batch.send_batch_size']);
          mp.proc.kill('SIGHUP');
          await waitFor(() => /reload rejected: the config is invalid/.test(mp.output()), { timeoutMs: 10_000, what: 'SIGHUP with an invalid config logged' });
          expect(mp.output()).to.match(/processors\.batch\.send_batch_size/);
          const st = await (await fetch(`${mp.adminUrl}/api/v1/status`)).json() as { reloads: number; exporters: Array<{ id: string }> };
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
      for (const rm of decodeMetricsJson(line).data.resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) for (const p of m.points) {
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
