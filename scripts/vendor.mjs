#!/usr/bin/env node
/**
 * `npm run build`, after tsc: bundles the packages every start loads
 * (`yaml`, `pino`) into one ES module each, replacing tsc's re-exports in
 * dist/src/vendor/ (src/vendor/*.ts). Loading a CommonJS package file by
 * file (resolve, stat, realpath, read, compile per file: ~100 files for the
 * two) was a sixth of a start's CPU; one file each loads in a fraction of it.
 * Every name the package exports is exported by the bundle (checked by
 * test/vendor/vendor.test.ts). Without this step the re-exports still work,
 * only slower.
 *
 *   node scripts/vendor.mjs [--check]
 */
import { createRequire } from 'node:module';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'package.json'));
export const VENDORED = ['yaml', 'pino'];

/** the names a CommonJS package exports, as an ES module importing it sees them */
export function exportNames(pkg) {
  return Object.keys(require(pkg))
    .filter((k) => k !== 'default' && k !== '__esModule' && /^[A-Za-z_$][\w$]*$/.test(k))
    .sort();
}

async function main() {
  const esbuild = await import('esbuild').catch(() => undefined);
  if (esbuild === undefined) {
    console.error('scripts/vendor.mjs: esbuild is not installed; dist/src/vendor/ keeps the plain re-exports (slower start)');
    return;
  }
  for (const pkg of VENDORED) {
    const out = join(ROOT, 'dist/src/vendor', `${pkg}.js`);
    if (!existsSync(out)) throw new Error(`scripts/vendor.mjs: ${out} is missing: run tsc first`);
    const names = exportNames(pkg);
    await esbuild.build({
      stdin: { contents: `export { ${names.join(', ')} } from '${pkg}';\n`, resolveDir: ROOT, sourcefile: `vendor-${pkg}.js`, loader: 'js' },
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: out,
      allowOverwrite: true,
      legalComments: 'eof',
      logLevel: 'warning',
      // CommonJS code in an ES module: `require` of node builtins needs a real require
      banner: {
        js: `// ${pkg} ${require(`${pkg}/package.json`).version}, bundled by scripts/vendor.mjs\nimport { createRequire as __vendorCreateRequire } from 'node:module';\nconst require = __vendorCreateRequire(import.meta.url);`,
      },
    });
    rmSync(`${out}.map`, { force: true }); // tsc's map described the re-export
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
