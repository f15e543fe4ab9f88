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
import { defineExporter } from '../../src/component.js';
import type { ConfigIssue } from '../../src/errors.js';

export interface FileExporterConfig {
  path: string;
  format: 'json';
  rotation: { max_megabytes: number; max_backups: number };
  /** milliseconds */
  flush_interval: number;
}

export const fileExporterFactory = defineExporter<FileExporterConfig>({
  type: 'file',
  description: 'Appends metrics (OTLP JSON) and events as JSON lines to a file, rotating by size',
  signals: ['metrics', 'events'],
  configSchema: {
    path: { type: 'string', required: true, nonEmpty: true, doc: 'file to append to (directories are created); rotated copies are <path>.1, <path>.2, …' },
    format: {
      type: 'enum',
      values: ['json'],
      default: 'json',
      doc: 'json: metrics as one OTLP/JSON ExportMetricsServiceRequest per line; events as one {"events":[…]} object per line',
    },
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
      doc: "how often written lines are fsync'd to disk (each line reaches the OS before consume() returns); 0 = fsync after every write",
    },
  },
  validate(cfg: FileExporterConfig): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    if (typeof cfg.path === 'string' && /[\\/]$/.test(cfg.path)) {
      issues.push({ path: 'path', message: 'must name a file, not a directory', severity: 'error' });
    }
    return issues;
  },
  load: async () => (await import('./exporter.js')).fileImpl,
});
