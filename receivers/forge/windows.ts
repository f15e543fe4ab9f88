/**
 * Cutting a span into API windows (pure). Windows are consecutive,
 * half-open `[start, end)` in milliseconds, at most `max` long, with no gap
 * and no overlap: each window's start is the previous one's end.
 */
import { MAX_HISTORY_MS, MAX_WINDOW_MS } from './config.js';

export interface TimeWindow {
  start: number;
  end: number;
}

const MINUTE = 60_000;

/** The newest end a pass asks for: `now − delay`, down to a whole minute. */
export function passTarget(nowMs: number, delayMs: number): number {
  return Math.floor((nowMs - delayMs) / MINUTE) * MINUTE;
}

/**
 * Where a pass starts for one environment: the stored watermark, or
 * `target − history` on a first start; never before `now − 14 d`.
 * `expiredMs` is how much of the stored span fell outside the 14 days.
 */
export function passStart(watermark: number | undefined, target: number, historyMs: number, nowMs: number): { start: number; expiredMs: number } {
  const floor = nowMs - MAX_HISTORY_MS;
  const wanted = watermark ?? target - Math.min(historyMs, MAX_HISTORY_MS);
  if (wanted >= floor) return { start: wanted, expiredMs: 0 };
  return { start: Math.ceil(floor / MINUTE) * MINUTE, expiredMs: watermark === undefined ? 0 : Math.ceil(floor / MINUTE) * MINUTE - wanted };
}

/** The next window after `from` towards `to`, without building the list. */
export function nextWindow(from: number, to: number, max: number = MAX_WINDOW_MS): TimeWindow | undefined {
  return from < to ? { start: from, end: Math.min(from + max, to) } : undefined;
}
