import { expect } from 'chai';
import {
  invalidUtf8Offset,
  isGzip,
  isZlibWrapped,
  nowUnixNano,
  pairClocks,
  parseContentEncoding,
  parseContentType,
  summarizeErrors,
} from '../../src/receiverhttp/negotiate.js';
import zlib from 'node:zlib';

describe('receiverhttp: negotiation helpers', () => {
  it('parseContentType', () => {
    expect(parseContentType('application/json')).to.deep.equal({ format: 'json' });
    expect(parseContentType('Application/JSON; charset=UTF-8')).to.deep.equal({ format: 'json' });
    expect(parseContentType('application/json;charset="utf8"')).to.deep.equal({ format: 'json' });
    expect(parseContentType('application/x-protobuf')).to.deep.equal({ format: 'proto' });
    expect(parseContentType('application/protobuf')).to.deep.equal({ format: 'proto' });
    expect(parseContentType('application/x-protobuf; proto=opentelemetry')).to.deep.equal({ format: 'proto' });
    expect(parseContentType('text/plain')).to.have.property('error').that.contains('application/json or application/x-protobuf');
    expect(parseContentType(undefined)).to.have.property('error').that.contains('missing Content-Type');
    expect(parseContentType('application/json; charset=utf-16')).to.have.property('error').that.contains('utf-16');
  });

  it('parseContentEncoding', () => {
    expect(parseContentEncoding(undefined)).to.deep.equal({ encoding: 'identity' });
    expect(parseContentEncoding('identity')).to.deep.equal({ encoding: 'identity' });
    expect(parseContentEncoding('none')).to.deep.equal({ encoding: 'identity' });
    expect(parseContentEncoding('gzip')).to.deep.equal({ encoding: 'gzip' });
    expect(parseContentEncoding('GZIP ')).to.deep.equal({ encoding: 'gzip' });
    expect(parseContentEncoding('x-gzip')).to.deep.equal({ encoding: 'gzip' });
    expect(parseContentEncoding('deflate')).to.deep.equal({ encoding: 'deflate' });
    expect(parseContentEncoding('gzip, identity')).to.deep.equal({ encoding: 'gzip' });
    expect(parseContentEncoding('br')).to.deep.equal({ error: 'unsupported Content-Encoding "br"; send gzip, deflate or identity' });
    expect(parseContentEncoding('gzip, gzip')).to.have.property('error').that.contains('only one compression');
  });

  it('tells zlib, raw deflate and gzip apart', () => {
    const raw = Buffer.from('hello hello hello');
    expect(isZlibWrapped(zlib.deflateSync(raw))).to.equal(true);
    expect(isZlibWrapped(zlib.deflateSync(raw, { level: 1 }))).to.equal(true);
    expect(isZlibWrapped(zlib.deflateRawSync(raw))).to.equal(false);
    expect(isGzip(zlib.gzipSync(raw))).to.equal(true);
    expect(isGzip(zlib.deflateSync(raw))).to.equal(false);
  });

  it('invalidUtf8Offset', () => {
    expect(invalidUtf8Offset(Buffer.from('plain ascii'))).to.equal(-1);
    expect(invalidUtf8Offset(Buffer.from('héllo ✓ 𝄞'))).to.equal(-1);
    expect(invalidUtf8Offset(Buffer.from([0x61, 0xff]))).to.equal(1);
    expect(invalidUtf8Offset(Buffer.from([0x61, 0x62, 0xc3]))).to.equal(2); // truncated sequence
    expect(invalidUtf8Offset(Buffer.from([0xc0, 0xaf]))).to.equal(0); // overlong
    expect(invalidUtf8Offset(Buffer.from([0x20, 0xed, 0xa0, 0x80]))).to.equal(1); // surrogate
    expect(invalidUtf8Offset(Buffer.from([0xf4, 0x90, 0x80, 0x80]))).to.equal(0); // > U+10FFFF
    expect(invalidUtf8Offset(Buffer.from([0xe2, 0x9c, 0x93, 0x80]))).to.equal(3); // stray continuation
  });

  it('summarizeErrors keeps the first few', () => {
    expect(summarizeErrors(['a', 'b'])).to.equal('a; b');
    expect(summarizeErrors(['a', 'b', 'c', 'd'], 2)).to.equal('a; b; and 2 more');
  });

  it('nowUnixNano follows the wall clock with sub-ms resolution', () => {
    const a = BigInt(Date.now()) * 1_000_000n;
    const t1 = nowUnixNano();
    const t2 = nowUnixNano();
    const b = BigInt(Date.now() + 1) * 1_000_000n;
    expect(t2 >= t1).to.equal(true);
    expect(t1 >= a - 2_000_000n && t1 <= b + 2_000_000n).to.equal(true);
  });

  it('pairClocks: a pause between the wall and the monotonic read does not shift the anchor', () => {
    // a simulated clock: `true` ns since the epoch; every read takes 2 µs; the
    // process is preempted for 30 ms right after the first monotonic read
    let trueNs = 1_700_000_000_123_456_789n;
    const HR0 = 5_000_000_000n; // the monotonic clock's zero is arbitrary
    let reads = 0;
    const hr = (): bigint => {
      trueNs += 2_000n;
      if (++reads === 1) trueNs += 30_000_000n;
      return trueNs - 1_700_000_000_000_000_000n + HR0;
    };
    const wall = (): number => {
      trueNs += 2_000n;
      return Number(trueNs / 1_000_000n);
    };
    const p = pairClocks(wall, hr);
    // what the pair says the time is at a monotonic reading, against the truth
    const at = (h: bigint) => p.wallNs + (h - p.hr);
    const h = hr();
    const err = at(h) - trueNs;
    expect(p.widthNs < 1_000_000n, `the tightest bracket (${p.widthNs} ns) was kept, not the preempted one`).to.equal(true);
    expect(err >= -600_000n && err <= 600_000n, `error ${err} ns within ±0.6 ms`).to.equal(true);
  });
});
