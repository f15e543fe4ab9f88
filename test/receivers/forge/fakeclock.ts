/**
 * A virtual clock for the forge poller. Time moves only when the test says so
 * (`advance`) or, with `auto`, when every actor (poller loop) is asleep: then
 * it jumps to the earliest wake-up. An actor is "asleep" only while it waits
 * in `sleep()`; HTTP and file I/O in between run in real time at a standstill
 * of virtual time, so a 14-day catch-up at 5 calls/min runs in seconds.
 */
import type { Clock } from '../../../receivers/forge/clock.js';

interface Sleeper {
  at: number;
  resolve: () => void;
  seq: number;
  signal?: AbortSignal;
  onAbort?: () => void;
}
interface Timer {
  at: number;
  fn: () => void;
  seq: number;
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly sleepers: Sleeper[] = [];
  private readonly timers = new Map<number, Timer>();
  private checkScheduled = false;
  /** every sleep() ever requested, in virtual ms */
  readonly sleeps: number[] = [];

  /** `actors`: how many independent loops must be asleep before time jumps (0 = never auto-advance) */
  constructor(
    startMs: number,
    public actors = 1,
  ) {
    this.t = startMs;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const s: Sleeper = { at: this.t + Math.max(0, ms), resolve, seq: ++this.seq, signal };
      if (signal !== undefined) {
        s.onAbort = () => {
          this.remove(s);
          resolve();
        };
        signal.addEventListener('abort', s.onAbort, { once: true });
      }
      this.sleepers.push(s);
      this.scheduleCheck();
    });
  }

  setTimer(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn, seq: id });
    return id;
  }

  clearTimer(h: unknown): void {
    this.timers.delete(h as number);
  }

  /** Move time forward, firing timers and waking sleepers that fall due, in time order. */
  advance(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  advanceTo(target: number): void {
    for (;;) {
      const next = this.nextDue(target);
      if (next === undefined) break;
      this.t = Math.max(this.t, next.at);
      if ('resolve' in next) {
        this.remove(next);
        this.wake(next);
      } else {
        this.timers.delete(next.seq);
        next.fn();
      }
    }
    this.t = Math.max(this.t, target);
  }

  /** an actor finished (its loop will not sleep again) */
  retire(): void {
    this.actors = Math.max(0, this.actors - 1);
    this.scheduleCheck();
  }

  get sleeping(): number {
    return this.sleepers.length;
  }
  get pendingTimers(): number {
    return this.timers.size;
  }

  private nextDue(limit: number): Sleeper | Timer | undefined {
    let best: Sleeper | Timer | undefined;
    for (const s of this.sleepers) if (s.at <= limit && (best === undefined || s.at < best.at || (s.at === best.at && s.seq < best.seq))) best = s;
    for (const x of this.timers.values()) if (x.at <= limit && (best === undefined || x.at < best.at || (x.at === best.at && x.seq < best.seq))) best = x;
    return best;
  }

  private remove(s: Sleeper): void {
    const i = this.sleepers.indexOf(s);
    if (i >= 0) this.sleepers.splice(i, 1);
  }

  private wake(s: Sleeper): void {
    if (s.signal !== undefined && s.onAbort !== undefined) s.signal.removeEventListener('abort', s.onAbort);
    s.resolve();
  }

  private scheduleCheck(): void {
    if (this.checkScheduled || this.actors <= 0) return;
    this.checkScheduled = true;
    setImmediate(() => {
      this.checkScheduled = false;
      if (this.sleepers.length < this.actors || this.sleepers.length === 0) return;
      let earliest = this.sleepers[0]!;
      for (const s of this.sleepers) if (s.at < earliest.at || (s.at === earliest.at && s.seq < earliest.seq)) earliest = s;
      this.advanceTo(earliest.at);
    });
  }
}
