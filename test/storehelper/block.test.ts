/**
 * `drop_policy: block` with the memory queue: points already acknowledged
 * are never dropped when the queue is full at flush time; the flush waits for
 * room (receivers are refused with 503 meanwhile).
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import { createInflux } from '../../exporters/influxdb/exporter.js';
import { RefusedError } from '../../src/errors.js';
import { host, settings } from '../exporterhelper/fakes.js';
import { freePort, waitFor } from '../harness/ports.js';
import { batch, influxCfg, num, sum } from './util.js';

describe('storehelper: block with the memory queue loses no acknowledged point', function () {
  this.timeout(30_000);
  let server: Server | undefined;
  after(() => { server?.close(); });

  it('a flush into a full queue waits for room; every accepted point arrives', async () => {
    const T = 1700000000000;
    let clock = T + 100;
    const port = await freePort();
    const set = settings('block');
    const ex = createInflux(set, influxCfg(`http://127.0.0.1:${port}`, {
      period: 1000, lateness: 200, compression: 'none',
      retry_on_failure: { enabled: true, initial_interval: 50, max_interval: 100, max_elapsed_time: 0, multiplier: 1.5, randomization_factor: 0 },
      sending_queue: { enabled: true, num_consumers: 1, queue_size: 1, sizer: 'requests', drop_policy: 'block' },
    }), { now: () => clock });
    await ex.start(host(set));
    const point = (name: string, at: number) => batch([sum(name, [num(BigInt(at) * 1_000_000n, 1n)])]);
    await ex.consume(point('a', T + 100));
    clock = T + 1250;
    await ex.flushNow(); // a → the queue; the store is down: the consumer keeps retrying it
    clock = T + 1300;
    await ex.consume(point('b', T + 1100)); // late but within lateness: acknowledged
    clock = T + 2100;
    await ex.consume(point('c', T + 2100)); // acknowledged
    clock = T + 2250;
    await ex.flushNow(); // b → the queue, which is now full
    let refused: unknown;
    await ex.consume(point('d', T + 2260)).catch((e) => { refused = e; });
    expect(refused, 'a full block queue refuses new data').to.be.instanceOf(RefusedError);
    clock = T + 3250;
    const f3 = ex.flushNow(); // c's window: the queue is full → the flush waits for room (it used to drop c)
    const lines: string[] = [];
    server = createServer((req, res) => { let body = ''; req.on('data', (d) => { body += d; }); req.on('end', () => { lines.push(...body.split('\n').filter(Boolean)); res.writeHead(204); res.end(); }); });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
    await f3;
    await waitFor(() => lines.length >= 3, { timeoutMs: 15_000, what: 'a, b and c at the store' });
    expect(lines.map((l) => l.split(' ')[0])).to.deep.equal(['a', 'b', 'c']);
    const st = ex.status() as unknown as { dropped: Record<string, number> };
    expect(st.dropped).to.deep.equal({});
    await ex.shutdown(AbortSignal.timeout(5000));
  });
});
