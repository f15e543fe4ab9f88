import { expect } from 'chai';
import type { Consumer, ExporterFactory, ProcessorFactory, ReceiverFactory, Signal } from '../src/component.js';
import { parseConfig, type Registry } from '../src/config/service-config.js';
import { RefusedError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import type { MetricsBatch } from '../src/model/index.js';
import { batch } from './helpers/batches.js';
import { Service } from '../src/service.js';
import { ServiceTelemetry } from '../src/telemetry.js';

describe('service: pipeline graph and lifecycle', () => {
  function recordingRegistry(log: string[], received: Record<string, unknown[]>): Registry {
    const life = (name: string) => ({
      start: async () => {
        log.push(`start ${name}`);
      },
      shutdown: async () => {
        log.push(`stop ${name}`);
      },
    });
    const rcv: ReceiverFactory = {
      kind: 'receiver',
      type: 'src',
      description: '',
      signals: ['metrics', 'events'],
      configSchema: {},
      create: (s, _c, next) => {
        received[`next:${s.id}`] = Object.keys(next);
        (globalThis as any)[`__next_${s.id}`] = next;
        return life(`receiver ${s.id}`);
      },
    };
    const proc: ProcessorFactory = {
      kind: 'processor',
      type: 'tag',
      description: '',
      signals: [{ in: 'metrics', out: 'metrics' }],
      configSchema: {},
      create: (s, _c, _sig: Signal, next: Consumer<MetricsBatch>) => ({
        ...life(`processor ${s.id}@${s.pipeline}`),
        mutatesData: true,
        consume: (b: MetricsBatch) => {
          b.resourceMetrics[0]!.resource.attributes.tagged = s.pipeline!;
          return next.consume(b);
        },
      }),
    };
    const exp: ExporterFactory = {
      kind: 'exporter',
      type: 'sink',
      description: '',
      signals: ['metrics', 'events'],
      configSchema: { fail: { type: 'boolean', default: false, doc: '' } },
      create: (s, c, sig) => ({
        ...life(`exporter ${s.id}/${sig}`),
        consume: async (d: unknown) => {
          if (c.fail) throw new RefusedError('nope');
          (received[s.id] ??= []).push(d);
        },
      }),
    };
    const pass: ProcessorFactory = {
      kind: 'processor',
      type: 'pass',
      description: '',
      signals: [{ in: 'metrics', out: 'metrics' }],
      configSchema: {},
      create: (s, _c, _sig: Signal, next: Consumer<MetricsBatch>) => ({
        ...life(`processor ${s.id}@${s.pipeline}`),
        consume: (b: MetricsBatch) => next.consume(b),
      }),
    };
    return {
      receivers: new Map([['src', rcv]]),
      processors: new Map([
        ['tag', proc],
        ['pass', pass],
      ]),
      exporters: new Map([['sink', exp]]),
    };
  }

  it('wires receivers to several pipelines, isolates mutations, and starts/stops in order', async () => {
    const log: string[] = [];
    const received: Record<string, unknown[]> = {};
    const reg = recordingRegistry(log, received);
    const cfg = parseConfig(
      `
receivers: { src: {} }
processors: { tag: {} }
exporters: { sink/a: {}, sink/b: {} }
service:
  pipelines:
    metrics/one: { receivers: [src], processors: [tag], exporters: [sink/a] }
    metrics/two: { receivers: [src], exporters: [sink/a, sink/b] }
`,
      'c.yaml',
      reg,
      {},
    );
    const svc = new Service(cfg, { logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: '/tmp/mp-test-state' });
    await svc.start();
    expect(log).to.deep.equal(['start exporter sink/a/metrics', 'start exporter sink/b/metrics', 'start processor tag@metrics/one', 'start receiver src']);
    expect(received['next:src']).to.deep.equal(['metrics']);
    const next = (globalThis as any).__next_src as { metrics: Consumer<MetricsBatch> };
    const input = batch(5);
    await next.metrics.consume(input);
    // pipeline one tagged its own copy; pipeline two and the original are untouched
    const a = received['sink/a'] as MetricsBatch[];
    const b = received['sink/b'] as MetricsBatch[];
    expect(a).to.have.length(2);
    expect(a.map((x) => x.resourceMetrics[0]!.resource.attributes.tagged ?? null).sort()).to.deep.equal(['metrics/one', null].sort() as never);
    expect(b[0]!.resourceMetrics[0]!.resource.attributes.tagged).to.equal(undefined);
    expect(input.resourceMetrics[0]!.resource.attributes.tagged).to.equal(undefined);
    expect(svc.health().healthy).to.equal(true);
    log.length = 0;
    const deadline = AbortSignal.timeout(1000);
    await svc.shutdown(deadline);
    await svc.shutdown(deadline);
    expect(log[0]).to.equal('stop receiver src');
    expect(log[1]).to.equal('stop processor tag@metrics/one');
    expect(log.slice(2).sort()).to.deep.equal(['stop exporter sink/a/metrics', 'stop exporter sink/b/metrics']);
    expect(svc.health().healthy).to.equal(false);
    const st = svc.status() as { pipelines: Array<{ id: string }> };
    expect(st.pipelines.map((p) => p.id)).to.deep.equal(['metrics/one', 'metrics/two']);
  });

  it('a pipeline whose later processor mutates gets its own copy, even behind a read-only processor', async () => {
    const received: Record<string, unknown[]> = {};
    const cfg = parseConfig(
      `
receivers: { src: {} }
processors: { pass: {}, tag: {} }
exporters: { sink/a: {}, sink/b: {} }
service:
  pipelines:
    metrics/one: { receivers: [src], processors: [pass, tag], exporters: [sink/a] }
    metrics/two: { receivers: [src], exporters: [sink/b] }
`,
      'c.yaml',
      recordingRegistry([], received),
      {},
    );
    const svc = new Service(cfg, { logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: '/tmp/mp-test-state' });
    await svc.start();
    const input = batch(1);
    await ((globalThis as any).__next_src as { metrics: Consumer<MetricsBatch> }).metrics.consume(input);
    expect((received['sink/a'] as MetricsBatch[])[0]!.resourceMetrics[0]!.resource.attributes.tagged).to.equal('metrics/one');
    expect((received['sink/b'] as MetricsBatch[])[0]).to.equal(input);
    expect(input.resourceMetrics[0]!.resource.attributes.tagged).to.equal(undefined);
    await svc.shutdown(AbortSignal.timeout(1000));
  });

  it('rejects back to the receiver when an exporter refuses', async () => {
    const log: string[] = [];
    const received: Record<string, unknown[]> = {};
    const cfg = parseConfig(
      `
receivers: { src: {} }
exporters: { sink: { fail: true } }
service: { pipelines: { metrics: { receivers: [src], exporters: [sink] } } }
`,
      'c.yaml',
      recordingRegistry(log, received),
      {},
    );
    const svc = new Service(cfg, { logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: '/tmp/mp-test-state' });
    await svc.start();
    const next = (globalThis as any).__next_src as { metrics: Consumer<MetricsBatch> };
    let err: unknown;
    await next.metrics.consume(batch()).catch((e) => {
      err = e;
    });
    expect(err).to.be.instanceOf(RefusedError);
    await svc.shutdown(AbortSignal.timeout(1000));
  });
});

describe('service: shutdown order and start failures (one start/stop path)', () => {
  /**
   * `hold` keeps what it consumes and sends it on only at shutdown, one batch
   * at a time and after a turn of the event loop (as the metric-set windows
   * flushed at shutdown reach a following `batch`); once its own shutdown has
   * begun it refuses new data, as `batch` does.
   */
  function holdRegistry(log: string[], received: Record<string, string[]>, refused: string[]): Registry {
    const rcv: ReceiverFactory = {
      kind: 'receiver',
      type: 'src',
      description: '',
      signals: ['metrics'],
      configSchema: {},
      create: (s, _c, next) => {
        (globalThis as any)[`__hold_${s.id}`] = next;
        return {
          start: async () => {
            log.push(`start receiver ${s.id}`);
          },
          shutdown: async () => {
            log.push(`stop receiver ${s.id}`);
          },
        };
      },
    };
    const hold: ProcessorFactory = {
      kind: 'processor',
      type: 'hold',
      description: '',
      signals: [{ in: 'metrics', out: 'metrics' }],
      configSchema: { fail_start: { type: 'boolean', default: false, doc: '' } },
      create: (s, c, _sig: Signal, next: Consumer<MetricsBatch>) => {
        const name = `${s.id}@${s.pipeline}`;
        const held: MetricsBatch[] = [];
        let closed = false;
        return {
          start: async () => {
            log.push(`start processor ${name}`);
            if (c.fail_start) throw new Error('cannot start');
          },
          consume: async (b: MetricsBatch) => {
            const path = b.resourceMetrics[0]!.resource.attributes.path as string;
            if (closed) {
              refused.push(`${name} refused ${path}`);
              throw new RefusedError(`${name} is shut down`);
            }
            b.resourceMetrics[0]!.resource.attributes.path = `${path}>${name}`;
            held.push(b);
          },
          shutdown: async () => {
            if (closed) return;
            closed = true;
            log.push(`stop processor ${name}`);
            for (const b of held.splice(0)) {
              await new Promise((r) => setImmediate(r));
              await next.consume(b).catch(() => undefined);
            }
          },
        };
      },
    };
    const sink: ExporterFactory = {
      kind: 'exporter',
      type: 'sink',
      description: '',
      signals: ['metrics'],
      configSchema: {},
      create: (s) => ({
        start: async () => {
          log.push(`start exporter ${s.id}`);
        },
        shutdown: async () => {
          log.push(`stop exporter ${s.id}`);
        },
        consume: async (b: MetricsBatch) => {
          (received[s.id] ??= []).push(b.resourceMetrics[0]!.resource.attributes.path as string);
        },
      }),
    };
    return { receivers: new Map([['src', rcv]]), processors: new Map([['hold', hold]]), exporters: new Map([['sink', sink]]) };
  }
  const tagged = (path: string): MetricsBatch => {
    const b = batch();
    b.resourceMetrics[0]!.resource.attributes.path = path;
    return b;
  };

  async function run(yaml: string, send: Record<string, string[]>) {
    const log: string[] = [];
    const received: Record<string, string[]> = {};
    const refused: string[] = [];
    const cfg = parseConfig(yaml, 'c.yaml', holdRegistry(log, received, refused), {});
    const svc = new Service(cfg, { logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: '/tmp/mp-test-state' });
    await svc.start();
    for (const [id, paths] of Object.entries(send))
      for (const p of paths) await ((globalThis as any)[`__hold_${id}`] as { metrics: Consumer<MetricsBatch> }).metrics.consume(tagged(p));
    log.length = 0;
    await svc.shutdown(AbortSignal.timeout(5000));
    return { log, received, refused };
  }

  it('two processors: the first flushes into the second before the second stops; nothing refused', async () => {
    const r = await run(
      `
receivers: { src: {} }
processors: { hold/a: {}, hold/b: {} }
exporters: { sink: {} }
service: { pipelines: { metrics: { receivers: [src], processors: [hold/a, hold/b], exporters: [sink] } } }
`,
      { src: ['x1', 'x2'] },
    );
    expect(r.refused).to.deep.equal([]);
    expect(r.received.sink).to.deep.equal(['x1>hold/a@metrics>hold/b@metrics', 'x2>hold/a@metrics>hold/b@metrics']);
    expect(r.log).to.deep.equal(['stop receiver src', 'stop processor hold/a@metrics', 'stop processor hold/b@metrics', 'stop exporter sink']);
  });

  it('three processors, the same processor id in two pipelines, pipelines linked with pipeline/<id>: upstream first, processor by processor', async () => {
    const r = await run(
      `
receivers: { src/one: {}, src/two: {} }
processors: { hold/a: {}, hold/b: {}, hold/c: {} }
exporters: { sink/first: {}, sink/second: {} }
service:
  pipelines:
    metrics/first: { receivers: [src/one], processors: [hold/a, hold/b, hold/c], exporters: [sink/first] }
    metrics/second: { receivers: [src/two, pipeline/metrics/first], processors: [hold/a, hold/c], exporters: [sink/second] }
`,
      { 'src/one': ['p1', 'p2'], 'src/two': ['q1'] },
    );
    expect(r.refused).to.deep.equal([]);
    const first = ['p1', 'p2'].map((p) => `${p}>hold/a@metrics/first>hold/b@metrics/first>hold/c@metrics/first`);
    expect(r.received['sink/first']).to.deep.equal(first);
    // hold/a of metrics/second is its own instance (one per pipeline); it flushes q1 before it receives what metrics/first flushes into it, and then forwards that too
    expect(r.received['sink/second']).to.deep.equal([
      'q1>hold/a@metrics/second>hold/c@metrics/second',
      ...first.map((p) => `${p}>hold/a@metrics/second>hold/c@metrics/second`),
    ]);
    expect(r.log.slice(0, 2).sort()).to.deep.equal(['stop receiver src/one', 'stop receiver src/two']);
    expect(r.log.slice(2, 7)).to.deep.equal([
      'stop processor hold/a@metrics/first',
      'stop processor hold/b@metrics/first',
      'stop processor hold/c@metrics/first',
      'stop processor hold/a@metrics/second',
      'stop processor hold/c@metrics/second',
    ]);
    expect(r.log.slice(7).sort()).to.deep.equal(['stop exporter sink/first', 'stop exporter sink/second']);
  });

  it('a component that fails to start: start() stops what had started (and the failed one) and names it', async () => {
    const log: string[] = [];
    const cfg = parseConfig(
      `
receivers: { src: {} }
processors: { hold/a: {}, hold/b: { fail_start: true } }
exporters: { sink: {} }
service: { pipelines: { metrics: { receivers: [src], processors: [hold/a, hold/b], exporters: [sink] } } }
`,
      'c.yaml',
      holdRegistry(log, {}, []),
      {},
    );
    const svc = new Service(cfg, { logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: '/tmp/mp-test-state' });
    let err: unknown;
    await svc.start().catch((e) => {
      err = e;
    });
    expect((err as Error).message).to.equal('processor "hold/b" failed to start: cannot start');
    expect(log).to.deep.equal(['start exporter sink', 'start processor hold/b@metrics', 'stop processor hold/b@metrics', 'stop exporter sink']);
    const h = svc.health();
    expect(h.healthy).to.equal(false);
    expect(h.components.map((c) => `${c.kind} ${c.id} ${c.state}`)).to.deep.equal([
      'receiver src created',
      'processor hold/b failed',
      'processor hold/a created',
      'exporter sink stopped',
    ]);
    // the later shutdown (run.ts calls it) stops nothing twice
    log.length = 0;
    await svc.shutdown(AbortSignal.timeout(1000));
    expect(log).to.deep.equal(['stop receiver src', 'stop processor hold/a@metrics']);
  });
});

describe('service: its own telemetry', () => {
  it('the memory limiter totals (refused requests, dropped items) are Prometheus counters, not gauges', async () => {
    const tel = new ServiceTelemetry();
    const cfg = parseConfig(
      `
receivers: { src: {} }
exporters: { sink: {} }
service: { pipelines: { metrics: { receivers: [src], exporters: [sink] } } }
`,
      'c.yaml',
      {
        receivers: new Map([
          [
            'src',
            {
              kind: 'receiver',
              type: 'src',
              description: '',
              signals: ['metrics'],
              configSchema: {},
              create: () => ({ start: async () => {}, shutdown: async () => {} }),
            } satisfies ReceiverFactory,
          ],
        ]),
        processors: new Map(),
        exporters: new Map([
          [
            'sink',
            {
              kind: 'exporter',
              type: 'sink',
              description: '',
              signals: ['metrics'],
              configSchema: {},
              create: () => ({ start: async () => {}, shutdown: async () => {}, consume: async () => {} }),
            } satisfies ExporterFactory,
          ],
        ]),
      },
      {},
    );
    new Service(cfg, { logger: silentLogger(), telemetry: tel, stateDir: '/tmp/mp-test-state' });
    const text = await tel.render();
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE metricport_memory_limiter_'));
    expect(types).to.deep.equal([
      '# TYPE metricport_memory_limiter_refused_requests_total counter',
      '# TYPE metricport_memory_limiter_dropped_items_total counter',
    ]);
    expect(text).to.match(/^metricport_memory_limiter_refused_requests_total \d+$/m);
    expect(text).to.match(/^metricport_memory_limiter_dropped_items_total \d+$/m);
  });
});
