/**
 * Cluster test helpers: a ClusterNode in this process against a harness NATS,
 * and checks over `GET /api/v1/cluster`-shaped status objects.
 */
import { silentLogger } from '../../src/logger.js';
import { ServiceTelemetry } from '../../src/telemetry.js';
import { validateSchema } from '../../src/config/schema.js';
import { clusterSchema, type ClusterConfig } from '../../src/cluster/config.js';
import { ClusterNode } from '../../src/cluster/node.js';

export function clusterConfig(raw: Record<string, unknown>): ClusterConfig {
  const r = validateSchema(clusterSchema, raw, 'service.cluster');
  if (r.issues.some((i) => i.severity === 'error')) throw new Error(JSON.stringify(r.issues));
  return r.value as unknown as ClusterConfig;
}

export function newNode(nodeId: string, raw: Record<string, unknown>): ClusterNode {
  return new ClusterNode(clusterConfig(raw), { nodeId, logger: silentLogger(), telemetry: new ServiceTelemetry(), version: 'test' });
}

export interface PartitionRow {
  partition: number;
  holder: string | null;
}
export interface ClusterStatus {
  node_id: string;
  ready: boolean;
  nodes: Array<{ node_id: string; live: boolean }>;
  partitions: PartitionRow[];
  leases: Array<{ lease: string; holder: string | null; token?: number }>;
  nats: { state: string };
}

/** Partitions whose holder is not exactly one of `live` (empty = every partition owned by one live node). */
export function badPartitions(st: ClusterStatus, live: readonly string[]): PartitionRow[] {
  return st.partitions.filter((p) => p.holder === null || !live.includes(p.holder));
}

/** The Forge double's answer in the run-once tests: one delta point (value 1) per window, stamped with the window's end. */
export function oneWindowPoint(c: { start: number; end: number }): { kind: 'data'; resourceMetrics: unknown } {
  return {
    kind: 'data',
    resourceMetrics: [
      {
        resource: {},
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'forge_window',
                sum: {
                  aggregationTemporality: 1,
                  isMonotonic: true,
                  dataPoints: [{ asInt: '1', startTimeUnixNano: `${c.start}000000`, timeUnixNano: `${c.end}000000` }],
                },
              },
            ],
          },
        ],
      },
    ],
  };
}
