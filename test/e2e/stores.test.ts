/**
 * Push stores' status end to end: the built service with an `influxdb` store
 * (a real InfluxDB 1.x behind a TCP proxy, so the store can be pointed at a
 * restarted server) and a `graphite` store (a real carbon-cache); OTLP in;
 * GET /api/v1/status and /api/v1/stores show adapter, period, last
 * successful transmission, points sent, queue depth, next flush; /metrics
 * has the store series. Then InfluxDB is stopped: last_error appears and the
 * store's password never shows; a new InfluxDB comes up: the store recovers.
 */
import { expect } from 'chai';
import { startCarbon, startInfluxDB, usePeer, type CarbonPeer, type InfluxDBPeer } from '../harness/peers.js';
import { waitFor } from '../harness/ports.js';
import { OutageProxy } from '../storehelper/proxy.js';
import { startMetricport, type Started } from './metricport.js';

const PASSWORD = 'SECRET-Pw-e2e-9f3K2xQz7';

interface StoreStatus {
  id: string;
  adapter: string;
  period_seconds: number;
  points_sent: number;
  queue_depth: number;
  next_flush: string | null;
  last_success: string | null;
  last_error: string | null;
  series: number;
}
interface StoreRow {
  name: string;
  adapter: string;
  mode: string;
  period: number;
  last_transmission: string | null;
  last_error: string | null;
  target: string;
}

describe('e2e: push stores status (influxdb → InfluxDB, graphite → carbon-cache)', function () {
  this.timeout(120_000);
  let influx: InfluxDBPeer | undefined;
  let influx2: InfluxDBPeer | undefined;
  let carbon: CarbonPeer | undefined;
  let proxy: OutageProxy | undefined;
  let mp: Started | undefined;

  before(async function () {
    await usePeer(this, 'influxdb', 'carbon');
    [influx, carbon] = await Promise.all([startInfluxDB(), startCarbon()]);
    await influx.createDatabase('mp');
    proxy = new OutageProxy(influx.port);
    await proxy.up();
    mp = await startMetricport(`
receivers:
  otlp: { protocols: { http: { endpoint: "{{OTLP}}" } } }
exporters:
  influxdb:
    endpoint: "http://127.0.0.1:${proxy.port}"
    db: mp
    username: metricport
    password: "${PASSWORD}"
    precision: s
    period: 1s
    resource_attributes: []
    timeout: 2s
    retry_on_failure: { initial_interval: 200ms, max_interval: 500ms, max_elapsed_time: 60s }
  graphite:
    host: 127.0.0.1
    port: ${carbon.linePort}
    tag_mode: path
    period: 1s
    resource_attributes: []
service:
  pipelines:
    metrics: { receivers: [otlp], exporters: [influxdb, graphite] }
`);
  });
  after(async () => {
    await mp?.stop();
    await proxy?.down();
    await Promise.all([influx?.stop(), influx2?.stop(), carbon?.stop()]);
  });

  const post = async (value: number) => {
    const now = BigInt(Date.now()) * 1_000_000n;
    const body = JSON.stringify({
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'shop' } }] },
          scopeMetrics: [{ scope: { name: 'e2e' }, metrics: [{ name: 'e2e_temp', gauge: { dataPoints: [{ asDouble: value, timeUnixNano: String(now) }] } }] }],
        },
      ],
    });
    const r = await fetch(`${mp!.otlpUrl}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(r.status, await r.text()).to.equal(200);
  };
  const status = async (): Promise<Record<string, StoreStatus>> => {
    const j = (await (await fetch(`${mp!.adminUrl}/api/v1/status`)).json()) as { exporters: StoreStatus[] };
    return Object.fromEntries(j.exporters.map((e) => [e.id, e]));
  };
  const rows = async (): Promise<Record<string, StoreRow>> => {
    const j = (await (await fetch(`${mp!.adminUrl}/api/v1/stores`)).json()) as { stores: StoreRow[] };
    return Object.fromEntries(j.stores.map((r) => [r.name, r]));
  };
  const noSecret = (what: string, text: string) => expect(text, what).to.not.contain(PASSWORD);

  it('status, stores and /metrics after a transmission; values arrive in both stores', async () => {
    await post(21.5);
    let st: Record<string, StoreStatus> = {};
    await waitFor(
      async () => {
        st = await status();
        return (st.influxdb?.points_sent ?? 0) >= 1 && (st.graphite?.points_sent ?? 0) >= 1;
      },
      { timeoutMs: 15_000, what: `both stores sent (${JSON.stringify(st)})` },
    );
    const t0 = Date.now();
    for (const [id, adapter] of [
      ['influxdb', 'influxdb'],
      ['graphite', 'graphite'],
    ] as const) {
      const s = st[id]!;
      expect(s).to.include({ adapter, period_seconds: 1, queue_depth: 0, last_error: null });
      expect(s.points_sent).to.equal(1);
      expect(s.series).to.equal(1);
      expect(Date.parse(s.last_success!)).to.be.within(t0 - 10_000, t0);
      // the next flush is the next 1 s period boundary (plus lateness), in the future or just now
      expect(Date.parse(s.next_flush!)).to.be.within(t0 - 1500, t0 + 2500);
    }
    const r = await rows();
    expect(r.influxdb).to.deep.include({ adapter: 'influxdb', mode: 'push', period: 1, last_error: null, target: `127.0.0.1:${proxy!.port}` });
    expect(r.graphite).to.deep.include({ adapter: 'graphite', mode: 'push', period: 1, last_error: null, target: `127.0.0.1:${carbon!.linePort}` });
    expect(r.influxdb!.last_transmission).to.equal(st.influxdb!.last_success);
    const m = await (await fetch(`${mp!.adminUrl}/metrics`)).text();
    for (const id of ['influxdb', 'graphite']) {
      expect(m).to.match(new RegExp(`metricport_store_period_seconds\\{[^}]*exporter="${id}"[^}]*\\} 1\\b`));
      expect(m).to.match(new RegExp(`metricport_store_series\\{[^}]*adapter="${id}"[^}]*\\} 1\\b`));
      const last = new RegExp(`metricport_store_last_success_timestamp_seconds\\{[^}]*exporter="${id}"[^}]*\\} (\\S+)`).exec(m);
      expect(Number(last?.[1]) * 1000).to.be.within(t0 - 10_000, t0);
      expect(m).to.match(new RegExp(`metricport_store_next_flush_timestamp_seconds\\{[^}]*exporter="${id}"[^}]*\\} \\d`));
      expect(m).to.match(new RegExp(`metricport_exporter_sent_items_total\\{[^}]*exporter="${id}"[^}]*\\} 1\\b`));
      expect(m).to.match(new RegExp(`metricport_exporter_queue_size\\{[^}]*exporter="${id}"[^}]*\\} 0\\b`));
    }
    const res = await influx!.query('mp', 'SELECT "value" FROM "e2e_temp"');
    expect(res[0]!.series![0]!.values.map((v) => v[1])).to.deep.equal([21.5]);
    let pts: Array<{ value: number | null }> = [];
    await waitFor(
      async () => {
        pts = await carbon!.fetchWhisper('e2e_temp');
        return pts.length > 0;
      },
      { timeoutMs: 15_000, what: 'carbon has e2e_temp' },
    );
    expect(pts.map((p) => p.value)).to.deep.equal([21.5]);
  });

  it('InfluxDB stopped: last_error (no password) in status and stores; graphite unaffected; a new InfluxDB: recovery, nothing lost', async () => {
    await influx!.stop();
    await post(22.5);
    let st: Record<string, StoreStatus> = {};
    await waitFor(
      async () => {
        st = await status();
        return st.influxdb?.last_error !== null && st.influxdb?.last_error !== undefined;
      },
      { timeoutMs: 15_000, what: `influxdb last_error (${JSON.stringify(st.influxdb)})` },
    );
    expect(st.influxdb!.last_error).to.match(/ECONNRESET|ECONNREFUSED|socket|closed|connect|network/i);
    expect(st.influxdb!.points_sent).to.equal(1);
    const r = await rows();
    expect(r.influxdb!.last_error).to.equal(st.influxdb!.last_error);
    await waitFor(async () => ((await status()).graphite?.points_sent ?? 0) >= 2, { timeoutMs: 15_000, what: 'graphite keeps sending' });
    expect((await status()).graphite!.last_error).to.equal(null);
    for (const [what, url] of [
      ['status', '/api/v1/status'],
      ['stores', '/api/v1/stores'],
      ['metrics', '/metrics'],
    ] as const) {
      const res = await fetch(`${mp!.adminUrl}${url}`);
      noSecret(what, await res.text());
    }
    noSecret('log', mp!.output());

    // a new InfluxDB behind the same address: the queued point arrives, last_success moves on
    influx2 = await startInfluxDB();
    await influx2.createDatabase('mp');
    await proxy!.down();
    (proxy as unknown as { targetPort: number }).targetPort = influx2.port; // same proxy port: the store's endpoint does not change
    await proxy!.up();
    const before = st.influxdb!.last_success!;
    await waitFor(
      async () => {
        st = await status();
        return st.influxdb!.points_sent >= 2;
      },
      { timeoutMs: 30_000, what: `influxdb recovered (${JSON.stringify(st.influxdb)})` },
    );
    expect(Date.parse(st.influxdb!.last_success!)).to.be.greaterThan(Date.parse(before));
    expect(st.influxdb!.queue_depth).to.equal(0);
    const res = await influx2.query('mp', 'SELECT "value" FROM "e2e_temp"');
    expect(res[0]!.series![0]!.values.map((v) => v[1])).to.deep.equal([22.5]);
    noSecret('log after recovery', mp!.output());
  });
});
