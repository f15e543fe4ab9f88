import { expect } from 'chai';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreateSettings, Signal } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import type { HelperExporter } from '../../../src/exporterhelper/exporter.js';
import { decodeMetricsJson } from '../../../src/otlp/json.js';
import { fileExporterFactory } from '../../../exporters/file/factory.js';
import { encodeEventsJson } from '../../../exporters/file/events-json.js';
import { RotatingFileWriter } from '../../../exporters/file/writer.js';
import { host, never, sampleEvents, sampleMetrics, settings } from '../../exporterhelper/fakes.js';

// the registry is lazy: the implementation is imported on first use
await fileExporterFactory.load();

function cfg(input: Record<string, unknown>): any {
  const r = validateSchema(fileExporterFactory.configSchema, input, 'exporters.file');
  expect(r.issues).to.deep.equal([]);
  return r.value;
}

function create(set: CreateSettings, c: any, signal: Signal): HelperExporter<any> {
  return fileExporterFactory.create(set, c, signal) as HelperExporter<any>;
}

async function lines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  expect(text.endsWith('\n')).to.equal(true);
  return text.slice(0, -1).split('\n');
}

describe('exporters/file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mp-file-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('declares its factory contract and defaults', () => {
    expect(fileExporterFactory.kind).to.equal('exporter');
    expect(fileExporterFactory.type).to.equal('file');
    expect(fileExporterFactory.signals).to.deep.equal(['metrics', 'events']);
    expect(cfg({ path: '/tmp/x.jsonl' })).to.deep.equal({
      path: '/tmp/x.jsonl',
      format: 'json',
      rotation: { max_megabytes: 100, max_backups: 3 },
      flush_interval: 1000,
    });
    expect(validateSchema(fileExporterFactory.configSchema, {}, '').issues.map((i) => i.path)).to.deep.equal(['path']);
    expect(fileExporterFactory.validate!(cfg({ path: '/tmp/dir/' })).map((i) => i.path)).to.deep.equal(['path']);
  });

  it('create() touches no file; start creates directories', async () => {
    const path = join(dir, 'a', 'b', 'out.jsonl');
    const set = settings('file');
    const exp = create(set, cfg({ path }), 'metrics');
    expect(await readdir(dir)).to.deep.equal([]);
    await exp.start(host(set));
    expect((await stat(path)).size).to.equal(0);
    await exp.shutdown(never());
  });

  it('writes OTLP JSON lines that decode back to the same batches, in order, nanoseconds exact', async () => {
    const path = join(dir, 'metrics.jsonl');
    const set = settings('file');
    const exp = create(set, cfg({ path, flush_interval: '10ms' }), 'metrics');
    await exp.start(host(set));
    const batches = [sampleMetrics(5, 'a'), sampleMetrics(2, 'b'), sampleMetrics(7, 'c')];
    await Promise.all(batches.map((b) => exp.consume(b)));
    // consume resolved: the lines are in the file already (not only in memory)
    const ls = await lines(path);
    expect(ls).to.have.length(3);
    ls.forEach((line, i) => {
      const d = decodeMetricsJson(line);
      expect(d.rejected).to.equal(0);
      expect(d.errors).to.deep.equal([]);
      expect(d.data).to.deep.equal(batches[i]);
    });
    const c = decodeMetricsJson(ls[0]!).data.resourceMetrics[0]!.scopeMetrics[0]!.metrics[1]!;
    expect(c.points[0]!.timeUnixNano).to.equal(1700000000123456789n);
    expect((c.points[0] as { value: bigint }).value).to.equal(9007199254740993n);
    expect(exp.status()).to.include({ sent: 14, path });
    await exp.shutdown(never());
  });

  it('writes events as one {"events":[…]} line per batch with bigint values as strings', async () => {
    const path = join(dir, 'events.jsonl');
    const set = settings('file');
    const exp = create(set, cfg({ path }), 'events');
    await exp.start(host(set));
    await exp.consume(sampleEvents(2));
    await exp.shutdown(never());
    const ls = await lines(path);
    expect(ls).to.have.length(1);
    expect(JSON.parse(ls[0]!)).to.deep.equal({
      events: [0, 1].map((i) => ({
        timeUnixNano: String(1700000000123456789n + BigInt(i)),
        attributes: {
          'error.type': 'TypeError',
          _tx: String(1000 + i),
          guid: `g${i}`,
          ratio: 0.25,
          nan: 'NaN',
          bytes: 'AQID',
          list: ['x', '1'],
          kv: { a: '1' },
        },
      })),
    });
  });

  it('appends to an existing file', async () => {
    const path = join(dir, 'e.jsonl');
    await writeFile(path, '{"old":true}\n');
    const set = settings('file');
    const exp = create(set, cfg({ path }), 'events');
    await exp.start(host(set));
    await exp.consume(sampleEvents(1));
    await exp.shutdown(never());
    const ls = await lines(path);
    expect(ls[0]).to.equal('{"old":true}');
    expect(ls[1]).to.equal(encodeEventsJson(sampleEvents(1)));
  });

  it('rotates at the size limit: path → path.1 → path.2, oldest deleted', async () => {
    const path = join(dir, 'r.jsonl');
    const event = (i: number): ReturnType<typeof sampleEvents> => {
      const b = sampleEvents(1);
      b.events[0]!.attributes.seq = `${i % 10}`; // one digit: every line has the same length
      return b;
    };
    const line = encodeEventsJson(event(0)) + '\n';
    const perFile = 3;
    const maxBytes = line.length * perFile + 5; // room for 3 lines, not 4
    const set = settings('file');
    const exp = create(set, cfg({ path, rotation: { max_megabytes: maxBytes / (1024 * 1024), max_backups: 2 }, flush_interval: 0 }), 'events');
    await exp.start(host(set));
    const n = 3 * perFile * 2 + 2; // 20 lines: files of 3, the newest holds 2
    for (let i = 0; i < n; i++) await exp.consume(event(i));
    await exp.shutdown(never());
    const files = (await readdir(dir)).sort();
    expect(files).to.deep.equal(['r.jsonl', 'r.jsonl.1', 'r.jsonl.2']);
    const seqs = async (p: string): Promise<string[]> => (await lines(p)).map((l) => JSON.parse(l).events[0].attributes.seq);
    expect(await seqs(path)).to.deep.equal(['8', '9']);
    expect(await seqs(`${path}.1`)).to.deep.equal(['5', '6', '7']);
    expect(await seqs(`${path}.2`)).to.deep.equal(['2', '3', '4']);
    for (const f of files) expect((await stat(join(dir, f))).size).to.be.at.most(maxBytes);
    expect((exp.status().file as { rotations: number }).rotations).to.equal(6);
  });

  it('shutdown flushes every pending write; consume after shutdown is refused', async () => {
    const path = join(dir, 'm.jsonl');
    const set = settings('file');
    const exp = create(set, cfg({ path, flush_interval: '1h' }), 'metrics');
    await exp.start(host(set));
    const pending = Array.from({ length: 50 }, (_, i) => exp.consume(sampleMetrics(3, `t${i}`)));
    const shut = exp.shutdown(never());
    await Promise.all(pending);
    await shut;
    const ls = await lines(path);
    expect(ls).to.have.length(50);
    expect(ls.map((l) => decodeMetricsJson(l).data.resourceMetrics[0]!.resource.attributes['host.id'])).to.deep.equal(
      Array.from({ length: 50 }, (_, i) => `t${i}`),
    );
    let err: unknown;
    try {
      await exp.consume(sampleMetrics(1));
    } catch (e) {
      err = e;
    }
    expect((err as Error).name).to.equal('RefusedError');
  });

  it('shutdown twice and without start', async () => {
    const set = settings('file');
    const exp = create(set, cfg({ path: join(dir, 'never.jsonl') }), 'metrics');
    await exp.shutdown(never());
    await exp.shutdown(never());
    expect(await readdir(dir)).to.deep.equal([]);
    const exp2 = create(set, cfg({ path: join(dir, 'twice.jsonl') }), 'metrics');
    await exp2.start(host(set));
    await exp2.consume(sampleMetrics(2));
    await Promise.all([exp2.shutdown(never()), exp2.shutdown(never())]);
    expect(await lines(join(dir, 'twice.jsonl'))).to.have.length(1);
  });

  it('metrics and events instances of one exporter share the file', async () => {
    const path = join(dir, 'both.jsonl');
    const set = settings('file');
    const c = cfg({ path });
    const m = create(set, c, 'metrics');
    const e = create(set, c, 'events');
    await m.start(host(set));
    await e.start(host(set));
    await m.consume(sampleMetrics(2));
    await e.consume(sampleEvents(1));
    await m.shutdown(never());
    await e.consume(sampleEvents(1)); // the file stays open for the other instance
    await e.shutdown(never());
    const ls = await lines(path);
    expect(ls).to.have.length(3);
    expect(ls.map((l) => Object.keys(JSON.parse(l))[0])).to.deep.equal(['resourceMetrics', 'events', 'events']);
  });

  it('start fails clearly when the path cannot be created', async () => {
    await writeFile(join(dir, 'afile'), 'x');
    const set = settings('file');
    const exp = create(set, cfg({ path: join(dir, 'afile', 'sub', 'x.jsonl') }), 'metrics');
    let err: unknown;
    try {
      await exp.start(host(set));
    } catch (e) {
      err = e;
    }
    expect((err as { code?: string }).code).to.be.oneOf(['ENOTDIR', 'EEXIST']);
    await exp.shutdown(never());
  });

  it('the writer groups concurrent writes and keeps their order', async () => {
    const path = join(dir, 'w.txt');
    const w = new RotatingFileWriter({ path, maxBytes: 0, maxBackups: 0, syncIntervalMs: 0 });
    await w.open();
    await Promise.all(Array.from({ length: 200 }, (_, i) => w.write(Buffer.from(`${i}\n`))));
    await w.close();
    await w.close();
    expect(await lines(path)).to.deep.equal(Array.from({ length: 200 }, (_, i) => String(i)));
  });
});
