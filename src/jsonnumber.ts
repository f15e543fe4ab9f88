/**
 * A JSON number read straight from bytes, as `JSON.parse` reads it, for the
 * byte-level scanners (the OTLP JSON fast path, the Datadog series reader):
 * no string is made for the common case of at most 15 significant digits and
 * no exponent, which is computed exactly from the digits; anything else is
 * handed to `Number()` over its latin1 text, which rounds as `JSON.parse`
 * does.
 */

const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/** The read position of a scanner: where a number starts, and after it where it ended. */
export interface ByteCursor {
  pos: number;
}

/**
 * The JSON number at `cur.pos` in `buf` (bytes before `end`), and `cur.pos`
 * moved past it; NaN, with `cur.pos` unchanged, when the bytes there are not a
 * JSON number (a leading zero followed by a digit, a missing digit after `-`,
 * `.` or the exponent, anything else). JSON has no NaN, so NaN only ever
 * means "not a number here".
 */
export function readJsonNumber(buf: Buffer, end: number, cur: ByteCursor): number {
  const start = cur.pos;
  let p = start;
  let neg = false;
  // a read past `end` gives -1 (not undefined: V8 compiles the loads for it, slower)
  let c = p < end ? (buf[p] as number) : -1;
  if (c === MINUS) {
    neg = true;
    c = ++p < end ? (buf[p] as number) : -1;
  }
  let m = 0;
  let digits = 0;
  if (c === ZERO) {
    c = ++p < end ? (buf[p] as number) : -1;
    if (c >= ZERO && c <= NINE) return NaN;
  } else if (c > ZERO && c <= NINE) {
    do {
      m = m * 10 + (c - ZERO);
      digits++;
      c = ++p < end ? (buf[p] as number) : -1;
    } while (c >= ZERO && c <= NINE);
  } else return NaN;
  let frac = 0;
  if (c === DOT) {
    c = ++p < end ? (buf[p] as number) : -1;
    if (c < ZERO || c > NINE) return NaN;
    do {
      m = m * 10 + (c - ZERO);
      frac++;
      c = ++p < end ? (buf[p] as number) : -1;
    } while (c >= ZERO && c <= NINE);
  }
  let exact = digits + frac <= 15;
  if (c === 0x65 || c === 0x45) {
    exact = false;
    c = ++p < end ? (buf[p] as number) : -1;
    if (c === PLUS || c === MINUS) c = ++p < end ? (buf[p] as number) : -1;
    if (c < ZERO || c > NINE) return NaN;
    do c = ++p < end ? (buf[p] as number) : -1;
    while (c >= ZERO && c <= NINE);
  }
  cur.pos = p;
  if (!exact) return Number(latin1Slice.call(buf, start, p));
  const v = frac === 0 ? m : m / (POW10[frac] as number);
  return neg ? -v : v;
}

type SliceFn = (this: Buffer, start: number, end: number) => string;
/** Buffer's own latin1 slice (what `toString('latin1', …)` calls after its checks), or that as a fallback */
const latin1Slice: SliceFn =
  (Buffer.prototype as unknown as { latin1Slice?: SliceFn }).latin1Slice ??
  function (this: Buffer, start: number, end: number): string {
    return this.toString('latin1', start, end);
  };
