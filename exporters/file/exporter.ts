/**
 * The file exporter (the implementation its factory loads): one shared writer
 * per path, a JSON line per batch.
 */
import { resolve } from 'node:path';
import type { ExporterImpl } from '../../src/component.js';
import { createExporter } from '../../src/exporterhelper/exporter.js';
import { PermanentSendError, RetryableSendError } from '../../src/exporterhelper/retry.js';
import { countPoints, type EventBatch, type MetricsBatch } from '../../src/model/index.js';
import { encodeMetricsJson } from '../../src/otlp/json.js';
import { encodeEventsJson } from './events-json.js';
import type { FileExporterConfig } from './factory.js';
import { acquireWriter } from './writer.js';

/** What the factory's load() returns. */
export const fileImpl: ExporterImpl<FileExporterConfig> = {
  create(set, cfg, signal) {
    const { writer, release } = acquireWriter(resolve(cfg.path), {
      path: cfg.path,
      maxBytes: Math.floor((cfg.rotation?.max_megabytes ?? 100) * 1024 * 1024),
      maxBackups: cfg.rotation?.max_backups ?? 3,
      syncIntervalMs: cfg.flush_interval ?? 1000,
      onError: (e) => set.logger.warn({ error: (e as { code?: string }).code ?? (e as Error).name }, 'file exporter: fsync failed'),
    });
    const append = async (encode: () => string): Promise<void> => {
      if (!writer.isOpen) throw new RetryableSendError('file exporter is not started', { reason: 'not_started' });
      let line: string;
      try {
        line = encode();
      } catch (e) {
        throw new PermanentSendError(`cannot encode batch as JSON: ${(e as Error).name}`, { reason: 'encode', cause: e });
      }
      try {
        await writer.write(Buffer.from(line + '\n', 'utf8'));
      } catch (e) {
        const { code, detail } = e as { code?: unknown; detail?: unknown };
        const why = typeof code === 'string' ? `: ${code}${typeof detail === 'string' ? ` (${detail})` : ''}` : '';
        throw new RetryableSendError(`cannot write to ${cfg.path}${why}`, { reason: typeof code === 'string' ? code.toLowerCase() : 'write', cause: e });
      }
    };
    const common = {
      signal,
      timeout: 0,
      retry: { enabled: false },
      queue: { enabled: false },
      start: async () => {
        await writer.open();
      },
      shutdown: async () => {
        await release();
      },
      status: () => ({ path: cfg.path, file: writer.stats() }),
    };
    if (signal === 'metrics') {
      return createExporter<MetricsBatch>(set, { ...common, countItems: countPoints, push: (b) => append(() => encodeMetricsJson(b)) });
    }
    return createExporter<EventBatch>(set, { ...common, countItems: (b) => b.events.length, push: (b) => append(() => encodeEventsJson(b)) });
  },
};
