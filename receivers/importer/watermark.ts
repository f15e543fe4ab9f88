/**
 * One watermark file per importer in the receiver's state directory
 * (`<state>/receiver/<id>/watermark-<importer>.json`), replaced atomically:
 * write a temp file, fsync, rename. A crash leaves the old or the new one.
 * The watermark is the exclusive end of what downstream accepted (semantics §9).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/atomicfile.js';

export class ImporterWatermarks {
  private dirReady = false;

  constructor(readonly dir: string) {}

  fileFor(importer: string): string {
    return join(this.dir, `watermark-${importer}.json`);
  }

  async load(importer: string, onProblem?: (message: string) => void): Promise<number | undefined> {
    const file = this.fileFor(importer);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      onProblem?.(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return undefined;
    }
    try {
      const w = JSON.parse(text) as { importer?: string; watermark_ms?: unknown };
      if (w.importer === importer && typeof w.watermark_ms === 'number' && Number.isFinite(w.watermark_ms)) return w.watermark_ms;
      onProblem?.(`${file} has no valid watermark_ms; starting from history`);
    } catch (err) {
      onProblem?.(`${file} is not JSON (${(err as Error).message}); starting from history`);
    }
    return undefined;
  }

  async save(importer: string, ms: number): Promise<void> {
    if (!this.dirReady) {
      await mkdir(this.dir, { recursive: true });
      this.dirReady = true;
    }
    const file = this.fileFor(importer);
    const body = { importer, watermark: new Date(ms).toISOString(), watermark_ms: ms, updated_at: new Date().toISOString() };
    await writeFileAtomic(file, JSON.stringify(body) + '\n');
  }
}
