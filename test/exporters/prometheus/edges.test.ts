/**
 * Edges of the exposition's counter and gauge lines, against what the
 * store's own strings say (store.key(), String(value)): a one-letter family
 * under many scopes (contexts interned past one base-36 digit), a label longer
 * than a chunk, multi-byte labels across chunk ends, values that are not safe
 * integers, and the OpenMetrics `_created` lines, also without labels.
 */
import { expect } from 'chai';
import { CumulativeStore } from '../../../src/pullstore/cumulative.js';
import { renderBytes, renderChunks } from '../../../exporters/prometheus/exposition.js';
import { PromKeyer } from '../../../exporters/prometheus/labels.js';
import { batch, gauge, num, sum } from './util.js';

const NOW = 1_700_000_000_000;

/** the sample lines of one family, as the store's strings say they must read */
function expectedLines(store: CumulativeStore, sample: string, value: (id: number) => string): string[] {
  const f = [...store.families.values()].find((x) => x.info.name === sample || `${x.info.name}_total` === sample || x.info.name === `${sample}_total`)!;
  return [...f.series.values()].map((id) => {
    const k = store.key(id);
    return `${sample}${k === '' ? '' : `{${k}}`} ${value(id)}`;
  });
}

function linesOf(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix + '{') || l.startsWith(prefix + ' '));
}

describe('prometheus: exposition edges (long and multi-byte labels, many contexts, odd values)', () => {
  it('a one-letter metric under 40 scopes: contexts interned past one base-36 digit', () => {
    const store = new CumulativeStore({ now: () => NOW });
    const keyer = new PromKeyer('', false);
    for (let s = 0; s < 40; s++) {
      store.ingest(
        batch([gauge('a', [num(s, { x: `v${s}` }), num(-s - 0.5, { x: `w${s}` })])], { 'service.name': 'shop' }, { name: `scope${s}`, version: '' }),
        keyer,
      );
    }
    const text = renderBytes(store, 'text').toString('utf8');
    const got = linesOf(text, 'a');
    const want = expectedLines(store, 'a', (id) => String(store.num(id)));
    expect(got).to.have.length(80);
    expect(got).to.deep.equal(want);
    expect(got).to.include('a{x="v39",otel_scope_name="scope39",job="shop"} 39');
    expect(got).to.include('a{x="w39",otel_scope_name="scope39",job="shop"} -39.5');
  });

  it('values: negative integers, -0, integers past 2^53, fractions, NaN and ±Inf read as String() and formatValue() write them', () => {
    const store = new CumulativeStore({ now: () => NOW });
    const keyer = new PromKeyer('', false);
    const values = [0, -0, 7, -7, 10, 99, 100, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 2 ** 53 + 2, 1e21, 0.1, -1.5e-7, NaN, Infinity, -Infinity];
    store.ingest(
      batch([
        gauge(
          'g',
          values.map((v, i) => num(v, { i })),
        ),
      ]),
      keyer,
    );
    const text = renderBytes(store, 'text').toString('utf8');
    const got = new Map(linesOf(text, 'g').map((l) => [Number(/i="(\d+)"/.exec(l)![1]), l.slice(l.lastIndexOf(' ') + 1)]));
    const want = values.map((v) => (Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v)));
    expect(values.map((_, i) => got.get(i))).to.deep.equal(want);
  });

  it('a label longer than a chunk and multi-byte labels across chunk ends arrive whole, in chunks of 64 KiB and at most one line more', () => {
    const store = new CumulativeStore({ now: () => NOW, maxSeries: 100_000 });
    const keyer = new PromKeyer('', false);
    const long = 'ü€𝄞x'.repeat(12_000); // 120,000 bytes of UTF-8
    const pts = [num(1n, { big: long })];
    for (let i = 0; i < 20_000; i++) pts.push(num(BigInt(i), { k: `ключ-${i}-€` }));
    store.ingest(batch([sum('reqs', pts, { unit: '' })]), keyer);
    const chunks = [...renderChunks(store, 'text')];
    expect(chunks.length).to.be.greaterThan(10);
    for (const c of chunks.slice(0, -1)) expect(c.length).to.be.within(64 * 1024, 64 * 1024 + 121_000);
    const text = Buffer.concat(chunks).toString('utf8');
    expect(text).to.not.include('\ufffd');
    const got = linesOf(text, 'reqs_total');
    expect(got).to.deep.equal(expectedLines(store, 'reqs_total', (id) => String(store.value(id))));
    expect(got[0]).to.equal(`reqs_total{big="${long}",otel_scope_name="lib",otel_scope_version="1.0",job="shop"} 1`);
  });

  it('OpenMetrics: every counter sample has its _created line with the same labels, also without labels', () => {
    const store = new CumulativeStore({ now: () => NOW });
    const keyer = new PromKeyer('', false);
    store.ingest(batch([sum('jobs', [num(3n, { q: 'a"b' }), num(4n, {})])], {}, { name: '', version: '' }), keyer);
    const text = renderBytes(store, 'openmetrics').toString('utf8');
    expect(text.split('\n').filter((l) => l.startsWith('jobs_'))).to.deep.equal([
      'jobs_total{q="a\\"b"} 3',
      'jobs_created{q="a\\"b"} 1700000000',
      'jobs_total 4',
      'jobs_created 1700000000',
    ]);
  });
});
