/**
 * Checkpoints of the pull stores' running totals (issue 15 item 4): the
 * format round-trips every kind exactly (the restored store renders
 * byte-identical expositions), partitions select and drop by tag, a corrupt
 * buffer is refused whole with its byte offset, and the exporter keeps the
 * file in its state directory across restarts (a corrupt file is reported,
 * set aside and ignored).
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CumulativeStore } from '../../src/pullstore/cumulative.js';
import {
  CHECKPOINT_VERSION,
  CheckpointError,
  decodeCheckpoint,
  dropTags,
  encodeCheckpoint,
  onPullStore,
  pullStores,
  restoreCheckpoint,
} from '../../src/pullstore/checkpoint.js';
import { CHECKPOINT_FILE } from '../../src/pullstore/exporter.js';
import { renderBytes } from '../../exporters/prometheus/exposition.js';
import { prometheusExporterFactory } from '../../exporters/prometheus/factory.js';
import { PromKeyer } from '../../exporters/prometheus/labels.js';
import { validateSchema } from '../../src/config/schema.js';
import { ServiceTelemetry } from '../../src/telemetry.js';
import { freePort } from '../harness/ports.js';
import { RecordingLogger } from '../exporterhelper/fakes.js';
import { feedGolden } from '../exporters/prometheus/golden-input.js';
import { batch, num, parseSamples, sample, sum, SEC, T0 } from '../exporters/prometheus/util.js';

await prometheusExporterFactory.load();
const keyer = new PromKeyer();

describe('pull store checkpoint: format', function () {
  this.timeout(120_000);

  it('every kind round-trips: the restored store renders byte-identical text and OpenMetrics (101,594 seeded series)', () => {
    const clock = { now: 1_700_000_000_000 };
    const a = new CumulativeStore({ maxSeries: 1_000_000, expiryMs: 0, now: () => clock.now });
    feedGolden(a, clock);
    const buf = encodeCheckpoint(a);
    const b = new CumulativeStore({ maxSeries: 1_000_000, expiryMs: 0, now: () => clock.now });
    const rep = restoreCheckpoint(b, buf);
    expect(rep).to.include({ series: a.size, skipped_existing: 0, skipped_cap: 0, skipped_conflict: 0, families: a.families.size });
    expect(b.size).to.equal(a.size);
    expect(renderBytes(b, 'text').equals(renderBytes(a, 'text'))).to.equal(true);
    expect(renderBytes(b, 'openmetrics').equals(renderBytes(a, 'openmetrics'))).to.equal(true);
    // bounded: a few dozen bytes per series beyond its key
    expect(buf.length / a.size).to.be.lessThan(200);
  });

  it('a delta counter continues from the restored total (exact beyond 2^53); _created is kept', () => {
    const a = new CumulativeStore({ expiryMs: 0 });
    a.ingest(batch([sum('orders', [num(9_007_199_254_740_000n, { shop: 'a' }, T0, T0 + SEC), num(5n, { shop: 'b' }, T0, T0 + SEC)])]), keyer);
    const b = new CumulativeStore({ expiryMs: 0 });
    restoreCheckpoint(b, encodeCheckpoint(a));
    b.ingest(batch([sum('orders', [num(1_000n, { shop: 'a' }, T0 + SEC, T0 + 2n * SEC), num(2n, { shop: 'b' }, T0 + SEC, T0 + 2n * SEC)])]), keyer);
    const om = parseSamples(renderBytes(b, 'openmetrics').toString('utf8'));
    expect(sample(om, 'orders_total', { shop: 'a' })!.value).to.equal('9007199254741000');
    expect(sample(om, 'orders_total', { shop: 'b' })!.value).to.equal('7');
    expect(sample(om, 'orders_created', { shop: 'b' })!.value).to.equal('1700000000');
    expect(b.counters.resets).to.equal(0);
  });

  it('partition tags from the resource attribute metricport.partition: select, restore, drop; never rendered', () => {
    const a = new CumulativeStore({ expiryMs: 0 });
    const res = (p: number | string) => ({ 'service.name': 'agg', 'metricport.partition': p, 'deployment.environment': 'prod' });
    a.ingest(batch([sum('hits', [num(3n, { g: 'x' }), num(4n, { g: 'y' })])], res(3)), keyer);
    a.ingest(batch([sum('hits', [num(5n, { g: 'z' })])], res('5')), keyer);
    a.ingest(batch([sum('hits', [num(6n, { g: 'w' })])], { 'service.name': 'agg' }), keyer);
    const text = renderBytes(a, 'text').toString('utf8');
    expect(text).not.to.include('partition');
    expect(text).to.include('target_info{deployment_environment="prod",job="agg"} 1');
    const p3 = decodeCheckpoint(encodeCheckpoint(a, { tags: [3] }));
    const CTX = 'otel_scope_name="lib",otel_scope_version="1.0",job="agg"';
    expect(p3.series.map((s) => [s.key, s.ctx, s.tag])).to.deep.equal([
      ['g="x"', CTX, 3],
      ['g="y"', CTX, 3],
    ]);
    const b = new CumulativeStore({ expiryMs: 0 });
    expect(restoreCheckpoint(b, encodeCheckpoint(a, { tags: [3, 5] })).series).to.equal(3);
    expect(dropTags(a, [3])).to.equal(2);
    expect(
      parseSamples(renderBytes(a, 'text').toString('utf8'))
        .filter((s) => s.name === 'hits_total')
        .map((s) => s.labels.g),
    ).to.deep.equal(['z', 'w']);
    expect(
      decodeCheckpoint(encodeCheckpoint(a, { tags: [0] }))
        .series.filter((s) => s.key.startsWith('g='))
        .map((s) => s.key.slice(0, 5)),
    ).to.deep.equal(['g="w"']);
  });

  it('restore keeps series that already have a point, and stops at max_series', () => {
    const a = new CumulativeStore({ expiryMs: 0 });
    a.ingest(batch([sum('c', [num(10n, { k: '1' }), num(20n, { k: '2' }), num(30n, { k: '3' })])]), keyer);
    const b = new CumulativeStore({ expiryMs: 0, maxSeries: 2 });
    b.ingest(batch([sum('c', [num(1n, { k: '1' })])]), keyer);
    const rep = restoreCheckpoint(b, encodeCheckpoint(a));
    expect(rep).to.include({ series: 1, skipped_existing: 1, skipped_cap: 1 });
    expect(parseSamples(renderBytes(b, 'text').toString('utf8')).map((s) => [s.labels.k, s.value])).to.deep.equal([
      ['1', '1'],
      ['2', '20'],
    ]);
  });

  it('a corrupt, truncated, foreign or newer buffer is refused whole, naming the byte offset; the store is untouched', () => {
    const a = new CumulativeStore({ expiryMs: 0 });
    a.ingest(batch([sum('c', [num(10n, { k: '1' }), num(20n, { k: '2' })])]), keyer);
    const good = encodeCheckpoint(a);
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.concat([good.subarray(0, 40), Buffer.from([good[40]! ^ 0xff]), good.subarray(41)]), /CRC mismatch: trailer at byte \d+/],
      [good.subarray(0, good.length - 9), /CRC mismatch|truncated/],
      [Buffer.from('{"not":"a checkpoint"} and some more bytes'), /magic "\{\\"no" at byte 0, expected "MPCK"/],
      [
        Buffer.concat([good.subarray(0, 4), Buffer.from([CHECKPOINT_VERSION + 1]), good.subarray(5)]),
        /checkpoint version 3 at byte 4 is not supported \(this metricport reads version 2\)/,
      ],
      [Buffer.alloc(3), /shorter than a header/],
    ];
    for (const [buf, re] of cases) {
      const b = new CumulativeStore({ expiryMs: 0 });
      let err: unknown;
      try {
        restoreCheckpoint(b, buf);
      } catch (e) {
        err = e;
      }
      expect(err, String(re)).to.be.instanceOf(CheckpointError);
      expect((err as Error).message).to.match(re);
      expect(b.size).to.equal(0);
    }
  });
});

describe('pull store checkpoint: the prometheus exporter across restarts (state directory)', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mp-ckpt-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function run(port: number, logger = new RecordingLogger(), extra: Record<string, unknown> = {}) {
    const { value: cfg, issues } = validateSchema(prometheusExporterFactory.configSchema, { endpoint: `127.0.0.1:${port}`, ...extra }, 'prometheus');
    expect(issues).to.deep.equal([]);
    const telemetry = new ServiceTelemetry();
    const set = { id: 'prometheus', logger, telemetry, stateDir: join(dir, 'exporter', 'prometheus') };
    const e = prometheusExporterFactory.create(set, cfg as never, 'metrics');
    await e.start({ logger, telemetry, stateDir: dir });
    const status = () =>
      e.status!() as { series: number; checkpoint: { restored: { series: number } | null; corrupt: string | null; writes: number; last_write_series: number } };
    const scrape = async () => {
      const url = (e.status!() as { store: { url: string } }).store.url;
      return parseSamples(await (await fetch(url)).text());
    };
    return { e, status, scrape, telemetry };
  }

  it('shutdown writes the running totals; the next start restores them and counting continues; the store is listed for the cluster side', async () => {
    const port = await freePort();
    const seen: string[] = [];
    const off = onPullStore((id, _s, added) => seen.push(`${added ? '+' : '-'}${id}`));
    try {
      const first = await run(port);
      expect(pullStores().has('prometheus')).to.equal(true);
      await first.e.consume(batch([sum('jobs', [num(40n, { q: 'a' }, T0, T0 + SEC)])]));
      await first.e.shutdown(AbortSignal.timeout(5000));
      expect(pullStores().has('prometheus')).to.equal(false);
      const file = join(dir, 'exporter', 'prometheus', CHECKPOINT_FILE);
      expect(existsSync(file)).to.equal(true);
      expect(first.status().checkpoint).to.include({ writes: 1, last_write_series: 1 });

      const second = await run(port);
      expect(second.status().checkpoint.restored).to.include({ series: 1 });
      expect(sample(await second.scrape(), 'jobs_total', { q: 'a' })!.value).to.equal('40');
      await second.e.consume(batch([sum('jobs', [num(2n, { q: 'a' }, T0 + SEC, T0 + 2n * SEC)])]));
      expect(sample(await second.scrape(), 'jobs_total', { q: 'a' })!.value).to.equal('42');
      await second.e.shutdown(AbortSignal.timeout(5000));
      expect(seen).to.deep.equal(['+prometheus', '-prometheus', '+prometheus', '-prometheus']);
    } finally {
      off();
    }
  });

  it('a corrupt file: a warning naming the file and offset, kept as .corrupt, counted; the store starts empty and writes a good one', async () => {
    const port = await freePort();
    const sdir = join(dir, 'exporter', 'prometheus');
    const first = await run(port);
    await first.e.consume(batch([sum('jobs', [num(40n, { q: 'a' })])]));
    await first.e.shutdown(AbortSignal.timeout(5000));
    const file = join(sdir, CHECKPOINT_FILE);
    const bytes = readFileSync(file);
    bytes.writeUInt8(bytes[bytes.length - 10]! ^ 0x55, bytes.length - 10);
    writeFileSync(file, bytes);
    const logger = new RecordingLogger();
    const second = await run(port, logger);
    const w = logger.lines.find((l) => l.level === 'warn');
    expect(w?.msg).to.match(
      /prometheus store prometheus: the checkpoint of its running totals is unusable \(checkpoint CRC mismatch: trailer at byte \d+ .*\); kept as running-totals\.ckpt\.corrupt; ignored, counters start from zero/,
    );
    expect(w?.obj).to.include({ exporter: 'prometheus', file });
    expect(second.status().series).to.equal(0);
    expect(second.status().checkpoint.corrupt).to.match(/CRC mismatch/);
    expect(existsSync(file + '.corrupt')).to.equal(true);
    expect(await second.telemetry.render()).to.match(/metricport_store_checkpoints(_total)?\{[^}]*op="restore"[^}]*result="corrupt"[^}]*\} 1\n/);
    await second.e.consume(batch([sum('jobs', [num(1n, { q: 'a' })])]));
    await second.e.shutdown(AbortSignal.timeout(5000));
    expect(restoreCheckpoint(new CumulativeStore(), readFileSync(file)).series).to.equal(1);
  });

  it('checkpoint_interval: 0 writes nothing and restores nothing', async () => {
    const port = await freePort();
    const first = await run(port, undefined, { checkpoint_interval: 0 });
    await first.e.consume(batch([sum('jobs', [num(40n, { q: 'a' })])]));
    await first.e.shutdown(AbortSignal.timeout(5000));
    expect(existsSync(join(dir, 'exporter', 'prometheus', CHECKPOINT_FILE))).to.equal(false);
  });
});
