/**
 * The importer's test query in cluster mode (run: once) on a node that does
 * not hold the poller's lease: the watermark it shows is the holder's, read
 * from the cluster's KV, not this node's empty local file (real NATS
 * JetStream, real InfluxDB as the source).
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { silentLogger } from '../../src/logger.js';
import { ServiceTelemetry } from '../../src/telemetry.js';
import type { Host } from '../../src/component.js';
import { pollerLease } from '../../src/cluster/api.js';
import type { ClusterNode } from '../../src/cluster/node.js';
import { ImporterReceiver } from '../../receivers/importer/receiver.js';
import { startInfluxDB, startNats, usePeer, type InfluxDBPeer, type NatsPeer } from '../harness/peers.js';
import { waitFor } from '../harness/ports.js';
import { importerConfig, Recorder, tempDir } from '../receivers/importer/helpers.js';
import { newNode } from './helpers.js';

describe('cluster: the importer test query on a node without the lease shows the shared watermark', function () {
  this.timeout(60_000);
  let nats: NatsPeer;
  let influx: InfluxDBPeer;
  const nodes: ClusterNode[] = [];
  const dirs: string[] = [];

  before(async function () {
    await usePeer(this, 'nats', 'influxdb');
    [nats, influx] = await Promise.all([startNats(), startInfluxDB()]);
    await influx.createDatabase('game');
    await influx.write('game', `sessions,version=1.0 count=3i ${Date.now() - 600_000}`, 'ms');
  });
  after(async () => {
    for (const n of nodes.splice(0)) await n.shutdown(AbortSignal.timeout(5000));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await nats?.stop();
    await influx?.stop();
  });

  it("node b previews with node a's watermark from KV; readWatermark sees it without claiming the lease", async () => {
    const cfg = { name: 'preview', nats: { servers: [nats.url] }, partitions: 2, lease_ttl: '5s', heartbeat: '250ms' };
    const a = newNode('a', cfg),
      b = newNode('b', cfg);
    nodes.push(a, b);
    a.start();
    const stopA = new AbortController();
    const grant = await a.lease(pollerLease('importer')).acquire(stopA.signal);
    expect(grant).to.not.equal(undefined);
    const wm = Date.UTC(2026, 11, 1, 12, 0, 0);
    await grant!.watermarks('importer').save('raw', wm);
    b.start();
    await waitFor(async () => (await b.readWatermark('importer', 'raw')) === wm, { timeoutMs: 15_000, what: 'node b reads the watermark node a saved' });
    // reading did not take the lease from its holder
    expect(grant!.valid()).to.equal(true);
    await grant!.check();

    const state = tempDir();
    dirs.push(state);
    const rec = new Recorder();
    const r = new ImporterReceiver(
      { id: 'importer', logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: state },
      importerConfig({
        source: 'influxdb',
        endpoint: influx.url,
        database: 'game',
        importers: [
          {
            name: 'raw',
            query: 'SELECT "count" FROM "sessions" WHERE time >= $1 AND time < $2',
            value_column: 'count',
            metric: { name: 'sessions_started', kind: 'delta_sum' },
            history: '1h',
            chunk: '1h',
            period: '1s',
          },
        ],
      }),
      { metrics: rec },
    );
    const host: Host = { logger: silentLogger(), telemetry: new ServiceTelemetry(), stateDir: state, cluster: b };
    await r.start(host);
    try {
      const out = (await r.testQuery('raw'))!;
      expect(out.ok, JSON.stringify(out.errors)).to.equal(true);
      expect(out.watermark).to.equal(new Date(wm).toISOString());
      // node b never imported: it does not hold the lease
      expect(rec.rows).to.deep.equal([]);
    } finally {
      await r.shutdown(AbortSignal.timeout(5000));
      stopA.abort();
    }
  });
});
