/**
 * `nop`: accepts everything and drops it (counted as sent). For benchmarks and
 * for pipelines that only need a receiver's side effects.
 */
import { defineExporter } from '../../src/component.js';

export const nopExporterFactory = defineExporter<Record<string, never>>({
  type: 'nop',
  description: 'Accepts and discards everything (benchmarks, tests).',
  signals: ['metrics', 'events'],
  configSchema: {},
  load: async () => (await import('./exporter.js')).nopImpl,
});
