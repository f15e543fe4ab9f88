/**
 * OTLP logs → metricport events. One Event per LogRecord.
 *
 * Time: `timeUnixNano`, else `observedTimeUnixNano`, else `0n` (the receiver
 * replaces `0n` with the arrival time).
 *
 * Attributes are flattened into one flat set, later entries winning:
 *   1. resource attributes
 *   2. scope attributes
 *   3. `otel.scope.name`, `otel.scope.version` (each only when non-empty)
 *   4. the record's attributes
 *   5. fields of the record, each only when present:
 *      - `log.severity_number`  number (JS number, 1..24; omitted when 0 = unspecified)
 *      - `log.severity_text`    string (omitted when empty)
 *      - `log.body`             the body AnyValue as an AttrValue (string, number,
 *                               bigint, boolean, bytes, array, kvlist; omitted when
 *                               the record has no body or an empty one)
 *      - `trace_id`, `span_id`  lower-case hex (omitted when empty)
 *      - `log.event_name`       string (omitted when empty)
 * So record attributes override scope and resource attributes, and the record's
 * own fields override any attribute of the same name.
 *
 * Not mapped: `flags`, `droppedAttributesCount`, schema URLs.
 *
 * Nested values (arrays, kvlists, bytes) of resource and scope attributes are
 * shared, not copied, between the events of one resource/scope: consumers must
 * not mutate event attribute values in place (they never should).
 */
import { setAttr } from '../model/attributes.js';
import type { AttrValue, Attributes } from '../model/metrics.js';
import type { Event } from '../model/events.js';

/** @internal A LogRecord decoded, before flattening. */
export interface LogRecordFields {
  time: bigint;
  observed: bigint;
  severityNumber: number;
  severityText: string;
  body: AttrValue | undefined;
  attributes: Attributes;
  traceId: string;
  spanId: string;
  eventName: string;
}

/** @internal Copy attributes (own enumerable keys), guarding `__proto__`. */
function copyAttrs(into: Attributes, from: Attributes): void {
  for (const k in from) setAttr(into, k, from[k] as AttrValue);
}

/** @internal Resource + scope attributes, the base every record of a scope starts from. */
export function scopeBase(resource: Attributes, scopeAttrs: Attributes, scopeName: string, scopeVersion: string): Attributes {
  const base: Attributes = {};
  copyAttrs(base, resource);
  copyAttrs(base, scopeAttrs);
  if (scopeName !== '') base['otel.scope.name'] = scopeName;
  if (scopeVersion !== '') base['otel.scope.version'] = scopeVersion;
  return base;
}

/** @internal Flatten one record onto its scope base. */
export function toEvent(base: Attributes, rec: LogRecordFields): Event {
  const a: Attributes = {};
  copyAttrs(a, base);
  copyAttrs(a, rec.attributes);
  if (rec.severityNumber !== 0) a['log.severity_number'] = rec.severityNumber;
  if (rec.severityText !== '') a['log.severity_text'] = rec.severityText;
  if (rec.body !== undefined && rec.body !== null) a['log.body'] = rec.body;
  if (rec.traceId !== '') a['trace_id'] = rec.traceId;
  if (rec.spanId !== '') a['span_id'] = rec.spanId;
  if (rec.eventName !== '') a['log.event_name'] = rec.eventName;
  return { timeUnixNano: rec.time !== 0n ? rec.time : rec.observed, attributes: a };
}
