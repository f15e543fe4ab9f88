/**
 * A statsd receiver re-created by config reloads registers its observable
 * counters once per id: the callbacks behind `metricport_statsd_*` stay as
 * many after any number of reloads (before, every new instance added its
 * own and the replaced instances, aggregator included, were never freed).
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config/service-config.js';
import { loadImplementations } from '../../../src/component.js';
import { silentLogger } from '../../../src/logger.js';
import { registry } from '../../../src/registry.js';
import { Service } from '../../../src/service.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';

const config = (flushMs: number) =>
  parseConfig(
    `
receivers:
  statsd: { udp: { endpoint: "127.0.0.1:0" }, flush_interval: ${flushMs}ms }
exporters:
  nop: {}
service:
  pipelines:
    metrics: { receivers: [statsd], exporters: [nop] }
`,
    'c.yaml',
    registry,
  );

const NAMES = ['metricport_statsd_packets', 'metricport_statsd_lines', 'metricport_statsd_bad_lines', 'metricport_statsd_dropped', 'metricport_statsd_series'];

/** observable callbacks registered on the service's meter, per instrument name */
function callbacks(tel: ServiceTelemetry): Record<string, number> {
  const instruments = (tel as unknown as { self: { instruments: Map<string, { callbacks: unknown[] }> } }).self.instruments;
  return Object.fromEntries(NAMES.map((n) => [n, instruments.get(n)?.callbacks.length ?? 0]));
}

describe('statsd receiver: reloads', function () {
  this.timeout(30_000);

  it('re-registering its observable counters keeps one callback per instrument, however many reloads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mp-statsd-reload-'));
    const telemetry = new ServiceTelemetry();
    const first = config(1000);
    await loadImplementations(first);
    const svc = new Service(first, { logger: silentLogger(), telemetry, stateDir: dir });
    try {
      await svc.start();
      const once = callbacks(telemetry);
      expect(
        Object.values(once).every((n) => n === 1),
        JSON.stringify(once),
      ).to.equal(true);
      for (let i = 2; i <= 5; i++) {
        const r = await svc.reload(config(i * 1000)); // a changed flush_interval: a new receiver instance
        expect(JSON.stringify(r)).to.match(/statsd/);
      }
      expect(callbacks(telemetry)).to.deep.equal(once);
      const text = await telemetry.render();
      expect(text.match(/^metricport_statsd_packets_total\{[^}]*receiver="statsd"[^}]*\} /gm)).to.have.length(1);
    } finally {
      await svc.shutdown(AbortSignal.timeout(5000));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
