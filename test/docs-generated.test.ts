/**
 * The generated docs (docs/metricport.schema.json, docs/reference/) match the
 * component schemas, and the drift check (scripts/gen-docs.ts --check, run by
 * .ci/run) fails when a schema changes without regenerating: shown on a temp
 * copy of the built package whose influxdb schema gains an option.
 */
import { expect } from 'chai';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './harness/peers.js';
import { packageRoot } from '../src/paths.js';
import { registry } from '../src/registry.js';

const root = packageRoot();
const genDocs = (dir: string, ...args: string[]) =>
  runCommand(process.execPath, [join(dir, 'dist/scripts/gen-docs.js'), ...args], { cwd: dir, timeoutMs: 30_000 });

describe('generated docs: docs/metricport.schema.json and docs/reference/', function () {
  this.timeout(60_000);

  it('match the component schemas (the CI drift check passes on the repository)', async () => {
    const r = await genDocs(root, '--check');
    expect(r.code, r.stdout + r.stderr).to.equal(0);
  });

  it('one reference page per component, each linked from its hand-written page', () => {
    for (const section of ['receivers', 'processors', 'exporters'] as const) {
      for (const f of registry[section].values()) {
        const ref = readFileSync(join(root, 'docs/reference', section, `${f.type}.md`), 'utf8');
        expect(ref).to.contain(`# \`${f.type}\` ${f.kind}: reference`);
        expect(ref).to.contain(`(../../${section}/${f.type}.md)`);
        const guide = readFileSync(join(root, 'docs', section, `${f.type}.md`), 'utf8');
        expect(guide, `docs/${section}/${f.type}.md links its reference page`).to.contain(`(../reference/${section}/${f.type}.md)`);
      }
    }
  });

  it('the drift check fails when a schema gains an option without regenerating, and passes once regenerated', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'mp-drift-'));
    try {
      cpSync(join(root, 'package.json'), join(tmp, 'package.json'));
      for (const d of ['config', 'docs']) cpSync(join(root, d), join(tmp, d), { recursive: true });
      mkdirSync(join(tmp, 'dist'));
      for (const d of ['src', 'receivers', 'processors', 'exporters', 'scripts']) cpSync(join(root, 'dist', d), join(tmp, 'dist', d), { recursive: true });
      symlinkSync(join(root, 'node_modules'), join(tmp, 'node_modules'), 'dir');
      expect((await genDocs(tmp, '--check')).code, 'the copy starts clean').to.equal(0);

      // add an option to the influxdb exporter's schema in the copy (wherever the built schema lives)
      const dir = join(tmp, 'dist/exporters/influxdb');
      const file = readdirSync(dir, { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.js'))
        .map((f) => join(dir, f))
        .find((f) => readFileSync(f, 'utf8').includes('field_name: {'));
      expect(file, 'the built influxdb schema').to.be.a('string');
      const js = readFileSync(file!, 'utf8');
      writeFileSync(
        file!,
        js.replace(
          'field_name: {',
          "drift_probe: { type: 'string', default: 'probe', doc: 'an option added without regenerating the docs' },\n    field_name: {",
        ),
      );

      const failed = await genDocs(tmp, '--check');
      expect(failed.code).to.equal(1);
      expect(failed.stderr).to.contain('changed: docs/metricport.schema.json');
      expect(failed.stderr).to.contain('changed: docs/reference/exporters/influxdb.md');
      expect(failed.stderr).to.not.contain('docs/reference/exporters/graphite.md');
      expect(failed.stderr).to.contain('npm run docs:gen');

      // a stale page of a component that is gone is drift too
      writeFileSync(join(tmp, 'docs/reference/exporters/gone.md'), 'old\n');
      expect((await genDocs(tmp, '--check')).stderr).to.contain('extra: docs/reference/exporters/gone.md');

      const gen = await genDocs(tmp);
      expect(gen.code, gen.stderr).to.equal(0);
      expect((await genDocs(tmp, '--check')).code).to.equal(0);
      expect(readFileSync(join(tmp, 'docs/reference/exporters/influxdb.md'), 'utf8')).to.contain(
        '| `drift_probe` | string | `probe` | an option added without regenerating the docs |',
      );
      const schema = JSON.parse(readFileSync(join(tmp, 'docs/metricport.schema.json'), 'utf8')) as {
        $defs: Record<string, { properties: Record<string, unknown> }>;
      };
      expect(schema.$defs['exporter.influxdb']!.properties.drift_probe).to.include({ default: 'probe' });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
