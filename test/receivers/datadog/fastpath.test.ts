/**
 * datadog receiver: the hot path's shortcuts give the answers of the general
 * path. The v1 JSON fast path (json.ts) against `JSON.parse` + `v1Series`;
 * the string cache (strings.ts) against plain decoding, bounded; the tag-set
 * trie (map.ts) the same on a miss, a hit and after it is dropped, bounded.
 */
import { expect } from 'chai';
import { scanV1Series } from '../../../receivers/datadog/json.js';
import type { NumberDataPoint } from '../../../src/model/index.js';
import { SeriesMapper, tagCacheStats, v1Series, type MapOptions, type MapResult } from '../../../receivers/datadog/map.js';
import { decodeSeriesProto } from '../../../receivers/datadog/proto.js';
import { cachedUtf8, MAX_BYTES, stringCacheStats } from '../../../receivers/datadog/strings.js';
import { encodeMetricPayload } from './payload.js';

const T = 1_700_000_000;
const OPTS: MapOptions = { rateAs: 'count', maxTags: 8, distributions: { explicitBounds: [], maxScale: 20, maxBuckets: 160 }, nowNs: 42n };

/** the general path, as receiver.ts takes it when the fast path declines */
function general(body: string): MapResult {
  const m = new SeriesMapper(OPTS);
  const doc = JSON.parse(body) as { series: unknown[] };
  doc.series.forEach((o, i) => {
    if (o === null || typeof o !== 'object' || Array.isArray(o)) m.reject(1, 'bad_series', `series[${i}]: must be an object`);
    else m.add(v1Series(o as Record<string, unknown>), i);
  });
  return m.result();
}

function fast(body: string): MapResult | undefined {
  const m = new SeriesMapper(OPTS);
  return scanV1Series(Buffer.from(body, 'utf8'), m) ? m.result() : undefined;
}

/** attributes' own keys and prototypes too (deep-equal alone would not tell an own `__proto__` from a prototype) */
function shape(r: MapResult): unknown {
  const attrs: unknown[] = [];
  for (const rm of r.batch.resourceMetrics)
    for (const sm of rm.scopeMetrics)
      for (const m of sm.metrics) for (const p of m.points) attrs.push([Object.getPrototypeOf(p.attributes) === Object.prototype, Object.keys(p.attributes)]);
  return attrs;
}

describe('datadog receiver: the v1 JSON fast path reads what JSON.parse + v1Series read', () => {
  it('a typical body: the values, the same as the general path', () => {
    const body = JSON.stringify({
      series: [
        { metric: 'app.req', points: [[T, 1.5]], type: 'count', interval: 10, host: 'web-1', tags: ['env:prod', 'route:/a', 'bare', 'env:dev'] },
        {
          metric: 'app.lat',
          points: [
            [T, 0.25],
            [T + 10, -3],
          ],
          type: 'gauge',
          host: 'web-1',
          tags: ['env:prod'],
        },
        { metric: 'app.rate', points: [[T, 2]], type: 'rate', interval: 10, tags: null, device: 'sda' },
      ],
    });
    const r = fast(body)!;
    expect(r).to.not.equal(undefined);
    expect(r).to.deep.equal(general(body));
    expect(r.points).to.equal(4);
    expect(r.duplicateTags).to.equal(1);
    const [web, none] = r.batch.resourceMetrics;
    expect(web!.resource.attributes).to.deep.equal({ 'host.name': 'web-1' });
    expect(none!.resource.attributes).to.deep.equal({});
    const [req, lat] = web!.scopeMetrics[0]!.metrics;
    expect(req).to.deep.include({ kind: 'sum', name: 'app.req', isMonotonic: true });
    expect(req!.points[0]).to.deep.equal({
      attributes: { env: 'prod', route: '/a', bare: '' },
      startTimeUnixNano: BigInt(T - 10) * 1_000_000_000n,
      timeUnixNano: BigInt(T) * 1_000_000_000n,
      flags: 0,
      value: 1.5,
    });
    expect(lat!.points.map((p) => (p as NumberDataPoint).value)).to.deep.equal([0.25, -3]);
    expect(lat!.points[1]!.attributes).to.deep.equal({ env: 'prod' });
    expect(lat!.points[0]!.attributes).to.not.equal(lat!.points[1]!.attributes);
    const rate = none!.scopeMetrics[0]!.metrics[0]!;
    expect(rate.points[0]).to.deep.include({ value: 20, attributes: { device: 'sda' } });
  });

  it('edge cases on the fast path: whitespace, unknown keys skipped, nulls, odd values rejected with the same messages', () => {
    const bodies = [
      ' \n{ "series" : [ { "metric" : "m" , "points" : [ [ 1700000000 , 1 ] ] , "source_type_name" : { "a" : [ 1 , null , true ] } } ] , "other" : [ ] }\r\n',
      '{"series":[]}',
      '{"other":1,"series":[{"metric":"m","points":[[1700000000,1]],"type":null,"interval":null,"host":null,"tags":null,"device":null}]}',
      '{"series":[{"metric":"m","points":[[1700000000,1]],"tags":["__proto__:x","toString:t","k:v:w",":skip","","a:1","a:2"]}]}',
      '{"series":[{"metric":"","points":[[1,1]]},{"metric":5,"points":[]},{"points":[[1,2]]},{"metric":"m","points":"x"}]}',
      '{"series":[{"metric":"m","points":[[1700000000]],"type":"bogus"},{"metric":"m","points":[[1700000000,"x"],[-1,1],[1e12,1],[1,1e400]]}]}',
      '{"series":[{"metric":"m","points":[[1700000000,1]],"tags":["a",5]},{"metric":"m","points":[[1700000000,1]],"tags":"x"},{"metric":"m","points":[[1,1]],"tags":["1","2","3","4","5","6","7","8","9"]}]}',
      '{"series":[{"metric":"m","points":[[1700000000,1]],"interval":-1},{"metric":"m","points":[[1700000000,1]],"host":5},{"metric":"m","points":[[0,1,2]],"type":2}]}',
      '{"series":[{"metric":"m","points":[5,[],[1700000000,1]],"type":true}]}',
    ];
    for (const b of bodies) {
      const r = fast(b);
      expect(r, b).to.not.equal(undefined);
      expect(r, b).to.deep.equal(general(b));
      expect(shape(r!), b).to.deep.equal(shape(general(b)));
    }
    const rejected = fast(bodies[4]!)!;
    expect(rejected.errors).to.deep.equal([
      'series[0].metric: must be a non-empty string',
      'series[1].metric: must be a non-empty string',
      'series[2].metric: must be a non-empty string',
      'series[3].points: must be a non-empty array',
    ]);
  });

  it('numbers as JSON.parse reads them (exactly, -0 included)', () => {
    const nums = [
      '0',
      '-0',
      '1',
      '-1.5',
      '0.1',
      '0.3',
      '2.675',
      '1.005',
      '123456789012345',
      '999999999999999.9',
      '1234567890123456789',
      '0.1234567890123456789',
      '1e5',
      '1E-7',
      '-2.5e+3',
      '1.7976931348623157e308',
      '5e-324',
      '1e400',
      '-0.0',
    ];
    const body = JSON.stringify({ series: [{ metric: 'm', type: 'gauge', points: [] }] }).replace(
      '"points":[]',
      `"points":[${nums.map((n) => `[1700000000,${n}]`).join(',')}]`,
    );
    const r = fast(body)!;
    expect(r).to.not.equal(undefined);
    const want = nums.map((n) => JSON.parse(n) as number).filter((v) => Number.isFinite(v));
    const got = r.batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.points.map((p) => (p as NumberDataPoint).value);
    expect(got.length).to.equal(want.length);
    got.forEach((v, i) => expect(Object.is(v, want[i]), `${nums[i]}: ${String(v)}`).to.equal(true));
  });

  it('declines what it does not read exactly (the general path answers): escapes, non-ASCII, BOM, malformed, duplicate keys, other shapes', () => {
    const declined = [
      '{"series":[{"metric":"m\\u0065","points":[[1700000000,1]]}]}',
      '{"series":[{"metric":"é","points":[[1700000000,1]]}]}',
      '\ufeff{"series":[]}',
      '{"series":[{"metric":"m","points":[[1700000000,1]]}]',
      '{"series":[{"metric":"m","points":[[1700000000,01]]}]}',
      '{"series":[{"metric":"m","metric":"n","points":[[1700000000,1]]}]}',
      '{"series":[],"series":[]}',
      '{"series":[null]}',
      '{"series":{}}',
      '[]',
      '{"series":[{"metric":"m","points":[[1700000000,[1,2]]]}]}',
      '{"series":[{"metric":"m","points":[[1700000000,1]]}]} x',
      '',
    ];
    for (const b of declined) expect(fast(b), b).to.equal(undefined);
  });
});

describe('datadog receiver: the string cache', () => {
  it('a hit is the string decoded before (the same object), equal to decoding the bytes; invalid UTF-8 as toString makes it', () => {
    const buf = Buffer.concat([Buffer.from('xx env:prod yy'), Buffer.from([0xc3, 0x28, 0xe2, 0x82, 0xac])]);
    const a = cachedUtf8(buf, 3, 11);
    const b = cachedUtf8(Buffer.from('env:prod'), 0, 8);
    expect(a).to.equal('env:prod');
    expect(b).to.equal(a);
    expect(cachedUtf8(buf, 14, 19)).to.equal(buf.toString('utf8', 14, 19));
    expect(cachedUtf8(buf, 14, 19)).to.equal('\ufffd(€');
    expect(cachedUtf8(buf, 3, 3)).to.equal('');
  });

  it('bounded: at most its slots, none longer than MAX_BYTES; every answer right while strings evict each other', () => {
    const before = stringCacheStats();
    for (let i = 0; i < before.slots * 3; i++) {
      const s = `tag.${i}:${i % 7}`;
      const b = Buffer.from(`"${s}"`);
      expect(cachedUtf8(b, 1, b.length - 1)).to.equal(s);
    }
    const long = 'x'.repeat(MAX_BYTES + 1);
    expect(cachedUtf8(Buffer.from(long), 0, long.length)).to.equal(long);
    const after = stringCacheStats();
    expect(after.used).to.be.at.most(after.slots);
    expect(after.used).to.be.greaterThan(after.slots / 2);
    // and still right after the churn (hits, misses and replaced slots)
    for (let i = 0; i < 2000; i++) {
      const s = `tag.${i}:${i % 7}`;
      expect(cachedUtf8(Buffer.from(s), 0, Buffer.byteLength(s))).to.equal(s);
    }
  });

  it('protobuf: the same series from a cold and a warm cache', () => {
    const body = encodeMetricPayload([
      {
        metric: 'p.cold.m',
        type: 3,
        points: [{ timestamp: T, value: 1 }],
        resources: [{ type: 'host', name: 'h-cold' }],
        tags: ['k:cold', 'ü:ñ'],
        unit: 'byte',
      },
    ]);
    const first = decodeSeriesProto(body);
    const second = decodeSeriesProto(Buffer.from(body));
    expect(second).to.deep.equal(first);
    expect(first[0]).to.deep.include({ metric: 'p.cold.m', tags: ['k:cold', 'ü:ñ'], unit: 'byte', resources: [{ type: 'host', name: 'h-cold' }] });
  });
});

describe('datadog receiver: the tag-set trie', () => {
  const series = (tags: unknown) => v1Series({ metric: 'm', points: [[T, 1]], type: 'gauge', tags });
  const attrsOf = (tags: unknown): { attrs: unknown; proto: boolean; keys: string[]; dups: number } => {
    const m = new SeriesMapper({ ...OPTS, maxTags: 1000 });
    m.add(series(tags), 0);
    const r = m.result();
    const p = r.batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.points[0]!;
    return { attrs: p.attributes, proto: Object.getPrototypeOf(p.attributes) === Object.prototype, keys: Object.keys(p.attributes), dups: r.duplicateTags };
  };

  it('the same attributes on a miss, a hit, and beyond the depth it caches; each series its own object', () => {
    const tags = ['env:prod', 'a:1', 'a:2', 'bare', ':x', '__proto__:p', 'toString:t', 'k:v:w'];
    const miss = attrsOf([...tags]);
    const hit = attrsOf([...tags]);
    expect(hit).to.deep.equal(miss);
    expect(hit.attrs).to.not.equal(miss.attrs);
    expect(miss.keys).to.deep.equal(['env', 'a', 'bare', '__proto__', 'toString', 'k']);
    expect(miss.proto).to.equal(true);
    expect(miss.dups).to.equal(1);
    expect((miss.attrs as Record<string, string>).a).to.equal('1');
    expect((miss.attrs as Record<string, string>).k).to.equal('v:w');
    // more tags than the trie holds: the same rules the uncached way
    const many = Array.from({ length: 40 }, (_, i) => `t${i % 35}:${i}`);
    const deep = attrsOf(many);
    expect(deep.keys.length).to.equal(35);
    expect(deep.dups).to.equal(5);
    expect((deep.attrs as Record<string, string>).t0).to.equal('0');
  });

  it('bounded: dropped when full, answers unchanged after', () => {
    const { nodesMax, maxChildren } = tagCacheStats();
    const probe = ['env:prod', 'zone:a', 'zone:b'];
    const before = attrsOf(probe);
    let peak = 0;
    for (let i = 0; i < nodesMax + 2 * maxChildren; i++) {
      const got = attrsOf([`a:${Math.floor(i / maxChildren)}`, `b:${i % maxChildren}`]);
      expect(got.attrs).to.deep.equal({ a: String(Math.floor(i / maxChildren)), b: String(i % maxChildren) });
      peak = Math.max(peak, tagCacheStats().nodes);
    }
    const stats = tagCacheStats();
    expect(peak).to.equal(stats.nodesMax);
    expect(stats.nodes).to.be.lessThan(peak);
    expect(stats.splits).to.be.at.most(stats.splitsMax);
    expect(attrsOf(probe)).to.deep.equal(before);
  });

  it('a tag with ever new values (an id) stops growing the trie past maxChildren; the attributes still right', () => {
    const { maxChildren } = tagCacheStats();
    const start = tagCacheStats().nodes;
    for (let i = 0; i < maxChildren * 3; i++) {
      const got = attrsOf(['env:prod', `req:${i}-x`, 'req:dup']);
      expect(got).to.deep.include({ attrs: { env: 'prod', req: `${i}-x` }, dups: 1, keys: ['env', 'req'] });
    }
    // env:prod, then at most maxChildren req:… nodes under it, one req:dup under each
    expect(tagCacheStats().nodes - start).to.be.at.most(1 + 2 * maxChildren);
  });
});
