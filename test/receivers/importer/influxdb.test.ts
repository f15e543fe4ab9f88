/**
 * The importer against a real InfluxDB 1.x: InfluxQL with $1/$2 as time
 * literals and GROUP BY time() and a tag (tags become columns), exact sums
 * per version; the test query shows InfluxDB's own parse error.
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { startInfluxDB, usePeer, type InfluxDBPeer } from '../../harness/peers.js';
import { waitFor } from '../../harness/ports.js';
import { newReceiver, readWatermark, Recorder, tempDir } from './helpers.js';

describe('importer receiver: InfluxDB 1.x (real server)', function () {
  this.timeout(60_000);
  let influx: InfluxDBPeer;
  const dirs: string[] = [];
  const HOUR = 3_600_000;
  let hour0: number;

  before(async function () {
    await usePeer(this, 'influxdb');
    influx = await startInfluxDB();
    await influx.createDatabase('game');
    // sessions every 10 minutes for the last 6 whole hours, two versions
    hour0 = Math.floor(Date.now() / HOUR) * HOUR - 6 * HOUR;
    const lines: string[] = [];
    for (let i = 0; i < 36; i++) {
      const t = hour0 + i * 600_000;
      lines.push(`sessions,version=3.16.2 count=${i + 1}i ${t}`);
      lines.push(`sessions,version=3.16.4 count=${2 * i + 1}i ${t}`);
    }
    await influx.write('game', lines.join('\n'), 'ms');
  });
  after(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await influx?.stop();
  });

  it('GROUP BY time(1h), version with align 1h: one point per complete hour and version with the exact hourly sums; watermark stored', async () => {
    const state = tempDir();
    dirs.push(state);
    const rec = new Recorder();
    const t0 = Date.now();
    const r = newReceiver(
      {
        source: 'influxdb',
        endpoint: influx.url,
        database: 'game',
        importers: [
          {
            name: 'hourly',
            query: 'SELECT sum("count") AS sessions FROM "sessions" WHERE time >= $1 AND time < $2 GROUP BY time(1h), "version"',
            value_column: 'sessions',
            attributes: { version: 'app.version' },
            metric: { name: 'sessions_started', kind: 'delta_sum' },
            metric_group: 'Sessions Started',
            history: '8h',
            chunk: '3h',
            align: '1h',
            period: '1s',
          },
        ],
      },
      state,
      rec,
    );
    try {
      await r.start();
      await waitFor(() => (r.state('hourly')!.watermark ?? 0) >= Math.floor(t0 / HOUR) * HOUR && r.state('hourly')!.phase === 'waiting', {
        timeoutMs: 20_000,
        what: 'influx importer caught up',
      }).catch((e: Error) => {
        throw new Error(`${e.message}: ${JSON.stringify(r.status())}`);
      });
    } finally {
      await r.shutdown(AbortSignal.timeout(5000));
    }
    for (const [v, f] of [
      ['3.16.2', (i: number) => i + 1],
      ['3.16.4', (i: number) => 2 * i + 1],
    ] as const) {
      const got = rec.rows.filter((x) => x.attributes['app.version'] === v).sort((a, b) => a.timeMs - b.timeMs);
      const want = Array.from({ length: 6 }, (_, h) => ({ timeMs: hour0 + h * HOUR, value: [0, 1, 2, 3, 4, 5].reduce((s, k) => s + f(h * 6 + k), 0) }));
      expect(
        got.map((x) => ({ timeMs: x.timeMs, value: x.value })),
        v,
      ).to.deep.equal(want);
    }
    // empty GROUP BY buckets (null sums) are skipped, not imported as 0
    expect(rec.rows.length).to.equal(12);
    expect(rec.rows.every((x) => x.scope['metric.group'] === 'Sessions Started')).to.equal(true);
    expect(readWatermark(state, 'hourly')).to.equal(r.state('hourly')!.watermark);
  });

  it("test query: InfluxDB's own parse error; a preview with the bound time literals", async () => {
    const state = tempDir();
    dirs.push(state);
    const r = newReceiver(
      {
        source: 'influxdb',
        endpoint: influx.url,
        database: 'game',
        importers: [
          { name: 'typo', query: 'SELECT sum("count") FORM "sessions" WHERE time >= $1 AND time < $2', value_column: 'sum', metric: { name: 's' } },
          {
            name: 'raw',
            query: 'SELECT "count", "version" FROM "sessions" WHERE time >= $1 AND time < $2',
            value_column: 'count',
            attributes: { version: 'app.version' },
            metric: { name: 's' },
            history: '1h',
          },
        ],
      },
      state,
      new Recorder(),
    );
    const typo = (await r.testQuery('typo'))!;
    expect(typo.ok).to.equal(false);
    expect(typo.errors).to.have.length(1);
    expect(typo.errors[0]).to.match(/^the source refused the query: error parsing query: found FORM, expected FROM/);
    const raw = (await r.testQuery('raw', { sinceMs: 7 * HOUR, limit: 3 }))!;
    expect(raw.errors).to.deep.equal([]);
    expect(raw.request).to.deep.equal({ db: 'game', influxql: `SELECT "count", "version" FROM "sessions" WHERE time >= '${raw.from}' AND time < '${raw.to}'` });
    expect(raw.rows).to.equal(72);
    expect(raw.preview!.slice(0, 2)).to.deep.equal([
      { metric: 's', kind: 'gauge', time: new Date(hour0).toISOString(), value: 1, attributes: { 'app.version': '3.16.2' } },
      { metric: 's', kind: 'gauge', time: new Date(hour0).toISOString(), value: 1, attributes: { 'app.version': '3.16.4' } },
    ]);
    expect(readWatermark(state, 'raw')).to.equal(undefined);
    await r.shutdown(AbortSignal.timeout(5000));
  });
});
