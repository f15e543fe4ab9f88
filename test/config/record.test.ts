/**
 * METRICPORT_RECORD_CONFIGS (src/config/record.ts) and the suite-wide check
 * built on it (test/configscan.ts): loaded configs are recorded once each,
 * broken ones never, and the scan rejects a recorded config the schema does
 * not accept while it leaves configs of test registries alone.
 */
import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RECORD_ENV, recordLoadedConfig, type RecordedConfig } from '../../src/config/record.js';
import { checkConfig } from '../../src/config/service-config.js';
import { registry } from '../../src/registry.js';
import { scanRecordedConfigs } from '../configscan.js';
import { fakeRegistry } from '../helpers/fakes.js';

describe('config: recording loaded configs for the schema scan', () => {
  let dir: string;
  let saved: string | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mp-rec-'));
    saved = process.env[RECORD_ENV];
    process.env[RECORD_ENV] = dir;
  });
  afterEach(() => {
    process.env[RECORD_ENV] = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  const good = 'receivers: { otlp: }\nexporters: { debug: }\nservice: { pipelines: { metrics: { receivers: [otlp], exporters: [debug] } } }\n';

  it("records a config that loads, once, with its text before env expansion and the registry's types", () => {
    const text = good.replace('debug: }', 'debug: { verbosity: "${env:V:-basic}" } }');
    expect(checkConfig(text, 'a.yaml', registry, {}).issues.filter((i) => i.severity === 'error')).to.deep.equal([]);
    checkConfig(text, 'a.yaml', registry, {});
    const files = readdirSync(dir);
    expect(files).to.have.length(1);
    const rec = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as RecordedConfig;
    expect(rec).to.deep.include({ file: 'a.yaml', text });
    expect(rec.types.exporters).to.include('influxdb');
  });

  it('does not record a config with errors, nor anything when the variable is unset', () => {
    checkConfig(good.replace('debug: }', 'debugg: }'), 'b.yaml', registry, {});
    expect(readdirSync(dir)).to.deep.equal([]);
    delete process.env[RECORD_ENV];
    recordLoadedConfig(good, 'c.yaml', registry);
    expect(readdirSync(dir)).to.deep.equal([]);
  });

  it('the scan validates configs of the real registry, lists the ones the schema rejects, and skips test registries', () => {
    checkConfig(good, 'ok.yaml', registry, {});
    recordLoadedConfig('receivers: { fakein: {} }\n', 'fake.yaml', fakeRegistry());
    // a record the schema rejects (the loader never records such a one; written by hand to see the scan fail)
    const bad: RecordedConfig = {
      file: 'bad.yaml',
      types: JSON.parse(
        readFileSync(
          join(
            dir,
            readdirSync(dir).find((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')).file === 'ok.yaml')!,
          ),
          'utf8',
        ),
      ).types,
      text: good.replace('debug: }', 'debug: { verbosity: loud } }'),
    };
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(bad));
    const res = scanRecordedConfigs(dir);
    expect(res.checked).to.equal(2);
    expect(res.otherRegistries).to.equal(1);
    expect(res.rejected).to.have.length(1);
    expect(res.rejected[0]).to.match(/^bad\.yaml .*exporters\.debug\.verbosity/);
  });
});
