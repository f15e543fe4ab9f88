/**
 * Configuration of the `otlp` receiver (OTLP/HTTP, Collector-style keys).
 *
 * ```yaml
 * receivers:
 *   otlp:
 *     protocols:
 *       http:
 *         endpoint: 127.0.0.1:4318
 *         max_request_body_size: 64MiB
 *     limits: { max_attributes: 128, max_depth: 16, max_value_length: 65536 }
 * ```
 */
import type { Schema } from '../../src/config/schema.js';
import { authField, rateLimitField, tlsField, type AuthConfig, type RateLimitConfig, type TlsConfig } from '../../src/config/security.js';
import type { ConfigIssue } from '../../src/errors.js';

export interface OtlpHttpConfig {
  /** host:port as configured; port 0 picks a free port (see `boundAddress()`) */
  endpoint: string;
  /** bytes; limit on the decompressed body, and on the compressed body too */
  max_request_body_size: number;
  metrics_url_path: string;
  logs_url_path: string;
  tls?: TlsConfig;
  auth: AuthConfig;
  rate_limit: RateLimitConfig;
}

export interface OtlpReceiverConfig {
  protocols: { http: OtlpHttpConfig };
  limits: { max_attributes: number; max_depth: number; max_value_length: number };
  logs: { min_severity: LogSeverity; keep_exceptions: boolean };
}

const LOG_SEVERITIES = ['ALL', 'TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'] as const;
export type LogSeverity = (typeof LOG_SEVERITIES)[number];
/** the lowest OTLP SeverityNumber of each level (ALL: everything, unspecified included) */
export const SEVERITY_NUMBER: Record<LogSeverity, number> = { ALL: 0, TRACE: 1, DEBUG: 5, INFO: 9, WARN: 13, ERROR: 17, FATAL: 21 };

const URL_PATH = /^\/[^\s?#]*$/;

export const otlpConfigSchema: Schema = {
  protocols: {
    type: 'object',
    doc: 'Transports to serve (only OTLP/HTTP; gRPC is not supported).',
    fields: {
      http: {
        type: 'object',
        doc: 'OTLP/HTTP: POST of ExportMetricsServiceRequest / ExportLogsServiceRequest, protobuf or JSON, optionally gzip/deflate compressed.',
        fields: {
          endpoint: {
            type: 'endpoint',
            default: '127.0.0.1:4318',
            doc: 'host:port to listen on (0.0.0.0:4318 for all interfaces). Several receivers may share one endpoint.',
          },
          max_request_body_size: {
            type: 'bytes',
            default: '64MiB',
            min: 1,
            doc: 'Largest request body accepted after decompression (the compressed body is capped by it too); larger requests get 413.',
          },
          metrics_url_path: {
            type: 'string',
            default: '/v1/metrics',
            pattern: URL_PATH,
            patternHint: 'a URL path starting with "/"',
            doc: 'Path of the metrics endpoint.',
          },
          logs_url_path: {
            type: 'string',
            default: '/v1/logs',
            pattern: URL_PATH,
            patternHint: 'a URL path starting with "/"',
            doc: 'Path of the logs endpoint; log records become events.',
          },
          tls: tlsField,
          auth: authField,
          rate_limit: rateLimitField,
        },
      },
    },
  },
  limits: {
    type: 'object',
    doc: 'Decoding limits; a data point or log record beyond them is rejected (partial success).',
    fields: {
      max_attributes: { type: 'int', default: 128, min: 1, doc: 'Most attributes per data point, log record, resource or scope.' },
      max_depth: { type: 'int', default: 16, min: 1, max: 1000, doc: 'Deepest nesting of array/kvlist attribute values.' },
      max_value_length: { type: 'int', default: 65536, min: 1, doc: 'Longest string or bytes attribute value, in bytes.' },
    },
  },
  logs: {
    type: 'object',
    doc: 'Which log records from /v1/logs become events (error events for metric sets); the others are dropped and counted.',
    fields: {
      min_severity: {
        type: 'enum',
        values: LOG_SEVERITIES,
        default: 'ERROR',
        doc: 'Keep records with a SeverityNumber at least this level (ERROR = 17..24); ALL keeps every record, unspecified severity included.',
      },
      keep_exceptions: {
        type: 'boolean',
        default: true,
        doc: 'Also keep records of any severity that carry an exception.* attribute (exception.type, exception.message, ...).',
      },
    },
  },
};

export function validateOtlpConfig(cfg: OtlpReceiverConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const http = cfg.protocols?.http;
  if (http !== undefined && http.metrics_url_path === http.logs_url_path) {
    issues.push({
      path: 'protocols.http.logs_url_path',
      message: `must differ from metrics_url_path (both are ${JSON.stringify(http.logs_url_path)})`,
      severity: 'error',
    });
  }
  return issues;
}
