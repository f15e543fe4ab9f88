/** config/examples/forge.yaml validates (Forge → Prometheus and Datadog), and the CLI's forge verb rejects bad arguments precisely. */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkConfig } from '../../../src/config/service-config.js';
import { registry } from '../../../src/registry.js';
import { parseForgeArgs } from '../../../receivers/forge/pull.js';
import { ROOT } from '../../e2e/metricport.js';

describe('forge example config and CLI arguments', () => {
  it('config/examples/forge.yaml (Forge → Prometheus and Datadog) is valid with no warnings, with and without its env vars', () => {
    const file = join(ROOT, 'config/examples/forge.yaml');
    const text = readFileSync(file, 'utf8');
    const asIs = checkConfig(text, file, registry, {});
    expect(asIs.issues).to.deep.equal([]);
    expect(asIs.config!.receivers.get('forge')!.config).to.deep.include({
      api_token: 'unset',
      email: 'owner@example.com',
      interval: 300_000,
      history: 3_600_000,
    });
    const { config, issues } = checkConfig(text, file, registry, { FORGE_API_TOKEN: 't', DD_API_KEY: 'k' });
    expect(issues).to.deep.equal([]);
    expect([...config!.receivers.keys()]).to.deep.equal(['forge', 'otlp']);
    expect([...config!.exporters.keys()]).to.deep.equal(['prometheus', 'datadog']);
    expect(config!.pipelines[0]!.exporters).to.deep.equal(['prometheus', 'datadog']);
    expect(config!.receivers.get('forge')!.config).to.deep.include({ api_token: 't' });
  });

  it('forge pull arguments', () => {
    expect(parseForgeArgs(['pull', '--config', 'f.yaml', '--since', '2h', '--post', 'http://127.0.0.1:4318/v1/metrics'])).to.deep.equal({
      flags: ['--config', 'f.yaml'],
      sinceMs: 7_200_000,
      postUrl: 'http://127.0.0.1:4318/v1/metrics',
    });
    expect(parseForgeArgs(['pull', '--since=15d']).error).to.equal('--since: at most 14d (the API keeps 14 days), got "15d"');
    expect(parseForgeArgs(['pull', '--since', 'soon']).error).to.equal('--since: expected a duration like "2h" or "30m", got "soon"');
    expect(parseForgeArgs(['pull', '--post', 'ftp://x']).error).to.equal('--post: expected an http:// or https:// URL, got "ftp://x"');
    expect(parseForgeArgs(['push']).error).to.equal('unknown forge command "push" (commands: pull)');
    expect(parseForgeArgs(['pull', '--bogus', '1']).error).to.equal('unknown flag --bogus for forge pull');
    expect(parseForgeArgs([]).help).to.equal(true);
  });
});
