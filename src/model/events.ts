import type { Attributes } from './metrics.js';

/**
 * An event: one error/crash report (or an OTLP log record turned into one).
 * Attributes are flat in the user's vocabulary (`_tx`, `guid`, `fingerprint`,
 * `error.type`, `app.version`, ...); values are usually strings, numbers or
 * booleans, but OTLP logs can carry any AttrValue.
 */
export interface Event {
  /** nanoseconds since the Unix epoch */
  timeUnixNano: bigint;
  attributes: Attributes;
}

/** One unit of events flowing through a pipeline. */
export interface EventBatch {
  events: Event[];
}
