import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { CumulativeStore } from '../../../src/pullstore/cumulative.js';
import { render } from '../../../exporters/prometheus/exposition.js';
import { prometheusExporterFactory } from '../../../exporters/prometheus/factory.js';
import { PromKeyer } from '../../../exporters/prometheus/labels.js';
import { validateSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/logger.js';
import type { NumberDataPoint } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { freePort, waitFor } from '../../harness/ports.js';
import { captureLogger } from '../../helpers/logs.js';
import { batch, gauge, num, parseSamples, sum } from './util.js';

// the registry is lazy: the implementation is imported on first use
await prometheusExporterFactory.load();

describe('prometheus store: token and credentials survive a restart', function () {
  this.timeout(30_000);
  const dir = mkdtempSync(join(tmpdir(), 'mp-prom-restart-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('the same URL and password after a restart; the old URL keeps working', async () => {
    const port = await freePort();
    const { value: cfg, issues } = validateSchema(
      prometheusExporterFactory.configSchema,
      { endpoint: `127.0.0.1:${port}`, basic_auth: { enabled: true } },
      'prometheus',
    );
    expect(issues).to.deep.equal([]);
    const telemetry = new ServiceTelemetry();
    const host = { logger: silentLogger(), telemetry, stateDir: dir };
    const set = { id: 'prometheus', logger: silentLogger(), telemetry, stateDir: join(dir, 'exporter', 'prometheus') };
    const run = async () => {
      const e = prometheusExporterFactory.create(set, cfg as never, 'metrics');
      await e.start(host);
      await e.consume(batch([gauge('up.ness', [num(1)])]));
      const url = (e.status!() as { store: { url: string } }).store.url;
      return { e, url };
    };
    const a = await run();
    const creds1 = readFileSync(join(set.stateDir, 'credentials.json'), 'utf8');
    const { username, password } = JSON.parse(creds1) as { username: string; password: string };
    await a.e.shutdown(AbortSignal.timeout(5000));
    await a.e.shutdown(AbortSignal.timeout(5000)); // safe twice
    const b = await run();
    try {
      expect(b.url).to.equal(a.url);
      expect(b.url).to.match(new RegExp(`^http://127\\.0\\.0\\.1:${port}/[0-9a-f]{32}/metrics$`));
      expect(readFileSync(join(set.stateDir, 'credentials.json'), 'utf8')).to.equal(creds1);
      const r = await fetch(a.url, { headers: { authorization: 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64') } });
      expect(r.status).to.equal(200);
      expect(await r.text()).to.contain('up_ness{');
    } finally {
      await b.e.shutdown(AbortSignal.timeout(5000));
      await telemetry.shutdown();
    }
  });

  it('a token set in the config is used as is (and rejected when too short)', () => {
    const bad = validateSchema(prometheusExporterFactory.configSchema, { token: 'short' }, 'prometheus');
    expect(bad.issues.map((i) => i.path)).to.deep.equal(['prometheus.token']);
    expect(bad.issues[0]!.message).to.not.contain('short');
  });
});

describe('prometheus store: series cap keeps memory flat', function () {
  this.timeout(120_000);

  it('1,000,000 distinct series through a 100,000 cap: 100,000 kept, 900,000 evicted (counted), heap flat', () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const store = new CumulativeStore({ maxSeries: 100_000, expiryMs: 0 });
    let evicted = 0;
    store.onEvict = (n, reason) => {
      if (reason === 'cap') evicted += n;
    };
    const keyer = new PromKeyer();
    const PER_BATCH = 10_000;
    const heapAt: number[] = [];
    for (let b = 0; b < 100; b++) {
      const points: NumberDataPoint[] = new Array(PER_BATCH);
      for (let i = 0; i < PER_BATCH; i++) points[i] = num(1n, { user: `u${b * PER_BATCH + i}`, route: '/checkout' });
      store.ingest(batch([sum('requests', points)]), keyer);
      if (b === 19 || b === 59 || b === 99) {
        gc();
        gc();
        heapAt.push(process.memoryUsage().heapUsed);
      }
    }
    expect(store.size).to.equal(100_000);
    expect(store.counters.series_created).to.equal(1_000_000);
    expect(store.counters.evicted_cap).to.equal(900_000);
    expect(evicted).to.equal(900_000);
    // after 200k series (cap full) vs after 600k and 1M: growth under 10 %
    const [h200k, h600k, h1m] = heapAt as [number, number, number];
    process.stdout.write(
      `      heap used after 200k / 600k / 1M series: ${(h200k / 2 ** 20).toFixed(1)} / ${(h600k / 2 ** 20).toFixed(1)} / ${(h1m / 2 ** 20).toFixed(1)} MiB\n`,
    );
    expect(h1m / h200k).to.be.lessThan(1.1);
    expect(h600k / h200k).to.be.lessThan(1.1);
    // the kept series are the newest 100k
    const out = parseSamples(render(store, 'text').join(''));
    expect(out).to.have.length(100_000);
    expect(out[0]!.labels.user).to.equal('u900000');
    expect(out[99_999]!.labels.user).to.equal('u999999');
  });
});

describe('prometheus store: max_series reached is warned about (issue 13, defect 10)', () => {
  it('one rate-limited warning naming the exporter and the setting, never the token; every eviction counted', async () => {
    const cap = captureLogger('warn');
    const dir = mkdtempSync(join(tmpdir(), 'mp-prom-cap-'));
    const { value: cfg, issues } = validateSchema(
      prometheusExporterFactory.configSchema,
      { endpoint: '127.0.0.1:0', max_series: 2, token: 'SECRET-prom-cap-token-0123' },
      'prometheus',
    );
    expect(issues).to.deep.equal([]);
    const telemetry = new ServiceTelemetry();
    const set = { id: 'prometheus/app', logger: cap.logger, telemetry, stateDir: join(dir, 'exporter', 'prometheus') };
    const e = prometheusExporterFactory.create(set, cfg as never, 'metrics');
    await e.start({ logger: cap.logger, telemetry, stateDir: dir });
    try {
      await e.consume(
        batch([
          gauge(
            'temp',
            ['a', 'b', 'c', 'd'].map((k) => num(1, { k })),
          ),
        ]),
      );
      await e.consume(batch([gauge('temp', [num(1, { k: 'e' })])]));
      await waitFor(() => cap.lines.length >= 1, { timeoutMs: 5_000, what: 'a warning' });
      const warns = cap.records().filter((r) => r.level === 'warn');
      expect(warns.map((w) => [w.exporter, w.max_series, w.msg])).to.deep.equal([
        [
          'prometheus/app',
          2,
          'prometheus store prometheus/app: max_series (2) reached; the least recently updated series are evicted (metricport_store_series_evicted{reason="cap"}); raise exporters.prometheus/app.max_series or send fewer attribute combinations',
        ],
      ]);
      expect(cap.lines.join('\n')).to.not.include('SECRET-prom-cap');
      expect((e.status!() as { accumulator: { evicted_cap: number } }).accumulator.evicted_cap).to.equal(3);
    } finally {
      await e.shutdown(AbortSignal.timeout(5000));
      await telemetry.shutdown();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
