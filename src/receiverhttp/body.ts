/**
 * Request bodies for the HTTP receivers: read under a size limit (declared
 * by Content-Length, or counted as chunks arrive), undo Content-Encoding
 * (gzip, deflate: zlib-wrapped or raw) with the decompressed size under the
 * same limit, and read UTF-8 text with the offset of the first bad byte.
 * Failures come back as values (status, message, counter reason) for the
 * receiver to answer in its own body shape; the HttpReceiver exchange
 * (receiver.ts) does that for you.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import { invalidUtf8Offset, isGzip, isZlibWrapped, type BodyEncoding } from './negotiate.js';

/** After a 413 the rest of the body is read and dropped up to this much (so the client sees the answer), then the connection is cut. */
const DISCARD_CAP = 4 * 1024 * 1024;

export interface BodyFailure {
  ok: false;
  status: number;
  error: string;
  reason: string;
}
export type BodyResult = { ok: true; body: Buffer } | BodyFailure;
export type TextResult = { ok: true; text: string } | BodyFailure;

/** What a body read resolves with when the client went away mid-body: nothing can be answered. */
export const ABORTED: BodyFailure = { ok: false, status: 400, error: 'request aborted', reason: 'aborted' };

function tooLarge(max: number, declared?: string): BodyFailure {
  return {
    ok: false,
    status: 413,
    reason: 'too_large',
    error:
      declared === undefined
        ? `request body exceeds max_request_body_size (${max} bytes)`
        : `request body of ${declared} bytes exceeds max_request_body_size (${max} bytes)`,
  };
}

/** One body being read (the listeners below take no per-request closures). */
interface Reading {
  max: number;
  chunks: Buffer[];
  size: number;
  done: boolean;
  resolve: (r: BodyResult) => void;
}
const kReading = Symbol('receiverhttp.reading');
type ReadingRequest = IncomingMessage & { [kReading]?: Reading };

function onData(this: ReadingRequest, chunk: Buffer): void {
  const r = this[kReading] as Reading;
  r.size += chunk.length;
  if (r.done) {
    if (r.size > r.max + DISCARD_CAP) this.socket?.destroy();
    return;
  }
  if (r.size > r.max) {
    r.done = true;
    r.chunks = [];
    r.resolve(tooLarge(r.max));
    return;
  }
  r.chunks.push(chunk);
}

function onEnd(this: ReadingRequest): void {
  const r = this[kReading] as Reading;
  this[kReading] = undefined;
  if (r.done) return;
  r.done = true;
  const body = r.chunks.length === 1 ? (r.chunks[0] as Buffer) : Buffer.concat(r.chunks, r.size);
  r.chunks = [];
  r.resolve({ ok: true, body });
}

/** 'error' or 'close' before 'end': the client went away mid-body */
function onError(this: ReadingRequest): void {
  const r = this[kReading];
  if (r === undefined || r.done) return;
  r.done = true;
  r.chunks = [];
  r.resolve(ABORTED);
}

/**
 * Collect the raw body. Over `max` bytes → 413 `too_large`: a declared
 * Content-Length is refused unread (the connection is closed when dropping
 * the rest would cost more than DISCARD_CAP), a chunked one as soon as the
 * limit is passed (the rest is read and dropped up to DISCARD_CAP, then the
 * connection is cut). A client gone mid-body → ABORTED.
 */
export function readBody(req: IncomingMessage, res: ServerResponse, max: number): Promise<BodyResult> {
  const cl = req.headers['content-length'];
  if (cl !== undefined && Number(cl) > max) {
    if (Number(cl) - max > DISCARD_CAP) res.shouldKeepAlive = false;
    req.resume();
    return Promise.resolve(tooLarge(max, cl));
  }
  return new Promise((resolve) => {
    (req as ReadingRequest)[kReading] = { max, chunks: [], size: 0, done: false, resolve };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onError);
  });
}

/**
 * Undo a Content-Encoding: gzip (also when the body carries the gzip magic
 * under another label), deflate (zlib-wrapped or raw, told apart by the
 * body). The output is limited to `max` bytes (zlib fails with
 * ERR_BUFFER_TOO_LARGE beyond it).
 */
export function inflate(body: Buffer, encoding: 'gzip' | 'deflate', max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const cb = (err: Error | null, out: Buffer) => (err ? reject(err) : resolve(out));
    const opts = { maxOutputLength: max };
    if (encoding === 'gzip' || isGzip(body)) zlib.gunzip(body, opts, cb);
    else if (isZlibWrapped(body)) zlib.inflate(body, opts, cb);
    else zlib.inflateRaw(body, opts, cb);
  });
}

/** The body with its Content-Encoding undone: 413 `too_large` beyond `max` decompressed bytes, 400 `decompression_failed` when corrupt. */
export async function decodeBody(raw: Buffer, encoding: BodyEncoding, max: number): Promise<BodyResult> {
  if (encoding === 'identity' || raw.length === 0) return { ok: true, body: raw };
  try {
    return { ok: true, body: await inflate(raw, encoding, max) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      return { ok: false, status: 413, error: `decompressed request body exceeds max_request_body_size (${max} bytes)`, reason: 'too_large' };
    return { ok: false, status: 400, error: `cannot decompress ${encoding} body: ${(err as Error).message}`, reason: 'decompression_failed' };
  }
}

/** The body as UTF-8 text without a leading BOM; 400 `invalid_utf8` naming the byte offset (`where` follows it, e.g. " of the decompressed body"). */
/**
 * The body as a JSON object, or undefined when it is not one (invalid JSON,
 * an array, a scalar). The parser's own message is dropped on purpose: it
 * quotes the body, which may hold secrets, and is never echoed to a client.
 */
export function jsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function utf8Text(body: Buffer, where = ''): TextResult {
  const b = utf8Bytes(body, where);
  return b.ok ? { ok: true, text: b.body.toString('utf8') } : b;
}

/**
 * The body checked as UTF-8, without a leading BOM, still as bytes: for
 * parsers that decode it piece by piece (a string of more than 128 KiB is a
 * V8 large object, about 40 times as costly to make as one just below).
 */
export function utf8Bytes(body: Buffer, where = ''): BodyResult {
  if (!isUtf8(body)) return { ok: false, status: 400, error: `invalid UTF-8 at byte offset ${invalidUtf8Offset(body)}${where}`, reason: 'invalid_utf8' };
  return { ok: true, body: body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? body.subarray(3) : body };
}

/**
 * For a request answered before its body was read: drop the body as it
 * arrives, and ask for the connection to be closed after the answer when
 * that body is large (over DISCARD_CAP) or of unknown length.
 */
export function skipBody(req: IncomingMessage, res: ServerResponse): void {
  const cl = req.headers['content-length'];
  if (cl === undefined ? req.headers['transfer-encoding'] !== undefined : Number(cl) > DISCARD_CAP) res.shouldKeepAlive = false;
  req.resume();
}
