/**
 * Failing hard (docs/reliability.md): a push store is unhealthy once data has
 * waited `unhealthy_after_periods` periods (default 3) without one successful
 * send since the first failure, and healthy again at the next success. The
 * store is pointed at a port the test holds with its own HTTP sink, closed
 * for the outage (connections refused) and listened on again afterwards.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import { createInflux } from '../../exporters/influxdb/exporter.js';
import { host, settings } from '../exporterhelper/fakes.js';
import { freePort, waitFor } from '../harness/ports.js';
import { batch, influxCfg, num, sum } from './util.js';

const T = 1700000000000;
const P = 1000;

describe('storehelper: failing hard = no successful send for unhealthy_after_periods periods while data waits', function () {
  this.timeout(30_000);
  let server: Server | undefined;
  const lines: string[] = [];
  /** the store's port answers: 204 (lines kept), or `status` */
  const listen = (port: number, status = 204): Promise<void> => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        if (status === 204) lines.push(...body.split('\n').filter(Boolean));
        res.writeHead(status);
        res.end();
      });
    });
    return new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
  };
  const close = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (s !== undefined) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  };
  afterEach(close);

  function store(port: number, clock: { t: number }, over: Record<string, unknown> = {}) {
    const set = settings('influxdb/health');
    const ex = createInflux(
      set,
      influxCfg(`http://127.0.0.1:${port}`, {
        period: P,
        lateness: 200,
        compression: 'none',
        retry_on_failure: { enabled: true, initial_interval: 20, max_interval: 50, max_elapsed_time: 0, multiplier: 1.5, randomization_factor: 0 },
        ...over,
      }),
      { now: () => clock.t },
    );
    return { set, ex };
  }
  const point = (name: string, at: number) => batch([sum(name, [num(BigInt(at) * 1_000_000n, 1n)])]);
  /** a started store that took point a and flushed it at T + 1250 */
  async function flushedA(port: number, over: Record<string, unknown> = {}) {
    const clock = { t: T + 100 };
    const { set, ex } = store(port, clock, over);
    await ex.start(host(set));
    await ex.consume(point('a', T + 100));
    clock.t = T + 1250;
    await ex.flushNow();
    return { clock, ex };
  }
  const failingSince = (ex: { status(): Record<string, unknown> }) => ex.status().failing_since as string | null;

  it('healthy through a short outage; unhealthy exactly 3 periods after the first refused send; healthy at the next success', async () => {
    const port = await freePort();
    await listen(port);
    const { clock, ex } = await flushedA(port);
    await waitFor(() => lines.length === 1, { timeoutMs: 10_000, what: 'a at the store' });
    expect([ex.healthy(), failingSince(ex)]).to.deep.equal([true, null]);

    await close(); // the store goes away: connections to its port are refused
    await ex.consume(point('b', T + 1300));
    clock.t = T + 2250;
    await ex.flushNow();
    await waitFor(() => failingSince(ex) !== null, { timeoutMs: 10_000, what: 'a refused send' });
    // refused, or reset when the client reused a pooled keep-alive socket the closed server had dropped (seen under load)
    expect(ex.status().last_error).to.match(/ECONNREFUSED|ECONNRESET|socket hang up/);
    expect(failingSince(ex)).to.equal(new Date(T + 2250).toISOString());
    clock.t = T + 2250 + 3 * P - 1;
    expect(ex.healthy(), 'just under 3 periods').to.equal(true);
    clock.t = T + 2250 + 3 * P;
    expect(ex.healthy(), '3 periods without a success while b waits').to.equal(false);

    await listen(port); // back
    await waitFor(() => lines.length === 2, { timeoutMs: 10_000, what: 'b delivered after the outage' });
    await waitFor(() => ex.healthy(), { timeoutMs: 5_000, what: 'healthy after the success' });
    expect(failingSince(ex)).to.equal(null);
    await ex.shutdown(AbortSignal.timeout(5000));
  });

  it('nothing waiting (the failed batch was dropped as permanent): not failing hard however old the failure', async () => {
    const port = await freePort();
    await listen(port, 400);
    const { clock, ex } = await flushedA(port);
    await waitFor(() => (ex.status().dropped as Record<string, number>).permanent === 1, { timeoutMs: 10_000, what: 'a dropped as permanent' });
    expect(failingSince(ex)).to.equal(new Date(T + 1250).toISOString());
    clock.t += 100 * P;
    expect(ex.healthy(), 'nothing waits').to.equal(true);
    await ex.shutdown(AbortSignal.timeout(5000));
  });

  it('unhealthy_after_periods: 0 turns the rule off', async () => {
    const { clock, ex } = await flushedA(await freePort(), { unhealthy_after_periods: 0 });
    await waitFor(() => failingSince(ex) !== null, { timeoutMs: 10_000, what: 'a refused send' });
    clock.t += 100 * P;
    expect(ex.healthy()).to.equal(true);
    await ex.shutdown(AbortSignal.timeout(1000));
  });
});
