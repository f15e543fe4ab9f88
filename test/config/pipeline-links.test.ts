/**
 * Pipelines feeding pipelines: `pipeline/<id>` among a pipeline's receivers
 * takes the output of pipeline <id> (what reaches its exporters) as input.
 */
import { expect } from 'chai';
import type { Consumer, ExporterFactory, ProcessorFactory, ReceiverFactory, Signal } from '../../src/component.js';
import { checkConfig, parseConfig, type Registry } from '../../src/config/service-config.js';
import { silentLogger } from '../../src/logger.js';
import type { EventBatch, MetricsBatch } from '../../src/model/index.js';
import { Service } from '../../src/service.js';
import { ServiceTelemetry } from '../../src/telemetry.js';

function registry(log: string[], received: Record<string, unknown[]>, nexts: Record<string, Record<string, Consumer<any>>>): Registry {
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
      nexts[s.id] = next as Record<string, Consumer<any>>;
      return life(`receiver ${s.id}`);
    },
  };
  // events → metrics: one gauge whose value is the number of events
  const count: ProcessorFactory = {
    kind: 'processor',
    type: 'count',
    description: '',
    signals: [{ in: 'events', out: 'metrics' }],
    configSchema: {},
    create: (s, _c, _sig: Signal, next: Consumer<MetricsBatch>) => ({
      ...life(`processor ${s.id}@${s.pipeline}`),
      consume: (b: EventBatch) =>
        next.consume({
          resourceMetrics: [
            {
              schemaUrl: '',
              resource: { attributes: {}, droppedAttributesCount: 0 },
              scopeMetrics: [
                {
                  schemaUrl: '',
                  scope: { name: 'count', version: '', attributes: {}, droppedAttributesCount: 0 },
                  metrics: [
                    {
                      kind: 'gauge',
                      name: 'events',
                      unit: '',
                      description: '',
                      points: [{ attributes: {}, startTimeUnixNano: 0n, timeUnixNano: 1n, flags: 0, value: b.events.length }],
                    },
                  ],
                },
              ],
            },
          ],
        }),
    }),
  };
  // metrics → metrics: records the names it sees, passes on
  const join: ProcessorFactory = {
    kind: 'processor',
    type: 'join',
    description: '',
    signals: [{ in: 'metrics', out: 'metrics' }],
    configSchema: {},
    create: (s, _c, _sig: Signal, next: Consumer<MetricsBatch>) => ({
      ...life(`processor ${s.id}@${s.pipeline}`),
      consume: (b: MetricsBatch) => {
        (received[`join@${s.pipeline}`] ??= []).push(b.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.name);
        return next.consume(b);
      },
    }),
  };
  const sink: ExporterFactory = {
    kind: 'exporter',
    type: 'sink',
    description: '',
    signals: ['metrics', 'events'],
    configSchema: {},
    create: (s, _c, sig) => ({
      ...life(`exporter ${s.id}/${sig}`),
      consume: async (d: unknown) => {
        (received[s.id] ??= []).push(d);
      },
    }),
  };
  return {
    receivers: new Map([['src', rcv]]),
    processors: new Map([
      ['count', count],
      ['join', join],
    ]),
    exporters: new Map([['sink', sink]]),
  };
}

describe('config: pipelines feeding pipelines (pipeline/<id>)', () => {
  const base = `
receivers: { src/errors: {}, src/imports: {} }
processors: { count: {}, join: {} }
exporters: { sink/a: {}, sink/b: {} }
`;
  it('an events pipeline that ends in metrics feeds a metrics pipeline; it may have no exporters; order and data', async () => {
    const log: string[] = [];
    const received: Record<string, unknown[]> = {};
    const nexts: Record<string, Record<string, Consumer<any>>> = {};
    const cfg = parseConfig(
      `${base}
service:
  pipelines:
    events/errors: { receivers: [src/errors], processors: [count] }
    metrics/scores: { receivers: [src/imports, pipeline/events/errors], processors: [join], exporters: [sink/a] }
`,
      'c.yaml',
      registry(log, received, nexts),
      {},
    );
    expect(cfg.pipelines.map((p) => [p.id, p.receivers, p.inputs, p.exporters])).to.deep.equal([
      ['events/errors', ['src/errors'], [], []],
      ['metrics/scores', ['src/imports'], ['events/errors'], ['sink/a']],
    ]);
    const svc = new Service(cfg, { logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: '/tmp/mp-test-links' });
    await svc.start();
    // downstream first: the scores pipeline's processor starts before the errors pipeline's
    expect(log).to.deep.equal([
      'start exporter sink/a/metrics',
      'start processor join@metrics/scores',
      'start processor count@events/errors',
      'start receiver src/errors',
      'start receiver src/imports',
    ]);
    await nexts['src/errors']!.events!.consume({
      events: [
        { timeUnixNano: 1n, attributes: {} },
        { timeUnixNano: 2n, attributes: {} },
      ],
    } as unknown as EventBatch);
    expect(received['join@metrics/scores']).to.deep.equal(['events']);
    const out = received['sink/a'] as MetricsBatch[];
    expect(out).to.have.length(1);
    expect((out[0]!.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.points[0] as { value: number }).value).to.equal(2);
    const st = svc.status() as { pipelines: Array<{ id: string; inputs?: string[] }> };
    expect(st.pipelines[1]!.inputs).to.deep.equal(['pipeline/events/errors']);
    log.length = 0;
    await svc.shutdown(AbortSignal.timeout(1000));
    // upstream first on shutdown: errors' processor flushes into scores before scores stops
    expect(log.indexOf('stop processor count@events/errors')).to.be.lessThan(log.indexOf('stop processor join@metrics/scores'));
  });

  it('a pipeline with exporters also feeds the pipelines that take its output', async () => {
    const received: Record<string, unknown[]> = {};
    const nexts: Record<string, Record<string, Consumer<any>>> = {};
    const cfg = parseConfig(
      `${base}
service:
  pipelines:
    events/errors: { receivers: [src/errors], processors: [count], exporters: [sink/b] }
    metrics/scores: { receivers: [pipeline/events/errors], processors: [join], exporters: [sink/a] }
`,
      'c.yaml',
      registry([], received, nexts),
      {},
    );
    const svc = new Service(cfg, { logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: '/tmp/mp-test-links' });
    await svc.start();
    await nexts['src/errors']!.events!.consume({ events: [{ timeUnixNano: 1n, attributes: {} }] } as unknown as EventBatch);
    expect((received['sink/a'] as MetricsBatch[]).length).to.equal(1);
    expect((received['sink/b'] as MetricsBatch[]).length).to.equal(1);
    await svc.shutdown(AbortSignal.timeout(1000));
  });

  it('rejects unknown sources, signal mismatches, cycles, self-feeding and exporter-less pipelines nobody reads', () => {
    const reg = registry([], {}, {});
    const errs = (pipes: string) =>
      checkConfig(`${base}\nservice:\n  pipelines:\n${pipes}`, 'c.yaml', reg, {})
        .issues.filter((i) => i.severity === 'error')
        .map((i) => `${i.path}: ${i.message}`);
    expect(
      errs(`    metrics/a: { receivers: [pipeline/nope], exporters: [sink/a] }\n    metrics/b: { receivers: [src/imports], exporters: [sink/a] }`),
    ).to.deep.equal(['service.pipelines.metrics/a.receivers: pipeline/nope: there is no pipeline "nope" (pipelines: metrics/a, metrics/b)']);
    expect(
      errs(`    events/e: { receivers: [src/errors], exporters: [sink/a] }\n    metrics/m: { receivers: [pipeline/events/e], exporters: [sink/a] }`),
    ).to.deep.equal(['service.pipelines.metrics/m.receivers: pipeline/events/e carries events but pipeline "metrics/m" takes metrics']);
    expect(
      errs(
        `    metrics/a: { receivers: [pipeline/metrics/b], processors: [join], exporters: [sink/a] }\n    metrics/b: { receivers: [pipeline/metrics/a], exporters: [sink/a] }`,
      ),
    ).to.deep.equal(['service.pipelines.metrics/a: pipelines feed each other in a cycle: metrics/a → metrics/b → metrics/a']);
    expect(errs(`    metrics/a: { receivers: [pipeline/metrics/a], exporters: [sink/a] }`)).to.deep.equal([
      'service.pipelines.metrics/a.receivers[0]: a pipeline cannot take its own output as input',
    ]);
    expect(errs(`    metrics/a: { receivers: [src/imports] }`)).to.deep.equal([
      'service.pipelines.metrics/a: needs at least one entry in "exporters" (or another pipeline must take its output with receivers: [pipeline/metrics/a])',
    ]);
  });
});
