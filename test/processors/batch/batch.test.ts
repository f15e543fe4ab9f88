import { expect } from 'chai';
import type { Processor } from '../../../src/component.js';
import { MetricportError, RefusedError } from '../../../src/errors.js';
import { countPoints, type EventBatch, type MetricsBatch } from '../../../src/model/index.js';
import { batchProcessorFactory, type BatchConfig } from '../../../processors/batch/factory.js';
import {
  allPoints,
  batch,
  check,
  configure,
  events,
  gauge,
  neverAbort,
  points,
  Recorder,
  resource,
  scope,
  settings,
  sum,
  tick,
  track,
  waitFor,
} from './helpers.js';

// the registry is lazy: the implementation is imported on first use
await batchProcessorFactory.load();

function make<T>(raw: Record<string, unknown>, next: Recorder<T>, signal: 'metrics' | 'events' = 'metrics'): Processor<T> {
  const cfg = configure<BatchConfig>(batchProcessorFactory, raw);
  return batchProcessorFactory.create(settings('batch'), cfg, signal, next) as Processor<T>;
}

function simple(n: number, name = 'm'): MetricsBatch {
  return batch(resource({ 'service.name': name }, [scope('s', [gauge(name, points(n))])]));
}

describe('processors/batch: config', () => {
  it('has the Collector defaults', () => {
    const { value, issues } = check<BatchConfig>(batchProcessorFactory, {});
    expect(issues).to.deep.equal([]);
    expect(value).to.deep.equal({ send_batch_size: 8192, send_batch_max_size: 0, timeout: 200, max_pending: 0 });
    expect(batchProcessorFactory.type).to.equal('batch');
    expect(batchProcessorFactory.signals).to.deep.equal([
      { in: 'metrics', out: 'metrics' },
      { in: 'events', out: 'events' },
    ]);
  });

  it('parses durations and rejects send_batch_max_size below send_batch_size', () => {
    expect(check<BatchConfig>(batchProcessorFactory, { timeout: '2s' }).value.timeout).to.equal(2000);
    const { issues } = check<BatchConfig>(batchProcessorFactory, { send_batch_size: 100, send_batch_max_size: 50 });
    expect(issues.map((i) => [i.path, i.severity])).to.deep.equal([['send_batch_max_size', 'error']]);
    const neg = check<BatchConfig>(batchProcessorFactory, { send_batch_size: -1 });
    expect(neg.issues.map((i) => i.path)).to.deep.equal(['send_batch_size']);
  });

  it('is read-only and sends nothing when shut down without data', async () => {
    const next = new Recorder<MetricsBatch>();
    const p = make({ timeout: '1ms' }, next);
    expect(p.mutatesData).to.equal(false);
    await p.shutdown(neverAbort());
    expect(next.calls).to.have.length(0);
  });
});

describe('processors/batch: metrics', () => {
  it('sends when send_batch_size items are buffered, concatenating resources', async () => {
    const next = new Recorder<MetricsBatch>(false);
    const p = make({ send_batch_size: 10, timeout: '1h' }, next);
    await p.start({} as never);
    const a = track(p.consume(simple(4, 'a')));
    await tick();
    expect(next.calls).to.have.length(0);
    expect(a.state).to.equal('pending');
    const b = track(p.consume(simple(6, 'b')));
    expect(next.calls).to.have.length(1);
    const sent = next.calls[0]!.data;
    expect(countPoints(sent)).to.equal(10);
    expect(sent.resourceMetrics.map((rm) => rm.resource.attributes['service.name'])).to.deep.equal(['a', 'b']);
    // nothing resolves before downstream accepted
    await tick();
    expect([a.state, b.state]).to.deep.equal(['pending', 'pending']);
    next.calls[0]!.resolve();
    await tick();
    expect([a.state, b.state]).to.deep.equal(['resolved', 'resolved']);
    expect((p.status!() as Record<string, number>).pending).to.equal(0);
    await p.shutdown(neverAbort());
    expect(next.calls).to.have.length(1);
  });

  it('sends on timeout', async () => {
    const next = new Recorder<MetricsBatch>();
    const p = make({ send_batch_size: 1000, timeout: '5ms' }, next);
    await p.start({} as never);
    const done = p.consume(simple(3));
    expect(next.calls).to.have.length(0);
    await waitFor(() => next.calls.length === 1, 2000, 'the timeout flush');
    expect(countPoints(next.calls[0]!.data)).to.equal(3);
    await done;
    await p.shutdown(neverAbort());
    expect(next.calls).to.have.length(1);
  });

  it('timeout 0 sends on every consume', async () => {
    const next = new Recorder<MetricsBatch>();
    const p = make({ timeout: 0 }, next);
    const done = p.consume(simple(3));
    expect(next.calls).to.have.length(1);
    await done;
    await p.consume(simple(2));
    expect(next.calls.map((c) => countPoints(c.data))).to.deep.equal([3, 2]);
  });

  it('splits to send_batch_max_size exactly, inside a metric, keeping resource/scope/metric metadata', async () => {
    const next = new Recorder<MetricsBatch>();
    const p = make({ send_batch_size: 10, send_batch_max_size: 10, timeout: '1h' }, next);
    const input = batch(
      resource({ 'service.name': 'r1', region: 'eu' }, [scope('s1', [sum('big', points(25)), gauge('small', points(7))])]),
      resource({ 'service.name': 'r2' }, [scope('s2', [gauge('other', points(4))])]),
    );
    const before = structuredClone(input);
    const done = track(p.consume(input));
    // 36 points: three full batches now, 6 left for the timeout / shutdown
    expect(next.calls.map((c) => countPoints(c.data))).to.deep.equal([10, 10, 10]);
    await tick();
    expect(done.state).to.equal('pending');
    await p.shutdown(neverAbort());
    expect(next.calls.map((c) => countPoints(c.data))).to.deep.equal([10, 10, 10, 6]);
    await tick();
    expect(done.state).to.equal('resolved');

    // every point exactly once, in order
    expect(next.calls.flatMap((c) => allPoints(c.data))).to.deep.equal(allPoints(input));
    // metadata carried into each part
    const [b1, b2, b3, b4] = next.data as [MetricsBatch, MetricsBatch, MetricsBatch, MetricsBatch];
    for (const b of [b1, b2, b3]) {
      expect(b.resourceMetrics).to.have.length(1);
      expect(b.resourceMetrics[0]!.resource).to.deep.equal(input.resourceMetrics[0]!.resource);
      expect(b.resourceMetrics[0]!.scopeMetrics[0]!.scope).to.deep.equal(input.resourceMetrics[0]!.scopeMetrics[0]!.scope);
      expect(b.resourceMetrics[0]!.schemaUrl).to.equal(input.resourceMetrics[0]!.schemaUrl);
    }
    const m1 = b1.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!;
    expect({ ...m1, points: [] }).to.deep.equal({ ...input.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!, points: [] });
    expect(b3.resourceMetrics[0]!.scopeMetrics[0]!.metrics.map((m) => [m.name, m.kind, m.points.length])).to.deep.equal([
      ['big', 'sum', 5],
      ['small', 'gauge', 5],
    ]);
    expect(b4.resourceMetrics.map((rm) => rm.resource.attributes['service.name'])).to.deep.equal(['r1', 'r2']);
    expect(b4.resourceMetrics[0]!.scopeMetrics[0]!.metrics.map((m) => [m.name, m.points.length])).to.deep.equal([['small', 2]]);
    // the input is untouched
    expect(input).to.deep.equal(before);
  });

  it('with timeout 0 still honours send_batch_max_size', async () => {
    const next = new Recorder<MetricsBatch>();
    const p = make({ send_batch_size: 4, send_batch_max_size: 4, timeout: 0 }, next);
    await p.consume(simple(10));
    expect(next.calls.map((c) => countPoints(c.data))).to.deep.equal([4, 4, 2]);
  });

  it('without send_batch_max_size sends the whole buffer when the size is reached', async () => {
    const next = new Recorder<MetricsBatch>();
    const p = make({ send_batch_size: 5, timeout: '1h' }, next);
    await p.consume(simple(12));
    expect(next.calls.map((c) => countPoints(c.data))).to.deep.equal([12]);
  });

  it('rejects every contributing consume with the downstream error, after all of its batches settled', async () => {
    const next = new Recorder<MetricsBatch>(false);
    const p = make({ send_batch_size: 10, send_batch_max_size: 10, timeout: '1h' }, next);
    const a = track(p.consume(simple(6, 'a')));
    const b = track(p.consume(simple(6, 'b'))); // 4 into batch 1, 2 wait
    expect(next.calls).to.have.length(1);
    const c = track(p.consume(simple(8, 'c'))); // b's 2 + c's 8 = batch 2
    expect(next.calls).to.have.length(2);
    expect(next.calls[1]!.data.resourceMetrics.map((rm) => [rm.resource.attributes['service.name'], countPoints({ resourceMetrics: [rm] })])).to.deep.equal([
      ['b', 2],
      ['c', 8],
    ]);

    const boom = new RefusedError('backend down');
    next.calls[0]!.reject(boom);
    await tick();
    expect(a.state).to.equal('rejected');
    expect(a.error).to.equal(boom);
    expect(b.state).to.equal('pending'); // still waits for batch 2
    next.calls[1]!.resolve();
    await tick();
    expect(b.state).to.equal('rejected');
    expect(b.error).to.equal(boom);
    expect(c.state).to.equal('resolved');
    const st = p.status!() as Record<string, number>;
    expect([st.batches_sent, st.batches_failed, st.pending]).to.deep.equal([1, 1, 0]);
  });

  it('rejects when downstream throws synchronously', async () => {
    const err = new Error('sync');
    const p = batchProcessorFactory.create(settings('batch'), configure<BatchConfig>(batchProcessorFactory, { timeout: 0 }), 'metrics', {
      consume() {
        throw err;
      },
    }) as Processor<MetricsBatch>;
    const r = track(p.consume(simple(1)));
    await tick();
    expect(r.state).to.equal('rejected');
    expect(r.error).to.equal(err);
  });

  it('refuses with RefusedError beyond max_pending (buffered or in flight)', async () => {
    const next = new Recorder<MetricsBatch>(false);
    const p = make({ send_batch_size: 8, max_pending: 10, timeout: '1h' }, next);
    const a = track(p.consume(simple(6)));
    let refused: unknown;
    await p.consume(simple(5)).catch((e: unknown) => {
      refused = e;
    });
    expect(refused).to.be.instanceOf(RefusedError);
    expect((refused as RefusedError).code).to.equal('MP_REFUSED');
    const b = track(p.consume(simple(4))); // 6 + 4 = 10: allowed; sends 10 (size 8 reached)
    expect(next.calls).to.have.length(1);
    // still in flight downstream, so still pending
    refused = undefined;
    await p.consume(simple(1)).catch((e: unknown) => {
      refused = e;
    });
    expect(refused).to.be.instanceOf(RefusedError);
    expect((p.status!() as Record<string, number>).refused_items).to.equal(6);
    next.calls[0]!.resolve();
    await tick();
    expect([a.state, b.state]).to.deep.equal(['resolved', 'resolved']);
    // nothing pending: even a request larger than the bound is taken
    const big = track(p.consume(simple(30)));
    expect(next.calls).to.have.length(2);
    next.calls[1]!.resolve();
    await tick();
    expect(big.state).to.equal('resolved');
  });

  it('defaults max_pending to 10 × send_batch_size', async () => {
    const next = new Recorder<MetricsBatch>(false);
    const p = make({ send_batch_size: 2, timeout: '1h' }, next);
    void p.consume(simple(20)).catch(() => undefined);
    let refused: unknown;
    await p.consume(simple(1)).catch((e: unknown) => {
      refused = e;
    });
    expect(refused).to.be.instanceOf(RefusedError);
  });

  it('shutdown flushes what it holds and then refuses new data', async () => {
    const next = new Recorder<MetricsBatch>();
    const p = make({ send_batch_size: 100, timeout: '1h' }, next);
    await p.start({} as never);
    const done = track(p.consume(simple(5)));
    expect(next.calls).to.have.length(0);
    await p.shutdown(neverAbort());
    expect(next.calls.map((c) => countPoints(c.data))).to.deep.equal([5]);
    await tick();
    expect(done.state).to.equal('resolved');
    let err: unknown;
    await p.consume(simple(1)).catch((e: unknown) => {
      err = e;
    });
    expect(err).to.be.instanceOf(MetricportError);
    expect((err as MetricportError).code).to.equal('MP_SHUTDOWN');
  });

  it('shutdown waits for batches in flight, but gives up when the deadline aborts', async () => {
    const next = new Recorder<MetricsBatch>(false);
    const p = make({ send_batch_size: 100, timeout: '1h' }, next);
    const done = track(p.consume(simple(5)));
    const ac = new AbortController();
    const sd = track(p.shutdown(ac.signal));
    await tick();
    expect(next.calls).to.have.length(1);
    expect(sd.state).to.equal('pending');
    ac.abort();
    await tick();
    expect(sd.state).to.equal('resolved');
    expect(done.state).to.equal('pending');
    next.calls[0]!.resolve();
    await tick();
    expect(done.state).to.equal('resolved');
  });

  it('shutdown is safe twice and without start', async () => {
    const next = new Recorder<MetricsBatch>();
    const p = make({}, next);
    await p.shutdown(neverAbort());
    await p.shutdown(neverAbort());
    const aborted = AbortSignal.abort();
    await p.shutdown(aborted);
    expect(next.calls).to.have.length(0);
  });

  it('resolves empty input at once without calling downstream', async () => {
    const next = new Recorder<MetricsBatch>();
    const p = make({ timeout: 0 }, next);
    await p.consume(batch());
    await p.consume(batch(resource({}, [scope('s', [gauge('empty', [])])])));
    expect(next.calls).to.have.length(0);
  });

  it('carries metrics without points along with the next batch', async () => {
    const next = new Recorder<MetricsBatch>();
    const p = make({ timeout: 0 }, next);
    const input = batch(resource({}, [scope('s', [gauge('empty', []), gauge('full', points(2))])]));
    await p.consume(input);
    expect(next.calls).to.have.length(1);
    expect(next.calls[0]!.data.resourceMetrics[0]!.scopeMetrics[0]!.metrics.map((m) => m.name)).to.deep.equal(['empty', 'full']);
  });

  it('does not modify its input and reuses whole metrics', async () => {
    const next = new Recorder<MetricsBatch>();
    const p = make({ send_batch_size: 3, send_batch_max_size: 3, timeout: '1h' }, next);
    const a = simple(2, 'a');
    const b = batch(resource({ 'service.name': 'b' }, [scope('s', [sum('b', points(5))])]));
    const before = [structuredClone(a), structuredClone(b)];
    const pa = p.consume(a);
    const pb = p.consume(b);
    await p.shutdown(neverAbort());
    await Promise.all([pa, pb]);
    expect([a, b]).to.deep.equal(before);
    expect(next.calls.map((c) => countPoints(c.data))).to.deep.equal([3, 3, 1]);
    // a's metric went whole into the first batch: the same object, not a copy
    expect(next.calls[0]!.data.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]).to.equal(a.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]);
    expect(next.calls[0]!.data.resourceMetrics[0]).to.not.equal(a.resourceMetrics[0]);
  });

  it('counts incoming and outgoing items', async () => {
    const next = new Recorder<MetricsBatch>();
    const p = make({ timeout: 0 }, next);
    await p.consume(simple(3));
    await p.consume(simple(4));
    const st = p.status!() as Record<string, number>;
    expect([st.incoming, st.outgoing, st.batches_sent]).to.deep.equal([7, 7, 2]);
  });
});

describe('processors/batch: events', () => {
  it('batches events by count, splitting to send_batch_max_size, in order', async () => {
    const next = new Recorder<EventBatch>();
    const p = make<EventBatch>({ send_batch_size: 3, send_batch_max_size: 3, timeout: '1h' }, next, 'events');
    const e1 = events(2, (i) => ({ src: 'a', i }));
    const e2 = events(5, (i) => ({ src: 'b', i }));
    const before = structuredClone([e1, e2]);
    const p1 = track(p.consume(e1));
    expect(next.calls).to.have.length(0);
    const p2 = track(p.consume(e2));
    expect(next.calls.map((c) => c.data.events.length)).to.deep.equal([3, 3]);
    await tick();
    expect(p1.state).to.equal('resolved');
    expect(p2.state).to.equal('pending'); // one event still buffered
    await p.shutdown(neverAbort());
    await tick();
    expect(p2.state).to.equal('resolved');
    expect(next.calls.flatMap((c) => c.data.events)).to.deep.equal([...e1.events, ...e2.events]);
    expect([e1, e2]).to.deep.equal(before);
  });

  it('propagates downstream errors to event producers', async () => {
    const boom = new Error('nope');
    const next = new Recorder<EventBatch>(boom);
    const p = make<EventBatch>({ timeout: 0 }, next, 'events');
    let err: unknown;
    await p.consume(events(2)).catch((e: unknown) => {
      err = e;
    });
    expect(err).to.equal(boom);
  });
});
