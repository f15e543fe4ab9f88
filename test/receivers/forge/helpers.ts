/** Shared setup for the forge receiver tests: config, a capturing logger, a receiver on a virtual clock against the gateway double. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Consumer } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { createLogger, type Logger } from '../../../src/logger.js';
import type { MetricsBatch } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import type { ForgeReceiverConfig } from '../../../receivers/forge/config.js';
import { forgeReceiverFactory } from '../../../receivers/forge/factory.js';
import { LimiterRegistry } from '../../../receivers/forge/ratelimit.js';
import { ForgeReceiver, type ForgeReceiverDeps } from '../../../receivers/forge/receiver.js';
import { FakeClock } from './fakeclock.js';
import { Gateway, type GatewayOptions } from './gateway.js';

export const APP_UUID = '8ce114f4-d82c-45e2-b4fb-c6a0751d7d57';
export const APP_ID = `ari:cloud:ecosystem::app/${APP_UUID}`;
export const ENV = '8cb293d5-be08-47ae-a75c-95b89da5ad1d';
export const ENV2 = '6f5f56e9-55c0-4551-9247-ee1484340f64';
export const EMAIL = 'owner@example.com';
export const TOKEN = 'ATATT3xFfGF0-SECRET-token-9f8e7d6c5b4a';
/** 2023-10-31T03:00:30Z: 30 s past a minute */
export const T0 = Date.parse('2023-10-31T03:00:30.000Z');

export function forgeConfig(input: Record<string, unknown> = {}): ForgeReceiverConfig {
  const raw = { app_id: APP_ID, environments: [ENV], email: EMAIL, api_token: TOKEN, ...input };
  const { value, issues } = validateSchema(forgeReceiverFactory.configSchema, raw, '');
  if (issues.length > 0) throw new Error(issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return value as unknown as ForgeReceiverConfig;
}

export class Recording implements Consumer<MetricsBatch> {
  readonly got: MetricsBatch[] = [];
  /** thrown (once each) by consume() */
  readonly failures: unknown[] = [];
  async consume(b: MetricsBatch): Promise<void> {
    const f = this.failures.shift();
    if (f !== undefined) throw f;
    this.got.push(b);
  }
}

export function captureLogger(level: 'debug' | 'info' = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: createLogger(level, stream), lines };
}

export interface Rig {
  clock: FakeClock;
  gw: Gateway;
  rcv: ForgeReceiver;
  consumer: Recording;
  lines: string[];
  stateDir: string;
  telemetry: ServiceTelemetry;
}

export async function rig(
  o: {
    config?: Record<string, unknown>;
    gateway?: Partial<GatewayOptions>;
    deps?: Partial<ForgeReceiverDeps>;
    clock?: FakeClock;
    gw?: Gateway;
    stateDir?: string;
    limiters?: LimiterRegistry;
    id?: string;
  } = {},
): Promise<Rig> {
  const clock = o.clock ?? new FakeClock(T0, 1);
  const gw = o.gw ?? (await new Gateway({ now: () => clock.now(), email: EMAIL, token: TOKEN, ...o.gateway }).start());
  const stateDir = o.stateDir ?? mkdtempSync(join(tmpdir(), 'mp-forge-'));
  const { logger, lines } = captureLogger();
  const telemetry = new ServiceTelemetry();
  const consumer = new Recording();
  const cfg = forgeConfig({ endpoint: gw.url, ...o.config });
  const rcv = new ForgeReceiver(
    { id: o.id ?? 'forge', logger, telemetry, stateDir },
    cfg,
    { metrics: consumer },
    { clock, limiters: o.limiters ?? new LimiterRegistry(), random: () => 0.5, manual: true, ...o.deps },
  );
  await rcv.start({ logger, telemetry, stateDir });
  return { clock, gw, rcv, consumer, lines, stateDir, telemetry };
}
