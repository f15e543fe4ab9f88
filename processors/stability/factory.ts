import { defineProcessor } from '../../src/component.js';
import { stabilityConfigSchema, validateStabilityConfig, type StabilityConfig } from './config.js';

/**
 * `stability`: errors normalised by a metric group (sessions started, minutes
 * played) per linked attribute value, on the group's windows.
 */
export const stabilityProcessorFactory = defineProcessor<StabilityConfig>({
  type: 'stability',
  description: "Stability scores: errors ÷ a metric group (e.g. sessions started) per linked attribute value (e.g. app.version), on the group's windows",
  signals: [{ in: 'metrics', out: 'metrics' }],
  configSchema: stabilityConfigSchema,
  validate: validateStabilityConfig,
  load: async () => {
    const { StabilityProcessor } = await import('./processor.js');
    return { create: (set, cfg, _signal, next) => new StabilityProcessor(set, cfg, next) };
  },
});
