/**
 * The `stability` processor: passes metrics through (dropping group points
 * that lack a linked attribute) and, on a ticker, emits the closed windows'
 * scores downstream. On shutdown every open window is emitted as it is.
 * Windows that began before start() are never scored (no errors were
 * collected for them): counted `uncovered`.
 */
import type { Consumer, CreateSettings, Host, Processor } from '../../src/component.js';
import { countPoints, type MetricsBatch } from '../../src/model/index.js';
import { RateLimitedLog } from '../../src/ratelimitedlog.js';
import type { ProcessorTelemetry } from '../../src/telemetry.js';
import type { StabilityConfig } from './config.js';
import { StabilityEngine } from './engine.js';

export class StabilityProcessor implements Processor<MetricsBatch> {
  readonly mutatesData = false;
  readonly engine: StabilityEngine;
  private readonly id: string;
  /** refused emissions: the first warned at once, then one line per interval with the suppressed count */
  private readonly warnings: RateLimitedLog;
  private readonly tel: ProcessorTelemetry;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private stopped = false;
  private lastError: string | null = null;
  private readonly reported = { no_denominator: 0, missing_attribute: 0, late: 0, uncovered: 0, overflow: 0, unsupported: 0 };

  constructor(
    set: CreateSettings,
    readonly cfg: StabilityConfig,
    private readonly next: Consumer<MetricsBatch>,
    private readonly now: () => number = Date.now,
  ) {
    this.id = set.id;
    this.warnings = new RateLimitedLog(set.logger, { now });
    this.tel = set.telemetry.processor(set.id, set.pipeline ?? '');
    this.engine = new StabilityEngine(cfg);
  }

  async start(_host: Host): Promise<void> {
    if (this.timer !== undefined || this.stopped) return;
    // the error side (metric-set windows) is collected from now on: earlier windows have no errors to divide
    this.engine.coverFrom(BigInt(this.now()) * 1_000_000n);
    const shortest = Math.min(...this.cfg.groups.map((g) => g.window));
    const every = Math.max(100, Math.min(5000, Math.floor(shortest / 10)));
    this.timer = setInterval(() => {
      void this.tick(false);
    }, every);
    this.timer.unref();
  }

  async consume(batch: MetricsBatch): Promise<void> {
    const n = countPoints(batch);
    this.tel.incoming(n);
    const out = this.engine.add(batch);
    this.report();
    const m = out === batch ? n : countPoints(out);
    if (m === 0) return;
    await this.next.consume(out);
    this.tel.outgoing(m);
  }

  /** Emit what is due; never rejects (a refused emission is counted and logged, rate-limited). */
  tick(all: boolean): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const out = this.engine.close(BigInt(this.now()) * 1_000_000n, all);
      this.report();
      if (out === undefined) return;
      const n = countPoints(out);
      try {
        await this.next.consume(out);
        this.tel.outgoing(n);
      } catch (err) {
        this.lastError = (err as Error).message;
        this.tel.dropped(n, 'refused_downstream');
        this.warnings.warn('refused_downstream', { processor: this.id, points: n, err: this.lastError }, 'stability scores not accepted downstream; dropped');
      }
    });
    return this.flushing;
  }

  private report(): void {
    const c = this.engine.counters;
    for (const k of Object.keys(this.reported) as Array<keyof typeof this.reported>) {
      const d = c[k] - this.reported[k];
      if (d > 0) {
        this.tel.dropped(d, k);
        this.reported[k] = c[k];
      }
    }
  }

  async shutdown(_deadline: AbortSignal): Promise<void> {
    if (this.stopped) return this.flushing;
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.tick(true);
  }

  status(): Record<string, unknown> {
    return {
      groups: this.cfg.groups.map((g) => g.name),
      open_entries: this.engine.size,
      counters: { ...this.engine.counters, ...this.tel.totals() },
      last_error: this.lastError,
    };
  }
}
