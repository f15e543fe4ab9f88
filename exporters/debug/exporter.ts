/**
 * The debug exporter (the implementation its factory loads): formats each
 * batch into log lines.
 */
import type { ExporterImpl } from '../../src/component.js';
import { createExporter } from '../../src/exporterhelper/exporter.js';
import { PermanentSendError } from '../../src/exporterhelper/retry.js';
import { countPoints, type EventBatch, type MetricsBatch } from '../../src/model/index.js';
import { formatEvents, formatMetrics, type LogEntry, type Verbosity } from './debug.js';
import type { DebugExporterConfig } from './factory.js';

/** What the factory's load() returns. */
export const debugImpl: ExporterImpl<DebugExporterConfig> = {
  create(set, cfg, signal) {
    const verbosity: Verbosity = cfg.verbosity ?? 'basic';
    const log = (format: () => LogEntry[]): void => {
      let entries: LogEntry[];
      try {
        entries = format();
      } catch (e) {
        throw new PermanentSendError(`cannot format batch: ${(e as Error).name}`, { reason: 'format', cause: e });
      }
      for (const e of entries) set.logger.info(e.fields, e.msg);
    };
    if (signal === 'metrics') {
      return createExporter<MetricsBatch>(set, {
        signal,
        countItems: countPoints,
        push: async (b) => {
          log(() => formatMetrics(b, verbosity));
        },
        timeout: 0,
        retry: { enabled: false },
        queue: { enabled: false },
        status: () => ({ verbosity }),
      });
    }
    return createExporter<EventBatch>(set, {
      signal,
      countItems: (b) => b.events.length,
      push: async (b) => {
        log(() => formatEvents(b, verbosity));
      },
      timeout: 0,
      retry: { enabled: false },
      queue: { enabled: false },
      status: () => ({ verbosity }),
    });
  },
};
