/**
 * One replica of the run-once tests, as a child process: a real ClusterNode
 * (NATS), a `forge` receiver polling the GraphQL double and an `importer`
 * receiver querying a real PostgreSQL, both `cluster.run: once`, and a
 * downstream that writes every point to a real InfluxDB (its own timestamp,
 * so a window is one point) and appends one line per delivered batch to the
 * replica's delivery log before acknowledging it.
 *
 * The forge poller's clock stands at T0 (the double cannot see a virtual
 * clock, so the 14 days end at T0) and the rate limiter lets every call
 * through at once: a 14-day backfill takes seconds; waits after catching up
 * sleep 200 ms of real time. The lease TTL and heartbeats run on real time.
 *
 * argv[2]: JSON ReplicaArgs. stdout: the service's JSON log lines.
 */
import { appendFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Consumer } from '../../src/component.js';
import { createLogger } from '../../src/logger.js';
import type { MetricsBatch } from '../../src/model/index.js';
import { ServiceTelemetry } from '../../src/telemetry.js';
import { ClusterNode } from '../../src/cluster/node.js';
import { ForgeReceiver } from '../../receivers/forge/receiver.js';
import type { Clock } from '../../receivers/forge/clock.js';
import type { LimiterRegistry } from '../../receivers/forge/ratelimit.js';
import { ImporterReceiver } from '../../receivers/importer/receiver.js';
import { clusterConfig } from './helpers.js';
import { forgeConfig, T0 } from '../receivers/forge/helpers.js';
import { importerConfig } from '../receivers/importer/helpers.js';

export interface ReplicaArgs {
  nodeId: string;
  cluster: Record<string, unknown>;
  stateDir: string;
  gatewayUrl: string;
  /** no importer without it */
  pg?: { host: string; port: number; database: string; user: string };
  /** deliveries go only to the log without it */
  influx?: { url: string; db: string };
  deliveries: string;
}

const args = JSON.parse(process.argv[2]!) as ReplicaArgs;
const logger = createLogger('info');
const telemetry = new ServiceTelemetry();
const node = new ClusterNode(clusterConfig(args.cluster), { nodeId: args.nodeId, logger: logger.child({ component: 'cluster' }), telemetry, version: 'test' });

const clock: Clock = {
  now: () => T0,
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(done, Math.min(ms, 200));
      function done(): void {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};
const noLimit = { acquire: () => ({ acquire: async () => 0 }), release: () => undefined } as unknown as LimiterRegistry;

function sink(kind: string): Consumer<MetricsBatch> {
  return {
    async consume(batch: MetricsBatch): Promise<void> {
      const lines: string[] = [];
      const times: string[] = [];
      for (const rm of batch.resourceMetrics)
        for (const sm of rm.scopeMetrics)
          for (const m of sm.metrics) {
            for (const p of m.points as Array<{ timeUnixNano: bigint; value: number | bigint }>) {
              lines.push(`${kind},metric=${m.name} value=${Number(p.value)} ${p.timeUnixNano}`);
              times.push(String(p.timeUnixNano / 1_000_000n));
            }
          }
      if (args.influx !== undefined) {
        const r = await fetch(`${args.influx.url}/write?db=${args.influx.db}&precision=ns`, { method: 'POST', body: lines.join('\n') });
        if (r.status !== 204) throw new Error(`influxdb answered ${r.status}: ${await r.text()}`);
      }
      appendFileSync(args.deliveries, `${JSON.stringify({ node: args.nodeId, kind, times })}\n`);
    },
  };
}

const host = { logger, telemetry, stateDir: args.stateDir, cluster: node };
const forge = new ForgeReceiver(
  { id: 'forge', logger: logger.child({ component: 'receiver', id: 'forge' }), telemetry, stateDir: join(args.stateDir, 'forge') },
  forgeConfig({ endpoint: args.gatewayUrl, history: '14d', retry: { initial_interval: '100ms', max_interval: '1s' } }),
  { metrics: sink('forge') },
  { clock, limiters: noLimit, random: () => 0.5 },
);
const pg = args.pg;
const importer =
  pg === undefined
    ? undefined
    : new ImporterReceiver(
        { id: 'importer', logger: logger.child({ component: 'receiver', id: 'importer' }), telemetry, stateDir: join(args.stateDir, 'importer') },
        importerConfig({
          source: 'postgres',
          host: pg.host,
          port: pg.port,
          database: pg.database,
          user: pg.user,
          retry: { initial_interval: '100ms', max_interval: '1s' },
          importers: [
            {
              name: 'minutes',
              // the data-modifying CTE records every window asked for, once per query
              query: `with asked as (insert into asked(node, from_ts, to_ts) values ('${args.nodeId}', $1, $2) returning 1) select s.v as value, s.t as time from samples s, asked where s.t >= $1 and s.t < $2 order by s.t`,
              metric: { name: 'sql_minutes', kind: 'delta_sum' },
              history: '3d',
              chunk: '5m',
              period: '200ms',
              align: '1m',
            },
          ],
        }),
        { metrics: sink('importer') },
      );

node.start();
// the node's GET /api/v1/cluster view, every 100 ms, for the parent (which replica holds what, which NATS server it uses)
setInterval(() => {
  writeFileSync(`${args.stateDir}.status.tmp`, JSON.stringify(node.status()));
  renameSync(`${args.stateDir}.status.tmp`, `${args.stateDir}.status.json`);
}, 100).unref();
await forge.start(host);
await importer?.start(host);

const stop = async (): Promise<void> => {
  const deadline = AbortSignal.timeout(5000);
  await forge.shutdown(deadline);
  await importer?.shutdown(deadline);
  await node.shutdown(deadline);
  process.exit(0);
};
process.on('SIGTERM', () => {
  void stop();
});
