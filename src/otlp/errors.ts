/**
 * A request body that cannot be decoded at all: truncated or malformed
 * protobuf, invalid UTF-8 in a protobuf string, JSON that does not parse, or a
 * top level that is not an Export*ServiceRequest. The OTLP receiver answers
 * 400 with a google.rpc.Status carrying this message.
 *
 * Invalid *items* (a point, a metric, a log record) never raise this: they are
 * dropped and counted in `DecodeResult.rejected` instead.
 */
export class DecodeError extends Error {
  /** Byte offset (protobuf) or character position (JSON) of the problem, when known. */
  readonly offset: number | undefined;
  constructor(message: string, offset?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DecodeError';
    this.offset = offset;
  }
}
