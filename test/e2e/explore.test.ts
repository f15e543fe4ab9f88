/**
 * POST /api/v1/explore on the running service: events POSTed to the errors
 * receiver reach the metricsets processor's history; a query answers with
 * exact values; without the admin token 401; a bad query 400 with key paths.
 */
import { expect } from 'chai';
import { waitFor } from '../harness/ports.js';
import { startMetricport, type Started } from './metricport.js';

const TOKEN = 'SECRET-e2e-explore-admin-token-42';

describe('e2e: Explore over the recent events (POST /api/v1/explore)', function () {
  this.timeout(60_000);
  let mp: Started | undefined;
  before(async () => {
    mp = await startMetricport(
      `
receivers:
  errors: { endpoint: "{{OTLP}}" }
processors:
  metricsets:
    period: 60s
    sets:
      - name: S
        metrics:
          - { name: Errors, aggregates: [count] }
exporters:
  nop: {}
service:
  pipelines:
    errors: { receivers: [errors], processors: [metricsets], exporters: [nop] }
`,
      { env: { METRICPORT_ADMIN_TOKEN: TOKEN } },
    );
  });
  after(async () => {
    await mp?.stop();
  });

  const api = async (path: string, body?: unknown, token: string | null = TOKEN) => {
    const r = await fetch(`${mp!.adminUrl}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { ...(token !== null ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: r.status, json: json as Record<string, unknown> };
  };

  it('answers group by app.version, unique(_tx), unique(guid) with the exact values', async () => {
    const now = Date.now();
    const events = [];
    for (let i = 0; i < 30; i++)
      events.push({ timestamp: now - 1000 - i, attributes: { _tx: `t${i}`, guid: `u${i % 4}`, 'app.version': i < 20 ? '2.0' : '2.1' } });
    events.push({ timestamp: now - 900, attributes: { _tx: 't0', guid: 'u0', 'app.version': '2.0' } }); // a resend of t0
    const r = await fetch(`${mp!.otlpUrl}/v1/errors`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
    expect(r.status).to.equal(200);
    const q = { group_by: ['app.version'], aggregates: ['unique(_tx)', 'unique(guid)', 'count'], from: '10m' };
    let res: Record<string, unknown> = {};
    await waitFor(
      async () => {
        res = (await api('/api/v1/explore', q)).json;
        return res.events_scanned === 31;
      },
      { timeoutMs: 10_000, what: 'the 31 events in the history' },
    );
    expect(res.rows).to.deep.equal([
      { group: { 'app.version': '2.0' }, values: [20, 4, 21] },
      { group: { 'app.version': '2.1' }, values: [10, 4, 10] },
    ]);
    expect(res.processor).to.equal('metricsets');
    const attrs = (await api('/api/v1/explore/attributes')).json;
    const names = attrs.attributes as Array<{ name: string; values: Array<{ value: unknown }> }>;
    expect(names.map((a) => a.name)).to.deep.equal(['_tx', 'app.version', 'guid']);
    expect(names[1]!.values.map((v) => v.value)).to.deep.equal(['2.0', '2.1']);
  });

  it('refuses without the token and explains a bad query with key paths', async () => {
    expect((await api('/api/v1/explore', { aggregates: ['count'] }, null)).status).to.equal(401);
    expect((await api('/api/v1/explore/attributes', undefined, 'wrong')).status).to.equal(403);
    const bad = await api('/api/v1/explore', { aggregates: ['uniq(_tx)'], group_by: 'app.version' });
    expect(bad.status).to.equal(400);
    expect((bad.json.errors as Array<{ path: string }>).map((e) => e.path)).to.deep.equal(['group_by']);
    const bad2 = await api('/api/v1/explore', { aggregates: ['uniq(_tx)'] });
    expect(bad2.status).to.equal(400);
    expect(bad2.json.errors).to.deep.equal([
      {
        path: 'aggregates[0]',
        message:
          'unknown aggregate "uniq(_tx)"; use count, unique(attr), sum(attr), min(attr), max(attr), mean(attr), first(attr), last(attr), p50(attr), p90(attr), p95(attr) or p99(attr)',
      },
    ]);
    const notJson = await api('/api/v1/explore', '{ nope');
    expect(notJson.status).to.equal(400);
    expect(String(notJson.json.error)).to.match(/^the body is not JSON/);
  });
});
