/**
 * Stability end to end, the built service as a child process: error events
 * POSTed per version → metricsets (events pipeline, no exporter of its own) →
 * pipeline/events/errors feeds the stability pipeline, which also takes the
 * sessions imported per version from a real PostgreSQL → a real Prometheus
 * scrapes the expected ratios per version.
 */
import { expect } from 'chai';
import { startPostgres, startPrometheus, usePeer, type PostgresPeer, type PrometheusPeer } from '../../harness/peers.js';
import { freePort, waitFor } from '../../harness/ports.js';
import { startMetricport, type Started } from '../../e2e/metricport.js';

const TOKEN = 'e2e-stability-token-42';
const W = 10_000;

describe('e2e: stability scores (errors per session by version) at a real Prometheus', function () {
  this.timeout(120_000);
  let pgPeer: PostgresPeer;
  let prom: PrometheusPeer | undefined;
  let mp: Started | undefined;
  const table = `stab_sessions_${process.pid}`;

  before(async function () {
    await usePeer(this, 'postgres', 'prometheus');
    pgPeer = await startPostgres();
    await pgPeer.psql(`drop table if exists ${table}; create table ${table} (version text, sessions int, time timestamptz not null)`);
    const promPort = await freePort();
    mp = await startMetricport(`
receivers:
  errors: { endpoint: "{{OTLP}}" }
  importer/pg:
    source: postgres
    port: ${pgPeer.port}
    database: ${pgPeer.database}
    user: ${pgPeer.user}
    importers:
      - name: SessionsByVersion
        query: select version, sessions, time from ${table} where time >= $1 and time < $2
        value_column: sessions
        attributes: { version: app.version }
        metric: { name: sessions_started, kind: delta_sum, unit: "{session}" }
        metric_group: Sessions Started
        history: 1m
        period: 500ms
processors:
  metricsets:
    period: 1s
    allowed_lateness: 500ms
    sets:
      - name: Stability
        metrics:
          - name: ErrorsByVersion
            group_by: [app.version]
            group_by_defaults: { app.version: unknown }
            aggregates: [unique(_tx), unique(guid)]
  stability:
    allowed_lateness: 4s
    groups:
      - name: Sessions Started
        attributes: { app.version: unknown }
        window: ${W / 1000}s
        errors: ErrorsByVersion.unique._tx
        impacted: ErrorsByVersion.unique.guid
exporters:
  prometheus: { endpoint: "127.0.0.1:${promPort}", token: ${TOKEN} }
service:
  pipelines:
    events/errors: { receivers: [errors], processors: [metricsets] }
    metrics/stability: { receivers: [importer/pg, pipeline/events/errors], processors: [stability], exporters: [prometheus] }
`);
    prom = await startPrometheus({ scrapeTargets: [{ target: `127.0.0.1:${promPort}`, metricsPath: `/${TOKEN}/metrics` }], scrapeInterval: '1s' });
  });
  after(async () => {
    await prom?.stop();
    await mp?.stop();
    await pgPeer?.psql(`drop table if exists ${table}`).catch(() => undefined);
    await pgPeer?.stop();
  });

  it('errors ÷ sessions and impacted users ÷ sessions per version over the 10 s window; no sessions → no point', async () => {
    // the next whole window
    const T = (Math.floor(Date.now() / W) + 1) * W;
    const iso = (ms: number) => new Date(ms).toISOString();
    // sessions per version in that window (imported once the importer's $2 passes them): 3.16.2 = 40 + 60, 3.16.4 = 25, 3.16.5 none
    await pgPeer.psql(`insert into ${table} values ('3.16.2', 40, '${iso(T + 1000)}'), ('3.16.2', 60, '${iso(T + 7000)}'), ('3.16.4', 25, '${iso(T + 2000)}')`);
    await waitFor(() => Date.now() >= T + 300, { timeoutMs: 15_000, what: 'the window to begin' });
    // errors: 3.16.2 six transactions by three users; 3.16.5 two by two
    const ev = (tx: string, guid: string, v: string) => ({ timestamp: iso(Date.now()), attributes: { _tx: tx, guid, 'app.version': v } });
    const body = [
      ev('t1', 'u1', '3.16.2'),
      ev('t2', 'u1', '3.16.2'),
      ev('t3', 'u2', '3.16.2'),
      ev('t4', 'u2', '3.16.2'),
      ev('t5', 'u3', '3.16.2'),
      ev('t6', 'u3', '3.16.2'),
      ev('t6', 'u3', '3.16.2'),
      ev('x1', 'v1', '3.16.5'),
      ev('x2', 'v2', '3.16.5'),
    ];
    const r = await fetch(`${mp!.otlpUrl}/v1/errors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect([r.status, await r.json()]).to.deep.equal([200, { accepted: 9, rejected: 0 }]);

    let got: Array<{ metric: Record<string, string>; value: number }> = [];
    await waitFor(
      async () => {
        got = await prom!.queryValues('{__name__=~"(errors_per|impacted_share)_sessions_started.*"}');
        return got.length >= 3;
      },
      { timeoutMs: 40_000, intervalMs: 500, what: 'stability scores at Prometheus' },
    );
    const rows = got.map((g) => [g.metric.__name__, g.metric.app_version, g.value]).sort();
    expect(rows).to.deep.equal([
      ['errors_per_sessions_started_ratio', '3.16.2', 0.06],
      ['errors_per_sessions_started_ratio', '3.16.4', 0],
      ['impacted_share_sessions_started_ratio', '3.16.2', 0.03],
    ]);
    // the processor counted 3.16.5's window without a denominator
    const st = (await (await fetch(`${mp!.adminUrl}/api/v1/status`)).json()) as {
      processors: Array<{ type: string; counters: { no_denominator: number; emitted: number } }>;
    };
    const sp = st.processors.find((p) => p.type === 'stability')!;
    expect(sp.counters.no_denominator).to.equal(1);
    expect(sp.counters.emitted).to.equal(3);
  });
});
