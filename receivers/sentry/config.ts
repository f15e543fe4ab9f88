/**
 * Configuration of the `sentry` receiver.
 *
 * ```yaml
 * receivers:
 *   sentry:
 *     keys:
 *       - { key: "${env:SENTRY_PUBLIC_KEY}", application: shop }   # DSN http://<key>@127.0.0.1:4318/1
 * ```
 */
import type { Schema } from '../../src/config/schema.js';
import { receiverSecurityFields, type ReceiverSecurityConfig } from '../../src/config/receiversecurity.js';
import { corsField, type CorsConfig } from '../../src/receiverhttp/cors.js';

export interface SentryKeyConfig {
  key: string;
  application: string;
}

export interface SentryReceiverConfig extends ReceiverSecurityConfig {
  endpoint: string;
  keys: SentryKeyConfig[];
  store_endpoint: boolean;
  max_request_body_size: number;
  max_items_per_envelope: number;
  max_value_length: number;
  max_tags: number;
  rate_limit_categories: string;
  dedupe: { horizon: number; max_entries: number };
  sessions: { enabled: boolean; horizon: number; max_open: number };
  cors: CorsConfig;
}

export const sentryConfigSchema: Schema = {
  endpoint: {
    type: 'endpoint',
    default: '127.0.0.1:4318',
    doc: 'host:port to listen on; the same endpoint as the otlp or errors receiver shares their server. The DSN is http://<key>@<this endpoint>[/prefix]/<projectId>.',
  },
  keys: {
    type: 'array',
    required: true,
    minItems: 1,
    doc: "Accepted DSN public keys; each key's events get its `application` attribute. A request with no key gets 401, an unknown key 403.",
    items: {
      type: 'object',
      doc: 'one DSN public key',
      fields: {
        key: { type: 'string', required: true, secret: true, nonEmpty: true, doc: 'the DSN public key (the user part of the DSN)' },
        application: { type: 'string', required: true, nonEmpty: true, doc: "value of the `application` attribute of this key's events" },
      },
    },
  },
  store_endpoint: {
    type: 'boolean',
    default: true,
    doc: 'Also serve the legacy `POST [/prefix]/api/<projectId>/store/` (one JSON event, plain, base64 or base64+zlib).',
  },
  max_request_body_size: { type: 'bytes', default: '20MiB', min: 1, doc: 'Largest envelope (after decompression); larger → 413.' },
  max_items_per_envelope: { type: 'int', default: 1000, min: 1, doc: 'An envelope with more items is refused (400).' },
  max_value_length: { type: 'int', default: 4096, min: 16, doc: 'String attribute values (messages, tags) are cut to this many characters.' },
  max_tags: { type: 'int', default: 32, min: 0, doc: 'At most this many `tags` become `tags.<name>` attributes per event.' },
  rate_limit_categories: {
    type: 'string',
    default: 'error;default;security',
    doc: 'Categories named in `X-Sentry-Rate-Limits` when the pipeline refuses (429); the SDK then holds back only these.',
  },
  dedupe: {
    type: 'object',
    doc: 'The same event (`event_id`) received again — an SDK retry, a resend through a relay or a tunnel — counts once.',
    fields: {
      horizon: {
        type: 'duration',
        default: '24h',
        doc: 'An `event_id` seen within this long is a duplicate: answered 200, counted (`duplicates`), not passed on. 0 turns deduplication off.',
      },
      max_entries: {
        type: 'int',
        default: 100000,
        min: 1,
        doc: 'Most `event_id`s remembered (about 100 bytes each); the oldest are forgotten first (counted as `dedupe_evicted`).',
      },
    },
  },
  sessions: {
    type: 'object',
    doc: "Release health: the SDKs' `session` items (one session's status updates) and `sessions` items (server-mode aggregates) become session events (`event.kind: session`; docs/receivers/sentry.md) beside the error events. Off by default: a pipeline that counts every event would count sessions too — filter on `event.kind` (see config/examples/release-health.yaml).",
    fields: {
      enabled: {
        type: 'boolean',
        default: false,
        doc: 'Turn `session`/`sessions` items into session events (otherwise they are acknowledged and counted only).',
      },
      horizon: {
        type: 'duration',
        default: '1h',
        min: '1s',
        doc: 'A session is counted once, in its final state: when an update with a final status (exited, errored, crashed, abnormal, unhandled) arrives, or, for one still `ok`, this long after its last update (browsers never end their sessions). Ended session ids are remembered this long too, so a late update counts as `session_updates_ignored`, never twice.',
      },
      max_open: {
        type: 'int',
        default: 100000,
        min: 1,
        doc: 'Most open sessions held (about 300 bytes each) and most ended ids remembered; beyond it the least recently updated session is counted at once in its last state (`sessions_evicted`).',
      },
    },
  },
  cors: corsField,
  ...receiverSecurityFields,
};
