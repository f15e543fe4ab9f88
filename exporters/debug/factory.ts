/**
 * debug: writes what it receives to the service log (the Collector's debug
 * exporter). Synchronous: no queue, no retries.
 */
import { defineExporter } from '../../src/component.js';
import { VERBOSITIES, type Verbosity } from './debug.js';

export interface DebugExporterConfig {
  verbosity: Verbosity;
}

export const debugExporterFactory = defineExporter<DebugExporterConfig>({
  type: 'debug',
  description: 'Logs the metrics and events it receives (counts, one line per metric, or every point)',
  signals: ['metrics', 'events'],
  configSchema: {
    verbosity: {
      type: 'enum',
      values: VERBOSITIES,
      default: 'basic',
      doc: 'basic: one log line per batch with counts; normal: also one line per metric (name, kind, point count) or per event; detailed: also every data point / every event attribute (for debugging only: one line per point)',
    },
  },
  load: async () => (await import('./exporter.js')).debugImpl,
});
