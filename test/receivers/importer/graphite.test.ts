/**
 * The importer against graphite-web's render API over a real carbon-cache:
 * from/until in epoch seconds, aliasByNode target → app.version, exact values
 * and times; nothing imported twice across runs.
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { startCarbon, usePeer, type CarbonPeer } from '../../harness/peers.js';
import { startGraphiteWeb, type GraphiteWebPeer } from '../../harness/graphite-web.js';
import { waitFor } from '../../harness/ports.js';
import { newReceiver, readWatermark, Recorder, tempDir } from './helpers.js';

describe('importer receiver: graphite-web render API over carbon (real servers)', function () {
  this.timeout(90_000);
  let carbon: CarbonPeer;
  let gw: GraphiteWebPeer;
  const dirs: string[] = [];
  let t0s: number;

  before(async function () {
    await usePeer(this, 'graphite-web');
    carbon = await startCarbon({ retentions: '10s:1h' });
    gw = await startGraphiteWeb(carbon);
    // sessions every 10 s for the last 5 minutes, two versions
    t0s = Math.floor(Date.now() / 10_000) * 10 - 300;
    let lines = '';
    for (let i = 0; i < 30; i++) {
      lines += `game.sessions.v3_16_2 ${i + 1} ${t0s + i * 10}\n`;
      lines += `game.sessions.v3_16_4 ${100 + i} ${t0s + i * 10}\n`;
    }
    await carbon.send(lines);
    await waitFor(
      async () => (await gw.render('game.sessions.*', t0s - 1, t0s + 300)).reduce((n, s) => n + s.datapoints.filter((d) => d[0] !== null).length, 0) === 60,
      { timeoutMs: 30_000, intervalMs: 250, what: 'carbon data visible through graphite-web' },
    );
  });
  after(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await gw?.stop();
    await carbon?.stop();
  });

  it('aliasByNode(game.sessions.*, 2) → app.version: every datapoint once at its own time, exact sums; test query shows the render URL', async () => {
    const state = tempDir();
    dirs.push(state);
    const rec = new Recorder();
    const t0 = Date.now();
    const r = newReceiver(
      {
        source: 'graphite',
        endpoint: gw.url,
        importers: [
          {
            name: 'g',
            query: 'aliasByNode(game.sessions.*, 2)',
            attributes: { target: 'app.version' },
            metric: { name: 'sessions_started', kind: 'delta_sum' },
            metric_group: 'Sessions Started',
            history: '10m',
            chunk: '2m',
            period: '1s',
          },
        ],
      },
      state,
      rec,
    );
    const preview = (await r.testQuery('g', { sinceMs: 3_600_000, limit: 1 }))!;
    expect(preview.errors).to.deep.equal([]);
    expect(preview.request).to.deep.equal({
      render: `${gw.url}/render?${new URLSearchParams({ target: 'aliasByNode(game.sessions.*, 2)', from: String(Date.parse(preview.from) / 1000 - 1), until: String(Date.parse(preview.to) / 1000 - 1), format: 'json' })}`,
    });
    expect(preview.points).to.equal(60);
    try {
      await r.start();
      await waitFor(() => (r.state('g')!.watermark ?? 0) >= t0 && r.state('g')!.phase === 'waiting', {
        timeoutMs: 30_000,
        what: 'graphite importer caught up',
      });
    } finally {
      await r.shutdown(AbortSignal.timeout(5000));
    }
    for (const [v, f] of [
      ['v3_16_2', (i: number) => i + 1],
      ['v3_16_4', (i: number) => 100 + i],
    ] as const) {
      const got = rec.rows
        .filter((x) => x.attributes['app.version'] === v)
        .map((x) => [x.timeMs / 1000, x.value])
        .sort((a, b) => a[0]! - b[0]!);
      expect(got, v).to.deep.equal(Array.from({ length: 30 }, (_, i) => [t0s + i * 10, f(i)]));
    }
    expect(rec.rows.length).to.equal(60);
    expect(readWatermark(state, 'g')).to.equal(r.state('g')!.watermark);
  });
});
