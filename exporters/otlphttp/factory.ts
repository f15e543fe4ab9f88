/**
 * otlphttp: sends metrics to an OTLP/HTTP endpoint (another Collector, a
 * vendor's OTLP intake) as protobuf or JSON, gzip-compressed by default,
 * through the exporter helper's queue and retries.
 */
import { defineExporter } from '../../src/component.js';
import { otlphttpConfigSchema, validateOtlpHttp, type OtlpHttpConfig } from './config.js';

export const otlphttpExporterFactory = defineExporter<OtlpHttpConfig>({
  type: 'otlphttp',
  description: 'Sends metrics over OTLP/HTTP (protobuf or JSON, gzip) with a queue and OTLP retry rules',
  signals: ['metrics'],
  configSchema: otlphttpConfigSchema,
  validate: validateOtlpHttp,
  load: async () => (await import('./exporter.js')).otlphttpImpl,
});
