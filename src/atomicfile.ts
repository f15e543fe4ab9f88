/**
 * State files replaced atomically: write a temp file (mode 0600), fsync it,
 * rename it over the old one. A crash at any moment leaves either the old or
 * the new content, never a torn file. Used by the watermarks and the pull
 * stores' checkpoints.
 */
import { open, rename, unlink } from 'node:fs/promises';

let seq = 0;

export async function writeFileAtomic(file: string, text: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.${++seq}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(text);
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
