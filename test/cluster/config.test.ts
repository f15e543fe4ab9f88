/**
 * `service.cluster` in the config: defaults, every mistake with its key path,
 * nothing without it, a reload that changes it refused, the node id kept in
 * the state directory.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfig, parseConfig } from '../../src/config/service-config.js';
import { registry } from '../../src/registry.js';
import { resolveNodeId } from '../../src/cluster/config.js';
import { Service } from '../../src/service.js';
import { loadImplementations } from '../../src/component.js';
import { silentLogger } from '../../src/logger.js';
import { ServiceTelemetry } from '../../src/telemetry.js';

const base = `receivers:
  otlp: { protocols: { http: { endpoint: 127.0.0.1:0 } } }
exporters:
  nop: {}
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [nop] }
`;

function errors(cluster: string): Array<{ path: string; message: string; line?: number }> {
  return checkConfig(`${base}  cluster:\n${cluster}`, 'c.yaml', registry)
    .issues.filter((i) => i.severity === 'error')
    .map((i) => ({ path: i.path, message: i.message, line: i.line }));
}

describe('service.cluster config', () => {
  it('absent: no cluster; present and empty: every default', () => {
    expect(parseConfig(base, 'c.yaml', registry).cluster).to.equal(undefined);
    const c = parseConfig(`${base}  cluster: {}\n`, 'c.yaml', registry).cluster!;
    expect(c).to.deep.include({ name: 'metricport', node_id: '', partitions: 16, lease_ttl: 10_000, heartbeat: 2000, replicas: 1 });
    expect(c.nats).to.deep.include({ servers: ['nats://127.0.0.1:4222'], user: '', password: '', token: '', creds_file: '', timeout: 5000 });
    expect(Object.isFrozen(c.nats)).to.equal(true);
  });

  it('every mistake with its key path and line', () => {
    const e = errors(`    name: "a b"
    partitions: 0
    lease_ttl: 3s
    heartbeat: 2s
    bogus: 1
    nats: { servers: ["nats://u:SECRET-pw@host:4222"], token: t, user: u, password: p, creds_file: /nonexistent/x.creds }
`);
    const paths = e.map((x) => x.path);
    expect(paths).to.include.members(['service.cluster.name', 'service.cluster.partitions', 'service.cluster.bogus']);
    expect(e.find((x) => x.path === 'service.cluster.bogus')!.line).to.equal(13);
    const u = errors(`    nats: { servers: ["nats://u:SECRET-pw@host:4222", "http://x:1"] }\n`);
    expect(u.map((i) => i.path)).to.deep.equal(['service.cluster.nats.servers[0]', 'service.cluster.nats.servers[1]']);
    expect(u[0]!.message).to.match(/put them in nats.user\/nats.password or nats.token/);
    expect(JSON.stringify(u)).to.not.include('SECRET-pw');
    // cross-field checks run once the fields are valid
    const x = errors(`    lease_ttl: 3s
    heartbeat: 2s
    nats: { token: t, user: u, password: p, creds_file: /nonexistent/x.creds, tls: { cert_file: /nonexistent/c.pem } }
`);
    expect(x.map((i) => i.path).sort()).to.deep.equal(
      [
        'service.cluster.heartbeat',
        'service.cluster.nats.creds_file',
        'service.cluster.nats.creds_file',
        'service.cluster.nats.tls.cert_file',
        'service.cluster.nats.tls.key_file',
        'service.cluster.nats.token',
      ].sort(),
    );
    expect(x.find((i) => i.path === 'service.cluster.heartbeat')!.message).to.match(/at most lease_ttl \/ 3 \(1000 ms\)/);
    expect(JSON.stringify(e)).to.not.include('SECRET-pw');
  });

  it('node_id: generated once and kept in the state directory; a configured one wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-nodeid-'));
    try {
      const a = resolveNodeId('', dir);
      expect(a).to.match(/^n-[0-9a-f]{12}$/);
      expect(readFileSync(join(dir, 'cluster', 'node_id'), 'utf8').trim()).to.equal(a);
      expect(resolveNodeId('', dir)).to.equal(a);
      expect(resolveNodeId('mp-0', dir)).to.equal('mp-0');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a reload that changes service.cluster is refused (takes effect on a restart)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-reload-'));
    const first = parseConfig(`${base}  cluster: { name: a }\n`, 'c.yaml', registry);
    await loadImplementations(first);
    const svc = new Service(first, { logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: dir });
    try {
      await svc.start();
      let err: Error | undefined;
      try {
        await svc.reload(parseConfig(`${base}  cluster: { name: b }\n`, 'c.yaml', registry));
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message).to.match(/service\.cluster changed: .* only on a restart/);
      // an unchanged cluster section reloads
      await svc.reload(parseConfig(`${base}  cluster: { name: a }\n`, 'c.yaml', registry));
    } finally {
      await svc.shutdown(AbortSignal.timeout(5000));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
