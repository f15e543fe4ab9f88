/**
 * The log destination never holds the process up: a pipe whose reader has
 * gone (EPIPE) costs a counted drop per line, flushing it returns at once,
 * and the buffer in front of a slow destination is bounded.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, FdLogSink, flushLogger, logOutput } from '../src/logger.js';

describe('logger: FdLogSink', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mp-logger-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a FIFO whose reader has gone: every line is dropped and counted, the flush returns at once, nothing throws', async () => {
    const fifo = join(dir, 'log.fifo');
    execFileSync('mkfifo', [fifo]);
    const r = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const w = openSync(fifo, constants.O_WRONLY);
    closeSync(r);
    try {
      const before = { ...logOutput };
      const logger = createLogger('info', w);
      for (let i = 0; i < 5; i++) logger.info({ i }, 'nobody reads this');
      const t0 = Date.now();
      await flushLogger(logger, 5_000);
      expect(Date.now() - t0).to.be.below(1_000);
      logger.info('after the pipe broke');
      expect(logOutput.droppedLines - before.droppedLines).to.equal(6);
      expect(logOutput.writeErrors - before.writeErrors).to.equal(1);
      expect(logOutput.lastError).to.equal('EPIPE');
    } finally {
      closeSync(w);
    }
  });

  it('a regular file: every line arrives in order, and flush waits for them', async () => {
    const file = join(dir, 'log.jsonl');
    const fd = openSync(file, 'w');
    try {
      const logger = createLogger('info', fd);
      for (let i = 0; i < 100; i++) logger.info({ i }, 'line');
      await flushLogger(logger, 5_000);
      const got = readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { i: number }).i);
      expect(got).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
    } finally {
      closeSync(fd);
    }
  });

  it('the buffer behind a write in flight is bounded: lines beyond it are dropped and counted', async () => {
    const file = join(dir, 'log.txt');
    const fd = openSync(file, 'w');
    try {
      const sink = new FdLogSink(fd, 100);
      const before = logOutput.droppedLines;
      const line = `${'x'.repeat(49)}\n`;
      // the first line is written at once (in flight); two more fit in 100 bytes; the other seven do not
      for (let i = 0; i < 10; i++) sink.write(line);
      await new Promise<void>((resolve) => sink.flush(() => resolve()));
      expect(logOutput.droppedLines - before).to.equal(7);
      expect(readFileSync(file, 'utf8')).to.equal(line.repeat(3));
    } finally {
      closeSync(fd);
    }
  });
});
