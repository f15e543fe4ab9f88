/**
 * One watermark file per importer in the receiver's state directory
 * (`<state>/receiver/<id>/watermark-<importer>.json`), replaced atomically:
 * write a temp file, fsync, rename. A crash leaves the old or the new one.
 * The watermark is the exclusive end of what downstream accepted (semantics §9).
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export class ImporterWatermarks {
  private dirReady = false;
  private seq = 0;

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
    const tmp = `${file}.${process.pid}.${++this.seq}.tmp`;
    const body = { importer, watermark: new Date(ms).toISOString(), watermark_ms: ms, updated_at: new Date().toISOString() };
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(body) + '\n');
      await fh.datasync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, file);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
}
