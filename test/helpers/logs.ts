import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger.js';

/** A real (pino) logger whose JSON lines are kept in `lines`, parsed in `records()`. */
export function captureLogger(level: 'debug' | 'info' | 'warn' = 'debug'): { logger: Logger; lines: string[]; records: () => Array<Record<string, unknown>> } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l !== '') lines.push(l);
      cb();
    },
  });
  return { logger: createLogger(level, stream), lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
