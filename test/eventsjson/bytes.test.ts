/**
 * parseErrorsBytes (issue 19): a large NDJSON body is decoded and parsed in
 * blocks of whole lines (a string over 128 KiB is a V8 large object, ~40×
 * as costly to make), and must give exactly what parseErrorsBody gives for
 * the whole text: the same events, rejections (index, line, reason) and
 * errors, whatever falls on a block's edge (blank lines, a line longer than a
 * block, a value spread over lines, multi-byte characters, trailing spaces).
 */
import { expect } from 'chai';
import { bytesPath, parseErrorsBody, parseErrorsBytes } from '../../src/eventsjson/parse.js';
import { prng } from '../helpers/prng.js';

const LIM = { maxEvents: 5000, maxAttributes: 8, maxValueLength: 200_000, maxKeyLength: 32 };
const ARRIVAL = 1_700_000_000_000_000_000n;
/** the block size of src/eventsjson/parse.ts */
const BLOCK = 48 * 1024;

const WORDS = ['a', 'crash', 'ünïcødé', '日本語', '𝄞 clef', 'tab\tin', 'q"uote', 'back\\slash', ''];

function line(r: () => number, i: number): string {
  const attrs: Record<string, unknown> = { _tx: `tx-${i}`, guid: `u-${Math.floor(r() * 100)}`, w: WORDS[Math.floor(r() * WORDS.length)] };
  if (r() < 0.1) attrs.n = Math.floor(r() * 1000) - 500;
  if (r() < 0.05) attrs.ok = r() < 0.5;
  const e: Record<string, unknown> = { attributes: attrs };
  if (r() < 0.7) e.timestamp = r() < 0.5 ? '2024-05-01T12:00:00.123Z' : 1_714_564_800_123;
  // rejected events (their index and line are in the result): an unknown field, a value of the wrong type
  if (r() < 0.02) e.oops = 1;
  if (r() < 0.02) attrs.list = [1];
  return JSON.stringify(e);
}

function ndjson(seed: number, n: number): string[] {
  const r = prng(seed);
  return Array.from({ length: n }, (_, i) => line(r, i));
}

/** parseErrorsBytes = parseErrorsBody; which path it took */
function same(text: string, ndjsonType = true): 'blocks' | 'whole' {
  const want = parseErrorsBody(text, ARRIVAL, LIM, ndjsonType);
  const before = bytesPath.blocks;
  const got = parseErrorsBytes(Buffer.from(text, 'utf8'), ARRIVAL, LIM, ndjsonType);
  expect(got).to.deep.equal(want);
  return bytesPath.blocks > before ? 'blocks' : 'whole';
}

/** the byte offsets of the line ends near `at` (± k lines) */
function endsNear(text: string, at: number, k: number): number[] {
  const b = Buffer.from(text, 'utf8');
  const out: number[] = [];
  let p = b.lastIndexOf(10, at);
  for (let i = 0; i < k && p > 0; i++, p = b.lastIndexOf(10, p - 1)) out.push(p);
  p = b.indexOf(10, at);
  for (let i = 0; i < k && p >= 0; i++, p = b.indexOf(10, p + 1)) out.push(p);
  return out;
}

/** insert `s` at byte offset `at` of `text` */
function insertAt(text: string, at: number, s: string): string {
  const b = Buffer.from(text, 'utf8');
  return Buffer.concat([b.subarray(0, at), Buffer.from(s, 'utf8'), b.subarray(at)]).toString('utf8');
}

describe('errors receiver: large NDJSON bodies parsed in blocks (parseErrorsBytes = parseErrorsBody)', () => {
  it('clean bodies of 1 to 3,000 lines, with and without a final newline, CRLF, as NDJSON or untyped', () => {
    for (const n of [1, 2, 300, 1000, 3000]) {
      const lines = ndjson(n, n);
      for (const text of [lines.join('\n'), lines.join('\n') + '\n', lines.join('\r\n') + '\r\n\n  \n']) {
        // a body over a block is read in blocks, a smaller one whole
        const path = Buffer.byteLength(text) > BLOCK ? 'blocks' : 'whole';
        expect(same(text, true)).to.equal(path);
        expect(same(text, false)).to.equal(path);
      }
    }
    const big = parseErrorsBytes(Buffer.from(ndjson(7, 3000).join('\n') + '\n'), ARRIVAL, LIM, true);
    expect(big.events.length + big.rejected).to.equal(3000);
    expect(big.rejected).to.be.within(60, 180);
    expect(big.rejections[0]!.line).to.equal(big.rejections[0]!.index + 1);
  });

  it('a blank line, a malformed line or a line split in two at every line end near the first two block edges', () => {
    const text = ndjson(11, 2000).join('\n') + '\n';
    let cases = 0;
    for (const edge of [BLOCK, 2 * BLOCK]) {
      for (const at of endsNear(text, edge, 4)) {
        for (const ins of ['\n', '\n\n', '\n \t\n', '\r\n', '\n{"attributes": {"x": 1}', '\n{"bad json', '\n[1,\n2]', '\n"a string"', '\nnull']) {
          same(insertAt(text, at, ins), true);
          same(insertAt(text, at, ins), false);
          cases++;
        }
      }
    }
    expect(cases).to.be.greaterThan(100);
  });

  it('leading blank lines or spaces, a line longer than a block, multi-byte characters across the edges, trailing NBSP', () => {
    const lines = ndjson(23, 1500);
    const long = JSON.stringify({ attributes: { big: '€'.repeat(70_000) } });
    same('\n' + lines.join('\n'));
    same('   ' + lines.join('\n'));
    same([...lines.slice(0, 200), long, ...lines.slice(200)].join('\n'));
    same([long, ...lines].join('\n'));
    same([...lines, long].join('\n'));
    same(lines.join('\n') + '\u00a0');
    same(lines.join('\n') + '\n\u2028');
    const multi = Array.from({ length: 4000 }, (_, i) => JSON.stringify({ attributes: { _tx: `${i}`, w: '日本語𝄞'.repeat(1 + (i % 5)) } }));
    same(multi.join('\n'));
  });

  it('a line of spaces that is a block of its own (it falls between a block edge and a line longer than a block)', () => {
    const head = ndjson(41, 300).join('\n');
    const prefix = head.slice(0, head.lastIndexOf('\n', BLOCK - 200));
    // a filler event that puts a line end exactly at the block edge: the next block starts with the line of spaces
    const fill = (n: number) => JSON.stringify({ attributes: { f: 'x'.repeat(n) } });
    const filler = fill(BLOCK - Buffer.byteLength(prefix) - 1 - fill(0).length);
    const long = JSON.stringify({ attributes: { big: 'y'.repeat(60_000) } });
    const text = [prefix, filler, '  ', long, '{"late": 1}', ...ndjson(43, 50)].join('\n');
    expect(Buffer.from(text).indexOf('\n  \n')).to.equal(BLOCK);
    expect(same(text)).to.equal('whole');
    const r = parseErrorsBody(text, ARRIVAL, LIM, true);
    expect(r.rejections.find((x) => x.reason.startsWith('unknown field "late"'))?.line).to.equal(text.split('\n').indexOf('{"late": 1}') + 1);
  });

  it('one line over a block: read in one block; a rejection of the only event names no line, as for the whole text', () => {
    const one = JSON.stringify({ attributes: { big: 'z'.repeat(60_000) }, oops: 1 });
    expect(same(one)).to.equal('blocks');
    expect(parseErrorsBytes(Buffer.from(one), ARRIVAL, LIM, true).rejections).to.deep.equal([
      { index: 0, reason: 'unknown field "oops"; an event has "timestamp" and "attributes" (put attributes under "attributes")' },
    ]);
  });

  it('over max_events, a JSON array, one pretty-printed object, random cuts and byte flips', () => {
    const lines = ndjson(31, 6000);
    same(lines.join('\n'));
    same('[' + lines.slice(0, 2000).join(',\n') + ']', false);
    same(JSON.stringify({ attributes: { s: 'x'.repeat(60_000) } }, null, 2), false);
    const r = prng(99);
    const base = lines.slice(0, 1500).join('\n');
    for (let k = 0; k < 60; k++) {
      const b = Buffer.from(base, 'utf8');
      const at = Math.floor(r() * b.length);
      if (k % 3 === 0) same(b.subarray(0, at).toString('utf8'));
      else {
        b[at] = [0x0a, 0x7b, 0x7d, 0x2c, 0x22, 0x20][k % 6]!;
        same(b.toString('utf8'));
      }
    }
  });
});
