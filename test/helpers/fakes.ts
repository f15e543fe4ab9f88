import type { Consumer, ExporterFactory, ProcessorFactory, ReceiverFactory } from '../../src/component.js';
import type { Registry } from '../../src/config/service-config.js';

/** Small fake factories for config and graph tests (no I/O). */
export function fakeRegistry(): Registry {
  const rcv: ReceiverFactory = {
    kind: 'receiver',
    type: 'fakein',
    description: 'fake receiver',
    signals: ['metrics', 'events'],
    configSchema: { endpoint: { type: 'endpoint', default: '127.0.0.1:1', doc: 'where' }, limit: { type: 'int', default: 5, min: 1, doc: 'a limit' } },
    create: (_s, _c, next) => ({ start: async () => {}, shutdown: async () => {}, status: () => ({ next: Object.keys(next) }) }),
  };
  const evOnly: ReceiverFactory = { ...rcv, type: 'evin', signals: ['events'] };
  const toMetrics: ProcessorFactory = {
    kind: 'processor',
    type: 'tometrics',
    description: 'events → metrics',
    signals: [{ in: 'events', out: 'metrics' }],
    configSchema: {},
    create: (_s, _c, _sig, next: Consumer<any>) => ({ start: async () => {}, shutdown: async () => {}, consume: (d) => next.consume(d) }),
  };
  const pass: ProcessorFactory = {
    kind: 'processor',
    type: 'pass',
    description: 'passes',
    signals: [
      { in: 'metrics', out: 'metrics' },
      { in: 'events', out: 'events' },
    ],
    configSchema: { timeout: { type: 'duration', default: '1s', doc: 't' } },
    create: (_s, _c, _sig, next: Consumer<any>) => ({ start: async () => {}, shutdown: async () => {}, consume: (d) => next.consume(d) }),
  };
  const out: ExporterFactory = {
    kind: 'exporter',
    type: 'fakeout',
    description: 'fake exporter',
    signals: ['metrics'],
    configSchema: {
      url: { type: 'url', required: true, doc: 'target' },
      api_key: { type: 'string', secret: true, doc: 'key' },
      period: { type: 'duration', default: '60s', min: '1s', doc: 'period' },
    },
    create: () => ({ start: async () => {}, shutdown: async () => {}, consume: async () => {} }),
  };
  return {
    receivers: new Map([
      [rcv.type, rcv],
      [evOnly.type, evOnly],
    ]),
    processors: new Map([
      [toMetrics.type, toMetrics],
      [pass.type, pass],
    ]),
    exporters: new Map([[out.type, out]]),
  };
}
