/** Helpers for importer tests: a recording consumer, configs through the real schema, TLS for Postgres. */
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Consumer } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/logger.js';
import type { MetricsBatch, NumberDataPoint } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { importerConfigSchema, validateImporterConfig, type ImporterReceiverConfig } from '../../../receivers/importer/config.js';
import { ImporterReceiver } from '../../../receivers/importer/receiver.js';
import type { PostgresPeer } from '../../harness/peers.js';

export interface Row {
  metric: string;
  value: number;
  timeMs: number;
  attributes: Record<string, unknown>;
  scope: Record<string, unknown>;
}

/** A consumer that records every point (and can be told to refuse). */
export class Recorder implements Consumer<MetricsBatch> {
  rows: Row[] = [];
  batches = 0;
  refuse: Error | undefined;
  async consume(b: MetricsBatch): Promise<void> {
    if (this.refuse) throw this.refuse;
    this.batches++;
    for (const rm of b.resourceMetrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics) {
          for (const p of m.points as NumberDataPoint[])
            this.rows.push({
              metric: m.name,
              value: Number(p.value),
              timeMs: Number(p.timeUnixNano / 1_000_000n),
              attributes: p.attributes,
              scope: sm.scope.attributes,
            });
        }
  }
  sum(filter: (r: Row) => boolean = () => true): number {
    return this.rows.filter(filter).reduce((a, r) => a + r.value, 0);
  }
}

/** Validate a raw config with the real schema and validate(); throws on any issue. */
export function importerConfig(raw: Record<string, unknown>): ImporterReceiverConfig {
  const res = validateSchema(importerConfigSchema, raw, '');
  const issues = [...res.issues, ...validateImporterConfig(res.value as unknown as ImporterReceiverConfig)].filter((i) => i.severity === 'error');
  if (issues.length > 0) throw new Error(issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  return res.value as unknown as ImporterReceiverConfig;
}

export function configIssues(raw: Record<string, unknown>): string[] {
  const res = validateSchema(importerConfigSchema, raw, '');
  if (res.issues.length > 0) return res.issues.map((i) => `${i.path}: ${i.message}`);
  return validateImporterConfig(res.value as unknown as ImporterReceiverConfig).map((i) => `${i.path}: ${i.message}`);
}

export function newReceiver(raw: Record<string, unknown>, stateDir: string, rec: Recorder, id = 'importer', random = () => 0.5): ImporterReceiver {
  const telemetry = new ServiceTelemetry();
  return new ImporterReceiver({ id, logger: silentLogger(), telemetry, stateDir }, importerConfig(raw), { metrics: rec }, undefined, random);
}

export function tempDir(prefix = 'mp-imp-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function readWatermark(stateDir: string, importer: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(join(stateDir, `watermark-${importer}.json`), 'utf8')) as { watermark_ms: number }).watermark_ms;
  } catch {
    return undefined;
  }
}

/**
 * Turn TLS on in our own Postgres cluster: a self-signed certificate for
 * 127.0.0.1 in the data directory, ssl = on, reload. Returns the CA (= cert) file.
 */
export async function enablePostgresTls(pgPeer: PostgresPeer): Promise<string> {
  if (pgPeer.dir === undefined) throw new Error('TLS needs our own cluster (startPostgres({ own: true }))');
  const data = join(pgPeer.dir, 'data');
  const crt = join(data, 'server.crt');
  const key = join(data, 'server.key');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      crt,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  const owner = statSync(data);
  chownSync(crt, owner.uid, owner.gid);
  chownSync(key, owner.uid, owner.gid);
  execFileSync('chmod', ['600', key]);
  await pgPeer.psql(`ALTER SYSTEM SET ssl = on`);
  await pgPeer.psql(`SELECT pg_reload_conf()`);
  const ca = join(tmpdir(), `mp-pg-ca-${process.pid}-${Date.now()}.pem`);
  writeFileSync(ca, readFileSync(crt));
  return ca;
}
