/**
 * Every config the test suite loads validates against the JSON Schema (a
 * mocha root hook plugin, registered in .mocharc.json `require`).
 *
 * Loading it sets METRICPORT_RECORD_CONFIGS to a fresh temp dir: from then on
 * every config that loads without errors, in this process (unit tests calling
 * parseConfig/checkConfig) or in a child the suite starts (the e2e tests'
 * metricport processes inherit the variable), is recorded there
 * (src/config/record.ts). The root `afterAll` validates each recorded config
 * that was loaded against the real registry (configs of tests' fake
 * registries name other component types) with ajv, as an editor would read
 * the file, and fails listing every config the schema rejects.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORD_ENV, type RecordedConfig } from '../src/config/record.js';
import { registry } from '../src/registry.js';
import { describeErrors, validateYamlText } from './helpers/jsonschema.js';

const given = process.env[RECORD_ENV];
const dir = given !== undefined && given !== '' ? given : mkdtempSync(join(tmpdir(), 'mp-configs-'));
mkdirSync(dir, { recursive: true });
process.env[RECORD_ENV] = dir;

const realTypes = JSON.stringify({
  receivers: [...registry.receivers.keys()].sort(),
  processors: [...registry.processors.keys()].sort(),
  exporters: [...registry.exporters.keys()].sort(),
});

export interface ConfigScanResult {
  checked: number;
  otherRegistries: number;
  rejected: string[];
}

/** Validate every recorded config of the real registry. */
export function scanRecordedConfigs(from = dir): ConfigScanResult {
  const res: ConfigScanResult = { checked: 0, otherRegistries: 0, rejected: [] };
  for (const name of readdirSync(from)
    .filter((n) => n.endsWith('.json'))
    .sort()) {
    let rec: RecordedConfig;
    try {
      rec = JSON.parse(readFileSync(join(from, name), 'utf8')) as RecordedConfig;
    } catch {
      continue; /* being written by a child that is still running */
    }
    if (JSON.stringify(rec.types) !== realTypes) {
      res.otherRegistries++;
      continue;
    }
    res.checked++;
    const r = validateYamlText(rec.text);
    if (!r.ok) res.rejected.push(`${rec.file} (${join(from, name)}): ${describeErrors(r.errors)}`);
  }
  return res;
}

export const mochaHooks = {
  afterAll(): void {
    const res = scanRecordedConfigs();
    process.stderr.write(
      `[configscan] ${res.checked} distinct config(s) loaded by the tests validate${res.rejected.length > 0 ? ` — ${res.rejected.length} do NOT` : ''} against the JSON Schema (${res.otherRegistries} of test registries not checked)\n`,
    );
    if (res.rejected.length > 0) {
      throw new Error(
        `config scan: ${res.rejected.length} config(s) the loader accepted are rejected by the JSON Schema (docs/metricport.schema.json):\n  ${res.rejected.slice(0, 20).join('\n  ')}`,
      );
    }
    if (given === undefined || given === '') rmSync(dir, { recursive: true, force: true });
  },
};
