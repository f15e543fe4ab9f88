/**
 * src/vendor/: the packages every start loads, bundled into one module each
 * by the build (scripts/vendor.mjs). The bundle exports every name the
 * package does, the same values behave the same, and it is a bundle (one
 * file: no import of the package left).
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const VENDOR = join(dirname(fileURLToPath(import.meta.url)), '../../src/vendor');
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('vendored packages (dist/src/vendor, scripts/vendor.mjs)', () => {
  it('yaml: the bundle exports every name of the package and parses the same', async () => {
    const pkg = require('yaml') as Record<string, unknown>;
    const v = (await import('../../src/vendor/yaml.js')) as Record<string, unknown>;
    for (const k of Object.keys(pkg).filter((n) => n !== 'default' && n !== '__esModule')) expect(v, k).to.have.property(k);
    const text = 'a: 1\nb: [x, "y"]\nc: { d: "${env:X}" }\n';
    const { parseDocument, LineCounter } = await import('../../src/vendor/yaml.js');
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc });
    expect(doc.toJS()).to.deep.equal((pkg.parse as (t: string) => unknown)(text));
    expect(lc.linePos(text.indexOf('b:'))).to.deep.equal({ line: 2, col: 1 });
  });

  it('pino: the bundle writes the same JSON line as the package', async () => {
    const { pino } = await import('../../src/vendor/pino.js');
    const real = require('pino') as typeof pino;
    const line = (p: typeof pino): Record<string, unknown> => {
      let out = '';
      const l = p(
        { base: { service: 'metricport' }, timestamp: false, redact: { paths: ['token'], censor: '[REDACTED]' } },
        {
          write: (s: string) => {
            out += s;
          },
        },
      );
      l.child({ component: 'x' }).warn({ token: 'SECRET', n: 1 }, 'hello');
      return JSON.parse(out) as Record<string, unknown>;
    };
    expect(line(pino)).to.deep.equal(line(real));
    expect(line(pino)).to.deep.equal({ level: 40, service: 'metricport', component: 'x', token: '[REDACTED]', n: 1, msg: 'hello' });
  });

  it('the built modules are bundles (npm run build ran scripts/vendor.mjs)', () => {
    for (const pkg of ['yaml', 'pino']) {
      const text = readFileSync(join(VENDOR, `${pkg}.js`), 'utf8');
      expect(text, pkg).to.match(new RegExp(`^// ${pkg} \\d+\\.\\d+\\.\\d+, bundled by scripts/vendor\\.mjs`));
      expect(text, pkg).not.to.match(new RegExp(`from ['"]${pkg}['"]`));
    }
  });

  it('code that runs in the service imports yaml and pino only through src/vendor/', () => {
    const offenders: string[] = [];
    for (const top of ['src', 'receivers', 'processors', 'exporters']) {
      for (const f of readdirSync(join(ROOT, top), { recursive: true }) as string[]) {
        if (!f.endsWith('.ts') || f.startsWith('vendor/')) continue;
        if (/from ['"](?:yaml|pino)['"]/.test(readFileSync(join(ROOT, top, f), 'utf8'))) offenders.push(`${top}/${f}`);
      }
    }
    expect(offenders).to.deep.equal([]);
  });
});
