import type { ReceiverFactory } from '../../src/component.js';
import { importerConfigSchema, validateImporterConfig, type ImporterReceiverConfig } from './config.js';
import { ImporterReceiver } from './receiver.js';

/**
 * `importer`: one metric source (postgres, redshift, influxdb, graphite) and
 * its importers: bounded queries `time >= $1 and time < $2` run every period,
 * history in chunks, a watermark per importer in the state directory.
 */
export const importerReceiverFactory: ReceiverFactory<ImporterReceiverConfig> = {
  kind: 'receiver',
  type: 'importer',
  description: 'Imports metrics from PostgreSQL, Redshift, InfluxDB 1.x or graphite-web with bounded queries ($1/$2), history in chunks and a watermark per importer',
  signals: ['metrics'],
  configSchema: importerConfigSchema,
  validate: validateImporterConfig,
  create(set, cfg, next) {
    return new ImporterReceiver(set, cfg, next);
  },
};

export { ImporterReceiver } from './receiver.js';
export type { ImporterReceiverConfig } from './config.js';
