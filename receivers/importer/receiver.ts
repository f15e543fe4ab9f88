/**
 * The `importer` receiver: one metric source, several importers. Each
 * importer runs its own loop: from its watermark (or now − history) to now −
 * delay in chunks of at most `chunk`; each chunk's rows become one batch; the
 * watermark moves to the chunk's end only after the pipelines accepted it.
 * A failure (source down, query error, downstream refused) is retried with
 * backoff over the same bounds; status shows the last error.
 */
import type { Consumer, CreateSettings, Host, Receiver, Signal, SignalData } from '../../src/component.js';
import { isRetryable } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { MetricsBatch } from '../../src/model/index.js';
import type { ReceiverTelemetry } from '../../src/telemetry.js';
import { missingPlaceholders, placeholderMessage, testSpanProblem, type ImporterReceiverConfig, type ImporterSpec } from './config.js';
import { mapRows, MappingError, SourceQueryError } from './map.js';
import { createSource, scrubber, type Source } from './sources.js';
import { ImporterWatermarks } from './watermark.js';
import { isLeaseLost, pollerLease, type ClusterHost, type Lease, type LeaseGrant, type WatermarkStore } from '../../src/cluster/api.js';

export interface ImporterClock {
  now(): number;
  /** resolves after ms, or at once when the signal aborts; never rejects */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

const systemClock: ImporterClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const t = setTimeout(done, Math.max(0, ms));
      t.unref();
      function done(): void {
        signal.removeEventListener('abort', done);
        clearTimeout(t);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }),
};

export interface ImporterState {
  name: string;
  phase: 'waiting' | 'backfill' | 'running' | 'retrying' | 'stopped';
  watermark: number | undefined;
  lastSuccessAt: number | undefined;
  lastError: string | null;
  lastErrorAt: number | undefined;
  attempt: number;
  counters: { runs: number; rows: number; points: number; skipped_rows: number; failures: number };
}

export interface TestQueryResult {
  importer: string;
  ok: boolean;
  source: string;
  from: string;
  to: string;
  request?: Record<string, unknown>;
  /** problems: a missing $1/$2, the source's own error, a mapping error */
  errors: string[];
  columns?: string[];
  rows?: number;
  points?: number;
  skipped_rows?: number;
  first_skip?: string;
  /** the first rows mapped to points */
  preview?: Array<{ metric: string; kind: string; time: string; value: number; attributes: Record<string, unknown> }>;
  watermark: string | null;
}

export class ImporterReceiver implements Receiver {
  private readonly logger: Logger;
  private readonly tel: ReceiverTelemetry;
  private readonly consumer: Consumer<MetricsBatch> | undefined;
  private readonly watermarks: ImporterWatermarks;
  private readonly states: Map<string, ImporterState>;
  private readonly scrub: (s: string) => string;
  private readonly ac = new AbortController();
  private source: Source | undefined;
  private loops: Array<Promise<void>> = [];
  private started = false;
  private stopped = false;
  /** run-once in a cluster: the receiver's lease, and the grant its importers run under now */
  private lease: Lease | undefined;
  private grant: LeaseGrant | undefined;
  /** set in run-once mode: the watermarks are the cluster's, not this node's file */
  private cluster: ClusterHost | undefined;

  constructor(
    private readonly set: CreateSettings,
    readonly cfg: ImporterReceiverConfig,
    next: Partial<{ [S in Signal]: Consumer<SignalData[S]> }>,
    private readonly clock: ImporterClock = systemClock,
    private readonly random: () => number = Math.random,
  ) {
    this.logger = set.logger;
    this.tel = set.telemetry.receiver(set.id, cfg.source);
    this.consumer = next.metrics;
    this.watermarks = new ImporterWatermarks(set.stateDir);
    this.scrub = scrubber(cfg.password);
    this.states = new Map(
      cfg.importers.map((i) => [
        i.name,
        {
          name: i.name,
          phase: 'waiting',
          watermark: undefined,
          lastSuccessAt: undefined,
          lastError: null,
          lastErrorAt: undefined,
          attempt: 0,
          counters: { runs: 0, rows: 0, points: 0, skipped_rows: 0, failures: 0 },
        },
      ]),
    );
  }

  async start(host?: Host): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    this.source = createSource(this.cfg, this.set.id);
    const cluster = host?.cluster;
    if (cluster !== undefined && this.cfg.cluster.run === 'once') {
      this.cluster = cluster;
      this.loops.push(
        this.runOnce(cluster).catch((err: unknown) => {
          this.logger.error({ err: this.scrub((err as Error)?.message ?? String(err)) }, 'importer stopped unexpectedly');
        }),
      );
      return;
    }
    this.loops.push(...this.startLoops(this.ac.signal, this.watermarks, undefined));
  }

  private startLoops(signal: AbortSignal, watermarks: WatermarkStore, guard: LeaseGrant | undefined): Array<Promise<void>> {
    return this.cfg.importers.map((spec) =>
      this.loop(spec, signal, watermarks, guard).catch((err: unknown) => {
        this.logger.error({ importer: spec.name, err: this.scrub((err as Error)?.message ?? String(err)) }, 'importer loop stopped unexpectedly');
      }),
    );
  }

  /**
   * Run-once: the importers run only while this node holds the receiver's
   * lease, from watermarks in the cluster's KV (claimed under its fencing
   * token); when the lease is lost every loop stops and the node waits.
   */
  private async runOnce(cluster: ClusterHost): Promise<void> {
    const lease = cluster.lease(pollerLease(this.set.id));
    this.lease = lease;
    while (!this.ac.signal.aborted) {
      for (const st of this.states.values()) st.phase = 'waiting';
      const g = await lease.acquire(this.ac.signal);
      if (g === undefined) break;
      this.grant = g;
      this.logger.info({ lease: g.name, fencing_token: g.token }, 'run-once: this node imports now');
      await Promise.all(this.startLoops(AbortSignal.any([this.ac.signal, g.signal]), g.watermarks(this.set.id), g));
      this.grant = undefined;
      if (!this.ac.signal.aborted)
        this.logger.warn(
          { lease: g.name, fencing_token: g.token, reason: (g.signal.reason as Error | undefined)?.message },
          'run-once: the lease was lost; this node stopped importing and waits to get it back',
        );
    }
  }

  private sourceOrCreate(): Source {
    this.source ??= createSource(this.cfg, this.set.id);
    return this.source;
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.cfg.retry.max_interval, this.cfg.retry.initial_interval * 2 ** Math.min(attempt - 1, 30));
    return Math.round(base * (0.8 + 0.4 * this.random()));
  }

  private async loop(spec: ImporterSpec, signal: AbortSignal, watermarks: WatermarkStore, guard: LeaseGrant | undefined): Promise<void> {
    const st = this.states.get(spec.name)!;
    let stored: number | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        stored = await watermarks.load(spec.name, (m) => this.logger.warn({ importer: spec.name }, m));
        break;
      } catch (err) {
        // the cluster KV is unreachable (a local file never throws here)
        if (signal.aborted || isLeaseLost(err)) {
          st.phase = 'stopped';
          return;
        }
        st.lastError = this.scrub(describe(err));
        st.lastErrorAt = this.clock.now();
        await this.clock.sleep(this.backoff(attempt), signal);
      }
    }
    let wm = stored ?? floorTo(this.clock.now() - spec.history, spec.align);
    st.watermark = wm;
    while (!signal.aborted) {
      const end = floorTo(this.clock.now() - spec.delay, spec.align);
      if (wm >= end) {
        st.phase = 'waiting';
        await this.clock.sleep(spec.period, signal);
        continue;
      }
      const to = Math.min(wm + spec.chunk, end);
      st.phase = st.attempt > 0 ? 'retrying' : to < end ? 'backfill' : 'running';
      try {
        await this.runChunk(spec, st, wm, to, signal, watermarks, guard);
        if (signal.aborted && st.watermark !== to) break;
        wm = to;
        st.attempt = 0;
        if (to < end) continue; // more history: next chunk at once
        st.phase = 'waiting';
        await this.clock.sleep(spec.period, signal);
      } catch (err) {
        if (signal.aborted) break;
        st.attempt++;
        st.counters.failures++;
        st.lastError = this.scrub(describe(err));
        st.lastErrorAt = this.clock.now();
        st.phase = 'retrying';
        if (st.attempt === 1 || st.attempt % 10 === 0)
          this.logger.warn(
            { importer: spec.name, attempt: st.attempt, from: new Date(wm).toISOString(), to: new Date(to).toISOString(), err: st.lastError },
            'import run failed; retrying with backoff (watermark unchanged)',
          );
        await this.clock.sleep(this.backoff(st.attempt), signal);
      }
    }
    st.phase = 'stopped';
  }

  /** One run over [from, to): query, map, (under a lease: check it,) consume, then (only then) move the watermark. */
  private async runChunk(
    spec: ImporterSpec,
    st: ImporterState,
    from: number,
    to: number,
    signal: AbortSignal,
    watermarks: WatermarkStore,
    guard: LeaseGrant | undefined,
  ): Promise<void> {
    const src = this.sourceOrCreate();
    st.counters.runs++;
    const rs = await src.query(spec, from, to, signal);
    const mapped = mapRows(rs, spec, src.timeUnit(spec), from, to, this.set.id);
    st.counters.rows += rs.rows.length;
    st.counters.skipped_rows += mapped.skipped;
    if (mapped.skipped > 0) this.tel.rejected(mapped.skipped, 'metrics');
    // run-once: the lease is checked when the data goes downstream, not only when it was acquired
    await guard?.check();
    if (mapped.points > 0) {
      if (this.consumer === undefined) throw new Error("no pipeline takes this receiver's metrics");
      try {
        await this.consumer.consume(mapped.batch);
      } catch (err) {
        if (isRetryable(err)) this.tel.refused(mapped.points, 'metrics');
        else this.tel.rejected(mapped.points, 'metrics');
        throw new Error(`downstream did not accept the ${mapped.points} points: ${(err as Error).message}`);
      }
      this.tel.accepted(mapped.points, 'metrics');
      st.counters.points += mapped.points;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await watermarks.save(spec.name, to);
        break;
      } catch (err) {
        // under a lease, what was just consumed must not be imported again: retry the KV write until it lands or the lease is gone
        if (guard === undefined || signal.aborted || isLeaseLost(err)) throw err;
        st.lastError = this.scrub(`cannot write the watermark to the cluster KV (will retry): ${describe(err)}`);
        st.lastErrorAt = this.clock.now();
        await this.clock.sleep(this.backoff(attempt), guard.signal);
      }
    }
    st.watermark = to;
    st.lastSuccessAt = this.clock.now();
  }

  /**
   * The "Test query": checks $1/$2, runs the query over [now − min(history,
   * chunk), now) (or `sinceMs`), maps the rows, returns a preview. Consumes
   * nothing; the watermark does not move.
   */
  async testQuery(name: string, opts: { sinceMs?: number; limit?: number } = {}): Promise<TestQueryResult | undefined> {
    const spec = this.cfg.importers.find((i) => i.name === name);
    if (spec === undefined) return undefined;
    const st = this.states.get(name)!;
    // run-once: the watermark is the lease holder's in the cluster's KV (this node may not hold the lease)
    const stored =
      this.cluster !== undefined
        ? ((this.grant !== undefined ? st.watermark : undefined) ?? (await this.cluster.readWatermark(this.set.id, name)))
        : (st.watermark ?? (await this.watermarks.load(name)));
    const to = floorTo(this.clock.now() - spec.delay, spec.align);
    const from = floorTo(to - (opts.sinceMs ?? Math.min(spec.history > 0 ? spec.history : spec.period, spec.chunk)), spec.align);
    const out: TestQueryResult = {
      importer: name,
      ok: false,
      source: this.cfg.source,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      errors: [],
      watermark: stored === undefined ? null : new Date(stored).toISOString(),
    };
    if (this.cfg.source !== 'graphite') {
      const missing = missingPlaceholders(spec.query);
      if (missing.length > 0) {
        out.errors.push(placeholderMessage(missing));
        return out;
      }
    }
    const src = this.sourceOrCreate();
    out.request = src.describe(spec, from, to);
    try {
      const rs = await src.query(spec, from, to, this.ac.signal);
      out.columns = rs.columns;
      out.rows = rs.rows.length;
      const mapped = mapRows(rs, spec, src.timeUnit(spec), from, to, this.set.id);
      out.points = mapped.points;
      out.skipped_rows = mapped.skipped;
      if (mapped.firstSkip !== undefined) out.first_skip = mapped.firstSkip;
      const metric = mapped.batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!;
      out.preview = (metric.points as Array<{ timeUnixNano: bigint; value: number | bigint; attributes: Record<string, unknown> }>)
        .slice(0, opts.limit ?? 20)
        .map((p) => ({
          metric: metric.name,
          kind: spec.metric.kind,
          time: new Date(Number(p.timeUnixNano / 1_000_000n)).toISOString(),
          value: Number(p.value),
          attributes: p.attributes,
        }));
      out.ok = true;
    } catch (err) {
      out.errors.push(
        this.scrub(
          err instanceof SourceQueryError
            ? `the source refused the query: ${err.message}`
            : err instanceof MappingError
              ? `the rows do not fit the mapping: ${err.message}`
              : `the query failed: ${describe(err)}`,
        ),
      );
    }
    return out;
  }

  /** Why a test query of importer `name` may not span `sinceMs` (undefined: it may; see testSpanProblem). */
  testSpanProblem(name: string, sinceMs: number): string | undefined {
    const spec = this.cfg.importers.find((i) => i.name === name);
    return spec === undefined ? undefined : testSpanProblem(spec, sinceMs);
  }

  importerNames(): string[] {
    return this.cfg.importers.map((i) => i.name);
  }

  async shutdown(deadline: AbortSignal): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.ac.abort();
    }
    const all = Promise.all(this.loops);
    await new Promise<void>((resolve) => {
      if (deadline.aborted) return resolve();
      const onDeadline = (): void => resolve();
      deadline.addEventListener('abort', onDeadline, { once: true });
      void all.then(() => {
        deadline.removeEventListener('abort', onDeadline);
        resolve();
      });
    });
    const src = this.source;
    this.source = undefined;
    await src?.close();
    // the loops have stopped writing: hand the lease to another node now
    const lease = this.lease;
    this.lease = undefined;
    await lease?.release();
  }

  /** Failing hard: every importer's last attempt failed because the source refused the query (waiting will not fix it). */
  healthy(): boolean {
    return ![...this.states.values()].every((s) => s.attempt > 0 && s.lastError !== null && s.lastError.startsWith('the source refused'));
  }

  status(): Record<string, unknown> {
    const now = this.clock.now();
    const importers: Record<string, unknown> = {};
    for (const s of this.states.values()) {
      importers[s.name] = {
        phase: s.phase,
        watermark: s.watermark === undefined ? null : new Date(s.watermark).toISOString(),
        lag_seconds: s.watermark === undefined ? null : Math.max(0, Math.round((now - s.watermark) / 1000)),
        last_success_at: s.lastSuccessAt === undefined ? null : new Date(s.lastSuccessAt).toISOString(),
        last_error: s.lastError,
        last_error_at: s.lastErrorAt === undefined ? null : new Date(s.lastErrorAt).toISOString(),
        attempt: s.attempt,
        counters: { ...s.counters },
      };
    }
    return {
      ...(this.lease !== undefined
        ? { cluster: { run: 'once', holds_lease: this.grant !== undefined, ...(this.grant !== undefined ? { token: this.grant.token } : {}) } }
        : {}),
      source: this.cfg.source,
      ...(this.cfg.source === 'influxdb' || this.cfg.source === 'graphite'
        ? { endpoint: this.cfg.endpoint }
        : { host: this.cfg.host, database: this.cfg.database }),
      importers,
      counters: this.tel.totals(),
    };
  }

  /** for tests */
  state(name: string): ImporterState | undefined {
    return this.states.get(name);
  }
}

function floorTo(ms: number, step: number): number {
  const s = Math.max(1000, step);
  return Math.floor(ms / s) * s;
}

function describe(err: unknown): string {
  if (err instanceof SourceQueryError) return `the source refused the query: ${err.message}`;
  if (err instanceof MappingError) return `the rows do not fit the mapping: ${err.message}`;
  const e = err as Error & { code?: string; errors?: Error[] };
  if (e?.name === 'AggregateError' && Array.isArray(e.errors) && e.errors.length > 0) return e.errors.map((x) => x.message).join('; ');
  const msg = e?.message ?? String(err);
  let cause = (e as { cause?: { code?: string; message?: string; errors?: Array<{ code?: string }> } })?.cause;
  if (cause?.code === undefined && Array.isArray(cause?.errors)) cause = cause?.errors[0];
  return cause?.code !== undefined ? `${msg} (${cause.code})` : msg === '' && e?.code !== undefined ? e.code : msg;
}
