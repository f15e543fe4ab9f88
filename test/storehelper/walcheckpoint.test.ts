/**
 * A write-ahead-log checkpoint whose commit fails (injected inside its
 * transaction, as a failing LMDB write would) is counted on /metrics, shown
 * in status, logged rate-limited, and retried by the next checkpoint: the
 * log is trimmed once one succeeds.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInflux } from '../../exporters/influxdb/exporter.js';
import { ServiceTelemetry } from '../../src/telemetry.js';
import { host, RecordingLogger } from '../exporterhelper/fakes.js';
import { freePort, waitFor } from '../harness/ports.js';
import { batch, gauge, influxCfg, num, sum } from './util.js';

const T = 1700000000000;

async function scrape(tel: ServiceTelemetry): Promise<string> {
  return tel.render();
}

describe('storehelper: failed write-ahead-log checkpoints are counted, logged and shown', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mp-walcp-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  async function store(failures: { left: number }, clock: { t: number }, port?: number) {
    const telemetry = new ServiceTelemetry();
    const logger = new RecordingLogger();
    const set = { id: 'influxdb/wal', logger, telemetry, stateDir: dir };
    const ex = createInflux(
      set,
      influxCfg(`http://127.0.0.1:${port ?? (await freePort())}`, {
        period: 1000,
        lateness: 200,
        compression: 'none',
        sending_queue: { enabled: true, num_consumers: 1, queue_size: 1000, sizer: 'requests', drop_policy: 'refuse', storage: 'disk', max_size: 1 << 20 },
      }),
      {
        now: () => clock.t,
        checkpointFault: () => {
          if (failures.left > 0) {
            failures.left--;
            throw new Error('injected: MDB_MAP_FULL: Environment mapsize limit reached');
          }
        },
      },
    );
    await ex.start(host(set));
    return { ex, telemetry, logger };
  }
  const st = (ex: { status(): Record<string, unknown> }) =>
    ex.status() as { wal_checkpoint_failures: number; wal_last_checkpoint_error: string | null; wal_entries: number; dropped: Record<string, number> };
  const warnings = (logger: RecordingLogger) => logger.lines.filter((l) => l.level === 'warn' && /checkpoint/.test(l.msg ?? ''));

  it('a checkpoint committed on its own: counted, in status and on /metrics, one log line per interval with the suppressed count; the next one trims the log', async () => {
    const failures = { left: 0 };
    const clock = { t: T + 2500 };
    const { ex, telemetry, logger } = await store(failures, clock);
    await ex.flushNow(); // windows below 2 closed
    // a point for a closed window: dropped as stale, but logged before the receiver is answered
    await ex.consume(batch([gauge('g', [num(BigInt(T + 100) * 1_000_000n, 1)])]));
    expect(st(ex).wal_entries).to.equal(1);
    failures.left = 3;
    for (const t of [T + 3500, T + 4500, T + 5500]) {
      clock.t = t;
      await ex.flushNow();
    } // nothing to queue: the checkpoint commits alone, and fails
    expect(st(ex)).to.include({
      wal_checkpoint_failures: 3,
      wal_last_checkpoint_error: 'injected: MDB_MAP_FULL: Environment mapsize limit reached',
      wal_entries: 1,
    });
    expect(await scrape(telemetry)).to.match(/^metricport_store_wal_checkpoint_failures(_total)?\{exporter="influxdb\/wal",adapter="influxdb"\} 3$/m);
    let w = warnings(logger);
    expect(w).to.have.length(1);
    expect(w[0]!.obj).to.include({ exporter: 'influxdb/wal', failures: 1, error: 'injected: MDB_MAP_FULL: Environment mapsize limit reached' });
    failures.left = 1;
    clock.t = T + 5500 + 60_000; // a minute later: the next line carries the two not logged
    await ex.flushNow();
    w = warnings(logger);
    expect(w).to.have.length(2);
    expect(w[1]!.obj).to.include({ failures: 4, suppressed: 2 });
    clock.t += 1000;
    await ex.flushNow(); // succeeds: the stale entry is retired now
    expect(st(ex)).to.include({ wal_checkpoint_failures: 4, wal_entries: 0 });
    await ex.shutdown(AbortSignal.timeout(2000));
  });

  it('the checkpoint that commits with a queued job fails: the job is still queued and sent, the failure counted and logged, the log trimmed by the next checkpoint', async () => {
    const lines: string[] = [];
    const port = await freePort();
    const sink: Server = createServer((req, res) => {
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
    await new Promise<void>((r) => sink.listen(port, '127.0.0.1', () => r()));
    try {
      const failures = { left: 0 };
      const clock = { t: T + 100 };
      const { ex, logger } = await store(failures, clock, port);
      await ex.consume(batch([sum('s', [num(BigInt(T + 100) * 1_000_000n, 5n)])]));
      failures.left = 1; // the checkpoint in the job's transaction
      clock.t = T + 1250;
      await ex.flushNow();
      expect(st(ex)).to.deep.include({ wal_checkpoint_failures: 1, dropped: {}, wal_entries: 1 });
      expect(ex.status()).to.include({ points_queued: 1 });
      expect(warnings(logger)).to.have.length(1);
      await waitFor(() => lines.length === 1, { timeoutMs: 10_000, what: 'the point at the store' });
      expect(lines).to.deep.equal(['s value=5i 1700000001000000000']);
      clock.t = T + 2250;
      await ex.flushNow(); // nothing to queue; this checkpoint commits and trims the log
      expect(st(ex)).to.include({ wal_entries: 0, wal_checkpoint_failures: 1 });
      await ex.shutdown(AbortSignal.timeout(2000));
      expect(ex.status()).to.include({ queue_bytes: 0, points_sent: 1 });
    } finally {
      await new Promise((r) => sink.close(r));
    }
  });
});
