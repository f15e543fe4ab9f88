/**
 * Structured JSON logs (pino). One line per event that matters to an
 * operator; never one per data point or request. Secrets are redacted by key
 * name as a second line of defence; components must not log them at all.
 *
 * Logging never holds the process up: lines go to the file descriptor
 * through FdLogSink (asynchronous writes, a bounded buffer, no synchronous
 * retry loop), and a destination that has gone away (the reader of a pipe
 * exited: EPIPE) costs a counted drop per line, nothing more.
 */
import { write as fsWrite } from 'node:fs';
import { pino } from './vendor/pino.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface Logger {
  trace(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  fatal(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
  level: string;
}

const REDACT_PATHS = [
  'api_key',
  'apiKey',
  'api_token',
  'token',
  'password',
  'secret',
  'authorization',
  'Authorization',
  '*.api_key',
  '*.apiKey',
  '*.api_token',
  '*.token',
  '*.password',
  '*.secret',
  '*.authorization',
  '*.Authorization',
  'headers.*',
  '*.headers.*',
];

export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream | number): Logger {
  const opts = {
    level,
    base: { service: 'metricport' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
  };
  const dest = destination === undefined ? new FdLogSink(1) : typeof destination === 'number' ? new FdLogSink(destination) : destination;
  return pino(opts, dest as any) as unknown as Logger;
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' }) as unknown as Logger;
}

/** Log output that did not reach its destination, process-wide (`metricport_log_dropped_lines_total`). */
export const logOutput = { droppedLines: 0, writeErrors: 0, lastError: undefined as string | undefined };

/** what FdLogSink buffers while a write is in flight; beyond it, lines are dropped (and counted) */
const LOG_BUFFER_BYTES = 8 << 20;
const EAGAIN_RETRY_MS = 20;

function lines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * A pino destination writing to a file descriptor: one asynchronous write
 * at a time of everything buffered, never a synchronous or blocking retry.
 * - the buffer is bounded (LOG_BUFFER_BYTES): a line that does not fit is dropped and counted;
 * - EAGAIN (a non-blocking pipe that is full) is retried after a short, unref'd timer;
 * - any other error (EPIPE: the reader has gone; EBADF; ENOSPC) marks the
 *   destination broken: the buffer and every later line are dropped and counted;
 * - flush(cb) calls back once the buffer is written or dropped (callers bound the wait);
 * - nothing is written at process exit (pino's own destination retried a broken
 *   pipe there forever, so SIGTERM never ended the process).
 */
export class FdLogSink {
  private queue: Buffer[] = [];
  private bytes = 0;
  private writing = false;
  private broken = false;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly fd: number,
    private readonly maxBytes = LOG_BUFFER_BYTES,
  ) {}

  write(line: string): boolean {
    if (this.broken) {
      logOutput.droppedLines++;
      return true;
    }
    const b = Buffer.from(line, 'utf8');
    if (this.bytes + b.length > this.maxBytes) {
      logOutput.droppedLines += Math.max(1, lines(b));
      return true;
    }
    this.queue.push(b);
    this.bytes += b.length;
    if (!this.writing) this.next();
    return true;
  }

  /** Calls back once what was written so far has reached the descriptor or been dropped. */
  flush(cb: (err?: Error) => void = () => undefined): void {
    if (!this.writing && this.queue.length === 0) {
      cb();
      return;
    }
    this.waiters.push(() => cb());
  }

  private next(): void {
    if (this.queue.length === 0 || this.broken) {
      this.writing = false;
      for (const w of this.waiters.splice(0)) w();
      return;
    }
    this.writing = true;
    const chunk = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue);
    this.queue = [];
    this.bytes = 0;
    const put = (buf: Buffer): void => {
      fsWrite(this.fd, buf, 0, buf.length, null, (err, n) => {
        if (err === null) {
          if (n < buf.length) {
            put(buf.subarray(n));
            return;
          }
          this.next();
          return;
        }
        if (err.code === 'EAGAIN') {
          setTimeout(() => put(buf), EAGAIN_RETRY_MS).unref();
          return;
        }
        this.broken = true;
        logOutput.writeErrors++;
        logOutput.lastError = err.code ?? err.message;
        logOutput.droppedLines += lines(buf) + this.queue.reduce((a, q) => a + lines(q), 0);
        this.queue = [];
        this.bytes = 0;
        this.next();
      });
    };
    put(chunk);
  }
}

/** Wait for the logger's destination to take what was logged, at most `timeoutMs`; never rejects. */
export function flushLogger(logger: Logger, timeoutMs = 500): Promise<void> {
  const l = logger as unknown as { flush?: (cb?: (err?: Error) => void) => void };
  return new Promise((resolve) => {
    if (typeof l.flush !== 'function') {
      resolve();
      return;
    }
    const t = setTimeout(resolve, timeoutMs);
    t.unref();
    try {
      l.flush(() => {
        clearTimeout(t);
        resolve();
      });
    } catch {
      clearTimeout(t);
      resolve();
    }
  });
}

/**
 * process.stderr emits 'error' (EPIPE) when its reader has gone; unhandled,
 * that throws. Count it instead (the message was for nobody).
 */
export function tolerateBrokenStderr(): void {
  if (process.stderr.listenerCount('error') > 0) return;
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    logOutput.writeErrors++;
    logOutput.lastError = err.code ?? err.message;
  });
}
