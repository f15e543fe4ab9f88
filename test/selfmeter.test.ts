/**
 * src/selfmeter.ts against the OpenTelemetry SDK it replaces: the same
 * instruments and operations on both, the same exposition out (but the
 * target_info line, which names the resource), and promtool accepts it.
 */
import { expect } from 'chai';
import type { Meter } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { CARDINALITY_LIMIT, SelfMeter } from '../src/selfmeter.js';
import { promtoolCheckMetrics, usePeer } from './harness/peers.js';

/** The operations metricport's components perform, on any Meter. */
function exercise(m: Meter): void {
  const recv = { receiver: 'otlp', transport: 'http', signal: 'metrics' };
  const c = m.createCounter('metricport_receiver_accepted_items', { description: 'Items accepted' });
  c.add(3, recv);
  c.add(4, { ...recv }); // an equal attribute set, another object
  c.add(1, { receiver: 'otlp', transport: 'http', signal: 'events' });
  c.add(-5, recv); // ignored: counters only grow
  m.createCounter('metricport_receiver_refused_items', { description: 'never added: not shown' });
  const req = m.createCounter('metricport_receiver_requests', { description: 'Requests answered, by status code' });
  req.add(1, { receiver: 'otlp', path: '/v1/metrics', status_code: 200 });
  req.add(2, { receiver: 'otlp', path: '/v1/metrics', status_code: 400 });
  req.add(1, { receiver: 'we"ird\\na\nme', 'dotted.key': true });
  const h = m.createHistogram('metricport_receiver_request_duration_seconds', {
    description: 'Time to answer',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.001, 0.01, 0.1, 1] },
  });
  for (const v of [0.0005, 0.001, 0.002, 0.05, 0.5, 3]) h.record(v, { receiver: 'otlp', path: '/v1/metrics' });
  const hd = m.createHistogram('payload_size_bytes', { description: 'default buckets' });
  for (const v of [0, 1, 7, 100, 20000]) hd.record(v);
  const ud = m.createUpDownCounter('metricport_inflight', { description: 'up and down' });
  ud.add(5, { a: 'x' });
  ud.add(-2, { a: 'x' });
  const g = m.createObservableGauge('metricport_store_series', { description: 'Series a pull store holds' });
  g.addCallback((o) => {
    o.observe(12, { exporter: 'prometheus' });
    o.observe(3, { exporter: 'circonus' });
  });
  const oc = m.createObservableCounter('metricport_statsd_packets', { description: 'Datagrams received' });
  oc.addCallback((o) => o.observe(42, { receiver: 'statsd' }));
  m.createObservableCounter('metricport_statsd_lines_total', { description: 'already _total' }).addCallback((o) => o.observe(7, {}));
  const og = m.createObservableGauge('failing_gauge', { description: 'its callback throws' });
  og.addCallback(() => {
    throw new Error('boom');
  });
}

/** The exposition without its target_info block (the resource differs by design). */
function body(text: string): string {
  return text.replace(/^# HELP target_info[^\n]*\n# TYPE target_info[^\n]*\ntarget_info[^\n]*\n/, '');
}

describe('self-telemetry meter (replaces @opentelemetry/sdk-metrics + exporter-prometheus)', () => {
  it('writes the same exposition as the OpenTelemetry SDK for the same operations', async () => {
    const mine = new SelfMeter();
    exercise(mine);
    const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
    const provider = new MeterProvider({ readers: [exporter] });
    exercise(provider.getMeter('metricport'));
    const { resourceMetrics } = await exporter.collect();
    const sdk = new PrometheusSerializer(undefined, false, undefined, false, true).serialize(resourceMetrics);
    await provider.shutdown();
    const ours = await mine.render({ 'service.name': 'metricport' });
    expect(body(ours)).to.equal(body(sdk));
    expect(ours).to.match(/^# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info\{service_name="metricport"\} 1\n/);
  });

  it('an observable reports what its callbacks observe now; a removed callback stops reporting', async () => {
    const m = new SelfMeter();
    let v = 1;
    const g = m.createObservableGauge('g', { description: 'd' });
    const cb = (o: { observe(v: number, a?: Record<string, string>): void }) => o.observe(v, { k: 'a' });
    g.addCallback(cb);
    expect(await m.render({})).to.contain('g{k="a"} 1\n');
    v = 2;
    expect(await m.render({})).to.contain('g{k="a"} 2\n');
    g.removeCallback(cb);
    expect(await m.render({})).to.not.contain('g{');
  });

  it(`holds at most ${CARDINALITY_LIMIT} series per instrument: past ${CARDINALITY_LIMIT - 1} attribute sets the rest fold into otel_metric_overflow`, async () => {
    const m = new SelfMeter();
    const c = m.createCounter('c', { description: 'd' });
    for (let i = 0; i < CARDINALITY_LIMIT + 10; i++) c.add(1, { i: String(i) });
    const text = await m.render({});
    expect(text.split('\n').filter((l) => l.startsWith('c_total{')).length).to.equal(CARDINALITY_LIMIT);
    expect(text).to.contain('c_total{otel_metric_overflow="true"} 11\n');
  });

  it('promtool check metrics accepts the exposition', async function () {
    await usePeer(this, 'promtool');
    const m = new SelfMeter();
    exercise(m);
    const r = await promtoolCheckMetrics(await m.render({ 'service.name': 'metricport', 'telemetry.sdk.version': '0.1.0' }));
    expect(r.ok, r.output).to.equal(true);
  });
});
