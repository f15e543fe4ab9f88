import { expect } from 'chai';
import type { Consumer, ExporterFactory, ProcessorFactory, ReceiverFactory, Signal } from '../../src/component.js';
import { parseConfig, type Registry } from '../../src/config/service-config.js';
import { PermanentError, RefusedError } from '../../src/errors.js';
import { fanout } from '../../src/fanout.js';
import { silentLogger } from '../../src/logger.js';
import type { MetricsBatch } from '../../src/model/index.js';
import { Service } from '../../src/service.js';
import { ServiceTelemetry } from '../../src/telemetry.js';

function batch(v = 1): MetricsBatch {
  return {
    resourceMetrics: [{
      schemaUrl: '', resource: { attributes: { 'service.name': 's' }, droppedAttributesCount: 0 },
      scopeMetrics: [{ schemaUrl: '', scope: { name: 'x', version: '', attributes: {}, droppedAttributesCount: 0 }, metrics: [
        { kind: 'gauge', name: 'g', unit: '', description: '', points: [{ attributes: { a: 'b' }, startTimeUnixNano: 0n, timeUnixNano: 1700000000123456789n, flags: 0, value: v }] },
      ] }],
    }],
  };
}

describe('fan-out', () => {
  it('gives mutating consumers their own copy and never lets them affect others', async () => {
    const seen: MetricsBatch[] = [];
    const mutator: Consumer<MetricsBatch> = { mutatesData: true, consume: async (b) => { (b.resourceMetrics[0]!.resource.attributes as Record<string, unknown>)['service.name'] = 'changed'; b.resourceMetrics[0]!.scopeMetrics[0]!.metrics.length = 0; } };
    const reader: Consumer<MetricsBatch> = { consume: async (b) => { seen.push(b); } };
    const input = batch();
    await fanout('metrics', [mutator, reader, mutator]).consume(input);
    expect(seen[0]).to.equal(input);
    expect(input.resourceMetrics[0]!.resource.attributes['service.name']).to.equal('s');
    expect(input.resourceMetrics[0]!.scopeMetrics[0]!.metrics).to.have.length(1);
  });

  it('propagates failures, preferring a retryable one', async () => {
    const ok: Consumer<MetricsBatch> = { consume: async () => {} };
    const perm: Consumer<MetricsBatch> = { consume: async () => { throw new PermanentError('bad'); } };
    const refuse: Consumer<MetricsBatch> = { consume: async () => { throw new RefusedError('full', { status: 429, retryAfterSeconds: 3 }); } };
    const sync: Consumer<MetricsBatch> = { consume: () => { throw new Error('sync throw'); } };
    let err: unknown;
    await fanout('metrics', [ok, perm, refuse]).consume(batch()).catch((e) => { err = e; });
    expect(err).to.be.instanceOf(RefusedError);
    err = undefined;
    await fanout('metrics', [ok, perm]).consume(batch()).catch((e) => { err = e; });
    expect(err).to.be.instanceOf(PermanentError);
    err = undefined;
    await fanout('metrics', [ok, sync]).consume(batch()).catch((e) => { err = e; });
    expect((err as Error).message).to.equal('sync throw');
  });
});

describe('service: pipeline graph and lifecycle', () => {
  function recordingRegistry(log: string[], received: Record<string, unknown[]>): Registry {
    const life = (name: string) => ({
      start: async () => { log.push(`start ${name}`); },
      shutdown: async () => { log.push(`stop ${name}`); },
    });
    const rcv: ReceiverFactory = {
      kind: 'receiver', type: 'src', description: '', signals: ['metrics', 'events'], configSchema: {},
      create: (s, _c, next) => { received[`next:${s.id}`] = Object.keys(next); (globalThis as any)[`__next_${s.id}`] = next; return life(`receiver ${s.id}`); },
    };
    const proc: ProcessorFactory = {
      kind: 'processor', type: 'tag', description: '', signals: [{ in: 'metrics', out: 'metrics' }], configSchema: {},
      create: (s, _c, _sig: Signal, next: Consumer<MetricsBatch>) => ({ ...life(`processor ${s.id}@${s.pipeline}`), mutatesData: true, consume: (b: MetricsBatch) => { b.resourceMetrics[0]!.resource.attributes.tagged = s.pipeline!; return next.consume(b); } }),
    };
    const exp: ExporterFactory = {
      kind: 'exporter', type: 'sink', description: '', signals: ['metrics', 'events'], configSchema: { fail: { type: 'boolean', default: false, doc: '' } },
      create: (s, c, sig) => ({ ...life(`exporter ${s.id}/${sig}`), consume: async (d: unknown) => { if (c.fail) throw new RefusedError('nope'); (received[s.id] ??= []).push(d); } }),
    };
    const pass: ProcessorFactory = {
      kind: 'processor', type: 'pass', description: '', signals: [{ in: 'metrics', out: 'metrics' }], configSchema: {},
      create: (s, _c, _sig: Signal, next: Consumer<MetricsBatch>) => ({ ...life(`processor ${s.id}@${s.pipeline}`), consume: (b: MetricsBatch) => next.consume(b) }),
    };
    return { receivers: new Map([['src', rcv]]), processors: new Map([['tag', proc], ['pass', pass]]), exporters: new Map([['sink', exp]]) };
  }

  it('wires receivers to several pipelines, isolates mutations, and starts/stops in order', async () => {
    const log: string[] = [];
    const received: Record<string, unknown[]> = {};
    const reg = recordingRegistry(log, received);
    const cfg = parseConfig(`
receivers: { src: {} }
processors: { tag: {} }
exporters: { sink/a: {}, sink/b: {} }
service:
  pipelines:
    metrics/one: { receivers: [src], processors: [tag], exporters: [sink/a] }
    metrics/two: { receivers: [src], exporters: [sink/a, sink/b] }
`, 'c.yaml', reg, {});
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
    const cfg = parseConfig(`
receivers: { src: {} }
processors: { pass: {}, tag: {} }
exporters: { sink/a: {}, sink/b: {} }
service:
  pipelines:
    metrics/one: { receivers: [src], processors: [pass, tag], exporters: [sink/a] }
    metrics/two: { receivers: [src], exporters: [sink/b] }
`, 'c.yaml', recordingRegistry([], received), {});
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
    const cfg = parseConfig(`
receivers: { src: {} }
exporters: { sink: { fail: true } }
service: { pipelines: { metrics: { receivers: [src], exporters: [sink] } } }
`, 'c.yaml', recordingRegistry(log, received), {});
    const svc = new Service(cfg, { logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: '/tmp/mp-test-state' });
    await svc.start();
    const next = (globalThis as any).__next_src as { metrics: Consumer<MetricsBatch> };
    let err: unknown;
    await next.metrics.consume(batch()).catch((e) => { err = e; });
    expect(err).to.be.instanceOf(RefusedError);
    await svc.shutdown(AbortSignal.timeout(1000));
  });
});
