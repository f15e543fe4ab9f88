import type { ReceiverFactory } from '../../src/component.js';
import { forgeConfigSchema, validateForgeConfig, type ForgeReceiverConfig } from './config.js';
import { ForgeReceiver } from './receiver.js';

/**
 * `forge`: polls the Atlassian GraphQL gateway's Forge App metrics API
 * (OTLP JSON resourceMetrics) into the metrics pipelines, with watermarks.
 */
export const forgeReceiverFactory: ReceiverFactory<ForgeReceiverConfig> = {
  kind: 'receiver',
  type: 'forge',
  description: 'Atlassian Forge App metrics API poller (GraphQL, ≤15-minute windows, 5 calls/min per email, watermarks in the state directory)',
  signals: ['metrics'],
  configSchema: forgeConfigSchema,
  validate: validateForgeConfig,
  create(set, cfg, next) {
    return new ForgeReceiver(set, cfg, next);
  },
};

export type { ForgeReceiverConfig } from './config.js';
export { ForgeReceiver } from './receiver.js';
