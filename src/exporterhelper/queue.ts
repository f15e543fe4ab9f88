/**
 * The sending queue between a pipeline and an exporter's backend.
 *
 * `SendQueue<T>` is what the exporter helper talks to; `MemoryQueue` is the
 * bounded in-memory implementation. A persistent on-disk queue can sit behind
 * the same interface: `offer` may then resolve once the item is durable, and
 * an item counts as done (may be deleted) when the consumer's promise for it
 * settles, since the consumer does its own retrying and drop accounting.
 */
import { setMaxListeners } from 'node:events';
import { memoryLimiter } from '../memorylimiter.js';

export type DropPolicy = 'refuse' | 'drop_oldest';
export type QueueDropReason = 'queue_full' | 'shutdown' | 'memory_limit';

export interface QueueOptions {
  /** capacity in size units (whatever `offer`'s `size` counts: requests or items) */
  capacity: number;
  /** concurrent consumers */
  numConsumers: number;
  /** when full: refuse the new item (offer → false) or evict the oldest ones */
  dropPolicy: DropPolicy;
}

/**
 * Sends one item. Must not throw (failures are its own to count); `signal`
 * aborts when the queue's drain deadline passes, and the consumer should then
 * return at once.
 */
export type QueueConsumer<T> = (item: T, signal: AbortSignal) => Promise<void>;

/** Told about every item the queue gives up on: evicted (`queue_full`) or left at the drain deadline (`shutdown`). */
export type DropHandler<T> = (item: T, size: number, reason: QueueDropReason) => void;

export interface SendQueue<T> {
  /**
   * Add an item of `size` units. false when it does not fit (policy "refuse"),
   * or the queue is draining. An item larger than the whole capacity is
   * accepted only into an empty queue. May return a promise (durable queues).
   */
  offer(item: T, size: number): boolean | Promise<boolean>;
  /** units queued (not counting items being sent) */
  size(): number;
  capacity(): number;
  /** start the consumers; items offered before start wait */
  start(consumer: QueueConsumer<T>): void;
  /**
   * Stop accepting, keep sending what is queued until empty or `deadline`
   * aborts; then abort in-flight sends and hand what is left to the drop
   * handler with reason "shutdown". Safe to call twice and without start.
   */
  drain(deadline: AbortSignal): Promise<void>;
}

interface Entry<T> {
  item: T;
  size: number;
}

function whenAborted(signal: AbortSignal): { promise: Promise<void>; dispose: () => void } {
  if (signal.aborted) return { promise: Promise.resolve(), dispose: () => undefined };
  let onAbort: () => void = () => undefined;
  const promise = new Promise<void>((resolve) => {
    onAbort = () => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
  });
  return { promise, dispose: () => signal.removeEventListener('abort', onAbort) };
}

/** A bounded FIFO in memory, with N consumer loops. */
export class MemoryQueue<T> implements SendQueue<T> {
  private readonly opts: QueueOptions;
  private readonly onDrop: DropHandler<T>;
  private buf: Array<Entry<T> | undefined> = [];
  private head = 0;
  private used = 0;
  private closed = false;
  private waiters: Array<() => void> = [];
  private loops: Promise<void>[] = [];
  private consumer: QueueConsumer<T> | undefined;
  private readonly stop = new AbortController();
  private draining: Promise<void> | undefined;

  constructor(opts: QueueOptions, onDrop: DropHandler<T>) {
    this.opts = { ...opts, capacity: Math.max(1, opts.capacity), numConsumers: Math.max(1, opts.numConsumers) };
    this.onDrop = onDrop;
    setMaxListeners(0, this.stop.signal); // one listener per send in flight
  }

  private get count(): number {
    return this.buf.length - this.head;
  }

  private shift(): Entry<T> | undefined {
    if (this.head >= this.buf.length) return undefined;
    const e = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.buf.length) {
      this.buf = this.buf.slice(this.head);
      this.head = 0;
    }
    if (e !== undefined) this.used -= e.size;
    return e;
  }

  private dropSafely(e: Entry<T>, reason: QueueDropReason): void {
    try {
      this.onDrop(e.item, e.size, reason);
    } catch {
      /* accounting must never break the queue */
    }
  }

  offer(item: T, size: number): boolean {
    if (this.closed) return false;
    const cap = this.opts.capacity;
    if (this.used + size > cap && this.count > 0) {
      if (this.opts.dropPolicy !== 'drop_oldest') return false;
      while (this.count > 0 && this.used + size > cap) {
        const e = this.shift();
        if (e !== undefined) this.dropSafely(e, 'queue_full');
      }
    }
    this.buf.push({ item, size });
    this.used += size;
    const w = this.waiters.shift();
    if (w !== undefined) w();
    return true;
  }

  size(): number {
    return this.used;
  }
  capacity(): number {
    return this.opts.capacity;
  }

  start(consumer: QueueConsumer<T>): void {
    if (this.consumer !== undefined || this.closed) return;
    this.consumer = consumer;
    this.unregister = memoryLimiter.register(() => this.shed());
    for (let i = 0; i < this.opts.numConsumers; i++) this.loops.push(this.loop());
  }

  private unregister: (() => void) | undefined;

  /** Memory hard limit: drop the oldest half of what is queued (counted, reason "memory_limit"); returns the entries dropped. */
  shed(): number {
    let k = Math.ceil(this.count / 2);
    let n = 0;
    while (k-- > 0) {
      const e = this.shift();
      if (e === undefined) break;
      this.dropSafely(e, 'memory_limit');
      n++;
    }
    // compact now so the dropped entries' slots are released for the GC
    if (this.head > 0) {
      this.buf = this.buf.slice(this.head);
      this.head = 0;
    }
    return n;
  }

  private async loop(): Promise<void> {
    const consumer = this.consumer as QueueConsumer<T>;
    for (;;) {
      if (this.stop.signal.aborted) return;
      const e = this.shift();
      if (e === undefined) {
        if (this.closed) return;
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      try {
        await consumer(e.item, this.stop.signal);
      } catch {
        /* consumers count their own failures */
      }
    }
  }

  private wakeAll(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  drain(deadline: AbortSignal): Promise<void> {
    if (this.draining === undefined) this.draining = this.doDrain(deadline);
    return this.draining;
  }

  private async doDrain(deadline: AbortSignal): Promise<void> {
    this.closed = true;
    this.unregister?.();
    this.wakeAll();
    if (this.consumer !== undefined && !deadline.aborted) {
      const all = Promise.all(this.loops);
      const ab = whenAborted(deadline);
      await Promise.race([all, ab.promise]);
      ab.dispose();
    }
    // deadline passed (or never started): what is still queued is dropped, in-flight sends are told to stop
    for (let e = this.shift(); e !== undefined; e = this.shift()) this.dropSafely(e, 'shutdown');
    this.stop.abort(new Error('sending queue drain deadline passed'));
    this.wakeAll();
    if (this.loops.length > 0) {
      let t: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        t = setTimeout(resolve, 1000);
        t.unref();
      });
      await Promise.race([Promise.all(this.loops), grace]);
      clearTimeout(t);
    }
  }
}
