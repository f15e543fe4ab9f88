/**
 * The one catalogue of coded errors (after fastify's). Every error the service
 * raises on purpose has a stable `code` users can search for, and a message
 * that says what to do. Messages never contain secrets.
 */
export class MetricportError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'MetricportError';
  }
}

/**
 * Downstream refused the data for now (queue full, memory limit, a retryable
 * backend failure with no queue). The receiver answers 429/503 with
 * Retry-After so the client retries; never 500.
 */
export class RefusedError extends MetricportError {
  readonly status: 429 | 503;
  readonly retryAfterSeconds: number;
  constructor(message: string, opts: { status?: 429 | 503; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super('MP_REFUSED', message, { cause: opts.cause });
    this.name = 'RefusedError';
    this.status = opts.status ?? 503;
    this.retryAfterSeconds = opts.retryAfterSeconds ?? 1;
  }
}

/**
 * The data can never be accepted (a backend answered 400/413, an encoder
 * cannot represent it). Not retried; the receiver answers 400.
 */
export class PermanentError extends MetricportError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('MP_PERMANENT', message, options);
    this.name = 'PermanentError';
  }
}

/** A configuration problem at a key path. */
export interface ConfigIssue {
  /** dotted key path, e.g. `exporters.otlphttp.endpoint` */
  path: string;
  message: string;
  /** 'error' fails validation; 'warning' is reported but the config loads. */
  severity: 'error' | 'warning';
  /** 1-based, when known */
  line?: number;
  column?: number;
  file?: string;
}

export class ConfigError extends MetricportError {
  readonly issues: ConfigIssue[];
  /** `MP_CONFIG_READ` when the file itself could not be read, else `MP_CONFIG_INVALID` */
  constructor(issues: ConfigIssue[], code: 'MP_CONFIG_INVALID' | 'MP_CONFIG_READ' = 'MP_CONFIG_INVALID') {
    super(code, formatIssues(issues.filter((i) => i.severity === 'error')));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line !== undefined ? `${i.file ?? 'config'}:${i.line}:${i.column ?? 1}: ` : i.file ? `${i.file}: ` : '';
  return `${where}${i.path === '' ? '(root)' : i.path}: ${i.message}`;
}

function formatIssues(issues: ConfigIssue[]): string {
  const n = issues.length;
  return `invalid configuration (${n} error${n === 1 ? '' : 's'}):\n` + issues.map((i) => '  - ' + formatIssue(i)).join('\n');
}

/** Is a downstream error worth retrying (by the client or by a sender)? */
export function isRetryable(err: unknown): boolean {
  if (err instanceof PermanentError) return false;
  if (err instanceof RefusedError) return true;
  if (err instanceof AggregateError) return err.errors.some(isRetryable);
  return true;
}

/**
 * Every code a MetricportError can carry, with what it means for the user.
 * `ErrorCode` is derived from it, so a code missing here does not compile;
 * test/errors.test.ts fails when a code here is raised nowhere, and
 * docs/reference/errors.md is generated from it (npm run docs:gen).
 */
export const ErrorCodes = {
  MP_REFUSED: 'downstream refused the data for now (full queue, memory limit); the client should retry',
  MP_PERMANENT: 'the data can never be accepted by a downstream component; not retried',
  MP_CONFIG_INVALID: 'the configuration has errors; each is reported with its key path and line',
  MP_CONFIG_READ: 'the configuration file could not be read',
  MP_SHUTDOWN: 'the component is shut down and accepts no more data',
  MP_START_FAILED: 'a component failed to start',
  MP_LOAD_FAILED: "a component's implementation (its modules or a dependency such as lmdb or pg) could not be imported; reinstall with npm ci",
  MP_SHUTDOWN_TIMEOUT: 'the shutdown did not finish within --shutdown-timeout; the process exits anyway (code 1)',
  MP_RELOAD_FAILED: 'a reload (SIGHUP or POST /api/v1/reload) was refused or failed; the previous config keeps running, and the message says why',
  MP_LEASE_LOST:
    'cluster mode: this node lost a lease (expired, taken over or fenced by a later holder) and stopped what it did under it; another node continues',
  MP_FORGE_PULL: '`metricport forge pull` could not finish its catch-up pass; the message names the failing call',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;
