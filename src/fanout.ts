/**
 * Fan-out of one batch to several consumers. A consumer that mutates data
 * gets its own deep copy whenever anyone else also sees the batch (read-only
 * consumers may hold on to it, e.g. in a queue), so no
 * consumer ever observes another's changes. consume() settles only when every
 * consumer has; a failure is propagated (the most retryable error wins, so the
 * client is told to retry when any consumer asked for it).
 */
import type { Consumer, Signal, SignalData } from './component.js';
import { isRetryable } from './errors.js';
import { cloneEventBatch, cloneMetricsBatch } from './model/index.js';

export function fanout<S extends Signal>(signal: S, consumers: Array<Consumer<SignalData[S]>>): Consumer<SignalData[S]> {
  if (consumers.length === 1) return consumers[0] as Consumer<SignalData[S]>;
  const clone = (signal === 'metrics' ? cloneMetricsBatch : cloneEventBatch) as unknown as (d: SignalData[S]) => SignalData[S];
  const list = consumers.slice();
  return {
    mutatesData: false,
    async consume(data: SignalData[S]): Promise<void> {
      const promises: Array<Promise<void>> = new Array(list.length);
      for (let i = 0; i < list.length; i++) {
        const c = list[i] as Consumer<SignalData[S]>;
        // read-only consumers may keep the batch (queues), so a mutator always gets a copy
        promises[i] = callSafely(c, c.mutatesData === true ? clone(data) : data);
      }
      const results = await Promise.allSettled(promises);
      let firstRetryable: unknown;
      let firstPermanent: unknown;
      for (const r of results) {
        if (r.status === 'rejected') {
          if (isRetryable(r.reason)) firstRetryable ??= r.reason;
          else firstPermanent ??= r.reason;
        }
      }
      if (firstRetryable !== undefined) throw firstRetryable;
      if (firstPermanent !== undefined) throw firstPermanent;
    },
  };
}

function callSafely<T>(c: Consumer<T>, d: T): Promise<void> {
  try {
    return c.consume(d);
  } catch (e) {
    return Promise.reject(e);
  }
}
