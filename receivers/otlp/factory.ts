import type { ReceiverFactory } from '../../src/component.js';
import { otlpConfigSchema, validateOtlpConfig, type OtlpReceiverConfig } from './config.js';
import { OtlpReceiver } from './receiver.js';

/**
 * `otlp`: OTLP/HTTP metrics (→ metrics) and logs (→ events), protobuf or
 * JSON, gzip/deflate, on an endpoint other receivers may share.
 */
export const otlpReceiverFactory: ReceiverFactory<OtlpReceiverConfig> = {
  kind: 'receiver',
  type: 'otlp',
  description: 'OTLP/HTTP receiver: POST /v1/metrics (metrics) and /v1/logs (log records as events), protobuf or JSON, gzip/deflate',
  signals: ['metrics', 'events'],
  configSchema: otlpConfigSchema,
  validate: validateOtlpConfig,
  create(set, cfg, next) {
    return new OtlpReceiver(set, cfg, next);
  },
};

export type { OtlpReceiverConfig } from './config.js';
export { OtlpReceiver } from './receiver.js';
