/**
 * Child process for the kill -9 test: a forge receiver on a virtual clock
 * (argv: gateway URL, state dir, sink file) doing one 14-day catch-up; each
 * accepted window is appended synchronously to the sink file before the
 * consumer's promise resolves (the "downstream").
 */
import { appendFileSync } from 'node:fs';
import type { MetricsBatch } from '../../../src/model/index.js';
import { silentLogger } from '../../../src/logger.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { LimiterRegistry } from '../../../receivers/forge/ratelimit.js';
import { ForgeReceiver } from '../../../receivers/forge/receiver.js';
import { FakeClock } from './fakeclock.js';
import { forgeConfig, T0 } from './helpers.js';

const [url, stateDir, sinkFile] = process.argv.slice(2) as [string, string, string];
const clock = new FakeClock(T0, 1);
const telemetry = new ServiceTelemetry();
const rcv = new ForgeReceiver(
  { id: 'forge', logger: silentLogger(), telemetry, stateDir },
  forgeConfig({ endpoint: url, history: '14d' }),
  {
    metrics: {
      consume: async (b: MetricsBatch) => {
        appendFileSync(sinkFile, `${JSON.stringify(b.resourceMetrics.length)}\n`);
      },
    },
  },
  { clock, limiters: new LimiterRegistry(), manual: true, random: () => 0.5 },
);
await rcv.start({ logger: silentLogger(), telemetry, stateDir });
const r = await rcv.catchUp();
process.stdout.write(JSON.stringify({ windows: r.windows }) + '\n');
process.exit(0);
