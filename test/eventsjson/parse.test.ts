import { expect } from 'chai';
import { parseErrorsBody, parseTimestamp } from '../../src/eventsjson/parse.js';

const LIM = { maxEvents: 1000, maxAttributes: 4, maxValueLength: 16, maxKeyLength: 8 };
const ARRIVAL = 1_700_000_000_000_000_000n;

describe('errors receiver: timestamps', () => {
  const want = 1_714_564_800_123_000_000n; // 2024-05-01T12:00:00.123Z
  const cases: Array<[unknown, bigint]> = [
    ['2024-05-01T12:00:00.123Z', want],
    ['2024-05-01T12:00:00.123456789Z', 1_714_564_800_123_456_789n],
    ['2024-05-01 12:00:00.123', want],
    ['2024-05-01T14:00:00.123+02:00', want],
    ['2024-05-01T07:30:00.123-0430', want],
    ['2024-05-01T12:00Z', 1_714_564_800_000_000_000n],
    [1_714_564_800.123, want],
    [1_714_564_800_123, want],
    [1_714_564_800_123_000, want],
    ['1714564800.123', want],
    ['1714564800123', want],
    ['1714564800123000', want],
    ['1714564800123456789', 1_714_564_800_123_456_789n],
  ];
  for (const [input, ns] of cases) {
    it(`${JSON.stringify(input)} → ${ns}`, () => expect(parseTimestamp(input)).to.equal(ns));
  }
  it('nanoseconds as a JSON number: exact to the double (within 256 ns), so send them as strings', () => {
    const got = parseTimestamp(1_714_564_800_123_000_000) as bigint;
    expect(got - want < 256n && want - got < 256n).to.equal(true);
  });
  it('rejects bad timestamps with the reason', () => {
    expect(parseTimestamp('yesterday')).to.match(/is not ISO-8601/);
    expect(parseTimestamp('2024-02-30T00:00:00Z')).to.match(/not a valid date and time/);
    expect(parseTimestamp(-5)).to.match(/positive number/);
    expect(parseTimestamp(true)).to.match(/got boolean/);
    expect(parseTimestamp('1714564800123456789.5')).to.match(/nanoseconds cannot have a fraction/);
  });
});

describe('errors receiver: bodies', () => {
  it('a JSON object, a JSON array and NDJSON give the same events', () => {
    const e1 = { timestamp: 1_714_564_800, attributes: { _tx: 'a', n: 1, ok: true } };
    const e2 = { attributes: { _tx: 'b' } };
    const events = [
      { timeUnixNano: 1_714_564_800_000_000_000n, attributes: { _tx: 'a', n: 1, ok: true } },
      { timeUnixNano: ARRIVAL, attributes: { _tx: 'b' } },
    ];
    expect(parseErrorsBody(JSON.stringify(e1), ARRIVAL, LIM).events).to.deep.equal([events[0]]);
    expect(parseErrorsBody(JSON.stringify({ ...e1, attributes: e1.attributes }, null, 2), ARRIVAL, LIM).events).to.deep.equal([events[0]]);
    expect(parseErrorsBody(JSON.stringify([e1, e2]), ARRIVAL, LIM)).to.deep.equal({ events, rejected: 0, rejections: [], readable: true });
    expect(parseErrorsBody(`${JSON.stringify(e1)}\n${JSON.stringify(e2)}\n`, ARRIVAL, LIM)).to.deep.equal({
      events,
      rejected: 0,
      rejections: [],
      readable: true,
    });
    expect(parseErrorsBody(`${JSON.stringify(e1)}\r\n\r\n${JSON.stringify(e2)}`, ARRIVAL, LIM, true).events).to.deep.equal(events);
  });

  it('malformed NDJSON lines reject only themselves, with index, line and reason', () => {
    const body = [
      '{"attributes":{"_tx":"a"}}',
      '{"attributes":{"_tx":',
      '',
      '{"attributes":{"_tx":"c"}}',
      'not json',
      '[1]',
      '{"attributes":{"_tx":"d"},"extra":1}',
    ].join('\n');
    const r = parseErrorsBody(body, ARRIVAL, LIM, true);
    expect(r.events.map((e) => e.attributes._tx)).to.deep.equal(['a', 'c']);
    expect(r.rejected).to.equal(4);
    expect(r.rejections.map((x) => [x.index, x.line])).to.deep.equal([
      [1, 2],
      [3, 5],
      [4, 6],
      [5, 7],
    ]);
    expect(r.rejections[0]!.reason).to.match(/^malformed JSON: /);
    expect(r.rejections[2]!.reason).to.equal('an event must be a JSON object, got an array');
    expect(r.rejections[3]!.reason).to.equal('unknown field "extra"; an event has "timestamp" and "attributes" (put attributes under "attributes")');
    expect(r.readable).to.equal(true);
  });

  it('limits: too many attributes, overlong values and names, non-flat values, too many events', () => {
    const evs = [
      { attributes: { a: 1, b: 2, c: 3, d: 4, e: 5 } },
      { attributes: { a: 'x'.repeat(17) } },
      { attributes: { longername: 1 } },
      { attributes: { a: { nested: 1 } } },
      { attributes: { a: null } },
      { attributes: [] },
      { timestamp: 'soon' },
      { attributes: { a: 'x'.repeat(16) } },
    ];
    const r = parseErrorsBody(JSON.stringify(evs), ARRIVAL, { ...LIM, maxEvents: 7 });
    expect(r.rejections).to.deep.equal([
      { index: 0, reason: 'more than max_attributes (4) attributes' },
      { index: 1, reason: 'attribute "a": value of 17 characters is longer than max_value_length (16)' },
      { index: 2, reason: 'attribute name of 10 characters is longer than max_key_length (8)' },
      { index: 3, reason: 'attribute "a": value must be a string, number or boolean, got an object' },
      { index: 4, reason: 'attribute "a": value must be a string, number or boolean, got null' },
      { index: 5, reason: '"attributes" must be an object of string, number or boolean values, got an array' },
      { index: 6, reason: 'timestamp "soon" is not ISO-8601 (e.g. 2024-05-01T12:00:00.123Z) or epoch seconds/milliseconds/nanoseconds' },
      { index: 7, reason: 'beyond max_events_per_request (7)' },
    ]);
    expect(r.events).to.deep.equal([]);
    expect(r.readable).to.equal(true);
  });

  it('nothing readable: empty body, broken array, only broken lines', () => {
    expect(parseErrorsBody('  \n', ARRIVAL, LIM)).to.include({ readable: false, error: 'empty body; send a JSON object, a JSON array of objects, or NDJSON' });
    expect(parseErrorsBody('[{"a":', ARRIVAL, LIM).error).to.match(/^malformed JSON array: /);
    expect(parseErrorsBody('[]', ARRIVAL, LIM).error).to.equal('empty array: no events');
    const r = parseErrorsBody('{x\n{y', ARRIVAL, LIM);
    expect(r.readable).to.equal(false);
    expect(r.rejected).to.equal(2);
    expect(r.error).to.match(/^no line could be read as JSON \(line 1: malformed JSON/);
  });

  it('lists at most 100 rejections but counts all', () => {
    const r = parseErrorsBody(Array.from({ length: 250 }, () => 'x').join('\n') + '\n{}', ARRIVAL, LIM);
    expect(r.rejected).to.equal(250);
    expect(r.rejections.length).to.equal(100);
    expect(r.events.length).to.equal(1);
  });
});
