/**
 * Outage per adapter family: the store is down (connections refused and
 * reset) for METRICPORT_OUTAGE_SECONDS (default 30) while data flows, then
 * comes back; every point produced arrives, counted exactly, none twice.
 * TCP: graphite → real carbon-cache. HTTP: influxdb → real InfluxDB 1.x.
 */
import { expect } from 'chai';
import { createGraphite } from '../../exporters/graphite/exporter.js';
import { createInflux } from '../../exporters/influxdb/exporter.js';
import type { StoreExporter } from '../../src/storehelper/store.js';
import { startCarbon, startInfluxDB, usePeer, type CarbonPeer, type InfluxDBPeer } from '../harness/peers.js';
import { waitFor } from '../harness/ports.js';
import { host, settings } from '../exporterhelper/fakes.js';
import { OutageProxy } from './proxy.js';
import { S, batch, graphiteCfg, influxCfg, num, sum } from './util.js';

const OUTAGE_MS = Number(process.env.METRICPORT_OUTAGE_SECONDS ?? 30) * 1000;
const retry = { enabled: true, initial_interval: 200, max_interval: 2000, max_elapsed_time: 0, multiplier: 1.5, randomization_factor: 0.2 };

/** Produce one point of value 1 every 50 ms (point time = now) for `ms`; returns how many. */
async function produce(ex: StoreExporter, name: string, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let n = 0;
  while (Date.now() < end) {
    await ex.consume(batch([sum(name, [num(BigInt(Date.now()) * 1_000_000n, 1n)])]));
    n++;
    await new Promise((r) => setTimeout(r, 50));
  }
  return n;
}

async function scenario(ex: StoreExporter, proxy: OutageProxy, name: string, graceful = false): Promise<number> {
  await ex.start(host(settings()));
  let n = await produce(ex, name, 2000);
  // TCP: the store goes down cleanly (FIN, then refused) — a reset mid-write
  // swallows what the kernel accepted, which plaintext Carbon cannot
  // acknowledge; test/reliability/faults.test.ts accounts for that case
  await proxy.down({ graceful });
  n += await produce(ex, name, OUTAGE_MS);
  await proxy.up();
  n += await produce(ex, name, 2000);
  await ex.shutdown(AbortSignal.timeout(60_000));
  return n;
}

describe('outage: store down while data flows, then back — every point exactly once', function () {
  this.timeout(OUTAGE_MS + 120_000);

  describe('TCP family: graphite → carbon-cache', () => {
    let carbon: CarbonPeer;
    before(async function () {
      await usePeer(this, 'carbon');
      carbon = await startCarbon();
    });
    after(async () => {
      await carbon?.stop();
    });
    it(`down for ${OUTAGE_MS / 1000} s`, async () => {
      const proxy = new OutageProxy(carbon.linePort);
      await proxy.up();
      const set = settings('graphite/outage');
      const ex = createGraphite(set, { ...graphiteCfg(proxy.port, { tag_mode: 'path', retry_on_failure: retry }) });
      const n = await scenario(ex, proxy, 'outage.tcp', true);
      const tcpLines = (): string[] => proxy.tapped.split('\n').filter((l) => l.startsWith('outage.tcp ') && l.split(' ').length === 3);
      // the last writes may still be crossing the proxy when shutdown resolves
      await waitFor(() => tcpLines().length === ex.status().points_sent, { timeoutMs: 10_000, what: 'proxy to see every line sent' });
      const lines = tcpLines();
      const stamps = lines.map((l) => l.split(' ')[2]);
      expect(new Set(stamps).size, 'no window sent twice').to.equal(stamps.length);
      const sent = lines.reduce((a, l) => a + Number(l.split(' ')[1]), 0);
      expect(sent, 'points carried by the lines').to.equal(n);
      let stored = 0;
      await waitFor(
        async () => {
          const pts = await carbon.fetchWhisper('outage.tcp', Math.floor(Date.now() / 1000) - 600);
          stored = pts.reduce((a, p) => a + p.value, 0);
          return stored === n;
        },
        { timeoutMs: 20_000, what: `carbon holding ${n} points (has ${stored})` },
      );
      const st = ex.status();
      expect(st.points_dropped).to.equal(0);
      expect(st.points_sent).to.equal(lines.length);
      expect(st.connects as number).to.be.at.least(2);
    });
  });

  describe('HTTP family: influxdb → InfluxDB 1.x', () => {
    let influx: InfluxDBPeer;
    before(async function () {
      await usePeer(this, 'influxdb');
      influx = await startInfluxDB();
      await influx.createDatabase('mp');
    });
    after(async () => {
      await influx?.stop();
    });
    it(`down for ${OUTAGE_MS / 1000} s`, async () => {
      const proxy = new OutageProxy(influx.port);
      await proxy.up();
      const set = settings('influxdb/outage');
      const ex = createInflux(set, influxCfg(`http://127.0.0.1:${proxy.port}`, { compression: 'none', precision: 's', retry_on_failure: retry }));
      const n = await scenario(ex, proxy, 'outage_http');
      const lines = proxy.tapped.split(/\r?\n/).filter((l) => l.startsWith('outage_http '));
      expect(lines.length).to.equal(ex.status().points_sent); // HTTP: the answer came after the proxy read the body
      const stamps = lines.map((l) => l.split(' ')[2]);
      expect(new Set(stamps).size, 'no window sent twice').to.equal(stamps.length);
      expect(lines.reduce((a, l) => a + Number(/value=(\d+)i/.exec(l)![1]), 0)).to.equal(n);
      const r = await influx.query('mp', 'SELECT sum(value), count(value) FROM outage_http');
      expect(r[0]!.series![0]!.values[0]!.slice(1)).to.deep.equal([n, lines.length]);
      expect(ex.status().points_dropped).to.equal(0);
      expect(ex.status().points_sent).to.equal(lines.length);
    });
  });
});
void S;
