/**
 * What the fleet-wide aggregation (scope: cluster, docs/cluster.md) puts on
 * the wire, shared by every component that publishes partials (metricsets,
 * statsd): the partition of a series, the message envelope, attribute values
 * in JSON without losing their type (a bigint stays a bigint, "1" stays
 * distinct from 1: semantics.md §1).
 *
 * Pure: no NATS code (that is src/cluster/fleet.ts, loaded with the cluster).
 */
import type { AttrValue, Attributes, KvList } from '../model/metrics.js';
import { hash53 } from '../sketch/hash.js';

/** The partition of a series: a hash of (set or namespace, metric, group key) into `partitions`. */
export function partitionOf(partitions: number, ...parts: string[]): number {
  return hash53(parts.join('\u0000'), 0x51ed) % partitions;
}

/** One message: the partials of one publisher for one window and one partition (chunk i of n). */
export interface Envelope {
  v: 1;
  /** component id (e.g. metricsets/fleet) */
  c: string;
  /** publisher node id */
  pub: string;
  /** the first window this publisher's run closes (windows before it are not expected from it) */
  from: number;
  /** window index: [k·P, (k+1)·P) */
  k: number;
  /** period in ms (a publisher with another period is refused, counted) */
  P: number;
  p: number;
  i: number;
  n: number;
  /** the component's entries */
  e: unknown[];
}

/** the bytes a message may take (NATS' default max_payload is 1 MiB; room for headers) */
const MAX_MESSAGE_BYTES = 900 * 1024;

/** JSON-encoded entries of one partition, split into chunks under MAX_MESSAGE_BYTES each (at least one, possibly empty). */
export function chunkEntries(entries: string[], maxBytes = MAX_MESSAGE_BYTES): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let bytes = 0;
  for (const e of entries) {
    const b = Buffer.byteLength(e);
    if (cur.length > 0 && bytes + b > maxBytes) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(e);
    bytes += b + 1;
  }
  out.push(cur);
  return out;
}

/** The message bytes of one chunk: entries are already JSON (so they are encoded once). */
export function encodeEnvelope(head: Omit<Envelope, 'e' | 'v'>, entriesJson: string[]): Uint8Array {
  return Buffer.from(
    `{"v":1,"c":${JSON.stringify(head.c)},"pub":${JSON.stringify(head.pub)},"from":${head.from},"k":${head.k},"P":${head.P},"p":${head.p},"i":${head.i},"n":${head.n},"e":[${entriesJson.join(',')}]}`,
  );
}

/** Parse a message; throws with the reason when it is not one of ours. */
export function decodeEnvelope(data: Uint8Array): Envelope {
  const o = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as Partial<Envelope>;
  if (o === null || typeof o !== 'object' || o.v !== 1) throw new Error('not a version 1 partial');
  for (const f of ['from', 'k', 'P', 'p', 'i', 'n'] as const)
    if (typeof o[f] !== 'number' || !Number.isFinite(o[f])) throw new Error(`partial field ${f} is not a number`);
  if (typeof o.c !== 'string' || typeof o.pub !== 'string' || !Array.isArray(o.e)) throw new Error('partial lacks c, pub or e');
  if (o.i! < 0 || o.i! >= o.n!) throw new Error(`partial chunk ${o.i} of ${o.n}`);
  return o as Envelope;
}

/** The message id JetStream deduplicates on: a resend of the same chunk is a no-op. */
export function messageId(e: Pick<Envelope, 'c' | 'pub' | 'k' | 'p' | 'i'>): string {
  return `${e.c}|${e.pub}|${e.k}|${e.p}|${e.i}`;
}

type Wire = string | boolean | null | number | { n: string } | { i: string } | { x: string } | { a: Wire[] } | { o: Record<string, Wire> };

/** An attribute value as JSON, keeping its type. */
export function valueToWire(v: AttrValue): Wire {
  if (typeof v === 'string' || typeof v === 'boolean' || v === null) return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : { n: String(v) };
  if (typeof v === 'bigint') return { i: v.toString() };
  if (v instanceof Uint8Array) return { x: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return { a: v.map(valueToWire) };
  const o: Record<string, Wire> = {};
  for (const k of Object.keys(v)) o[k] = valueToWire((v as KvList)[k]!);
  return { o };
}

export function valueFromWire(w: unknown): AttrValue {
  if (typeof w === 'string' || typeof w === 'boolean' || typeof w === 'number' || w === null) return w;
  if (typeof w !== 'object') throw new Error(`attribute value ${String(w)}`);
  const o = w as Record<string, unknown>;
  if (typeof o.n === 'string') return Number(o.n);
  if (typeof o.i === 'string') return BigInt(o.i);
  if (typeof o.x === 'string') return new Uint8Array(Buffer.from(o.x, 'base64'));
  if (Array.isArray(o.a)) return o.a.map(valueFromWire);
  if (o.o !== null && typeof o.o === 'object') {
    const out: KvList = {};
    for (const [k, x] of Object.entries(o.o as Record<string, unknown>)) if (k !== '__proto__') out[k] = valueFromWire(x);
    return out;
  }
  throw new Error('unknown attribute value encoding');
}

export function attrsToWire(a: Attributes): Record<string, Wire> {
  const o: Record<string, Wire> = {};
  for (const k of Object.keys(a)) o[k] = valueToWire(a[k]!);
  return o;
}

export function attrsFromWire(w: unknown): Attributes {
  if (w === null || typeof w !== 'object' || Array.isArray(w)) throw new Error('attributes are not an object');
  const out: Attributes = {};
  for (const [k, x] of Object.entries(w as Record<string, unknown>)) if (k !== '__proto__') out[k] = valueFromWire(x);
  return out;
}
