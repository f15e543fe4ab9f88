/**
 * Configuration of the `datadog` receiver.
 *
 * ```yaml
 * receivers:
 *   datadog:
 *     endpoint: 127.0.0.1:8126
 *     api_keys:
 *       - { key: "${env:DD_API_KEY}", name: shop }
 * ```
 */
import type { Schema } from '../../src/config/schema.js';
import { receiverSecurityFields, type ReceiverSecurityConfig } from '../../src/config/receiversecurity.js';
import type { ConfigIssue } from '../../src/errors.js';

export interface DatadogApiKeyConfig {
  key: string;
  name: string;
}

export interface DatadogReceiverConfig extends ReceiverSecurityConfig {
  endpoint: string;
  api_keys: DatadogApiKeyConfig[];
  path_prefix: string;
  max_request_body_size: number;
  max_tags_per_series: number;
  rate: 'count' | 'gauge';
  distributions: { explicit_bounds: number[]; max_scale: number; max_buckets: number };
}

export const datadogConfigSchema: Schema = {
  endpoint: {
    type: 'endpoint',
    default: '127.0.0.1:8126',
    doc: 'host:port to listen on (0.0.0.0:8126 for all interfaces); the same endpoint as another HTTP receiver shares its server. Clients use http(s)://<this endpoint>[path_prefix] as their Datadog API URL.',
  },
  api_keys: {
    type: 'array',
    required: true,
    minItems: 1,
    doc: 'Accepted Datadog API keys (the `DD-API-KEY` header, or the `api_key` query parameter), compared in constant time. A request without a key or with another key gets 403 (counted as auth_failures; a rate-limited warning, never the key).',
    items: {
      type: 'object',
      doc: 'one API key',
      fields: {
        key: { type: 'string', required: true, secret: true, nonEmpty: true, doc: 'the API key the clients send' },
        name: { type: 'string', default: '', doc: 'a label for the key in the status API (`keys`), never the key itself' },
      },
    },
  },
  path_prefix: {
    type: 'string',
    default: '',
    pattern: /^(\/[^\s?#]*[^\s?#/])?$/,
    patternHint: 'empty, or a URL path starting with "/" and not ending with "/"',
    doc: 'Serve the API under this prefix (e.g. "/datadog": POST /datadog/api/v2/series); empty serves /api/... at the root.',
  },
  max_request_body_size: {
    type: 'bytes',
    default: '5MiB',
    min: 1,
    doc: "Largest request body, compressed and after decompression (Datadog's intake takes at most 5,242,880 bytes decompressed); larger → 413.",
  },
  max_tags_per_series: {
    type: 'int',
    default: 1000,
    min: 1,
    doc: 'A series with more tags is rejected (its points counted as rejected, reason too_many_tags); the rest of the request is accepted.',
  },
  rate: {
    type: 'enum',
    values: ['count', 'gauge'],
    default: 'count',
    doc: 'What a `rate` series becomes: "count" (with an interval > 0) a delta sum of value × interval, the count the client divided by the interval, so stores that accumulate and a rate() over them give back the per-second value; "gauge" the per-second value as a gauge. A rate without an interval is always a gauge.',
  },
  distributions: {
    type: 'object',
    doc: 'How /api/v1/distribution_points (raw samples per point) become histograms, so that percentiles survive to the stores.',
    fields: {
      explicit_bounds: {
        type: 'array',
        items: { type: 'number', doc: 'an upper bound' },
        default: [],
        doc: 'Explicit bucket upper bounds (ascending; +Inf implied). Empty (default): base-2 exponential buckets, see max_scale and max_buckets.',
      },
      max_scale: {
        type: 'int',
        default: 20,
        min: -10,
        max: 20,
        doc: 'Exponential buckets: the finest scale (bucket boundaries 2^(i·2^-scale)); lowered per point until its samples fit in max_buckets.',
      },
      max_buckets: {
        type: 'int',
        default: 160,
        min: 1,
        doc: 'Exponential buckets: at most this many buckets per sign per point (160 keeps about 0.5 % relative error over 2^(160/2^scale) of range).',
      },
    },
  },
  ...receiverSecurityFields,
};

export function validateDatadogConfig(cfg: DatadogReceiverConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  (cfg.api_keys ?? []).forEach((k, i) => {
    if (k === undefined || typeof k.key !== 'string') return;
    if (seen.has(k.key)) issues.push({ path: `api_keys[${i}].key`, message: 'the same key is listed twice', severity: 'error' });
    seen.add(k.key);
  });
  const b = cfg.distributions?.explicit_bounds ?? [];
  for (let i = 1; i < b.length; i++) {
    if (!((b[i] as number) > (b[i - 1] as number)))
      issues.push({ path: `distributions.explicit_bounds[${i}]`, message: `bounds must be strictly ascending (${b[i - 1]} then ${b[i]})`, severity: 'error' });
  }
  return issues;
}
