/**
 * Schema fragments for the options every exporter built on the helper shares
 * (the Collector's `timeout`, `retry_on_failure` and `sending_queue`).
 * Exporters spread `helperSchema()` (or single fields) into their own schema
 * and turn the validated values into helper options with `helperOptions()`.
 */
import type { Field, Schema } from '../config/schema.js';
import type { RetryOptions } from './retry.js';
import type { QueueOptions } from './queue.js';

const DEFAULT_TIMEOUT = '5s';

const timeoutField: Field = {
  type: 'duration',
  default: DEFAULT_TIMEOUT,
  doc: 'time limit for one send attempt (connect, upload and response); 0 = no limit',
};

const retryOnFailureField: Field = {
  type: 'object',
  doc: 'retry failed sends with exponential backoff and jitter; permanent failures (e.g. HTTP 400) are never retried, a Retry-After from the backend is honoured',
  fields: {
    enabled: { type: 'boolean', default: true, doc: 'retry sends that failed for a retryable reason (network error, timeout, HTTP 429/502/503/504)' },
    initial_interval: { type: 'duration', default: '5s', doc: 'wait before the first retry' },
    max_interval: { type: 'duration', default: '30s', doc: 'upper bound of the wait between two retries (a longer Retry-After is still honoured)' },
    max_elapsed_time: {
      type: 'duration',
      default: '300s',
      doc: 'give up on a batch (and count it dropped) when the next retry would start later than this after the first attempt; 0 = retry until shutdown',
    },
    multiplier: { type: 'number', default: 1.5, min: 1, doc: 'factor the wait grows by after each retry' },
    randomization_factor: {
      type: 'number',
      default: 0.5,
      min: 0,
      max: 1,
      doc: 'jitter: each wait is drawn uniformly from interval × [1 − factor, 1 + factor]',
    },
  },
};

const sendingQueueField: Field = {
  type: 'object',
  doc: 'bounded in-memory queue between the pipeline and the backend: consume() returns once a batch is queued, consumers send in the background',
  fields: {
    enabled: { type: 'boolean', default: true, doc: 'queue batches; when false every consume() waits for the send (with retries) to finish' },
    num_consumers: { type: 'int', default: 2, min: 1, max: 256, doc: 'number of batches sent concurrently from the queue' },
    queue_size: { type: 'int', default: 1000, min: 1, doc: 'capacity of the queue, counted in the unit given by `sizer`' },
    sizer: {
      type: 'enum',
      values: ['requests', 'items'],
      default: 'requests',
      doc: 'what queue_size counts: "requests" (batches) or "items" (data points or events)',
    },
    drop_policy: {
      type: 'enum',
      values: ['refuse', 'block', 'drop_oldest'],
      default: 'refuse',
      doc: 'when the queue is full: "refuse" new data (the receiver answers 503 with Retry-After and the client retries; counted as refused), "block" (the same backpressure; for push stores it also means nothing is ever dropped, see docs/reliability.md) or "drop_oldest" queued batches to make room (counted as dropped, reason "queue_full")',
    },
  },
};

/** The push stores' `sending_queue`: the shared options plus the persistent disk queue (docs/reliability.md). */
export const storeSendingQueueField: Field = {
  type: 'object',
  doc: "queue between the store's period flushes and the backend: in memory, or on disk in the state directory (`storage: disk`: acknowledged points survive crashes and restarts, see docs/reliability.md)",
  fields: {
    ...(sendingQueueField as { fields: Record<string, Field> }).fields,
    drop_policy: {
      type: 'enum',
      values: ['refuse', 'block', 'drop_oldest'],
      default: 'refuse',
      doc: 'when the queue is full: "refuse" a flush that does not fit (its points are counted dropped, reason "queue_full"); "block": backpressure — the store refuses new points (receivers answer 503 with Retry-After, counted as refused) until the queue has room again, and every flush is queued, so nothing is dropped; "drop_oldest": delete the oldest queued batches to make room (counted dropped, reason "queue_full")',
    },
    storage: {
      type: 'enum',
      values: ['memory', 'disk'],
      default: 'memory',
      doc: '"memory", or "disk": an LMDB queue plus a write-ahead log of points not yet flushed, under <state_dir>/exporter/<id>/queue; a point is acknowledged only once it is on disk',
    },
    max_size: {
      type: 'bytes',
      default: '256MiB',
      min: 1024,
      doc: 'storage disk: bound of the queue in bytes (encoded payloads on disk); queue_size and sizer then do not apply',
    },
  },
};

/** `timeout`, `retry_on_failure`, `sending_queue`; pass `queue: false` for exporters that never queue. */
export function helperSchema(opts: { queue?: boolean; retry?: boolean; timeout?: boolean } = {}): Schema {
  const s: Schema = {};
  if (opts.timeout !== false) s.timeout = timeoutField;
  if (opts.retry !== false) s.retry_on_failure = retryOnFailureField;
  if (opts.queue !== false) s.sending_queue = sendingQueueField;
  return s;
}

/** The validated shape of `retry_on_failure` (durations in milliseconds). */
export interface RetryConfig {
  enabled: boolean;
  initial_interval: number;
  max_interval: number;
  max_elapsed_time: number;
  multiplier: number;
  randomization_factor: number;
}

/** The validated shape of `sending_queue`. */
export interface QueueConfig {
  enabled: boolean;
  num_consumers: number;
  queue_size: number;
  sizer: 'requests' | 'items';
  drop_policy: 'refuse' | 'block' | 'drop_oldest';
  /** push stores only */
  storage?: 'memory' | 'disk';
  /** push stores only, bytes */
  max_size?: number;
}

export interface HelperConfig {
  /** milliseconds; 0 = none */
  timeout?: number;
  retry_on_failure?: Partial<RetryConfig>;
  sending_queue?: Partial<QueueConfig>;
}

const DEFAULT_RETRY: RetryConfig = {
  enabled: true,
  initial_interval: 5_000,
  max_interval: 30_000,
  max_elapsed_time: 300_000,
  multiplier: 1.5,
  randomization_factor: 0.5,
};

const DEFAULT_QUEUE: QueueConfig = {
  enabled: true,
  num_consumers: 2,
  queue_size: 1000,
  sizer: 'requests',
  drop_policy: 'refuse',
};

/** Validated `retry_on_failure` + `timeout` → RetryOptions. Missing keys take the defaults. */
export function retryOptions(retry: Partial<RetryConfig> | undefined, timeoutMs: number | undefined): RetryOptions {
  const r = { ...DEFAULT_RETRY, ...(retry ?? {}) };
  return {
    enabled: r.enabled,
    initialIntervalMs: r.initial_interval,
    maxIntervalMs: r.max_interval,
    maxElapsedMs: r.max_elapsed_time,
    multiplier: r.multiplier,
    randomizationFactor: r.randomization_factor,
    timeoutMs: timeoutMs ?? 5_000,
  };
}

/** Validated `sending_queue` → QueueOptions, plus `enabled` and `sizer` (which the exporter applies). */
export function queueOptions(queue: Partial<QueueConfig> | undefined): QueueOptions & { enabled: boolean; sizer: 'requests' | 'items' } {
  const q = { ...DEFAULT_QUEUE, ...(queue ?? {}) };
  return {
    enabled: q.enabled,
    numConsumers: q.num_consumers,
    capacity: q.queue_size,
    sizer: q.sizer,
    dropPolicy: q.drop_policy === 'drop_oldest' ? 'drop_oldest' : 'refuse',
  };
}
