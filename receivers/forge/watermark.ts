/**
 * Watermarks of the forge receiver: one small JSON file per app and
 * environment in the receiver's state directory, replaced atomically (write a
 * temp file, fsync, rename), so a crash at any point leaves either the old or
 * the new watermark, never a torn file.
 *
 * A watermark is the exclusive end of what was accepted downstream
 * (semantics.md §9).
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/atomicfile.js';

export interface WatermarkFile {
  app_id: string;
  environment: string;
  /** ISO-8601 */
  watermark: string;
  watermark_ms: number;
  updated_at: string;
}

export class WatermarkStore {
  private dirReady = false;

  constructor(readonly dir: string) {}

  fileFor(appId: string, environment: string): string {
    const app = appId.slice(appId.lastIndexOf('/') + 1);
    return join(this.dir, `watermark-${app}-${environment}.json`);
  }

  /** The stored watermark (ms), or undefined when none (or unreadable: reported through `onProblem`). */
  async load(appId: string, environment: string, onProblem?: (message: string) => void): Promise<number | undefined> {
    const file = this.fileFor(appId, environment);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      onProblem?.(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return undefined;
    }
    try {
      const w = JSON.parse(text) as Partial<WatermarkFile>;
      if (typeof w.watermark_ms === 'number' && Number.isFinite(w.watermark_ms) && w.environment === environment) return w.watermark_ms;
      onProblem?.(`${file} has no valid watermark_ms for environment ${environment}; starting from history`);
    } catch (err) {
      onProblem?.(`${file} is not JSON (${(err as Error).message}); starting from history`);
    }
    return undefined;
  }

  async save(appId: string, environment: string, ms: number, nowMs: number): Promise<void> {
    if (!this.dirReady) {
      await mkdir(this.dir, { recursive: true });
      this.dirReady = true;
    }
    const file = this.fileFor(appId, environment);
    const body: WatermarkFile = {
      app_id: appId,
      environment,
      watermark: new Date(ms).toISOString(),
      watermark_ms: ms,
      updated_at: new Date(nowMs).toISOString(),
    };
    await writeFileAtomic(file, JSON.stringify(body) + '\n');
  }
}
