/**
 * Editor support end to end: the real yaml-language-server (the server behind
 * VS Code's YAML extension and others), started over stdio and driven as an
 * editor drives it, on config files that carry the
 * `# yaml-language-server: $schema=...` line pointing at the committed
 * docs/metricport.schema.json.
 */
import { expect } from 'chai';
import { createRequire } from 'node:module';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fieldJsonSchema } from '../../src/config/jsonschema.js';
import { packageRoot } from '../../src/paths.js';
import { registry } from '../../src/registry.js';
import { docText, LspClient } from '../helpers/lsp.js';

const root = packageRoot();
const SCHEMA = join(root, 'docs/metricport.schema.json');
const serverBin = () => {
  const pkg = createRequire(import.meta.url).resolve('yaml-language-server/package.json');
  return join(dirname(pkg), 'bin', 'yaml-language-server');
};

describe('e2e: yaml-language-server with the metricport schema', function () {
  this.timeout(60_000);
  let ls: LspClient;
  let dir: string;
  const settings = { yaml: { validate: true, completion: true, hover: true, schemaStore: { enable: false }, format: { enable: false } } };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mp-yamlls-'));
    ls = new LspClient(process.execPath, [serverBin(), '--stdio'], settings);
    const caps = await ls.initialize(pathToFileURL(dir).href);
    expect(caps).to.have.property('completionProvider');
  });
  after(async () => {
    const code = await ls?.stop();
    rmSync(dir, { recursive: true, force: true });
    expect(code, 'the server exits 0 after shutdown/exit').to.equal(0);
  });

  let n = 0;
  /** a file with the schema line, opened in the server */
  const openDoc = (body: string): { uri: string; text: string } => {
    const text = `# yaml-language-server: $schema=${SCHEMA}\n${body}`;
    const file = join(dir, `config-${++n}.yaml`);
    writeFileSync(file, text);
    const uri = pathToFileURL(file).href;
    ls.open(uri, text);
    return { uri, text };
  };

  it('completion at `exporters:` offers every exporter type, each with its description', async () => {
    const { uri } = openDoc('receivers:\n  otlp:\nexporters:\n  \nservice:\n  pipelines:\n    metrics: { receivers: [otlp], exporters: [debug] }\n');
    const items = await ls.completion(uri, { line: 4, character: 2 });
    const labels = items.map((i) => i.label);
    for (const t of registry.exporters.keys()) expect(labels, `exporter ${t}`).to.include(t);
    // only exporters: no receiver or processor types here
    expect(labels).to.not.include('otlp');
    expect(labels).to.not.include('batch');
    const influx = items.find((i) => i.label === 'influxdb')!;
    expect(docText(influx.documentation)).to.contain(registry.exporters.get('influxdb')!.description);
  });

  it('completion inside `influxdb:` offers its options with their descriptions', async () => {
    const { uri } = openDoc(
      'receivers:\n  otlp:\nexporters:\n  influxdb:\n    endpoint: http://127.0.0.1:8086\n    \nservice:\n  pipelines:\n    metrics: { receivers: [otlp], exporters: [influxdb] }\n',
    );
    const items = await ls.completion(uri, { line: 6, character: 4 });
    const schema = registry.exporters.get('influxdb')!.configSchema;
    const byLabel = new Map(items.map((i) => [i.label, i]));
    for (const [k, f] of Object.entries(schema)) {
      if (k === 'endpoint') {
        expect(byLabel.has(k), 'an option already set is not offered again').to.equal(false);
        continue;
      }
      const item = byLabel.get(k);
      expect(item, `option ${k} offered (got ${[...byLabel.keys()].join(', ')})`).to.not.equal(undefined);
      expect(docText(item!.documentation), `description of ${k}`).to.contain(fieldJsonSchema(f).description as string);
    }
    expect(docText(byLabel.get('precision')!.documentation)).to.contain('timestamp precision of the written lines');
    expect(docText(byLabel.get('period')!.documentation)).to.contain('A duration: "250ms", "10s"');
  });

  it('completion of an enum value offers exactly its values', async () => {
    const { uri } = openDoc(
      'exporters:\n  influxdb:\n    endpoint: http://x\n    precision: \nservice:\n  pipelines:\n    metrics: { receivers: [otlp], exporters: [influxdb] }\n',
    );
    const labels = (await ls.completion(uri, { line: 4, character: 15 })).map((i) => i.label).filter((l) => l !== 'null');
    expect(labels.sort()).to.deep.equal(['ms', 'ns', 's', 'us']);
  });

  it('a wrong enum value, a bad duration, an unknown key and an unknown type: diagnostics at their lines', async () => {
    const body = [
      'receivers:', // 1
      '  otlp:', // 2
      '    protocols: { http: { endpoint: localhost } }', // 3: host:port
      'exporters:', // 4
      '  influxdb:', // 5
      '    endpoint: http://127.0.0.1:8086', // 6
      '    db: metrics', // 7
      '    precision: hours', // 8: enum
      '    period: 10 minutes', // 9: duration
      '    compresion: gzip', // 10: unknown key
      '  influxd/x: {}', // 11: unknown type
      'service:', // 12
      '  pipelines:', // 13
      '    metrics: { receivers: [otlp], exporters: [influxdb] }', // 14
      '',
    ].join('\n');
    const { uri, text } = openDoc(body);
    const diags = await ls.diagnosticsFor(uri);
    const lines = text.split('\n');
    const at = (line: number) => diags.filter((d) => d.range.start.line === line);
    const show = JSON.stringify(diags.map((d) => [d.range.start.line, d.message]));
    expect(
      at(8)
        .map((d) => d.message)
        .join(' '),
      `precision: ${show}`,
    ).to.match(/ns.*us.*ms.*s/);
    expect(lines[8]!.slice(at(8)[0]!.range.start.character)).to.match(/^hours/);
    expect(
      at(9)
        .map((d) => d.message)
        .join(' '),
      `period: ${show}`,
    ).to.contain('expected a duration like');
    expect(
      at(3)
        .map((d) => d.message)
        .join(' '),
      `endpoint: ${show}`,
    ).to.contain('expected host:port');
    expect(
      at(10)
        .map((d) => d.message)
        .join(' '),
      `unknown key: ${show}`,
    ).to.match(/compresion.*not allowed|not allowed/i);
    expect(at(11).length, `unknown type: ${show}`).to.be.greaterThan(0);
    // nothing else is flagged: line 0 is the schema line, 1..14 the config
    expect(
      diags.every((d) => [3, 8, 9, 10, 11].includes(d.range.start.line)),
      show,
    ).to.equal(true);
  });

  it('every example config (relative schema path, as in a checkout) has no diagnostics', async () => {
    const files = [
      'config/default.yaml',
      ...readdirSync(join(root, 'config/examples'))
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => `config/examples/${f}`),
    ];
    expect(files.length).to.be.greaterThan(5);
    for (const f of files.filter((x) => !x.endsWith('otlp-to-file.yaml'))) {
      const file = join(root, f);
      const uri = pathToFileURL(file).href;
      ls.open(uri, readFileSync(file, 'utf8'));
      const diags = await ls.diagnosticsFor(uri);
      expect(
        diags.map((d) => `${d.range.start.line}: ${d.message}`),
        f,
      ).to.deep.equal([]);
    }
    // and one of them with a typo (the editor's buffer, not the file) is flagged: the relative path did resolve to the schema
    const broken = readFileSync(join(root, 'config/examples/otlp-to-file.yaml'), 'utf8').replace(/^service:/m, 'servic:');
    const uri = pathToFileURL(join(root, 'config/examples/otlp-to-file.yaml')).href;
    ls.open(uri, broken);
    const diags = await ls.diagnosticsFor(uri);
    expect(diags.map((d) => d.message).join(' ')).to.match(/servic|service/);
  });
});
