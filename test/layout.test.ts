/**
 * Tests mirror the code (issue 13 item 16): the test of a module src/a/b.ts
 * is test/a/b.test.ts, of receivers/x/y.ts test/receivers/x/… . The rule as
 * checked: a test file named like a module it imports (b.test.ts importing
 * …/b.js) sits at that module's mirrored folder. Tests of a component may be
 * split into several files in its test folder (test/receivers/statsd/*).
 * test/e2e/ holds end-to-end tests of the built service, named after what
 * they show, and is not bound by the rule.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { packageRoot } from '../src/paths.js';

const ROOT = packageRoot();
const CODE = ['src', 'receivers', 'processors', 'exporters'];

/** where the test of `module` (a path under the package root, .ts) belongs */
function mirrored(module: string): string {
  const rel = module.startsWith('src/') ? module.slice(4) : module;
  return join('test', dirname(rel));
}

function misplaced(): { out: string[]; checked: number } {
  const out: string[] = [];
  let checked = 0;
  for (const f of (readdirSync(join(ROOT, 'test'), { recursive: true }) as string[]).filter((x) => x.endsWith('.test.ts'))) {
    const file = join('test', f);
    if (file.startsWith('test/e2e/')) continue;
    const name = basename(f, '.test.ts');
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const m of text.matchAll(/from\s*['"](\.{1,2}\/[^'"]+)\.js['"]/g)) {
      const target = relative(ROOT, resolve(ROOT, dirname(file), m[1]!)) + '.ts';
      if (!CODE.includes(target.split('/')[0]!) || basename(target, '.ts') !== name) continue;
      checked++;
      if (dirname(file) !== mirrored(target)) out.push(`${file} tests ${target}: move it to ${mirrored(target)}/${name}.test.ts`);
    }
  }
  return { out, checked };
}

describe('layout: tests mirror the code', () => {
  it('the mirror of src/a/b.ts is test/a/, of receivers/x/y.ts test/receivers/x/', () => {
    expect(mirrored('src/model/exphist.ts')).to.equal('test/model');
    expect(mirrored('src/service.ts')).to.equal('test');
    expect(mirrored('receivers/statsd/parser.ts')).to.equal('test/receivers/statsd');
  });

  it('every test named after a module it imports sits at that module’s mirrored path', () => {
    const { out, checked } = misplaced();
    expect(out).to.deep.equal([]);
    expect(checked, 'tests matched to their module').to.be.above(30);
  });
});
