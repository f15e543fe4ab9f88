/**
 * The stability join as data: hourly imported sessions per version, per-minute
 * error windows from metricsets, exact ratios on the hourly windows; no
 * denominator or zero → no point, counted; a group point without the linked
 * attribute → default (imports) or dropped and counted (others).
 */
import { expect } from 'chai';
import type { Metric, MetricsBatch, NumberDataPoint } from '../../../src/model/index.js';
import { validateSchema } from '../../../src/config/schema.js';
import { stabilityConfigSchema, validateStabilityConfig, type StabilityConfig } from '../../../processors/stability/config.js';
import { StabilityEngine } from '../../../processors/stability/engine.js';

const MIN = 60_000_000_000n;
const HOUR = 60n * MIN;
const H0 = 1_700_002_800_000_000_000n; // a whole hour

function cfg(raw: Record<string, unknown>): StabilityConfig {
  const r = validateSchema(stabilityConfigSchema, raw, '');
  const issues = [...r.issues, ...validateStabilityConfig(r.value as unknown as StabilityConfig)];
  if (issues.length) throw new Error(JSON.stringify(issues));
  return r.value as unknown as StabilityConfig;
}

function batch(scope: string, scopeAttrs: Record<string, string>, metrics: Metric[]): MetricsBatch {
  return {
    resourceMetrics: [
      {
        schemaUrl: '',
        resource: { attributes: {}, droppedAttributesCount: 0 },
        scopeMetrics: [{ schemaUrl: '', scope: { name: scope, version: '', attributes: scopeAttrs, droppedAttributesCount: 0 }, metrics }],
      },
    ],
  };
}
const pt = (attrs: Record<string, string>, start: bigint, time: bigint, value: number | bigint): NumberDataPoint => ({
  attributes: attrs,
  startTimeUnixNano: start,
  timeUnixNano: time,
  flags: 0,
  value,
});
const imported = (points: NumberDataPoint[]) =>
  batch('metricport/importer', { 'metric.group': 'Sessions Started', 'importer.name': 'x' }, [
    { kind: 'sum', name: 'sessions_started', unit: '', description: '', temporality: 1, isMonotonic: true, points },
  ]);
const errorWindow = (minute: bigint, perVersion: Record<string, [number, number]>) =>
  batch('metricport/metricsets', {}, [
    {
      kind: 'gauge',
      name: 'ErrorsByVersion.unique._tx',
      unit: '',
      description: '',
      points: Object.entries(perVersion).map(([v, [e]]) => pt({ 'app.version': v }, H0 + minute * MIN, H0 + (minute + 1n) * MIN, BigInt(e))),
    },
    {
      kind: 'gauge',
      name: 'ErrorsByVersion.unique.guid',
      unit: '',
      description: '',
      points: Object.entries(perVersion).map(([v, [, u]]) => pt({ 'app.version': v }, H0 + minute * MIN, H0 + (minute + 1n) * MIN, BigInt(u))),
    },
  ]);

function series(out: MetricsBatch | undefined): Record<string, Array<[string, number, string, string]>> {
  const r: Record<string, Array<[string, number, string, string]>> = {};
  for (const m of out?.resourceMetrics[0]?.scopeMetrics[0]?.metrics ?? []) {
    r[m.name] = (m.points as NumberDataPoint[])
      .map(
        (p) => [String(p.attributes['app.version']), Number(p.value), String(p.startTimeUnixNano), String(p.timeUnixNano)] as [string, number, string, string],
      )
      .sort();
  }
  return r;
}

describe('stability engine: errors per session by version (semantics §8)', () => {
  const config = cfg({
    groups: [
      {
        name: 'Sessions Started',
        attributes: { 'app.version': 'unknown' },
        window: '1h',
        errors: 'ErrorsByVersion.unique._tx',
        impacted: 'ErrorsByVersion.unique.guid',
      },
    ],
    allowed_lateness: '5m',
  });

  it('sums per-minute error windows inside each hourly denominator window; exact ratios and shares per version', () => {
    const e = new StabilityEngine(config);
    // hour 0: sessions 3.16.2 = 40 + 60 (two imported rows), 3.16.4 = 25, unknown (no version in the row) = 10
    e.add(
      imported([
        pt({ 'app.version': '3.16.2' }, H0, H0, 40),
        pt({ 'app.version': '3.16.2' }, H0 + 30n * MIN, H0 + 30n * MIN, 60),
        pt({ 'app.version': '3.16.4' }, H0, H0, 25),
        pt({}, H0, H0, 10),
      ]),
    );
    // errors: minute 3 and minute 59 of hour 0; minute 0 of hour 1 (belongs to the next window)
    e.add(errorWindow(3n, { '3.16.2': [6, 3], '3.16.5': [2, 2] }));
    e.add(errorWindow(59n, { '3.16.2': [4, 2], unknown: [1, 1] }));
    e.add(errorWindow(60n, { '3.16.2': [9, 9] }));
    // not yet closed: end (H0+1h) + 5m > now
    expect(e.close(H0 + HOUR + 4n * MIN)).to.equal(undefined);
    const out = e.close(H0 + HOUR + 5n * MIN);
    const start = String(H0),
      end = String(H0 + HOUR);
    expect(series(out)).to.deep.equal({
      errors_per_sessions_started: [
        ['3.16.2', 10 / 100, start, end],
        ['3.16.4', 0, start, end],
        ['unknown', 1 / 10, start, end],
      ],
      impacted_share_sessions_started: [
        ['3.16.2', 5 / 100, start, end],
        ['unknown', 1 / 10, start, end],
      ],
    });
    // 3.16.5 had errors but no sessions: no point (never Infinity), counted
    expect(e.counters, JSON.stringify(e.counters)).to.deep.include({ no_denominator: 1 });
    // the next hour's 9 errors have no denominator either, when it closes
    e.add(imported([pt({ 'app.version': '3.16.2' }, H0 + HOUR, H0 + HOUR, 0)]));
    expect(e.close(H0 + 2n * HOUR + 5n * MIN)).to.equal(undefined);
    expect(e.counters.no_denominator).to.equal(2);
    // a late error window for the closed hour is counted, not emitted
    e.add(errorWindow(10n, { '3.16.2': [1, 1] }));
    expect(e.counters.late).to.equal(2); // its errors and impacted points
    expect(e.size).to.equal(0);
  });

  it('a group metric from OTLP without the linked attribute is dropped from the stream and counted; imports take the default', () => {
    const e = new StabilityEngine(
      cfg({ groups: [{ name: 'Sessions Started', attributes: { 'app.version': '' }, metrics: ['sessions'], window: '1m', errors: 'E' }] }),
    );
    const otlp = batch('sdk', {}, [
      {
        kind: 'sum',
        name: 'sessions',
        unit: '',
        description: '',
        temporality: 1,
        isMonotonic: true,
        points: [pt({ 'app.version': '1.0' }, H0, H0 + 1n, 4), pt({ os: 'x' }, H0, H0 + 1n, 5)],
      },
      { kind: 'gauge', name: 'other', unit: '', description: '', points: [pt({}, 0n, H0, 1)] },
    ]);
    const passed = e.add(otlp);
    expect(passed).to.not.equal(otlp);
    expect(passed.resourceMetrics[0]!.scopeMetrics[0]!.metrics.map((m) => [m.name, m.points.length])).to.deep.equal([
      ['sessions', 1],
      ['other', 1],
    ]);
    expect(otlp.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!.points).to.have.length(2);
    expect(e.counters.missing_attribute).to.equal(1);
    // no default ("") for imports either: dropped and counted
    e.add(imported([pt({}, H0, H0, 3)]));
    expect(e.counters.missing_attribute).to.equal(2); // the import feeds "Sessions Started" via metric_group, has no version, and the group has no default
    e.add(
      batch('metricsets', {}, [
        { kind: 'sum', name: 'E', unit: '', description: '', temporality: 1, isMonotonic: true, points: [pt({ 'app.version': '1.0' }, H0, H0 + MIN, 2n)] },
      ]),
    );
    expect(series(e.close(0n, true))).to.deep.equal({ errors_per_sessions_started: [['1.0', 0.5, String(H0), String(H0 + MIN)]] });
  });

  it('validates: linked attributes required, output stems unique', () => {
    const r = validateSchema(
      stabilityConfigSchema,
      {
        groups: [
          { name: 'A b', attributes: {}, errors: 'e' },
          { name: 'a-b', attributes: { v: '' }, errors: 'e' },
        ],
      },
      '',
    );
    expect(validateStabilityConfig(r.value as unknown as StabilityConfig).map((i) => `${i.path}: ${i.message}`)).to.deep.equal([
      'groups[0].attributes: link at least one attribute, e.g. { app.version: unknown }',
      'groups[1].name: two groups produce the output stem "a_b"',
    ]);
  });
});

describe('stability engine: release health (issue 17) — crash-free sessions and users, errored sessions', () => {
  const W = 10n * MIN;
  const sum = (name: string, pts: Array<[string, number]>) => ({
    kind: 'sum' as const,
    name,
    unit: '',
    description: '',
    temporality: 1 as const,
    isMonotonic: true,
    points: pts.map(([v, n]) => pt({ 'app.version': v }, H0, H0 + W, n)),
  });
  const gauge = (name: string, pts: Array<[string, number]>) => ({
    kind: 'gauge' as const,
    name,
    unit: '',
    description: '',
    points: pts.map(([v, n]) => pt({ 'app.version': v }, H0, H0 + W, BigInt(n))),
  });
  const config = cfg({
    groups: [
      {
        name: 'Sessions Started',
        attributes: { 'app.version': 'unknown' },
        metrics: ['Sessions.sum.session.count'],
        window: '10m',
        errors: 'Errors.count',
        crashed: 'Crashed.sum.session.count',
        errored: 'Errored.sum.session.count',
      },
      { name: 'Users', attributes: { 'app.version': 'unknown' }, metrics: ['Users.unique.guid'], window: '10m', crashed: 'Crashed.unique.guid' },
    ],
    allowed_lateness: '1m',
  });

  it('exact rates for three releases; crashes absent = crash-free 1; a release with errors but no sessions: no ratio, counted', () => {
    const e = new StabilityEngine(config);
    e.add(
      batch('metricport/metricsets', {}, [
        // 1.0.0: 6 sessions (4 healthy, 2 errored, 0 crashed), 4 errors; users from aggregates: none
        // 2.0.0: 3 sessions (1 healthy, 1 errored, 1 crashed), 2 errors, 3 users, 1 with a crash
        // 3.0.0: 2 errors, no sessions
        sum('Sessions.sum.session.count', [
          ['1.0.0', 6],
          ['2.0.0', 3],
        ]),
        sum('Errored.sum.session.count', [
          ['1.0.0', 2],
          ['2.0.0', 2],
        ]),
        sum('Crashed.sum.session.count', [['2.0.0', 1]]),
        sum('Errors.count', [
          ['1.0.0', 4],
          ['2.0.0', 2],
          ['3.0.0', 2],
        ]),
        gauge('Users.unique.guid', [['2.0.0', 3]]),
        gauge('Crashed.unique.guid', [['2.0.0', 1]]),
      ]),
    );
    const s = String(H0),
      t = String(H0 + W);
    expect(series(e.close(H0 + W + MIN))).to.deep.equal({
      errors_per_sessions_started: [
        ['1.0.0', 4 / 6, s, t],
        ['2.0.0', 2 / 3, s, t],
      ],
      crash_free_rate_sessions_started: [
        ['1.0.0', 1, s, t],
        ['2.0.0', 1 - 1 / 3, s, t],
      ],
      errored_rate_sessions_started: [
        ['1.0.0', 2 / 6, s, t],
        ['2.0.0', 2 / 3, s, t],
      ],
      crash_free_rate_users: [['2.0.0', 1 - 1 / 3, s, t]],
    });
    // 3.0.0 (errors, no sessions) in the sessions group: no point, counted; the users group saw nothing of 1.0.0 or 3.0.0 (no entry, nothing to count)
    expect(e.counters).to.deep.include({ no_denominator: 1, emitted: 7 });
  });

  it('validates the new roles: at least one output, no metric in two roles or in the denominator', () => {
    const r = validateSchema(
      stabilityConfigSchema,
      {
        groups: [
          { name: 'A', attributes: { v: '' } },
          { name: 'B', attributes: { v: '' }, metrics: ['S'], crashed: 'S' },
          { name: 'C', attributes: { v: '' }, crashed: 'X', errored: 'X' },
          { name: 'D', attributes: { v: '' }, crashed: 'X', impacted: 'Y' },
        ],
      },
      '',
    );
    expect(validateStabilityConfig(r.value as unknown as StabilityConfig).map((i) => `${i.path}: ${i.message}`)).to.deep.equal([
      'groups[0].errors: set errors (errors ÷ the group), crashed (crash-free rate) or errored (errored rate)',
      'groups[1].crashed: the metric "S" is also in metrics (the denominator)',
      'groups[2].errored: the metric "X" is already the group\'s crashed',
      'groups[3].impacted: impacted needs errors',
    ]);
  });
});
