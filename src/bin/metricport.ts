#!/usr/bin/env node
import { main } from '../cli.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => { process.stderr.write(`metricport: ${(e as Error)?.message ?? String(e)}\n`); process.exit(1); },
);
