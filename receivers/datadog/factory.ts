import { defineReceiver } from '../../src/component.js';
import { datadogConfigSchema, validateDatadogConfig, type DatadogReceiverConfig } from './config.js';

/**
 * `datadog`: the Datadog HTTP API (series v1/v2 JSON and protobuf,
 * distribution points, check runs, key validation) on a shared HTTP
 * listener, so apps that report to Datadog only change their API URL.
 */
export const datadogReceiverFactory = defineReceiver<DatadogReceiverConfig>({
  type: 'datadog',
  description:
    'Datadog HTTP API receiver: POST /api/v1/series, /api/v2/series (JSON or protobuf), /api/v1/distribution_points, /api/v1/check_run, GET /api/v1/validate; gzip/deflate/zstd; DD-API-KEY checked',
  signals: ['metrics'],
  configSchema: datadogConfigSchema,
  validate: validateDatadogConfig,
  load: async () => {
    const { DatadogReceiver } = await import('./receiver.js');
    return { create: (set, cfg, next) => new DatadogReceiver(set, cfg, next.metrics) };
  },
});

export type { DatadogReceiverConfig } from './config.js';
