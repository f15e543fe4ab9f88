/**
 * The lazy factory shape (src/component.ts): load() imports once, create
 * refuses before it, a failed import is a coded error that a later load()
 * retries, and loadImplementations loads exactly the types a config uses.
 */
import { expect } from 'chai';
import { defineExporter, defineReceiver, loadImplementations, type Exporter } from '../src/component.js';
import { MetricportError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import { ServiceTelemetry } from '../src/telemetry.js';

const set = { id: 'x', logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: '/nonexistent' };
const exporter: Exporter = { start: async () => {}, shutdown: async () => {}, consume: async () => {} };

function counted(type: string, fail = 0) {
  const calls = { load: 0 };
  const f = defineExporter<Record<string, never>>({
    type,
    description: 'test exporter',
    signals: ['metrics'],
    configSchema: {},
    load: async () => {
      calls.load++;
      if (calls.load <= fail) throw new Error('Cannot find module ./gone.js');
      return { create: () => exporter };
    },
  });
  return { f, calls };
}

describe('component factories: define*, load, loadImplementations', () => {
  it('create before load() throws naming the type; after it, create works and load() ran once', async () => {
    const { f, calls } = counted('later');
    expect(f.kind).to.equal('exporter');
    expect(f.loaded).to.equal(false);
    expect(() => f.create(set, {}, 'metrics')).to.throw(/the exporter "later" is not loaded/);
    await Promise.all([f.load(), f.load()]);
    await f.load();
    expect(calls.load).to.equal(1);
    expect(f.loaded).to.equal(true);
    expect(f.create(set, {}, 'metrics')).to.equal(exporter);
  });

  it('a failed import is MP_LOAD_FAILED naming the type; the next load() tries again', async () => {
    const { f, calls } = counted('flaky', 1);
    let err: unknown;
    try {
      await f.load();
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(MetricportError);
    expect((err as MetricportError).code).to.equal('MP_LOAD_FAILED');
    expect((err as Error).message).to.match(/cannot load the exporter "flaky".*Cannot find module/);
    await f.load();
    expect(calls.load).to.equal(2);
    expect(f.loaded).to.equal(true);
  });

  it('loadImplementations loads the types a config uses, each once, and no other', async () => {
    const used = counted('used');
    const unused = counted('unused');
    const rcv = defineReceiver<Record<string, never>>({
      type: 'r',
      description: 'test receiver',
      signals: ['metrics'],
      configSchema: {},
      load: async () => ({ create: () => exporter }),
    });
    const entry = <F>(factory: F) => ({ factory });
    await loadImplementations({
      receivers: new Map([['r', entry(rcv)]]),
      processors: new Map(),
      exporters: new Map([
        ['used', entry(used.f)],
        ['used/two', entry(used.f)],
      ]),
    });
    expect(rcv.loaded).to.equal(true);
    expect(used.calls.load).to.equal(1);
    expect(unused.calls.load).to.equal(0);
    expect(unused.f.loaded).to.equal(false);
  });
});
