/**
 * Request plumbing shared by the `sentry` and `backtrace` receivers: read a
 * body under a size limit (Content-Length and chunked), undo
 * Content-Encoding, answer JSON.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import zlib from 'node:zlib';
import { isGzip, isZlibWrapped, parseContentEncoding } from '../otlp/negotiate.js';

const DISCARD_CAP = 4 * 1024 * 1024;

export type BodyResult = { ok: true; body: Buffer } | { ok: false; status: number; error: string; reason: string };

/** Collect the body; beyond `max` bytes → 413 (the rest of a modestly oversized body is drained, a huge one closes the connection). */
export function readBody(req: IncomingMessage, res: ServerResponse, max: number): Promise<BodyResult> {
  return new Promise((resolve) => {
    const cl = req.headers['content-length'];
    if (cl !== undefined && Number(cl) > max) {
      if (Number(cl) - max > DISCARD_CAP) res.shouldKeepAlive = false;
      req.resume();
      resolve({ ok: false, status: 413, error: `request body of ${cl} bytes exceeds max_request_body_size (${max} bytes)`, reason: 'too_large' });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (done) { if (size > max + DISCARD_CAP) req.socket?.destroy(); return; }
      if (size > max) {
        done = true;
        chunks.length = 0;
        resolve({ ok: false, status: 413, error: `request body exceeds max_request_body_size (${max} bytes)`, reason: 'too_large' });
        return;
      }
      chunks.push(c);
    });
    req.on('error', () => {
      if (done) return;
      done = true;
      resolve({ ok: false, status: 400, error: 'request aborted', reason: 'aborted' });
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve({ ok: true, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    });
  });
}

/** Undo `Content-Encoding` (gzip, deflate); the decompressed size is limited to `max`. */
export async function decodeBody(body: Buffer, header: string | undefined, max: number): Promise<BodyResult> {
  const ce = parseContentEncoding(header);
  if ('error' in ce) return { ok: false, status: 415, error: ce.error, reason: 'unsupported_encoding' };
  if (ce.encoding === 'identity' || body.length === 0) return { ok: true, body };
  try {
    return { ok: true, body: await inflate(body, ce.encoding === 'gzip' || isGzip(body) ? 'gzip' : isZlibWrapped(body) ? 'zlib' : 'raw', max) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return { ok: false, status: 413, error: `decompressed request body exceeds max_request_body_size (${max} bytes)`, reason: 'too_large' };
    return { ok: false, status: 400, error: `cannot decompress ${ce.encoding} body: ${(err as Error).message}`, reason: 'decompression_failed' };
  }
}

export function inflate(body: Buffer, kind: 'gzip' | 'zlib' | 'raw', max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const cb = (err: Error | null, out: Buffer) => (err ? reject(err) : resolve(out));
    const opts = { maxOutputLength: max };
    if (kind === 'gzip') zlib.gunzip(body, opts, cb);
    else if (kind === 'zlib') zlib.inflate(body, opts, cb);
    else zlib.inflateRaw(body, opts, cb);
  });
}

export function sendJson(res: ServerResponse, status: number, text: string, extra?: Record<string, string>): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) };
  if (extra !== undefined) Object.assign(headers, extra);
  res.writeHead(status, headers);
  res.end(text);
}

/** Value of query parameter `name` in a request URL (first occurrence), undefined when absent. */
export function queryParam(url: string, name: string): string | undefined {
  const q = url.indexOf('?');
  if (q < 0) return undefined;
  for (const part of url.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    if (k !== name) continue;
    try { return decodeURIComponent((eq < 0 ? '' : part.slice(eq + 1)).replace(/\+/g, ' ')); } catch { return undefined; }
  }
  return undefined;
}

/** String attribute value, cut to `max` characters (error messages can be long). */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max);
}
