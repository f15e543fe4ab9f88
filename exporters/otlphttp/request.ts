/**
 * Pure translation for otlphttp: a batch → request body and headers, and a
 * response body → partial success / error message. No I/O.
 */
import { gzipSync } from 'node:zlib';
import type { MetricsBatch } from '../../src/model/index.js';
import { encodeMetricsJson } from '../../src/otlp/json.js';
import { encodeMetricsProto } from '../../src/otlp/proto.js';

export type Encoding = 'proto' | 'json';
export type Compression = 'gzip' | 'none';

const CONTENT_TYPES: Record<Encoding, string> = { proto: 'application/x-protobuf', json: 'application/json' };
const USER_AGENT = 'metricport';

export interface EncodedRequest {
  body: Buffer;
  headers: Record<string, string>;
  /** body size before compression */
  rawBytes: number;
}

export function buildMetricsRequest(batch: MetricsBatch, opts: { encoding: Encoding; compression: Compression }): EncodedRequest {
  const raw = opts.encoding === 'json' ? Buffer.from(encodeMetricsJson(batch), 'utf8') : toBuffer(encodeMetricsProto(batch));
  const headers: Record<string, string> = { 'Content-Type': CONTENT_TYPES[opts.encoding], 'User-Agent': USER_AGENT };
  let body = raw;
  if (opts.compression === 'gzip') {
    body = gzipSync(raw);
    headers['Content-Encoding'] = 'gzip';
  }
  return { body, headers, rawBytes: raw.length };
}

function toBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

// --- minimal protobuf reading for the two small response messages -------------

interface ProtoField {
  no: number;
  varint?: bigint;
  bytes?: Buffer;
}

function readVarint(buf: Buffer, pos: { i: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (let n = 0; n < 10; n++) {
    if (pos.i >= buf.length) throw new Error('truncated varint');
    const b = buf[pos.i++] as number;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return result;
    shift += 7n;
  }
  throw new Error('varint too long');
}

function readFields(buf: Buffer): ProtoField[] {
  const out: ProtoField[] = [];
  const pos = { i: 0 };
  while (pos.i < buf.length) {
    const key = Number(readVarint(buf, pos));
    const no = key >>> 3;
    const wt = key & 7;
    switch (wt) {
      case 0:
        out.push({ no, varint: readVarint(buf, pos) });
        break;
      case 1:
        pos.i += 8;
        break;
      case 5:
        pos.i += 4;
        break;
      case 2: {
        const len = Number(readVarint(buf, pos));
        if (pos.i + len > buf.length) throw new Error('truncated field');
        out.push({ no, bytes: buf.subarray(pos.i, pos.i + len) });
        pos.i += len;
        break;
      }
      default:
        throw new Error(`unsupported wire type ${wt}`);
    }
    if (pos.i > buf.length) throw new Error('truncated field');
  }
  return out;
}

/** Signed int64 from a varint (two's complement). */
function int64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}

export interface PartialSuccess {
  rejected: number;
  message: string;
}

function isJson(body: Buffer, contentType: string | undefined): boolean {
  if (contentType !== undefined && /json/i.test(contentType)) return true;
  if (contentType !== undefined && /protobuf/i.test(contentType)) return false;
  const first = body.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  return first === 0x7b; // '{'
}

function toCount(v: unknown): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.max(0, Math.floor(v));
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Math.max(0, Number(v.trim()));
  return 0;
}

/**
 * A 2xx ExportMetricsServiceResponse → rejected data points and the server's
 * message (both 0/'' for full success or an unreadable body).
 */
export function parseExportResponse(body: Buffer, contentType: string | undefined): PartialSuccess {
  const none = { rejected: 0, message: '' };
  if (body.length === 0) return none;
  try {
    if (isJson(body, contentType)) {
      const o = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      const ps = (o?.partialSuccess ?? o?.partial_success) as Record<string, unknown> | undefined;
      if (ps === undefined || ps === null || typeof ps !== 'object') return none;
      const rejected = toCount(ps.rejectedDataPoints ?? ps.rejected_data_points);
      const msg = ps.errorMessage ?? ps.error_message;
      return { rejected, message: typeof msg === 'string' ? msg : '' };
    }
    let rejected = 0;
    let message = '';
    for (const f of readFields(body)) {
      if (f.no !== 1 || f.bytes === undefined) continue;
      for (const g of readFields(f.bytes)) {
        if (g.no === 1 && g.varint !== undefined) {
          const n = int64(g.varint);
          rejected = n > 0n ? Number(n) : 0;
        }
        if (g.no === 2 && g.bytes !== undefined) message = g.bytes.toString('utf8');
      }
    }
    return { rejected, message };
  } catch {
    return none;
  }
}

/** The message of a google.rpc.Status error body (JSON or proto), if readable. */
export function parseStatusMessage(body: Buffer, contentType: string | undefined): string | undefined {
  if (body.length === 0) return undefined;
  try {
    if (isJson(body, contentType)) {
      const o = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      return typeof o?.message === 'string' ? o.message : undefined;
    }
    if (contentType !== undefined && !/protobuf/i.test(contentType)) return body.toString('utf8').slice(0, 500);
    for (const f of readFields(body)) if (f.no === 2 && f.bytes !== undefined) return f.bytes.toString('utf8');
  } catch {
    /* unreadable */
  }
  return undefined;
}
