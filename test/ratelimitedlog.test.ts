import { expect } from 'chai';
import { RateLimitedLog } from '../src/ratelimitedlog.js';
import { captureLogger } from './helpers/logs.js';

describe('RateLimitedLog', () => {
  it('logs the first occurrence of a key, then at most one line per interval with the suppressed count', () => {
    const { logger, records } = captureLogger();
    let t = 1_000;
    const log = new RateLimitedLog(logger, { intervalMs: 10_000, now: () => t });
    expect(log.warn('max_series', { exporter: 'influxdb', max_series: 5 }, 'max_series reached')).to.equal(true);
    for (let i = 0; i < 7; i++) {
      t += 1_000;
      expect(log.warn('max_series', { exporter: 'influxdb' }, 'max_series reached')).to.equal(false);
    }
    expect(log.suppressedCount('max_series')).to.equal(7);
    t = 11_000; // exactly one interval after the first line
    expect(log.warn('max_series', { exporter: 'influxdb' }, 'max_series reached')).to.equal(true);
    t = 30_000;
    expect(log.warn('max_series', { exporter: 'influxdb' }, 'max_series reached')).to.equal(true);
    const r = records();
    expect(r.map((x) => [x['level'], x['msg'], x['exporter'], x['suppressed']])).to.deep.equal([
      ['warn', 'max_series reached', 'influxdb', undefined],
      ['warn', 'max_series reached', 'influxdb', 7],
      ['warn', 'max_series reached', 'influxdb', undefined],
    ]);
    expect(r[0]!['max_series']).to.equal(5);
  });

  it('keys are independent, levels are kept, and the key map is bounded', () => {
    const { logger, records } = captureLogger();
    const t = 0;
    const log = new RateLimitedLog(logger, { intervalMs: 60_000, maxKeys: 2, now: () => t });
    expect(log.warn('a', {}, 'A')).to.equal(true);
    expect(log.error('b', {}, 'B')).to.equal(true);
    expect(log.warn('a', {}, 'A')).to.equal(false);
    expect(log.warn('c', {}, 'C')).to.equal(true); // forgets 'a' (least recently logged)
    expect(log.error('b', {}, 'B')).to.equal(false); // still remembered
    expect(log.warn('a', {}, 'A')).to.equal(true); // forgotten → logged again; forgets 'b'
    expect(log.error('b', {}, 'B')).to.equal(true);
    expect(records().map((x) => `${String(x['level'])}:${String(x['msg'])}`)).to.deep.equal(['warn:A', 'error:B', 'warn:C', 'warn:A', 'error:B']);
  });

  it('a logger that throws never fails the caller', () => {
    const bad = {
      warn: () => {
        throw new Error('stream closed');
      },
    } as unknown as import('../src/logger.js').Logger;
    const log = new RateLimitedLog(bad);
    expect(log.warn('k', {}, 'x')).to.equal(true);
    expect(log.warn('k', {}, 'x')).to.equal(false);
  });
});
