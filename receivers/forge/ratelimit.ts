/**
 * The client-side rate limit of the App metrics API: at most 5 calls in any
 * minute per user. All forge receivers (and `forge pull` passes) with the same
 * email share one limiter, keyed by the lower-cased email.
 *
 * Grants are reserved synchronously (FIFO), so any `max + 1` consecutive grants
 * span at least `windowMs`; every waiter waits through `clock.sleep`.
 */
import type { Clock } from './clock.js';

/** The API's limit. */
const CALLS_PER_MINUTE = 5;
/** One minute plus a second of margin for clock skew and network delay. */
const RATE_WINDOW_MS = 61_000;

export class CallRateLimiter {
  /** the last `max` grant times, non-decreasing */
  private readonly grants: number[] = [];
  /** total time callers waited, ms */
  waitedMs = 0;
  waits = 0;

  constructor(
    readonly clock: Clock,
    readonly max: number = CALLS_PER_MINUTE,
    readonly windowMs: number = RATE_WINDOW_MS,
  ) {}

  /** Wait for a call slot; resolves with the wait in ms. When `signal` aborts the slot is given up (returns -1). */
  async acquire(signal?: AbortSignal): Promise<number> {
    const now = this.clock.now();
    const g = this.grants;
    let at = now;
    if (g.length >= this.max) at = Math.max(now, (g[g.length - this.max] as number) + this.windowMs);
    g.push(at);
    if (g.length > this.max) g.shift();
    const wait = at - now;
    if (wait > 0) {
      this.waits++;
      this.waitedMs += wait;
      await this.clock.sleep(wait, signal);
      if (signal?.aborted) return -1;
    }
    return wait;
  }
}

/** Limiters by email, shared by every forge receiver in the process. Bounded by the number of configured emails. */
export class LimiterRegistry {
  private readonly byEmail = new Map<string, { limiter: CallRateLimiter; users: number }>();

  /** The limiter for `email`; the first caller's clock drives it. Call `release` when done. */
  acquire(email: string, clock: Clock): CallRateLimiter {
    const key = email.trim().toLowerCase();
    let e = this.byEmail.get(key);
    if (e === undefined) {
      e = { limiter: new CallRateLimiter(clock), users: 0 };
      this.byEmail.set(key, e);
    }
    e.users++;
    return e.limiter;
  }

  release(email: string): void {
    const key = email.trim().toLowerCase();
    const e = this.byEmail.get(key);
    if (e === undefined) return;
    e.users--;
    // keep the grants while any user remains; forget them a minute after the last one leaves would need a timer: drop at once instead
    if (e.users <= 0) this.byEmail.delete(key);
  }

  get size(): number {
    return this.byEmail.size;
  }
}

/** The process-wide registry. */
export const sharedLimiters = new LimiterRegistry();
