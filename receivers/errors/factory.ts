import { defineReceiver } from '../../src/component.js';
import { errorsConfigSchema, type ErrorsReceiverConfig } from './config.js';

/**
 * `errors`: POST /v1/errors with error events (JSON object, array or NDJSON)
 * → events; shares the otlp receiver's endpoint or has its own.
 */
export const errorsReceiverFactory = defineReceiver<ErrorsReceiverConfig>({
  type: 'errors',
  description: 'Error events receiver: POST /v1/errors with a JSON object, a JSON array or NDJSON of {timestamp, attributes} → events',
  signals: ['events'],
  configSchema: errorsConfigSchema,
  load: async () => {
    const { createErrorsReceiver } = await import('./receiver.js');
    return { create: (set, cfg, next) => createErrorsReceiver(set, cfg, next) };
  },
});

export type { ErrorsReceiverConfig } from './config.js';
