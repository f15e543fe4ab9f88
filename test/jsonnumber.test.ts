/**
 * readJsonNumber (src/jsonnumber.ts), the byte-level JSON number reader of
 * the OTLP JSON fast path and the Datadog series reader, against JSON.parse:
 * the same value (to the bit) for every number JSON.parse accepts, NaN with
 * the position unchanged for what it rejects, and the position after the
 * number wherever the number ends (a delimiter, or the end of the bytes).
 */
import { expect } from 'chai';
import { readJsonNumber } from '../src/jsonnumber.js';
import { prng } from './helpers/prng.js';

/** JSON.parse's reading of `text` as a whole number, or undefined when it is not one */
function oracle(text: string): number | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'number' ? v : undefined;
  } catch {
    return undefined;
  }
}

function read(text: string, tail: string, offset = 3): { v: number; pos: number } {
  const buf = Buffer.from('[1,' + text + tail, 'latin1');
  const cur = { pos: offset };
  return { v: readJsonNumber(buf, buf.length, cur), pos: cur.pos };
}

/** the longest prefix of `text` that JSON.parse reads as a number (what a scanner reads before the next token) */
function numberPrefix(text: string): string | undefined {
  for (let n = text.length; n > 0; n--) if (oracle(text.slice(0, n)) !== undefined && !/\s$/.test(text.slice(0, n))) return text.slice(0, n);
  return undefined;
}

const FIXED = [
  '0',
  '-0',
  '7',
  '-7',
  '0.5',
  '-0.5',
  '123456789012345', // 15 digits: exact from the digits
  '1234567890123456', // 16: through Number()
  '9007199254740993', // 2^53 + 1: rounds as JSON.parse does
  '0.1',
  '0.30000000000000004',
  '1e3',
  '1E+3',
  '1e-7',
  '-1.5e-7',
  '1e308',
  '1e309', // Infinity, as JSON.parse reads it
  '123.456e2',
  '0.000000000000001',
  '99999999999999.9',
];
const BAD = ['-', '+1', '.5', '01', '-01', '1.', '1.e3', '1e', '1e+', '-a', 'x', '', '00'];

describe('readJsonNumber: a JSON number from bytes, as JSON.parse reads it', () => {
  it('fixed cases, followed by each delimiter and by the end of the bytes', () => {
    for (const t of FIXED) {
      for (const tail of [',', ']', '}', ' ', '\n', '']) {
        const r = read(t, tail);
        expect(Object.is(r.v, oracle(t)), `${t} then ${JSON.stringify(tail)}: ${r.v} vs ${oracle(t)}`).to.equal(true);
        expect(r.pos, t).to.equal(3 + t.length);
      }
    }
  });

  it('rejects what JSON.parse rejects with NaN, the position unchanged', () => {
    for (const t of BAD) {
      for (const tail of [',', '']) {
        const r = read(t, tail);
        // a leading-zero number: the scanner reads "0" and then sees a digit, which is no JSON
        expect(Number.isNaN(r.v), `${JSON.stringify(t + tail)} gave ${r.v}`).to.equal(true);
        expect(r.pos, t).to.equal(3);
      }
    }
  });

  it('20,000 generated numbers and near-numbers agree with JSON.parse, value and end', () => {
    const rnd = prng(0x6a73_6f6e);
    const pick = (s: string): string => s[Math.floor(rnd() * s.length)]!;
    const digits = (n: number): string => Array.from({ length: n }, () => pick('0123456789')).join('');
    let agreed = 0;
    for (let i = 0; i < 20_000; i++) {
      let t = (rnd() < 0.4 ? '-' : '') + digits(1 + Math.floor(rnd() * 20));
      if (rnd() < 0.5) t += '.' + digits(Math.floor(rnd() * 18));
      if (rnd() < 0.3) t += pick('eE') + (rnd() < 0.6 ? pick('+-') : '') + digits(Math.floor(rnd() * 4));
      if (rnd() < 0.05) t = t.slice(0, Math.floor(rnd() * t.length)); // cut anywhere
      const tail = pick(',]} ');
      const r = read(t, tail);
      const want = oracle(t);
      if (want === undefined) {
        // not a whole JSON number: either NaN, or a number that ends earlier (never past the text)
        if (!Number.isNaN(r.v)) {
          const prefix = numberPrefix(t);
          expect(prefix, `${t}: read ${r.v} where JSON.parse reads no number`).to.not.equal(undefined);
          expect(r.pos - 3, t).to.be.at.most(t.length);
        }
      } else {
        expect(Object.is(r.v, want), `${t}: ${r.v} vs JSON.parse ${want}`).to.equal(true);
        expect(r.pos, t).to.equal(3 + t.length);
        agreed++;
      }
    }
    expect(agreed).to.be.greaterThan(15_000);
  });
});
