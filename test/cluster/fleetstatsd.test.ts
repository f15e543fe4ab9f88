/**
 * StatsD with scope: cluster, end to end: three replicas of the built service
 * in one cluster (real nats-server), a hot-shots client per replica sending a
 * round-robin third of counters, timers and sets over UDP, and one single
 * instance (no cluster) receiving every line; each writes what it exports to
 * a file. For every flush window the replicas together exported each series
 * exactly once, with the single instance's values: counter sums, timer
 * histograms (count, sum, min, max, buckets) and percentiles (exact samples
 * merged), set sizes (union of members).
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import StatsD from 'hot-shots';
import { startNats, usePeer, type NatsPeer } from '../harness/peers.js';
import { waitFor } from '../harness/ports.js';
import { startMetricport, type Started } from '../e2e/metricport.js';
import { clusterView, clusterYaml } from './fleethelpers.js';

const FLUSH_MS = 2000;

function config(file: string, cluster: string): string {
  return `receivers:
  statsd: { udp: { endpoint: "{{OTLP}}" }, flush_interval: ${FLUSH_MS}ms, scope: cluster, cluster_wait: 3s, keep_gauges: false }
exporters:
  file: { path: "${file}", flush_interval: 0s }
service:
  pipelines:
    metrics: { receivers: [statsd], exporters: [file] }
${cluster}`;
}

/** `name|attrs|time` → the point's values (sum/gauge value, or histogram count, sum, min, max, buckets), and how often it was exported */
function points(files: string[]): Map<string, { v: string; n: number }> {
  const out = new Map<string, { v: string; n: number }>();
  for (const f of files) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (line === '') continue;
      const req = JSON.parse(line) as {
        resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<Record<string, { dataPoints?: Array<Record<string, unknown>> }> & { name: string }> }> }>;
      };
      for (const rm of req.resourceMetrics)
        for (const sm of rm.scopeMetrics)
          for (const m of sm.metrics) {
            const data = (m.sum ?? m.gauge ?? m.histogram)!;
            for (const p of data.dataPoints ?? []) {
              const k = `${m.name}|${JSON.stringify(p.attributes ?? [])}|${String(p.timeUnixNano)}`;
              const v = JSON.stringify([p.asDouble ?? p.asInt, p.count, p.sum, p.min, p.max, p.bucketCounts]);
              const cur = out.get(k);
              out.set(k, { v, n: (cur?.n ?? 0) + 1 });
            }
          }
    }
  }
  return out;
}

function udpPort(m: Started): number {
  return m.otlpPort;
}

describe('statsd scope: cluster: counters, timers and sets over replicas equal one statsd', function () {
  this.timeout(120_000);
  let nats: NatsPeer | undefined;
  const procs: Started[] = [];
  let out = '';
  before(async function () {
    await usePeer(this, 'nats');
    nats = await startNats();
    out = mkdtempSync(join(tmpdir(), 'mp-fleet-statsd-'));
  });
  after(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop()));
    await nats?.stop();
    rmSync(out, { recursive: true, force: true });
  });

  it("three replicas, a third of the lines each: one series per window, the single instance's values", async () => {
    const replicas = await Promise.all(['a', 'b', 'c'].map((id) => startMetricport(config(join(out, `${id}.jsonl`), clusterYaml([nats!.url], id)))));
    procs.push(...replicas);
    const single = await startMetricport(config(join(out, 'single.jsonl'), ''));
    procs.push(single);
    await waitFor(
      async () => {
        for (const m of replicas) {
          const v = await clusterView(m);
          if (!v.ready || (v.fleet?.statsd?.publishers?.length ?? 0) !== 3) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, what: 'three replicas joined, each publishing' },
    );
    const clients = replicas.map(
      (m) =>
        new StatsD({
          host: '127.0.0.1',
          port: udpPort(m),
          errorHandler: (e) => {
            throw e;
          },
        }),
    );
    const ref = new StatsD({
      host: '127.0.0.1',
      port: udpPort(single),
      errorHandler: (e) => {
        throw e;
      },
    });
    let seq = 0;
    let r = 7;
    const rand = (n: number) => {
      r = (Math.imul(r, 1664525) + 1013904223) >>> 0;
      return r % n;
    };
    // four windows; lines only in the middle of each window (arrival time decides the window: never near its edges)
    for (let w = 0; w < 4; w++) {
      const now = Date.now();
      const start = Math.ceil(now / FLUSH_MS) * FLUSH_MS;
      await new Promise((res) => setTimeout(res, start + 500 - now));
      while (Date.now() < start + 1400) {
        for (let i = 0; i < 10; i++) {
          const c = clients[seq++ % 3]!;
          const route = `r${rand(3)}`;
          const inc = 1 + rand(5);
          const ms = rand(500);
          const user = `u${rand(80)}`;
          for (const x of [c, ref]) {
            x.increment('api.hits', inc, { route });
            x.timing('api.latency', ms, { route });
            x.set('api.users', user);
          }
        }
        await new Promise((res) => setTimeout(res, 20));
      }
    }
    const files = ['a', 'b', 'c'].map((id) => join(out, `${id}.jsonl`));
    let want = new Map<string, { v: string; n: number }>();
    let got = new Map<string, { v: string; n: number }>();
    await waitFor(
      () => {
        want = points([join(out, 'single.jsonl')]);
        got = points(files);
        return want.size > 0 && got.size === want.size && [...want.keys()].filter((k) => k.startsWith('api.hits|')).length >= 4 * 3;
      },
      { timeoutMs: 30_000, intervalMs: 300, what: 'every window flushed by the single instance and merged by the replicas' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}: single ${want.size} points, replicas ${got.size}`);
    });
    const twice = [...got].filter(([, x]) => x.n > 1).map(([k]) => k);
    expect(twice, 'series exported by more than one replica').to.deep.equal([]);
    const diff = [...want].filter(([k, x]) => got.get(k)?.v !== x.v).map(([k, x]) => `${k}: single ${x.v}, fleet ${got.get(k)?.v}`);
    expect(diff).to.deep.equal([]);
    for (const x of [...clients, ref]) await new Promise<void>((res) => x.close(() => res()));
    const names = new Set([...want.keys()].map((k) => k.split('|')[0]));
    for (const n of ['api.hits', 'api.latency', 'api.latency.p50', 'api.latency.p99', 'api.users']) expect(names.has(n), n).to.equal(true);
  });
});
