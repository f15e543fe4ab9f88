/** The resolve hook behind trace-modules.ts (runs on the loader thread). */
import { appendFileSync } from 'node:fs';

let file = '';

export function initialize(data: { file: string }): void {
  file = data.file;
}

export async function resolve(specifier: string, context: unknown, next: (s: string, c: unknown) => Promise<{ url: string }>): Promise<{ url: string }> {
  const r = await next(specifier, context);
  appendFileSync(file, `${r.url}\n`);
  return r;
}
