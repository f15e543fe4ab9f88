import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig, parseConfig } from '../../src/config/service-config.js';
import { ConfigError } from '../../src/errors.js';
import { parseBytes, parseDuration, redact, validateSchema } from '../../src/config/schema.js';
import { BYTES_CASES, DURATION_CASES, ENDPOINT_CASES } from './value-syntax.js';
import { fakeRegistry } from '../helpers/fakes.js';

const reg = fakeRegistry();

describe('config: service config', () => {
  it('applies defaults under user values and freezes the result', () => {
    const cfg = parseConfig(
      `
receivers:
  fakein: { limit: 9 }
exporters:
  fakeout: { url: "http://x:1" }
service:
  pipelines:
    metrics: { receivers: [fakein], exporters: [fakeout] }
`,
      'c.yaml',
      reg,
      {},
    );
    const r = cfg.receivers.get('fakein')!;
    expect(r.config).to.deep.equal({ endpoint: '127.0.0.1:1', limit: 9 });
    expect(Object.isFrozen(r.config)).to.equal(true);
    expect(cfg.exporters.get('fakeout')!.config.period).to.equal(60_000);
    expect(cfg.pipelines).to.have.length(1);
    expect(cfg.pipelines[0]!.signal).to.equal('metrics');
  });

  it('expands ${env:NAME} and ${env:NAME:-default}, re-reading whole values as scalars', () => {
    const cfg = parseConfig(
      `
receivers:
  fakein: { endpoint: "\${env:EP:-127.0.0.1:9}", limit: "\${env:LIMIT}" }
exporters:
  fakeout: { url: "http://\${env:HOST}:1/x", api_key: "a$$b\${env:KEY}", period: "5s" }
service:
  pipelines:
    metrics: { receivers: [fakein], exporters: [fakeout] }
`,
      'c.yaml',
      reg,
      { LIMIT: '42', HOST: 'h', KEY: 'sekrit' } as NodeJS.ProcessEnv,
    );
    expect(cfg.receivers.get('fakein')!.config).to.deep.equal({ endpoint: '127.0.0.1:9', limit: 42 });
    expect(cfg.exporters.get('fakeout')!.config.url).to.equal('http://h:1/x');
    expect(cfg.exporters.get('fakeout')!.config.api_key).to.equal('a$bsekrit');
    expect(cfg.exporters.get('fakeout')!.config.period).to.equal(5000);
    expect(cfg.exporters.get('fakeout')!.config.api_key).to.equal('a$bsekrit');
    expect(cfg.exporters.get('fakeout')!.config.period).to.equal(5000);
  });

  it('expands ${file:PATH} (relative to the config file, trailing newline dropped); a missing file is an error at its key path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-fileref-'));
    try {
      mkdirSync(join(dir, 'secrets'));
      writeFileSync(join(dir, 'secrets', 'key'), 'from-a-file\n', { mode: 0o600 });
      const yaml = (ref: string) => `
receivers:
  fakein: { endpoint: "127.0.0.1:9" }
exporters:
  fakeout: { url: "http://h:1/x", api_key: "\${file:${ref}}", period: "5s" }
service:
  pipelines:
    metrics: { receivers: [fakein], exporters: [fakeout] }
`;
      const cfg = parseConfig(yaml('secrets/key'), join(dir, 'c.yaml'), reg, {} as NodeJS.ProcessEnv);
      expect(cfg.exporters.get('fakeout')!.config.api_key).to.equal('from-a-file');
      const abs = parseConfig(yaml(join(dir, 'secrets', 'key')), '/elsewhere/c.yaml', reg, {} as NodeJS.ProcessEnv);
      expect(abs.exporters.get('fakeout')!.config.api_key).to.equal('from-a-file');
      const { issues } = checkConfig(yaml('secrets/gone'), join(dir, 'c.yaml'), reg, {} as NodeJS.ProcessEnv);
      const e = issues.filter((i) => i.severity === 'error');
      expect(e).to.have.length(1);
      expect(e[0]!.path).to.equal('exporters.fakeout.api_key');
      expect(e[0]!.message).to.match(/cannot read secrets\/gone \(referenced as \$\{file:secrets\/gone\}\): ENOENT/);
      expect(e[0]!.line).to.equal(5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports every error at once, each with key path, line and column', () => {
    const text = [
      'receivers:', // 1
      '  fakein:', // 2
      '    endpont: 127.0.0.1:5', // 3 unknown key (typo)
      '    limit: 0', // 4 below min
      'exporters:', // 5
      '  fakeout:', // 6
      '    url: "ftp://x"', // 7 bad scheme
      '    api_key: ${env:NOPE_NOT_SET}', // 8 env not set
      'service:', // 9
      '  pipelines:', // 10
      '    metrics:', // 11
      '      receivers: [fakein, nosuch]', // 12 undefined receiver
      '      exporters: [fakeout]', // 13
    ].join('\n');
    const { issues } = checkConfig(text, 'bad.yaml', reg, {});
    const errors = issues.filter((i) => i.severity === 'error');
    const byPath = Object.fromEntries(errors.map((e) => [e.path, e]));
    expect(errors.map((e) => e.path).sort()).to.deep.equal([
      'exporters.fakeout.api_key',
      'exporters.fakeout.url',
      'receivers.fakein.endpont',
      'receivers.fakein.limit',
      'service.pipelines.metrics.receivers[1]',
    ]);
    expect(byPath['receivers.fakein.endpont']!.message).to.match(/did you mean "endpoint"/);
    expect(byPath['receivers.fakein.endpont']).to.include({ line: 3, column: 5, file: 'bad.yaml' });
    expect(byPath['receivers.fakein.limit']).to.include({ line: 4 });
    expect(byPath['exporters.fakeout.url']).to.include({ line: 7 });
    expect(byPath['exporters.fakeout.api_key']!.message).to.match(/NOPE_NOT_SET is not set/);
    expect(byPath['exporters.fakeout.api_key']).to.include({ line: 8 });
    expect(byPath['service.pipelines.metrics.receivers[1]']).to.include({ line: 12 });
    expect(() => parseConfig(text, 'bad.yaml', reg, {})).to.throw(ConfigError, /5 errors/);
  });

  it('type-checks pipelines across a signal-changing processor', () => {
    const ok = checkConfig(
      `
receivers: { evin: {} }
processors: { tometrics: {} }
exporters: { fakeout: { url: "http://x" } }
service:
  pipelines:
    errors: { receivers: [evin], processors: [tometrics], exporters: [fakeout] }
`,
      'c.yaml',
      reg,
      {},
    );
    expect(ok.issues.filter((i) => i.severity === 'error')).to.deep.equal([]);
    expect(ok.config!.pipelines[0]).to.include({ signal: 'events', outSignal: 'metrics' });

    const bad = checkConfig(
      `
receivers: { evin: {} }
exporters: { fakeout: { url: "http://x" } }
service:
  pipelines:
    events: { receivers: [evin], exporters: [fakeout] }
`,
      'c.yaml',
      reg,
      {},
    );
    const e = bad.issues.filter((i) => i.severity === 'error');
    expect(e).to.have.length(1);
    expect(e[0]!.path).to.equal('service.pipelines.events.exporters[0]');
    expect(e[0]!.message).to.match(/does not accept events/);
  });

  it('warns about unused components and rejects unknown types and top-level keys', () => {
    const r = checkConfig(
      `
receivers: { fakein: {}, "fakein/spare": {}, nosuchtype: {} }
exporters: { fakeout: { url: "http://x" } }
extensions: {}
service:
  pipelines:
    metrics: { receivers: [fakein], exporters: [fakeout] }
`,
      'c.yaml',
      reg,
      {},
    );
    const warn = r.issues.filter((i) => i.severity === 'warning').map((i) => i.path);
    expect(warn).to.deep.equal(['receivers.fakein/spare']);
    const errs = r.issues.filter((i) => i.severity === 'error');
    expect(errs.map((i) => i.path).sort()).to.deep.equal(['extensions', 'receivers.nosuchtype']);
    expect(errs.find((i) => i.path === 'receivers.nosuchtype')!.message).to.match(/available: evin, fakein/);
  });

  it('reports YAML syntax errors with a line', () => {
    const r = checkConfig('receivers:\n  a: [1, 2\n', 'c.yaml', reg, {});
    expect(r.issues[0]!.severity).to.equal('error');
    expect(r.issues[0]!.line).to.be.a('number');
    expect(r.issues[0]!.message).to.match(/^YAML/);
  });

  it('requires a service section with pipelines', () => {
    const r = checkConfig('receivers: { fakein: {} }\n', 'c.yaml', reg, {});
    expect(r.issues.some((i) => i.path === 'service' && i.severity === 'error')).to.equal(true);
  });
});

describe('config: schema values', () => {
  it('parses durations and sizes', () => {
    expect(parseDuration('1h30m')).to.equal(5_400_000);
    expect(parseDuration(5)).to.equal(5000);
    expect(parseDuration('soon')).to.equal(undefined);
    expect(parseBytes('64MiB')).to.equal(64 * 1024 * 1024);
    expect(parseBytes('lots')).to.equal(undefined);
  });

  it('takes durations, sizes and endpoints as the table says (the table the JSON Schema test shares)', () => {
    const take = (type: 'duration' | 'bytes' | 'endpoint', input: unknown) => validateSchema({ v: { type, doc: 'v' } }, { v: input }, '');
    for (const [type, cases] of [
      ['duration', DURATION_CASES],
      ['bytes', BYTES_CASES],
    ] as const) {
      for (const [input, want] of cases) {
        const r = take(type, input);
        if (want === undefined) expect(r.issues, `${type} ${JSON.stringify(input)} is rejected`).to.have.length(1);
        else {
          expect(r.issues, `${type} ${JSON.stringify(input)}`).to.deep.equal([]);
          expect(r.value.v as number, `${type} ${JSON.stringify(input)}`).to.be.closeTo(want, 1e-12);
        }
      }
    }
    for (const [input, ok] of ENDPOINT_CASES) expect(take('endpoint', input).issues.length === 0, `endpoint ${JSON.stringify(input)}`).to.equal(ok);
  });

  it('redacts secrets', () => {
    const schema = {
      api_key: { type: 'string', secret: true, doc: 'k' },
      headers: { type: 'map', values: { type: 'string', doc: 'v' }, secretValues: true, doc: 'h' },
      name: { type: 'string', doc: 'n' },
    } as const;
    const v = validateSchema(schema as never, { api_key: 'abc', headers: { Authorization: 'Bearer x' }, name: 'n' }, '').value;
    expect(redact(schema as never, v)).to.deep.equal({ api_key: '[REDACTED]', headers: { Authorization: '[REDACTED]' }, name: 'n' });
  });
});
