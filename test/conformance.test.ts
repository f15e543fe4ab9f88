/**
 * The shared conformance suite: every registered factory is loaded (its
 * implementation imported through the lazy registry) and, with a minimal
 * valid config, goes through create → shutdown, and create → start →
 * shutdown → shutdown; create holds no socket, file descriptor, timer or
 * pending I/O; its schema documents every option; its defaults validate. A
 * new component gets all of this by adding one line to the registry (and, if
 * it has required options, one line to MINIMAL below).
 */
import { expect } from 'chai';
import { closeSync, mkdtempSync, openSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Consumer, Factory, Host } from '../src/component.js';
import { describeSchema, validateSchema } from '../src/config/schema.js';
import { silentLogger } from '../src/logger.js';
import { registry } from '../src/registry.js';
import { ServiceTelemetry } from '../src/telemetry.js';

const dir = mkdtempSync(join(tmpdir(), 'mp-conformance-'));

/** The smallest valid config per type, where the defaults alone are not enough. */
const MINIMAL: Record<string, Record<string, unknown>> = {
  'receiver/otlp': { protocols: { http: { endpoint: '127.0.0.1:0' } } },
  'receiver/errors': { endpoint: '127.0.0.1:0' },
  'receiver/forge': {
    app_id: 'ari:cloud:ecosystem::app/8ce114f4-d82c-45e2-b4fb-c6a0751d7d57',
    environments: ['8cb293d5-be08-47ae-a75c-95b89da5ad1d'],
    email: 'conformance@example.com',
    api_token: 'conformance-token',
    endpoint: 'http://127.0.0.1:9/graphql',
  },
  'receiver/statsd': { udp: { endpoint: '127.0.0.1:0' } },
  'receiver/importer': {
    source: 'postgres',
    port: 9,
    database: 'conformance',
    importers: [{ name: 'c', query: 'select 1 as value, now() as time where $1::text is not null and $2::text is not null', metric: { name: 'c' } }],
  },
  'processor/stability': { groups: [{ name: 'Sessions Started', attributes: { 'app.version': 'unknown' }, errors: 'ErrorsByVersion.unique._tx' }] },
  'receiver/sentry': { endpoint: '127.0.0.1:0', keys: [{ key: 'conformance-key', application: 'conformance' }] },
  'receiver/backtrace': { endpoint: '127.0.0.1:0', tokens: [{ token: 'conformance-token' }] },
  'receiver/datadog': { endpoint: '127.0.0.1:0', api_keys: [{ key: 'conformance-key' }] },
  'exporter/file': { path: join(dir, 'file-exporter.jsonl') },
  'exporter/otlphttp': { endpoint: 'http://127.0.0.1:9' },
  'exporter/influxdb': { endpoint: 'http://127.0.0.1:9', db: 'conformance' },
  'exporter/datadog': { api_key: 'conformance-key', endpoint: 'http://127.0.0.1:9' },
  'exporter/grafana': { url: 'http://127.0.0.1:9/graphite/metrics', api_key: 'conformance-key' },
  'exporter/circonus': { submission_url: 'http://127.0.0.1:9/module/httptrap/00000000-0000-0000-0000-000000000000/conformance' },
  'exporter/prometheus': { endpoint: '127.0.0.1:0' },
};

const sink: Consumer<unknown> = { consume: async () => {} };

function all(): Factory[] {
  return [...registry.receivers.values(), ...registry.processors.values(), ...registry.exporters.values()];
}

/**
 * What the process holds: libuv resources (sockets, servers, timers, pending
 * file system requests, ...) by type, and open file descriptors with their
 * targets. Read synchronously, so two readings around a synchronous call
 * differ by exactly what that call left open.
 */
function held(): { resources: Map<string, number>; fds: Map<string, string> } {
  const resources = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) resources.set(r, (resources.get(r) ?? 0) + 1);
  const fds = new Map<string, string>();
  const self = readlinkSync('/proc/self');
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    } // the listing's own descriptor, closed by now
    if (target === `/proc/${self}/fd`) continue;
    fds.set(fd, target);
  }
  return { resources, fds };
}

/**
 * What `fn` left open: resources by type whose count grew, and new file
 * descriptors, read right after it returns and again once the callbacks it
 * queued have run (a listen() on a host name binds after a lookup).
 */
async function leftOpen(fn: () => void): Promise<string[]> {
  // mocha arms the test's timeout once the test function first yields: let it, before the baseline
  await new Promise((r) => setImmediate(r));
  const a = held();
  fn();
  const now = held();
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  const later = held();
  return [...new Set([...diff(a, now), ...diff(a, later)])];
}

function diff(a: ReturnType<typeof held>, b: ReturnType<typeof held>): string[] {
  const out: string[] = [];
  for (const [r, n] of b.resources) if (n > (a.resources.get(r) ?? 0)) out.push(`${n - (a.resources.get(r) ?? 0)} × ${r}`);
  for (const [fd, target] of b.fds) if (a.fds.get(fd) !== target) out.push(`fd ${fd} → ${target}`);
  return out;
}

function create(f: Factory, telemetry: ServiceTelemetry) {
  const raw = MINIMAL[`${f.kind}/${f.type}`] ?? {};
  const { value, issues } = validateSchema(f.configSchema, raw, f.type);
  expect(issues, `${f.kind} ${f.type} minimal config`).to.deep.equal([]);
  expect(f.validate?.(value) ?? []).to.deep.equal([]);
  const set = { id: f.type, logger: silentLogger(), telemetry, stateDir: join(dir, f.kind, f.type), pipeline: 'p' };
  switch (f.kind) {
    case 'receiver':
      return f.create(set, value, { metrics: sink as never, events: sink as never });
    case 'processor':
      return f.create(set, value, f.signals[0]!.in, sink);
    case 'exporter':
      return f.create(set, value, f.signals[0]!);
  }
}

describe('conformance: every registered component', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the open-resource check sees a listening socket, a timer and an open file (so it can fail)', async () => {
    let srv: ReturnType<typeof createServer> | undefined;
    let timer: NodeJS.Timeout | undefined;
    const found = await leftOpen(() => {
      srv = createServer().listen(0, '127.0.0.1');
      timer = setTimeout(() => {}, 60_000);
    });
    srv!.close();
    clearTimeout(timer);
    expect(found.join('; '))
      .to.match(/TCPServerWrap/)
      .and.to.match(/Timeout/);
    let fd: number | undefined;
    const files = await leftOpen(() => {
      fd = openSync(join(dir, 'probe'), 'w');
    });
    closeSync(fd!);
    expect(files.join('; ')).to.contain(join(dir, 'probe'));
  });

  it('the registry holds the foundation components', () => {
    expect([...registry.receivers.keys()]).to.include('otlp');
    expect([...registry.processors.keys()]).to.include.members(['batch', 'filter']);
    expect([...registry.exporters.keys()]).to.include.members(['debug', 'file', 'otlphttp', 'nop']);
  });

  for (const f of all()) {
    describe(`${f.kind} ${f.type}`, () => {
      it('is a lazy descriptor (define*) and loads its implementation through the registry', async () => {
        expect(f.load, 'load()').to.be.a('function');
        await f.load!();
        expect(f.loaded).to.equal(true);
      });

      it('has a description, signals, and a doc line for every option', () => {
        expect(f.description.length).to.be.greaterThan(10);
        expect(f.signals.length).to.be.greaterThan(0);
        for (const row of describeSchema(f.configSchema)) expect(row.doc, `${f.type}.${row.key}`).to.be.a('string').with.length.greaterThan(3);
      });

      it('create → shutdown (never started) resolves', async () => {
        const c = create(f, new ServiceTelemetry());
        await c.shutdown(AbortSignal.timeout(5000));
      });

      it('create → start → shutdown → shutdown; start returns quickly', async () => {
        const telemetry = new ServiceTelemetry();
        const c = create(f, telemetry);
        const host: Host = { logger: silentLogger(), telemetry, stateDir: join(dir, 'host') };
        const t0 = performance.now();
        await c.start(host);
        expect(performance.now() - t0).to.be.below(1000);
        const deadline = AbortSignal.timeout(5000);
        await c.shutdown(deadline);
        await c.shutdown(deadline);
        if (c.status) expect(c.status()).to.be.an('object');
      });

      it('create holds no socket, file, timer or pending I/O (and a second instance can be created alongside)', async () => {
        const telemetry = new ServiceTelemetry();
        let a: ReturnType<typeof create> | undefined;
        let b: ReturnType<typeof create> | undefined;
        const open = await leftOpen(() => {
          a = create(f, telemetry);
          b = create(f, telemetry);
        });
        await Promise.all([a!.shutdown(AbortSignal.timeout(5000)), b!.shutdown(AbortSignal.timeout(5000))]);
        expect(open, `${f.kind} ${f.type}: create left open`).to.deep.equal([]);
      });
    });
  }
});
