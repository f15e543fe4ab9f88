/**
 * graphite: Carbon plaintext over TCP every period (protocols.md §3), through
 * the store helper (period accumulator, queue, retries with backoff, status).
 */
import { defineExporter } from '../../src/component.js';
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { storeSchema, type StoreConfig } from '../../src/storehelper/config.js';

export interface GraphiteConfig extends StoreConfig {
  host: string;
  port: number;
  prefix: string;
  tag_mode: 'tags' | 'path';
  template: string;
}

const graphiteConfigSchema: Schema = {
  host: { type: 'string', default: '127.0.0.1', nonEmpty: true, doc: 'carbon (carbon-cache, carbon-relay, go-carbon, VictoriaMetrics…) host' },
  port: { type: 'int', default: 2003, min: 1, max: 65535, doc: 'Carbon plaintext TCP port' },
  prefix: { type: 'string', default: '', doc: 'dotted prefix put before every metric path, e.g. "metricport.prod" ("" = none)' },
  tag_mode: {
    type: 'enum',
    values: ['tags', 'path'],
    default: 'tags',
    doc: '"tags": Graphite ≥ 1.1 tags `name;k=v` (sorted); "path": tags folded into the path by `template`',
  },
  template: {
    type: 'string',
    default: '{name}.{tags}',
    doc: 'tag_mode path: the path; `{name}` the metric name, `{<key>}` one tag\'s value ("unknown" when absent), `{tags}` every other tag as key.value, sorted by key',
  },
  ...storeSchema({ cumulativeDefault: 'delta' }),
};

function validateGraphite(cfg: GraphiteConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (cfg.tag_mode === 'path' && !cfg.template.includes('{name}')) issues.push({ path: 'template', message: 'must contain {name}', severity: 'error' });
  if (/\s/.test(cfg.prefix)) issues.push({ path: 'prefix', message: 'must not contain whitespace', severity: 'error' });
  return issues;
}

export const graphiteExporterFactory = defineExporter<GraphiteConfig>({
  type: 'graphite',
  description: 'Graphite/Carbon plaintext over TCP every period (tags or path templates), with reconnect and retries',
  signals: ['metrics'],
  configSchema: graphiteConfigSchema,
  validate: validateGraphite,
  load: async () => (await import('./exporter.js')).graphiteImpl,
});
