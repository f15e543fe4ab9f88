/**
 * Scenario `cluster` (`npm run bench -- --scenario cluster`): fleet-wide
 * metric sets (scope: cluster, docs/cluster.md), in one process against a
 * real nats-server with JetStream: four ClusterNodes, each with a metricsets
 * processor (scope: cluster, 10,000 groups: count, unique(guid), sum(ms),
 * max(ms)) whose merged output goes to a sink that records when each
 * window's points arrive.
 *
 * Two windows: in the first every publisher consumes `--events` (default
 * 1,000,000) events, in the second a tenth of that, over the same 10,000
 * groups. Per window: messages and bytes of partials published (goal
 * ≤ 2 × groups × publishers messages, and the same for both windows: the
 * traffic does not follow the event count), everything the NATS server
 * received meanwhile (/varz, KV heartbeats included), the delay from window
 * close (end + allowed_lateness) to the last merged point at the sink (goal
 * ≤ lateness + 2 s; anchor: the lateness), the merged count equal to every
 * event consumed. Per instance: events/s of consume() with scope cluster
 * against a scope local processor fed the same events alternately in the
 * same run (a fresh one per feed; goal ≥ 90 %), and the time each spends closing a window (local:
 * build + hand downstream; cluster: encode + queue on disk).
 *
 * The four publishers consume the same event array (the uniques of a group
 * are then the same on every publisher: the merge is a union of equal sets).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Consumer, CreateSettings, Host } from '../src/component.js';
import { validateSchema } from '../src/config/schema.js';
import { clusterSchema, type ClusterConfig } from '../src/cluster/config.js';
import { ClusterNode } from '../src/cluster/node.js';
import { silentLogger } from '../src/logger.js';
import type { Event } from '../src/model/events.js';
import type { MetricsBatch, NumberDataPoint } from '../src/model/metrics.js';
import { ServiceTelemetry } from '../src/telemetry.js';
import { compileMetricSets, metricsetsConfigSchema, type MetricSetsConfig } from '../processors/metricsets/config.js';
import { MetricSetsProcessor } from '../processors/metricsets/processor.js';
import { startNats } from '../test/harness/peers.js';
import { writeSection } from './docsection.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const EVENTS = opt('events', 1_000_000);
const GROUPS = opt('groups', 10_000);
const PUBLISHERS = 4;
const PERIOD_MS = opt('period', 45) * 1000;
const LATENESS_MS = 3000;
const PARTITIONS = 16;
const WRITE = !args.includes('--no-write');
const BATCH = 1000;

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function setsConfig(scope: 'local' | 'cluster'): MetricSetsConfig {
  const r = validateSchema(
    metricsetsConfigSchema,
    {
      period: `${PERIOD_MS}ms`,
      allowed_lateness: `${LATENESS_MS}ms`,
      cluster_wait: '10s',
      zero_fill: false,
      scope,
      max_groups: GROUPS,
      sets: [{ name: 'Bench', metrics: [{ name: 'ByGroup', group_by: ['g'], aggregates: ['count', 'unique(guid)', 'sum(ms)', 'max(ms)'] }] }],
    },
    '',
  );
  return r.value as unknown as MetricSetsConfig;
}

function events(n: number, windowStartMs: number): Event[][] {
  const out: Event[][] = [];
  const base = BigInt(windowStartMs) * 1_000_000n;
  const span = BigInt(PERIOD_MS - 1000) * 1_000_000n;
  for (let i = 0; i < n; i += BATCH) {
    const b: Event[] = [];
    for (let j = i; j < Math.min(n, i + BATCH); j++) {
      b.push({ timeUnixNano: base + (BigInt(j) * span) / BigInt(n), attributes: { g: `g${j % GROUPS}`, guid: `u${j % 50_000}`, ms: j % 997 } });
    }
    out.push(b);
  }
  return out;
}

interface WindowResult {
  events: number;
  messages: number;
  bytes: number;
  natsMsgs: number;
  natsBytes: number;
  delayMs: number;
  mergedCount: number;
  groups: number;
}

export async function fleetScenario(): Promise<void> {
  const nats = await startNats();
  const dir = mkdtempSync(join(tmpdir(), 'mp-bench-fleet-'));
  const nodes: ClusterNode[] = [];
  const procs: MetricSetsProcessor[] = [];
  /** window start (ms) → arrival times at the sink and the merged count */
  const arrivals = new Map<number, { last: number; count: number; groups: Set<string> }>();
  const sink: Consumer<MetricsBatch> = {
    async consume(b) {
      const now = Date.now();
      for (const rm of b.resourceMetrics)
        for (const sm of rm.scopeMetrics)
          for (const m of sm.metrics) {
            for (const p of m.points as NumberDataPoint[]) {
              const w = Number(p.startTimeUnixNano / 1_000_000n);
              let a = arrivals.get(w);
              if (a === undefined) {
                a = { last: 0, count: 0, groups: new Set() };
                arrivals.set(w, a);
              }
              a.last = Math.max(a.last, now);
              if (m.name === 'ByGroup.count') {
                a.count += Number(p.value);
                a.groups.add(String(p.attributes.g));
              }
            }
          }
    },
  };
  const closeMs: { local: number[]; cluster: number[] } = { local: [], cluster: [] };
  const timeTicks = (p: MetricSetsProcessor, into: number[]) => {
    const orig = p.tick.bind(p);
    p.tick = () => {
      const t0 = performance.now();
      const r = orig();
      void r.then(() => into.push(performance.now() - t0));
      return r;
    };
  };
  try {
    const cfg = validateSchema(
      clusterSchema,
      { name: 'bench', partitions: PARTITIONS, lease_ttl: '6s', heartbeat: '500ms', nats: { servers: [nats.url] } },
      'service.cluster',
    ).value as unknown as ClusterConfig;
    const specs = compileMetricSets(setsConfig('cluster'), []);
    for (let i = 0; i < PUBLISHERS; i++) {
      const stateDir = join(dir, `n${i}`);
      const telemetry = new ServiceTelemetry();
      const node = new ClusterNode(cfg, { nodeId: `n${i}`, logger: silentLogger(), telemetry, version: 'bench', stateDir });
      node.start();
      nodes.push(node);
      const set: CreateSettings = { id: 'metricsets', logger: silentLogger(), telemetry, stateDir } as CreateSettings;
      const p = new MetricSetsProcessor(set, setsConfig('cluster'), specs, sink);
      timeTicks(p, closeMs.cluster);
      await p.start({ logger: silentLogger(), telemetry, stateDir, cluster: node } as Host);
      procs.push(p);
    }
    const localTel = new ServiceTelemetry();
    const local = new MetricSetsProcessor(
      { id: 'local', logger: silentLogger(), telemetry: localTel, stateDir: join(dir, 'local') } as CreateSettings,
      setsConfig('local'),
      compileMetricSets(setsConfig('local'), []),
      { consume: async () => undefined },
    );
    timeTicks(local, closeMs.local);
    await local.start({ logger: silentLogger(), telemetry: localTel, stateDir: join(dir, 'local') } as Host);
    // joined, each node sees four publishers
    const t0 = Date.now();
    while (!nodes.every((n) => n.fleet('metricsets').publishers().length === PUBLISHERS)) {
      if (Date.now() - t0 > 30_000) throw new Error('the nodes did not see four publishers within 30 s');
      await sleep(100);
    }
    const varz = async () => (await (await fetch(`${nats.monitorUrl}/varz`)).json()) as { in_msgs: number; in_bytes: number };
    const published = () =>
      nodes.reduce(
        (a, n) => {
          const s = n.fleet('metricsets').status();
          return { m: a.m + s.published!, b: a.b + s.published_bytes! };
        },
        { m: 0, b: 0 },
      );
    const rates: { local: number[]; cluster: number[] } = { local: [], cluster: [] };
    const results: WindowResult[] = [];
    for (const n of [EVENTS, Math.round(EVENTS / 10)]) {
      // wait for a window to begin, then build its events (times spread over the window) and feed them
      const start = Math.ceil(Date.now() / PERIOD_MS) * PERIOD_MS;
      await sleep(start - Date.now() + 10);
      const batches = events(n, start);
      const feed = async (p: MetricSetsProcessor, into: number[]) => {
        const t = performance.now();
        for (const b of batches) await p.consume({ events: b });
        into.push(n / ((performance.now() - t) / 1000));
      };
      // the anchor: a fresh scope-local processor per feed (it creates its groups as each publisher does), alternating, the order swapped every pair
      const fresh = () =>
        new MetricSetsProcessor(
          { id: 'anchor', logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: join(dir, 'anchor') } as CreateSettings,
          setsConfig('local'),
          compileMetricSets(setsConfig('local'), []),
          { consume: async () => undefined },
        );
      for (const [i, p] of procs.entries()) {
        if (i % 2 === 0) {
          await feed(fresh(), rates.local);
          await feed(p, rates.cluster);
        } else {
          await feed(p, rates.cluster);
          await feed(fresh(), rates.local);
        }
      }
      // the started local processor closes this window on its timer (the close time of scope local)
      for (const b of batches) await local.consume({ events: b });
      if (Date.now() > start + PERIOD_MS + LATENESS_MS)
        throw new Error(
          `feeding ${PUBLISHERS} × ${n} events (and as many to the local anchor) took ${((Date.now() - start) / 1000).toFixed(1)} s, past the window's close: use a longer --period`,
        );
      const close = start + PERIOD_MS + LATENESS_MS;
      // the traffic of this window's close alone (other windows close a period apart)
      await sleep(close - 1000 - Date.now());
      const v0 = await varz();
      const p0 = published();
      // merged: every group of the window at the sink (or 40 s after the close)
      while (Date.now() < close + 40_000 && ((arrivals.get(start)?.groups.size ?? 0) < GROUPS || (arrivals.get(start)?.count ?? 0) < PUBLISHERS * n))
        await sleep(50);
      await sleep(500);
      const v1 = await varz();
      const p1 = published();
      const a = arrivals.get(start);
      results.push({
        events: n,
        messages: p1.m - p0.m,
        bytes: p1.b - p0.b,
        natsMsgs: v1.in_msgs - v0.in_msgs,
        natsBytes: v1.in_bytes - v0.in_bytes,
        delayMs: (a?.last ?? NaN) - close,
        mergedCount: a?.count ?? 0,
        groups: a?.groups.size ?? 0,
      });
    }
    const ratio = median(rates.cluster) / median(rates.local);
    const goalMsgs = 2 * GROUPS * PUBLISHERS;
    const rows = results.map(
      (r) =>
        `| ${r.events.toLocaleString('en')} | ${r.messages} | ${(r.bytes / 2 ** 20).toFixed(1)} MiB | ${r.natsMsgs} / ${(r.natsBytes / 2 ** 20).toFixed(1)} MiB | ${r.groups.toLocaleString('en')} | ${r.mergedCount === PUBLISHERS * r.events ? 'yes' : `no (${r.mergedCount})`} | ${(r.delayMs / 1000).toFixed(2)} s |`,
    );
    const summary = [
      `messages of partials per window: ${results.map((r) => r.messages).join(' and ')} for ${results.map((r) => (PUBLISHERS * r.events).toLocaleString('en')).join(' and ')} events (goal ≤ 2 × groups × publishers = ${goalMsgs.toLocaleString('en')}: ${(results[0]!.messages / goalMsgs).toFixed(4)} of it; independent of the event count: ${results[0]!.messages === results[1]!.messages ? 'yes' : 'no'})`,
      `delay from window close (end + allowed_lateness ${LATENESS_MS / 1000} s) to the last merged point at the sink: ${results.map((r) => `${(r.delayMs / 1000).toFixed(2)} s`).join(', ')} (goal ≤ lateness + 2 s, i.e. ≤ 2 s after the close)`,
      `events/s per instance, consume(): scope cluster ${Math.round(median(rates.cluster)).toLocaleString('en')} vs scope local ${Math.round(median(rates.local)).toLocaleString('en')} = ${(ratio * 100).toFixed(1)} % (goal ≥ 90 %; medians of ${rates.cluster.length} alternating feeds of each; spread cluster ${Math.round(Math.min(...rates.cluster)).toLocaleString('en')}–${Math.round(Math.max(...rates.cluster)).toLocaleString('en')}, local ${Math.round(Math.min(...rates.local)).toLocaleString('en')}–${Math.round(Math.max(...rates.local)).toLocaleString('en')}; the consume path is the same code in both scopes, the cluster nodes' NATS traffic shares the process)`,
      `closing a window (per instance, median): local build + hand downstream ${median(closeMs.local).toFixed(0)} ms, cluster encode + queue on disk ${median(closeMs.cluster).toFixed(0)} ms`,
    ];
    console.log(summary.join('\n'));
    if (WRITE) {
      writeSection(
        'cluster',
        [
          `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench -- --scenario cluster\` (in one process: ${PUBLISHERS} ClusterNodes with a metricsets processor each, scope: cluster, one nats-server 2.9 with JetStream on this machine; ${PARTITIONS} partitions; ${GROUPS.toLocaleString('en')} groups, aggregates count, unique(guid), sum(ms), max(ms); period ${PERIOD_MS / 1000} s, allowed_lateness ${LATENESS_MS / 1000} s; every publisher fed the same events) on ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}.`,
          '',
          '| events per publisher | partial messages | partial bytes | everything into NATS (msgs / bytes) | groups merged | count exact | close → last merged point |',
          '|---:|---:|---:|---:|---:|---:|---:|',
          ...rows,
          '',
          ...summary.map((s) => `- ${s}`),
        ],
        'Cluster: fleet-wide metric sets',
      );
    }
  } finally {
    for (const p of procs) await p.shutdown(AbortSignal.timeout(5000)).catch(() => undefined);
    for (const n of nodes) await n.shutdown(AbortSignal.timeout(5000)).catch(() => undefined);
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
