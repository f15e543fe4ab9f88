import { defineReceiver } from '../../src/component.js';
import { forgeConfigSchema, validateForgeConfig, type ForgeReceiverConfig } from './config.js';

/**
 * `forge`: polls the Atlassian GraphQL gateway's Forge App metrics API
 * (OTLP JSON resourceMetrics) into the metrics pipelines, with watermarks.
 */
export const forgeReceiverFactory = defineReceiver<ForgeReceiverConfig>({
  type: 'forge',
  description: 'Atlassian Forge App metrics API poller (GraphQL, ≤15-minute windows, 5 calls/min per email, watermarks in the state directory)',
  signals: ['metrics'],
  configSchema: forgeConfigSchema,
  validate: validateForgeConfig,
  load: async () => {
    const { ForgeReceiver } = await import('./receiver.js');
    return { create: (set, cfg, next) => new ForgeReceiver(set, cfg, next) };
  },
  commands: [
    {
      verb: 'forge',
      usage: 'forge pull --config FILE [--since 2h] [--post URL]',
      summary: 'one Forge App metrics catch-up pass, then exit (see metricport forge --help)',
      run: async (args) => (await import('./pull.js')).forgeMain(args),
    },
  ],
});
