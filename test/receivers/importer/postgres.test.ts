/**
 * The importer against a real PostgreSQL (our own cluster, started by the
 * harness): the seed's table and query for several versions, exact counts and
 * sums, history in chunks, restart from the watermark, a source that goes
 * down, bound parameters on the wire, the test query, and Redshift settings
 * (port, TLS on by default) against a TLS-enabled Postgres.
 */
import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { startPostgres, usePeer, type PostgresPeer } from '../../harness/peers.js';
import { waitFor } from '../../harness/ports.js';
import { OutageProxy } from '../../storehelper/proxy.js';
import { configIssues, enablePostgresTls, newReceiver, readWatermark, Recorder, tempDir } from './helpers.js';

const VERSIONS = ['3.16.0', '3.16.2', '3.16.4', '3.16.5'];
const SEED_QUERY = "select mins_played, time from metric_table where version = '3.16.2' and time >= $1 and time < $2";
const INJECTION = "'; drop table metric_table; --";

describe('importer receiver: PostgreSQL (real server)', function () {
  this.timeout(120_000);
  let pgPeer: PostgresPeer;
  const dirs: string[] = [];
  const stops: Array<() => Promise<void>> = [];

  before(async function () {
    await usePeer(this, 'postgres');
    pgPeer = await startPostgres({ own: true });
    // the seed's table: minutes played and sessions per version, one row per version and hour over the last 7 days
    await pgPeer.psql(`create table metric_table (version text, mins_played numeric, sessions int, time timestamptz not null);
      insert into metric_table
        select v.version, ((h * 7 + v.i * 3) % 50 + 1) + 0.25, (h % 13) + v.i + 1, date_trunc('hour', now()) - make_interval(hours => h) - interval '30 minutes'
        from generate_series(1, 166) h, (values ('3.16.0', 0), ('3.16.2', 1), ('3.16.4', 2), ('3.16.5', 3)) v(version, i);`);
  });
  afterEach(async () => {
    while (stops.length > 0) await stops.pop()!();
  });
  after(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await pgPeer?.stop();
  });

  const base = () => ({ source: 'postgres', host: '127.0.0.1', port: pgPeer.port, database: 'test', user: 'postgres' });
  async function sql(q: string): Promise<string> {
    return (await pgPeer.psql(q)).trim();
  }
  function dir(): string {
    const d = tempDir();
    dirs.push(d);
    return d;
  }
  function caughtUp(r: ReturnType<typeof newReceiver>, name: string, since: number): boolean {
    const s = r.state(name)!;
    return s.watermark !== undefined && s.watermark >= since && s.phase === 'waiting';
  }

  it('imports 7 days of the seed query in 1-day chunks, per version, with exact count and sum', async () => {
    const rec = new Recorder();
    const state = dir();
    const t0 = Date.now();
    const r = newReceiver(
      {
        ...base(),
        importers: [
          {
            name: 'MinsPlayedVersion3.16.2',
            query: SEED_QUERY,
            value_column: 'mins_played',
            metric: { name: 'minutes_played', unit: 'min', kind: 'delta_sum', attributes: { 'app.version': '3.16.2' } },
            metric_group: 'Minutes Played',
            history: '7d',
            chunk: '1d',
            period: '1s',
          },
          {
            name: 'SessionsByVersion',
            query: 'select version, sessions, time from metric_table where time >= $1 and time < $2 order by time',
            value_column: 'sessions',
            attributes: { version: 'app.version' },
            metric: { name: 'sessions_started', kind: 'delta_sum' },
            history: '7d',
            chunk: '1d',
            period: '1s',
          },
        ],
      },
      state,
      rec,
    );
    stops.push(() => r.shutdown(AbortSignal.timeout(5000)));
    await r.start();
    await waitFor(() => caughtUp(r, 'MinsPlayedVersion3.16.2', t0) && caughtUp(r, 'SessionsByVersion', t0), {
      timeoutMs: 30_000,
      what: 'both importers caught up',
    });
    const mins = rec.rows.filter((x) => x.metric === 'minutes_played');
    expect(mins.length).to.equal(Number(await sql("select count(*) from metric_table where version = '3.16.2'")));
    expect(mins.length).to.equal(166);
    expect(rec.sum((x) => x.metric === 'minutes_played')).to.equal(Number(await sql("select sum(mins_played) from metric_table where version = '3.16.2'")));
    expect(
      mins.every(
        (x) =>
          x.attributes['app.version'] === '3.16.2' && x.scope['metric.group'] === 'Minutes Played' && x.scope['importer.name'] === 'MinsPlayedVersion3.16.2',
      ),
    ).to.equal(true);
    // every hour once, at its own time
    expect(new Set(mins.map((x) => x.timeMs)).size).to.equal(166);
    expect(Math.min(...mins.map((x) => x.timeMs))).to.equal(Number(await sql('select (extract(epoch from min(time)) * 1000)::bigint from metric_table')));
    for (const v of VERSIONS) {
      const got = rec.rows.filter((x) => x.metric === 'sessions_started' && x.attributes['app.version'] === v);
      const [count, sum] = (await sql(`select count(*) || ',' || sum(sessions) from metric_table where version = '${v}'`)).split(',').map(Number);
      expect([got.length, got.reduce((a, x) => a + x.value, 0)], v).to.deep.equal([count, sum]);
    }
    // history in chunks: 7 runs of one day at least for the backfill
    const st = r.status() as {
      importers: Record<string, { counters: { runs: number; rows: number; points: number; failures: number }; last_error: string | null }>;
    };
    expect(st.importers['MinsPlayedVersion3.16.2']!.counters.runs).to.be.at.least(7);
    expect(st.importers['MinsPlayedVersion3.16.2']!.counters.points).to.equal(166);
    expect(st.importers['SessionsByVersion']!.counters.points).to.equal(664);
    expect(st.importers['SessionsByVersion']!.last_error).to.equal(null);
    expect(readWatermark(state, 'SessionsByVersion')).to.equal(r.state('SessionsByVersion')!.watermark);
  });

  it('restart resumes from the watermark: new rows once, old rows never again', async () => {
    await sql(
      'create table restart_t (n int, time timestamptz not null); insert into restart_t select g, now() - make_interval(mins => g) from generate_series(1, 50) g',
    );
    const state = dir();
    const spec = {
      name: 'r',
      query: 'select n as value, time from restart_t where time >= $1 and time < $2',
      metric: { name: 'n', kind: 'delta_sum' },
      history: '2h',
      chunk: '20m',
      period: '200ms',
    };
    const rec = new Recorder();
    let t0 = Date.now();
    let r = newReceiver({ ...base(), importers: [spec] }, state, rec);
    await r.start();
    await waitFor(() => caughtUp(r, 'r', t0), { timeoutMs: 20_000, what: 'first run caught up' });
    await r.shutdown(AbortSignal.timeout(5000));
    const wm = readWatermark(state, 'r')!;
    expect(rec.rows.length).to.equal(50);
    // rows that arrive while metricport is down, after the stored watermark
    await waitFor(() => Date.now() > wm + 1000, { timeoutMs: 5000, what: 'a second past the watermark' });
    await sql('insert into restart_t select 100 + g, now() from generate_series(1, 5) g');
    t0 = Date.now();
    r = newReceiver({ ...base(), importers: [spec] }, state, rec);
    stops.push(() => r.shutdown(AbortSignal.timeout(5000)));
    await r.start();
    await waitFor(() => caughtUp(r, 'r', t0), { timeoutMs: 20_000, what: 'second run caught up' });
    expect(rec.rows.length).to.equal(55);
    expect(rec.sum()).to.equal(Number(await sql('select sum(n) from restart_t')));
    expect(new Set(rec.rows.map((x) => x.value)).size).to.equal(55);
  });

  it('source down: retries with backoff, watermark unchanged, status shows the error; catches up with nothing missing', async () => {
    await sql(
      'create table outage_t (n int, time timestamptz not null); insert into outage_t select g, now() - make_interval(secs => g * 10) from generate_series(1, 30) g',
    );
    const proxy = new OutageProxy(pgPeer.port);
    await proxy.up();
    const port = proxy.port;
    await proxy.down();
    const state = dir();
    const rec = new Recorder();
    const r = newReceiver(
      {
        ...base(),
        port,
        retry: { initial_interval: '50ms', max_interval: '200ms' },
        importers: [
          {
            name: 'o',
            query: 'select n as value, time from outage_t where time >= $1 and time < $2',
            metric: { name: 'n' },
            history: '1h',
            chunk: '10m',
            period: '200ms',
          },
        ],
      },
      state,
      rec,
    );
    stops.push(async () => {
      await r.shutdown(AbortSignal.timeout(5000));
      await proxy.down();
    });
    await r.start();
    await waitFor(() => r.state('o')!.attempt >= 3, { timeoutMs: 10_000, what: 'three failed attempts' });
    const st = (r.status() as { importers: Record<string, { last_error: string; phase: string; watermark: string }> }).importers['o']!;
    expect(st.last_error).to.match(/ECONNREFUSED/);
    expect(st.phase).to.equal('retrying');
    const startWm = r.state('o')!.watermark!;
    expect(readWatermark(state, 'o')).to.equal(undefined);
    expect(rec.rows.length).to.equal(0);
    // a row written while the source is unreachable
    await sql('insert into outage_t values (1000, now())');
    await proxy.up();
    const t0 = Date.now();
    await waitFor(() => caughtUp(r, 'o', t0), { timeoutMs: 20_000, what: 'caught up after the outage' });
    expect(rec.rows.length).to.equal(31);
    expect(rec.sum()).to.equal(465 + 1000);
    expect(rec.rows.every((x) => x.timeMs >= startWm)).to.equal(true);
    expect(r.state('o')!.counters.failures).to.be.at.least(3);
  });

  it("a config value containing '; drop table metric_table; -- never reaches the database as SQL: parameters are bound, the table survives", async () => {
    // the string is a constant attribute, the metric group, and a value in the table (a column mapped to an attribute)
    await sql(
      `create table inj_t (version text, n int, time timestamptz not null); insert into inj_t values (${quoteLiteral(INJECTION)}, 7, now() - interval '1 minute')`,
    );
    const proxy = new OutageProxy(pgPeer.port);
    await proxy.up();
    const rec = new Recorder();
    const query = 'select version, n, time from inj_t where time >= $1 and time < $2';
    const t0 = Date.now();
    const r = newReceiver(
      {
        ...base(),
        port: proxy.port,
        importers: [
          {
            name: 'inj',
            query,
            value_column: 'n',
            attributes: { version: 'app.version' },
            metric: { name: 'inj', attributes: { note: INJECTION } },
            metric_group: INJECTION,
            history: '10m',
            chunk: '1h',
            period: '1s',
          },
        ],
      },
      dir(),
      rec,
    );
    stops.push(async () => {
      await r.shutdown(AbortSignal.timeout(5000));
      await proxy.down();
    });
    await r.start();
    await waitFor(() => caughtUp(r, 'inj', t0), { timeoutMs: 20_000, what: 'injection importer caught up' });
    expect(rec.rows).to.have.length(1);
    expect(rec.rows[0]!.attributes).to.deep.equal({ note: INJECTION, 'app.version': INJECTION });
    expect(rec.rows[0]!.scope['metric.group']).to.equal(INJECTION);
    // on the wire: the query text exactly as configured (with $1 and $2), the bounds as separate parameters, the string never
    expect(proxy.tapped).to.include(query);
    expect(proxy.tapped).to.not.include('drop table');
    expect(proxy.tapped).to.match(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z/);
    expect(await sql('select count(*) from metric_table')).to.equal('664');
    expect(await sql('select count(*) from inj_t')).to.equal('1');
  });

  it("test query: a missing $1/$2, the source's own syntax error, and a preview of mapped rows; the watermark does not move", async () => {
    const state = dir();
    const rec = new Recorder();
    const good = {
      name: 'good',
      query: SEED_QUERY,
      value_column: 'mins_played',
      metric: { name: 'minutes_played', kind: 'delta_sum', attributes: { 'app.version': '3.16.2' } },
      history: '7d',
    };
    // a missing $2 is already a config error
    expect(configIssues({ ...base(), importers: [{ ...good, query: 'select mins_played, time from metric_table where time >= $1' }] })).to.deep.equal([
      'importers[0].query: the query has no $2: bound it with "time >= $1 and time < $2" ($1 = the watermark or now − history, $2 = now)',
    ]);
    const r = newReceiver(
      {
        ...base(),
        importers: [
          good,
          { ...good, name: 'typo', query: 'selec mins_played, time from metric_table where time >= $1 and time < $2' },
          { ...good, name: 'nocol', query: 'select mins_played as m, time from metric_table where time >= $1 and time < $2' },
        ],
      },
      state,
      rec,
    );
    const ok = (await r.testQuery('good', { limit: 2 }))!;
    expect(ok.ok).to.equal(true);
    expect(ok.errors).to.deep.equal([]);
    expect(ok.columns).to.deep.equal(['mins_played', 'time']);
    // one chunk back from now (min(history, chunk) = 1 day)
    const inRange = Number(await sql(`select count(*) from metric_table where version = '3.16.2' and time >= '${ok.from}' and time < '${ok.to}'`));
    expect(Date.parse(ok.to) - Date.parse(ok.from)).to.equal(86_400_000);
    expect(inRange).to.be.within(22, 24);
    expect(ok.rows).to.equal(inRange);
    expect(ok.points).to.equal(inRange);
    expect(ok.request).to.deep.equal({ sql: SEED_QUERY, params: [ok.from, ok.to] });
    expect(ok.preview).to.have.length(2);
    expect(ok.preview!.map((p) => p.attributes)).to.deep.equal([{ 'app.version': '3.16.2' }, { 'app.version': '3.16.2' }]);
    for (const p of ok.preview!) {
      expect(p.metric).to.equal('minutes_played');
      expect(
        await sql(`select count(*) from metric_table where version = '3.16.2' and time = '${p.time}' and mins_played = ${p.value}`),
        JSON.stringify(p),
      ).to.equal('1');
    }
    const typo = (await r.testQuery('typo'))!;
    expect(typo.ok).to.equal(false);
    expect(typo.errors).to.deep.equal(['the source refused the query: ERROR: syntax error at or near "selec" (SQLSTATE 42601, at character 1)']);
    const nocol = (await r.testQuery('nocol'))!;
    expect(nocol.errors).to.deep.equal(['the rows do not fit the mapping: the value column "mins_played" is not in the result (columns: "m", "time")']);
    expect(await r.testQuery('nope')).to.equal(undefined);
    expect(readWatermark(state, 'good')).to.equal(undefined);
    expect(rec.rows.length).to.equal(0);
    await r.shutdown(AbortSignal.timeout(5000));
  });

  it('redshift settings (port, TLS on by default) against a TLS-enabled Postgres: verify with the CA imports over TLS; without it the certificate error is in status', async () => {
    const ca = await enablePostgresTls(pgPeer);
    dirs.push(ca);
    const spec = {
      name: 'rs',
      query: "select sessions, time from metric_table where version = '3.16.4' and time >= $1 and time < $2",
      value_column: 'sessions',
      metric: { name: 'sessions_started', kind: 'delta_sum', attributes: { 'app.version': '3.16.4' } },
      history: '7d',
      chunk: '7d',
      period: '1s',
    };
    // defaults: port 5439 and TLS verify
    expect(configIssues({ source: 'redshift', database: 'dev', importers: [spec] })).to.deep.equal([]);
    const rec = new Recorder();
    const t0 = Date.now();
    const r = newReceiver(
      { source: 'redshift', host: '127.0.0.1', port: pgPeer.port, database: 'test', user: 'postgres', tls: { ca_file: ca }, importers: [spec] },
      dir(),
      rec,
      'importer/rs',
    );
    stops.push(() => r.shutdown(AbortSignal.timeout(5000)));
    await r.start();
    await waitFor(() => caughtUp(r, 'rs', t0), { timeoutMs: 20_000, what: 'redshift importer caught up' });
    expect(rec.rows.length).to.equal(166);
    expect(rec.sum()).to.equal(Number(await sql("select sum(sessions) from metric_table where version = '3.16.4'")));
    // the pool's idle connection is encrypted
    expect(
      await sql(
        "select bool_and(s.ssl)::text || ',' || count(*) from pg_stat_ssl s join pg_stat_activity a using (pid) where a.application_name = 'metricport importer/rs'",
      ),
    ).to.equal('true,1');
    // TLS on by default, no CA: the self-signed certificate is refused, and status says so
    const rec2 = new Recorder();
    const r2 = newReceiver(
      {
        source: 'redshift',
        host: '127.0.0.1',
        port: pgPeer.port,
        database: 'test',
        user: 'postgres',
        password: 'hunter2-secret',
        retry: { initial_interval: '50ms', max_interval: '100ms' },
        importers: [spec],
      },
      dir(),
      rec2,
    );
    stops.push(() => r2.shutdown(AbortSignal.timeout(5000)));
    await r2.start();
    await waitFor(() => r2.state('rs')!.attempt >= 1, { timeoutMs: 10_000, what: 'a failed TLS attempt' });
    const err = (r2.status() as { importers: Record<string, { last_error: string }> }).importers['rs']!.last_error;
    expect(err).to.match(/self[- ]signed certificate/);
    expect(JSON.stringify(r2.status())).to.not.include('hunter2-secret');
    expect(rec2.rows.length).to.equal(0);
  });
});

function quoteLiteral(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
