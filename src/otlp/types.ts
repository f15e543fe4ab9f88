/** Limits applied while decoding OTLP requests (both encodings). */
export interface DecodeLimits {
  /**
   * Most KeyValue entries in one attribute set: a data point's, an exemplar's,
   * a log record's, a resource's, a scope's, or a metric's metadata.
   * Duplicates count (they are entries on the wire). Default 128.
   */
  maxAttributes: number;
  /**
   * Most nested arrayValue/kvlistValue levels in one AnyValue (an attribute
   * value or a log body). A scalar is depth 0; `{kvlist:{a:{kvlist:{}}}}` is 2.
   * Default 16.
   */
  maxDepth: number;
  /**
   * Longest string (in UTF-16 code units, i.e. JS `.length`) inside an
   * attribute value or a log body, nested strings included. Default 65536.
   */
  maxValueLength?: number;
}

export const DEFAULT_DECODE_LIMITS: Readonly<Required<DecodeLimits>> = Object.freeze({
  maxAttributes: 128,
  maxDepth: 16,
  maxValueLength: 65536,
});

/** What a decoder returns: the valid data and what was dropped. */
export interface DecodeResult<T> {
  data: T;
  /**
   * Invalid items dropped: data points for metrics (OTLP `rejected_data_points`),
   * log records for logs (`rejected_log_records`).
   */
  rejected: number;
  /** Up to 10 distinct messages, each naming the item (metric and point index, or log record index). */
  errors: string[];
}

/** Most distinct messages kept in `DecodeResult.errors`. */
const MAX_DECODE_ERRORS = 10;

/** @internal Fill in the defaults. */
export function resolveLimits(limits?: Partial<DecodeLimits>): Required<DecodeLimits> {
  if (limits === undefined) return DEFAULT_DECODE_LIMITS;
  return {
    maxAttributes: limits.maxAttributes ?? DEFAULT_DECODE_LIMITS.maxAttributes,
    maxDepth: limits.maxDepth ?? DEFAULT_DECODE_LIMITS.maxDepth,
    maxValueLength: limits.maxValueLength ?? DEFAULT_DECODE_LIMITS.maxValueLength,
  };
}

/** @internal Counts rejected items and keeps the first few distinct messages. */
export class Rejections {
  rejected = 0;
  readonly errors: string[] = [];
  add(count: number, message: string): void {
    this.rejected += count;
    const errors = this.errors;
    if (errors.length < MAX_DECODE_ERRORS && !errors.includes(message)) errors.push(message);
  }
}
