import { expect } from 'chai';
import type { Processor } from '../../../src/component.js';
import { ConfigError, PermanentError } from '../../../src/errors.js';
import { countPoints, type EventBatch, type MetricsBatch } from '../../../src/model/index.js';
import { filterProcessorFactory, type FilterConfig } from '../../../processors/filter/factory.js';
import {
  allPoints,
  batch,
  check,
  configure,
  events,
  gauge,
  metricNames,
  neverAbort,
  point,
  points,
  Recorder,
  resource,
  scope,
  settings,
  sum,
} from '../batch/helpers.js';

// the registry is lazy: the implementation is imported on first use
await filterProcessorFactory.load();

function make<T>(raw: Record<string, unknown>, next: Recorder<T>, signal: 'metrics' | 'events' = 'metrics'): Processor<T> {
  return filterProcessorFactory.create(settings('filter/test'), configure<FilterConfig>(filterProcessorFactory, raw), signal, next) as Processor<T>;
}

/** Run one batch through a filter; returns what downstream got (undefined when not called) and the processor. */
async function run(raw: Record<string, unknown>, input: MetricsBatch): Promise<{ out: MetricsBatch | undefined; p: Processor<MetricsBatch> }> {
  const next = new Recorder<MetricsBatch>();
  const p = make(raw, next);
  await p.start({} as never);
  const before = structuredClone(input);
  await p.consume(input);
  expect(input, 'input unchanged').to.deep.equal(before);
  expect(next.calls.length).to.be.at.most(1);
  await p.shutdown(neverAbort());
  return { out: next.calls[0]?.data, p };
}

function sample(): MetricsBatch {
  return batch(
    resource({ 'service.name': 'api', env: 'prod' }, [
      scope('http', [
        gauge('cpu.user', points(2, { host: 'a' })),
        gauge('cpu.system', [point({ host: 'a' }), point({ host: 'b' })]),
        sum('http.requests', [point({ code: 200n, host: 'a' }), point({ code: 500n, host: 'b' }), point({ code: 200n, host: 'b' })]),
      ]),
      scope('runtime', [gauge('mem.used', points(1, { host: 'a' }))]),
    ]),
    resource({ 'service.name': 'worker', env: 'dev' }, [
      scope('runtime', [gauge('cpu.user', points(3, { host: 'c' })), gauge('mem.used', points(1, { host: 'c' }))]),
    ]),
  );
}

describe('processors/filter: metrics', () => {
  it('include by name regexp keeps full matches only (anchored)', async () => {
    const { out } = await run({ metrics: { include: { metric_names: ['cpu\\..*'] } } }, sample());
    expect(metricNames(out!)).to.deep.equal(['cpu.user', 'cpu.system', 'cpu.user']);
    // scope "runtime" of the first resource lost all its metrics and is gone
    expect(out!.resourceMetrics[0]!.scopeMetrics.map((sm) => sm.scope.name)).to.deep.equal(['http']);
    const partial = await run({ metrics: { include: { metric_names: ['cpu'] } } }, sample());
    expect(partial.out).to.equal(undefined);
  });

  it('include by name strict', async () => {
    const { out } = await run({ metrics: { include: { match_type: 'strict', metric_names: ['mem.used', 'cpu\\..*'] } } }, sample());
    expect(metricNames(out!)).to.deep.equal(['mem.used', 'mem.used']);
  });

  it('exclude by name regexp and strict', async () => {
    const re = await run({ metrics: { exclude: { metric_names: ['cpu\\..*', 'http\\..+'] } } }, sample());
    expect(metricNames(re.out!)).to.deep.equal(['mem.used', 'mem.used']);
    const strict = await run({ metrics: { exclude: { match_type: 'strict', metric_names: ['cpu.user'] } } }, sample());
    expect(metricNames(strict.out!)).to.deep.equal(['cpu.system', 'http.requests', 'mem.used', 'mem.used']);
  });

  it('include then exclude', async () => {
    const { out } = await run(
      { metrics: { include: { metric_names: ['cpu\\..*'] }, exclude: { match_type: 'strict', metric_names: ['cpu.system'] } } },
      sample(),
    );
    expect(metricNames(out!)).to.deep.equal(['cpu.user', 'cpu.user']);
  });

  it('filters data points by attribute (strict compares values as strings)', async () => {
    const { out, p } = await run({ metrics: { include: { match_type: 'strict', attributes: [{ key: 'code', value: 200 }] } } }, sample());
    expect(metricNames(out!)).to.deep.equal(['http.requests']);
    expect(allPoints(out!).map((pt) => pt.attributes)).to.deep.equal([
      { code: 200n, host: 'a' },
      { code: 200n, host: 'b' },
    ]);
    const st = p.status!() as Record<string, number>;
    expect([st.incoming, st.outgoing, st.dropped]).to.deep.equal([12, 2, 10]);
  });

  it('excludes data points by attribute regexp, removing emptied metrics, scopes and resources', async () => {
    const { out } = await run({ metrics: { exclude: { attributes: [{ key: 'host', value: 'a|c' }] } } }, sample());
    expect(out!.resourceMetrics).to.have.length(1);
    expect(out!.resourceMetrics[0]!.scopeMetrics).to.have.length(1);
    expect(metricNames(out!)).to.deep.equal(['cpu.system', 'http.requests']);
    expect(allPoints(out!).map((pt) => pt.attributes.host)).to.deep.equal(['b', 'b', 'b']);
  });

  it('a key-only condition matches presence', async () => {
    const { out } = await run({ metrics: { include: { attributes: [{ key: 'code' }] } } }, sample());
    expect(countPoints(out!)).to.equal(3);
  });

  it('combines conditions within a block: exclude name AND point attribute', async () => {
    const { out } = await run({ metrics: { exclude: { metric_names: ['http.requests'], attributes: [{ key: 'code', value: '5..' }] } } }, sample());
    expect(countPoints(out!)).to.equal(countPoints(sample()) - 1);
    const http = out!.resourceMetrics[0]!.scopeMetrics[0]!.metrics[2]!;
    expect(http.points.map((pt) => pt.attributes.code)).to.deep.equal([200n, 200n]);
  });

  it('filters whole resources by resource attributes', async () => {
    const inc = await run({ metrics: { include: { match_type: 'strict', resource_attributes: [{ key: 'env', value: 'prod' }] } } }, sample());
    expect(inc.out!.resourceMetrics.map((rm) => rm.resource.attributes['service.name'])).to.deep.equal(['api']);
    const exc = await run({ metrics: { exclude: { resource_attributes: [{ key: 'service.name', value: 'api|web' }] } } }, sample());
    expect(exc.out!.resourceMetrics.map((rm) => rm.resource.attributes['service.name'])).to.deep.equal(['worker']);
    // resource condition AND name: drop cpu.user of dev only
    const both = await run({ metrics: { exclude: { resource_attributes: [{ key: 'env', value: 'dev' }], metric_names: ['cpu\\.user'] } } }, sample());
    expect(metricNames(both.out!)).to.deep.equal(['cpu.user', 'cpu.system', 'http.requests', 'mem.used', 'mem.used']);
  });

  it('reuses unchanged objects and passes the input itself when nothing is dropped', async () => {
    const input = sample();
    const { out } = await run({ metrics: { exclude: { attributes: [{ key: 'host', value: 'c' }] } } }, input);
    expect(out!.resourceMetrics).to.have.length(1);
    expect(out!.resourceMetrics[0]).to.equal(input.resourceMetrics[0]); // resource untouched: same object
    expect(out).to.not.equal(input);
    const partial = await run({ metrics: { exclude: { attributes: [{ key: 'host', value: 'b' }] } } }, input);
    const sm = partial.out!.resourceMetrics[0]!.scopeMetrics[0]!;
    expect(sm).to.not.equal(input.resourceMetrics[0]!.scopeMetrics[0]);
    expect(sm.metrics[0]).to.equal(input.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]); // cpu.user only had host=a
    expect(sm.metrics[1]).to.not.equal(input.resourceMetrics[0]!.scopeMetrics[0]!.metrics[1]);
    expect(sm.metrics[1]!.points[0]).to.equal(input.resourceMetrics[0]!.scopeMetrics[0]!.metrics[1]!.points[0]);
    const none = await run({ metrics: { exclude: { metric_names: ['nothing'] } } }, input);
    expect(none.out).to.equal(input);
  });

  it('does not call downstream when nothing remains, and counts the drop', async () => {
    const { out, p } = await run({ metrics: { include: { metric_names: ['nope'] } } }, sample());
    expect(out).to.equal(undefined);
    const st = p.status!() as Record<string, number>;
    expect([st.incoming, st.dropped, st.outgoing ?? 0]).to.deep.equal([12, 12, 0]);
  });

  it('passes metrics through when only events are configured', async () => {
    const input = sample();
    const { out } = await run({ events: { exclude: { attributes: [{ key: 'x' }] } } }, input);
    expect(out).to.equal(input);
  });

  it('rejects with the downstream error', async () => {
    const boom = new PermanentError('bad');
    const p = make({ metrics: { exclude: { metric_names: ['mem.*'] } } }, new Recorder<MetricsBatch>(boom));
    let err: unknown;
    await p.consume(sample()).catch((e: unknown) => {
      err = e;
    });
    expect(err).to.equal(boom);
    expect(p.mutatesData).to.equal(false);
  });
});

describe('processors/filter: events', () => {
  const evs = (): EventBatch => events(6, (i) => ({ 'error.type': i % 2 === 0 ? 'TypeError' : 'RangeError', 'app.version': `1.${i}`, status: i }));

  it('include and exclude by attributes', async () => {
    const next = new Recorder<EventBatch>();
    const p = make<EventBatch>(
      {
        events: {
          include: { attributes: [{ key: 'error.type', value: 'Type.*' }] },
          exclude: { match_type: 'strict', attributes: [{ key: 'status', value: '4' }] },
        },
      },
      next,
      'events',
    );
    const input = evs();
    const before = structuredClone(input);
    await p.consume(input);
    expect(input).to.deep.equal(before);
    expect(next.calls[0]!.data.events.map((e) => e.attributes.status)).to.deep.equal([0, 2]);
    expect(next.calls[0]!.data.events[0]).to.equal(input.events[0]);
    expect((p.status!() as Record<string, number>).dropped).to.equal(4);
  });

  it('does not call downstream when every event is dropped; passes untouched batches as they are', async () => {
    const next = new Recorder<EventBatch>();
    const p = make<EventBatch>({ events: { exclude: { attributes: [{ key: 'app.version', value: '1\\.\\d' }] } } }, next, 'events');
    await p.consume(evs());
    expect(next.calls).to.have.length(0);
    const q = make<EventBatch>({ events: { exclude: { attributes: [{ key: 'missing' }] } } }, next, 'events');
    const input = evs();
    await q.consume(input);
    expect(next.calls[0]!.data).to.equal(input);
  });
});

describe('processors/filter: config', () => {
  it('defaults match_type to regexp and lists as empty', () => {
    const { value, issues } = check<FilterConfig>(filterProcessorFactory, { metrics: { include: { metric_names: ['a'] } } });
    expect(issues).to.deep.equal([]);
    expect(value.metrics!.include).to.deep.equal({ match_type: 'regexp', metric_names: ['a'], resource_attributes: [], attributes: [] });
    expect(value.metrics!.exclude).to.equal(undefined);
  });

  it('reports a bad regex with its key path', () => {
    const { issues } = check<FilterConfig>(filterProcessorFactory, {
      metrics: { include: { metric_names: ['ok', 'bad(', 'a)|(b'] }, exclude: { attributes: [{ key: 'k', value: '[' }] } },
      events: { exclude: { attributes: [{ key: 'k', value: '*' }] } },
    });
    expect(issues.map((i) => i.path)).to.deep.equal([
      'metrics.include.metric_names[1]',
      'metrics.include.metric_names[2]',
      'metrics.exclude.attributes[0].value',
      'events.exclude.attributes[0].value',
    ]);
    expect(issues.every((i) => i.severity === 'error')).to.equal(true);
  });

  it('does not treat strict names as regexes', () => {
    const { issues } = check<FilterConfig>(filterProcessorFactory, { metrics: { exclude: { match_type: 'strict', metric_names: ['bad('] } } });
    expect(issues).to.deep.equal([]);
  });

  it('rejects empty blocks, missing keys and unknown match types', () => {
    const { issues } = check<FilterConfig>(filterProcessorFactory, { metrics: { exclude: {} } });
    expect(issues.map((i) => i.path)).to.deep.equal(['metrics.exclude']);
    const schema = check<FilterConfig>(filterProcessorFactory, { metrics: { include: { match_type: 'expr', attributes: [{ value: 'x' }] } } });
    expect(schema.issues.map((i) => i.path)).to.deep.equal(['metrics.include.match_type', 'metrics.include.attributes[0].key']);
  });

  it('create() throws ConfigError when given an invalid config', () => {
    const cfg: FilterConfig = { metrics: { include: { match_type: 'regexp', metric_names: ['('] } } };
    expect(() => filterProcessorFactory.create(settings('filter'), cfg, 'metrics', new Recorder())).to.throw(ConfigError, /metric_names\[0\]/);
  });
});
