/**
 * The figures a scenario writes into docs/performance.md: the block between
 * `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` is replaced, or
 * appended (under `heading`, when given) the first time.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/paths.js';

export function writeSection(name: string, lines: readonly string[], heading?: string): void {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = [start, ...lines, end].join('\n');
  const docPath = join(packageRoot(), 'docs/performance.md');
  let doc = readFileSync(docPath, 'utf8');
  const at = doc.indexOf(start);
  const to = doc.indexOf(end);
  if (at >= 0 && to > at) doc = doc.slice(0, at) + section + doc.slice(to + end.length);
  else doc = doc.trimEnd() + '\n\n' + (heading !== undefined ? `## ${heading}\n` : '') + section + '\n';
  writeFileSync(docPath, doc);
  console.log(`wrote ${docPath}`);
}
