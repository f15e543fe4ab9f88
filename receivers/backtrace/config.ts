/**
 * Configuration of the `backtrace` receiver.
 *
 * ```yaml
 * receivers:
 *   backtrace:
 *     tokens:
 *       - { token: "${env:BACKTRACE_TOKEN}", application: shop }   # url http://127.0.0.1:4318/, token <token>
 * ```
 */
import type { Schema } from '../../src/config/schema.js';
import { receiverSecurityFields, type ReceiverSecurityConfig } from '../../src/config/receiversecurity.js';
import { corsField, type CorsConfig } from '../../src/receiverhttp/cors.js';

export interface BacktraceTokenConfig {
  token: string;
  application: string;
}

export interface BacktraceReceiverConfig extends ReceiverSecurityConfig {
  endpoint: string;
  tokens: BacktraceTokenConfig[];
  max_request_body_size: number;
  max_value_length: number;
  max_attributes: number;
  dedupe: { horizon: number; max_entries: number };
  metrics: { enabled: boolean; max_events_per_request: number };
  cors: CorsConfig;
}

export const backtraceConfigSchema: Schema = {
  endpoint: {
    type: 'endpoint',
    default: '127.0.0.1:4318',
    doc: "host:port to listen on; the same endpoint as the otlp or errors receiver shares their server. The SDK's url is http://<this endpoint>/ with `token`, or http://<this endpoint>/<universe>/<token>/json.",
  },
  tokens: {
    type: 'array',
    required: true,
    minItems: 1,
    doc: "Accepted submission tokens; a report without an `application` attribute gets its token's. A request with no token gets 401, an unknown token 403.",
    items: {
      type: 'object',
      doc: 'one submission token',
      fields: {
        token: { type: 'string', required: true, secret: true, nonEmpty: true, doc: 'the submission token' },
        application: { type: 'string', default: '', doc: 'value of the `application` attribute for reports that carry none ("" = leave it absent)' },
      },
    },
  },
  max_request_body_size: { type: 'bytes', default: '32MiB', min: 1, doc: 'Largest request (a report with its attachments); larger → 413.' },
  max_value_length: { type: 'int', default: 4096, min: 16, doc: 'String attribute values are cut to this many characters.' },
  max_attributes: {
    type: 'int',
    default: 256,
    min: 1,
    doc: "At most this many of the report's own attributes are kept per event (the derived ones always are).",
  },
  dedupe: {
    type: 'object',
    doc: "Reports resent with the same `uuid` (the SDK's offline database) count once.",
    fields: {
      horizon: {
        type: 'duration',
        default: '24h',
        doc: 'A `uuid` seen within this long is a duplicate: answered 200, counted, not passed on. 0 turns deduplication off.',
      },
      max_entries: {
        type: 'int',
        default: 100000,
        min: 1,
        doc: 'Most `uuid`s remembered (about 100 bytes each); the oldest are forgotten first (counted as `dedupe_evicted`).',
      },
    },
  },
  metrics: {
    type: 'object',
    doc: 'Backtrace metrics (release health): the SDKs\' unique events (`POST /api/unique-events/submit`) and summed events (`POST /api/summed-events/submit`, e.g. "Application Launches"), with `metrics.metricsSubmissionUrl` pointed here, become metric events (`event.kind: unique` / `summed`; docs/receivers/backtrace.md). Token-checked like reports.',
    fields: {
      enabled: {
        type: 'boolean',
        default: false,
        doc: 'Serve the two metrics endpoints (otherwise they answer 404). Off by default: a pipeline that counts every event would count these too — filter on `event.kind`.',
      },
      max_events_per_request: { type: 'int', default: 1000, min: 1, doc: 'A submission with more events is refused (400).' },
    },
  },
  cors: corsField,
  ...receiverSecurityFields,
};
