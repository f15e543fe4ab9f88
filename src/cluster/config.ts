/**
 * `service.cluster`: the NATS JetStream connection and the cluster's shape
 * (docs/cluster.md). Parsing only: this module imports no NATS code, so a
 * config without `service.cluster` never loads the client.
 *
 * ```yaml
 * service:
 *   cluster:
 *     name: shop
 *     nats: { servers: [nats://nats-0:4222, nats://nats-1:4222], user: metricport, password: ${env:NATS_PASSWORD} }
 *     partitions: 16
 *     lease_ttl: 10s
 * ```
 */
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Schema } from '../config/schema.js';
import type { ConfigIssue } from '../errors.js';

export interface ClusterConfig {
  name: string;
  /** '' = generated once and kept in `<state_dir>/cluster/node_id` */
  node_id: string;
  partitions: number;
  /** ms */
  lease_ttl: number;
  /** ms */
  heartbeat: number;
  /** JetStream replicas of the cluster's KV buckets (3 on a three-node NATS cluster) */
  replicas: number;
  fleet: {
    /** ms */
    max_age: number;
    /** ms */
    duplicate_window: number;
    /** bytes */
    queue_max_size: number;
  };
  nats: {
    servers: string[];
    user: string;
    password: string;
    token: string;
    creds_file: string;
    tls: { ca_file: string; cert_file: string; key_file: string };
    /** ms: deadline of one JetStream request */
    timeout: number;
  };
}

/** Names that go into bucket names and KV keys: letters, digits, `_` and `-`. */
const CLUSTER_NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
const NODE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const SERVER_RE = /^(nats|tls):\/\/[^\s/@]+$|^[^\s/:@]+:\d+$/;

export const clusterSchema: Schema = {
  name: {
    type: 'string',
    default: 'metricport',
    pattern: CLUSTER_NAME_RE,
    patternHint: '1-64 letters, digits, _ or -',
    doc: 'Cluster id: every KV bucket is named after it (KV_mp_<name>_nodes, _leases, _state), so several clusters can share one NATS.',
  },
  node_id: {
    type: 'string',
    default: '',
    pattern: /^([A-Za-z0-9_-]{1,64})?$/,
    patternHint: '1-64 letters, digits, _ or -',
    doc: 'This instance\'s id in the cluster; "" = generated on the first start and kept in <state_dir>/cluster/node_id. Two running instances must never share one.',
  },
  partitions: {
    type: 'int',
    default: 16,
    min: 1,
    max: 1024,
    doc: 'Number of partitions, fixed for the life of the cluster: every node must be configured with the same number (a node whose number differs from the one recorded in KV refuses to join).',
  },
  lease_ttl: {
    type: 'duration',
    default: '10s',
    min: '1s',
    max: '10m',
    doc: 'A lease (partition or run-once poller) not renewed for this long expires, and another node takes it over. A holder stops using its lease after 3/4 of it without a renewal.',
  },
  heartbeat: {
    type: 'duration',
    default: '2s',
    min: '100ms',
    max: '5m',
    doc: 'How often a node writes its heartbeat and renews its leases; at most lease_ttl / 3.',
  },
  replicas: {
    type: 'int',
    default: 1,
    min: 1,
    max: 5,
    doc: 'JetStream replicas of the KV buckets: 3 on a three-node NATS cluster (survives the loss of one NATS node), 1 on a single server.',
  },
  fleet: {
    type: 'object',
    doc: "Fleet-wide aggregation (metricsets and statsd with scope: cluster): the JetStream stream of partials (mp_<name>_partials) and each publisher's disk queue.",
    fields: {
      max_age: {
        type: 'duration',
        default: '1h',
        min: '1m',
        max: '30d',
        doc: 'How long the stream keeps partials: longer than the longest period + allowed_lateness + cluster_wait of any metric set, and than a partition owner may be away before another node takes its partitions over.',
      },
      duplicate_window: {
        type: 'duration',
        default: '10m',
        min: '1s',
        max: '1d',
        doc: "JetStream's duplicate window: a partial resent within it (lost acknowledgement, restart while sending) is a no-op. Owners also drop a second copy of a partial they hold; later copies of a merged window count as late.",
      },
      queue_max_size: {
        type: 'bytes',
        default: '256MiB',
        min: '1MiB',
        doc: "Bytes of partials a node keeps on disk (<state_dir>/cluster/fleet/) while NATS is unreachable; when full the oldest window's partials are dropped, counted (metricport_cluster_partials_dropped) and warned about.",
      },
    },
  },
  nats: {
    type: 'object',
    doc: 'The NATS connection (JetStream must be enabled on the server).',
    fields: {
      servers: {
        type: 'array',
        items: { type: 'string', nonEmpty: true, doc: 'a NATS server URL: nats://host:port, tls://host:port or host:port' },
        default: ['nats://127.0.0.1:4222'],
        minItems: 1,
        doc: 'Seed servers; the client learns the rest of a NATS cluster from them and fails over between them.',
      },
      user: { type: 'string', default: '', doc: 'User name (with password).' },
      password: { type: 'string', default: '', secret: true, doc: 'Password; put it in the environment: ${env:NATS_PASSWORD}. Never logged.' },
      token: { type: 'string', default: '', secret: true, doc: 'Authentication token (instead of user/password). Never logged.' },
      creds_file: { type: 'string', default: '', doc: 'A NATS .creds file (JWT + NKey seed), as `nsc` writes it.' },
      tls: {
        type: 'object',
        doc: 'TLS to the servers (tls:// URLs, or servers that require TLS).',
        fields: {
          ca_file: { type: 'string', default: '', doc: 'PEM CA bundle that signed the servers\' certificates ("" = the system CAs).' },
          cert_file: { type: 'string', default: '', doc: 'PEM client certificate (mTLS), with key_file.' },
          key_file: { type: 'string', default: '', doc: 'PEM private key of cert_file.' },
        },
      },
      timeout: { type: 'duration', default: '5s', min: '100ms', max: '1m', doc: 'Deadline of one JetStream request (KV read or write).' },
    },
  },
};

/** Cross-field checks; paths relative to `service.cluster`. */
export function validateClusterConfig(c: ClusterConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (c.heartbeat * 3 > c.lease_ttl)
    issues.push({
      path: 'heartbeat',
      message: `must be at most lease_ttl / 3 (${Math.floor(c.lease_ttl / 3)} ms) so that two missed heartbeats do not lose a lease`,
      severity: 'error',
    });
  const n = c.nats;
  n.servers.forEach((u, i) => {
    // never echo a value that may carry credentials
    if (u.includes('@'))
      issues.push({
        path: `nats.servers[${i}]`,
        message: 'holds credentials (user:password@): put them in nats.user/nats.password or nats.token (a secret, from the environment) instead',
        severity: 'error',
      });
    else if (!SERVER_RE.test(u))
      issues.push({ path: `nats.servers[${i}]`, message: `${JSON.stringify(u)} is not nats://host:port, tls://host:port or host:port`, severity: 'error' });
  });
  if (n.token !== '' && (n.user !== '' || n.password !== ''))
    issues.push({ path: 'nats.token', message: 'use either token or user/password, not both', severity: 'error' });
  if ((n.user === '') !== (n.password === ''))
    issues.push({ path: n.user === '' ? 'nats.user' : 'nats.password', message: 'user and password go together', severity: 'error' });
  if (n.creds_file !== '' && (n.token !== '' || n.user !== ''))
    issues.push({ path: 'nats.creds_file', message: 'a creds file replaces token and user/password: set only one of them', severity: 'error' });
  if ((n.tls.cert_file === '') !== (n.tls.key_file === ''))
    issues.push({
      path: n.tls.cert_file === '' ? 'nats.tls.cert_file' : 'nats.tls.key_file',
      message: 'cert_file and key_file go together',
      severity: 'error',
    });
  for (const [k, f] of [
    ['nats.creds_file', n.creds_file],
    ['nats.tls.ca_file', n.tls.ca_file],
    ['nats.tls.cert_file', n.tls.cert_file],
    ['nats.tls.key_file', n.tls.key_file],
  ] as const) {
    if (f !== '' && !existsSync(f)) issues.push({ path: k, message: `file ${JSON.stringify(f)} does not exist`, severity: 'error' });
  }
  if (c.replicas > 1 && n.servers.length === 1)
    issues.push({
      path: 'replicas',
      message: `${c.replicas} replicas need a NATS cluster of at least ${c.replicas} servers; only one seed server is listed (fine if it announces the others)`,
      severity: 'warning',
    });
  return issues;
}

/**
 * The node id: the configured one, else the one kept in
 * `<stateDir>/cluster/node_id`, else a new random one written there.
 */
export function resolveNodeId(configured: string, stateDir: string): string {
  if (configured !== '') return configured;
  const dir = join(stateDir, 'cluster');
  const file = join(dir, 'node_id');
  try {
    const kept = readFileSync(file, 'utf8').trim();
    if (NODE_ID_RE.test(kept)) return kept;
  } catch {
    /* first start */
  }
  const id = `n-${randomBytes(6).toString('hex')}`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, `${id}\n`, { mode: 0o644 });
  return id;
}
