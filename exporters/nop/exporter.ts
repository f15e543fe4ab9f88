/** The nop exporter (the implementation its factory loads). */
import type { ExporterImpl } from '../../src/component.js';
import { countPoints, type EventBatch, type MetricsBatch } from '../../src/model/index.js';

/** What the factory's load() returns. */
export const nopImpl: ExporterImpl<Record<string, never>> = {
  create(set, _cfg, signal) {
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
