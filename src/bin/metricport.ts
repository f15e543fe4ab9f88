#!/usr/bin/env node
import { main } from '../cli.js';

/**
 * Exit once what was written to stdout and stderr has been handed to the OS:
 * on a pipe the writes are asynchronous, and process.exit() right away would
 * drop what is still queued (`metricport components --json | jq` cut at 64 KiB).
 */
function exitAfterOutput(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

main(process.argv.slice(2)).then(
  (code) => exitAfterOutput(code),
  (e: unknown) => {
    process.stderr.write(`metricport: ${(e as Error)?.message ?? String(e)}\n`);
    exitAfterOutput(1);
  },
);
