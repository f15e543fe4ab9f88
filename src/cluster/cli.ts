/**
 * `metricport cluster [--json]`: the cluster as the running instance sees it
 * (GET /api/v1/cluster on the admin server): NATS connection and round-trip
 * time, nodes with their last heartbeat, partition owners, poller leases,
 * and per component with scope: cluster its partials and its owned
 * partitions' lag (windows waiting, partials pending, publishers heard from).
 */
import type { CliIO } from '../extension.js';
import { KNOWN_FLAGS, loadSettings, type Settings } from '../settings.js';

interface Status {
  enabled?: boolean;
  hint?: string;
  cluster?: string;
  node_id?: string;
  ready?: boolean;
  error?: string;
  nats?: { state: string; server: string | null; rtt_ms: number | null; reconnects: number; last_error: string | null };
  nodes?: Array<{ node_id: string; self: boolean; live: boolean; last_heartbeat: string; seen_ms_ago: number; pollers: string[] }>;
  partitions?: Array<{ partition: number; holder: string | null; token?: number }>;
  leases?: Array<{ lease: string; holder: string | null; token?: number }>;
  counters?: Record<string, number>;
  fleet?: Record<string, FleetStatus>;
}

interface FleetStatus {
  publishing?: Record<string, number>;
  publishers?: string[];
  owner?: Record<string, unknown> & {
    partitions?: Array<{
      partition: number;
      windows_waiting: number;
      partials_pending: number;
      publishers_heard?: string[];
      publishers_expected?: string[];
      exported_through: string | null;
    }>;
  };
}

export function formatCluster(s: Status): string {
  if (s.enabled !== true) return `no cluster: ${s.hint ?? 'service.cluster is not configured'}\n`;
  const n = s.nats!;
  let out = `cluster ${s.cluster}  node ${s.node_id}${s.ready ? '' : ' (not joined)'}${s.error !== undefined ? `\nerror: ${s.error}` : ''}\n`;
  out += `nats: ${n.state}${n.server !== null ? ` to ${n.server}` : ''}${n.rtt_ms !== null ? `, rtt ${n.rtt_ms} ms` : ''}, ${n.reconnects} reconnects${n.last_error !== null ? `; last error: ${n.last_error}` : ''}\n\n`;
  out += 'NODE                  LIVE  LAST HEARTBEAT            PARTITIONS\n';
  const byHolder = new Map<string, number[]>();
  for (const p of s.partitions ?? []) if (p.holder !== null) byHolder.set(p.holder, [...(byHolder.get(p.holder) ?? []), p.partition]);
  for (const x of s.nodes ?? [])
    out += `${(x.node_id + (x.self ? ' *' : '')).padEnd(22)}${(x.live ? 'yes' : 'no').padEnd(6)}${x.last_heartbeat.padEnd(26)}${(byHolder.get(x.node_id) ?? []).join(',') || '-'}\n`;
  const free = (s.partitions ?? []).filter((p) => p.holder === null).map((p) => p.partition);
  if (free.length > 0) out += `unowned partitions: ${free.join(',')}\n`;
  if ((s.leases ?? []).length > 0) {
    out += '\nLEASE                           HOLDER\n';
    for (const l of s.leases!) out += `${l.lease.padEnd(32)}${l.holder ?? '(free)'}\n`;
  }
  for (const [id, f] of Object.entries(s.fleet ?? {})) {
    const pub = f.publishing ?? {};
    const o = f.owner ?? {};
    out += `\n${id} (scope: cluster): ${(f.publishers ?? []).length} publishers; here: ${pub.published ?? 0} partials published, ${pub.queued_bytes ?? 0} bytes queued on disk, ${pub.publish_errors ?? 0} publish errors; as owner: ${String(o.partials_merged ?? 0)} merged, ${String(o.partials_late ?? 0)} late, ${String(o.partials_duplicate ?? 0)} duplicate, ${String(o.windows_exported ?? 0)} windows exported\n`;
    if ((o.partitions ?? []).length > 0) {
      out += 'PARTITION  WAITING  PENDING  HEARD/EXPECTED  EXPORTED THROUGH\n';
      for (const p of o.partitions!)
        out += `${String(p.partition).padEnd(11)}${String(p.windows_waiting).padEnd(9)}${String(p.partials_pending).padEnd(9)}${`${p.publishers_heard?.length ?? '-'}/${p.publishers_expected?.length ?? '-'}`.padEnd(16)}${p.exported_through ?? '-'}\n`;
    }
  }
  if (s.counters !== undefined)
    out += `\nthis node: ${Object.entries(s.counters)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}\n`;
  return out;
}

/** `metricport cluster [--json] [settings flags]`; exit 0, 1 (not running / error), 2 (usage). */
export async function clusterMain(args: string[], io: CliIO): Promise<number> {
  let json = false;
  const flags: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') {
      json = true;
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (m === null || !KNOWN_FLAGS.has(m[1] as never)) {
      io.stderr.write(`metricport cluster: unknown argument "${a}"; usage: metricport cluster [--json] [--admin-endpoint HOST:PORT]\n`);
      return 2;
    }
    if (m[2] !== undefined) flags.push(`--${m[1]}`, m[2]);
    else {
      const v = args[++i];
      if (v === undefined) {
        io.stderr.write(`metricport cluster: flag --${m[1]} needs a value\n`);
        return 2;
      }
      flags.push(`--${m[1]}`, v);
    }
  }
  let settings: Settings;
  try {
    settings = loadSettings(flags, io.env);
  } catch (e) {
    io.stderr.write(`metricport: ${(e as Error).message}\n`);
    return 2;
  }
  const url = `http://${settings.admin_endpoint.replace(/^0\.0\.0\.0:|^:/, '127.0.0.1:')}/api/v1/cluster`;
  let body: Status;
  try {
    const r = await fetch(url, {
      signal: AbortSignal.timeout(3000),
      headers: settings.admin_token !== '' ? { authorization: `Bearer ${settings.admin_token}` } : {},
    });
    if (!r.ok) {
      io.stderr.write(`metricport: ${url} answered HTTP ${r.status}\n`);
      return 1;
    }
    body = (await r.json()) as Status;
  } catch (e) {
    io.stderr.write(
      `metricport: metricport is not running at ${settings.admin_endpoint} (${(e as Error).message}); the cluster view comes from a running instance (--admin-endpoint)\n`,
    );
    return 1;
  }
  io.stdout.write(json ? JSON.stringify(body, null, 2) + '\n' : formatCluster(body));
  return 0;
}
