/**
 * Child process for the kill -9 test: an importer receiver (argv: postgres
 * port, state dir, sink file) backfilling 7 days in 1-day chunks, each chunk
 * slowed by pg_sleep; every accepted point is appended synchronously to the
 * sink file before the consumer's promise resolves (the "downstream").
 */
import { appendFileSync } from 'node:fs';
import type { MetricsBatch, NumberDataPoint } from '../../../src/model/index.js';
import { silentLogger } from '../../../src/logger.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { ImporterReceiver } from '../../../receivers/importer/receiver.js';
import { importerConfig } from './helpers.js';

const [port, stateDir, sinkFile] = process.argv.slice(2) as [string, string, string];
const telemetry = new ServiceTelemetry();
const cfg = importerConfig({
  source: 'postgres',
  host: '127.0.0.1',
  port: Number(port),
  database: 'test',
  user: 'postgres',
  importers: [
    {
      name: 'kill',
      query: 'select version, sessions, time from metric_table, pg_sleep(0.4) where time >= $1 and time < $2',
      value_column: 'sessions',
      attributes: { version: 'app.version' },
      metric: { name: 'sessions_started', kind: 'delta_sum' },
      history: '7d',
      chunk: '1d',
      period: '200ms',
    },
  ],
});
const rcv = new ImporterReceiver({ id: 'importer/kill', logger: silentLogger(), telemetry, stateDir }, cfg, {
  metrics: {
    consume: async (b: MetricsBatch) => {
      let out = '';
      for (const rm of b.resourceMetrics)
        for (const sm of rm.scopeMetrics)
          for (const m of sm.metrics)
            for (const p of m.points as NumberDataPoint[]) out += `${String(p.attributes['app.version'])},${p.timeUnixNano},${Number(p.value)}\n`;
      appendFileSync(sinkFile, out);
    },
  },
});
await rcv.start();
process.stdout.write('started\n');
