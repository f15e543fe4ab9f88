/**
 * Time as the forge poller sees it, injectable so tests control it: `now()`,
 * `sleep()` (the poller's only way to wait: rate limit, backoff, interval) and
 * a one-shot timer for call deadlines.
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface Clock {
  now(): number;
  /** resolves after `ms`, or at once (without throwing) when `signal` aborts */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/**
 * Wall-clock time. `keepAlive: false` (the service) unrefs every timer so a
 * sleeping poller never holds the process open; the one-shot `forge pull`
 * uses `keepAlive: true`, since its pass is all the process does.
 */
export function systemClock(keepAlive = false): Clock {
  return {
    now: () => Date.now(),
    async sleep(ms, signal) {
      if (signal?.aborted) return;
      try {
        await delay(Math.max(0, ms), undefined, { signal, ref: keepAlive });
      } catch {
        // aborted: the caller checks its signal
      }
    },
    setTimer(fn, ms) {
      const t = setTimeout(fn, ms);
      if (!keepAlive) t.unref();
      return t;
    },
    clearTimer(h) {
      clearTimeout(h as NodeJS.Timeout);
    },
  };
}
