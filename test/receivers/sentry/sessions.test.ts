/**
 * sentry receiver, release health (issue 17): session updates counted once in
 * their final state (the tracker as data, then over HTTP), aggregates per
 * outcome with counts, the horizon for sessions that never end, event_id
 * deduplication (bounded, counted), and CORS (allowed origin, refused origin,
 * preflight).
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Consumer } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { RefusedError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import type { Attributes, EventBatch } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { waitFor } from '../../harness/ports.js';
import { sentryConfigSchema, type SentryReceiverConfig } from '../../../receivers/sentry/config.js';
import { SentryReceiver } from '../../../receivers/sentry/receiver.js';
import { aggregateEvents, outcomeOf, parseSessionUpdate, SessionTracker, type SessionUpdate } from '../../../receivers/sentry/sessions.js';

const O = { application: 'shop', maxValueLength: 4096 };
const T0 = '2026-12-03T10:00:00.000Z';

function upd(sid: string, seq: number, status: string, errors = 0): SessionUpdate {
  const r = parseSessionUpdate(
    { sid, did: 'u1', seq, status, errors, init: seq === 1, started: T0, timestamp: T0, attrs: { release: 'shop@1.2.3', environment: 'prod' } },
    5n,
  );
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

describe('sentry sessions: data', () => {
  it('outcomes as Sentry counts them', () => {
    expect(outcomeOf('exited', 0)).to.equal('healthy');
    expect(outcomeOf('exited', 2)).to.equal('errored');
    expect(outcomeOf('ok', 1)).to.equal('errored');
    expect(outcomeOf('unhandled', 1)).to.equal('errored');
    expect(outcomeOf('errored', 0)).to.equal('errored');
    expect(outcomeOf('crashed', 1)).to.equal('crashed');
    expect(outcomeOf('abnormal', 0)).to.equal('abnormal');
  });

  it('a session updated five times is counted once, in its final state; later updates are ignored and counted', () => {
    let now = 1_000;
    const tr = new SessionTracker(60_000, 100, () => now);
    const out = [];
    for (let seq = 1; seq <= 4; seq++) {
      out.push(...tr.update(upd('s1', seq, 'ok', seq > 2 ? 1 : 0), O));
      now += 10;
    }
    expect(out).to.deep.equal([]);
    expect(tr.size).to.equal(1);
    out.push(...tr.update(upd('s1', 5, 'crashed', 1), O));
    expect(out).to.have.length(1);
    expect(out[0]!.attributes).to.deep.equal({
      'event.kind': 'session',
      _tx: 's1',
      guid: 'u1',
      'session.status': 'crashed',
      'session.outcome': 'crashed',
      'session.errored': true,
      'session.crashed': true,
      'session.count': 1,
      'session.errors': 1,
      application: 'shop',
      'application.version': '1.2.3',
      'app.version': '1.2.3',
      release: 'shop@1.2.3',
      environment: 'prod',
    });
    expect(out[0]!.timeUnixNano).to.equal(BigInt(Date.parse(T0)) * 1_000_000n);
    // a repeat and an older update after the end: ignored
    expect(tr.update(upd('s1', 5, 'crashed', 1), O)).to.deep.equal([]);
    expect(tr.update(upd('s1', 3, 'ok'), O)).to.deep.equal([]);
    expect(tr.counters).to.deep.equal({ updates: 7, ended: 1, expired: 0, evicted: 0, ignored: 2 });
    expect(tr.size).to.equal(0);
  });

  it('an out-of-order older update does not replace a newer one', () => {
    let now = 0;
    const tr = new SessionTracker(1000, 100, () => now);
    tr.update(upd('s2', 3, 'ok', 1), O);
    tr.update(upd('s2', 2, 'ok', 0), O);
    now = 1000;
    const [e] = tr.expire();
    expect(e!.attributes['session.outcome']).to.equal('errored');
    expect(e!.attributes['session.errors']).to.equal(1);
    expect(tr.counters.ignored).to.equal(1);
  });

  it('the horizon closes idle ok sessions in their last state (at that moment); max_open evicts the least recently updated', () => {
    let now = 0;
    const tr = new SessionTracker(1000, 2, () => now);
    tr.update(upd('a', 1, 'ok'), O);
    now = 500;
    tr.update(upd('b', 1, 'ok'), O);
    now = 999;
    expect(tr.expire()).to.deep.equal([]);
    now = 1000;
    const ex = tr.expire();
    expect(ex.map((e) => [e.attributes._tx, e.attributes['session.outcome'], e.timeUnixNano])).to.deep.equal([['a', 'healthy', 1000n * 1_000_000n]]);
    tr.update(upd('c', 1, 'ok'), O);
    const ev = tr.update(upd('d', 1, 'ok'), O); // b is the least recently updated: counted now
    expect(ev.map((e) => e.attributes._tx)).to.deep.equal(['b']);
    expect(tr.drain().map((e) => e.attributes._tx)).to.deep.equal(['c', 'd']);
    expect(tr.counters).to.deep.include({ ended: 4, expired: 1, evicted: 1 });
    // an update of a session already counted: ignored, never counted twice (ended ids are bounded by max_open too)
    expect(tr.update(upd('d', 2, 'exited'), O)).to.deep.equal([]);
    expect(tr.counters.ignored).to.equal(1);
  });

  it('aggregates: one event per bucket and outcome, with its count; bad input named', () => {
    const r = aggregateEvents(
      {
        aggregates: [
          { started: T0, exited: 5, errored: 2, crashed: 1 },
          { started: '2026-12-03T10:01:00.000Z', did: 'u9', exited: 1 },
        ],
        attrs: { release: 'api@2.0.0', environment: 'staging' },
      },
      1n,
      O,
    );
    expect(r.ok).to.equal(true);
    const evs = r.ok ? r.value : [];
    expect(
      evs.map((e) => [
        e.attributes['session.status'],
        e.attributes['session.outcome'],
        e.attributes['session.count'],
        e.attributes['session.errored'],
        e.attributes['session.crashed'],
        e.attributes['app.version'],
        e.attributes.guid ?? null,
      ]),
    ).to.deep.equal([
      ['exited', 'healthy', 5, false, false, '2.0.0', null],
      ['errored', 'errored', 2, true, false, '2.0.0', null],
      ['crashed', 'crashed', 1, true, true, '2.0.0', null],
      ['exited', 'healthy', 1, false, false, '2.0.0', 'u9'],
    ]);
    expect(evs[3]!.timeUnixNano).to.equal(BigInt(Date.parse('2026-12-03T10:01:00.000Z')) * 1_000_000n);
    expect(aggregateEvents({ aggregates: [1] }, 1n, O)).to.deep.equal({ ok: false, error: 'aggregates[0] is not an object' });
    expect(aggregateEvents({}, 1n, O)).to.deep.equal({ ok: false, error: 'sessions item has no "aggregates" list' });
    expect(parseSessionUpdate({ sid: 'x', status: 'weird' }, 1n)).to.deep.equal({
      ok: false,
      error: 'session status "weird" is not one of ok, exited, crashed, abnormal, errored, unhandled',
    });
    expect(parseSessionUpdate({ status: 'ok' }, 1n)).to.deep.equal({ ok: false, error: 'session has no "sid"' });
  });
});

describe('sentry receiver over HTTP: sessions, dedupe, CORS', () => {
  let rcv: SentryReceiver;
  let url = '';
  const got: EventBatch[] = [];
  let refuse = false;
  const next: Consumer<EventBatch> = {
    consume: async (b) => {
      if (refuse) throw new RefusedError('queue full', { status: 503, retryAfterSeconds: 1 });
      got.push(b);
    },
  };
  const attrs = (): Attributes[] => got.flatMap((b) => b.events.map((e) => e.attributes));

  before(async () => {
    const { value, issues } = validateSchema(
      sentryConfigSchema,
      {
        endpoint: '127.0.0.1:0',
        keys: [{ key: 'k1', application: 'shop' }],
        sessions: { enabled: true, horizon: '1s' },
        dedupe: { horizon: '1h', max_entries: 2 },
        cors: { allowed_origins: ['http://127.0.0.1:8080'] },
      },
      'sentry',
    );
    expect(issues).to.deep.equal([]);
    const tel = new ServiceTelemetry();
    rcv = new SentryReceiver(
      { id: 'sentry', logger: silentLogger(), telemetry: tel, stateDir: mkdtempSync(join(tmpdir(), 'mp-sentry-')) },
      value as unknown as SentryReceiverConfig,
      next,
    );
    await rcv.start({ logger: silentLogger(), telemetry: tel, stateDir: '' });
    url = `http://127.0.0.1:${rcv.boundAddress()!.port}`;
  });
  after(async () => {
    await rcv.shutdown(AbortSignal.timeout(2000));
  });

  const post = async (body: string, headers: Record<string, string> = {}) => {
    const r = await fetch(`${url}/api/1/envelope/?sentry_key=k1`, { method: 'POST', body, headers });
    return { status: r.status, body: await r.text(), headers: r.headers };
  };
  const ev = (id: string) =>
    `{"event_id":"${id}"}\n{"type":"event"}\n{"event_id":"${id}","release":"shop@1.0.0","exception":{"values":[{"type":"E","value":"v"}]}}`;
  const sess = (sid: string, seq: number, status: string, errors = 0) =>
    `{}\n{"type":"session"}\n${JSON.stringify({ sid, did: 'd1', seq, status, errors, init: seq === 1, started: T0, timestamp: T0, attrs: { release: 'shop@1.0.0' } })}`;
  const counters = () => rcv.status().counters as Record<string, unknown> & { sessions: Record<string, number> };

  it('the same event_id twice counts once (200 both times, counted); a refused event counts when resent; bounded', async () => {
    got.length = 0;
    expect(await post(ev('e1'))).to.deep.include({ status: 200, body: '{"id":"e1"}' });
    expect(await post(ev('e1'))).to.deep.include({ status: 200, body: '{"id":"e1"}' });
    refuse = true;
    expect((await post(ev('e2'))).status).to.equal(429);
    refuse = false;
    expect((await post(ev('e2'))).status).to.equal(200);
    expect(attrs().map((a) => a._tx)).to.deep.equal(['e1', 'e2']);
    expect(counters()).to.deep.include({ duplicates: 1, dedupe_entries: 2, dedupe_evicted: 0 });
    await post(ev('e3')); // max_entries 2: e1 forgotten (counted)
    expect(counters()).to.deep.include({ dedupe_entries: 2, dedupe_evicted: 1 });
  });

  it('a session updated five times is passed on once, in its final state; aggregates with counts', async () => {
    got.length = 0;
    for (let seq = 1; seq <= 4; seq++) expect((await post(sess('S1', seq, 'ok', seq >= 3 ? 1 : 0))).status).to.equal(200);
    expect(got).to.deep.equal([]);
    expect((await post(sess('S1', 5, 'exited', 1))).status).to.equal(200);
    expect((await post(sess('S1', 5, 'exited', 1))).status).to.equal(200); // resent: ignored
    expect(attrs().map((a) => [a._tx, a['session.status'], a['session.outcome'], a['app.version']])).to.deep.equal([['S1', 'exited', 'errored', '1.0.0']]);
    got.length = 0;
    expect(
      (
        await post(
          `{}\n{"type":"sessions"}\n{"aggregates":[{"started":"${T0}","exited":3,"crashed":1}],"attrs":{"release":"shop@1.0.0","environment":"production"}}`,
        )
      ).status,
    ).to.equal(200);
    expect(attrs().map((a) => [a['session.outcome'], a['session.count']])).to.deep.equal([
      ['healthy', 3],
      ['crashed', 1],
    ]);
    expect(counters().sessions).to.deep.include({ updates: 6, ended: 1, ignored: 1, events: 3 });
    // a broken session item alone: 400 naming it
    const bad = await post('{}\n{"type":"session"}\n{"status":"ok"}');
    expect(bad).to.deep.include({ status: 400, body: '{"detail":"session item 0: session has no \\"sid\\""}' });
  });

  it('a session that never ends is counted in its last state after the horizon', async () => {
    got.length = 0;
    expect((await post(sess('B1', 1, 'ok', 1))).status).to.equal(200);
    await waitFor(() => attrs().length === 1, { timeoutMs: 5000, what: 'the horizon to close B1' });
    expect(attrs().map((a) => [a._tx, a['session.status'], a['session.outcome']])).to.deep.equal([['B1', 'ok', 'errored']]);
    expect(counters().sessions).to.deep.include({ expired: 1, open: 0 });
  });

  it('CORS: an allowed origin gets Access-Control-Allow-Origin (429s too); another origin is refused 403 without it; preflight', async () => {
    const okr = await post(ev('c1'), { Origin: 'http://127.0.0.1:8080' });
    expect(okr.status).to.equal(200);
    expect(okr.headers.get('access-control-allow-origin')).to.equal('http://127.0.0.1:8080');
    expect(okr.headers.get('access-control-allow-credentials')).to.equal(null);
    expect(okr.headers.get('access-control-expose-headers')).to.include('X-Sentry-Rate-Limits');
    refuse = true;
    const busy = await post(ev('c2'), { Origin: 'http://127.0.0.1:8080' });
    refuse = false;
    expect(busy.status).to.equal(429);
    expect(busy.headers.get('access-control-allow-origin')).to.equal('http://127.0.0.1:8080');
    const before = got.length;
    const bad = await post(ev('c3'), { Origin: 'http://evil.example' });
    expect(bad).to.deep.include({ status: 403, body: '{"detail":"origin \\"http://evil.example\\" is not in receivers.sentry.cors.allowed_origins"}' });
    expect(bad.headers.get('access-control-allow-origin')).to.equal(null);
    expect(got.length).to.equal(before);
    const pre = await fetch(`${url}/api/1/envelope/?sentry_key=k1`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://127.0.0.1:8080', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
    });
    expect(pre.status).to.equal(204);
    expect(Object.fromEntries([...pre.headers].filter(([k]) => k.startsWith('access-control')))).to.deep.equal({
      'access-control-allow-origin': 'http://127.0.0.1:8080',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type',
      'access-control-max-age': '600',
      'access-control-expose-headers': 'Retry-After, X-Sentry-Rate-Limits',
    });
    const preBad = await fetch(`${url}/api/1/envelope/`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' },
    });
    expect(preBad.status).to.equal(403);
    expect(preBad.headers.get('access-control-allow-origin')).to.equal(null);
    const preHdr = await fetch(`${url}/api/1/envelope/`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://127.0.0.1:8080', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-custom' },
    });
    expect(preHdr.status).to.equal(403);
    expect(counters()).to.deep.include({ cors_refused: 3, cors_preflights: 1 });
  });
});
