import type { ReceiverFactory } from '../../src/component.js';
import { errorsConfigSchema, type ErrorsReceiverConfig } from './config.js';
import { createErrorsReceiver } from './receiver.js';

/**
 * `errors`: POST /v1/errors with error events (JSON object, array or NDJSON)
 * → events; shares the otlp receiver's endpoint or has its own.
 */
export const errorsReceiverFactory: ReceiverFactory<ErrorsReceiverConfig> = {
  kind: 'receiver',
  type: 'errors',
  description: 'Error events receiver: POST /v1/errors with a JSON object, a JSON array or NDJSON of {timestamp, attributes} → events',
  signals: ['events'],
  configSchema: errorsConfigSchema,
  create(set, cfg, next) {
    return createErrorsReceiver(set, cfg, next);
  },
};

export type { ErrorsReceiverConfig } from './config.js';
export { ErrorsReceiver } from './receiver.js';
