/**
 * A pull store as an exporter: what `prometheus` and `circonus` (mode pull)
 * share. Points go into a CumulativeStore (running totals, series cap and
 * expiry) named by the adapter's SeriesKeyer; on start the credentials are
 * loaded or generated (credentials.ts) and the store's own listener serves
 * the secret path (server.ts), rendering with the adapter's `respond`.
 *
 * - the URL (with its secret token) is logged once, at info level, at the
 *   start that generated the token or Basic-auth credentials (the first);
 *   later starts read them from the state directory and log nothing. Else it
 *   is handed out only by `GET /api/v1/stores` and `metricport stores`;
 * - evictions, dropped points and the series count go to the service
 *   telemetry; reaching `max_series` is a rate-limited warning naming the
 *   exporter;
 * - the status: the store row (StoreInfo) plus the accumulator and scrape
 *   counters, then the adapter's own fields.
 */
import { readFileSync, renameSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { Counter, Meter } from '@opentelemetry/api';
import type { CreateSettings, Exporter, Host } from '../component.js';
import type { TlsConfig } from '../config/security.js';
import { createExporter } from '../exporterhelper/exporter.js';
import { countPoints, type MetricsBatch } from '../model/index.js';
import { RateLimitedLog } from '../ratelimitedlog.js';
import { writeFileAtomic } from '../atomicfile.js';
import { CheckpointError, encodeCheckpoint, registerPullStore, restoreCheckpoint, unregisterPullStore, type RestoreReport } from './checkpoint.js';
import { loadOrCreateCredentials, type CredentialOptions, type PullCredentials } from './credentials.js';
import type { CumulativeStore, SeriesKeyer } from './cumulative.js';
import { PullServer, type PullResponse } from './server.js';
import { pullUrl, type StoreInfo } from './stores.js';

export interface PullStoreOptions {
  /** the store type, in the store row (StoreInfo.adapter) */
  adapter: string;
  /** what log lines call it, e.g. "prometheus store" */
  label: string;
  store: CumulativeStore;
  keyer: SeriesKeyer;
  endpoint: string;
  tls?: TlsConfig | undefined;
  /** base URL the scraper reaches the endpoint at ('' or undefined = http(s)://<endpoint>) */
  externalUrl?: string | undefined;
  credentials: CredentialOptions;
  /** the secret path for a token, e.g. `/<token>/metrics` */
  path(token: string): string;
  /** what to do with the URL, said with the generated credentials, e.g. "point Prometheus at the url" */
  urlHint: string;
  /** the body for an authorised GET */
  respond(req: IncomingMessage): PullResponse | Promise<PullResponse>;
  /** the scraper's period in seconds, when it tells one (StoreInfo.period) */
  period?: () => number | null;
  /** the adapter's own status fields, after the common ones */
  status?: () => Record<string, unknown>;
  /** ms between checkpoints of the running totals in the state directory (and one at shutdown); 0 = none (default 30 s) */
  checkpointIntervalMs?: number;
}

/** The running totals of a pull store, in its state directory (checkpoint.ts format). */
export const CHECKPOINT_FILE = 'running-totals.ckpt';
/** a checkpoint file larger than this is not read (reported as corrupt) */
const MAX_CHECKPOINT_BYTES = 1 << 30;

export interface CheckpointStatus {
  file: string;
  interval_ms: number;
  last_write: string | null;
  last_write_series: number;
  last_write_bytes: number;
  last_error: string | null;
  writes: number;
  failures: number;
  restored: (RestoreReport & { at: string }) | null;
  /** the file found at start could not be read: why (it was renamed *.corrupt) */
  corrupt: string | null;
}

export function createPullExporter(set: CreateSettings, o: PullStoreOptions): Exporter {
  const { store, keyer } = o;
  let server: PullServer | undefined;
  let creds: PullCredentials | undefined;
  instrumentPullStore(set, store, o.label);

  const scheme = o.tls !== undefined ? 'https' : 'http';
  const ckpt = pullCheckpointer(set, store, o.label, o.checkpointIntervalMs ?? 30_000);
  const url = (): string | null => (creds === undefined ? null : pullUrl(o.externalUrl, server?.address(), o.endpoint, o.path(creds.token), scheme));

  return createExporter<MetricsBatch>(set, {
    signal: 'metrics',
    countItems: countPoints,
    push: async (b) => {
      store.ingest(b, keyer);
    },
    timeout: 0,
    retry: { enabled: false },
    queue: { enabled: false },
    endpoint: o.endpoint,
    start: async (host: Host) => {
      ckpt.restore();
      registerPullStore(set.id, store);
      const r = loadOrCreateCredentials(set.stateDir, o.credentials);
      creds = r.creds;
      const basic = o.credentials.basicAuth;
      server = new PullServer({
        endpoint: o.endpoint,
        configKey: `exporters.${set.id}.endpoint`,
        owner: set.id,
        logger: set.logger,
        meter: host.telemetry.meter,
        path: o.path(creds.token),
        ...(basic ? { basicAuth: { username: creds.username, password: creds.password } } : {}),
        ...(o.tls !== undefined ? { tls: o.tls } : {}),
        respond: o.respond,
      });
      await server.start();
      ckpt.startTimer();
      if (r.generated.length > 0) {
        set.logger.info(
          { url: url(), ...(basic ? { username: creds.username } : {}), generated: r.generated },
          `${o.label}: generated ${r.generated.join(', ')} (kept in the state directory); ${o.urlHint}${basic ? '; the password: metricport stores --show-credentials' : ''}`,
        );
      }
    },
    shutdown: async (deadline) => {
      await server?.close(deadline);
      unregisterPullStore(set.id, store);
      await ckpt.stop();
    },
    status: () => {
      const st = server?.stats;
      const info: StoreInfo = {
        adapter: o.adapter,
        mode: 'pull',
        period: o.period?.() ?? null,
        last_scrape: st?.last_request ?? null,
        last_error: st?.last_error ?? null,
        target: o.endpoint,
        url: url(),
        basic_auth: o.credentials.basicAuth,
      };
      return {
        store: info,
        series: store.size,
        max_series: store.maxSeries,
        series_expiry_ms: store.expiryMs,
        accumulator: { ...store.counters, dropped: { ...store.counters.dropped } },
        scrapes: st?.served ?? 0,
        not_found: st?.not_found ?? 0,
        unauthorized: st?.unauthorized ?? 0,
        checkpoint: ckpt.status(),
        ...o.status?.(),
      };
    },
  });
}

const evictCounters = new WeakMap<Meter, { evicted: Counter; dropped: Counter }>();
/** The pull stores' counters (one definition per meter). */
function storeCounters(meter: Meter): { evicted: Counter; dropped: Counter } {
  let c = evictCounters.get(meter);
  if (c === undefined) {
    c = {
      evicted: meter.createCounter('metricport_store_series_evicted', {
        description:
          'Series a pull store removed: reason "cap" (series cap reached, least recently updated evicted) or "expired" (no update within series_expiry)',
      }),
      dropped: meter.createCounter('metricport_store_dropped_points', {
        description: 'Points a pull store did not apply, by reason (type_conflict, out_of_order, negative_delta, nan, malformed_histogram)',
      }),
    };
    evictCounters.set(meter, c);
  }
  return c;
}

/**
 * Wire a pull store's evictions, dropped points and series count into the
 * service telemetry (attributes bound once); a series evicted because
 * `max_series` was reached is a rate-limited warning naming the exporter.
 */
function instrumentPullStore(set: CreateSettings, store: CumulativeStore, label: string): void {
  const c = storeCounters(set.telemetry.meter);
  const evictAttrs = { cap: { exporter: set.id, reason: 'cap' }, expired: { exporter: set.id, reason: 'expired' } };
  const dropAttrs = new Map<string, Record<string, string>>();
  const warnings = new RateLimitedLog(set.logger);
  store.onEvict = (n, reason) => {
    c.evicted.add(n, evictAttrs[reason]);
    if (reason === 'cap') {
      warnings.warn(
        'max_series',
        { exporter: set.id, max_series: store.maxSeries },
        `${label} ${set.id}: max_series (${store.maxSeries}) reached; the least recently updated series are evicted (metricport_store_series_evicted{reason="cap"}); raise exporters.${set.id}.max_series or send fewer attribute combinations`,
      );
    }
  };
  store.onDrop = (n, reason) => {
    let a = dropAttrs.get(reason);
    if (a === undefined) {
      a = { exporter: set.id, reason };
      dropAttrs.set(reason, a);
    }
    c.dropped.add(n, a);
  };
  set.telemetry.gauge('metricport_store_series', 'Series a pull store currently holds', { exporter: set.id }, () => store.size);
}

const ckptCounters = new WeakMap<Meter, Counter>();

/**
 * The single-instance checkpoint of a pull store: restored at start from
 * `<state dir>/running-totals.ckpt`, written atomically every interval and at
 * shutdown. A file that cannot be read (corrupt, another version, too large)
 * is a warning naming the file and the byte offset, counted, renamed
 * `*.corrupt` (kept for a look, replaced by the next one) and otherwise
 * ignored: the store starts empty, as it would without a checkpoint.
 */
function pullCheckpointer(
  set: CreateSettings,
  store: CumulativeStore,
  label: string,
  intervalMs: number,
): { restore(): void; startTimer(): void; stop(): Promise<void>; writeNow(): Promise<void>; status(): CheckpointStatus } {
  const file = join(set.stateDir, CHECKPOINT_FILE);
  let c = ckptCounters.get(set.telemetry.meter);
  if (c === undefined) {
    c = set.telemetry.meter.createCounter('metricport_store_checkpoints', {
      description: "Checkpoints of a pull store's running totals in the state directory, by op (write, restore) and result (ok, error, corrupt)",
    });
    ckptCounters.set(set.telemetry.meter, c);
  }
  const counter = c;
  const attrs = (op: string, result: string) => ({ exporter: set.id, op, result });
  const warn = new RateLimitedLog(set.logger);
  const st: CheckpointStatus = {
    file,
    interval_ms: intervalMs,
    last_write: null,
    last_write_series: 0,
    last_write_bytes: 0,
    last_error: null,
    writes: 0,
    failures: 0,
    restored: null,
    corrupt: null,
  };
  let timer: NodeJS.Timeout | undefined;
  let writing: Promise<void> | undefined;
  let stopped = false;

  const write = async (): Promise<void> => {
    const buf = encodeCheckpoint(store);
    try {
      await mkdir(set.stateDir, { recursive: true });
      await writeFileAtomic(file, buf);
      st.writes++;
      st.last_write = new Date().toISOString();
      st.last_write_series = store.size;
      st.last_write_bytes = buf.length;
      st.last_error = null;
      counter.add(1, attrs('write', 'ok'));
    } catch (e) {
      st.failures++;
      st.last_error = (e as Error).message;
      counter.add(1, attrs('write', 'error'));
      warn.warn(
        'checkpoint_write',
        { exporter: set.id, file, error: (e as Error).message },
        `${label} ${set.id}: cannot write the checkpoint of its running totals (${(e as Error).message}); a restart now restarts its counters from zero (Prometheus counts a reset); check that exporters.${set.id} can write its state directory`,
      );
    }
  };
  const writeNow = (): Promise<void> => {
    if (intervalMs <= 0) return Promise.resolve();
    // one write at a time: a tick during a slow write waits for it
    const p = (writing ?? Promise.resolve()).then(write);
    writing = p.finally(() => {
      if (writing === p) writing = undefined;
    });
    return p;
  };
  return {
    restore() {
      if (intervalMs <= 0) return;
      const unusable = (e: CheckpointError): void => {
        st.corrupt = e.message;
        counter.add(1, attrs('restore', 'corrupt'));
        let moved = '';
        try {
          renameSync(file, file + '.corrupt');
          moved = `; kept as ${CHECKPOINT_FILE}.corrupt`;
        } catch {
          /* left in place: the next write replaces it */
        }
        set.logger.warn(
          { exporter: set.id, file, error: e.message, offset: e.offset },
          `${label} ${set.id}: the checkpoint of its running totals is unusable (${e.message})${moved}; ignored, counters start from zero`,
        );
      };
      let buf: Buffer;
      try {
        const size = statSync(file).size;
        if (size > MAX_CHECKPOINT_BYTES) {
          unusable(new CheckpointError(`checkpoint of ${size} bytes is larger than ${MAX_CHECKPOINT_BYTES}`, 0));
          return;
        }
        buf = readFileSync(file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // first start
        st.corrupt = (e as Error).message;
        counter.add(1, attrs('restore', 'error'));
        set.logger.warn(
          { exporter: set.id, file, error: (e as Error).message },
          `${label} ${set.id}: cannot read the checkpoint of its running totals; counters start from zero`,
        );
        return;
      }
      try {
        const rep = restoreCheckpoint(store, buf);
        st.restored = { ...rep, at: new Date().toISOString() };
        counter.add(1, attrs('restore', 'ok'));
        set.logger.info(
          { exporter: set.id, series: rep.series, skipped_cap: rep.skipped_cap, written_at: new Date(rep.written_at_ms).toISOString() },
          `${label} ${set.id}: running totals of ${rep.series} series restored from the checkpoint`,
        );
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw e;
        unusable(e);
      }
    },
    startTimer() {
      if (intervalMs <= 0 || timer !== undefined || stopped) return;
      timer = setInterval(() => {
        void writeNow();
      }, intervalMs);
      timer.unref();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await writeNow();
    },
    writeNow,
    status: () => ({ ...st, ...(st.restored !== null ? { restored: { ...st.restored } } : {}) }),
  };
}
