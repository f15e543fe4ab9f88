/** graphite exporter against a real carbon-cache (tagged and untagged) and VictoriaMetrics' Graphite listener. */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { createGraphite } from '../../../exporters/graphite/exporter.js';
import { startCarbon, startVictoriaMetrics, usePeer, type CarbonPeer, type VictoriaMetricsPeer } from '../../harness/peers.js';
import { waitFor } from '../../harness/ports.js';
import { host, never, settings } from '../../exporterhelper/fakes.js';
import { S, batch, gauge, graphiteCfg, num, sum } from '../../storehelper/util.js';

/** carbon's storage path of a tagged series (carbon/util.py TaggedSeries.encode; carbon 1.1.7 stores by hash only, TAG_HASH_FILENAMES) */
export function taggedPath(metric: string): string {
  const h = createHash('sha256').update(metric, 'utf8').digest('hex');
  return `_tagged.${h.slice(0, 3)}.${h.slice(3, 6)}.${h}`;
}

describe('graphite exporter → real carbon-cache', function () {
  this.timeout(60_000);
  let carbon: CarbonPeer;
  before(async function () {
    await usePeer(this, 'carbon');
    carbon = await startCarbon({ enableTags: true });
  });
  after(async () => {
    await carbon?.stop();
  });

  for (const mode of ['path', 'tags'] as const) {
    it(`${mode === 'tags' ? 'tagged (;k=v)' : 'untagged (path template)'}: whisper-fetch reads back exactly what was sent, at window end`, async () => {
      const set = settings(`graphite/${mode}`);
      const ex = createGraphite(set, graphiteCfg(carbon.linePort, { prefix: `mp${mode}`, tag_mode: mode }));
      await ex.start(host(set));
      const nowS = Math.floor(Date.now() / 1000);
      const t = BigInt(nowS) * S + 200_000_000n;
      await ex.consume(batch([sum('req', [num(t, 40n, { route: 'a' }), num(t + 1n, 2n, { route: 'a' })]), gauge('temp', [num(t, 21.5, { room: 'x y' })])]));
      await ex.shutdown(never());
      const end = nowS + 1;
      const paths = mode === 'tags' ? [taggedPath(`mptags.req;route=a`), taggedPath(`mptags.temp;room=x_y`)] : ['mppath.req.route.a', 'mppath.temp.room.x_y'];
      const got: Record<string, unknown> = {};
      await waitFor(
        async () => {
          for (const p of paths) got[p] = await carbon.fetchWhisper(p, end - 60);
          return paths.every((p) => (got[p] as unknown[]).length > 0);
        },
        { timeoutMs: 20_000, what: `whisper files ${paths.join(', ')}` },
      );
      expect(got).to.deep.equal({ [paths[0]!]: [{ timestamp: end, value: 42 }], [paths[1]!]: [{ timestamp: end, value: 21.5 }] });
      expect(ex.status()).to.deep.include({ adapter: 'graphite', points_sent: 2, points_dropped: 0 });
    });
  }
});

describe('graphite exporter → real VictoriaMetrics Graphite listener', function () {
  this.timeout(60_000);
  let vm: VictoriaMetricsPeer;
  before(async function () {
    await usePeer(this, 'victoria-metrics');
    vm = await startVictoriaMetrics();
  });
  after(async () => {
    await vm?.stop();
  });
  it('tagged lines are exported back with the same labels, value and timestamp', async () => {
    const set = settings('graphite/vm');
    const ex = createGraphite(set, graphiteCfg(vm.graphitePort, { prefix: 'vmg' }));
    await ex.start(host(set));
    const nowS = Math.floor(Date.now() / 1000);
    await ex.consume(batch([sum('errors', [num(BigInt(nowS) * S, 7n, { 'error.type': 'TypeError' })])]));
    await ex.shutdown(never());
    const series = await vm.waitForSeries('{__name__="vmg.errors"}');
    expect(series).to.deep.equal([{ metric: { __name__: 'vmg.errors', 'error.type': 'TypeError' }, values: [7], timestamps: [(nowS + 1) * 1000] }]);
  });
});
