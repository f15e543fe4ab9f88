/**
 * Structured JSON logs (pino). One line per event that matters to an
 * operator; never one per data point or request. Secrets are redacted by key
 * name as a second line of defence; components must not log them at all.
 */
import { pino } from 'pino';

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
  'api_key', 'apiKey', 'api_token', 'token', 'password', 'secret', 'authorization', 'Authorization',
  '*.api_key', '*.apiKey', '*.api_token', '*.token', '*.password', '*.secret', '*.authorization', '*.Authorization',
  'headers.*', '*.headers.*',
];

export function createLogger(level: LogLevel = 'info', destination?: NodeJS.WritableStream | number): Logger {
  const opts = {
    level,
    base: { service: 'metricport' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
  };
  const dest = destination === undefined ? pino.destination({ fd: 1, sync: false }) : typeof destination === 'number' ? pino.destination({ fd: destination, sync: false }) : destination;
  return pino(opts, dest as any) as unknown as Logger;
}

/** A logger that drops everything (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' }) as unknown as Logger;
}
