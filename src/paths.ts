import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The package root (the folder holding package.json, config/ and proto/), from source or dist. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'config'))) return (root = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the metricport package root (package.json next to config/)');
    dir = up;
  }
}

export function defaultConfigPath(): string {
  return join(packageRoot(), 'config', 'default.yaml');
}
