/**
 * The file exporter pointed at something that is not a regular file: device
 * nodes, FIFOs, sockets and /dev/stdout-style links into /proc/self/fd. Every
 * node here is made by the test in its own temp dir (mknod, mkfifo, a socket
 * it listens on, an fd it opened); nothing shared (/dev/null, /dev/stdout) is
 * ever named.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { constants, closeSync, fstatSync, openSync, writeSync } from 'node:fs';
import { lstat, mkdtemp, readFile, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { createServer, Socket, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Signal } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import type { HelperExporter } from '../../../src/exporterhelper/exporter.js';
import { decodeMetricsJson } from '../../../src/otlp/json.js';
import { encodeEventsJson } from '../../../exporters/file/events-json.js';
import { fileExporterFactory } from '../../../exporters/file/factory.js';
import { host, never, sampleEvents, sampleMetrics, settings, waitFor } from '../../exporterhelper/fakes.js';

// the registry is lazy: the implementation is imported on first use
await fileExporterFactory.load();

/** rotation at ~200 bytes and fsync after every write: a regular file would rotate on every line */
function exporter(path: string, signal: Signal = 'events'): HelperExporter<any> {
  const r = validateSchema(
    fileExporterFactory.configSchema,
    { path, rotation: { max_megabytes: 200 / (1024 * 1024), max_backups: 2 }, flush_interval: 0 },
    'exporters.file',
  );
  expect(r.issues).to.deep.equal([]);
  return fileExporterFactory.create(settings('file/special'), r.value as any, signal) as HelperExporter<any>;
}

async function start(exp: HelperExporter<any>): Promise<void> {
  await exp.start(host(settings('file/special')));
}

function fileStatus(exp: HelperExporter<any>): { kind: string; rotations: number; bytes_written: number } {
  return exp.status().file as { kind: string; rotations: number; bytes_written: number };
}

describe('exporters/file: devices, FIFOs, sockets, /proc/self/fd links', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mp-file-special-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function mknodNull(name: string): string {
    const p = join(dir, name);
    execFileSync('mknod', [p, 'c', '1', '3']); // the null device, as a node of the test's own
    return p;
  }

  it('a character device node is written to, never renamed, replaced or fsynced', async () => {
    const node = mknodNull('null');
    const before = await lstat(node);
    const exp = exporter(node);
    await start(exp);
    const line = encodeEventsJson(sampleEvents(1)) + '\n';
    for (let i = 0; i < 30; i++) await exp.consume(sampleEvents(1)); // 30 × ~300 bytes: far past the 200-byte rotation size
    expect(exp.status()).to.include({ sent: 30, failed: 0 });
    expect(fileStatus(exp)).to.deep.equal({ kind: 'character device', size: 0, rotations: 0, bytes_written: 30 * Buffer.byteLength(line) });
    await exp.shutdown(never());
    expect(await readdir(dir)).to.deep.equal(['null']);
    const after = await lstat(node);
    expect(after.isCharacterDevice()).to.equal(true);
    expect([after.rdev, after.ino, after.mode]).to.deep.equal([before.rdev, before.ino, before.mode]);
  });

  it('a symlink to a device node: the link and the node stay as they are', async () => {
    const node = mknodNull('null');
    const link = join(dir, 'stdout');
    await symlink('null', link);
    const exp = exporter(link, 'metrics');
    await start(exp);
    for (let i = 0; i < 10; i++) await exp.consume(sampleMetrics(3, `b${i}`));
    expect(exp.status()).to.include({ sent: 30, failed: 0 });
    expect(fileStatus(exp)).to.include({ kind: 'character device', rotations: 0 });
    await exp.shutdown(never());
    expect((await readdir(dir)).sort()).to.deep.equal(['null', 'stdout']);
    expect((await lstat(link)).isSymbolicLink()).to.equal(true);
    expect(await readlink(link)).to.equal('null');
    expect((await lstat(node)).isCharacterDevice()).to.equal(true);
  });

  it('a FIFO with a reader gets every line in order (past the pipe buffer), never renamed or fsynced', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const reader = new Socket({ fd: rfd, readable: true, writable: false });
    const chunks: Buffer[] = [];
    reader.on('data', (c: Buffer) => chunks.push(c));
    try {
      const exp = exporter(fifo, 'metrics');
      await start(exp);
      const batches = Array.from({ length: 12 }, (_, i) => sampleMetrics(400, `f${i}`)); // ~1 MB: many times the 64 KiB pipe buffer
      await Promise.all(batches.map((b) => exp.consume(b)));
      expect(exp.status()).to.include({ failed: 0 });
      const got = (): string[] =>
        Buffer.concat(chunks)
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== '');
      await waitFor(() => got().length === batches.length, 'the reader to get every line');
      got().forEach((l, i) => expect(decodeMetricsJson(l).data).to.deep.equal(batches[i]));
      expect(fileStatus(exp)).to.include({ kind: 'fifo', rotations: 0 });
      await exp.shutdown(never());
      expect(await readdir(dir)).to.deep.equal(['fifo']);
      expect((await lstat(fifo)).isFIFO()).to.equal(true);
    } finally {
      reader.destroy();
    }
  });

  it('a FIFO without a reader: start is not blocked, writes are refused with the reason until a reader opens it', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const exp = exporter(fifo);
    await start(exp);
    let err: unknown;
    try {
      await exp.consume(sampleEvents(1));
    } catch (e) {
      err = e;
    }
    expect((err as Error).name).to.equal('RefusedError');
    expect((err as Error).message).to.match(/cannot write to \/.*\/fifo: ENXIO \(no process has the FIFO open for reading; start its reader\)$/);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const reader = new Socket({ fd: rfd, readable: true, writable: false });
    const chunks: Buffer[] = [];
    reader.on('data', (c: Buffer) => chunks.push(c));
    try {
      await exp.consume(sampleEvents(2));
      await waitFor(() => Buffer.concat(chunks).toString('utf8') === encodeEventsJson(sampleEvents(2)) + '\n', 'the line at the reader');
      await exp.shutdown(never());
      expect(await readdir(dir)).to.deep.equal(['fifo']);
    } finally {
      reader.destroy();
    }
  });

  it('a /dev/stdout-style link into /proc/self/fd writes to that descriptor: no rename, no truncation, fd left open', async () => {
    const captured = join(dir, 'captured');
    const fd = openSync(captured, 'w', 0o600); // the process's "stdout" for this test: a descriptor it owns
    writeSync(fd, 'kept\n');
    const link = join(dir, 'stdout');
    await symlink(`/proc/self/fd/${fd}`, link);
    try {
      const exp = exporter(link);
      await start(exp);
      for (let i = 0; i < 8; i++) await exp.consume(sampleEvents(1));
      expect(fileStatus(exp)).to.include({ kind: 'descriptor', rotations: 0 });
      await exp.shutdown(never());
      expect(fstatSync(fd).isFile()).to.equal(true); // still open: the exporter never closes a descriptor it did not open
      writeSync(fd, 'after\n');
      const text = await readFile(captured, 'utf8');
      expect(text).to.equal('kept\n' + (encodeEventsJson(sampleEvents(1)) + '\n').repeat(8) + 'after\n');
      expect((await readdir(dir)).sort()).to.deep.equal(['captured', 'stdout']);
      expect(await readlink(link)).to.equal(`/proc/self/fd/${fd}`);
    } finally {
      closeSync(fd);
    }
  });

  it('a Unix stream socket is connected to and written to', async () => {
    const sock = join(dir, 'sock');
    const received: Buffer[] = [];
    const server: Server = createServer((c) => c.on('data', (d: Buffer) => received.push(d)));
    await new Promise<void>((res) => server.listen(sock, res));
    try {
      const exp = exporter(sock);
      await start(exp);
      for (let i = 0; i < 5; i++) await exp.consume(sampleEvents(1));
      await waitFor(() => Buffer.concat(received).toString('utf8').split('\n').length === 6, 'five lines at the socket');
      expect(Buffer.concat(received).toString('utf8')).to.equal((encodeEventsJson(sampleEvents(1)) + '\n').repeat(5));
      expect(fileStatus(exp)).to.include({ kind: 'socket', rotations: 0 });
      await exp.shutdown(never());
      expect(await readdir(dir)).to.deep.equal(['sock']);
      expect((await lstat(sock)).isSocket()).to.equal(true);
    } finally {
      await new Promise((res) => server.close(res));
    }
  });

  it('a symlink to a regular file: the file rotates beside its target, the link stays', async () => {
    const link = join(dir, 'out.jsonl');
    await symlink('real.jsonl', link);
    const exp = exporter(link);
    await start(exp);
    for (let i = 0; i < 4; i++) await exp.consume(sampleEvents(1)); // one ~300-byte line per file at a 200-byte limit
    await exp.shutdown(never());
    expect((await readdir(dir)).sort()).to.deep.equal(['out.jsonl', 'real.jsonl', 'real.jsonl.1', 'real.jsonl.2']);
    expect(await readlink(link)).to.equal('real.jsonl');
    expect(await readFile(join(dir, 'real.jsonl'), 'utf8')).to.equal(encodeEventsJson(sampleEvents(1)) + '\n');
    expect(fileStatus(exp)).to.include({ kind: 'file', rotations: 3 });
  });

  it('a regular file replaced by a device node between rotations is not renamed', async () => {
    const path = join(dir, 'out');
    const exp = exporter(path);
    await start(exp);
    await exp.consume(sampleEvents(1));
    await rm(path);
    execFileSync('mknod', [path, 'c', '1', '3']);
    for (let i = 0; i < 5; i++) await exp.consume(sampleEvents(1));
    await exp.shutdown(never());
    expect((await readdir(dir)).sort()).to.deep.equal(['out']);
    expect((await lstat(path)).isCharacterDevice()).to.equal(true);
  });
});
