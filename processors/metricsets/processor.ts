/**
 * The `metricsets` processor (the implementation its factory loads): one
 * MetricSetsEngine per pipeline, a timer closing due windows, the closed
 * windows sent downstream, counters and gauges.
 */
import type { Consumer, CreateSettings, Host, Processor, ProcessorImpl } from '../../src/component.js';
import { ConfigError, type ConfigIssue } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import { RateLimitedLog } from '../../src/ratelimitedlog.js';
import { countPoints, type EventBatch, type MetricsBatch } from '../../src/model/index.js';
import type { ProcessorTelemetry, Telemetry } from '../../src/telemetry.js';
import type { FleetChannel, ClusterHost, PartialMessage } from '../../src/cluster/api.js';
import { FleetOwner } from '../../src/fleet/owner.js';
import { chunkEntries, encodeEnvelope, messageId } from '../../src/fleet/wire.js';
import { compileMetricSets, type MetricSetsConfig, type MetricSpec } from './config.js';
import { MetricSetsEngine, type EngineOptions, type PreviewWindow, type Window } from './engine.js';
import { mergeEntries, metricIndex, windowEntries, zeroFillOwner } from './partial.js';
import { EventHistory, type HistoryOptions } from './history.js';

const LOG_INTERVAL_MS = 10_000;

export function engineOptions(cfg: MetricSetsConfig, mode: 'wall' | 'replay'): EngineOptions {
  return {
    periodMs: cfg.period,
    latenessMs: cfg.allowed_lateness ?? cfg.period,
    maxGroups: cfg.max_groups,
    zeroFill: cfg.zero_fill,
    hllThreshold: cfg.unique.exact_threshold,
    hllPrecision: cfg.unique.precision,
    ddAccuracy: cfg.percentiles.relative_accuracy,
    mode,
  };
}

export function compileOrThrow(id: string, cfg: MetricSetsConfig): MetricSpec[] {
  const issues: ConfigIssue[] = [];
  const specs = compileMetricSets(cfg, issues);
  if (issues.some((i) => i.severity === 'error')) throw new ConfigError(issues.map((i) => ({ ...i, path: `processors.${id}.${i.path}` })));
  return specs;
}

/** The definitions of the sets, for GET /api/v1/metricsets. */
function describeSets(specs: MetricSpec[]): Array<Record<string, unknown>> {
  const sets = new Map<string, Array<Record<string, unknown>>>();
  for (const s of specs) {
    let list = sets.get(s.set);
    if (list === undefined) {
      list = [];
      sets.set(s.set, list);
    }
    list.push({
      name: s.name,
      ...(s.description !== '' ? { description: s.description } : {}),
      filter: s.filterSpec ?? null,
      group_by: s.groupBy,
      group_by_defaults: Object.fromEntries(s.groupBy.flatMap((g, i) => (s.defaults[i] === undefined ? [] : [[g, s.defaults[i]]]))),
      aggregates: s.aggs.map((a) => a.text),
      series: s.aggs.map((a) => ({
        name: a.output,
        aggregate: a.text,
        kind: a.kind === 'count' || a.kind === 'sum' ? 'sum' : 'gauge',
        temporality: a.kind === 'count' || a.kind === 'sum' ? 'delta' : null,
        attributes: s.groupBy,
      })),
    });
  }
  return [...sets].map(([name, metrics]) => ({ name, metrics }));
}

/**
 * The histories by pipeline and processor id: a reload (a metric exported
 * from the console, say) builds a new processor, which keeps the same
 * history when its bounds are unchanged, so Explore does not start empty.
 * A processor removed from the config leaves its history here, within its
 * bounds, until the process ends.
 */
const histories = new Map<string, EventHistory>();
function sharedHistory(key: string, o: HistoryOptions, now: () => number): EventHistory {
  const h = histories.get(key);
  if (h !== undefined && h.o.maxAgeMs === o.maxAgeMs && h.o.maxBytes === o.maxBytes) return h;
  const fresh = new EventHistory(o, now);
  histories.set(key, fresh);
  return fresh;
}

export class MetricSetsProcessor implements Processor<EventBatch> {
  readonly mutatesData = false;
  readonly engine: MetricSetsEngine;
  /** the recent events for Explore; undefined with history.enabled: false */
  readonly history: EventHistory | undefined;
  private readonly tel: ProcessorTelemetry;
  private readonly logger: Logger;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped: Promise<void> | undefined;
  private inflight = new Set<Promise<void>>();
  private emitted = 0;
  private emitFailed = 0;
  private lastError: string | undefined;
  private lastLog = 0;
  /** max_groups warnings, one budget per metric */
  private readonly warnings: RateLimitedLog;
  /** overflow count per metric when last checked */
  private readonly overflowSeen: number[];
  /** scope cluster with a cluster: the channel this node publishes its partials on, and the owner of its partitions */
  private fleet: { cluster: ClusterHost; channel: FleetChannel; owner: FleetOwner<Window>; pub: string; from: number } | undefined;
  private published = { windows: 0, messages: 0, failed_windows: 0 };

  constructor(
    private readonly set: CreateSettings,
    readonly cfg: MetricSetsConfig,
    readonly specs: MetricSpec[],
    private readonly next: Consumer<MetricsBatch>,
    /** the wall clock in ms (tests inject one) */
    private readonly now: () => number = Date.now,
  ) {
    this.logger = set.logger;
    this.tel = set.telemetry.processor(set.id, set.pipeline ?? 'events');
    this.engine = new MetricSetsEngine(specs, engineOptions(cfg, 'wall'), now());
    const h = cfg.history ?? { enabled: false, max_age: 0, max_bytes: 0 };
    this.history = h.enabled ? sharedHistory(`${set.pipeline ?? ''}\u0000${set.id}`, { maxAgeMs: h.max_age, maxBytes: h.max_bytes }, now) : undefined;
    this.warnings = new RateLimitedLog(set.logger, { now });
    this.overflowSeen = specs.map(() => 0);
    registerGauges(set.telemetry, set.id, set.pipeline ?? '', this);
  }

  async start(host: Host): Promise<void> {
    if (this.started || this.stopped !== undefined) return;
    this.started = true;
    if (this.cfg.scope === 'cluster') {
      const cluster = host.cluster;
      if (cluster === undefined) {
        this.logger.warn({ processor: this.set.id }, 'scope: cluster without service.cluster: this instance exports its own windows (it is the whole fleet)');
      } else {
        const channel = cluster.fleet(this.set.id);
        const engine = this.engine;
        const index = metricIndex(engine);
        const partitions = cluster.partitions;
        const owner = new FleetOwner<Window>({
          id: this.set.id,
          cluster,
          channel,
          logger: this.logger,
          telemetry: this.set.telemetry,
          now: this.now,
          adapter: {
            periodMs: this.cfg.period,
            latenessMs: engine.o.latenessMs,
            waitMs: this.cfg.cluster_wait,
            newWindow: (k) => engine.emptyWindow(k),
            merge: (w, entries) => mergeEntries(engine, index, w, entries),
            build: (_k, w, p) => engine.buildWindow(w, zeroFillOwner(engine, partitions, p)),
          },
          deliver: async (b) => {
            const n = countPoints(b);
            try {
              await this.next.consume(b);
              this.tel.outgoing(n);
              this.emitted += n;
            } catch (err) {
              this.noteError(err, 'downstream refused a merged window');
              throw err;
            }
          },
        });
        this.fleet = { cluster, channel, owner, pub: `${cluster.nodeId}.${cluster.instanceId}`, from: engine.firstWindow };
        channel.announce({ from: engine.firstWindow, period: this.cfg.period });
        owner.start();
      }
    }
    this.schedule();
  }

  /** Scope cluster: one message per partition (more when large) per closed window, queued durably, published in window order. */
  private publish(windows: Window[]): Promise<void> {
    const f = this.fleet!;
    const parts = f.cluster.partitions;
    const p = (async () => {
      for (const w of windows) {
        const messages: PartialMessage[] = [];
        windowEntries(this.engine, w, parts).forEach((entries, part) => {
          const chunks = chunkEntries(entries);
          chunks.forEach((c, i) => {
            const head = { c: this.set.id, pub: f.pub, from: f.from, k: w.k, P: this.cfg.period, p: part, i, n: chunks.length };
            messages.push({ partition: part, id: messageId(head), data: encodeEnvelope(head, c) });
          });
        });
        try {
          await f.channel.send(messages);
          this.published.windows++;
          this.published.messages += messages.length;
        } catch (err) {
          this.published.failed_windows++;
          this.noteError(err, 'cannot queue the partials of a closed window on disk; they are lost');
        }
      }
    })();
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  private schedule(): void {
    if (this.stopped !== undefined) return;
    const delay = Math.max(1, this.engine.nextCloseMs() - this.now());
    this.timer = setTimeout(
      () => {
        void this.tick();
      },
      Math.min(delay, 2 ** 31 - 1),
    ); // tick never rejects
    this.timer.unref();
  }

  /** Close due windows and send them on (never rejects). */
  tick(): Promise<void> {
    this.timer = undefined;
    let batches: MetricsBatch[];
    if (this.fleet !== undefined) {
      let windows: Window[] = [];
      try {
        windows = this.engine.closeDueWindows(this.now(), true);
      } catch (err) {
        this.noteError(err, 'closing windows failed');
      }
      const p = this.publish(windows);
      this.schedule();
      return p;
    }
    try {
      batches = this.engine.closeDue(this.now());
    } catch (err) {
      this.noteError(err, 'closing windows failed');
      batches = [];
    }
    const p = this.send(batches);
    this.schedule();
    return p;
  }

  private send(batches: MetricsBatch[]): Promise<void> {
    if (batches.length === 0) return Promise.resolve();
    const p = (async () => {
      for (const b of batches) {
        const n = countPoints(b);
        try {
          await this.next.consume(b);
          this.tel.outgoing(n);
          this.emitted += n;
        } catch (err) {
          this.emitFailed += n;
          this.tel.dropped(n, 'export_failed');
          this.noteError(err, 'downstream refused a closed window; its points are dropped');
        }
      }
    })();
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
    return p;
  }

  private noteError(err: unknown, msg: string): void {
    this.lastError = err instanceof Error ? err.message : String(err);
    const now = Date.now();
    if (now - this.lastLog < LOG_INTERVAL_MS) return;
    this.lastLog = now;
    this.logger.warn({ err: this.lastError }, msg);
  }

  consume(data: EventBatch): Promise<void> {
    const n = data.events.length;
    this.tel.incoming(n);
    this.history?.append(data.events);
    const r = this.engine.add(data.events, this.now());
    if (r.late > 0) this.tel.dropped(r.late, 'late');
    this.warnOverflow();
    return Promise.resolve();
  }

  /** A metric that reached max_groups since the last batch: a warning naming it (rate-limited per metric). */
  private warnOverflow(): void {
    const counters = this.engine.counters;
    for (let i = 0; i < counters.length; i++) {
      const total = counters[i]!.overflow;
      if (total === this.overflowSeen[i]) continue;
      this.overflowSeen[i] = total;
      const s = this.specs[i]!;
      this.warnings.warn(
        `max_groups\u0000${i}`,
        { processor: this.set.id, metric_set: s.set, metric: s.name, max_groups: this.cfg.max_groups, overflow_events: total },
        `max_groups (${this.cfg.max_groups}) reached: events of further groups are counted in the group "__overflow__" (raise max_groups, or group by attributes with fewer values)`,
      );
    }
  }

  /** Events are accepted at once; nothing to release early. */
  drain(): void {}

  shutdown(deadline: AbortSignal): Promise<void> {
    this.stopped ??= this.doShutdown(deadline);
    return this.stopped;
  }

  private async doShutdown(deadline: AbortSignal): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.fleet !== undefined) {
      // the open windows' partials go out now (the owners merge them with the others'); this node stops owning
      const pub = this.publish(this.engine.flushAllWindows(this.now()));
      this.fleet.owner.stop();
      await raceAbort(
        Promise.all([...this.inflight, pub]).then(() => undefined),
        deadline,
      );
      return;
    }
    const batches = this.started ? this.engine.flushAll(this.now()) : this.engine.flushAll();
    const all = Promise.all([...this.inflight, this.send(batches)]).then(() => undefined);
    await new Promise<void>((resolve) => {
      if (deadline.aborted) {
        resolve();
        return;
      }
      const onAbort = () => resolve();
      deadline.addEventListener('abort', onAbort, { once: true });
      void all.then(() => {
        deadline.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  /** The open windows' current values (GET /api/v1/metricsets/<set>/preview). */
  preview(set?: string): PreviewWindow[] {
    return this.engine.preview(set);
  }

  /** The set definitions (GET /api/v1/metricsets). */
  definitions(): Array<Record<string, unknown>> {
    return describeSets(this.specs);
  }

  status(): Record<string, unknown> {
    const e = this.engine;
    return {
      ...this.tel.totals(),
      period_ms: e.o.periodMs,
      allowed_lateness_ms: e.o.latenessMs,
      open_windows: e.openWindows,
      late_events: e.late,
      future_events: e.future,
      emitted_points: this.emitted,
      scope: this.fleet !== undefined ? 'cluster' : 'local',
      ...(this.fleet !== undefined ? { fleet: { published: { ...this.published }, channel: this.fleet.channel.status(), ...this.fleet.owner.status() } } : {}),
      emit_failed_points: this.emitFailed,
      ...(this.lastError !== undefined ? { last_error: this.lastError } : {}),
      metrics: this.specs.map((s, i) => ({ set: s.set, metric: s.name, ...e.counters[i] })),
      ...(this.history !== undefined ? { history: this.history.stats() } : {}),
    };
  }
}

function raceAbort(p: Promise<void>, deadline: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (deadline.aborted) {
      resolve();
      return;
    }
    const onAbort = () => resolve();
    deadline.addEventListener('abort', onAbort, { once: true });
    void p.then(() => {
      deadline.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

function registerGauges(tel: Telemetry, id: string, pipeline: string, p: MetricSetsProcessor): void {
  const e = p.engine;
  tel.gauge(
    'metricport_metricsets_late_events',
    'Events dropped because their window had closed (older than the allowed lateness), cumulative',
    { processor: id, pipeline },
    () => e.late,
  );
  tel.gauge(
    'metricport_metricsets_future_events',
    'Events more than one period in the future, taken as arriving now, cumulative',
    { processor: id, pipeline },
    () => e.future,
  );
  tel.gauge('metricport_metricsets_open_windows', 'Windows holding state', { processor: id, pipeline }, () => e.openWindows);
  const h = p.history;
  if (h !== undefined) {
    tel.gauge('metricport_metricsets_history_events', 'Events kept for Explore', { processor: id, pipeline }, () => h.events);
    tel.gauge('metricport_metricsets_history_bytes', 'Estimated bytes the Explore history holds', { processor: id, pipeline }, () => h.bytes);
    tel.gauge(
      'metricport_metricsets_history_dropped_events',
      'Events dropped from the Explore history (reason: age or bytes), cumulative',
      { processor: id, pipeline, reason: 'age' },
      () => h.droppedByAge,
    );
    tel.gauge(
      'metricport_metricsets_history_dropped_events',
      'Events dropped from the Explore history (reason: age or bytes), cumulative',
      { processor: id, pipeline, reason: 'bytes' },
      () => h.droppedByBytes,
    );
  }
  p.specs.forEach((s, i) => {
    const c = e.counters[i]!;
    const base = { processor: id, pipeline, metric_set: s.set, metric: s.name };
    tel.gauge(
      'metricport_metricsets_missing_group_by_events',
      'Events dropped for a metric because a group_by attribute was missing without a default, cumulative',
      base,
      () => c.missing_group_by,
    );
    tel.gauge(
      'metricport_metricsets_overflow_events',
      'Events counted in the __overflow__ group because the metric reached max_groups in their window, cumulative',
      base,
      () => c.overflow,
    );
    tel.gauge(
      'metricport_metricsets_non_numeric_values',
      'Values ignored by numeric aggregates because they were not numbers, cumulative',
      base,
      () => c.non_numeric,
    );
  });
}

/** What the factory's load() returns. */
export const metricsetsImpl: ProcessorImpl<MetricSetsConfig> = {
  create(set, cfg, signal, next) {
    if (signal !== 'events') throw new Error(`metricsets processor takes events, not ${signal}`);
    return new MetricSetsProcessor(set, cfg, compileOrThrow(set.id, cfg), next as Consumer<MetricsBatch>);
  },
};
