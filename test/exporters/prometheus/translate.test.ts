import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CumulativeStore } from '../../../src/pullstore/cumulative.js';
import { expToFixed, expFromPoint, mergeExp } from '../../../exporters/prometheus/exphist.js';
import { negotiate, render } from '../../../exporters/prometheus/exposition.js';
import { PromKeyer, renderLabels } from '../../../exporters/prometheus/labels.js';
import { baseUnit, labelName, metricName } from '../../../exporters/prometheus/naming.js';
import { checkBasicAuth, loadOrCreateCredentials, safeEqual } from '../../../src/pullstore/credentials.js';
import { promtoolCheckMetrics, usePeer } from '../../harness/peers.js';
import { batch, duplicates, exph, gauge, hist, num, parseSamples, sample, SEC, sum, summary, T0 } from './util.js';

function text(store: CumulativeStore, om = false): string {
  return render(store, om ? 'openmetrics' : 'text').join('');
}

describe('prometheus: naming (OTel compatibility spec)', () => {
  it('sanitises metric names, adds unit words and _total', () => {
    expect(metricName('http.server.duration', 'ms', 'histogram')).to.equal('http_server_duration_milliseconds');
    expect(baseUnit('ms')).to.deep.equal({ unit: 's', mul: 1, div: 1000 });
    expect(baseUnit('KiBy/s')).to.deep.equal({ unit: 'By/s', mul: 1024, div: 1 });
    expect(metricName('http.requests', '1', 'counter')).to.equal('http_requests_total');
    expect(metricName('http.requests.total', '{request}', 'counter')).to.equal('http_requests_total');
    expect(metricName('cpu.utilization', '1', 'gauge')).to.equal('cpu_utilization_ratio');
    expect(metricName('net.io', 'By/s', 'gauge')).to.equal('net_io_bytes_per_second');
    expect(metricName('1st.cäche-hits', '{hit}', 'counter')).to.equal('_1st_c_che_hits_total');
    expect(metricName('latency_seconds', 's', 'histogram')).to.equal('latency_seconds');
    expect(metricName('weird__name--x', '', 'gauge')).to.equal('weird_name_x');
  });
  it('sanitises label names (leading digit → key_, leading _ → key)', () => {
    expect(labelName('2nd.kéy-x')).to.equal('key_2nd_k_y_x');
    expect(labelName('_private')).to.equal('key_private');
    expect(labelName('http.method')).to.equal('http_method');
  });
  it('joins colliding attribute values with ";" in key order and renames reserved names', () => {
    expect(renderLabels({ 'a.b': 'x', a_b: 'y', z: 1n, job: 'j', le: '5' })).to.equal('a_b="x;y",exported_job="j",exported_le="5",z="1"');
    expect(renderLabels({ q: 'a"b\\c\nd' })).to.equal('q="a\\"b\\\\c\\nd"');
  });
});

describe('prometheus: cumulative store (semantics.md §5)', () => {
  const keyer = new PromKeyer();

  it('accumulates delta monotonic int sums exactly (bigint) across many batches', () => {
    const s = new CumulativeStore();
    let expected = 0n;
    for (let i = 1; i <= 1000; i++) {
      const v = 9_007_199_254_740_993n + BigInt(i);
      expected += v;
      s.ingest(batch([sum('orders', [num(v, { shop: 'a' }, T0 + BigInt(i) * SEC, T0 + BigInt(i + 1) * SEC)])]), keyer);
    }
    const out = parseSamples(text(s));
    expect(sample(out, 'orders_total', { shop: 'a' })!.value).to.equal(expected.toString());
    expect(sample(out, 'orders_total')!.labels).to.deep.equal({ shop: 'a', otel_scope_name: 'lib', otel_scope_version: '1.0', job: 'shop' });
  });

  it('passes cumulative counters through and counts a reset (start change or decrease)', () => {
    const s = new CumulativeStore();
    const S2 = T0 + 100n * SEC;
    s.ingest(batch([sum('c', [num(10, {}, T0, T0 + SEC)], { delta: false })]), keyer);
    s.ingest(batch([sum('c', [num(25, {}, T0, T0 + 2n * SEC)], { delta: false })]), keyer);
    expect(sample(parseSamples(text(s)), 'c_total')!.value).to.equal('25');
    s.ingest(batch([sum('c', [num(3, {}, S2, S2 + SEC)], { delta: false })]), keyer);
    const om = text(s, true);
    expect(sample(parseSamples(om), 'c_total')!.value).to.equal('3');
    expect(sample(parseSamples(om), 'c_created')!.value).to.equal('1700000100');
    expect(s.counters.resets).to.equal(1);
    s.ingest(batch([sum('c', [num(1, {}, S2, S2 + 2n * SEC)], { delta: false })]), keyer); // decrease, same start
    expect(s.counters.resets).to.equal(2);
    s.ingest(batch([sum('c', [num(7, {}, S2, S2)], { delta: false })]), keyer); // older than the last point
    expect(s.counters.dropped.out_of_order).to.equal(1);
    expect(sample(parseSamples(text(s)), 'c_total')!.value).to.equal('1');
  });

  it('gauges keep the last value by point time; delta non-monotonic sums become a gauge of the running total', () => {
    const s = new CumulativeStore();
    s.ingest(batch([gauge('temp', [num(20.5, {}, 0n, T0 + 2n * SEC)]), sum('inflight', [num(5n)], { monotonic: false })]), keyer);
    s.ingest(batch([gauge('temp', [num(19, {}, 0n, T0 + SEC)]), sum('inflight', [num(-2n)], { monotonic: false })]), keyer);
    const out = parseSamples(text(s));
    expect(sample(out, 'temp')!.value).to.equal('20.5');
    expect(sample(out, 'inflight')!.value).to.equal('3');
  });

  it('adds delta histograms bucket by bucket; other bounds restart the series', () => {
    const s = new CumulativeStore();
    for (let i = 0; i < 3; i++) s.ingest(batch([hist('lat', [1, 5], [1, 2, 3], { sum: 10 })]), keyer);
    let out = parseSamples(text(s));
    expect(['1', '5', '+Inf'].map((le) => sample(out, 'lat_bucket', { le })!.value)).to.deep.equal(['3', '9', '18']);
    expect(sample(out, 'lat_count')!.value).to.equal('18');
    expect(sample(out, 'lat_sum')!.value).to.equal('30');
    s.ingest(batch([hist('lat', [2], [4, 1])]), keyer);
    out = parseSamples(text(s));
    expect(['2', '+Inf'].map((le) => sample(out, 'lat_bucket', { le })!.value)).to.deep.equal(['4', '5']);
    expect(s.counters.resets).to.equal(1);
  });

  it('converts exponential histograms to fixed buckets (merging delta points at different scales)', () => {
    // scale 0: base 2; positive bucket i covers (2^i, 2^(i+1)]
    const a = expFromPoint(exph('x', { scale: 1, count: 4, sum: 10, positive: { offset: 0, bucketCounts: [1, 1, 1, 1] } }).points[0] as never);
    const m = mergeExp(a, exph('x', { scale: 0, count: 2, sum: 5, zeroCount: 1, positive: { offset: 1, bucketCounts: [1] } }).points[0] as never);
    expect(m.scale).to.equal(0);
    expect(m.pos).to.deep.equal({ offset: 0, counts: [2, 3] });
    const f = expToFixed(m);
    expect(f.bounds).to.deep.equal([0, 2, 4]);
    expect(f.counts).to.deep.equal([1, 2, 3, 0]);
    const s = new CumulativeStore();
    s.ingest(
      batch([exph('e', { scale: 0, count: 3, sum: 7, zeroCount: 1, negative: { offset: 0, bucketCounts: [1] }, positive: { offset: 1, bucketCounts: [1] } })]),
      keyer,
    );
    const out = parseSamples(text(s));
    expect(out.filter((x) => x.name === 'e_bucket').map((x) => [x.labels.le, x.value])).to.deep.equal([
      ['-1', '1'],
      ['0', '2'],
      ['4', '3'],
      ['+Inf', '3'],
    ]);
  });

  it('caps series (evicting the least recently updated) and expires idle ones', () => {
    let now = 1_000_000;
    const s = new CumulativeStore({ maxSeries: 3, expiryMs: 60_000, now: () => now });
    for (let i = 0; i < 5; i++) {
      s.ingest(batch([gauge('g', [num(i, { i: String(i) })])]), keyer);
      now += 2000;
    }
    expect(s.size).to.equal(3);
    expect(s.counters.evicted_cap).to.equal(2);
    expect(parseSamples(text(s)).map((x) => x.labels.i)).to.deep.equal(['2', '3', '4']);
    s.ingest(batch([gauge('g', [num(9, { i: '2' })])]), keyer); // i=2 becomes the most recent
    now += 2000;
    s.ingest(batch([gauge('g', [num(5, { i: '5' })])]), keyer); // evicts i=3
    expect(
      parseSamples(text(s))
        .map((x) => x.labels.i)
        .sort(),
    ).to.deep.equal(['2', '4', '5']);
    now += 61_000;
    s.expire();
    expect(s.size).to.equal(0);
    expect(s.counters.evicted_expired).to.equal(3);
    expect(s.families.size).to.equal(0);
  });

  it('a delta series that expired starts a new total', () => {
    let now = 0;
    const s = new CumulativeStore({ expiryMs: 1000, now: () => now });
    s.ingest(batch([sum('d', [num(5n)])]), keyer);
    now = 5000;
    s.ingest(batch([sum('d', [num(2n)])]), keyer);
    expect(sample(parseSamples(text(s)), 'd_total')!.value).to.equal('2');
  });

  it('counts a type conflict instead of mixing a counter and a gauge under one name', () => {
    const s = new CumulativeStore();
    s.ingest(batch([gauge('x_total', [num(1)]), sum('x', [num(1n)])]), keyer);
    expect(s.counters.dropped.type_conflict).to.equal(1);
  });

  it('target_info carries the other resource attributes; job is namespace/name', () => {
    const s = new CumulativeStore();
    s.ingest(batch([gauge('g', [num(1)])], { 'service.name': 'api', 'service.namespace': 'shop', 'service.instance.id': 'i-1', 'host.name': 'h1' }), keyer);
    const out = parseSamples(text(s));
    expect(sample(out, 'target_info')!.labels).to.deep.equal({ host_name: 'h1', job: 'shop/api', instance: 'i-1' });
    expect(sample(out, 'g')!.labels).to.include({ job: 'shop/api', instance: 'i-1' });
  });
});

describe('prometheus: exposition formats', function () {
  this.timeout(60_000);
  const keyer = new PromKeyer();
  const store = new CumulativeStore();
  store.ingest(
    batch(
      [
        sum('http.requests', [num(5n, { route: '/a' }), num(7n, { route: '/b' })], { description: 'Requests "served"\nby route', unit: '{request}' }),
        gauge('queue.depth', [num(3.5)], 'By'),
        gauge('odd', [num(Infinity, { k: 'pos' }), num(-Infinity, { k: 'neg' }), num(NaN, { k: 'nan' })]),
        hist('http.server.duration', [10, 50], [1, 2, 3], { unit: 'ms', attributes: { route: '/a' } }),
        exph('exp.lat', { scale: 2, count: 5, sum: 9, zeroCount: 1, positive: { offset: 3, bucketCounts: [2, 0, 2] } }),
        summary('rpc.latency', {
          count: 10,
          sum: 55.5,
          quantileValues: [
            { quantile: 0.5, value: 5 },
            { quantile: 0.99, value: 9.9 },
          ],
        }),
        sum('1st.cäche-hits', [num(2n, { '2nd.kéy-x': 'välue-1.x' })]),
      ],
      { 'service.name': 'shop', 'deployment.environment': 'prod' },
    ),
    keyer,
  );

  before(async function () {
    await usePeer(this, 'prometheus');
  });

  it('text 0.0.4: passes promtool check metrics, no duplicate series, values as fed', async () => {
    const t = text(store);
    const check = await promtoolCheckMetrics(t);
    expect(check.ok, `${check.output}\n${t}`).to.equal(true);
    const out = parseSamples(t);
    expect(duplicates(out)).to.deep.equal([]);
    expect(t).to.contain('# HELP http_requests_total Requests "served"\\nby route\n# TYPE http_requests_total counter\n');
    expect(sample(out, 'http_requests_total', { route: '/b' })!.value).to.equal('7');
    expect(sample(out, 'queue_depth_bytes')!.value).to.equal('3.5');
    expect(['pos', 'neg', 'nan'].map((k) => sample(out, 'odd', { k })!.value)).to.deep.equal(['+Inf', '-Inf', 'NaN']);
    // ms → seconds (base units): bounds and sum scaled, counts not
    expect(sample(out, 'http_server_duration_seconds_bucket', { le: '0.05' })!.value).to.equal('3');
    expect(sample(out, 'http_server_duration_seconds_sum')!.value).to.equal('0.006');
    expect(sample(out, 'rpc_latency', { quantile: '0.99' })!.value).to.equal('9.9');
    expect(sample(out, '_1st_c_che_hits_total')!.labels.key_2nd_k_y_x).to.equal('välue-1.x');
    expect(sample(out, 'target_info')!.labels).to.deep.equal({ deployment_environment: 'prod', job: 'shop' });
    expect(t).to.not.contain('# EOF');
  });

  it('OpenMetrics 1.0: _total/_created, # UNIT, ends with # EOF, no duplicate series', async () => {
    const t = text(store, true);
    expect(t.endsWith('# EOF\n')).to.equal(true);
    expect(t.indexOf('# EOF')).to.equal(t.length - 6);
    const out = parseSamples(t);
    expect(duplicates(out)).to.deep.equal([]);
    expect(t).to.contain('# TYPE http_requests counter\n');
    expect(sample(out, 'http_requests_total', { route: '/a' })!.value).to.equal('5');
    expect(sample(out, 'http_requests_created', { route: '/a' })!.value).to.equal('1700000000');
    expect(t).to.contain('# UNIT http_server_duration_seconds seconds\n');
    expect(sample(out, 'http_server_duration_seconds_created')).to.not.equal(undefined);
    // promtool (2.42) parses only text 0.0.4 (it reads _total/_created as families of their own): the
    // OpenMetrics output is checked here (EOF, no duplicates) and by a real Prometheus parsing it (e2e)
    expect(t.split('\n').filter((l) => l.startsWith('# TYPE ')).length).to.equal(8);
  });

  it('negotiates the format from Accept', () => {
    expect(negotiate(undefined)).to.equal('text');
    expect(negotiate('text/plain;version=0.0.4')).to.equal('text');
    expect(
      negotiate('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'),
    ).to.equal('openmetrics');
    expect(negotiate('application/openmetrics-text;version=0.0.1')).to.equal('text');
    expect(negotiate('text/plain;q=1,application/openmetrics-text;q=0.5')).to.equal('text');
    expect(negotiate('application/openmetrics-text;q=0')).to.equal('text');
  });
});

describe('prometheus: unit-like words in OTLP names and what promtool says (docs/exporters/prometheus.md)', function () {
  this.timeout(60_000);
  before(async function () {
    await usePeer(this, 'prometheus');
  });

  const names = (unitSuffix: boolean) => {
    const store = new CumulativeStore();
    store.ingest(
      batch([
        hist('build.duration.ms', [10, 100], [1, 2, 3], { unit: 'ms' }),
        gauge('queue.time.milliseconds', [num(5)], 'ms'),
        gauge('request.latency.ms', [num(5)]),
        sum('jobs.counter', [num(3n)]),
        gauge('jobs.count', [num(3)]),
        gauge('disk.usage', [num(3)], 'kBy'),
        sum('forge.builds', [num(3n)], { unit: 's' }),
        sum('process.cpu.time', [num(3)], { unit: 's' }),
        hist('http.server.duration', [10, 100], [1, 2, 3], { unit: 'ms' }),
      ]),
      new PromKeyer('', true, true, unitSuffix),
    );
    return text(store);
  };

  it('the words stay in the name; promtool check metrics names each (promtool 2.42)', async () => {
    const t = names(true);
    expect(
      t
        .split('\n')
        .filter((l) => l.startsWith('# TYPE '))
        .map((l) => l.split(' ')[2]),
    ).to.deep.equal([
      'build_duration_ms_seconds',
      'queue_time_milliseconds_seconds',
      'request_latency_ms',
      'jobs_counter_total',
      'jobs_count',
      'disk_usage_kBy',
      'forge_builds_seconds_total',
      'process_cpu_time_seconds_total',
      'http_server_duration_seconds',
    ]);
    const check = await promtoolCheckMetrics(t);
    expect(check.ok).to.equal(false);
    expect(check.output.split('\n').sort()).to.deep.equal([
      'build_duration_ms_seconds metric names should not contain abbreviated units',
      "disk_usage_kBy metric names should be written in 'snake_case' not 'camelCase'",
      'jobs_count non-histogram and non-summary metrics should not have "_count" suffix',
      "jobs_counter_total metric name should not include type 'counter'",
      'queue_time_milliseconds_seconds use base unit "seconds" instead of "milliseconds"',
      'request_latency_ms metric names should not contain abbreviated units',
    ]);
  });

  it('add_unit_suffix: false drops the unit words metricport adds, not those in the name', async () => {
    const t = names(false);
    expect(t).to.contain('# TYPE forge_builds_total counter\n');
    const check = await promtoolCheckMetrics(t);
    expect(check.output.split('\n').sort()).to.deep.equal([
      'build_duration_ms metric names should not contain abbreviated units',
      'jobs_count non-histogram and non-summary metrics should not have "_count" suffix',
      "jobs_counter_total metric name should not include type 'counter'",
      'queue_time_milliseconds use base unit "seconds" instead of "milliseconds"',
      'request_latency_ms metric names should not contain abbreviated units',
    ]);
  });
});

describe('pull store credentials', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mp-creds-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('generates a 128-bit token and credentials once, keeps them (0600), config values win', () => {
    const a = loadOrCreateCredentials(dir, { token: '', basicAuth: true, username: '', password: '' });
    expect(a.generated).to.deep.equal(['token', 'username', 'password']);
    expect(a.creds.token).to.match(/^[0-9a-f]{32}$/);
    expect(a.creds.password.length).to.be.at.least(24);
    expect(statSync(join(dir, 'credentials.json')).mode & 0o777).to.equal(0o600);
    const b = loadOrCreateCredentials(dir, { token: '', basicAuth: true, username: '', password: '' });
    expect(b.generated).to.deep.equal([]);
    expect(b.creds).to.deep.equal(a.creds);
    const c = loadOrCreateCredentials(dir, { token: 'configured-token-123', basicAuth: true, username: 'u', password: 'p' });
    expect(c.creds).to.deep.equal({ token: 'configured-token-123', username: 'u', password: 'p' });
    expect(readFileSync(join(dir, 'credentials.json'), 'utf8')).to.not.contain('configured-token-123');
  });

  it('compares in constant time and parses Basic auth', () => {
    expect(safeEqual('abc', 'abc')).to.equal(true);
    expect(safeEqual('abc', 'abd')).to.equal(false);
    expect(safeEqual('abc', 'abcd')).to.equal(false);
    const h = (u: string, p: string) => 'Basic ' + Buffer.from(`${u}:${p}`).toString('base64');
    expect(checkBasicAuth(h('u', 'p:x'), 'u', 'p:x')).to.equal(true);
    expect(checkBasicAuth(h('u', 'bad'), 'u', 'p:x')).to.equal(false);
    expect(checkBasicAuth(undefined, '', '')).to.equal(false);
    expect(checkBasicAuth('Bearer x', 'u', 'p')).to.equal(false);
  });
});

describe('prometheus: add_unit_suffix false', () => {
  it('keeps OTLP names, unscaled values and no # UNIT (Forge counts sent with unit "s")', async () => {
    const store = new CumulativeStore();
    store.ingest(
      batch([gauge('forge_api_request_count', [num(8n, { status: '2xx' })], 's'), hist('http.server.duration', [10, 50], [1, 2, 3], { unit: 'ms' })], {
        'service.name': 'forge',
      }),
      new PromKeyer('', true, true, false),
    );
    const t = text(store, true);
    const out = parseSamples(t);
    expect(sample(out, 'forge_api_request_count', { status: '2xx' })!.value).to.equal('8');
    expect(sample(out, 'http_server_duration_bucket', { le: '50' })!.value).to.equal('3');
    expect(t).to.not.contain('# UNIT');
    expect(t).to.not.contain('_seconds');
  });
});
