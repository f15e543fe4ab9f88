/**
 * datadog receiver: the mapping as data (types, tags, host, rate, distributions)
 * and the receiver over HTTP (every route, keys, encodings, answers, bad
 * input per series and point with counters, refusals, the gzip bomb, 100,000
 * tags), against an in-process consumer.
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import zlib from 'node:zlib';
import type { Consumer } from '../../../src/component.js';
import { redact, validateSchema } from '../../../src/config/schema.js';
import { RefusedError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import type { ExponentialHistogramMetric, GaugeMetric, HistogramMetric, MetricsBatch, SumMetric } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { waitFor } from '../../harness/ports.js';
import { captureLogger } from '../../helpers/logs.js';
import { datadogConfigSchema, type DatadogReceiverConfig } from '../../../receivers/datadog/config.js';
import { expIndex, exponentialPoint, explicitPoint, SeriesMapper, v1Series, v2Series, distSeries, type MapOptions } from '../../../receivers/datadog/map.js';
import { decodeSeriesProto } from '../../../receivers/datadog/proto.js';
import { DatadogReceiver } from '../../../receivers/datadog/receiver.js';
import { encodeMetricPayload } from './payload.js';

const T = 1_700_000_000;
const NS = 1_000_000_000n;
const OPTS: MapOptions = { rateAs: 'count', maxTags: 1000, distributions: { explicitBounds: [], maxScale: 20, maxBuckets: 160 }, nowNs: 42n };
const KEY = 'dd-test-key-0123456789abcdef';

function cfg(over: Record<string, unknown> = {}): DatadogReceiverConfig {
  const { value, issues } = validateSchema(datadogConfigSchema, { endpoint: '127.0.0.1:0', api_keys: [{ key: KEY, name: 'test' }], ...over }, 'datadog');
  expect(issues).to.deep.equal([]);
  return value as unknown as DatadogReceiverConfig;
}

describe('datadog: mapping (docs/receivers/datadog.md)', () => {
  it('v1: gauge, count (monotonic and not), rate → count × interval or gauge; tags, bare tags, duplicates, device; host → host.name', () => {
    const m = new SeriesMapper(OPTS);
    m.add(
      v1Series({
        metric: 'app.cpu',
        points: [
          [T, 0.5],
          [T + 10, 0.75],
        ],
        type: 'gauge',
        host: 'web-1',
        tags: ['env:prod', 'url:http://x/a', 'canary', 'env:dev'],
      }),
      'series[0]',
    );
    m.add(v1Series({ metric: 'app.req', points: [[T, 3]], type: 'count', interval: 10, host: 'web-1', tags: ['route:/a'] }), 'series[1]');
    m.add(v1Series({ metric: 'app.delta', points: [[T, -2]], type: 'count', interval: 10 }), 'series[2]');
    m.add(v1Series({ metric: 'app.rps', points: [[T, 2.5]], type: 'rate', interval: 10, host: 'web-2', device: 'sda' }), 'series[3]');
    m.add(v1Series({ metric: 'app.rps0', points: [[T + 0.25, 4]], type: 'rate' }), 'series[4]');
    m.add(v1Series({ metric: 'app.untyped', points: [[T, 1]] }), 'series[5]');
    const r = m.result();
    expect(r).to.deep.include({ points: 7, rejected: 0, duplicateTags: 1, errors: [] });
    const rms = r.batch.resourceMetrics;
    expect(rms.map((rm) => rm.resource.attributes)).to.deep.equal([{ 'host.name': 'web-1' }, {}, { 'host.name': 'web-2' }]);
    const [g, c] = rms[0]!.scopeMetrics[0]!.metrics as [GaugeMetric, SumMetric];
    expect(g).to.deep.include({ kind: 'gauge', name: 'app.cpu', unit: '' });
    expect(g.points.map((p) => [p.timeUnixNano, p.value, p.attributes])).to.deep.equal([
      [BigInt(T) * NS, 0.5, { env: 'prod', url: 'http://x/a', canary: '' }],
      [BigInt(T + 10) * NS, 0.75, { env: 'prod', url: 'http://x/a', canary: '' }],
    ]);
    expect(g.points[0]!.attributes).to.not.equal(g.points[1]!.attributes);
    expect(c).to.deep.include({ kind: 'sum', name: 'app.req', temporality: 1, isMonotonic: true });
    expect(c.points.map((p) => [p.startTimeUnixNano, p.timeUnixNano, p.value])).to.deep.equal([[BigInt(T - 10) * NS, BigInt(T) * NS, 3]]);
    const [d, rps0, untyped] = rms[1]!.scopeMetrics[0]!.metrics as [SumMetric, GaugeMetric, GaugeMetric];
    expect(d).to.deep.include({ kind: 'sum', isMonotonic: false });
    expect(rps0).to.deep.include({ kind: 'gauge', name: 'app.rps0' });
    expect(rps0.points[0]!.timeUnixNano).to.equal(1_700_000_000_250_000_000n);
    expect(untyped.kind).to.equal('gauge');
    const rps = rms[2]!.scopeMetrics[0]!.metrics[0] as SumMetric;
    expect(rps).to.deep.include({ kind: 'sum', name: 'app.rps', isMonotonic: true });
    expect(rps.points.map((p) => [p.value, p.attributes])).to.deep.equal([[25, { device: 'sda' }]]);
  });

  it('rate: gauge keeps the per-second value', () => {
    const m = new SeriesMapper({ ...OPTS, rateAs: 'gauge' });
    m.add(v1Series({ metric: 'r', points: [[T, 2.5]], type: 'rate', interval: 10 }), 's');
    expect(m.result().batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]).to.deep.include({ kind: 'gauge' });
  });

  it('v2: type enum, resources (host and others), unit, timestamp 0 = arrival', () => {
    const m = new SeriesMapper(OPTS);
    const s = v2Series({
      metric: 'q.depth',
      type: 3,
      points: [{ timestamp: 0, value: 7 }],
      resources: [
        { name: 'h1', type: 'host' },
        { name: 'eu', type: 'region' },
      ],
      tags: ['a:b'],
      unit: 'item',
    });
    expect(typeof s).to.equal('object');
    m.add(s as never, 'series[0]');
    const rm = m.result().batch.resourceMetrics[0]!;
    expect(rm.resource.attributes).to.deep.equal({ 'host.name': 'h1', region: 'eu' });
    expect(rm.scopeMetrics[0]!.scope.name).to.equal('metricport/datadog');
    expect(rm.scopeMetrics[0]!.metrics[0]).to.deep.include({ kind: 'gauge', unit: 'item' });
    expect((rm.scopeMetrics[0]!.metrics[0] as GaugeMetric).points[0]).to.deep.include({ timeUnixNano: 42n, value: 7 });
  });

  it('distribution points → exponential histograms (count, sum, min, max exact; buckets at the highest scale that fits)', () => {
    const m = new SeriesMapper(OPTS);
    m.add(
      distSeries({
        metric: 'lat',
        points: [
          [T, [1, 2, 2, 4, 0, -3]],
          [T + 1, [10]],
        ],
        host: 'h',
        tags: ['svc:a'],
      }),
      'series[0]',
    );
    const h = m.result().batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0] as ExponentialHistogramMetric;
    expect(h).to.deep.include({ kind: 'exponentialHistogram', name: 'lat', temporality: 1 });
    const p = h.points[0]!;
    expect(p).to.deep.include({ count: 6, sum: 6, min: -3, max: 4, zeroCount: 1 });
    expect(p.positive.bucketCounts.reduce((a, b) => a + b, 0)).to.equal(4);
    expect(p.negative.bucketCounts).to.deep.equal([1]);
    // 1 .. 4 span 2 octaves: 160 buckets allow scale 6 (64 per octave → 129 buckets), not 7 (257)
    expect(p.scale).to.equal(6);
    // every sample is in the bucket (base^i, base^(i+1)] of its index
    const base = 2 ** (2 ** -p.scale);
    for (const v of [1, 2, 4]) {
      const i = expIndex(v, p.scale);
      expect(base ** i < v * (1 + 1e-12) && v <= base ** (i + 1) * (1 + 1e-12)).to.equal(true);
    }
    expect(h.points[1]).to.deep.include({ count: 1, sum: 10, min: 10, max: 10, scale: 20 });
    const one = exponentialPoint([5, 5, 5], 20, 160, {}, 1n);
    expect(one.positive.bucketCounts).to.deep.equal([3]);
  });

  it('distribution points → explicit buckets when explicit_bounds is set', () => {
    const p = explicitPoint([0.5, 1, 1.5, 10, 99], [1, 5, 10], {}, 5n);
    expect(p).to.deep.include({ count: 5, sum: 112, min: 0.5, max: 99, bucketCounts: [2, 1, 1, 1], explicitBounds: [1, 5, 10] });
    const m = new SeriesMapper({ ...OPTS, distributions: { ...OPTS.distributions, explicitBounds: [1, 5, 10] } });
    m.add(distSeries({ metric: 'x', points: [[T, [3]]] }), 's');
    expect((m.result().batch.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0] as HistogramMetric).points[0]!.bucketCounts).to.deep.equal([0, 1, 0, 0]);
  });

  it('bad series and points are rejected one by one with key paths and reasons; the rest is kept', () => {
    const m = new SeriesMapper({ ...OPTS, maxTags: 3 });
    m.add(v1Series({ points: [[T, 1]] }), 'series[0]');
    m.add(v1Series({ metric: 'a', points: [[T, 'x'], [T, 1], ['soon', 2], [T * 1000, 3], [T]] }), 'series[1]');
    m.add(v1Series({ metric: 'b', type: 'histogram', points: [[T, 1]] }), 'series[2]');
    m.add(
      v1Series({
        metric: 'c',
        tags: ['a', 'b', 'c', 'd'],
        points: [
          [T, 1],
          [T, 2],
        ],
      }),
      'series[3]',
    );
    m.add(v1Series({ metric: 'd', tags: 'a:b', points: [[T, 1]] }), 'series[4]');
    m.add(v1Series({ metric: 'e', interval: -1, points: [[T, 1]] }), 'series[5]');
    m.add(v1Series({ metric: 'f', host: 7, points: [[T, 1]] }), 'series[6]');
    m.add(v1Series({ metric: 'g', points: [] }), 'series[7]');
    const r = m.result();
    expect(r.points).to.equal(1);
    expect(r.rejected).to.equal(12);
    expect(r.byReason).to.deep.equal({
      missing_metric: 1,
      bad_value: 1,
      bad_timestamp: 2,
      bad_points: 2,
      bad_type: 1,
      too_many_tags: 2,
      bad_tags: 1,
      bad_interval: 1,
      bad_host: 1,
    });
    expect(r.errors).to.deep.equal([
      'series[0].metric: must be a non-empty string',
      'series[1].points[0][1]: must be a finite number',
      'series[1].points[2][0]: must be a number of seconds since the Unix epoch',
      'series[1].points[3][0]: 1700000000000 is too large for seconds since the Unix epoch (milliseconds?)',
      'series[1].points[4]: must be a [timestamp, value] pair',
      'series[2].type: "histogram" is not one of gauge, count, rate',
      'series[3].tags: 4 tags, more than max_tags_per_series (3)',
      'series[4].tags: must be an array of strings',
      'series[5].interval: must be a number of seconds ≥ 0',
      'series[6].host: must be a string',
    ]);
  });

  it('an interval too long for a window (1e300 s once answered 500 from BigInt(Infinity)) rejects only its series', () => {
    const m = new SeriesMapper(OPTS);
    m.add(v1Series({ metric: 'huge', type: 'count', interval: 1e300, points: [[T, 1]] }), 'series[0]');
    m.add(v1Series({ metric: 'year', type: 'count', interval: 315_360_001, points: [[T, 1]] }), 'series[1]');
    m.add(v1Series({ metric: 'ok', type: 'count', interval: 315_360_000, points: [[T, 2]] }), 'series[2]');
    const r = m.result();
    expect(r.points).to.equal(1);
    expect(r.byReason).to.deep.equal({ bad_interval: 2 });
    expect(r.errors).to.deep.equal([
      'series[0].interval: 1e+300 s is longer than 315360000 s (10 years)',
      'series[1].interval: 315360001 s is longer than 315360000 s (10 years)',
    ]);
  });

  it('protobuf: the MetricPayload fields; unknown fields skipped; truncation named by byte offset', () => {
    const buf = encodeMetricPayload([
      {
        metric: 'p.m',
        type: 1,
        interval: 10,
        points: [{ timestamp: T, value: 4.5 }],
        resources: [{ type: 'host', name: 'h9' }],
        tags: ['k:v'],
        unit: 'byte',
        sourceTypeName: 'x',
      },
    ]);
    const withUnknown = Buffer.concat([buf, Buffer.from([0x98, 0x06, 0x01])]); // field 99 varint
    const [s] = decodeSeriesProto(withUnknown);
    expect(s).to.deep.equal({
      metric: 'p.m',
      type: 'count',
      interval: 10,
      host: undefined,
      tags: ['k:v'],
      unit: 'byte',
      points: [[T, 4.5]],
      shape: 'pair',
      resources: [{ type: 'host', name: 'h9' }],
    });
    expect(() => decodeSeriesProto(buf.subarray(0, buf.length - 3))).to.throw(/malformed protobuf at byte offset \d+: length \d+ runs past the end/);
    expect(() => decodeSeriesProto(Buffer.from([0x0a, 0xff]))).to.throw(/malformed protobuf at byte offset 2: truncated varint/);
  });
});

describe('datadog receiver over HTTP', function () {
  this.timeout(30_000);
  let rcv: DatadogReceiver;
  let url = '';
  const got: MetricsBatch[] = [];
  let refuse: Error | undefined;
  const next: Consumer<MetricsBatch> = {
    consume: async (b) => {
      if (refuse !== undefined) throw refuse;
      got.push(b);
    },
  };
  const H = { 'Content-Type': 'application/json', 'DD-API-KEY': KEY };

  before(async () => {
    const tel = new ServiceTelemetry();
    rcv = new DatadogReceiver(
      { id: 'datadog', logger: silentLogger(), telemetry: tel, stateDir: mkdtempSync(join(tmpdir(), 'mp-dd-')) },
      cfg({ max_request_body_size: '1MiB', max_tags_per_series: 1000 }),
      next,
    );
    await rcv.start({ logger: silentLogger(), telemetry: tel, stateDir: '' });
    url = `http://127.0.0.1:${rcv.boundAddress()!.port}`;
  });
  after(async () => {
    await rcv.shutdown(AbortSignal.timeout(2000));
    await rcv.shutdown(AbortSignal.timeout(2000));
  });

  const req = async (method: string, path: string, body?: string | Buffer, headers: Record<string, string> = H) => {
    const r = await fetch(`${url}${path}`, { method, body, headers });
    return { status: r.status, body: await r.text(), headers: r.headers };
  };
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = H) => req('POST', path, body, headers);
  const counters = () => rcv.status().counters as Record<string, unknown>;
  const names = () => got.flatMap((b) => b.resourceMetrics.flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => m.name))));

  it('v1 series → 202 {"status":"ok"}; v2 JSON → 202 {"errors":[]}; distribution points and check runs → 202 {"status":"ok"}; validate → 200', async () => {
    got.length = 0;
    expect(await post('/api/v1/series', JSON.stringify({ series: [{ metric: 'a.v1', points: [[T, 1]], type: 'gauge' }] }))).to.deep.include({
      status: 202,
      body: '{"status":"ok"}',
    });
    expect(
      await post('/api/v2/series', JSON.stringify({ series: [{ metric: 'a.v2', type: 1, interval: 10, points: [{ timestamp: T, value: 2 }] }] })),
    ).to.deep.include({ status: 202, body: '{"errors":[]}' });
    expect(await post('/api/v1/distribution_points', JSON.stringify({ series: [{ metric: 'a.dist', points: [[T, [1, 2]]] }] }))).to.deep.include({
      status: 202,
      body: '{"status":"ok"}',
    });
    expect(await post('/api/v1/check_run', JSON.stringify([{ check: 'app.ok', host_name: 'h', status: 0 }]))).to.deep.include({
      status: 202,
      body: '{"status":"ok"}',
    });
    expect(await req('GET', '/api/v1/validate', undefined, { 'DD-API-KEY': KEY })).to.deep.include({ status: 200, body: '{"valid":true}' });
    expect(await req('GET', `/api/v1/validate?api_key=${KEY}`, undefined, {})).to.deep.include({ status: 200 });
    expect(names()).to.deep.equal(['a.v1', 'a.v2', 'a.dist']);
    expect(counters()).to.deep.include({ check_runs: 1, validations: 2 });
  });

  it('v2 protobuf (application/x-protobuf), gzip, deflate, zstd', async () => {
    got.length = 0;
    const pb = encodeMetricPayload([
      { metric: 'pb.g', type: 3, points: [{ timestamp: T, value: 1.5 }], resources: [{ type: 'host', name: 'h' }], tags: ['a:b'] },
    ]);
    const PB = { 'Content-Type': 'application/x-protobuf', 'DD-API-KEY': KEY };
    expect(await post('/api/v2/series', pb, PB)).to.deep.include({ status: 202, body: '{"errors":[]}' });
    expect((await post('/api/v2/series', zlib.gzipSync(pb), { ...PB, 'Content-Encoding': 'gzip' })).status).to.equal(202);
    expect((await post('/api/v2/series', zlib.deflateSync(pb), { ...PB, 'Content-Encoding': 'deflate' })).status).to.equal(202);
    const json = JSON.stringify({ series: [{ metric: 'z.v1', points: [[T, 3]] }] });
    const zst = execFileSync('zstd', ['-q', '-c'], { input: json });
    expect(await post('/api/v1/series', zst, { ...H, 'Content-Encoding': 'zstd' })).to.deep.include({ status: 202 });
    const zst2 = execFileSync('zstd', ['-q', '-c'], { input: pb });
    expect(await post('/api/v2/series', zst2, { ...PB, 'Content-Encoding': 'zstd1' })).to.deep.include({ status: 202 });
    expect(names()).to.deep.equal(['pb.g', 'pb.g', 'pb.g', 'z.v1', 'pb.g']);
    const g = got[0]!.resourceMetrics[0]!;
    expect(g.resource.attributes).to.deep.equal({ 'host.name': 'h' });
    expect((g.scopeMetrics[0]!.metrics[0] as GaugeMetric).points[0]).to.deep.include({ value: 1.5, timeUnixNano: BigInt(T) * NS, attributes: { a: 'b' } });
    expect((await post('/api/v1/series', Buffer.from('not zstd at all'), { ...H, 'Content-Encoding': 'zstd' })).status).to.equal(400);
    expect((await post('/api/v1/series', Buffer.from('x'), { ...H, 'Content-Encoding': 'br' })).status).to.equal(415);
  });

  it('keys: none or another → 403 {"errors":[...]} counted; the key is never logged; the right one works (header or api_key query)', async () => {
    const before = counters().auth_failures as number;
    const body = JSON.stringify({ series: [{ metric: 'k', points: [[T, 1]] }] });
    const r1 = await post('/api/v1/series', body, { 'Content-Type': 'application/json' });
    expect(r1.status).to.equal(403);
    expect(JSON.parse(r1.body)).to.deep.equal({ errors: ['missing API key: send the DD-API-KEY header (or the api_key query parameter)'] });
    const r2 = await post('/api/v2/series', body, { 'Content-Type': 'application/json', 'DD-API-KEY': 'SECRET-wrong-key' });
    expect(r2.status).to.equal(403);
    expect(r2.body).to.not.include('SECRET');
    expect((await req('GET', '/api/v1/validate?api_key=SECRET-wrong-key', undefined, {})).status).to.equal(403);
    expect(counters().auth_failures).to.equal(before + 3);
    expect((await post(`/api/v1/series?api_key=${KEY}`, body, { 'Content-Type': 'application/json' })).status).to.equal(202);
  });

  it('bad bodies → 400 with a message and a counter; partial batches → 202 naming the bad series; nothing valid → 400', async () => {
    got.length = 0;
    const m = await post('/api/v1/series', '{"series": [');
    expect(m.status).to.equal(400);
    expect(JSON.parse(m.body).errors[0]).to.match(/^malformed JSON: /);
    expect((await post('/api/v2/series', '{"nope":1}')).body).to.equal('{"errors":["the body must be a JSON object with a \\"series\\" array"]}');
    const pb = encodeMetricPayload([{ metric: 'pb.t', type: 3, points: [{ timestamp: T, value: 1 }] }]);
    const t = await post('/api/v2/series', pb.subarray(0, pb.length - 4), { 'Content-Type': 'application/x-protobuf', 'DD-API-KEY': KEY });
    expect(t.status).to.equal(400);
    expect(JSON.parse(t.body).errors[0]).to.match(/^malformed protobuf at byte offset \d+/);
    const partial = await post(
      '/api/v2/series',
      JSON.stringify({
        series: [
          { metric: 'ok.one', type: 3, points: [{ timestamp: T, value: 1 }] },
          { metric: 'bad', type: 'gauge!', points: [{ timestamp: T, value: 1 }] },
          { metric: 'bad2', type: 3, points: [{ timestamp: T, value: '1' }] },
        ],
      }),
    );
    expect(partial.status).to.equal(202);
    expect(JSON.parse(partial.body)).to.deep.equal({
      errors: ['series[1].type: "gauge!" is not one of 0 (unspecified), 1 (count), 2 (rate), 3 (gauge)', 'series[2].points[0].value: must be a finite number'],
    });
    const v1partial = await post('/api/v1/series', JSON.stringify({ series: [{ metric: 'ok.two', points: [[T, 1]] }, 7] }));
    expect(JSON.parse(v1partial.body)).to.deep.equal({ status: 'ok', errors: ['series[1]: must be an object'] });
    const none = await post('/api/v1/series', JSON.stringify({ series: [{ metric: 'x', points: [[T, null]] }] }));
    expect(none.status).to.equal(400);
    expect(JSON.parse(none.body)).to.deep.equal({ errors: ['series[0].points[0][1]: must be a finite number'] });
    expect(names()).to.deep.equal(['ok.one', 'ok.two']);
    const c = counters();
    expect(c.rejected_by_reason).to.deep.include({ bad_type: 1, bad_value: 2, bad_series: 1 });
    expect((c.responses as Record<string, number>)['400']).to.be.at.least(4);
    expect((await req('GET', '/api/v1/series', undefined)).status).to.equal(405);
  });

  it('100,000 tags on one series → that series rejected (too_many_tags), the others in the request kept; the service keeps serving', async () => {
    got.length = 0;
    const tags = Array.from({ length: 100_000 }, (_, i) => String(i));
    const r = await post(
      '/api/v1/series',
      JSON.stringify({
        series: [
          { metric: 'many', points: [[T, 1]], tags },
          { metric: 'few', points: [[T, 2]], tags: ['a:b'] },
        ],
      }),
    );
    expect(r.status).to.equal(202);
    expect(JSON.parse(r.body)).to.deep.equal({ status: 'ok', errors: ['series[0].tags: 100000 tags, more than max_tags_per_series (1000)'] });
    expect(names()).to.deep.equal(['few']);
    expect((counters().rejected_by_reason as Record<string, number>).too_many_tags).to.equal(1);
    expect((await post('/api/v1/series', JSON.stringify({ series: [{ metric: 'after', points: [[T, 1]] }] }))).status).to.equal(202);
  });

  it('a gzip bomb and a zstd bomb → 413 (decompression stops at max_request_body_size); an oversized body → 413; the service keeps serving', async () => {
    const n413 = () => (counters().responses as Record<string, number>)['413'] ?? 0;
    const before = n413();
    const bomb = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
    expect(bomb.length).to.be.below(1024 * 1024);
    const r = await post('/api/v1/series', bomb, { ...H, 'Content-Encoding': 'gzip' });
    expect(r.status).to.equal(413);
    expect(JSON.parse(r.body).errors[0]).to.match(/exceeds max_request_body_size \(1048576 bytes\)/);
    const zbomb = execFileSync('zstd', ['-q', '-c', '--no-content-size'], { input: Buffer.alloc(16 * 1024 * 1024, 0x20), maxBuffer: 64 * 1024 * 1024 });
    expect((await post('/api/v1/series', zbomb, { ...H, 'Content-Encoding': 'zstd' })).status).to.equal(413);
    expect((await post('/api/v1/series', Buffer.alloc(2 * 1024 * 1024, 0x20))).status).to.equal(413);
    expect(n413() - before).to.equal(3);
    expect((await post('/api/v1/series', JSON.stringify({ series: [{ metric: 'alive', points: [[T, 1]] }] }))).status).to.equal(202);
  });

  it('the pipeline refuses → 429/503 with Retry-After (the clients retry); a permanent error → 400', async () => {
    const body = JSON.stringify({ series: [{ metric: 'r', points: [[T, 1]] }] });
    refuse = new RefusedError('queue full', { status: 429, retryAfterSeconds: 7 });
    const a = await post('/api/v1/series', body);
    expect([a.status, a.headers.get('retry-after'), JSON.parse(a.body).errors[0]]).to.deep.equal([429, '7', 'queue full']);
    refuse = new Error('exporter down');
    const b = await post('/api/v2/series', JSON.stringify({ series: [{ metric: 'r', points: [{ timestamp: T, value: 1 }] }] }));
    expect([b.status, b.headers.get('retry-after')]).to.deep.equal([503, '1']);
    refuse = undefined;
    expect((await post('/api/v1/series', body)).status).to.equal(202);
  });
});

describe('datadog receiver: config and path_prefix', () => {
  it('api_keys is required; duplicate keys and unsorted explicit bounds are errors with their key paths; the key is redacted', async () => {
    const { issues } = validateSchema(datadogConfigSchema, { endpoint: '127.0.0.1:0' }, 'datadog');
    expect(issues.map((i) => i.path)).to.deep.equal(['datadog.api_keys']);
    const red = JSON.stringify(redact(datadogConfigSchema, cfg()));
    expect(red).to.not.include(KEY);
    expect(red).to.include('[REDACTED]');
    const { datadogReceiverFactory } = await import('../../../receivers/datadog/factory.js');
    const c = cfg({ api_keys: [{ key: 'a' }, { key: 'a' }], distributions: { explicit_bounds: [1, 5, 2] } });
    expect(datadogReceiverFactory.validate!(c).map((i) => [i.path, i.message])).to.deep.equal([
      ['api_keys[1].key', 'the same key is listed twice'],
      ['distributions.explicit_bounds[2]', 'bounds must be strictly ascending (5 then 2)'],
    ]);
  });
  it('path_prefix: /datadog/api/... served, /api/... not', async () => {
    const tel = new ServiceTelemetry();
    const got: MetricsBatch[] = [];
    const rcv = new DatadogReceiver(
      { id: 'datadog', logger: silentLogger(), telemetry: tel, stateDir: mkdtempSync(join(tmpdir(), 'mp-dd-')) },
      cfg({ path_prefix: '/datadog' }),
      {
        consume: async (b) => {
          got.push(b);
        },
      },
    );
    await rcv.start({ logger: silentLogger(), telemetry: tel, stateDir: '' });
    try {
      const url = `http://127.0.0.1:${rcv.boundAddress()!.port}`;
      const body = JSON.stringify({ series: [{ metric: 'pre', points: [[T, 1]] }] });
      const h = { 'Content-Type': 'application/json', 'DD-API-KEY': KEY };
      expect((await fetch(`${url}/datadog/api/v1/series`, { method: 'POST', body, headers: h })).status).to.equal(202);
      expect((await fetch(`${url}/api/v1/series`, { method: 'POST', body, headers: h })).status).to.equal(404);
      expect((await fetch(`${url}/datadog/api/v1/validate`, { headers: h })).status).to.equal(200);
      expect(got).to.have.length(1);
      expect(rcv.status().paths).to.deep.include('/datadog/api/v2/series');
    } finally {
      await rcv.shutdown(AbortSignal.timeout(2000));
    }
  });
});

describe('datadog receiver: a wrong key is warned about, rate-limited, never logged', () => {
  it('one warning naming the receiver and api_keys; the key absent from every line', async () => {
    const cap = captureLogger('warn');
    const tel = new ServiceTelemetry();
    const rcv = new DatadogReceiver({ id: 'datadog/web', logger: cap.logger, telemetry: tel, stateDir: mkdtempSync(join(tmpdir(), 'mp-dd-')) }, cfg(), {
      consume: async () => {},
    });
    await rcv.start({ logger: cap.logger, telemetry: tel, stateDir: '' });
    try {
      const url = `http://127.0.0.1:${rcv.boundAddress()!.port}`;
      for (const k of ['SECRET-dd-wrong-1', 'SECRET-dd-wrong-2']) {
        expect((await fetch(`${url}/api/v1/series`, { method: 'POST', body: '{}', headers: { 'DD-API-KEY': k } })).status).to.equal(403);
      }
      await waitFor(() => cap.lines.length >= 1, { timeoutMs: 5_000, what: 'a warning' });
      const warns = cap.records().filter((r) => r.level === 'warn');
      expect(warns.map((w) => [w.receiver, w.status, w.msg])).to.deep.equal([
        ['datadog/web', 403, 'datadog receiver datadog/web refused a request: unknown API key (DD-API-KEY); check it against receivers.datadog/web.api_keys'],
      ]);
      expect(cap.lines.join('\n')).to.not.include('SECRET-dd-wrong');
      expect(JSON.stringify(rcv.status())).to.not.include(KEY);
      expect(rcv.status()).to.deep.include({ keys: ['test'] });
    } finally {
      await rcv.shutdown(AbortSignal.timeout(2000));
    }
  });
});
