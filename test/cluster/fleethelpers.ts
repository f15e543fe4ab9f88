/**
 * Helpers of the fleet-wide metric set tests: the config every instance runs
 * (errors receiver → metricsets → InfluxDB, optionally a file of every
 * exported batch), the event stream (distinct event times), and read-backs.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import type { InfluxDBPeer } from '../harness/peers.js';
import type { Started } from '../e2e/metricport.js';

export const PERIOD_S = 3;

export interface FleetConfigOptions {
  influx: string;
  db: string;
  cluster?: string;
  file?: string;
  clusterWait?: string;
  storeLateness?: string;
  /** the store's sending queue on disk (its write-ahead log survives a crash of the replica) */
  diskQueue?: boolean;
}

export function fleetConfig(o: FleetConfigOptions): string {
  return `receivers:
  errors: { endpoint: "{{OTLP}}" }
processors:
  metricsets:
    period: ${PERIOD_S}s
    allowed_lateness: 1s
    cluster_wait: ${o.clusterWait ?? '4s'}
    zero_fill: false
    scope: cluster
    unique: { exact_threshold: 32 }
    sets:
      - name: Fleet
        metrics:
          - { name: ByVersion, group_by: [app.version], aggregates: [count, unique(guid), sum(ms), min(ms), max(ms), mean(ms), first(ms), last(ms), p99(ms)] }
          - { name: All, aggregates: [count, unique(guid), sum(ms)] }
exporters:
  influxdb: { endpoint: ${o.influx}, db: ${o.db}, period: ${PERIOD_S}s, lateness: ${o.storeLateness ?? '10s'}, compression: none, retry_on_failure: { initial_interval: 100ms }${o.diskQueue === true ? ', sending_queue: { storage: disk }' : ''} }
${o.file !== undefined ? `  file: { path: "${o.file}", flush_interval: 0s }\n` : ''}service:
  pipelines:
    errors: { receivers: [errors], processors: [metricsets], exporters: [influxdb${o.file !== undefined ? ', file' : ''}] }
${o.cluster ?? ''}`;
}

export function clusterYaml(servers: string[], nodeId: string, extra = ''): string {
  return `  cluster:
    name: fleet
    node_id: ${nodeId}
    partitions: 8
    lease_ttl: 3s
    heartbeat: 250ms
    nats: { servers: [${servers.join(', ')}] }
${extra}`;
}

export interface Row {
  key: string;
  time: number;
  value: number;
}

export async function influxRows(influx: InfluxDBPeer, db: string): Promise<Row[]> {
  const r = await influx.query(db, 'SELECT * FROM /.*/ GROUP BY *');
  const out: Row[] = [];
  for (const s of r[0]?.series ?? []) {
    const vi = s.columns.indexOf('value');
    for (const v of s.values) out.push({ key: `${s.name}${JSON.stringify(s.tags ?? {})}`, time: Number(v[0]), value: Number(v[vi]) });
  }
  return out.sort((a, b) => a.time - b.time || a.key.localeCompare(b.key));
}

/** Equal rows, with the differences spelled out on failure. */
export function expectSameRows(got: Row[], want: Row[]): void {
  const diff = (a: Row[], b: Row[]) =>
    a.filter((x) => !b.some((y) => y.key === x.key && y.time === x.time && y.value === x.value)).map((x) => `${x.time} ${x.key}=${x.value}`);
  expect({ onlyFleet: diff(got, want), onlySingle: diff(want, got) }).to.deep.equal({ onlyFleet: [], onlySingle: [] });
  expect(got).to.deep.equal(want);
}

export async function metricsetsStatus(m: Started): Promise<Record<string, unknown>> {
  const st = (await (await fetch(`${m.adminUrl}/api/v1/status`, { signal: AbortSignal.timeout(2000) })).json()) as {
    processors: Array<Record<string, unknown>>;
  };
  return st.processors.find((x) => x.id === 'metricsets') ?? {};
}

export async function emitted(m: Started): Promise<number> {
  const p = await metricsetsStatus(m);
  return Number(p.emitted_points ?? (p.counters as Record<string, unknown> | undefined)?.emitted_points ?? NaN);
}

export interface FleetView {
  publishing?: Record<string, number>;
  publishers?: string[];
  owner?: Record<string, number> & { partitions?: Array<{ partition: number }> };
}

export async function clusterView(m: Started): Promise<{
  ready: boolean;
  nodes: Array<{ node_id: string; live: boolean }>;
  partitions: Array<{ partition: number; holder: string | null }>;
  fleet?: Record<string, FleetView>;
}> {
  return (await (await fetch(`${m.adminUrl}/api/v1/cluster`, { signal: AbortSignal.timeout(2000) })).json()) as never;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** NDJSON error events at the current time, each with a distinct time (µs apart): first/last are decided by event time alone. */
export class EventStream {
  private readonly r: () => number;
  private n = 0;
  constructor(seed: number) {
    this.r = rng(seed);
  }
  batch(size: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < size; i++) {
      const ts = new Date(Date.now()).toISOString().replace('Z', `${String(this.n % 1000).padStart(3, '0')}Z`);
      this.n++;
      out.push(
        JSON.stringify({
          timestamp: ts,
          attributes: { 'app.version': `2.${Math.floor(this.r() * 4)}`, guid: `u-${Math.floor(this.r() * 300)}`, ms: Math.floor(this.r() * 1000) },
        }),
      );
    }
    return out;
  }
}

export async function postEvents(m: Started, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  const res = await fetch(`${m.otlpUrl}/v1/errors`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.join('\n') });
  expect(res.status, await res.text()).to.equal(200);
}

/** Every exported point in the file exporters' outputs: `name|attrs|time` → how many times it was exported. */
export function exportedPoints(files: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of files) {
    if (!existsSync(f)) continue;
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      if (line === '') continue;
      const req = JSON.parse(line) as {
        resourceMetrics: Array<{
          scopeMetrics: Array<{ metrics: Array<Record<string, { dataPoints?: Array<{ attributes?: unknown[]; timeUnixNano: string }> }> & { name: string }> }>;
        }>;
      };
      for (const rm of req.resourceMetrics)
        for (const sm of rm.scopeMetrics)
          for (const m of sm.metrics) {
            const data = (m.sum ?? m.gauge)!;
            for (const p of data.dataPoints ?? []) {
              const k = `${m.name}|${JSON.stringify(p.attributes ?? [])}|${p.timeUnixNano}`;
              out.set(k, (out.get(k) ?? 0) + 1);
            }
          }
    }
  }
  return out;
}
