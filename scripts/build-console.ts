/**
 * Builds the console's client (console/*.tsx, Preact + uPlot) into
 * dist/console/app.js and app.css with esbuild: one minified ES module and one
 * stylesheet, served by the admin server from the package (no CDN). Run by
 * `npm run build` after tsc; prints the bundle's gzip weight.
 */
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { packageRoot } from '../src/paths.js';

const root = packageRoot();
const out = join(root, 'dist', 'console');
await build({
  entryPoints: { app: join(root, 'console', 'main.tsx') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: out,
  logLevel: 'warning',
  legalComments: 'none',
});
const gz = (f: string) => gzipSync(readFileSync(join(out, f))).length;
const js = gz('app.js');
const css = gz('app.css');
if (process.argv.includes('--report'))
  console.log(
    `console bundle: app.js ${(js / 1024).toFixed(1)} KiB gzip, app.css ${(css / 1024).toFixed(1)} KiB gzip, total ${((js + css) / 1024).toFixed(1)} KiB`,
  );
