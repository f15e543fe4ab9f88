/**
 * Writing to a path that is not a regular file: a character or block device,
 * a FIFO, a Unix stream socket, or a descriptor of this process (what
 * `/dev/stdout` leads to). Write only: never created, renamed, truncated,
 * fsync'd (fsync of a device or FIFO fails with EINVAL), and a descriptor
 * this sink did not open is never closed.
 *
 * Devices and FIFOs are opened O_NONBLOCK, so opening a FIFO nobody reads
 * fails at once (ENXIO) instead of blocking a libuv thread, and a full pipe
 * answers EAGAIN: the write waits a little and goes on (backpressure, not
 * loss). A FIFO whose reader went away (EPIPE) or that had none is reopened
 * on the next write; a socket is reconnected.
 */
import { close as closeCb, constants, fstat as fstatCb, open as openCb, write as writeCb } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { promisify } from 'node:util';

export type TargetKind = 'character device' | 'block device' | 'fifo' | 'socket' | 'descriptor';

const openFd = promisify(openCb);
const closeFd = promisify(closeCb);
function writeFd(fd: number, buf: Buffer, off: number, len: number): Promise<number> {
  return new Promise((resolve, reject) =>
    writeCb(fd, buf, off, len, null, (err, n) => {
      if (err === null) resolve(n);
      else reject(err);
    }),
  );
}

/** EAGAIN back-off: 1 ms doubling to 100 ms while the reader is slow. */
const EAGAIN_MIN_MS = 1;
const EAGAIN_MAX_MS = 100;
/** how long close() lets a socket peer take the last bytes before the socket is destroyed */
const SOCKET_END_MS = 1_000;

function codeOf(e: unknown): string | undefined {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** An error that says what to do (`detail`); `code` kept for the failure reason. */
function sinkError(code: string, detail: string, cause?: unknown): Error {
  return Object.assign(new Error(`${code} (${detail})`, cause === undefined ? undefined : { cause }), { code, detail });
}

function explain(kind: TargetKind, e: unknown): unknown {
  const code = codeOf(e);
  if (kind === 'fifo' && code === 'ENXIO') return sinkError(code, 'no process has the FIFO open for reading; start its reader', e);
  if (kind === 'fifo' && code === 'EPIPE') return sinkError(code, "the FIFO's reader went away; the next write reopens it", e);
  if (kind === 'socket' && (code === 'ECONNREFUSED' || code === 'ENOENT')) return sinkError(code, 'nothing listens on the socket', e);
  if (kind === 'socket' && code === 'EPROTOTYPE') return sinkError(code, 'a datagram socket; only stream sockets are supported', e);
  return e;
}

export class StreamSink {
  private fd: number | undefined;
  private socket: Socket | undefined;
  private closed = false;

  constructor(
    readonly kind: TargetKind,
    private readonly target: { fd: number } | { path: string },
  ) {
    if ('fd' in target) this.fd = target.fd;
  }

  /**
   * Open now so that a wrong path or permission fails start(); a FIFO with no
   * reader or a socket nobody listens on is not an error yet (writes are
   * refused with the reason until it is there).
   */
  async open(): Promise<void> {
    if ('fd' in this.target) {
      const fd = this.target.fd;
      await new Promise<void>((resolve, reject) =>
        fstatCb(fd, (err) => {
          if (err === null) resolve();
          else reject(Object.assign(new Error(`descriptor ${fd} is not open in this process (${err.code ?? 'EBADF'})`), { code: err.code ?? 'EBADF' }));
        }),
      );
      return;
    }
    try {
      await this.ensure();
    } catch (e) {
      const code = codeOf(e);
      if (this.kind === 'fifo' && code === 'ENXIO') return;
      if (this.kind === 'socket' && code === 'ECONNREFUSED') return;
      throw e;
    }
  }

  async write(buf: Buffer): Promise<void> {
    if (this.closed) throw new Error('file closed');
    try {
      await this.ensure();
      if (this.kind === 'socket') await this.writeSocket(buf);
      else await this.writeFd(buf);
    } catch (e) {
      if (this.kind === 'fifo' && codeOf(e) === 'EPIPE') await this.drop();
      throw explain(this.kind, e);
    }
  }

  /** Close what this sink opened; a descriptor it was given stays open. Safe twice. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drop();
  }

  private async ensure(): Promise<void> {
    if ('fd' in this.target) return;
    const path = this.target.path;
    if (this.kind === 'socket') {
      if (this.socket !== undefined && !this.socket.destroyed) return;
      const s = createConnection({ path });
      await new Promise<void>((resolve, reject) => {
        s.once('connect', resolve);
        s.once('error', reject);
      }).catch((e: unknown) => {
        s.destroy();
        throw explain('socket', e);
      });
      s.on('error', () => s.destroy()); // the next write reconnects; its error is the one reported
      s.setNoDelay?.(true);
      this.socket = s;
      return;
    }
    if (this.fd !== undefined) return;
    this.fd = await openFd(path, constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  }

  private async writeFd(buf: Buffer): Promise<void> {
    let off = 0;
    let wait = EAGAIN_MIN_MS;
    while (off < buf.length) {
      const fd = this.fd;
      if (fd === undefined) throw new Error('file closed');
      try {
        off += await writeFd(fd, buf, off, buf.length - off);
        wait = EAGAIN_MIN_MS;
      } catch (e) {
        if (codeOf(e) !== 'EAGAIN' || this.closed) throw e;
        // the reader is behind: wait for room (a pending write, not a background timer, so not unref'd)
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(EAGAIN_MAX_MS, wait * 2);
      }
    }
  }

  private writeSocket(buf: Buffer): Promise<void> {
    const s = this.socket;
    if (s === undefined) return Promise.reject(new Error('file closed'));
    return new Promise<void>((resolve, reject) => {
      const onClose = (): void => reject(Object.assign(new Error('socket closed by peer'), { code: 'EPIPE' }));
      s.once('close', onClose);
      s.write(buf, (err) => {
        s.off('close', onClose);
        if (err === undefined || err === null) resolve();
        else reject(err);
      });
    });
  }

  private async drop(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (s !== undefined && !s.destroyed) {
      await new Promise<void>((r) => {
        const t = setTimeout(() => {
          s.destroy();
          r();
        }, SOCKET_END_MS);
        t.unref();
        s.end(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    if ('fd' in this.target) return; // given, not ours to close
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) await closeFd(fd).catch(() => undefined);
  }
}
