/**
 * What a user must fix, in the log: a push store reaching max_series is a
 * rate-limited warning naming the store (never its credentials).
 */
import { expect } from 'chai';
import { createInflux } from '../../exporters/influxdb/exporter.js';
import { host, settings } from '../exporterhelper/fakes.js';
import { freePort } from '../harness/ports.js';
import { batch, influxCfg, num, sum } from './util.js';

const T = 1700000000000;

describe('storehelper: max_series reached is a rate-limited warning naming the store', () => {
  it('logged at the first dropped point, then at most one line a minute with the number not logged; no secret', async () => {
    const set = settings('influxdb/prod');
    let now = T + 100;
    const ex = createInflux(set, influxCfg(`http://127.0.0.1:${await freePort()}`, { max_series: 2, password: 'SECRET-influx-pw-31337', username: 'mp' }), {
      now: () => now,
    });
    await ex.start(host(set));
    const series = (names: string[]) =>
      batch([
        sum(
          'requests',
          names.map((r) => num(BigInt(now) * 1_000_000n, 1n, { route: r })),
        ),
      ]);
    await ex.consume(series(['/a', '/b']));
    const warns = () => set.logger.lines.filter((l) => l.level === 'warn');
    expect(warns()).to.deep.equal([]);
    await ex.consume(series(['/c', '/d', '/e']));
    await ex.consume(series(['/f']));
    expect(warns()).to.have.length(1);
    expect(warns()[0]!.msg).to.match(/^max_series \(2\) reached: points of new series are dropped/);
    expect(warns()[0]!.obj).to.include({ exporter: 'influxdb/prod', max_series: 2, dropped_points: 3 });
    now += 60_000;
    await ex.consume(series(['/g']));
    expect(warns()).to.have.length(2);
    expect(warns()[1]!.obj).to.include({ dropped_points: 5, suppressed: 1 });
    expect(set.logger.text()).to.not.contain('SECRET-influx-pw-31337');
    await ex.shutdown(AbortSignal.timeout(200));
  });
});
