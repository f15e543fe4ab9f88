/**
 * Writes what is generated from the component schemas: docs/metricport.schema.json
 * (the JSON Schema editors use) and docs/reference/ (one page per component).
 *
 *   node dist/scripts/gen-docs.js           write them (npm run docs:gen)
 *   node dist/scripts/gen-docs.js --check   exit 1 when the committed files differ
 *                                           from what the schemas give (CI: .ci/run, and
 *                                           test/docs-generated.test.ts in npm test)
 *
 * It reads the registry's schema data only; no component is created.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { configJsonSchemaText } from '../src/config/jsonschema.js';
import { referencePages } from '../src/config/reference.js';
import { packageRoot } from '../src/paths.js';
import { registry } from '../src/registry.js';

/** Every generated file: path relative to the package root → content. */
export function generatedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  files.set('docs/metricport.schema.json', configJsonSchemaText(registry));
  for (const [p, text] of referencePages(registry)) files.set(`docs/reference/${p}`, text);
  return files;
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

/** The differences between the files under `root` and what is generated: `changed`, `missing` and `extra` (a reference page no component has). */
export function drift(root: string): string[] {
  const want = generatedFiles();
  const out: string[] = [];
  for (const [p, text] of want) {
    const file = join(root, p);
    if (!existsSync(file)) out.push(`missing: ${p}`);
    else if (readFileSync(file, 'utf8') !== text) out.push(`changed: ${p}`);
  }
  for (const f of listFiles(join(root, 'docs/reference'))) {
    const p = relative(root, f).split('\\').join('/');
    if (!want.has(p)) out.push(`extra: ${p}`);
  }
  return out;
}

export function write(root: string): number {
  let n = 0;
  rmSync(join(root, 'docs/reference'), { recursive: true, force: true });
  for (const [p, text] of generatedFiles()) {
    const file = join(root, p);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    n++;
  }
  return n;
}

function main(argv: string[]): number {
  const root = packageRoot();
  if (argv.length === 1 && argv[0] === '--check') {
    const d = drift(root);
    if (d.length === 0) {
      process.stdout.write('gen-docs: docs/metricport.schema.json and docs/reference/ match the component schemas\n');
      return 0;
    }
    process.stderr.write(
      `gen-docs: the generated docs differ from the component schemas (${d.length} file${d.length === 1 ? '' : 's'}):\n${d.map((x) => `  ${x}\n`).join('')}regenerate them with \`npm run docs:gen\` and commit the result\n`,
    );
    return 1;
  }
  if (argv.length > 0) {
    process.stderr.write('usage: node dist/scripts/gen-docs.js [--check]\n');
    return 2;
  }
  const n = write(root);
  process.stdout.write(`gen-docs: wrote ${n} files (docs/metricport.schema.json, docs/reference/)\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));
