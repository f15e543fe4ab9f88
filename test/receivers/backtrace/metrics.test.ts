/**
 * backtrace receiver, metrics (issue 17): the SDKs' unique and summed events
 * as data and over HTTP (token-checked like reports, exactly 200 with a JSON
 * body, 404 while metrics.enabled is off), and report urls with a prefix
 * (`/submit.backtrace.io/<universe>/<token>/json`).
 */
import { expect } from 'chai';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Consumer } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/logger.js';
import type { EventBatch } from '../../../src/model/index.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { backtraceConfigSchema, type BacktraceReceiverConfig } from '../../../receivers/backtrace/config.js';
import { mapMetricsSubmission } from '../../../receivers/backtrace/metrics.js';
import { BacktraceReceiver, tokenFromPath } from '../../../receivers/backtrace/receiver.js';

const O = { application: 'tok-app', maxValueLength: 4096, maxAttributes: 256 };

describe('backtrace metrics: data', () => {
  it('unique and summed events → events with their kind, group, application and version', () => {
    const u = mapMetricsSubmission(
      'unique',
      {
        application: 'game',
        appversion: '1.2.0',
        unique_events: [{ timestamp: 1796316821, unique: ['guid'], attributes: { guid: 'g1', hostname: 'h', 'cpu.count': '2', nested: { x: 1 } } }],
        metadata: { dropped_events: 3 },
      },
      5n,
      O,
      10,
    );
    expect(u).to.deep.equal({
      ok: true,
      dropped: 3,
      events: [
        {
          timeUnixNano: 1796316821000000000n,
          attributes: {
            'event.kind': 'unique',
            unique: 'guid',
            guid: 'g1',
            hostname: 'h',
            'cpu.count': '2',
            application: 'game',
            'application.version': '1.2.0',
            'app.version': '1.2.0',
          },
        },
      ],
    });
    const s = mapMetricsSubmission(
      'summed',
      { summed_events: [{ metric_group: 'Application Launches', attributes: { 'application.version': '2.0.0', guid: 'g2' } }] },
      7n,
      O,
      10,
    );
    expect(s).to.deep.equal({
      ok: true,
      dropped: 0,
      events: [
        {
          timeUnixNano: 7n,
          attributes: {
            'event.kind': 'summed',
            'metric.group': 'Application Launches',
            guid: 'g2',
            application: 'tok-app',
            'application.version': '2.0.0',
            'app.version': '2.0.0',
          },
        },
      ],
    });
    expect(mapMetricsSubmission('summed', { summed_events: [{ attributes: {} }] }, 1n, O, 10)).to.deep.equal({
      ok: false,
      error: 'summed_events[0] has no "metric_group"',
    });
    expect(mapMetricsSubmission('unique', { summed_events: [] }, 1n, O, 10)).to.deep.equal({ ok: false, error: 'the body has no "unique_events" list' });
    expect(mapMetricsSubmission('unique', { unique_events: [1, 2, 3] }, 1n, O, 2)).to.deep.equal({
      ok: false,
      error: '3 unique_events in one request; at most 2 (metrics.max_events_per_request)',
    });
  });
  it('the token of a report url with a prefix', () => {
    expect(tokenFromPath('/submit.backtrace.io/uni/tok1/json')).to.equal('tok1');
    expect(tokenFromPath('/uni/tok1/json/')).to.equal('tok1');
  });
});

describe('backtrace receiver over HTTP: metrics', () => {
  const got: EventBatch[] = [];
  const next: Consumer<EventBatch> = {
    consume: async (b) => {
      got.push(b);
    },
  };
  const rcvs: BacktraceReceiver[] = [];
  async function start(metrics: boolean): Promise<string> {
    const { value, issues } = validateSchema(
      backtraceConfigSchema,
      { endpoint: '127.0.0.1:0', tokens: [{ token: 'tok1', application: 'shop' }], metrics: { enabled: metrics } },
      'backtrace',
    );
    expect(issues).to.deep.equal([]);
    const tel = new ServiceTelemetry();
    const rcv = new BacktraceReceiver(
      { id: 'backtrace', logger: silentLogger(), telemetry: tel, stateDir: mkdtempSync(join(tmpdir(), 'mp-bt-')) },
      value as unknown as BacktraceReceiverConfig,
      next,
    );
    await rcv.start({ logger: silentLogger(), telemetry: tel, stateDir: '' });
    rcvs.push(rcv);
    return `http://127.0.0.1:${rcv.boundAddress()!.port}`;
  }
  after(async () => {
    for (const r of rcvs) await r.shutdown(AbortSignal.timeout(2000));
  });
  const post = async (url: string, body: unknown) => {
    const r = await fetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return { status: r.status, body: await r.text() };
  };

  it('token-checked like reports; 200 {"response":"ok"}; counted by kind; 404 when off', async () => {
    const url = await start(true);
    const uniq = {
      application: 'game',
      appversion: '1.0.0',
      unique_events: [{ timestamp: 1796316821, unique: ['guid'], attributes: { guid: 'g1' } }],
      metadata: { dropped_events: 0 },
    };
    expect(await post(`${url}/api/unique-events/submit?universe=u&token=tok1`, uniq)).to.deep.equal({ status: 200, body: '{"response":"ok"}' });
    expect(
      await post(`${url}/api/summed-events/submit?universe=u&token=tok1`, {
        summed_events: [
          { metric_group: 'Application Launches', attributes: {} },
          { metric_group: 'Application Launches', attributes: {} },
        ],
      }),
    ).to.deep.equal({ status: 200, body: '{"response":"ok"}' });
    expect((await post(`${url}/api/unique-events/submit?universe=u`, uniq)).status).to.equal(401);
    expect((await post(`${url}/api/unique-events/submit?universe=u&token=nope`, uniq)).status).to.equal(403);
    const bad = await post(`${url}/api/summed-events/submit?token=tok1`, { summed_events: 'x' });
    expect(bad).to.deep.equal({ status: 400, body: '{"response":"error","error":{"code":400,"message":"the body has no \\"summed_events\\" list"}}' });
    expect(
      got.flatMap((b) => b.events.map((e) => [e.attributes['event.kind'], e.attributes['metric.group'] ?? e.attributes.guid, e.attributes.application])),
    ).to.deep.equal([
      ['unique', 'g1', 'game'],
      ['summed', 'Application Launches', 'shop'],
      ['summed', 'Application Launches', 'shop'],
    ]);
    const c = rcvs[0]!.status().counters as Record<string, unknown>;
    expect(c).to.deep.include({ metric_events: { unique: 1, summed: 2, sdk_dropped: 0 }, auth_failures: 2 });
    // a report through the prefixed url form
    const report = { uuid: 'r-1', timestamp: 1796316821, classifiers: ['Error'], attributes: { 'error.message': 'x' } };
    expect((await post(`${url}/submit.backtrace.io/uni/tok1/json`, report)).status).to.equal(200);
    const off = await start(false);
    expect((await post(`${off}/api/unique-events/submit?token=tok1`, uniq)).status).to.equal(404);
  });
});
