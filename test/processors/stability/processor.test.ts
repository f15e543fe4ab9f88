/**
 * The stability processor at start (semantics.md §8: a ratio needs both
 * sides covered by collected data). Error windows are collected from the
 * moment the processor starts; a denominator imported with `history` for
 * earlier windows has no error side, so those windows get no score (never a
 * false 0), counted `uncovered`, and the result is the same whether the
 * history arrives before or after the first tick.
 */
import { expect } from 'chai';
import { validateSchema } from '../../../src/config/schema.js';
import type { Consumer } from '../../../src/component.js';
import type { Metric, MetricsBatch, NumberDataPoint } from '../../../src/model/index.js';
import { stabilityConfigSchema, type StabilityConfig } from '../../../processors/stability/config.js';
import { STABILITY_SCOPE } from '../../../processors/stability/engine.js';
import { StabilityProcessor } from '../../../processors/stability/processor.js';
import { host, never, settings } from '../../exporterhelper/fakes.js';

const MS = 1_000_000n;
const HOUR_MS = 3_600_000;
const START_MS = 1_700_002_800_000 + 20 * 60_000; // 20 minutes into an hour
const HOUR0_MS = START_MS - 20 * 60_000; // the hour the processor starts in

const pt = (v: string, startMs: number, timeMs: number, value: number): NumberDataPoint => ({
  attributes: { 'app.version': v },
  startTimeUnixNano: BigInt(startMs) * MS,
  timeUnixNano: BigInt(timeMs) * MS,
  flags: 0,
  value,
});
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
/** hourly sessions rows as an importer sends them: one delta sum point per hour, at the hour's start */
const sessions = (hours: number[], perHour: number) =>
  batch('metricport/importer', { 'metric.group': 'Sessions Started' }, [
    {
      kind: 'sum',
      name: 'sessions_started',
      unit: '',
      description: '',
      temporality: 1,
      isMonotonic: true,
      points: hours.map((h) => pt('1.0', HOUR0_MS + h * HOUR_MS, HOUR0_MS + h * HOUR_MS, perHour)),
    },
  ]);
/** one metricsets error window of a minute */
const errors = (atMs: number, n: number) =>
  batch('metricport/metricsets', {}, [{ kind: 'gauge', name: 'Errors', unit: '', description: '', points: [pt('1.0', atMs, atMs + 60_000, n)] }]);

class Recording implements Consumer<MetricsBatch> {
  readonly got: MetricsBatch[] = [];
  async consume(b: MetricsBatch): Promise<void> {
    this.got.push(b);
  }
  scores(): Array<[string, number, number]> {
    const out: Array<[string, number, number]> = [];
    for (const b of this.got)
      for (const rm of b.resourceMetrics)
        for (const sm of rm.scopeMetrics) {
          if (sm.scope.name !== STABILITY_SCOPE) continue;
          for (const m of sm.metrics)
            for (const p of m.points as NumberDataPoint[]) out.push([m.name, Number(p.startTimeUnixNano / MS - BigInt(HOUR0_MS)) / HOUR_MS, p.value as number]);
        }
    return out.sort((a, b) => a[1] - b[1]);
  }
}

function config(): StabilityConfig {
  const r = validateSchema(
    stabilityConfigSchema,
    { groups: [{ name: 'Sessions Started', attributes: { 'app.version': 'unknown' }, window: '1h', errors: 'Errors' }], allowed_lateness: '5m' },
    '',
  );
  expect(r.issues).to.deep.equal([]);
  return r.value as unknown as StabilityConfig;
}

/** Start at START_MS, feed a 7-day history either before or after the first tick, then two live hours. */
async function run(historyAfterFirstTick: boolean): Promise<{ scores: Array<[string, number, number]>; counters: Record<string, number> }> {
  let now = START_MS;
  const next = new Recording();
  const set = settings('stability');
  const p = new StabilityProcessor(set, config(), next, () => now);
  await p.start(host(set));
  const history = sessions(
    Array.from({ length: 7 * 24 }, (_, i) => i - 7 * 24),
    100,
  ); // the 168 hours before the one it starts in
  if (!historyAfterFirstTick) await p.consume(history);
  now += 10_000;
  await p.tick(false);
  // the hour it started in: sessions for the whole hour, errors only since start
  await p.consume(sessions([0], 100));
  await p.consume(errors(START_MS + 60_000, 3));
  if (historyAfterFirstTick) {
    now += 30 * 60_000;
    await p.tick(false);
    await p.consume(history);
  }
  // hours 1 and 2: fully collected; hour 2 has no errors at all
  await p.consume(sessions([1, 2], 50));
  await p.consume(errors(HOUR0_MS + HOUR_MS + 5 * 60_000, 2));
  await p.consume(errors(HOUR0_MS + HOUR_MS + 50 * 60_000, 3));
  now = HOUR0_MS + 3 * HOUR_MS + 5 * 60_000; // hour 2 closed (end + allowed_lateness)
  await p.tick(false);
  await p.shutdown(never());
  const counters = p.status().counters as Record<string, number>;
  return { scores: next.scores(), counters };
}

describe('stability processor: what happens at start', () => {
  for (const after of [false, true]) {
    it(`history imported ${after ? 'after' : 'before'} the first tick: no score for a window the error side did not cover, counted uncovered; covered windows scored (0 included)`, async () => {
      const { scores, counters } = await run(after);
      expect(scores).to.deep.equal([
        ['errors_per_sessions_started', 1, 5 / 50],
        ['errors_per_sessions_started', 2, 0],
      ]);
      // 168 history points + the starting hour's sessions and its error window: no errors were collected for them before start
      expect(counters).to.include({ uncovered: 168 + 1 + 1, late: 0, no_denominator: 0, emitted: 2 });
    });
  }
});
