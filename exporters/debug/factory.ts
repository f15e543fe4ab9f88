/**
 * debug: writes what it receives to the service log (the Collector's debug
 * exporter). Synchronous: no queue, no retries.
 */
import type { CreateSettings, Exporter, ExporterFactory, Signal } from '../../src/component.js';
import { createExporter } from '../../src/exporterhelper/exporter.js';
import { PermanentSendError } from '../../src/exporterhelper/retry.js';
import type { EventBatch, MetricsBatch } from '../../src/model/index.js';
import { countPoints } from '../../src/model/index.js';
import { formatEvents, formatMetrics, VERBOSITIES, type LogEntry, type Verbosity } from './debug.js';

export interface DebugExporterConfig {
  verbosity: Verbosity;
}

export const debugExporterFactory: ExporterFactory<DebugExporterConfig> = {
  kind: 'exporter',
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
  create(set: CreateSettings, cfg: DebugExporterConfig, signal: Signal): Exporter {
    const verbosity: Verbosity = cfg.verbosity ?? 'basic';
    const log = (format: () => LogEntry[]): void => {
      let entries: LogEntry[];
      try { entries = format(); } catch (e) { throw new PermanentSendError(`cannot format batch: ${(e as Error).name}`, { reason: 'format', cause: e }); }
      for (const e of entries) set.logger.info(e.fields, e.msg);
    };
    if (signal === 'metrics') {
      return createExporter<MetricsBatch>(set, {
        signal,
        countItems: countPoints,
        push: async (b) => { log(() => formatMetrics(b, verbosity)); },
        timeout: 0,
        retry: { enabled: false },
        queue: { enabled: false },
        status: () => ({ verbosity }),
      });
    }
    return createExporter<EventBatch>(set, {
      signal,
      countItems: (b) => b.events.length,
      push: async (b) => { log(() => formatEvents(b, verbosity)); },
      timeout: 0,
      retry: { enabled: false },
      queue: { enabled: false },
      status: () => ({ verbosity }),
    });
  },
};
