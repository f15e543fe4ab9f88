/**
 * otlphttp configuration: schema, validated shape, and the metrics URL.
 */
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { helperSchema, type QueueConfig, type RetryConfig } from '../../src/exporterhelper/config.js';

export interface OtlpHttpConfig {
  endpoint?: string;
  metrics_endpoint?: string;
  encoding: 'proto' | 'json';
  compression: 'gzip' | 'none';
  headers: Record<string, string>;
  /** milliseconds */
  timeout: number;
  retry_on_failure: RetryConfig;
  sending_queue: QueueConfig;
}

export const otlphttpConfigSchema: Schema = {
  endpoint: {
    type: 'url',
    doc: 'base URL of the OTLP/HTTP receiver, e.g. https://collector:4318; "/v1/metrics" is appended (required unless metrics_endpoint is set)',
  },
  metrics_endpoint: {
    type: 'url',
    doc: 'full URL to POST metrics to, used as given (overrides endpoint + "/v1/metrics")',
  },
  encoding: { type: 'enum', values: ['proto', 'json'], default: 'proto', doc: 'request body: "proto" (application/x-protobuf) or "json" (application/json)' },
  compression: { type: 'enum', values: ['gzip', 'none'], default: 'gzip', doc: 'compress request bodies with gzip (Content-Encoding: gzip)' },
  headers: {
    type: 'map',
    values: { type: 'string', doc: 'header value' },
    secretValues: true,
    default: {},
    doc: 'extra HTTP headers sent with every request (e.g. authorization); values are secret: never logged or shown in status',
  },
  ...helperSchema(),
};

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const RESERVED = new Set(['content-type', 'content-encoding', 'content-length', 'transfer-encoding', 'host', 'connection']);

export function validateOtlpHttp(cfg: OtlpHttpConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (cfg.endpoint === undefined && cfg.metrics_endpoint === undefined) {
    issues.push({ path: 'endpoint', message: 'is required (set endpoint, or metrics_endpoint)', severity: 'error' });
  }
  for (const [name, value] of Object.entries(cfg.headers ?? {})) {
    if (!TOKEN_RE.test(name)) {
      issues.push({ path: `headers.${name}`, message: 'is not a valid HTTP header name', severity: 'error' });
    } else if (RESERVED.has(name.toLowerCase())) {
      issues.push({ path: `headers.${name}`, message: 'is set by the exporter and cannot be configured', severity: 'error' });
    }
    if (typeof value === 'string' && /[\r\n\0]/.test(value)) {
      issues.push({ path: `headers.${name}`, message: 'value must not contain line breaks or NUL', severity: 'error' });
    }
  }
  return issues;
}

/** The URL metrics are POSTed to: metrics_endpoint as given, else endpoint with "/v1/metrics" appended to its path. */
export function metricsUrl(cfg: Pick<OtlpHttpConfig, 'endpoint' | 'metrics_endpoint'>): URL {
  if (cfg.metrics_endpoint !== undefined) return new URL(cfg.metrics_endpoint);
  if (cfg.endpoint === undefined) throw new Error('otlphttp: endpoint or metrics_endpoint is required');
  const u = new URL(cfg.endpoint);
  u.pathname = u.pathname.replace(/\/+$/, '') + '/v1/metrics';
  return u;
}
