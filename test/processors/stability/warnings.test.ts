/**
 * The stability processor's refused emissions: every one is counted, but the
 * warning is rate-limited (src/ratelimitedlog.ts): the first at once, then at
 * most one per interval carrying how many were suppressed.
 */
import { expect } from 'chai';
import { validateSchema } from '../../../src/config/schema.js';
import type { Consumer } from '../../../src/component.js';
import type { Metric, MetricsBatch, NumberDataPoint } from '../../../src/model/index.js';
import { RATE_LIMITED_LOG_INTERVAL_MS } from '../../../src/ratelimitedlog.js';
import { RefusedError } from '../../../src/errors.js';
import { stabilityConfigSchema, type StabilityConfig } from '../../../processors/stability/config.js';
import { STABILITY_SCOPE } from '../../../processors/stability/engine.js';
import { StabilityProcessor } from '../../../processors/stability/processor.js';
import { host, never, settings } from '../../exporterhelper/fakes.js';

const MS = 1_000_000n;
const HOUR_MS = 3_600_000;
const HOUR0_MS = 1_700_002_800_000;

const pt = (startMs: number, timeMs: number, value: number): NumberDataPoint => ({
  attributes: { 'app.version': '1.0' },
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
const sessions = (h: number) =>
  batch('metricport/importer', { 'metric.group': 'Sessions Started' }, [
    {
      kind: 'sum',
      name: 'sessions_started',
      unit: '',
      description: '',
      temporality: 1,
      isMonotonic: true,
      points: [pt(HOUR0_MS + h * HOUR_MS, HOUR0_MS + h * HOUR_MS, 100)],
    },
  ]);
const errors = (h: number) =>
  batch('metricport/metricsets', {}, [
    { kind: 'gauge', name: 'Errors', unit: '', description: '', points: [pt(HOUR0_MS + h * HOUR_MS + 60_000, HOUR0_MS + h * HOUR_MS + 120_000, 4)] },
  ]);

/** passes the pass-through metrics, refuses the scores */
class Refusing implements Consumer<MetricsBatch> {
  calls = 0;
  async consume(b: MetricsBatch): Promise<void> {
    if (!b.resourceMetrics.some((rm) => rm.scopeMetrics.some((sm) => sm.scope.name === STABILITY_SCOPE))) return;
    this.calls++;
    throw new RefusedError('downstream full');
  }
}

describe('stability processor: refused emissions', () => {
  it('are each counted, and warned about once per interval with the suppressed count', async () => {
    const r = validateSchema(
      stabilityConfigSchema,
      { groups: [{ name: 'Sessions Started', attributes: { 'app.version': 'unknown' }, window: '1h', errors: 'Errors' }], allowed_lateness: '5m' },
      '',
    );
    expect(r.issues).to.deep.equal([]);
    let now = HOUR0_MS;
    const next = new Refusing();
    const set = settings('stability');
    const p = new StabilityProcessor(set, r.value as unknown as StabilityConfig, next, () => now);
    await p.start(host(set));
    const warnings = () => set.logger.lines.filter((l) => l.level === 'warn' && /not accepted downstream/.test(l.msg ?? ''));
    for (let h = 0; h < 5; h++) {
      await p.consume(sessions(h));
      await p.consume(errors(h));
      await p.tick(true); // emits the open window, which the next consumer refuses
    }
    expect(next.calls).to.equal(5);
    expect((p.status().counters as Record<string, number>).emitted).to.equal(5);
    expect(warnings().map((l) => l.obj)).to.deep.equal([{ processor: 'stability', points: 1, err: 'downstream full' }]);
    // an interval later: one more line, saying how many were not logged
    now += RATE_LIMITED_LOG_INTERVAL_MS;
    await p.consume(sessions(5));
    await p.consume(errors(5));
    await p.tick(true);
    expect(next.calls).to.equal(6);
    expect(warnings().map((l) => l.obj)).to.deep.equal([
      { processor: 'stability', points: 1, err: 'downstream full' },
      { processor: 'stability', points: 1, err: 'downstream full', suppressed: 4 },
    ]);
    expect(p.status().last_error).to.equal('downstream full');
    await p.shutdown(never());
  });
});
