/**
 * METRICPORT_RECORD_CONFIGS=<dir>: every config that loads without errors is
 * written there (its text as the file had it, before `${env:...}` expansion,
 * and the component types of the registry it loaded against). The test suite
 * sets it and checks, at the end, that each recorded config validates against
 * the JSON Schema (test/configscan.ts). Off unless the variable is set;
 * recording never makes loading fail.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RECORD_ENV = 'METRICPORT_RECORD_CONFIGS';
const MAX_RECORDS = 20_000;
let written = 0;

export interface RecordedConfig {
  file: string;
  /** the registry's component types, per section, sorted */
  types: Record<'receivers' | 'processors' | 'exporters', string[]>;
  text: string;
}

export function recordLoadedConfig(
  text: string,
  file: string,
  registry: { receivers: ReadonlyMap<string, unknown>; processors: ReadonlyMap<string, unknown>; exporters: ReadonlyMap<string, unknown> },
): void {
  const dir = process.env[RECORD_ENV];
  if (dir === undefined || dir === '' || written >= MAX_RECORDS) return;
  try {
    const types = {
      receivers: [...registry.receivers.keys()].sort(),
      processors: [...registry.processors.keys()].sort(),
      exporters: [...registry.exporters.keys()].sort(),
    };
    const rec: RecordedConfig = { file, types, text };
    // one file per distinct text and registry: the same config loaded again is not written twice
    const name = createHash('sha256')
      .update(JSON.stringify([types, text]))
      .digest('hex')
      .slice(0, 32);
    writeFileSync(join(dir, `${name}.json`), JSON.stringify(rec), { flag: 'wx' });
    written++;
  } catch {
    /* exists already, or the directory is gone: recording is best effort */
  }
}
