/**
 * The exposition encodes a chunk a byte per character (latin1) when every
 * line in it is known to be ASCII, and as UTF-8 otherwise (issue 19, the
 * scrape of 1M series). These tests put non-ASCII text in every place a line
 * can carry it (a series' labels, its context, HELP, each family type, both
 * formats) among chunks of ASCII lines, and require the exact UTF-8 text back.
 * Characters are chosen so that a wrong latin1 encoding shows either as
 * invalid UTF-8 (`ü` → 0xFC) or as a different ASCII letter (`ł`, U+0142 →
 * 0x42 `B`).
 */
import { expect } from 'chai';
import { CumulativeStore } from '../../../src/pullstore/cumulative.js';
import { renderBytes, renderChunks, type Format } from '../../../exporters/prometheus/exposition.js';
import { PromKeyer } from '../../../exporters/prometheus/labels.js';
import { batch, exph, gauge, hist, num, parseSamples, sample, sum, summary } from './util.js';
import type { Metric } from '../../../src/model/index.js';

const NOW = 1_700_000_000_000;
const ODD = 'łódź über';
const FORMATS: Format[] = ['text', 'openmetrics'];

/** `n` ASCII series of a counter and a gauge with one non-ASCII series in the middle */
function mixed(n: number, odd = ODD): Metric[] {
  const pts = (o: string) => Array.from({ length: n }, (_, i) => num(i + 1, { i, v: i === n >> 1 ? o : `plain-${i}` }));
  return [sum('req', pts(odd), { description: 'requests' }), gauge('temp', pts(odd))];
}

function expectUtf8(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  expect(Buffer.from(text, 'utf8').equals(bytes), 'the exposition is valid UTF-8 and reads back to the same bytes').to.equal(true);
  return text;
}

describe('prometheus: chunks encoded a byte per character only when ASCII', () => {
  for (const format of FORMATS) {
    it(`${format}: a non-ASCII label value among chunks of ASCII series (counter, gauge) arrives as UTF-8`, () => {
      const store = new CumulativeStore({ now: () => NOW });
      const keyer = new PromKeyer('', false);
      store.ingest(batch(mixed(3000)), keyer);
      const chunks = [...renderChunks(store, format)];
      expect(chunks.length).to.be.greaterThan(2);
      for (const c of chunks) expectUtf8(c); // each chunk is whole lines
      const samples = parseSamples(expectUtf8(Buffer.concat(chunks)));
      expect(sample(samples, 'req_total', { v: ODD })?.value).to.equal(String(1501));
      expect(sample(samples, 'temp', { v: ODD })?.value).to.equal(String(1501));
      expect(sample(samples, 'temp', { v: 'plain-2999' })?.value).to.equal('3000');
      expect(samples.filter((s) => s.name === 'temp')).to.have.length(3000);
    });

    // each case alone among ASCII lines, so that no other line of its chunk is non-ASCII
    const cases: Array<{
      name: string;
      metric: () => Metric;
      resource?: Record<string, string>;
      scope?: { name: string; version: string };
      check: (text: string) => void;
    }> = [
      {
        name: 'the context (job, scope name)',
        metric: () => gauge('ctx_g', [num(5, { a: 'x' })]),
        resource: { 'service.name': 'schöp' },
        scope: { name: 'łib', version: '1' },
        check: (t) => expect(sample(parseSamples(t), 'ctx_g', { a: 'x' })?.labels).to.include({ job: 'schöp', otel_scope_name: 'łib' }),
      },
      {
        name: 'HELP',
        metric: () => ({ ...gauge('helped', [num(1)]), description: `Anfragen ${ODD}` }),
        check: (t) => expect(t).to.contain(`# HELP helped Anfragen ${ODD}\n`),
      },
      {
        name: 'a histogram label',
        metric: () => hist('lat', [1, 2], [1, 2, 0], { attributes: { v: ODD } }),
        check: (t) => expect(sample(parseSamples(t), 'lat_bucket', { v: ODD, le: '+Inf' })?.value).to.equal('3'),
      },
      {
        name: 'an exponential histogram label',
        metric: () => exph('size', { attributes: { v: ODD }, count: 3, sum: 6, scale: 0, positive: { offset: 0, bucketCounts: [1, 2] } }),
        check: (t) => expect(sample(parseSamples(t), 'size_count', { v: ODD })?.value).to.equal('3'),
      },
      {
        name: 'a summary label',
        metric: () => summary('sz', { attributes: { v: ODD }, count: 2, sum: 3, quantileValues: [{ quantile: 0.5, value: 1 }] }),
        check: (t) => expect(sample(parseSamples(t), 'sz', { v: ODD, quantile: '0.5' })?.value).to.equal('1'),
      },
    ];
    for (const c of cases) {
      it(`${format}: non-ASCII in ${c.name} among ASCII lines arrives as UTF-8`, () => {
        const store = new CumulativeStore({ now: () => NOW });
        const keyer = new PromKeyer('', false);
        store.ingest(batch(mixed(2000, 'ascii')), keyer);
        store.ingest(batch([c.metric()], c.resource, c.scope), keyer);
        const text = expectUtf8(renderBytes(store, format));
        c.check(text);
        expect(sample(parseSamples(text), 'temp', { v: 'plain-1999' })?.value).to.equal('2000');
      });
    }
  }

  it('a series key is known ASCII only when it and its context are', () => {
    const store = new CumulativeStore({ now: () => NOW });
    const keyer = new PromKeyer('', false);
    store.ingest(batch([gauge('g', [num(1, { v: 'a' }), num(2, { v: 'ü' })])]), keyer);
    store.ingest(batch([gauge('g', [num(3, { v: 'a' })])], { 'service.name': 'schöp' }), keyer);
    const f = store.families.get('g')!;
    const byKey = new Map([...f.series.values()].map((id) => [store.key(id), store.asciiKey(id)]));
    expect(byKey.get('v="a",otel_scope_name="lib",otel_scope_version="1.0",job="shop"')).to.equal(true);
    expect(byKey.get('v="ü",otel_scope_name="lib",otel_scope_version="1.0",job="shop"')).to.equal(false);
    expect(byKey.get('v="a",otel_scope_name="lib",otel_scope_version="1.0",job="schöp"')).to.equal(false);
  });
});
