/**
 * Self-test of the peer harness: really starts Prometheus, VictoriaMetrics,
 * InfluxDB, carbon-cache, NATS and PostgreSQL (all in parallel, from the outer
 * before()), writes one sample to each and reads it back.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import {
  ALL_PEER_PACKAGES,
  PACKAGE_BINARIES,
  PeerGroup,
  startAll,
  startCollectd,
  udpReceiveBuffer,
  peersInstalled,
  promtoolCheckMetrics,
  startCarbon,
  startInfluxDB,
  startNats,
  startPostgres,
  startPrometheus,
  startVictoriaMetrics,
  usePeer,
  type CarbonPeer,
  type InfluxDBPeer,
  type NatsPeer,
  type PeerName,
  type PostgresPeer,
  type PrometheusPeer,
  type VictoriaMetricsPeer,
} from './peers.js';
import { freePort, sendTcp, waitFor, waitForHttp } from './ports.js';
import { packageRoot } from '../../src/paths.js';

describe('test harness (real peers)', function () {
  this.timeout(60_000);

  const group = new PeerGroup();
  let scrapeServer: http.Server | undefined;
  let scrapePort = 0;

  const starters = {
    prometheus: () => startPrometheus({ scrapeTargets: [{ target: `127.0.0.1:${scrapePort}`, job: 'tiny' }], scrapeInterval: '1s' }),
    'victoria-metrics': () => startVictoriaMetrics(),
    influxdb: () => startInfluxDB(),
    carbon: () => startCarbon(),
    nats: () => startNats(),
    postgres: () => startPostgres({ own: true }),
  } satisfies Partial<Record<PeerName, () => Promise<unknown>>>;

  before(async function () {
    scrapeServer = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end('# TYPE t_total counter\nt_total 7\n');
    });
    await new Promise<void>((resolve) => scrapeServer!.listen(0, '127.0.0.1', resolve));
    scrapePort = (scrapeServer.address() as AddressInfo).port;
    // Kick off every installed peer now so their start-up overlaps; each
    // suite below awaits (or installs/skips) its own.
    for (const [name, start] of Object.entries(starters)) {
      if (peersInstalled(name as PeerName)) void group.start<{ stop(): Promise<void> }>(name, start);
    }
  });

  after(async function () {
    await group.stopAll();
    await new Promise<void>((resolve) => (scrapeServer ? scrapeServer.close(() => resolve()) : resolve()));
  });

  describe('ports', function () {
    it('freePort gives a bindable loopback port', async function () {
      const port = await freePort();
      const srv = net.createServer();
      await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, '127.0.0.1', resolve));
      await new Promise<void>((resolve) => srv.close(() => resolve()));
      expect(port).to.be.within(1, 65535);
    });

    it('waitFor names what it waited for and the last error', async function () {
      let n = 0;
      const err = await waitFor(
        () => {
          n++;
          throw new Error(`boom ${n}`);
        },
        { timeoutMs: 200, intervalMs: 20, what: 'the thing' },
      ).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      // the last attempt's error and the number of attempts (at least two: one after the first pause, however late
      // a loaded machine wakes the wait up; CI once saw only two in 200 ms)
      expect(n).to.be.at.least(2);
      expect(err?.message).to.include(`(${n} attempts) waiting for the thing; last error: boom ${n}`);
    });

    it('waitForHttp polls until the status matches', async function () {
      let hits = 0;
      const srv = http.createServer((_req, res) => {
        hits++;
        res.writeHead(hits < 3 ? 503 : 204).end();
      });
      await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
      try {
        await waitForHttp(`http://127.0.0.1:${(srv.address() as AddressInfo).port}/`, { status: 204, timeoutMs: 5_000 });
        expect(hits).to.equal(3);
      } finally {
        await new Promise<void>((resolve) => srv.close(() => resolve()));
      }
    });
  });

  describe('startAll', function () {
    it('stops the peers that started when another fails, and throws its error', async function () {
      let stopped = 0;
      const ok = () => Promise.resolve({ stop: async () => void stopped++ });
      const err = await startAll({
        a: ok,
        b: () => Promise.reject(new Error('b failed')),
        c: ok,
      }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).to.equal('b failed');
      expect(stopped).to.equal(2);
      const all = await startAll({ a: ok, c: ok });
      expect(Object.keys(all)).to.deep.equal(['a', 'c']);
    });
  });

  describe('promtool', function () {
    before(async function () {
      await usePeer(this, 'promtool');
    });

    it('accepts good exposition text', async function () {
      const res = await promtoolCheckMetrics('# HELP t_total Things.\n# TYPE t_total counter\nt_total 7\n');
      expect(res.ok, res.output).to.equal(true);
    });

    it('rejects a counter without _total', async function () {
      const res = await promtoolCheckMetrics('# HELP things Things.\n# TYPE things counter\nthings 7\n');
      expect(res.ok).to.equal(false);
      expect(res.output).to.include('_total');
    });
  });

  describe('Prometheus', function () {
    let prom: PrometheusPeer;
    before(async function () {
      await usePeer(this, 'prometheus');
      prom = await group.start('prometheus', starters.prometheus);
    });
    after(async () => prom?.stop());

    it('is ready', async function () {
      const res = await fetch(`${prom.url}/-/ready`);
      expect(res.status).to.equal(200);
    });

    it('scrapes a node:http target and answers t_total == 7', async function () {
      let values: { value: number }[] = [];
      await waitFor(
        async () => {
          values = await prom.queryValues('t_total');
          return values.length === 1 && values[0]!.value === 7;
        },
        { timeoutMs: 30_000, intervalMs: 250, what: 'prometheus to scrape t_total' },
      );
      expect(values.map((v) => v.value)).to.deep.equal([7]);
      const targets = await prom.targets();
      expect(targets).to.have.length(1);
      expect(targets[0]!.health).to.equal('up');
      expect(targets[0]!.labels.job).to.equal('tiny');
    });
  });

  describe('VictoriaMetrics', function () {
    let vm: VictoriaMetricsPeer;
    before(async function () {
      await usePeer(this, 'victoria-metrics');
      vm = await group.start('victoria-metrics', starters['victoria-metrics']);
    });
    after(async () => vm?.stop());

    it('answers /health', async function () {
      const res = await fetch(`${vm.url}/health`);
      expect((await res.text()).trim()).to.equal('OK');
    });

    it('stores an Influx line POSTed to /write and exports it', async function () {
      const tsMs = Date.now() - 1_000;
      const res = await fetch(`${vm.url}/write`, { method: 'POST', body: `harness_influx,host=h1 f=3.5 ${tsMs * 1e6}\n` });
      expect(res.status).to.equal(204);
      const series = await vm.waitForSeries('{__name__="harness_influx_f"}');
      expect(series).to.have.length(1);
      expect(series[0]!.metric).to.deep.include({ __name__: 'harness_influx_f', host: 'h1' });
      expect(series[0]!.values).to.deep.equal([3.5]);
      expect(series[0]!.timestamps).to.deep.equal([tsMs]);
    });

    it('stores a Graphite plaintext line sent to the graphite port and exports it', async function () {
      const ts = Math.floor(Date.now() / 1000) - 1;
      await sendTcp(vm.graphitePort, `harness.graphite.sample 5 ${ts}\n`);
      const series = await vm.waitForSeries('{__name__="harness.graphite.sample"}');
      expect(series[0]!.values).to.deep.equal([5]);
      expect(series[0]!.timestamps).to.deep.equal([ts * 1000]);
    });
  });

  describe('InfluxDB', function () {
    let influx: InfluxDBPeer;
    before(async function () {
      await usePeer(this, 'influxdb');
      influx = await group.start('influxdb', starters.influxdb);
    });
    after(async () => influx?.stop());

    it('answers /ping with 204', async function () {
      expect((await fetch(`${influx.url}/ping`)).status).to.equal(204);
    });

    it('creates a database, takes a line and returns it', async function () {
      await influx.createDatabase('harness');
      const tsNs = BigInt(Date.now() - 1_000) * 1_000_000n;
      await influx.write('harness', `cpu,host=h1 value=0.25 ${tsNs}\n`);
      const results = await influx.query('harness', 'SELECT value, host FROM cpu');
      expect(results[0]!.series?.[0]?.columns).to.deep.equal(['time', 'value', 'host']);
      expect(results[0]!.series?.[0]?.values).to.deep.equal([[Number(tsNs), 0.25, 'h1']]);
    });

    it('turns InfluxQL errors into exceptions, including those InfluxDB answers with 200', async function () {
      const failure = (p: Promise<unknown>) =>
        p.then(
          () => undefined,
          (e: unknown) => (e as Error).message,
        );
      expect(await failure(influx.query('harness', 'SELECT * FROM'))).to.match(/influxdb query .*HTTP 400/);
      expect(await failure(influx.query('nosuchdb', 'SELECT value FROM cpu'))).to.match(/database not found: nosuchdb/);
    });
  });

  describe('carbon-cache', function () {
    let carbon: CarbonPeer;
    before(async function () {
      await usePeer(this, 'carbon');
      carbon = await group.start('carbon', starters.carbon);
    });
    after(async () => carbon?.stop());

    it('stores a plaintext line readable by whisper-fetch', async function () {
      const ts = Math.floor(Date.now() / 1000) - 1;
      await carbon.send(`metricport.harness.sample 42 ${ts}\n`);
      let points: { timestamp: number; value: number }[] = [];
      await waitFor(
        async () => {
          points = await carbon.fetchWhisper('metricport.harness.sample', ts - 60);
          return points.length > 0;
        },
        { timeoutMs: 15_000, intervalMs: 200, what: 'whisper file metricport/harness/sample.wsp with a point' },
      );
      expect(points).to.deep.equal([{ timestamp: ts, value: 42 }]);
    });
  });

  describe('NATS (JetStream)', function () {
    let nats: NatsPeer;
    before(async function () {
      await usePeer(this, 'nats');
      nats = await group.start('nats', starters.nats);
    });
    after(async () => nats?.stop());

    it('is healthy with JetStream enabled', async function () {
      const res = await fetch(`${nats.monitorUrl}/healthz?js-enabled-only=true`);
      expect(await res.json()).to.deep.equal({ status: 'ok' });
    });

    it('stores a message in a JetStream stream and returns it', async function () {
      const conn = await RawNats.connect(nats.port);
      try {
        const created = JSON.parse(
          await conn.request('$JS.API.STREAM.CREATE.HARNESS', JSON.stringify({ name: 'HARNESS', subjects: ['harness.>'], storage: 'file' })),
        ) as { error?: unknown; config?: { name: string } };
        expect(created.error).to.equal(undefined);
        expect(created.config?.name).to.equal('HARNESS');
        const ack = JSON.parse(await conn.request('harness.cpu', 'cpu 0.5')) as { stream: string; seq: number };
        expect(ack).to.deep.include({ stream: 'HARNESS', seq: 1 });
        const got = JSON.parse(await conn.request('$JS.API.STREAM.MSG.GET.HARNESS', JSON.stringify({ seq: 1 }))) as {
          message: { subject: string; data: string };
        };
        expect(got.message.subject).to.equal('harness.cpu');
        expect(Buffer.from(got.message.data, 'base64').toString()).to.equal('cpu 0.5');
      } finally {
        conn.close();
      }
      const jsz = (await (await fetch(`${nats.monitorUrl}/jsz`)).json()) as { streams: number; messages: number };
      expect(jsz).to.deep.include({ streams: 1, messages: 1 });
    });
  });

  describe('collectd (statsd plugin)', function () {
    it('counts StatsD counters into its csv output, with the UDP receive buffer asked for', async function () {
      await usePeer(this, 'collectd');
      const want = 256 * 1024;
      const cd = await startCollectd({ receiveBufferBytes: want });
      const sock = dgram.createSocket('udp4');
      try {
        // the shim's setsockopt, as the kernel reports it (doubled, capped at net.core.rmem_max)
        const rmemMax = Number(fs.readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
        expect(await udpReceiveBuffer(cd.port)).to.equal(2 * Math.min(want, rmemMax));
        for (let i = 0; i < 10; i++) {
          await new Promise<void>((r) => sock.send('harness.a:1|c\nharness.b:2|c\nharness.t:5|ms', cd.port, '127.0.0.1', () => r()));
        }
        let got = new Map<string, number>();
        await waitFor(
          () => {
            got = cd.counters('harness.');
            return got.get('harness.a') === 10 && got.get('harness.b') === 20;
          },
          { timeoutMs: 15_000, intervalMs: 200, what: 'collectd csv derive-harness.a = 10 and derive-harness.b = 20' },
        );
        expect([...got.entries()].sort()).to.deep.equal([
          ['harness.a', 10],
          ['harness.b', 20],
        ]);
      } finally {
        sock.close();
        await cd.stop();
      }
    });
  });

  it('.ci/install-peers.sh installs exactly ALL_PEER_PACKAGES and checks their binaries', function () {
    const sh = fs.readFileSync(`${packageRoot()}/.ci/install-peers.sh`, 'utf8');
    const list = (name: string) => (new RegExp(`^${name}=\\((.*)\\)$`, 'm').exec(sh)?.[1] ?? '').split(/\s+/).filter(Boolean).sort();
    expect(list('packages')).to.deep.equal([...ALL_PEER_PACKAGES].sort());
    const bins = list('binaries');
    for (const deb of ALL_PEER_PACKAGES) {
      for (const b of PACKAGE_BINARIES[deb]!.filter((x) => x !== 'createdb')) expect(bins, `${deb}: ${b}`).to.include(b);
    }
  });

  describe('PostgreSQL', function () {
    let own: PostgresPeer;
    before(async function () {
      await usePeer(this, 'postgres');
      own = await group.start('postgres', starters.postgres);
    });
    after(async () => own?.stop());

    it('starts its own cluster (database test) and round-trips a row', async function () {
      expect(own.shared).to.equal(false);
      expect(own.port).to.not.equal(5432);
      const out = await own.psql('CREATE TABLE t (v double precision); INSERT INTO t VALUES (7.5); SELECT v FROM t;');
      expect(out.trim().split('\n').pop()).to.equal('7.5');
    });

    it('starts its own cluster even when the machine pre-starts one on 5432', async function () {
      const pg = await startPostgres();
      try {
        expect((await pg.psql('SELECT 1+1')).trim()).to.equal('2');
        expect(pg.database).to.equal('test');
        expect(pg.shared).to.equal(false);
        expect(pg.port).to.not.equal(5432);
      } finally {
        await pg.stop();
      }
    });
  });
});

/** Just enough of the NATS client protocol for request/reply (no npm dependency). */
class RawNats {
  private buf = Buffer.alloc(0);
  private readonly inbox = `_INBOX.${Math.random().toString(36).slice(2)}`;
  private next = 0;
  private readonly waiting = new Map<string, { resolve: (payload: string) => void; reject: (err: Error) => void }>();

  private constructor(private readonly sock: net.Socket) {
    sock.on('data', (d: Buffer) => this.onData(d));
  }

  static async connect(port: number): Promise<RawNats> {
    const sock = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => sock.once('connect', resolve).once('error', reject));
    const conn = new RawNats(sock);
    sock.write(`CONNECT {"verbose":false,"pedantic":false,"headers":false}\r\nSUB ${conn.inbox}.* 1\r\n`);
    await conn.ping();
    return conn;
  }

  private pong: (() => void) | undefined;

  private ping(): Promise<void> {
    return new Promise((resolve) => {
      this.pong = resolve;
      this.sock.write('PING\r\n');
    });
  }

  request(subject: string, payload: string, timeoutMs = 5_000): Promise<string> {
    const reply = `${this.inbox}.${++this.next}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(reply);
        reject(new Error(`NATS request ${subject}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(reply, {
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      this.sock.write(`PUB ${subject} ${reply} ${Buffer.byteLength(payload)}\r\n${payload}\r\n`);
    });
  }

  close(): void {
    this.sock.destroy();
  }

  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const eol = this.buf.indexOf('\r\n');
      if (eol < 0) return;
      const line = this.buf.subarray(0, eol).toString();
      if (line.startsWith('MSG ')) {
        const parts = line.split(' ');
        const size = Number(parts[parts.length - 1]);
        if (this.buf.length < eol + 2 + size + 2) return;
        const payload = this.buf.subarray(eol + 2, eol + 2 + size).toString();
        this.buf = this.buf.subarray(eol + 2 + size + 2);
        this.waiting.get(parts[1]!)?.resolve(payload);
        this.waiting.delete(parts[1]!);
        continue;
      }
      this.buf = this.buf.subarray(eol + 2);
      if (line === 'PING') this.sock.write('PONG\r\n');
      else if (line === 'PONG') this.pong?.();
      else if (line.startsWith('-ERR')) {
        for (const w of this.waiting.values()) w.reject(new Error(`NATS: ${line}`));
        this.waiting.clear();
      }
    }
  }
}
