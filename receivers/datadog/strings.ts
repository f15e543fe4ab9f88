/**
 * Short UTF-8 strings decoded once: a client sends the same metric names,
 * tags and hosts in every request, so the decoders (proto.ts, json.ts) look
 * the bytes up here before making a string of them. A hit returns the very
 * string decoded before: no decoding, no allocation, and its hash is already
 * computed for the Map lookups that follow (tag splits, metrics by name,
 * resources by host). Same result as decoding: the cached string is what
 * `Buffer#toString('utf8')` made of the same bytes.
 *
 * Bounded: direct-mapped, SLOTS (8192) entries of at most MAX_BYTES (128)
 * bytes each, so at most 1 MiB of bytes and their strings (a colliding or
 * new string replaces the one in its slot; longer strings are decoded every
 * time).
 */

const BITS = 13;
const SLOTS = 1 << BITS;
const MASK = SLOTS - 1;
/** bytes; longer strings are not cached */
export const MAX_BYTES = 128;

// Buffer's internal slicer skips toString's argument handling; called as a
// method (a `.call` through a saved reference costs more than half again)
type SlicingBuffer = Buffer & { utf8Slice(start: number, end: number): string };
const HAS_UTF8_SLICE = typeof (Buffer.prototype as Partial<SlicingBuffer>).utf8Slice === 'function';

/** `buf[start..end)` as UTF-8, invalid sequences → U+FFFD (as `toString('utf8')`) */
function utf8(buf: Buffer, start: number, end: number): string {
  const b = buf as SlicingBuffer;
  return HAS_UTF8_SLICE ? b.utf8Slice(start, end) : b.toString('utf8', start, end);
}

const keys: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(SLOTS).fill(undefined);
const values: string[] = new Array<string>(SLOTS).fill('');

/**
 * The slot hash of `buf[start..end)`: FNV-1a over the length, the first 4
 * and the last 12 bytes (all of a string up to 16 bytes). Only picks the
 * slot: a hit is checked byte by byte, so strings that differ elsewhere only
 * share a slot (one replaces the other), never a value. Sampled because
 * the full hash was a serial multiply per byte of every string.
 */
function hashBytes(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  let h = Math.imul(0x811c9dc5 ^ len, 0x01000193);
  const head = len < 4 ? end : start + 4;
  for (let i = start; i < head; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
  for (let i = Math.max(head, end - 12); i < end; i++) h = Math.imul(h ^ (buf[i] as number), 0x01000193);
  return h;
}

/** `buf[start..end)` decoded as UTF-8 (`utf8`), from the cache when these bytes were decoded before */
export function cachedUtf8(buf: Buffer, start: number, end: number): string {
  const len = end - start;
  if (len === 0) return '';
  if (len > MAX_BYTES) return utf8(buf, start, end);
  const h = hashBytes(buf, start, end);
  const slot = (h ^ (h >>> BITS) ^ (h >>> (2 * BITS))) & MASK;
  const k = keys[slot];
  if (k !== undefined && k.length === len) {
    let i = 0;
    while (i < len && k[i] === buf[start + i]) i++;
    if (i === len) return values[slot] as string;
  }
  const s = utf8(buf, start, end);
  const copy = new Uint8Array(len);
  for (let i = 0; i < len; i++) copy[i] = buf[start + i] as number;
  keys[slot] = copy;
  values[slot] = s;
  return s;
}

/** for tests: how many slots hold a string, and the bounds */
export function stringCacheStats(): { used: number; slots: number; maxBytes: number } {
  let used = 0;
  for (const k of keys) if (k !== undefined) used++;
  return { used, slots: SLOTS, maxBytes: MAX_BYTES };
}
