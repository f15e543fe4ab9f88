/**
 * The forge receiver against the local GraphQL double of the gateway, on a
 * virtual clock: query text, variables, windows, headers and auth, the call
 * rate, the seed's sample decoded as POST /v1/metrics decodes it, QueryErrors,
 * 429s, 5xx, slow answers, downstream refusals, the shared limiter, and a
 * 14-day first start cut into 1,344 windows.
 */
import { expect } from 'chai';
import { readFileSync, rmSync } from 'node:fs';
import { decodeMetricsJson } from '../../../src/otlp/json.js';
import { PermanentError, RefusedError } from '../../../src/errors.js';
import { waitFor } from '../../harness/ports.js';
import { LimiterRegistry } from '../../../receivers/forge/ratelimit.js';
import { FakeClock } from './fakeclock.js';
import { Gateway, SAMPLE_RESPONSE, windowsOf } from './gateway.js';
import { APP_ID, APP_UUID, EMAIL, ENV, ENV2, rig, T0, TOKEN, type Rig } from './helpers.js';

const MIN = 60_000;
const ALL = [
  'FORGE_API_REQUEST_COUNT',
  'FORGE_API_REQUEST_LATENCY',
  'FORGE_BACKEND_INVOCATION_COUNT',
  'FORGE_BACKEND_INVOCATION_ERRORS',
  'FORGE_BACKEND_INVOCATION_LATENCY',
];
/** the pass target for T0 with the default 1 m delay: 02:59:00 */
const TARGET = Date.parse('2023-10-31T02:59:00.000Z');

function sampleAppMetrics(): string {
  return JSON.stringify(JSON.parse(SAMPLE_RESPONSE).data.ecosystem.forgeMetrics.appMetrics);
}

/** most calls in any 60 s span (t-60 s, t] */
function maxPerMinute(ats: number[]): number {
  let best = 0;
  for (let i = 0, j = 0; i < ats.length; i++) {
    while (ats[j]! <= ats[i]! - 60_000) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('forge receiver against the gateway double', () => {
  const rigs: Rig[] = [];
  async function make(o: Parameters<typeof rig>[0] = {}): Promise<Rig> {
    const r = await rig(o);
    rigs.push(r);
    return r;
  }
  afterEach(async () => {
    for (const r of rigs.splice(0)) {
      await r.rcv.shutdown(AbortSignal.timeout(2000));
      await r.gw.stop();
      await r.telemetry.shutdown();
      rmSync(r.stateDir, { recursive: true, force: true });
    }
  });

  it('asks with the documented query, variables, headers and Basic auth, and hands on the seed sample exactly as POST /v1/metrics decodes it', async () => {
    const r = await make({ config: { history: '15m' }, gateway: { respond: () => ({ kind: 'sample' }) } });
    const res = await r.rcv.catchUp();
    expect(r.gw.violations).to.deep.equal([]);
    expect(r.gw.calls).to.have.length(1);
    const c = r.gw.calls[0]!;
    expect(JSON.parse(c.body).variables).to.deep.equal({
      appId: APP_ID,
      query: { filters: { environments: [ENV], interval: { start: '2023-10-31T02:44:00.000Z', end: '2023-10-31T02:59:00.000Z' }, metrics: ALL } },
    });
    expect(c.headers.authorization).to.equal(`Basic ${Buffer.from(`${EMAIL}:${TOKEN}`).toString('base64')}`);
    expect(c.headers['user-agent']).to.equal('ForgeMetricsExportServer/1.0.0');
    expect(c.headers['x-experimentalapi']).to.equal('ForgeMetricsQuery');
    // the exact header names as sent on the wire
    expect(c.rawHeaders).to.include.members(['Authorization', 'User-Agent', 'X-ExperimentalApi', 'Content-Type']);
    // same decoder, same leniency: asInt as a JSON number becomes 8n, delta sums stay delta
    expect(r.consumer.got).to.have.length(1);
    expect(r.consumer.got[0]).to.deep.equal(decodeMetricsJson(sampleAppMetrics()).data);
    const m = r.consumer.got[0]!.resourceMetrics[0]!.scopeMetrics[0]!.metrics;
    expect(m.map((x) => x.name)).to.deep.equal(['forge_api_request_count', 'forge_backend_invocation_count', 'forge_backend_invocation_errors']);
    const first = m[0]!;
    expect(first.kind).to.equal('sum');
    if (first.kind !== 'sum') throw new Error('sum');
    expect(first.temporality).to.equal(1);
    expect(first.points[0]!.value).to.equal(8n);
    expect(first.points[0]!.attributes).to.deep.include({ status: '2xx', remote: 'stargate', url: '/forge/entities/graphql' });
    expect(res).to.deep.include({ windows: 1, points: 3, rejected: 0 });
    // the watermark: the window's end, on disk
    const wm = JSON.parse(readFileSync(`${r.stateDir}/watermark-${APP_UUID}-${ENV}.json`, 'utf8'));
    expect(wm).to.deep.include({ app_id: APP_ID, environment: ENV, watermark: '2023-10-31T02:59:00.000Z', watermark_ms: TARGET });
    const st = r.rcv.status() as any;
    expect(st.environments[ENV]).to.deep.equal({ watermark: '2023-10-31T02:59:00.000Z', lag_seconds: 90 });
    expect(st.counters).to.deep.include({ calls: 1, windows_accepted: 1, points_accepted: 3 });
  });

  it('a 14-day first start: 1,344 windows of 15 min, in order, each asked once, at most 5 calls in any minute, then the watermark is the target', async function () {
    this.timeout(120_000);
    const r = await make({ config: { history: '14d' }, gateway: { respond: () => ({ kind: 'data', resourceMetrics: [] }) } });
    const t0 = performance.now();
    const res = await r.rcv.catchUp();
    const realMs = performance.now() - t0;
    expect(r.gw.violations).to.deep.equal([]);
    const calls = r.gw.calls;
    expect(calls).to.have.length(1344);
    expect(res.windows).to.equal(1344);
    // never before now − 14 d (03:00:30 → 03:01:00 fourteen days back) and up to now − delay (02:59:00): 1,343 windows of 15 min and one of 13
    expect(calls[0]!.start).to.equal(Date.parse('2023-10-17T03:01:00.000Z'));
    expect(calls[1343]!.end).to.equal(TARGET);
    for (let i = 0; i < calls.length; i++) {
      expect(calls[i]!.end - calls[i]!.start, `window ${i}`).to.equal(i === 1343 ? 13 * MIN : 15 * MIN);
      if (i > 0) expect(calls[i]!.start, `window ${i} follows ${i - 1}`).to.equal(calls[i - 1]!.end);
    }
    expect(new Set(calls.map((c) => c.start)).size).to.equal(1344);
    const ats = calls.map((c) => c.at);
    expect(maxPerMinute(ats)).to.equal(5);
    // 1,344 calls at 5 per 61 s: ≈ 4 h 33 min of virtual time
    const span = ats[1343]! - ats[0]!;
    expect(span).to.be.at.least(Math.floor(1343 / 5) * 61_000);
    expect(span).to.be.below(Math.ceil(1344 / 5) * 61_000 + 1);
    expect(JSON.parse(readFileSync(`${r.stateDir}/watermark-${APP_UUID}-${ENV}.json`, 'utf8')).watermark_ms).to.equal(TARGET);
    // eslint-disable-next-line no-console
    console.log(`      1,344 windows: virtual ${(span / 3_600_000).toFixed(2)} h, real ${(realMs / 1000).toFixed(1)} s`);
  });

  it('resumes from the stored watermark after an in-process crash; nothing older than 14 days is asked for', async () => {
    // first life: 3 windows accepted, the 4th call never answered, then the process "dies" (shutdown with an expired deadline)
    let n = 0;
    let release!: () => void;
    const held = new Promise<void>((res) => {
      release = res;
    });
    const a = await make({
      config: { history: '2h' },
      gateway: { respond: () => (++n === 4 ? { kind: 'slow', release: held, then: { kind: 'sample' } } : { kind: 'data', resourceMetrics: [] }) },
    });
    const pass = a.rcv.catchUp().catch((e: Error) => e);
    await waitFor(() => a.gw.inFlight === 1 && a.gw.calls.length === 4, { timeoutMs: 10_000, what: 'the 4th call in flight' });
    await a.rcv.shutdown(AbortSignal.abort());
    expect(await pass).to.be.instanceOf(Error);
    release();
    const stored = JSON.parse(readFileSync(`${a.stateDir}/watermark-${APP_UUID}-${ENV}.json`, 'utf8')).watermark_ms;
    expect(stored).to.equal(TARGET - 2 * 3_600_000 + 3 * 15 * MIN);
    // second life, same state dir, 20 days later: the stored watermark is too old; it starts at now − 14 d
    const later = new FakeClock(T0 + 20 * 86_400_000, 1);
    const b = await make({
      clock: later,
      stateDir: a.stateDir,
      config: { history: '2h' },
      gateway: { respond: () => ({ kind: 'data', resourceMetrics: [] }) },
    });
    const res = await b.rcv.catchUp();
    expect(b.gw.violations).to.deep.equal([]);
    expect(b.gw.calls[0]!.start).to.equal(T0 + 20 * 86_400_000 - 14 * 86_400_000 + 30_000);
    expect(res.windows).to.equal(1344);
    expect(b.lines.join('')).to.contain('older than the 14 days the API keeps');
  });

  it('resumes exactly at the stored watermark (same time): no window twice, none skipped', async () => {
    const a = await make({ config: { history: '1h' }, gateway: { respond: () => ({ kind: 'data', resourceMetrics: [] }) } });
    a.gw.script.push(
      { kind: 'data', resourceMetrics: [] },
      { kind: 'data', resourceMetrics: [] },
      { kind: 'queryError', statusCode: 403, message: 'Forbidden', identifier: 'X' },
    );
    await a.rcv.catchUp().catch(() => undefined);
    expect(a.gw.calls).to.have.length(3);
    await a.rcv.shutdown(AbortSignal.timeout(1000));
    const b = await make({ stateDir: a.stateDir, config: { history: '1h' }, gateway: { respond: () => ({ kind: 'data', resourceMetrics: [] }) } });
    await b.rcv.catchUp();
    expect(windowsOf(b.gw.calls)).to.deep.equal([
      ['2023-10-31T02:29:00.000Z', '2023-10-31T02:44:00.000Z'],
      ['2023-10-31T02:44:00.000Z', '2023-10-31T02:59:00.000Z'],
    ]);
  });

  it('backs off on QueryError statusCode 429, HTTP 429 (honouring Retry-After) and 5xx, then delivers each window once', async () => {
    const r = await make({ config: { history: '15m' } });
    r.gw.script.push(
      { kind: 'queryError', statusCode: 429, message: 'Rate limit exceeded', identifier: 'RATE_LIMITED', errorType: 'RATE_LIMIT' },
      { kind: 'http', status: 429, body: '{"message":"Too Many Requests"}', headers: { 'Retry-After': '40' } },
      { kind: 'http', status: 503, body: 'upstream unavailable' },
      { kind: 'sample' },
    );
    const res = await r.rcv.catchUp();
    expect(r.gw.violations).to.deep.equal([]);
    expect(r.gw.calls).to.have.length(4);
    expect(windowsOf(r.gw.calls).every(([s, e]) => s === '2023-10-31T02:44:00.000Z' && e === '2023-10-31T02:59:00.000Z')).to.equal(true);
    // backoffs (random = 0.5: no jitter): 5 s, then max(10 s, Retry-After 40 s), then 20 s
    expect(r.clock.sleeps.filter((ms) => ms >= 1000).slice(0, 3)).to.deep.equal([5_000, 40_000, 20_000]);
    expect(res.points).to.equal(3);
    expect(r.consumer.got).to.have.length(1);
    const st = r.rcv.status() as any;
    expect(st.counters).to.deep.include({ query_errors: 1, http_429: 1, http_5xx: 1, retries: 3, windows_accepted: 1 });
    expect(st.last_error).to.deep.include({ kind: 'http', http_status: 503, retryable: true });
    expect(r.rcv.healthy()).to.equal(true);
  });

  it('a QueryError that waiting will not fix stops the pass: message, identifier and errorType in the error, status and logs; the watermark stays', async () => {
    const r = await make({ config: { history: '30m' } });
    r.gw.script.push(
      { kind: 'sample' },
      { kind: 'queryError', statusCode: 403, message: 'User is not authorized to access app metrics', identifier: 'FORBIDDEN_APP', errorType: 'AUTHORIZATION' },
    );
    const err = await r.rcv.catchUp().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).to.equal(
      'QueryError: User is not authorized to access app metrics; identifier FORBIDDEN_APP; statusCode 403; errorType AUTHORIZATION',
    );
    const st = r.rcv.status() as any;
    expect(st.last_error).to.deep.include({
      kind: 'query_error',
      identifier: 'FORBIDDEN_APP',
      error_type: 'AUTHORIZATION',
      status_code: 403,
      retryable: false,
      environment: ENV,
    });
    expect(st.last_error.window).to.deep.equal({ start: '2023-10-31T02:44:00.000Z', end: '2023-10-31T02:59:00.000Z' });
    expect(st.environments[ENV].watermark).to.equal('2023-10-31T02:44:00.000Z');
    expect(r.rcv.healthy()).to.equal(false);
    const warn = r.lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'forge metrics API call failed');
    expect(warn).to.deep.include({ kind: 'query_error', identifier: 'FORBIDDEN_APP', error_type: 'AUTHORIZATION' });
  });

  it('GraphQL errors[] and HTTP 401 surface with their messages; nothing is consumed', async () => {
    const r = await make({ config: { history: '15m' } });
    r.gw.script.push({
      kind: 'graphqlErrors',
      errors: [{ message: 'Variable "$appId" got invalid value', path: ['ecosystem', 'forgeMetrics'], extensions: { classification: 'ValidationError' } }],
    });
    const e1 = await r.rcv.catchUp().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(e1?.message).to.equal('GraphQL errors: Variable "$appId" got invalid value; path ecosystem.forgeMetrics; errorType ValidationError');
    r.gw.script.push({ kind: 'http', status: 401, body: '{"message":"Unauthorized; scope does not match"}' });
    const e2 = await r.rcv.catchUp().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(e2?.message).to.equal(
      'the gateway answered HTTP 401 (check email and api_token, and that this account owns the app): {"message":"Unauthorized; scope does not match"}',
    );
    expect(r.consumer.got).to.have.length(0);
    expect((r.rcv.status() as any).counters).to.deep.include({ graphql_errors: 1, http_other: 1, windows_accepted: 0 });
  });

  it('a slow answer is abandoned at the timeout and retried; the window is delivered once', async () => {
    const r = await make({ config: { history: '15m', timeout: '20s' } });
    let release!: () => void;
    r.gw.script.push(
      {
        kind: 'slow',
        release: new Promise<void>((res) => {
          release = res;
        }),
        then: { kind: 'sample' },
      },
      { kind: 'sample' },
    );
    const pass = r.rcv.catchUp();
    await waitFor(() => r.gw.inFlight === 1, { timeoutMs: 10_000, what: 'the slow call in flight' });
    expect(r.clock.pendingTimers).to.equal(1);
    r.clock.advance(20_000);
    const res = await pass;
    release();
    expect(res.points).to.equal(3);
    expect(r.gw.calls).to.have.length(2);
    expect(r.consumer.got).to.have.length(1);
    expect((r.rcv.status() as any).counters).to.deep.include({ timeouts: 1, retries: 1, windows_accepted: 1 });
  });

  it('a downstream refusal is retried without asking the API again; a permanent refusal skips the window (counted)', async () => {
    const r = await make({ config: { history: '30m' }, gateway: { respond: () => ({ kind: 'sample' }) } });
    r.consumer.failures.push(new RefusedError('queue full', { retryAfterSeconds: 2 }), new PermanentError('cannot encode'));
    const res = await r.rcv.catchUp();
    expect(r.gw.calls).to.have.length(2);
    expect(res).to.deep.include({ windows: 2, dropped: 1 });
    expect(r.consumer.got).to.have.length(1);
    expect((r.rcv.status() as any).counters).to.deep.include({ downstream_refusals: 1, windows_dropped: 1, windows_accepted: 1 });
    expect((r.rcv.status() as any).environments[ENV].watermark).to.equal('2023-10-31T02:59:00.000Z');
  });

  it('two receivers with the same email share one limiter (≤ 5 calls/min together); two environments each get their own watermark', async () => {
    const clock = new FakeClock(T0, 2);
    const limiters = new LimiterRegistry();
    const gw = await new Gateway({ now: () => clock.now(), email: EMAIL, token: TOKEN, respond: () => ({ kind: 'data', resourceMetrics: [] }) }).start();
    const a = await make({ clock, gw, limiters, id: 'forge/a', config: { history: '1h', environments: [ENV, ENV2] } });
    const b = await make({
      clock,
      gw,
      limiters,
      id: 'forge/b',
      config: { history: '1h', app_id: 'ari:cloud:ecosystem::app/a11dfa0b-cf2c-44d1-9080-5c3944961223' },
    });
    expect(limiters.size).to.equal(1);
    await Promise.all([a.rcv.catchUp().finally(() => clock.retire()), b.rcv.catchUp().finally(() => clock.retire())]);
    expect(gw.violations).to.deep.equal([]);
    expect(gw.calls).to.have.length(12);
    expect(maxPerMinute(gw.calls.map((c) => c.at))).to.equal(5);
    const st = a.rcv.status() as any;
    expect(st.environments[ENV].watermark).to.equal('2023-10-31T02:59:00.000Z');
    expect(st.environments[ENV2].watermark).to.equal('2023-10-31T02:59:00.000Z');
    // round robin over environments: ENV, ENV2, ENV, ENV2, ...
    expect(gw.calls.filter((c) => c.appId === APP_ID).map((c) => c.environments[0])).to.deep.equal([ENV, ENV2, ENV, ENV2, ENV, ENV2, ENV, ENV2]);
  });
});
