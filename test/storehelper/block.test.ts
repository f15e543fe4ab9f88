/**
 * `drop_policy: block` with the memory queue: points already acknowledged
 * are never dropped when the queue is full at flush time; the flush waits for
 * room (receivers are refused with 503 meanwhile).
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInflux } from '../../exporters/influxdb/exporter.js';
import { RefusedError } from '../../src/errors.js';
import { host, settings } from '../exporterhelper/fakes.js';
import { freePort, waitFor } from '../harness/ports.js';
import { batch, influxCfg, num, sum } from './util.js';

describe('storehelper: block with the memory queue loses no acknowledged point', function () {
  this.timeout(30_000);
  let server: Server | undefined;
  after(() => {
    server?.close();
  });

  it('a flush into a full queue waits for room; every accepted point arrives', async () => {
    const T = 1700000000000;
    let clock = T + 100;
    const port = await freePort();
    const set = settings('block');
    const ex = createInflux(
      set,
      influxCfg(`http://127.0.0.1:${port}`, {
        period: 1000,
        lateness: 200,
        compression: 'none',
        retry_on_failure: { enabled: true, initial_interval: 50, max_interval: 100, max_elapsed_time: 0, multiplier: 1.5, randomization_factor: 0 },
        sending_queue: { enabled: true, num_consumers: 1, queue_size: 1, sizer: 'requests', drop_policy: 'block' },
      }),
      { now: () => clock },
    );
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
    await ex.consume(point('d', T + 2260)).catch((e) => {
      refused = e;
    });
    expect(refused, 'a full block queue refuses new data').to.be.instanceOf(RefusedError);
    clock = T + 3250;
    const f3 = ex.flushNow(); // c's window: the queue is full → the flush waits for room (it used to drop c)
    const lines: string[] = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        lines.push(...body.split('\n').filter(Boolean));
        res.writeHead(204);
        res.end();
      });
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
    await f3;
    await waitFor(() => lines.length >= 3, { timeoutMs: 15_000, what: 'a, b and c at the store' });
    expect(lines.map((l) => l.split(' ')[0])).to.deep.equal(['a', 'b', 'c']);
    const st = ex.status() as unknown as { dropped: Record<string, number> };
    expect(st.dropped).to.deep.equal({});
    await ex.shutdown(AbortSignal.timeout(5000));
  });
});

describe('storehelper: block with the disk queue holds at most max_size plus one flush', function () {
  this.timeout(30_000);
  const T = 1700000000000;
  const MAX = 1024;
  let dir: string;
  let server: Server | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mp-block-disk-'));
  });
  afterEach(async () => {
    if (server !== undefined) await new Promise((r) => server!.close(r));
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  function store(port: number, clock: { t: number }) {
    const set = { ...settings('block-disk'), stateDir: dir };
    const ex = createInflux(
      set,
      influxCfg(`http://127.0.0.1:${port}`, {
        period: 1000,
        lateness: 200,
        compression: 'none',
        retry_on_failure: { enabled: true, initial_interval: 50, max_interval: 100, max_elapsed_time: 0, multiplier: 1.5, randomization_factor: 0 },
        sending_queue: { enabled: true, num_consumers: 1, queue_size: 1000, sizer: 'requests', drop_policy: 'block', storage: 'disk', max_size: MAX },
      }),
      { now: () => clock.t },
    );
    return { set, ex };
  }
  /** n series of one window: about 40 bytes each in line protocol */
  const window = (prefix: string, at: number, n = 16) =>
    batch([
      sum(
        prefix,
        Array.from({ length: n }, (_, i) => num(BigInt(at) * 1_000_000n, 1n, { i: `${i}`.padStart(2, '0') })),
      ),
    ]);
  const qbytes = (ex: ReturnType<typeof store>['ex']) => (ex.status() as { queue_bytes: number }).queue_bytes;
  const waiting = (ex: ReturnType<typeof store>['ex']) => (ex.status() as { flush_waiting_for_room?: boolean }).flush_waiting_for_room === true;
  function sink(port: number, lines: string[]): Promise<void> {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        lines.push(...body.split('\n').filter(Boolean));
        res.writeHead(204);
        res.end();
      });
    });
    return new Promise<void>((r) => server!.listen(port, '127.0.0.1', () => r()));
  }
  const names = (lines: string[]) => [...new Set(lines.map((l) => l.split(',')[0]))].sort();

  /** a (window 0) queued below max_size; b (window 1) fills it; c (window 2, taken in before it filled) must wait */
  async function fill(port: number, clock: { t: number }) {
    const { set, ex } = store(port, clock);
    await ex.start(host(set));
    clock.t = T + 100;
    await ex.consume(window('a', T + 100));
    clock.t = T + 1100;
    await ex.consume(window('b', T + 1100));
    await ex.consume(window('c', T + 2050)); // the next window, taken in while the queue has room
    clock.t = T + 1250;
    await ex.flushNow(); // a → the queue (the store is down: it stays there)
    const afterA = qbytes(ex);
    expect(afterA, 'a alone is below max_size').to.be.greaterThan(0).and.lessThan(MAX);
    clock.t = T + 2250;
    await ex.flushNow(); // b → the queue, queued because the queue was below max_size: now full
    const afterB = qbytes(ex);
    expect(afterB, 'a + b reach max_size').to.be.at.least(MAX);
    let refused: unknown;
    await ex.consume(window('d', T + 2260)).catch((e) => {
      refused = e;
    });
    expect(refused).to.be.instanceOf(RefusedError);
    clock.t = T + 3250;
    const f3 = ex.flushNow(); // c's window: the queue is full → waits for room (it was queued: a third flush over the bound)
    await waitFor(() => waiting(ex), { timeoutMs: 5_000, what: 'the flush of c to wait for room' });
    // the exact bound: a flush is queued only while the queue is below max_size, so it holds at most max_size + one flush (b)
    expect(qbytes(ex)).to.equal(afterB);
    expect(afterB - (afterB - afterA)).to.be.lessThan(MAX);
    return { set, ex, f3 };
  }

  it('a flush into the full queue waits for room; then every acknowledged point arrives, nothing dropped', async () => {
    const port = await freePort();
    const clock = { t: T };
    const { ex, f3 } = await fill(port, clock);
    const lines: string[] = [];
    await sink(port, lines);
    await f3;
    await waitFor(() => lines.length >= 48, { timeoutMs: 15_000, what: 'a, b and c at the store' }).catch((e: Error) => {
      throw new Error(`${e.message}: ${lines.length} lines (${names(lines).join(',')}); status ${JSON.stringify(ex.status())}`);
    });
    expect(names(lines)).to.deep.equal(['a', 'b', 'c']);
    expect(lines).to.have.length(48);
    expect(waiting(ex)).to.equal(false);
    expect((ex.status() as { dropped: Record<string, number> }).dropped).to.deep.equal({});
    await ex.shutdown(AbortSignal.timeout(5000));
  });

  it('shutdown while a flush waits: its points stay in the write-ahead log and arrive after a restart', async () => {
    const port = await freePort();
    const clock = { t: T };
    const { ex, f3 } = await fill(port, clock);
    await ex.shutdown(AbortSignal.timeout(1000)); // the store is still down
    await f3;
    expect(ex.status()).to.deep.include({ dropped: {}, points_kept_in_log: 16 });
    const lines: string[] = [];
    await sink(port, lines);
    clock.t = T + 3300;
    const again = store(port, clock);
    await again.ex.start(host(again.set)); // a and b from the queue, c replayed from the log
    await again.ex.flushNow(true);
    await waitFor(() => lines.length >= 48, { timeoutMs: 15_000, what: 'a, b and c at the store after the restart' }).catch((e: Error) => {
      throw new Error(`${e.message}: ${lines.length} lines (${names(lines).join(',')}); status ${JSON.stringify(again.ex.status())}`);
    });
    expect(names(lines)).to.deep.equal(['a', 'b', 'c']);
    expect(lines).to.have.length(48);
    await again.ex.shutdown(AbortSignal.timeout(5000));
  });
});
