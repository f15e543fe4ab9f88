/**
 * Differential tests for the issue 19 (goal 2) ingest optimisations: the
 * current parser and aggregator against frozen copies of the versions before
 * them (./reference/), on many generated lines, well-formed and malformed
 * (mutations, random bytes, UTF-8, CR/LF, packed values, rates, tags,
 * timestamps): the same parse results and rejection reasons, the same sink
 * calls per packet, the same flushed batches, partials and counters.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Aggregator, type AggregatorOptions } from '../../../receivers/statsd/aggregator.js';
import { memberHash, newParsedLine, parseLine, parsePacket, type ParsedLine } from '../../../receivers/statsd/parser.js';
import { hash53 } from '../../../src/sketch/hash.js';
import { Aggregator as RefAggregator } from './reference/aggregator.js';
import * as ref from './reference/parser.js';
import { prng as rng } from '../../helpers/prng.js';

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

const NAMES = ['a', 'api.requests', 'bench.app.metric_7', 'héllo.wörld', 'x y/z', '日本.語', 'a.b.c.d.e.f.g.h', '_e', '_sc', 'T', 'c', 'name-with-dash_1'];
const TYPES = ['c', 'g', 'ms', 'h', 'd', 's', 'x', '', 'mss', 'C', 'msx'];
const NUMS = [
  '1',
  '0',
  '-1',
  '+4.5',
  '3.25',
  '.5',
  '5.',
  '1e3',
  '-2E-2',
  '12345678901234567890',
  '0.000001',
  'abc',
  '',
  '0x10',
  'Infinity',
  'NaN',
  ' 1',
  '1 ',
  '+',
  '-',
  '.',
  '1e',
  '1e+',
  '007',
  '1.5e308',
  '1e400',
];
const MEMBERS = ['u1', 'user@example.com', 'ü', '日本', 'x', '', 'a b', '765', 'é€𝄞'];
const TAGSETS = ['env:prod', 'env:prod,canary', 'b:2,a:1', 'a:1,b:2', 'url:http://x', '', ',', 'a,,b', 'a,', ',a', 'k', 'ключ:значение', 'a:1,a:1'];
const SPECIAL = [':', '|', '@', '#', ',', 'T', '\r', '\n', '_', 'e', '{', 's', 'c', '.', '+', '-', '0', '9', 'E', ' ', 'é', '\u0000'];

/** one line from the grammar (mostly well-formed) */
function genLine(r: () => number): string {
  const type = r() < 0.9 ? pick(r, ['c', 'g', 'ms', 'h', 'd', 's']) : pick(r, TYPES);
  const nv = r() < 0.8 ? 1 : 1 + Math.floor(r() * 4);
  const vals: string[] = [];
  for (let i = 0; i < nv; i++) vals.push(type === 's' ? pick(r, MEMBERS) : r() < 0.7 ? String(Math.floor(r() * 1000) / (r() < 0.5 ? 1 : 8)) : pick(r, NUMS));
  let line = `${pick(r, NAMES)}:${vals.join(':')}|${type}`;
  const fields = Math.floor(r() * 4);
  for (let i = 0; i < fields; i++) {
    const f = Math.floor(r() * 7);
    if (f === 0) line += `|@${pick(r, ['0.5', '1', '0.1', '0', '2', '-1', 'x', '', '1e-1'])}`;
    else if (f === 1 || f === 2) line += `|#${pick(r, TAGSETS)}`;
    else if (f === 3) line += `|T${pick(r, ['1700000000', '0', '-5', '1.5', 'x', '', '17e8'])}`;
    else if (f === 4) line += `|c:${pick(r, ['abc123', ''])}`;
    else if (f === 5) line += `|${pick(r, ['e:it-false', 'card:low', '', 'zzz'])}`;
    else line += '|';
  }
  if (r() < 0.1) line += '\r';
  if (r() < 0.05) line = pick(r, ['_e{5,4}:title|text', '_sc|check|0', '_sc', '_e{', '_e', '_sc|']) + (r() < 0.5 ? '' : line);
  return line;
}

/** a mutation: some characters replaced, inserted or deleted */
function mutate(r: () => number, s: string): string {
  const chars = s.split(''); // UTF-16 units: a mutation may leave a lone surrogate (decoded as U+FFFD)
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(r() * (chars.length + 1));
    const op = r();
    if (op < 0.4) chars.splice(at, 1, pick(r, SPECIAL));
    else if (op < 0.7) chars.splice(at, 0, pick(r, SPECIAL));
    else chars.splice(at, 1);
  }
  return chars.join('');
}

function lines(seed: number, n: number): string[] {
  const r = rng(seed);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let l = genLine(r);
    if (r() < 0.35) l = mutate(r, l);
    out.push(l);
  }
  return out;
}

/** everything a sink can read from a parsed line */
function snapshot(l: ParsedLine | ref.ParsedLine): Record<string, unknown> {
  return {
    name: l.name,
    tags: l.tags,
    type: l.type,
    count: l.count,
    values: l.type === 's' ? [] : l.values.slice(0, l.count),
    members: l.type === 's' ? l.members.slice(0, l.count) : [],
    deltas: l.type === 'g' ? l.deltas.slice(0, l.count) : [],
    sampleRate: l.sampleRate,
    timestamp: l.timestamp,
    nameStart: l.nameStart,
    nameEnd: l.nameEnd,
    tagsStart: l.tagsStart,
    tagsEnd: l.tagsEnd,
  };
}

function parseBoth(s: string | Buffer): { cur: unknown[]; old: unknown[] } {
  const calls = (p: typeof parsePacket | typeof ref.parsePacket, out: ParsedLine | ref.ParsedLine): unknown[] => {
    const got: unknown[] = [];
    (p as (x: string | Buffer, o: unknown, sink: unknown) => void)(s, out, {
      line: (l: ParsedLine) => got.push(snapshot(l)),
      bad: (reason: string, _b: Buffer, a: number, b: number) => got.push({ bad: reason, a, b }),
    });
    return got;
  };
  return { cur: calls(parsePacket, newParsedLine()), old: calls(ref.parsePacket, ref.newParsedLine()) };
}

describe('statsd differential: current parser = the reference (before the optimisations)', () => {
  it('the same result or rejection for 60,000 generated lines (35 % mutated)', () => {
    const cur = newParsedLine();
    const old = ref.newParsedLine();
    const reasons = new Map<string, number>();
    for (const l of lines(19, 60_000)) {
      const a = parseLine(l, 0, l.length, cur);
      const b = ref.parseLine(l, 0, l.length, old);
      expect(a, JSON.stringify(l)).to.equal(b);
      reasons.set(a ?? 'ok', (reasons.get(a ?? 'ok') ?? 0) + 1);
      if (a === undefined) expect(snapshot(cur), JSON.stringify(l)).to.deep.equal(snapshot(old));
    }
    // the generator reaches every outcome
    for (const r of ['ok', ...ref.BAD_LINE_REASONS]) expect(reasons.get(r) ?? 0, r).to.be.greaterThan(10);
  });

  it('the same sink calls for 3,000 generated packets (LF and CRLF, empty lines, up to 30 lines)', () => {
    const r = rng(7);
    const all = lines(8, 40_000);
    let k = 0;
    for (let p = 0; p < 3000; p++) {
      const n = 1 + Math.floor(r() * 30);
      const parts: string[] = [];
      for (let i = 0; i < n; i++) parts.push(r() < 0.05 ? pick(r, ['', '\r']) : (all[k++ % all.length] as string));
      const text = parts.join(r() < 0.3 ? '\r\n' : '\n') + (r() < 0.2 ? '\n' : '');
      const s = r() < 0.5 ? text : Buffer.from(text, 'utf8');
      const { cur, old } = parseBoth(s);
      expect(cur, JSON.stringify(text)).to.deep.equal(old);
    }
  });

  it('the same sink calls for arbitrary strings and bytes (fast-check)', () => {
    const alphabet = fc.constantFrom(...SPECIAL, 'a', 'b', '1', 'g', 'm', 'h', 'd', '#', '日');
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 60 }), (cs) => {
        const text = cs.join('');
        const { cur, old } = parseBoth(text);
        expect(cur).to.deep.equal(old);
      }),
      { numRuns: 20_000, seed: 42 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (u) => {
        const { cur, old } = parseBoth(Buffer.from(u));
        expect(cur).to.deep.equal(old);
      }),
      { numRuns: 5_000, seed: 43 },
    );
  });

  it('memberHash is hash53 of the member as a string (ASCII from the bytes, anything else decoded)', () => {
    const l = newParsedLine();
    const members = ['', 'a', 'ab', 'abc', 'user@example.com', 'ü', 'aü', 'üa', '日本語', 'é€𝄞', 'x'.repeat(101), '\u007f', 'a\u0080'];
    const r = rng(3);
    for (let i = 0; i < 2000; i++) {
      let m = '';
      const n = Math.floor(r() * 24);
      for (let j = 0; j < n; j++) m += String.fromCharCode(r() < 0.9 ? 32 + Math.floor(r() * 95) : 128 + Math.floor(r() * 2000));
      members.push(m.replace(/[:|\n]/g, '_'));
    }
    for (const m of members) {
      if (m === '') continue;
      const line = `s:${m}|s`;
      expect(parseLine(line, 0, line.length, l)).to.equal(undefined);
      expect(l.members[0]).to.equal(m);
      expect(memberHash(l, 0), JSON.stringify(m)).to.equal(hash53(m, 0));
    }
    const packed = 'u:a:bb:ü:ccc|s';
    expect(parseLine(packed, 0, packed.length, l)).to.equal(undefined);
    expect([0, 1, 2, 3].map((i) => memberHash(l, i))).to.deep.equal(['a', 'bb', 'ü', 'ccc'].map((m) => hash53(m, 0)));
  });
});

const ETSY = {
  global_prefix: 'stats',
  counts_prefix: 'stats_counts',
  timers_prefix: 'timers',
  gauges_prefix: 'gauges',
  sets_prefix: 'sets',
  percent_threshold: [90, -10],
  send_idle_stats: true,
  sanitize_names: true,
};

function options(over: Partial<AggregatorOptions>): AggregatorOptions {
  return {
    flushIntervalMs: 10_000,
    naming: 'otel',
    percentiles: [50, 90, 99],
    histogramBuckets: [1, 10, 100, 1000],
    keepGauges: true,
    idleExpiryMs: 30_000,
    maxSeries: 300,
    timerExactSamples: 50,
    relativeAccuracy: 0.01,
    etsy: ETSY,
    ...over,
  };
}

describe('statsd differential: current aggregator = the reference (before the optimisations)', () => {
  for (const [label, over] of [
    ['otel', {}],
    ['etsy', { naming: 'etsy' as const }],
    ['otel, keep_gauges off, series limit 40', { keepGauges: false, maxSeries: 40 }],
  ] as const) {
    it(`the same batches, partials and counters over 8 windows of generated traffic (${label})`, () => {
      const o = options(over);
      const cur = new Aggregator(o);
      const old = new RefAggregator(o);
      const lc = newParsedLine();
      const lo = ref.newParsedLine();
      const badC: string[] = [];
      const badO: string[] = [];
      const all = lines(101, 30_000);
      const r = rng(5);
      let k = 0;
      let t = 1_700_000_000_000;
      for (let w = 0; w < 8; w++) {
        // windows 4-6 only see a few names, so the others expire (idle_expiry 3 windows) and come back
        const packets = w >= 4 && w <= 6 ? 50 : 400;
        for (let p = 0; p < packets; p++) {
          const n = 1 + Math.floor(r() * 20);
          const parts: string[] = [];
          for (let i = 0; i < n; i++) parts.push(w >= 4 && w <= 6 ? `few.${i % 3}:${i}|${pick(r, ['c', 'ms', 's', 'g'])}` : (all[k++ % all.length] as string));
          const buf = Buffer.from(parts.join('\n'), 'utf8');
          t += 10;
          parsePacket(buf, lc, { line: (l) => void cur.add(l, t), bad: (reason) => void badC.push(reason) });
          ref.parsePacket(buf, lo, { line: (l) => void old.add(l, t), bad: (reason) => void badO.push(reason) });
        }
        expect(cur.seriesCount, `window ${w}`).to.equal(old.seriesCount);
        if (w % 3 === 2) {
          const a = cur.flushPartials(w * 10_000, (w + 1) * 10_000, 4);
          const b = old.flushPartials(w * 10_000, (w + 1) * 10_000, 4);
          expect(a, `window ${w} partials`).to.deep.equal(b);
        } else {
          expect(cur.flush(w * 10_000, (w + 1) * 10_000), `window ${w}`).to.deep.equal(old.flush(w * 10_000, (w + 1) * 10_000));
        }
        expect(cur.dropped).to.deep.equal(old.dropped);
        expect(cur.samples).to.equal(old.samples);
      }
      expect(badC).to.deep.equal(badO);
      expect(badC.length).to.be.greaterThan(1000);
      expect(cur.samples).to.be.greaterThan(3000);
    });
  }
});
