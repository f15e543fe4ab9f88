/**
 * An append-only file with size-based rotation (path → path.1 → path.2 …,
 * the oldest deleted) and group commit: lines written while a write is in
 * progress go out together in the next one, in order. `write()` resolves once
 * its bytes have been handed to the OS (write(2) done); data is fsync'd every
 * `syncIntervalMs` (0: after every write) and on close.
 */
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface FileWriterOptions {
  path: string;
  /** rotate before a write would make the file larger than this; 0 = never rotate */
  maxBytes: number;
  /** rotated files kept (path.1 … path.N); 0 = the old file is deleted */
  maxBackups: number;
  /** fsync period; 0 = fsync after every write */
  syncIntervalMs: number;
  /** told about background fsync failures */
  onError?: (err: unknown) => void;
}

interface Pending { data: Buffer; resolve: () => void; reject: (e: unknown) => void }

function isEnoent(e: unknown): boolean {
  return (e as { code?: unknown })?.code === 'ENOENT';
}

export class RotatingFileWriter {
  private readonly o: FileWriterOptions;
  private fh: FileHandle | undefined;
  private size = 0;
  private pending: Pending[] = [];
  private scheduled = false;
  private chain: Promise<void> = Promise.resolve();
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private state: 'new' | 'open' | 'closed' = 'new';
  private rotations = 0;
  private opening: Promise<void> | undefined;
  private bytesWritten = 0;

  constructor(opts: FileWriterOptions) {
    this.o = opts;
  }

  /** Create the directory, open (append) and learn the current size; start the fsync timer. */
  open(): Promise<void> {
    this.opening ??= this.doOpen();
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    if (this.state !== 'new') return;
    await mkdir(dirname(this.o.path), { recursive: true });
    const fh = await open(this.o.path, 'a', 0o600);
    if (this.state !== 'new') { await fh.close(); return; }
    this.fh = fh;
    this.size = (await fh.stat()).size;
    this.state = 'open';
    if (this.o.syncIntervalMs > 0) {
      this.timer = setInterval(() => {
        if (!this.dirty) return;
        this.enqueue(() => this.fsync()).catch((e: unknown) => this.o.onError?.(e));
      }, this.o.syncIntervalMs);
      this.timer.unref();
    }
  }

  get isOpen(): boolean { return this.state === 'open'; }
  get isClosed(): boolean { return this.state === 'closed'; }

  stats(): { size: number; rotations: number; bytes_written: number } {
    return { size: this.size, rotations: this.rotations, bytes_written: this.bytesWritten };
  }

  /** Append one chunk (a line with its newline); resolves once written to the OS. */
  write(data: Buffer): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new Error(this.state === 'new' ? 'file not open' : 'file closed'));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ data, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        this.enqueue(() => this.flushPending()).catch(() => undefined);
      }
    });
  }

  /** Write what is pending, fsync, close. Safe twice. */
  async close(): Promise<void> {
    if (this.opening !== undefined) await this.opening.catch(() => undefined);
    if (this.state === 'closed') { await this.chain; return; }
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    if (this.timer !== undefined) clearInterval(this.timer);
    if (!wasOpen) return;
    await this.enqueue(async () => {
      const fh = this.fh;
      this.fh = undefined;
      if (fh === undefined) return;
      try { await fh.sync(); } finally { await fh.close(); }
    });
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const p = this.chain.then(op);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async fsync(): Promise<void> {
    if (this.fh === undefined || !this.dirty) return;
    this.dirty = false;
    await this.fh.datasync();
  }

  private async flushPending(): Promise<void> {
    this.scheduled = false;
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    try {
      await this.writeChunks(batch.map((p) => p.data));
      if (this.o.syncIntervalMs === 0) await this.fsync();
    } catch (e) {
      for (const p of batch) p.reject(e);
      return;
    }
    for (const p of batch) p.resolve();
  }

  private async writeChunks(bufs: Buffer[]): Promise<void> {
    const max = this.o.maxBytes;
    let chunk: Buffer[] = [];
    let chunkBytes = 0;
    for (const b of bufs) {
      if (max > 0 && this.size + chunkBytes + b.length > max && this.size + chunkBytes > 0) {
        if (chunkBytes > 0) { await this.writeAll(Buffer.concat(chunk, chunkBytes)); chunk = []; chunkBytes = 0; }
        await this.rotate();
      }
      chunk.push(b);
      chunkBytes += b.length;
    }
    if (chunkBytes > 0) await this.writeAll(chunk.length === 1 ? chunk[0] as Buffer : Buffer.concat(chunk, chunkBytes));
  }

  private async writeAll(buf: Buffer): Promise<void> {
    if (this.fh === undefined) this.fh = await open(this.o.path, 'a', 0o600);
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off);
      off += bytesWritten;
      this.size += bytesWritten;
      this.bytesWritten += bytesWritten;
      this.dirty = true;
    }
  }

  private async rotate(): Promise<void> {
    const path = this.o.path;
    const fh = this.fh;
    this.fh = undefined;
    if (fh !== undefined) {
      try { await fh.sync(); } finally { await fh.close(); }
    }
    this.dirty = false;
    try {
      if (this.o.maxBackups > 0) {
        for (let i = this.o.maxBackups - 1; i >= 1; i--) {
          try { await rename(`${path}.${i}`, `${path}.${i + 1}`); } catch (e) { if (!isEnoent(e)) throw e; }
        }
        await rename(path, `${path}.1`);
      } else {
        try { await unlink(path); } catch (e) { if (!isEnoent(e)) throw e; }
      }
      this.rotations++;
    } finally {
      this.fh = await open(path, 'a', 0o600);
      this.size = (await this.fh.stat()).size;
    }
  }
}

/**
 * One writer per file in the process: the same file exporter in a metrics
 * and an events pipeline gets two instances, which must not rotate the same
 * file twice. The writer closes when the last user releases it.
 */
const shared = new Map<string, { writer: RotatingFileWriter; refs: number }>();

export function acquireWriter(key: string, opts: FileWriterOptions): { writer: RotatingFileWriter; release: () => Promise<void> } {
  let e = shared.get(key);
  if (e === undefined || e.writer.isClosed) {
    e = { writer: new RotatingFileWriter(opts), refs: 0 };
    shared.set(key, e);
  }
  const entry = e;
  entry.refs++;
  let released = false;
  return {
    writer: entry.writer,
    release: async () => {
      if (released) return;
      released = true;
      entry.refs--;
      if (entry.refs > 0) return;
      if (shared.get(key) === entry) shared.delete(key);
      await entry.writer.close();
    },
  };
}
