/**
 * file: appends batches as JSON lines to a file, rotating by size.
 *
 * Metrics: one OTLP/JSON ExportMetricsServiceRequest per line. Events: one
 * `{"events":[{"timeUnixNano":"…","attributes":{…}}]}` per line.
 *
 * consume() resolves once the line has been handed to the OS (written into
 * the file, not held in a memory buffer); `flush_interval` is how often the
 * file is fsync'd to disk. Shutdown writes whatever is pending, fsyncs and
 * closes, so a graceful stop loses nothing. Lines keep the order of consume().
 */
import { resolve } from 'node:path';
import type { CreateSettings, Exporter, ExporterFactory, Signal } from '../../src/component.js';
import type { ConfigIssue } from '../../src/errors.js';
import { createExporter } from '../../src/exporterhelper/exporter.js';
import { PermanentSendError, RetryableSendError } from '../../src/exporterhelper/retry.js';
import type { EventBatch, MetricsBatch } from '../../src/model/index.js';
import { countPoints } from '../../src/model/index.js';
import { encodeMetricsJson } from '../../src/otlp/json.js';
import { encodeEventsJson } from './events-json.js';
import { acquireWriter } from './writer.js';

export interface FileExporterConfig {
  path: string;
  format: 'json';
  rotation: { max_megabytes: number; max_backups: number };
  /** milliseconds */
  flush_interval: number;
}

export const fileExporterFactory: ExporterFactory<FileExporterConfig> = {
  kind: 'exporter',
  type: 'file',
  description: 'Appends metrics (OTLP JSON) and events as JSON lines to a file, rotating by size',
  signals: ['metrics', 'events'],
  configSchema: {
    path: { type: 'string', required: true, nonEmpty: true, doc: 'file to append to (directories are created); rotated copies are <path>.1, <path>.2, …' },
    format: { type: 'enum', values: ['json'], default: 'json', doc: 'json: metrics as one OTLP/JSON ExportMetricsServiceRequest per line; events as one {"events":[…]} object per line' },
    rotation: {
      type: 'object',
      doc: 'size-based rotation',
      fields: {
        max_megabytes: { type: 'number', default: 100, min: 0, doc: 'rotate before the file would grow past this many megabytes (MiB); 0 = never rotate' },
        max_backups: { type: 'int', default: 3, min: 0, doc: 'rotated files to keep (<path>.1 is the newest); older ones are deleted; 0 = keep none' },
      },
    },
    flush_interval: {
      type: 'duration',
      default: '1s',
      doc: 'how often written lines are fsync\'d to disk (each line reaches the OS before consume() returns); 0 = fsync after every write',
    },
  },
  validate(cfg: FileExporterConfig): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    if (typeof cfg.path === 'string' && /[\\/]$/.test(cfg.path)) {
      issues.push({ path: 'path', message: 'must name a file, not a directory', severity: 'error' });
    }
    return issues;
  },
  create(set: CreateSettings, cfg: FileExporterConfig, signal: Signal): Exporter {
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
      try { line = encode(); } catch (e) { throw new PermanentSendError(`cannot encode batch as JSON: ${(e as Error).name}`, { reason: 'encode', cause: e }); }
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
      start: async () => { await writer.open(); },
      shutdown: async () => { await release(); },
      status: () => ({ path: cfg.path, file: writer.stats() }),
    };
    if (signal === 'metrics') {
      return createExporter<MetricsBatch>(set, { ...common, countItems: countPoints, push: (b) => append(() => encodeMetricsJson(b)) });
    }
    return createExporter<EventBatch>(set, { ...common, countItems: (b) => b.events.length, push: (b) => append(() => encodeEventsJson(b)) });
  },
};
