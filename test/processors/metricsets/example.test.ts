import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkConfig } from '../../../src/config/service-config.js';
import { packageRoot } from '../../../src/paths.js';
import { registry } from '../../../src/registry.js';

describe('config/examples/backtrace-metric-export.yaml', () => {
  it("has the seed's four common metrics and ProjectXErrorsAndImpactedUsers, and validates (influxdb once that store is registered)", () => {
    const file = join(packageRoot(), 'config/examples/backtrace-metric-export.yaml');
    const { config, issues } = checkConfig(readFileSync(file, 'utf8'), file, registry, {});
    const errors = issues.filter((i) => i.severity === 'error').map((i) => `${i.path}: ${i.message}`);
    if (registry.exporters.has('influxdb')) {
      expect(errors).to.deep.equal([]);
      const sets = (config!.processors.get('metricsets')!.config as { sets: Array<{ name: string; metrics: Array<{ name: string }> }> }).sets;
      expect(sets.map((s) => [s.name, s.metrics.map((m) => m.name)])).to.deep.equal([
        ['Common', ['NumberOfErrors', 'ErrorsAndImpactedUsers', 'ErrorsByFingerprint', 'ErrorsAndImpactedUsersByVersion']],
        ['ProjectXErrorsAndImpactedUsers', ['AllErrors2', 'ErrorsByTypeWithImpactedUsers', 'UsersImpacted', 'UsersImpactedPerFingerprint']],
      ]);
    } else {
      // the influxdb store is not registered yet: the only errors are about it
      expect(errors.length).to.equal(2);
      for (const e of errors) expect(e).to.contain('influxdb');
    }
  });
});
