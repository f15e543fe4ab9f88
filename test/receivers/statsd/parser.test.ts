import { expect } from 'chai';
import { newParsedLine, parseLine, parseNumber, parsePacket, parseTags, type BadLineReason, type ParsedLine } from '../../../receivers/statsd/parser.js';

type Want = Partial<Omit<ParsedLine, 'values' | 'members' | 'deltas'>> & { values?: number[]; members?: string[]; deltas?: boolean[] };

function parse(s: string): ParsedLine | BadLineReason {
  const out = newParsedLine();
  const r = parseLine(s, 0, s.length, out);
  return (
    r ?? {
      ...out,
      values: out.type === 's' ? [] : out.values.slice(0, out.count),
      members: out.type === 's' ? out.members.slice(0, out.count) : [],
      deltas: out.type === 'g' ? out.deltas.slice(0, out.count) : [],
    }
  );
}

describe('statsd parser: lines as data', () => {
  const good: Array<[string, Want]> = [
    ['gorets:1|c', { name: 'gorets', type: 'c', values: [1], sampleRate: 1, tags: '', timestamp: 0 }],
    ['gorets:1|c|@0.1', { name: 'gorets', type: 'c', values: [1], sampleRate: 0.1 }],
    ['glork:320|ms', { name: 'glork', type: 'ms', values: [320] }],
    ['glork:0.5|ms|@0.25', { type: 'ms', values: [0.5], sampleRate: 0.25 }],
    ['gaugor:333|g', { type: 'g', values: [333], deltas: [false] }],
    ['gaugor:-10|g', { type: 'g', values: [-10], deltas: [true] }],
    ['gaugor:+4.5|g', { type: 'g', values: [4.5], deltas: [true] }],
    ['uniques:765|s', { type: 's', members: ['765'], values: [] }],
    ['uniques:user@example.com|s', { type: 's', members: ['user@example.com'] }],
    ['hist:1:2:3|h', { type: 'h', values: [1, 2, 3] }],
    ['dist:1.5e3|d', { type: 'd', values: [1500] }],
    ['users.online:1|c|@0.5|#country:china', { name: 'users.online', values: [1], sampleRate: 0.5, tags: 'country:china' }],
    ['page.views:1|c|#env:prod,canary', { tags: 'env:prod,canary' }],
    ['t:3|g|T1700000000', { type: 'g', values: [3], timestamp: 1700000000 }],
    ['t:3|c|#a:b|T1700000000|c:abc123|e:it-false|card:low', { values: [3], tags: 'a:b', timestamp: 1700000000 }],
    ['crlf:2|c\r', { name: 'crlf', values: [2] }],
    ['weird name/with spaces:1|c', { name: 'weird name/with spaces' }],
    ['big:12345678901234567890|c', { values: [Number('12345678901234567890')] }],
    ['neg:-2|h', { values: [-2] }],
    ['dot:.5|h', { values: [0.5] }],
  ];
  for (const [line, want] of good) {
    it(`accepts ${JSON.stringify(line)}`, () => {
      const got = parse(line);
      expect(got).to.be.an('object');
      const o = got as ParsedLine;
      for (const [k, v] of Object.entries(want)) expect((o as unknown as Record<string, unknown>)[k], k).to.deep.equal(v);
    });
  }

  const bad: Array<[string, BadLineReason]> = [
    ['nocolon', 'no_value'],
    [':1|c', 'empty_name'],
    ['a:1', 'no_type'],
    ['a:1|', 'no_type'],
    ['a:1|x', 'unknown_type'],
    ['a:1|msx', 'unknown_type'],
    ['a:abc|c', 'bad_value'],
    ['a:|c', 'bad_value'],
    ['a:0x10|c', 'bad_value'],
    ['a: 1|c', 'bad_value'],
    ['a:Infinity|g', 'bad_value'],
    ['a:1::2|h', 'bad_value'],
    ['a:-5|ms', 'bad_value'],
    ['a:|s', 'bad_value'],
    ['a:1|c|@', 'bad_sample_rate'],
    ['a:1|c|@0', 'bad_sample_rate'],
    ['a:1|c|@1.5', 'bad_sample_rate'],
    ['a:1|c|@x', 'bad_sample_rate'],
    ['a:1|c|#a,,b', 'bad_tags'],
    ['a:1|c|#,a', 'bad_tags'],
    ['a:1|c|Tnow', 'bad_timestamp'],
    ['a:1|c|T-5', 'bad_timestamp'],
    ['a:1|c|T1.5', 'bad_timestamp'],
    ['_e{5,4}:title|text', 'unsupported'],
    ['_sc|check|0', 'unsupported'],
  ];
  for (const [line, reason] of bad) {
    it(`refuses ${JSON.stringify(line)} as ${reason}`, () => expect(parse(line)).to.equal(reason));
  }

  it('parseNumber is strict and exact', () => {
    const cases: Array<[string, number]> = [
      ['0', 0],
      ['-0.25', -0.25],
      ['+7', 7],
      ['3.14159', 3.14159],
      ['1e3', 1000],
      ['1E-2', 0.01],
      ['0.1', 0.1],
      ['123456789012.345', 123456789012.345],
    ];
    for (const [s, v] of cases) expect(parseNumber(s, 0, s.length), s).to.equal(v);
    for (const s of ['', '-', '.', '1.2.3', '1e', 'NaN', '1_000', '٣']) expect(Number.isNaN(parseNumber(s, 0, s.length)), s).to.equal(true);
    // same double as Number() for many decimals
    for (let i = 0; i < 2000; i++) {
      const s = (Math.random() * 10 ** (i % 12)).toFixed(i % 7);
      expect(parseNumber(s, 0, s.length), s).to.equal(Number(s));
    }
  });

  it('parseTags: k:v, bare k, first colon splits', () => {
    expect(parseTags('env:prod,canary,url:http://x:80')).to.deep.equal([
      ['env', 'prod'],
      ['canary', ''],
      ['url', 'http://x:80'],
    ]);
    expect(parseTags('')).to.deep.equal([]);
  });

  it('a packet: every good line reported, bad ones counted, blank lines ignored', () => {
    const got: string[] = [];
    const bads: string[] = [];
    const out = newParsedLine();
    parsePacket('a:1|c\nbad\n\nb:2|g\r\n\r\nc:x|c\nd:1:2|h\n', out, {
      line: (l) => got.push(`${l.name}=${l.values.slice(0, l.count).join(',')}|${l.type}`),
      bad: (r, s, a, b) => bads.push(`${r}:${s.slice(a, b)}`),
    });
    expect(got).to.deep.equal(['a=1|c', 'b=2|g', 'd=1,2|h']);
    expect(bads).to.deep.equal(['no_value:bad', 'bad_value:c:x|c']);
  });
});
