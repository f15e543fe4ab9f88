/**
 * circonus: one factory type, two modes.
 * - `mode: push` (this file's push branch, issue 3): HTTPTrap PUT of JSON to
 *   the check's Data Submission URL every period, through the store helper.
 * - `mode: pull` (issue 10, filled in by the JSON:Pull work): the broker GETs
 *   metricport each period. Until then, `validate` rejects it with
 *   "circonus mode pull: not yet available".
 */
import type { CreateSettings, Exporter, ExporterFactory, Signal } from '../../src/component.js';
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { storeSchema, type StoreConfig } from '../../src/storehelper/config.js';
import { createCirconusPush } from './push.js';

export interface CirconusConfig extends StoreConfig {
  mode: 'push' | 'pull';
  /** push: the check's Data Submission URL (holds the secret) */
  submission_url?: string;
  /** push: PEM file of the broker's CA ('' = system CAs) */
  ca_file: string;
}

export const circonusConfigSchema: Schema = {
  mode: { type: 'enum', values: ['push', 'pull'], default: 'push', doc: '"push": PUT JSON to the check\'s HTTPTrap Data Submission URL every period; "pull": the broker fetches JSON:Pull from metricport' },
  submission_url: {
    type: 'string',
    secret: true,
    pattern: /^https?:\/\/[^\s]+$/,
    patternHint: 'an http:// or https:// URL',
    doc: 'push: the HTTPTrap check\'s Data Submission URL, e.g. https://broker:43191/module/httptrap/<check-uuid>/<secret> (secret: never logged or shown)',
  },
  ca_file: { type: 'string', default: '', doc: 'push: PEM file with the CA that signed the broker\'s certificate (Circonus brokers use Circonus\'s own CA); "" = system CAs' },
  ...storeSchema({ cumulativeDefault: 'cumulative' }),
};

export function validateCirconus(cfg: CirconusConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (cfg.mode === 'pull') {
    issues.push({ path: 'mode', message: 'circonus mode pull: not yet available', severity: 'error' });
    return issues;
  }
  if (cfg.submission_url === undefined || cfg.submission_url === '') {
    issues.push({ path: 'submission_url', message: 'is required with mode push (the check\'s Data Submission URL)', severity: 'error' });
  }
  return issues;
}

export const circonusExporterFactory: ExporterFactory<CirconusConfig> = {
  kind: 'exporter',
  type: 'circonus',
  description: 'Circonus: push (HTTPTrap PUT of typed JSON every period) or pull (JSON:Pull)',
  signals: ['metrics'],
  configSchema: circonusConfigSchema,
  validate: validateCirconus,
  create(set: CreateSettings, cfg: CirconusConfig, signal: Signal): Exporter {
    if (signal !== 'metrics') throw new Error(`circonus exporter does not support the ${signal} signal`);
    if (cfg.mode === 'pull') throw new Error('circonus mode pull: not yet available');
    return createCirconusPush(set, cfg);
  },
};
