/**
 * Events as JSON: `{"events":[{"timeUnixNano":"<decimal>","attributes":{...}}]}`.
 * bigint values become decimal strings, bytes base64 strings, non-finite
 * numbers the strings "NaN", "Infinity", "-Infinity" (as OTLP JSON does).
 * Output never contains a raw newline, so a batch fits on one line.
 */
import type { AttrValue, Attributes, Event, EventBatch } from '../../src/model/index.js';

function encodeValueJson(v: AttrValue): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : JSON.stringify(String(v));
    case 'bigint':
      return '"' + v.toString() + '"';
    case 'boolean':
      return v ? 'true' : 'false';
    default:
      if (v === null) return 'null';
      if (v instanceof Uint8Array) return JSON.stringify(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64'));
      if (Array.isArray(v)) return '[' + v.map(encodeValueJson).join(',') + ']';
      return encodeAttributesJson(v);
  }
}

function encodeAttributesJson(a: Attributes): string {
  let s = '{';
  let first = true;
  for (const k of Object.keys(a)) {
    if (!first) s += ',';
    first = false;
    s += JSON.stringify(k) + ':' + encodeValueJson(a[k] as AttrValue);
  }
  return s + '}';
}

function encodeEventJson(e: Event): string {
  return '{"timeUnixNano":"' + e.timeUnixNano.toString() + '","attributes":' + encodeAttributesJson(e.attributes) + '}';
}

export function encodeEventsJson(batch: EventBatch): string {
  return '{"events":[' + batch.events.map(encodeEventJson).join(',') + ']}';
}
