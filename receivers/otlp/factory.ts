import { defineReceiver } from '../../src/component.js';
import { otlpConfigSchema, validateOtlpConfig, type OtlpReceiverConfig } from './config.js';

/**
 * `otlp`: OTLP/HTTP metrics (→ metrics) and logs (→ events), protobuf or
 * JSON, gzip/deflate, on an endpoint other receivers may share.
 */
export const otlpReceiverFactory = defineReceiver<OtlpReceiverConfig>({
  type: 'otlp',
  description: 'OTLP/HTTP receiver: POST /v1/metrics (metrics) and /v1/logs (log records as events), protobuf or JSON, gzip/deflate',
  signals: ['metrics', 'events'],
  configSchema: otlpConfigSchema,
  validate: validateOtlpConfig,
  load: async () => {
    const { OtlpReceiver } = await import('./receiver.js');
    return { create: (set, cfg, next) => new OtlpReceiver(set, cfg, next) };
  },
});

export type { OtlpReceiverConfig } from './config.js';
