/**
 * Configuration of the `errors` receiver.
 *
 * ```yaml
 * receivers:
 *   errors: {}        # POST /v1/errors on 127.0.0.1:4318, shared with the otlp receiver
 * ```
 */
import type { Schema } from '../../src/config/schema.js';
import { receiverSecurityFields, type ReceiverSecurityConfig } from '../../src/config/receiversecurity.js';
import { corsField, type CorsConfig } from '../../src/receiverhttp/cors.js';

export interface ErrorsReceiverConfig extends ReceiverSecurityConfig {
  endpoint: string;
  url_path: string;
  max_request_body_size: number;
  max_events_per_request: number;
  max_attributes: number;
  max_value_length: number;
  max_key_length: number;
  cors: CorsConfig;
}

export const errorsConfigSchema: Schema = {
  endpoint: {
    type: 'endpoint',
    default: '127.0.0.1:4318',
    doc: 'host:port to listen on. The same endpoint as the otlp receiver shares its server (one port for /v1/metrics, /v1/logs and /v1/errors); another gives the receiver its own.',
  },
  url_path: {
    type: 'string',
    default: '/v1/errors',
    pattern: /^\/[^\s?#]*$/,
    patternHint: 'a URL path starting with "/"',
    doc: 'Path of the endpoint (POST).',
  },
  max_request_body_size: { type: 'bytes', default: '16MiB', min: 1, doc: 'Largest body accepted (after decompression); larger requests get 413.' },
  max_events_per_request: { type: 'int', default: 100000, min: 1, doc: 'Events beyond this many in one request are rejected (each with its index).' },
  max_attributes: { type: 'int', default: 128, min: 1, doc: 'Most attributes per event; an event with more is rejected.' },
  max_value_length: { type: 'int', default: 4096, min: 1, doc: 'Longest string attribute value in characters; an event with a longer one is rejected.' },
  max_key_length: { type: 'int', default: 256, min: 1, doc: 'Longest attribute name in characters; an event with a longer one is rejected.' },
  cors: corsField,
  ...receiverSecurityFields,
};
