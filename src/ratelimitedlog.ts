/**
 * Rate-limited log lines for problems an operator must act on (a wrong key,
 * a limit reached, a store failing) that can happen once per request or per
 * point. Per key: the first occurrence is logged at once; after that at most
 * one line per interval, carrying `suppressed` (occurrences not logged since
 * the previous line). Occurrences are counted, never buffered; the key map is
 * bounded (the least recently logged key is forgotten first). Never throws.
 *
 *     const warn = new RateLimitedLog(set.logger);
 *     warn.warn('max_groups', { processor: set.id, max_groups: 10000 }, 'max_groups reached; new groups are dropped');
 *
 * Fields must name the component and never carry a secret (no keys, tokens,
 * DSNs or URLs with credentials): callers pass what identifies the problem.
 */
import type { Logger } from './logger.js';

export interface RateLimitedLogOptions {
  /** at most one line per key per this many ms after the first (default 60 000) */
  intervalMs?: number;
  /** keys remembered at once (default 256); beyond it the least recently logged is forgotten */
  maxKeys?: number;
  /** clock, for tests */
  now?: () => number;
}

export type RateLimitedLevel = 'debug' | 'info' | 'warn' | 'error';

interface KeyState {
  last: number;
  suppressed: number;
}

export const RATE_LIMITED_LOG_INTERVAL_MS = 60_000;

export class RateLimitedLog {
  readonly intervalMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly logger: Logger,
    opts: RateLimitedLogOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? RATE_LIMITED_LOG_INTERVAL_MS;
    this.maxKeys = Math.max(1, opts.maxKeys ?? 256);
    this.now = opts.now ?? Date.now;
  }

  warn(key: string, fields: Record<string, unknown>, msg: string): boolean {
    return this.log('warn', key, fields, msg);
  }
  error(key: string, fields: Record<string, unknown>, msg: string): boolean {
    return this.log('error', key, fields, msg);
  }

  /** Log `msg` under `key` unless a line for `key` went out less than an interval ago; true when logged. */
  log(level: RateLimitedLevel, key: string, fields: Record<string, unknown>, msg: string): boolean {
    const t = this.now();
    const s = this.keys.get(key);
    if (s !== undefined && t - s.last < this.intervalMs) {
      s.suppressed++;
      return false;
    }
    const suppressed = s?.suppressed ?? 0;
    this.keys.delete(key); // re-insert: the map's order is least recently logged first
    if (this.keys.size >= this.maxKeys) {
      const oldest = this.keys.keys().next();
      if (oldest.done !== true) this.keys.delete(oldest.value);
    }
    this.keys.set(key, { last: t, suppressed: 0 });
    try {
      this.logger[level](suppressed > 0 ? { ...fields, suppressed } : fields, msg);
    } catch {
      /* logging never fails the caller */
    }
    return true;
  }

  /** Occurrences of `key` not logged since its last line (0 when unknown). */
  suppressedCount(key: string): number {
    return this.keys.get(key)?.suppressed ?? 0;
  }
}
