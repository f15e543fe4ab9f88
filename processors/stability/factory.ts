import type { ProcessorFactory } from '../../src/component.js';
import { stabilityConfigSchema, validateStabilityConfig, type StabilityConfig } from './config.js';
import { StabilityProcessor } from './processor.js';

/**
 * `stability`: errors normalised by a metric group (sessions started, minutes
 * played) per linked attribute value, on the group's windows.
 */
export const stabilityProcessorFactory: ProcessorFactory<StabilityConfig> = {
  kind: 'processor',
  type: 'stability',
  description: 'Stability scores: errors ÷ a metric group (e.g. sessions started) per linked attribute value (e.g. app.version), on the group\'s windows',
  signals: [{ in: 'metrics', out: 'metrics' }],
  configSchema: stabilityConfigSchema,
  validate: validateStabilityConfig,
  create(set, cfg, _signal, next) {
    return new StabilityProcessor(set, cfg, next);
  },
};
