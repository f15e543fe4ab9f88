/**
 * `nop`: accepts everything and drops it (counted as sent). For benchmarks and
 * for pipelines that only need a receiver's side effects.
 */
import type { Exporter, ExporterFactory } from '../../src/component.js';
import { countPoints, type EventBatch, type MetricsBatch } from '../../src/model/index.js';

export const nopExporterFactory: ExporterFactory<Record<string, never>> = {
  kind: 'exporter',
  type: 'nop',
  description: 'Accepts and discards everything (benchmarks, tests).',
  signals: ['metrics', 'events'],
  configSchema: {},
  create(set, _cfg, signal): Exporter {
    const t = set.telemetry.exporter(set.id, signal);
    let items = 0;
    return {
      async start() {},
      async shutdown() {},
      async consume(data: unknown) {
        const n = signal === 'metrics' ? countPoints(data as MetricsBatch) : (data as EventBatch).events.length;
        items += n;
        t.sent(n);
      },
      status: () => ({ items }),
    };
  },
};
