/**
 * circonus: one factory type, two modes.
 * - `mode: push` (this file's push branch, issue 3): HTTPTrap PUT of JSON to
 *   the check's Data Submission URL every period, through the store helper.
 * - `mode: pull` (pull.ts, issue 10): the broker GETs JSON:Pull from the
 *   store's own listener at a secret URL, behind Basic auth (always on).
 */
import { tlsField, type TlsConfig } from '../../src/config/security.js';
import { defineExporter } from '../../src/component.js';
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { storeSchema, type StoreConfig } from '../../src/storehelper/config.js';
import { tokenField } from '../../src/pullstore/credentials.js';

export interface CirconusConfig extends StoreConfig {
  mode: 'push' | 'pull';
  /** push: the check's Data Submission URL (holds the secret) */
  submission_url?: string;
  /** push: PEM file of the broker's CA ('' = system CAs) */
  ca_file: string;
  /** pull: host:port of the store's own listener */
  endpoint: string;
  /** pull: '' = generated and kept in the state directory */
  token: string;
  username: string;
  password: string;
  /** pull: base URL the broker reaches the listener at ('' = http://<endpoint>) */
  external_url?: string;
  /** pull: serve HTTPS */
  tls?: TlsConfig;
  /** pull: ms between checkpoints of the running totals; 0 = off */
  checkpoint_interval: number;
}

export const circonusConfigSchema: Schema = {
  mode: {
    type: 'enum',
    values: ['push', 'pull'],
    default: 'push',
    doc: '"push": PUT JSON to the check\'s HTTPTrap Data Submission URL every period; "pull": the broker fetches JSON:Pull from metricport',
  },
  submission_url: {
    type: 'string',
    secret: true,
    pattern: /^https?:\/\/[^\s]+$/,
    patternHint: 'an http:// or https:// URL',
    doc: "push: the HTTPTrap check's Data Submission URL, e.g. https://broker:43191/module/httptrap/<check-uuid>/<secret> (secret: never logged or shown)",
  },
  ca_file: {
    type: 'string',
    default: '',
    doc: 'push: PEM file with the CA that signed the broker\'s certificate (Circonus brokers use Circonus\'s own CA); "" = system CAs',
  },
  endpoint: {
    type: 'endpoint',
    default: '127.0.0.1:9467',
    doc: 'pull: host:port the JSON:Pull endpoint listens on (its own listener; 0.0.0.0:9467 in a container)',
  },
  token: tokenField('pull: the secret path: the broker fetches /<token>'),
  username: {
    type: 'string',
    default: '',
    doc: 'pull: Basic auth username the broker sends (Basic auth is always on); empty = a random one generated on first start and kept in the state directory',
  },
  password: {
    type: 'string',
    default: '',
    secret: true,
    doc: 'pull: Basic auth password; empty = a random one generated on first start and kept in the state directory (shown only by `metricport stores --show-credentials`)',
  },
  external_url: {
    type: 'url',
    doc: 'pull: base URL the broker reaches the endpoint at, for the URL shown by the store status API (default http://<endpoint>, https://<endpoint> with tls)',
  },
  checkpoint_interval: {
    type: 'duration',
    default: '30s',
    doc: 'pull: how often the running totals are checkpointed in the state directory (running-totals.ckpt, written atomically; also at shutdown) and restored at start, so a restart continues every counter instead of resetting it; 0 = off (a restart is a counter reset)',
  },
  tls: { ...tlsField, doc: "pull: serve the JSON:Pull endpoint over HTTPS (the broker's check then uses an https:// URL); absent: plain HTTP" },
  ...storeSchema({ cumulativeDefault: 'cumulative' }),
};

export function validateCirconus(cfg: CirconusConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  if (cfg.mode !== 'pull' && cfg.tls !== undefined) {
    issues.push({
      path: 'tls',
      message: 'is for mode pull (the JSON:Pull listener); with mode push use an https:// submission_url and ca_file',
      severity: 'error',
    });
  }
  if (cfg.mode === 'pull') {
    if (cfg.submission_url !== undefined && cfg.submission_url !== '') {
      issues.push({
        path: 'submission_url',
        message: 'is for mode push; with mode pull the broker fetches from endpoint (remove it or set mode: push)',
        severity: 'error',
      });
    }
    return issues;
  }
  if (cfg.submission_url === undefined || cfg.submission_url === '') {
    issues.push({ path: 'submission_url', message: "is required with mode push (the check's Data Submission URL)", severity: 'error' });
  }
  return issues;
}

export const circonusExporterFactory = defineExporter<CirconusConfig>({
  type: 'circonus',
  description: 'Circonus: push (HTTPTrap PUT of typed JSON every period) or pull (JSON:Pull)',
  signals: ['metrics'],
  configSchema: circonusConfigSchema,
  validate: validateCirconus,
  load: async () => (await import('./exporter.js')).circonusImpl,
});
