import { defineReceiver } from '../../src/component.js';
import { statsdConfigSchema, validateStatsdConfig, type StatsdReceiverConfig } from './config.js';

/**
 * `statsd`: StatsD and DogStatsD lines over UDP, TCP or a Unix datagram
 * socket, aggregated per flush interval into metrics (OTel-style, or the
 * names Etsy statsd writes to Graphite).
 */
export const statsdReceiverFactory = defineReceiver<StatsdReceiverConfig>({
  type: 'statsd',
  description:
    'StatsD/DogStatsD receiver (UDP, TCP, Unix datagram): counters, gauges, timers, histograms, distributions, sets, tags; aggregated per flush interval',
  signals: ['metrics'],
  configSchema: statsdConfigSchema,
  validate: validateStatsdConfig,
  load: async () => {
    const { StatsdReceiver } = await import('./receiver.js');
    return { create: (set, cfg, next) => new StatsdReceiver(set, cfg, next) };
  },
});

export type { StatsdReceiverConfig } from './config.js';
