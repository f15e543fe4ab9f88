/** influxdb exporter: line protocol as data; real InfluxDB 1.x round trip with escaping-heavy names; VictoriaMetrics /write; a v2 test double (headers, gzip, 413 split, partial write, Retry-After). */
import { expect } from 'chai';
import { encodeLines } from '../../../exporters/influxdb/encode.js';
import { createInflux, partialWriteDropped } from '../../../exporters/influxdb/exporter.js';
import { startInfluxDB, startVictoriaMetrics, usePeer, type InfluxDBPeer, type VictoriaMetricsPeer } from '../../harness/peers.js';
import { waitFor } from '../../harness/ports.js';
import { host, never, settings } from '../../exporterhelper/fakes.js';
import { S, batch, gauge, hist, histogram, influxCfg, num, pointsOf, sum } from '../../storehelper/util.js';
import { HttpDouble } from '../../storehelper/double.js';

const T0 = 1_700_000_000;
const NASTY_NAME = 'cpu load,"x"=\\y é';
const NASTY_ATTRS = { 'ho st,=': 'server 01,=\\"q"\\x', 'unicode ✓': 'ünï çødé 🚀', 'tail\\': 'v\\' };

describe('influxdb: line protocol (protocols.md §5)', () => {
  it('escapes, types ints and floats, sorts tags, scales to precision; histograms as fields', () => {
    const pts = pointsOf(
      batch([
        gauge('cpu load', [num(BigInt(T0) * S, 0.64, { host: 'server 01', region: 'us,west', empty: '' })]),
        sum('req=s', [num(BigInt(T0) * S, 3n, { 'a=b': 'c d' })]),
        histogram('lat', [hist(BigInt(T0) * S, [0.5], [1, 2], 4.5, {}, 0n, [0.1, 3])]),
      ]),
      'cumulative',
    );
    expect(encodeLines(pts, { precision: 's', fieldName: 'value' }).text.split('\n')).to.deep.equal([
      'cpu\\ load,host=server\\ 01,region=us\\,west,service.name=shop value=0.64 1700000010',
      'req=s,a\\=b=c\\ d,service.name=shop value=3i 1700000010',
      'lat,service.name=shop count=3i,sum=4.5,min=0.1,max=3,le_0.5=1i,le_+Inf=3i 1700000010',
      '',
    ]);
  });
  it('parses partial-write answers', () => {
    expect(
      partialWriteDropped(
        '{"error":"partial write: field type conflict: input field \\"value\\" on measurement \\"m\\" is type integer, already exists as type float dropped=2"}',
      ),
    ).to.equal(2);
    expect(partialWriteDropped('{"error":"unable to parse"}')).to.equal(undefined);
  });
});

describe('influxdb exporter → real InfluxDB 1.x', function () {
  this.timeout(60_000);
  let influx: InfluxDBPeer;
  before(async function () {
    await usePeer(this, 'influxdb');
    influx = await startInfluxDB();
    await influx.createDatabase('mp');
  });
  after(async () => {
    await influx?.stop();
  });

  it('/query returns the exact values, tags and timestamps; spaces, commas, equals, quotes, backslashes and unicode round-trip', async () => {
    const set = settings('influxdb/v1', undefined, undefined);
    const ex = createInflux(set, influxCfg(influx.url, { username: 'u', password: 'pw-secret-1' }));
    await ex.start(host(set));
    const nowS = Math.floor(Date.now() / 1000);
    const t = BigInt(nowS) * S;
    await ex.consume(
      batch([gauge(NASTY_NAME, [num(t, 0.125, NASTY_ATTRS)]), sum('requests', [num(t, 40n, { route: '/a b' }), num(t + 5n, 2n, { route: '/a b' })])]),
    );
    await ex.shutdown(never());
    const end = BigInt(nowS + 1) * S;
    const r1 = await influx.query('mp', `SELECT * FROM "${NASTY_NAME.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
    expect(r1[0]!.series).to.deep.equal([
      {
        name: NASTY_NAME,
        columns: ['time', 'ho st,=', 'tail_', 'unicode ✓', 'value'],
        values: [[Number(end), 'server 01,=\\"q"\\x', 'v_', 'ünï çødé 🚀', 0.125]],
      },
    ]);
    const r2 = await influx.query('mp', 'SELECT * FROM requests');
    expect(r2[0]!.series).to.deep.equal([{ name: 'requests', columns: ['time', 'route', 'value'], values: [[Number(end), '/a b', 42]] }]);
    expect(ex.status()).to.deep.include({ points_sent: 2, points_dropped: 0 });
  });
});

describe('influxdb exporter → real VictoriaMetrics /write', function () {
  this.timeout(60_000);
  let vm: VictoriaMetricsPeer;
  before(async function () {
    await usePeer(this, 'victoria-metrics');
    vm = await startVictoriaMetrics();
  });
  after(async () => {
    await vm?.stop();
  });
  it('accepts the v1 payload; exported back exactly (measurement_field names)', async () => {
    const set = settings('influxdb/vm');
    const ex = createInflux(set, influxCfg(vm.url));
    await ex.start(host(set));
    const nowS = Math.floor(Date.now() / 1000);
    await ex.consume(batch([gauge('disk', [num(BigInt(nowS) * S, 0.5, { dev: 'sd a' })])]));
    await ex.shutdown(never());
    const s = await vm.waitForSeries('{__name__="disk_value"}');
    expect(s).to.deep.equal([{ metric: { __name__: 'disk_value', db: 'mp', dev: 'sd a' }, values: [0.5], timestamps: [(nowS + 1) * 1000] }]);
  });
});

describe('influxdb exporter v2 → test double', function () {
  this.timeout(30_000);
  let d: HttpDouble;
  beforeEach(async () => {
    d = new HttpDouble();
    d.fallback = { status: 204 };
    await d.start();
  });
  afterEach(async () => {
    await d.stop();
  });

  it('v2 headers, query, gzip; 413 splits the batch and resends; partial write counted, not retried; 503 Retry-After honoured', async () => {
    const set = settings('influxdb/v2');
    const ex = createInflux(set, influxCfg(d.url, { api_version: 'v2', org: 'o1', bucket: 'b1', token: 'tok-secret-2', precision: 's', db: '' }));
    await ex.start(host(set));
    const t = BigInt(Math.floor(Date.now() / 1000)) * S;
    d.script = [
      { status: 413 },
      { status: 503, headers: { 'Retry-After': '1' } },
      { status: 204 },
      { status: 400, body: '{"error":"partial write: field type conflict dropped=1"}' },
    ];
    await ex.consume(batch([gauge('g', [num(t, 1, { i: 'a' }), num(t, 2, { i: 'b' }), num(t, 3, { i: 'c' }), num(t, 4, { i: 'd' })])]));
    await ex.shutdown(never());
    expect(d.requests.map((r) => r.body.toString().split('\n').filter(Boolean).length)).to.deep.equal([4, 2, 2, 2]);
    const [first, , third, fourth] = d.requests;
    expect(first!.method).to.equal('POST');
    expect(first!.url).to.equal('/api/v2/write?org=o1&bucket=b1&precision=s');
    expect(first!.headers).to.deep.include({ authorization: 'Token tok-secret-2', 'content-type': 'text/plain; charset=utf-8', 'content-encoding': 'gzip' });
    expect(third!.at - d.requests[1]!.at).to.be.at.least(950); // Retry-After: 1
    expect(third!.body.toString()).to.equal(d.requests[1]!.body.toString()); // the same half resent
    expect(fourth!.body.toString()).to.match(/^g,i=c value=3 \d+\ng,i=d value=4 \d+\n$/);
    expect(ex.status()).to.deep.include({ points_sent: 3, partial_write_dropped: 1 });
    expect((ex.status().dropped as Record<string, number>).partial_success).to.equal(1);
    const statusText = JSON.stringify(ex.status()) + set.logger.text();
    expect(statusText).not.to.contain('tok-secret-2');
    void waitFor;
  });
});
