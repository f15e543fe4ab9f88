/**
 * Every component has a docs page listing every option (by its key) with its
 * default, so `docs/` cannot drift from the schemas.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeSchema } from '../src/config/schema.js';
import { packageRoot } from '../src/paths.js';
import { registry } from '../src/registry.js';

describe('docs: one page per component with every option and its default', () => {
  const all = [...registry.receivers.values(), ...registry.processors.values(), ...registry.exporters.values()];
  for (const f of all) {
    it(`docs/${f.kind}s/${f.type}.md`, () => {
      const file = join(packageRoot(), 'docs', `${f.kind}s`, `${f.type}.md`);
      expect(existsSync(file), file).to.equal(true);
      const text = readFileSync(file, 'utf8');
      for (const row of describeSchema(f.configSchema)) {
        if (row.type === 'object') continue;
        const leaf = row.key.split('.').pop()!.replace('[]', '');
        expect(text, `${f.type}: option ${row.key}`).to.contain(leaf);
        if (row.default !== '' && row.default !== '(required)' && row.default !== '{}' && row.default !== '[]') {
          const d = row.default.replace(/^"|"$/g, '');
          expect(text, `${f.type}: default of ${row.key} (${d})`).to.contain(d);
        }
      }
    });
  }
  it('the README links every component page', () => {
    const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');
    for (const f of all) expect(readme).to.contain(`docs/${f.kind}s/${f.type}.md`);
  });
});
