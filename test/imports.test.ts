/**
 * The shape rules of issue 13, checked on the source instead of by grep:
 * - a component folder (receivers/X, processors/X, exporters/X) imports no
 *   other component folder: what two components share lives in src/;
 * - src/ imports a component folder only from src/registry.ts (the factories
 *   it lists); src/admin.ts and src/cli.ts in particular import none: a
 *   component contributes routes and commands through its factory.
 * Static imports, `export … from` and dynamic `import('…')` with a literal
 * path all count.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { packageRoot } from '../src/paths.js';

const ROOT = packageRoot();
const KINDS = ['receivers', 'processors', 'exporters'];

function files(top: string): string[] {
  return (readdirSync(join(ROOT, top), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(top, f));
}

/** relative import specifiers of a file, resolved to paths relative to the package root */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    out.push(relative(ROOT, resolve(ROOT, dirname(file), m[1]!)));
  }
  return out;
}

/** 'receivers/otlp' for a path inside that component folder, else undefined */
function componentOf(path: string): string | undefined {
  const parts = path.split('/');
  return KINDS.includes(parts[0]!) && parts.length > 2 ? `${parts[0]}/${parts[1]}` : undefined;
}

function violations(): { out: string[]; seen: number } {
  const out: string[] = [];
  let seen = 0;
  for (const top of [...KINDS, 'src']) {
    for (const f of files(top)) {
      const own = componentOf(f);
      for (const target of importsOf(f, readFileSync(join(ROOT, f), 'utf8'))) {
        seen++;
        const other = componentOf(target) ?? (KINDS.includes(target.split('/')[0]!) ? target : undefined);
        if (other === undefined || other === own) continue;
        if (top === 'src' && f === 'src/registry.ts') continue;
        out.push(`${f} imports ${target}`);
      }
    }
  }
  return { out, seen };
}

describe('imports: components never import each other; src/ reaches them only through the registry', () => {
  it('the rule sees an import across component folders (so it can fail)', () => {
    expect(
      importsOf('receivers/otlp/receiver.ts', "import { x } from '../statsd/parse.js';\nconst y = await import('../../exporters/file/exporter.js');"),
    ).to.deep.equal(['receivers/statsd/parse.js', 'exporters/file/exporter.js']);
    expect(componentOf('receivers/statsd/parse.js')).to.equal('receivers/statsd');
    expect(componentOf('src/admin.ts')).to.equal(undefined);
  });

  it('no component folder imports another; no src/ file but the registry imports a component folder', () => {
    const { out, seen } = violations();
    expect(out).to.deep.equal([]);
    expect(seen, 'relative imports read').to.be.above(500);
  });
});
