/**
 * Options every push metric store shares (period, lateness, series bounds,
 * cumulative handling, which resource attributes become tags), plus the
 * exporter helper's timeout / retry_on_failure / sending_queue.
 */
import type { Field, Schema } from '../config/schema.js';
import { helperSchema, storeSendingQueueField, type QueueConfig, type RetryConfig } from '../exporterhelper/config.js';

export interface StoreConfig {
  /** milliseconds */
  period: number;
  /** milliseconds; 0 = 10 % of the period */
  lateness: number;
  max_series: number;
  /** milliseconds */
  series_expiry: number;
  cumulative: 'delta' | 'cumulative';
  resource_attributes: string[];
  /** periods without a successful send, while data waits, after which the store is unhealthy (failing hard); 0 = never on this ground */
  unhealthy_after_periods: number;
  /** milliseconds */
  timeout: number;
  retry_on_failure: RetryConfig;
  sending_queue: QueueConfig;
}

export function storeSchema(opts: { cumulativeDefault: 'delta' | 'cumulative'; cumulativeFixed?: boolean }): Schema {
  const s: Schema = {
    period: {
      type: 'duration',
      default: '60s',
      min: '1s',
      doc: 'length of one period: every period the store receives one point per series, aligned to the Unix epoch by point time',
    },
    lateness: {
      type: 'duration',
      default: '0s',
      doc: 'how long after its end a period stays open for late points; 0 = 10 % of the period (plus the allowed lateness of metric sets feeding the store, whose windows arrive that late; an explicit value must exceed it). Later delta points fold into the next open period (counted as late); later gauges are dropped (counted as stale)',
    },
    max_series: {
      type: 'int',
      default: 100_000,
      min: 1,
      doc: 'series kept at most (accumulator and cumulative→delta state); points of new series beyond it are dropped and counted (reason "series_limit")',
    },
    series_expiry: {
      type: 'duration',
      default: '15m',
      min: '1s',
      doc: 'forget a series (and its cumulative baseline) after this long without a point; counted as expired',
    },
    unhealthy_after_periods: {
      type: 'int',
      default: 3,
      min: 0,
      doc: 'failing hard: /healthz turns 503 for this store once data has waited (queued or being retried) this many periods without one successful send since the first failure; back to 200 at the next success. 0 = never on this ground (retries exhausted still count)',
    },
    resource_attributes: {
      type: 'array',
      items: { type: 'string', doc: 'a resource attribute key' },
      default: ['service.name'],
      doc: 'resource attributes copied onto every series as tags (point attributes always are)',
    },
  };
  const cum: Field = {
    type: 'enum',
    values: ['delta', 'cumulative'],
    default: opts.cumulativeDefault,
    doc: opts.cumulativeFixed
      ? 'cumulative monotonic sums are sent as per-period deltas (counts); only "delta" is accepted by this store'
      : 'cumulative monotonic sums: "cumulative" sends the running total as is, "delta" sends the increase within each period (resets detected; the first point of a series that began before metricport started is only a baseline)',
  };
  s.cumulative = cum;
  return { ...s, ...helperSchema(), sending_queue: storeSendingQueueField };
}
