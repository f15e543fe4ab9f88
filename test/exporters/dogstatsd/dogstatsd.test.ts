import { expect } from 'chai';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { validateSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/logger.js';
import { Temporality, type MetricsBatch, type Metric } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { CumulativeBaselines, encodeDogStatsd } from '../../../exporters/dogstatsd/encode.js';
import { dogstatsdConfigSchema, dogstatsdExporterFactory, type DogStatsdConfig } from '../../../exporters/dogstatsd/factory.js';
import { newParsedLine, parsePacket } from '../../../receivers/statsd/parser.js';
import { waitFor } from '../../harness/ports.js';

// the registry is lazy: the implementation is imported on first use
await dogstatsdExporterFactory.load();

const T = 1_700_000_010_000_000_000n;
const S = T - 10_000_000_000n;

function batch(metrics: Metric[], resource: Record<string, string> = { 'service.name': 'shop' }): MetricsBatch {
  return {
    resourceMetrics: [
      {
        resource: { attributes: resource, droppedAttributesCount: 0 },
        scopeMetrics: [{ scope: { name: '', version: '', attributes: {}, droppedAttributesCount: 0 }, metrics, schemaUrl: '' }],
        schemaUrl: '',
      },
    ],
  };
}
const np = (value: number | bigint, attributes: Record<string, string> = {}, start = S) => ({
  attributes,
  startTimeUnixNano: start,
  timeUnixNano: T,
  flags: 0,
  value,
});

const OPTS = { prefix: '', tags: ['env:prod'], maxPacketSize: 1432, histogramBuckets: true, resourceTags: true, timestamps: false };

/** Parse packets back with the statsd receiver's parser. */
function parseBack(packets: Buffer[]): string[] {
  const out: string[] = [];
  const l = newParsedLine();
  for (const p of packets)
    parsePacket(p.toString(), l, {
      line: (x) =>
        out.push(`${x.name}:${x.values.slice(0, x.count).join(':')}|${x.type}${x.tags ? '|#' + x.tags : ''}${x.timestamp ? '|T' + x.timestamp : ''}`),
      bad: (r, s, a, b) => {
        throw new Error(`bad line ${r}: ${s.slice(a, b)}`);
      },
    });
  return out;
}

describe('dogstatsd encoder: metrics → datagrams, parsed back', () => {
  it('maps every kind; attributes and resource → tags; constant tags first', () => {
    const b = batch([
      { kind: 'gauge', name: 'queue depth', description: '', unit: '', points: [np(3.5, { q: 'a' })] },
      { kind: 'sum', name: 'hits', description: '', unit: '', temporality: Temporality.Delta, isMonotonic: true, points: [np(5n, { route: '/a|b' })] },
      { kind: 'sum', name: 'temp', description: '', unit: '', temporality: Temporality.Cumulative, isMonotonic: false, points: [np(-2)] },
      {
        kind: 'histogram',
        name: 'lat',
        description: '',
        unit: 'ms',
        temporality: Temporality.Delta,
        points: [
          {
            attributes: {},
            startTimeUnixNano: S,
            timeUnixNano: T,
            flags: 0,
            count: 3,
            sum: 60,
            min: 5,
            max: 40,
            bucketCounts: [1, 0, 2],
            explicitBounds: [10, 20],
          },
        ],
      },
      {
        kind: 'summary',
        name: 'rt',
        description: '',
        unit: '',
        points: [{ attributes: {}, startTimeUnixNano: S, timeUnixNano: T, flags: 0, count: 2, sum: 3, quantileValues: [{ quantile: 0.9, value: 2.5 }] }],
      },
      { kind: 'gauge', name: 'stale', description: '', unit: '', points: [{ ...np(1), flags: 1 }] },
    ]);
    const r = encodeDogStatsd(b, OPTS, new CumulativeBaselines());
    expect(r.packets.length).to.equal(1);
    expect(parseBack(r.packets)).to.deep.equal([
      'queue_depth:3.5|g|#env:prod,service.name:shop,q:a',
      'hits:5|c|#env:prod,service.name:shop,route:/a_b',
      'temp:-2|g|#env:prod,service.name:shop',
      'lat.count:3|c|#env:prod,service.name:shop',
      'lat.sum:60|c|#env:prod,service.name:shop',
      'lat.min:5|g|#env:prod,service.name:shop',
      'lat.max:40|g|#env:prod,service.name:shop',
      'lat.bucket:1|c|#env:prod,service.name:shop,lower_bound:-inf,upper_bound:10',
      'lat.bucket:2|c|#env:prod,service.name:shop,lower_bound:20,upper_bound:inf',
      'rt.count:2|c|#env:prod,service.name:shop',
      'rt.sum:3|c|#env:prod,service.name:shop',
      'rt.quantile:2.5|g|#env:prod,service.name:shop,quantile:0.9',
    ]);
    expect(r.skipped).to.deep.equal({ no_value: 1 });
  });

  it('cumulative monotonic sums: first point is a baseline, then increases; a reset sends the new value', () => {
    const st = new CumulativeBaselines();
    const m = (v: number, start = S): MetricsBatch =>
      batch([{ kind: 'sum', name: 'c', description: '', unit: '', temporality: Temporality.Cumulative, isMonotonic: true, points: [np(v, {}, start)] }], {});
    const o = { ...OPTS, tags: [], timestamps: true };
    expect(parseBack(encodeDogStatsd(m(10), o, st).packets)).to.deep.equal([]);
    expect(parseBack(encodeDogStatsd(m(15), o, st).packets)).to.deep.equal(['c:5|c|T1700000010']);
    expect(parseBack(encodeDogStatsd(m(4), o, st).packets)).to.deep.equal(['c:4|c|T1700000010']);
  });

  it('packs lines into datagrams of at most max_packet_size bytes; an over-long line is dropped and counted', () => {
    const pts = Array.from({ length: 500 }, (_, i) => np(i, { series: `s${i}` }));
    const r = encodeDogStatsd(
      batch([
        { kind: 'gauge', name: 'g', description: '', unit: '', points: pts },
        { kind: 'gauge', name: 'x'.repeat(2000), description: '', unit: '', points: [np(1)] },
      ]),
      OPTS,
      new CumulativeBaselines(),
    );
    expect(r.packets.length).to.be.greaterThan(1);
    for (const p of r.packets) expect(p.length).to.be.at.most(1432);
    expect(
      r.packets.slice(0, -1).every((p) => p.length > 1432 - 60),
      'packets are filled',
    ).to.equal(true);
    const back = parseBack(r.packets);
    expect(back.length).to.equal(500);
    expect(back[499]).to.equal('g:499|g|#env:prod,service.name:shop,series:s499');
    expect(r.skipped).to.deep.equal({ too_large: 1 });
  });
});

describe('dogstatsd exporter over real sockets', function () {
  this.timeout(20_000);

  function make(raw: Record<string, unknown>) {
    const { value, issues } = validateSchema(dogstatsdConfigSchema, raw, '');
    expect(issues).to.deep.equal([]);
    const telemetry = new ServiceTelemetry();
    const exp = dogstatsdExporterFactory.create(
      { id: 'dogstatsd', logger: silentLogger(), telemetry, stateDir: os.tmpdir() },
      value as unknown as DogStatsdConfig,
      'metrics',
    );
    return { exp, host: { logger: silentLogger(), telemetry, stateDir: os.tmpdir() } };
  }

  it('UDP: datagrams arrive under the MTU with the exact lines', async () => {
    const srv = dgram.createSocket('udp4');
    const got: Buffer[] = [];
    srv.on('message', (m) => got.push(m));
    await new Promise<void>((r) => srv.bind(0, '127.0.0.1', () => r()));
    const { exp, host } = make({ endpoint: `127.0.0.1:${srv.address().port}`, tags: { env: 'prod' }, prefix: 'app' });
    await exp.start(host);
    const pts = Array.from({ length: 200 }, (_, i) => np(i, { i: String(i) }));
    await exp.consume(batch([{ kind: 'sum', name: 'req', description: '', unit: '', temporality: Temporality.Delta, isMonotonic: true, points: pts }]));
    await waitFor(() => parseBack(got).length === 200, { what: '200 lines' });
    await exp.shutdown(AbortSignal.timeout(5000));
    await exp.shutdown(AbortSignal.timeout(5000));
    for (const p of got) expect(p.length).to.be.at.most(1432);
    expect(parseBack(got)[7]).to.equal('app.req:7|c|#env:prod,service.name:shop,i:7');
    const st = (exp.status as () => Record<string, unknown>)();
    expect(st).to.include({ sent: 200, packets: got.length, lines: 200 });
  });

  it('Unix datagram socket', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-dsd-'));
    const sockPath = path.join(dir, 'dsd.socket');
    const ud = createRequire(import.meta.url)('unix-dgram') as {
      createSocket(t: string, cb: (m: Buffer) => void): { bind(p: string): void; close(): void; on(e: string, f: () => void): void };
    };
    const got: Buffer[] = [];
    const srv = ud.createSocket('unix_dgram', (m) => got.push(m));
    await new Promise<void>((r) => {
      srv.on('listening', () => r());
      srv.bind(sockPath);
    });
    const { exp, host } = make({ transport: 'unixgram', socket_path: sockPath, max_packet_size: 8192 });
    await exp.start(host);
    await exp.consume(batch([{ kind: 'gauge', name: 'g', description: '', unit: '', points: [np(42)] }], {}));
    await waitFor(() => got.length === 1, { what: 'one datagram' });
    await exp.shutdown(AbortSignal.timeout(5000));
    srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
    expect(got[0]!.toString()).to.equal('g:42|g');
  });
});
