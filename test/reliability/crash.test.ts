/**
 * Crash test of the persistent sending queue (docs/reliability.md): the
 * built service with an `influxdb` store on `sending_queue: { storage: disk }`
 * in front of a real InfluxDB behind a TCP proxy. OTLP points flow in while
 * the store is down, and the service is killed with SIGKILL at random points
 * (≥ 20 times); then the store comes back and the kills go on while the
 * backlog drains. After the last restart every acknowledged point is in
 * InfluxDB, and the duplicates (points the proxy saw sent twice) are within
 * the documented bound: per kill, at most num_consumers queue entries resent.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInfluxDB, usePeer, type InfluxDBPeer } from '../harness/peers.js';
import { freePort, waitFor } from '../harness/ports.js';
import { OutageProxy } from '../storehelper/proxy.js';
import { spawnMetricport, writeConfig, type Child } from './child.js';

const KILLS_DOWN = 16;
const KILLS_UP = 6;
const NUM_CONSUMERS = 2;
const PER_REQUEST = 5;

describe('reliability: kill -9 with a disk queue (influxdb store, real InfluxDB)', function () {
  this.timeout(300_000);
  let influx: InfluxDBPeer | undefined;
  let proxy: OutageProxy | undefined;
  let child: Child | undefined;
  let dir = '';

  before(async function () {
    await usePeer(this, 'influxdb');
    influx = await startInfluxDB();
    await influx.createDatabase('mp');
    proxy = new OutageProxy(influx.port);
    await proxy.up();
    await proxy.down(); // the store starts down; the port stays reserved for up()
    dir = mkdtempSync(join(tmpdir(), 'mp-crash-'));
  });
  after(async () => {
    await child?.kill('SIGKILL');
    await proxy?.down();
    await influx?.stop();
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('every acknowledged point arrives after ≥ 20 SIGKILLs; duplicates within the bound', async () => {
    const otlpPort = await freePort();
    const adminPort = await freePort();
    const file = writeConfig(
      dir,
      `
receivers:
  otlp: { protocols: { http: { endpoint: "127.0.0.1:${otlpPort}" } } }
exporters:
  influxdb:
    endpoint: "http://127.0.0.1:${proxy!.port}"
    db: mp
    precision: ns
    compression: none
    period: 1s
    lateness: 200ms
    resource_attributes: []
    timeout: 2s
    retry_on_failure: { initial_interval: 100ms, max_interval: 300ms, max_elapsed_time: 0s }
    sending_queue: { storage: disk, drop_policy: block, max_size: 64MiB, num_consumers: ${NUM_CONSUMERS} }
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [influxdb] }
`,
    );
    const state = join(dir, 'state');
    const acked = new Set<number>();
    let next = 0;
    let refused = 0;
    const post = async (): Promise<void> => {
      const first = next;
      next += PER_REQUEST;
      const now = BigInt(Date.now()) * 1_000_000n;
      const points = [];
      for (let i = first; i < first + PER_REQUEST; i++)
        points.push({ asInt: String(i), timeUnixNano: String(now), attributes: [{ key: 'seq', value: { stringValue: String(i) } }] });
      const body = JSON.stringify({
        resourceMetrics: [
          { resource: { attributes: [] }, scopeMetrics: [{ scope: { name: 'crash' }, metrics: [{ name: 'crash_seq', gauge: { dataPoints: points } }] }] },
        ],
      });
      try {
        const r = await fetch(`http://127.0.0.1:${otlpPort}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await r.arrayBuffer();
        if (r.status === 200) for (let i = first; i < first + PER_REQUEST; i++) acked.add(i);
        else {
          refused++;
          expect([429, 503], `status ${r.status}`).to.include(r.status);
        }
      } catch {
        /* killed mid-request: not acknowledged */
      }
    };
    const startChild = async (): Promise<Child> => {
      const c = spawnMetricport(file, state, adminPort);
      let exited = false;
      void c.exited.then(() => {
        exited = true;
      });
      await waitFor(
        async () => {
          try {
            return (await fetch(`http://127.0.0.1:${adminPort}/healthz`)).status === 200;
          } catch {
            return false;
          }
        },
        {
          timeoutMs: 20_000,
          what: 'metricport healthy',
          abortIf: () => {
            if (exited) throw new Error(`metricport exited:\n${c.output()}`);
          },
        },
      );
      return c;
    };

    const cycle = async (): Promise<void> => {
      child = await startChild();
      // 4 concurrent senders until a random moment, then kill -9 (requests in flight are cut)
      const killAt = Date.now() + 150 + Math.floor(Math.random() * 900);
      const senders = [0, 1, 2, 3].map(async () => {
        while (Date.now() < killAt) await post();
      });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, killAt - Date.now());
        t.unref();
      });
      await child.kill('SIGKILL');
      await Promise.all(senders);
    };

    for (let k = 0; k < KILLS_DOWN; k++) await cycle();
    const ackedWhileDown = acked.size;
    await proxy!.up(); // the store returns; kills go on while the backlog drains
    for (let k = 0; k < KILLS_UP; k++) await cycle();
    child = await startChild();

    const countIn = async (): Promise<number> => {
      const res = await influx!.query('mp', 'SELECT count("value") FROM "crash_seq"');
      const v = res[0]?.series?.[0]?.values?.[0]?.[1];
      return typeof v === 'number' ? v : 0;
    };
    let seen = 0;
    await waitFor(
      async () => {
        seen = await countIn();
        return seen >= acked.size;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: `all ${acked.size} acknowledged points in InfluxDB (last count ${seen})` },
    );

    // every acknowledged seq, by value
    const res = await influx!.query('mp', 'SELECT "value", "seq" FROM "crash_seq"');
    const rows = res[0]?.series?.[0]?.values ?? [];
    const inDb = new Set<number>();
    for (const r of rows) {
      expect(Number(r[1])).to.equal(Number(r[2]));
      inDb.add(Number(r[2]));
    }
    const missing = [...acked].filter((s) => !inDb.has(s));
    expect(missing, `missing acknowledged points`).to.deep.equal([]);

    // duplicates: lines the store was sent more than once (InfluxDB overwrites same series+time, so they are harmless there)
    const sent = new Map<number, number>();
    let maxPerRequest = 0;
    for (const req of proxy!.tapped.split('POST /write').slice(1)) {
      let inReq = 0;
      for (const m of req.matchAll(/crash_seq,seq=(\d+) /g)) {
        const s = Number(m[1]);
        sent.set(s, (sent.get(s) ?? 0) + 1);
        inReq++;
      }
      if (inReq > maxPerRequest) maxPerRequest = inReq;
    }
    let duplicates = 0;
    for (const c of sent.values()) duplicates += c - 1;
    const bound = (KILLS_DOWN + KILLS_UP) * NUM_CONSUMERS * maxPerRequest;
    console.log(
      `      crash: ${KILLS_DOWN + KILLS_UP} SIGKILLs, ${acked.size} points acknowledged (${ackedWhileDown} while the store was down), ${refused} requests refused, ${inDb.size} distinct in InfluxDB, ${duplicates} duplicate sends (bound ${bound})`,
    );
    expect(KILLS_DOWN + KILLS_UP).to.be.at.least(20);
    expect(ackedWhileDown).to.be.greaterThan(100);
    expect(duplicates).to.be.at.most(bound);
  });
});
