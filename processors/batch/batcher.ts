/**
 * A size- and time-triggered batcher that keeps every caller's promise.
 *
 * Data handed to `add()` is cut into slices (one per metric, or one per
 * event list) that count items (data points or events). Slices wait in a FIFO
 * buffer; a batch takes slices from the front, splitting the one at the
 * boundary when a maximum size applies. Each `add()` gets a waiter that
 * settles only once every slice it contributed has been accepted (resolve)
 * or refused (reject with the first downstream error) by `send`.
 *
 * Nothing here touches the input objects: slices carry references and
 * offsets, and `build` makes new containers.
 */
import { MetricportError, RefusedError } from '../../src/errors.js';
import type { Event, EventBatch, Metric, MetricsBatch, ResourceMetrics, ScopeMetrics } from '../../src/model/index.js';

/** A piece of one add()'s data with its item count. */
export interface Slice {
  items: number;
}

/** How to cut data into slices, split a slice, and rebuild data from slices. */
export interface SliceAdapter<T, S extends Slice> {
  /** the data's slices, in order */
  slices(data: T): S[];
  /** cut the first `n` items (0 < n < s.items) off `s`: returns them as a new slice and leaves the rest in `s` */
  split(s: S, n: number): S;
  /** new data holding these slices, in order */
  build(slices: S[]): T;
}

export interface BatcherOptions {
  /** items that trigger a send; 0 = only the timeout triggers */
  sendBatchSize: number;
  /** upper bound on a batch's items; 0 = none */
  sendBatchMaxSize: number;
  /** ms a non-empty buffer waits before it is sent; 0 = send on every add() */
  timeoutMs: number;
  /** items buffered or in flight beyond which add() is refused */
  maxPending: number;
}

interface Waiter {
  /** this waiter's slices still in the buffer */
  buffered: number;
  /** batches holding this waiter's items that have not settled */
  inflight: number;
  failed: boolean;
  error: unknown;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Entry<S> {
  slice: S;
  waiter: Waiter;
}

export interface BatcherStats {
  /** items buffered plus items in flight */
  pending: number;
  buffered: number;
  inflight: number;
  batches_sent: number;
  batches_failed: number;
  refused_items: number;
}

export class Batcher<T, S extends Slice> {
  private buf: Array<Entry<S>> = [];
  private head = 0;
  private bufferedItems = 0;
  private inflightItems = 0;
  private readonly inflight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** shutdown is coming: send everything at once, hold nothing back */
  private draining = false;
  private batchesSent = 0;
  private batchesFailed = 0;
  private refusedItems = 0;

  constructor(
    private readonly opts: BatcherOptions,
    private readonly adapter: SliceAdapter<T, S>,
    /** hand one batch downstream; `items` is its item count */
    private readonly send: (data: T, items: number) => Promise<void>,
  ) {}

  get pending(): number {
    return this.bufferedItems + this.inflightItems;
  }

  stats(): BatcherStats {
    return {
      pending: this.pending,
      buffered: this.bufferedItems,
      inflight: this.inflightItems,
      batches_sent: this.batchesSent,
      batches_failed: this.batchesFailed,
      refused_items: this.refusedItems,
    };
  }

  /**
   * Queue data. Resolves when all of its items were accepted downstream;
   * rejects with the first downstream error of any batch that held some of
   * them (after all those batches settled), with RefusedError when too much
   * is pending, or with MP_SHUTDOWN once closed.
   */
  add(data: T): Promise<void> {
    if (this.closed) return Promise.reject(new MetricportError('MP_SHUTDOWN', 'the batch processor is shut down and accepts no more data'));
    const slices = this.adapter.slices(data);
    let n = 0;
    for (const s of slices) n += s.items;
    if (n === 0) return Promise.resolve();
    const pending = this.pending;
    // A request larger than the bound alone is still taken when nothing else
    // is pending, or it could never be accepted.
    if (pending > 0 && pending + n > this.opts.maxPending) {
      this.refusedItems += n;
      return Promise.reject(
        new RefusedError(`batch processor has ${pending} items pending (limit ${this.opts.maxPending}); retry later`, { status: 503, retryAfterSeconds: 1 }),
      );
    }
    let waiter!: Waiter;
    const promise = new Promise<void>((resolve, reject) => {
      waiter = { buffered: slices.length, inflight: 0, failed: false, error: undefined, resolve, reject };
    });
    for (const slice of slices) this.buf.push({ slice, waiter });
    this.bufferedItems += n;

    const { sendBatchSize, sendBatchMaxSize, timeoutMs } = this.opts;
    if (timeoutMs === 0 || this.draining) {
      this.flush();
    } else {
      if (sendBatchSize > 0) {
        while (this.bufferedItems >= sendBatchSize) this.sendOne(sendBatchMaxSize > 0 ? sendBatchMaxSize : Infinity);
      }
      if (this.head >= this.buf.length) this.clearTimer();
      else if (this.timer === undefined) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.flush();
        }, timeoutMs);
        this.timer.unref();
      }
    }
    return promise;
  }

  /** Send what is buffered now and everything added later straight away (shutdown is coming). */
  drain(): void {
    this.draining = true;
    this.flush();
  }

  /** Send everything buffered now, in batches of at most sendBatchMaxSize items. */
  flush(): void {
    this.clearTimer();
    const limit = this.opts.sendBatchMaxSize > 0 ? this.opts.sendBatchMaxSize : Infinity;
    while (this.head < this.buf.length) this.sendOne(limit);
  }

  /** Refuse further add()s, send what is buffered, and wait for every batch in flight or for `deadline`. */
  async close(deadline: AbortSignal): Promise<void> {
    this.closed = true;
    this.flush();
    while (this.inflight.size > 0 && !deadline.aborted) {
      await raceAbort(Promise.all(this.inflight), deadline);
    }
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** Take up to `limit` items from the front of the buffer and send them as one batch. */
  private sendOne(limit: number): void {
    const taken: S[] = [];
    const waiters: Waiter[] = [];
    const addWaiter = (w: Waiter): void => {
      // a waiter's entries are contiguous, so comparing with the last is enough
      if (waiters[waiters.length - 1] !== w) {
        waiters.push(w);
        w.inflight++;
      }
    };
    let remaining = limit;
    let items = 0;
    while (this.head < this.buf.length) {
      const e = this.buf[this.head] as Entry<S>;
      if (e.slice.items <= remaining) {
        taken.push(e.slice);
        remaining -= e.slice.items;
        items += e.slice.items;
        this.head++;
        e.waiter.buffered--;
        addWaiter(e.waiter);
      } else {
        if (remaining > 0) {
          taken.push(this.adapter.split(e.slice, remaining));
          items += remaining;
          remaining = 0;
          addWaiter(e.waiter);
        }
        break;
      }
    }
    if (this.head >= this.buf.length) {
      this.buf = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.buf.length) {
      this.buf = this.buf.slice(this.head);
      this.head = 0;
    }
    if (taken.length === 0) return;

    this.bufferedItems -= items;
    this.inflightItems += items;
    let p: Promise<void>;
    try {
      p = this.send(this.adapter.build(taken), items);
    } catch (err) {
      p = Promise.reject(err);
    }
    const done = p.then(
      () => {
        this.batchesSent++;
        this.settle(waiters, items, false, undefined);
      },
      (err: unknown) => {
        this.batchesFailed++;
        this.settle(waiters, items, true, err);
      },
    );
    this.inflight.add(done);
    void done.then(() => this.inflight.delete(done));
  }

  private settle(waiters: Waiter[], items: number, failed: boolean, err: unknown): void {
    this.inflightItems -= items;
    for (const w of waiters) {
      w.inflight--;
      if (failed && !w.failed) {
        w.failed = true;
        w.error = err;
      }
      if (w.inflight === 0 && w.buffered === 0) {
        if (w.failed) w.reject(w.error);
        else w.resolve();
      }
    }
  }
}

function raceAbort(p: Promise<unknown>, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const onAbort = (): void => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
    );
  });
}

// ---------------------------------------------------------------- metrics

/** Points [from, to) of one metric, with the containers it came from. */
export interface MetricSlice extends Slice {
  rm: ResourceMetrics;
  sm: ScopeMetrics;
  metric: Metric;
  from: number;
  to: number;
}

export const metricsAdapter: SliceAdapter<MetricsBatch, MetricSlice> = {
  slices(batch) {
    const out: MetricSlice[] = [];
    for (const rm of batch.resourceMetrics) {
      for (const sm of rm.scopeMetrics) {
        for (const metric of sm.metrics) {
          const len = metric.points.length;
          out.push({ items: len, rm, sm, metric, from: 0, to: len });
        }
      }
    }
    return out;
  },
  split(s, n) {
    const head: MetricSlice = { items: n, rm: s.rm, sm: s.sm, metric: s.metric, from: s.from, to: s.from + n };
    s.from += n;
    s.items -= n;
    return head;
  },
  build(slices) {
    // Consecutive slices of the same resource / scope share one new container
    // (this only rebuilds the input's own grouping; resources of different
    // requests are never merged).
    const resourceMetrics: ResourceMetrics[] = [];
    let rmSrc: ResourceMetrics | undefined;
    let smSrc: ScopeMetrics | undefined;
    let rmOut: ResourceMetrics | undefined;
    let smOut: ScopeMetrics | undefined;
    for (const s of slices) {
      if (s.rm !== rmSrc || rmOut === undefined) {
        rmSrc = s.rm;
        rmOut = { resource: s.rm.resource, scopeMetrics: [], schemaUrl: s.rm.schemaUrl };
        resourceMetrics.push(rmOut);
        smSrc = undefined;
      }
      if (s.sm !== smSrc || smOut === undefined || smSrc === undefined) {
        smSrc = s.sm;
        smOut = { scope: s.sm.scope, metrics: [], schemaUrl: s.sm.schemaUrl };
        rmOut.scopeMetrics.push(smOut);
      }
      const m = s.metric;
      smOut.metrics.push(s.from === 0 && s.to === m.points.length ? m : ({ ...m, points: m.points.slice(s.from, s.to) } as Metric));
    }
    return { resourceMetrics };
  },
};

// ---------------------------------------------------------------- events

export interface EventSlice extends Slice {
  events: Event[];
  from: number;
  to: number;
}

export const eventsAdapter: SliceAdapter<EventBatch, EventSlice> = {
  slices(batch) {
    const len = batch.events.length;
    return len === 0 ? [] : [{ items: len, events: batch.events, from: 0, to: len }];
  },
  split(s, n) {
    const head: EventSlice = { items: n, events: s.events, from: s.from, to: s.from + n };
    s.from += n;
    s.items -= n;
    return head;
  },
  build(slices) {
    const events: Event[] = [];
    for (const s of slices) for (let i = s.from; i < s.to; i++) events.push(s.events[i] as Event);
    return { events };
  },
};
