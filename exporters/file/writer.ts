/**
 * An append-only file with size-based rotation (path → path.1 → path.2 …,
 * the oldest deleted) and group commit: lines written while a write is in
 * progress go out together in the next one, in order. `write()` resolves once
 * its bytes have been handed to the OS (write(2) done); data is fsync'd every
 * `syncIntervalMs` (0: after every write) and on close.
 *
 * Only a regular file is ever rotated, created or fsync'd. When `path` names
 * anything else (following symlinks): a character or block device, a FIFO, a
 * Unix socket, or a descriptor of this process (`/dev/stdout` →
 * `/proc/self/fd/1`), the writer only writes to it: no rename, no unlink, no
 * truncation, no fsync, and a descriptor it did not open is never closed.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readlink, realpath, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, basename, join, resolve } from 'node:path';
import { StreamSink, type TargetKind } from './sink.js';

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

interface Pending {
  data: Buffer;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function errCode(e: unknown): unknown {
  return (e as { code?: unknown } | null)?.code;
}
function isEnoent(e: unknown): boolean {
  return errCode(e) === 'ENOENT';
}

/** What `path` is once its symlinks are followed. */
export type Target = { kind: 'file'; path: string } | { kind: 'descriptor'; fd: number } | { kind: TargetKind; path: string };

const MAX_LINK_HOPS = 40;

/**
 * Follow `path`'s symlinks one hop at a time (directories canonicalised on
 * the way) and say what it names. A hop onto `/proc/<this pid>/fd/N` (what
 * `/dev/stdout`, `/dev/fd/N` and `/proc/self/fd/N` resolve to) is this
 * process's descriptor N, whatever it is open on (a pipe, a tty, a socket, a
 * file redirected with `>`). A path that does not exist yet is a regular file
 * (to be created); a regular file's path is the one its links lead to.
 */
async function classifyPath(path: string): Promise<Target> {
  let p = resolve(path);
  for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
    try {
      p = join(await realpath(dirname(p)), basename(p));
    } catch (e) {
      if (!isEnoent(e)) throw e;
    }
    const m = /^\/proc\/(\d+|self|thread-self)\/fd\/(\d+)$/.exec(p);
    if (m !== null && (m[1] === 'self' || m[1] === 'thread-self' || Number(m[1]) === process.pid)) return { kind: 'descriptor', fd: Number(m[2]) };
    if (m !== null) return { kind: 'descriptor', path: p }; // another process's descriptor: opened through /proc, never rotated
    let st;
    try {
      st = await lstat(p);
    } catch (e) {
      if (isEnoent(e)) return { kind: 'file', path: p };
      throw e;
    }
    if (st.isSymbolicLink()) {
      p = resolve(dirname(p), await readlink(p));
      continue;
    }
    if (st.isFile()) return { kind: 'file', path: p };
    if (st.isCharacterDevice()) return { kind: 'character device', path: p };
    if (st.isBlockDevice()) return { kind: 'block device', path: p };
    if (st.isFIFO()) return { kind: 'fifo', path: p };
    if (st.isSocket()) return { kind: 'socket', path: p };
    throw Object.assign(new Error(`${path} is a directory, not a file`), { code: 'EISDIR' });
  }
  throw Object.assign(new Error(`${path}: more than ${MAX_LINK_HOPS} symbolic links`), { code: 'ELOOP' });
}

export class RotatingFileWriter {
  private readonly o: FileWriterOptions;
  private fh: FileHandle | undefined;
  /** set when the path is not a regular file: writes only */
  private sink: StreamSink | undefined;
  /** the regular file (where `path`'s symlinks lead) and its identity, to tell at rotation whether it is still there */
  private filePath: string;
  private ino = -1;
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
    this.filePath = opts.path;
  }

  /** Create the directory, open (append) and learn the current size; start the fsync timer. */
  open(): Promise<void> {
    this.opening ??= this.doOpen();
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    if (this.state !== 'new') return;
    await mkdir(dirname(this.o.path), { recursive: true });
    await this.attach();
    if (this.state !== 'new') {
      await this.detach();
      return;
    }
    this.state = 'open';
    if (this.o.syncIntervalMs > 0) {
      this.timer = setInterval(() => {
        if (!this.dirty) return;
        this.enqueue(() => this.fsync()).catch((e: unknown) => this.o.onError?.(e));
      }, this.o.syncIntervalMs);
      this.timer.unref();
    }
  }

  /** Open what the path names: a regular file for appending, anything else as a write-only sink. */
  private async attach(): Promise<void> {
    const t = await classifyPath(this.o.path);
    if (t.kind === 'file') {
      // O_NONBLOCK: no effect on a regular file, and a FIFO put in its place since the look cannot block the open
      const fh = await open(t.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK, 0o600);
      const st = await fh.stat().catch(async (e: unknown) => {
        await fh.close();
        throw e;
      });
      if (!st.isFile()) {
        // replaced between the look and the open
        await fh.close();
        this.sink = new StreamSink(kindOf(st), { path: t.path });
        await this.sink.open();
        return;
      }
      this.fh = fh;
      this.filePath = t.path;
      this.ino = st.ino;
      this.size = st.size;
      return;
    }
    this.sink = new StreamSink(t.kind, 'fd' in t ? { fd: t.fd } : { path: t.path });
    await this.sink.open();
  }

  private async detach(): Promise<void> {
    const fh = this.fh;
    const sink = this.sink;
    this.fh = undefined;
    this.sink = undefined;
    if (fh !== undefined) {
      try {
        if (this.dirty) await fh.sync();
      } finally {
        await fh.close();
      }
    }
    if (sink !== undefined) await sink.close();
    this.dirty = false;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }
  get isClosed(): boolean {
    return this.state === 'closed';
  }

  stats(): { kind: TargetKind | 'file'; size: number; rotations: number; bytes_written: number } {
    return { kind: this.sink?.kind ?? 'file', size: this.size, rotations: this.rotations, bytes_written: this.bytesWritten };
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
    if (this.state === 'closed') {
      await this.chain;
      return;
    }
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    if (this.timer !== undefined) clearInterval(this.timer);
    if (!wasOpen) return;
    await this.enqueue(async () => {
      const fh = this.fh;
      this.fh = undefined;
      const sink = this.sink;
      this.sink = undefined;
      if (sink !== undefined) await sink.close();
      if (fh === undefined) return;
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
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
    let chunk: Buffer[] = [];
    let chunkBytes = 0;
    for (const b of bufs) {
      const max = this.sink === undefined ? this.o.maxBytes : 0; // only a regular file rotates
      if (max > 0 && this.size + chunkBytes + b.length > max && this.size + chunkBytes > 0) {
        if (chunkBytes > 0) {
          await this.writeAll(Buffer.concat(chunk, chunkBytes));
          chunk = [];
          chunkBytes = 0;
        }
        await this.rotate();
      }
      chunk.push(b);
      chunkBytes += b.length;
    }
    if (chunkBytes > 0) await this.writeAll(chunk.length === 1 ? (chunk[0] as Buffer) : Buffer.concat(chunk, chunkBytes));
  }

  private async writeAll(buf: Buffer): Promise<void> {
    if (this.sink !== undefined) {
      await this.sink.write(buf);
      this.bytesWritten += buf.length;
      return;
    }
    if (this.fh === undefined) await this.attach();
    if (this.sink !== undefined) {
      await this.writeAll(buf);
      return;
    }
    const fh = this.fh as FileHandle;
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await fh.write(buf, off, buf.length - off);
      off += bytesWritten;
      this.size += bytesWritten;
      this.bytesWritten += bytesWritten;
      this.dirty = true;
    }
  }

  /**
   * Close the file, shift the backups, reopen. Renames only when the file's
   * path still names the regular file this writer has open (a symlink to a
   * file: the file rotates beside its target, the link stays); if something
   * else took its place (a device node, a FIFO, a link, another file),
   * nothing is renamed and the writer reattaches to whatever the path is now.
   */
  private async rotate(): Promise<void> {
    const path = this.filePath;
    const ours = this.ino;
    await this.detach();
    try {
      let st;
      try {
        st = await lstat(path);
      } catch (e) {
        if (!isEnoent(e)) throw e;
      }
      if (st !== undefined && (!st.isFile() || st.ino !== ours)) return;
      if (this.o.maxBackups > 0) {
        for (let i = this.o.maxBackups - 1; i >= 1; i--) {
          try {
            await rename(`${path}.${i}`, `${path}.${i + 1}`);
          } catch (e) {
            if (!isEnoent(e)) throw e;
          }
        }
        if (st !== undefined) await rename(path, `${path}.1`);
      } else if (st !== undefined) {
        await unlink(path);
      }
      this.rotations++;
    } finally {
      this.size = 0;
      await this.attach();
    }
  }
}

function kindOf(st: Awaited<ReturnType<typeof stat>>): Exclude<TargetKind, 'descriptor'> {
  if (st.isBlockDevice()) return 'block device';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'character device';
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
