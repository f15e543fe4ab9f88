/**
 * What a user must fix, in the log: a metric reaching max_groups is a
 * rate-limited warning naming the processor, the set and the metric.
 */
import { expect } from 'chai';
import type { MetricsBatch } from '../../../src/model/index.js';
import { compileOrThrow, MetricSetsProcessor } from '../../../processors/metricsets/processor.js';
import { host, never, settings } from '../../exporterhelper/fakes.js';
import { config, ev, T0 } from './helpers.js';

describe('metricsets: max_groups reached is a rate-limited warning naming the component', () => {
  it('first overflow logged at once, then at most one line a minute per metric with the number not logged', async () => {
    const cfg = config({
      max_groups: 2,
      sets: [
        {
          name: 'Errors',
          metrics: [
            { name: 'ByFp', group_by: ['fingerprint'], aggregates: ['count'] },
            { name: 'All', aggregates: ['count'] },
          ],
        },
      ],
    });
    const set = { ...settings('metricsets/errors'), pipeline: 'events' };
    let now = Number(T0 / 1_000_000n);
    const out: MetricsBatch[] = [];
    const p = new MetricSetsProcessor(
      set,
      cfg,
      compileOrThrow(set.id, cfg),
      {
        consume: async (b) => {
          out.push(b);
        },
      },
      () => now,
    );
    await p.start(host(set));
    const events = (from: number, n: number) => Array.from({ length: n }, (_, i) => ev(BigInt(now) * 1_000_000n, { fingerprint: `fp-${from + i}` }));
    await p.consume({ events: events(0, 2) }); // two groups: at the cap, no overflow
    const warns = () => set.logger.lines.filter((l) => l.level === 'warn');
    expect(warns()).to.deep.equal([]);
    await p.consume({ events: events(2, 3) }); // three events overflow
    await p.consume({ events: events(5, 4) }); // four more, within the minute
    expect(warns()).to.have.length(1);
    expect(warns()[0]!.msg).to.match(/^max_groups \(2\) reached: events of further groups are counted in the group "__overflow__"/);
    expect(warns()[0]!.obj).to.include({ processor: 'metricsets/errors', metric_set: 'Errors', metric: 'ByFp', max_groups: 2, overflow_events: 3 });
    now += 60_000;
    await p.consume({ events: events(100, 3) }); // a new window: two groups fit, one overflows
    expect(warns()).to.have.length(2);
    expect(warns()[1]!.obj).to.include({ metric: 'ByFp', overflow_events: 8, suppressed: 1 });
    await p.shutdown(never());
  });
});
