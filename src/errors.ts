/**
 * The one catalogue of coded errors (after fastify's). Every error the service
 * raises on purpose has a stable `code` users can search for, and a message
 * that says what to do. Messages never contain secrets.
 */
export class MetricportError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
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
  constructor(issues: ConfigIssue[]) {
    super('MP_CONFIG_INVALID', formatIssues(issues.filter((i) => i.severity === 'error')));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line !== undefined ? `${i.file ?? 'config'}:${i.line}:${i.column ?? 1}: ` : i.file ? `${i.file}: ` : '';
  return `${where}${i.path === '' ? '(root)' : i.path}: ${i.message}`;
}

export function formatIssues(issues: ConfigIssue[]): string {
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

export const ErrorCodes = {
  MP_REFUSED: 'downstream refused the data for now (full queue, memory limit); the client should retry',
  MP_PERMANENT: 'the data can never be accepted by a downstream component; not retried',
  MP_CONFIG_INVALID: 'the configuration has errors; each is reported with its key path and line',
  MP_CONFIG_READ: 'the configuration file could not be read',
  MP_SHUTDOWN: 'the component is shut down and accepts no more data',
  MP_START_FAILED: 'a component failed to start',
  MP_LOAD_FAILED: 'a component\'s implementation (its modules or a dependency such as lmdb or pg) could not be imported; reinstall with npm ci',
  MP_SHUTDOWN_TIMEOUT: 'the shutdown did not finish within --shutdown-timeout; the process exits anyway (code 1)',
} as const;
