/**
 * The batch processor: groups data from many consume() calls into batches of
 * `send_batch_size` items (data points or events), or whatever arrived within
 * `timeout`, splitting so no batch exceeds `send_batch_max_size`.
 *
 * Unlike the Collector's batch processor, errors propagate: each consume()
 * resolves only once every item it contributed was accepted downstream, and
 * rejects with the downstream error if any batch holding its items failed.
 * Pending items are bounded (`max_pending`); beyond that consume() rejects with
 * RefusedError so receivers push back on their clients.
 */
import { defineProcessor } from '../../src/component.js';
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';

export interface BatchConfig {
  send_batch_size: number;
  send_batch_max_size: number;
  /** milliseconds (validated duration) */
  timeout: number;
  max_pending: number;
}

const DEFAULT_SEND_BATCH_SIZE = 8192;
/** max_pending = this × send_batch_size when left at 0 */
const PENDING_FACTOR = 10;

const configSchema: Schema = {
  send_batch_size: {
    type: 'int',
    default: DEFAULT_SEND_BATCH_SIZE,
    min: 0,
    doc: 'Items (data points or events) that trigger sending a batch regardless of the timeout; a trigger, not a cap. 0 = only the timeout triggers',
  },
  send_batch_max_size: {
    type: 'int',
    default: 0,
    min: 0,
    doc: "Upper bound on a batch, in items; larger batches are split (inside a metric's points when needed). 0 = no limit. Must be 0 or >= send_batch_size",
  },
  timeout: {
    type: 'duration',
    default: '200ms',
    doc: 'Time after which a non-empty batch is sent regardless of size. 0 = send on every consume (only send_batch_max_size applies)',
  },
  max_pending: {
    type: 'int',
    default: 0,
    min: 0,
    doc: `Items buffered or in flight downstream beyond which new data is refused (RefusedError, retryable); a request is always taken when nothing is pending. 0 = ${PENDING_FACTOR} × the larger of send_batch_size (${DEFAULT_SEND_BATCH_SIZE} when 0) and send_batch_max_size`,
  },
};

/** The effective pending limit for a config. */
export function effectiveMaxPending(cfg: BatchConfig): number {
  if (cfg.max_pending > 0) return cfg.max_pending;
  const base = cfg.send_batch_size > 0 ? cfg.send_batch_size : DEFAULT_SEND_BATCH_SIZE;
  return PENDING_FACTOR * Math.max(base, cfg.send_batch_max_size);
}

function validate(cfg: BatchConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (cfg.send_batch_max_size > 0 && cfg.send_batch_max_size < cfg.send_batch_size) {
    issues.push({
      path: 'send_batch_max_size',
      message: `must be 0 or at least send_batch_size (${cfg.send_batch_size}), got ${cfg.send_batch_max_size}`,
      severity: 'error',
    });
  }
  if (cfg.max_pending > 0 && cfg.send_batch_size > 0 && cfg.max_pending < cfg.send_batch_size) {
    issues.push({
      path: 'max_pending',
      message: `is below send_batch_size (${cfg.send_batch_size}); batches will only be sent on timeout`,
      severity: 'warning',
    });
  }
  return issues;
}

export const batchProcessorFactory = defineProcessor<BatchConfig>({
  type: 'batch',
  description: 'Groups data points or events into batches by size and time; errors and backpressure propagate to every contributing caller',
  signals: [
    { in: 'metrics', out: 'metrics' },
    { in: 'events', out: 'events' },
  ],
  configSchema,
  validate,
  load: async () => (await import('./processor.js')).batchImpl,
});
