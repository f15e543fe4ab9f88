import { expect } from 'chai';
import { validateSchema } from '../../../src/config/schema.js';
import type { CreateSettings, Signal } from '../../../src/component.js';
import type { HelperExporter } from '../../../src/exporterhelper/exporter.js';
import { debugExporterFactory } from '../../../exporters/debug/factory.js';
import { formatMetrics } from '../../../exporters/debug/debug.js';
import { host, never, sampleEvents, sampleMetrics, settings } from '../../exporterhelper/fakes.js';

// the registry is lazy: the implementation is imported on first use
await debugExporterFactory.load();

function cfg(verbosity?: string): any {
  const r = validateSchema(debugExporterFactory.configSchema, verbosity === undefined ? {} : { verbosity }, 'exporters.debug');
  expect(r.issues).to.deep.equal([]);
  return r.value;
}

function create(set: CreateSettings, c: any, signal: Signal): HelperExporter<any> {
  return debugExporterFactory.create(set, c, signal) as HelperExporter<any>;
}

describe('exporters/debug', () => {
  it('declares its factory contract', () => {
    expect(debugExporterFactory.kind).to.equal('exporter');
    expect(debugExporterFactory.type).to.equal('debug');
    expect(debugExporterFactory.signals).to.deep.equal(['metrics', 'events']);
    expect(cfg()).to.deep.equal({ verbosity: 'basic' });
    for (const f of Object.values(debugExporterFactory.configSchema)) expect(f.doc).to.be.a('string').and.not.equal('');
    expect(validateSchema(debugExporterFactory.configSchema, { verbosity: 'loud' }, '').issues[0]!.path).to.equal('verbosity');
  });

  it('basic: one line per batch with counts', async () => {
    const set = settings('debug');
    const exp = create(set, cfg('basic'), 'metrics');
    await exp.start(host(set));
    await exp.consume(sampleMetrics(5));
    expect(set.logger.lines).to.have.length(1);
    expect(set.logger.lines[0]!.level).to.equal('info');
    expect(set.logger.lines[0]!.obj).to.deep.equal({ signal: 'metrics', resource_metrics: 1, metrics: 3, data_points: 5 });
    expect(exp.status()).to.include({ sent: 5, verbosity: 'basic' });
    await exp.shutdown(never());
  });

  it('normal: plus one line per metric with name, kind and point count', async () => {
    const set = settings('debug');
    const exp = create(set, cfg('normal'), 'metrics');
    await exp.start(host(set));
    await exp.consume(sampleMetrics(5));
    const metricLines = set.logger.lines.filter((l) => l.msg === 'metric').map((l) => [l.obj.metric, l.obj.kind, l.obj.points]);
    expect(metricLines).to.deep.equal([
      ['g', 'gauge', 3],
      ['c', 'sum', 1],
      ['h', 'histogram', 1],
    ]);
    expect(set.logger.lines).to.have.length(4);
    await exp.shutdown(never());
  });

  it('detailed: every point, with exact nanosecond times and int values as strings', async () => {
    const set = settings('debug');
    const exp = create(set, cfg('detailed'), 'metrics');
    await exp.start(host(set));
    await exp.consume(sampleMetrics(4));
    const points = set.logger.lines.filter((l) => l.msg === 'data point');
    expect(points).to.have.length(4);
    const sum = points.find((p) => p.obj.metric === 'c')!.obj;
    expect(sum.value).to.equal('9007199254740993');
    expect(sum.value_type).to.equal('int');
    expect(sum.time_unix_nano).to.equal('1700000000123456789');
    const g = points.filter((p) => p.obj.metric === 'g').map((p) => [p.obj.value, (p.obj.attributes as any).code, p.obj.time_unix_nano]);
    expect(g).to.deep.equal([
      [0.5, '200', '1700000000123456789'],
      [1.5, '200', '1700000000123456790'],
    ]);
    const h = points.find((p) => p.obj.metric === 'h')!.obj;
    expect(h).to.include({ count: 6, sum: 12.5 });
    expect(h.bucket_counts).to.deep.equal([1, 2, 3]);
    expect(h.resource).to.deep.equal({ 'service.name': 'svc', 'host.id': 'a' });
    await exp.shutdown(never());
  });

  it('events at every verbosity', async () => {
    for (const [v, lines] of [
      ['basic', 1],
      ['normal', 3],
      ['detailed', 3],
    ] as const) {
      const set = settings('debug');
      const exp = create(set, cfg(v), 'events');
      await exp.start(host(set));
      await exp.consume(sampleEvents(2));
      expect(set.logger.lines, v).to.have.length(lines);
      expect(set.logger.lines[0]!.obj).to.deep.equal({ signal: 'events', events: 2 });
      if (v === 'detailed') {
        expect(set.logger.lines[1]!.obj).to.deep.equal({
          time_unix_nano: '1700000000123456789',
          attributes: { 'error.type': 'TypeError', _tx: '1000', guid: 'g0', ratio: 0.25, nan: 'NaN', bytes: 'AQID', list: ['x', '1'], kv: { a: '1' } },
        });
      }
      if (v === 'normal') expect(set.logger.lines[2]!.obj.attribute_keys).to.include('guid');
      await exp.shutdown(never());
    }
  });

  it('shutdown twice and without start', async () => {
    const set = settings('debug');
    const exp = create(set, cfg(), 'metrics');
    await exp.shutdown(never());
    await exp.shutdown(never());
    expect(set.logger.lines).to.deep.equal([]);
  });

  it('formatMetrics is pure and handles an empty batch', () => {
    expect(formatMetrics({ resourceMetrics: [] }, 'detailed')).to.deep.equal([
      { fields: { signal: 'metrics', resource_metrics: 0, metrics: 0, data_points: 0 }, msg: 'metrics batch' },
    ]);
  });
});
