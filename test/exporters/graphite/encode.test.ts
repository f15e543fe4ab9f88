/** Carbon plaintext encoder as data: lines parsed back into (path, value, seconds). */
import { expect } from 'chai';
import { encodeGraphite, seriesPath, type GraphiteEncodeOptions } from '../../../exporters/graphite/encode.js';
import { sanitizeTagValue } from '../../../src/storehelper/graphitenames.js';
import { S, batch, gauge, hist, histogram, num, pointsOf, sum } from '../../storehelper/util.js';

const T0 = 1_700_000_000;
function parse(body: Uint8Array): Array<[string, string, number]> {
  const text = Buffer.from(body).toString('utf8');
  expect(text.endsWith('\n')).to.equal(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => {
      const f = l.split(' ');
      expect(f, l).to.have.length(3); // carbon splits on whitespace into exactly three fields
      return [f[0]!, f[1]!, Number(f[2])];
    });
}
const tags: GraphiteEncodeOptions = { prefix: 'mp', tagMode: 'tags', template: '' };
const path: GraphiteEncodeOptions = { prefix: 'mp', tagMode: 'path', template: '{name}.{tags}' };

describe('graphite: encode (protocols.md §3)', () => {
  const b = batch([
    sum('http.requests', [num(BigInt(T0 + 1) * S, 42n, { route: '/a b', method: 'GET' })]),
    gauge('cpu load', [num(BigInt(T0 + 2) * S, 0.25, { 'host;x': '~web 01' })]),
    histogram('lat', [hist(BigInt(T0 + 3) * S, [0.5, 1], [1, 2, 3], 7.5)]),
  ]);
  it('tags mode: name;k=v sorted as carbon normalises, seconds at window end, sanitised', () => {
    expect(parse(encodeGraphite(pointsOf(b), tags).body)).to.deep.equal([
      ['mp.http.requests;method=GET;route=/a_b;service.name=shop', '42', T0 + 10],
      ['mp.cpu_load;host_x=_web_01;service.name=shop', '0.25', T0 + 10],
      ['mp.lat.count;service.name=shop', '6', T0 + 10],
      ['mp.lat.sum;service.name=shop', '7.5', T0 + 10],
      ['mp.lat.bucket.le_0_5;service.name=shop', '1', T0 + 10],
      ['mp.lat.bucket.le_1;service.name=shop', '3', T0 + 10],
      ['mp.lat.bucket.le_inf;service.name=shop', '6', T0 + 10],
    ]);
  });
  it('path mode: tags folded into the path by the template; dots in values do not add levels', () => {
    const b2 = batch([sum('errors', [num(BigInt(T0 + 1) * S, 3n, { 'error.type': 'Type.Error' })])]);
    expect(parse(encodeGraphite(pointsOf(b2), path).body)).to.deep.equal([['mp.errors.error_type.Type_Error.service_name.shop', '3', T0 + 10]]);
    const p = pointsOf(b2)[0]!;
    expect(seriesPath(p, { prefix: '', tagMode: 'path', template: '{service.name}.{name}.{error.type}' })).to.equal('shop.errors.Type_Error');
  });
  it('NaN values are dropped and counted', () => {
    const e = encodeGraphite(pointsOf(batch([gauge('g', [num(BigInt(T0) * S, NaN)])])), tags);
    expect(e.n).to.equal(0);
    expect(e.dropped).to.deep.equal({ nan: 1 });
  });
  it('tag values never start with ~ and never hold ;', () => {
    expect(sanitizeTagValue('~a;b')).to.equal('_a_b');
    expect(sanitizeTagValue('')).to.equal('_');
  });
});
