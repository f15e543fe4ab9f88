/** Pure translation of importers, as data: bounds into queries, source answers into rows, rows into points. */
import { expect } from 'chai';
import { bindInfluxQL, graphiteRange, graphiteRows, influxRows, mapRows, rowTimeNs, SourceQueryError, sqlParams } from '../../../receivers/importer/map.js';
import { importerConfig } from './helpers.js';

const FROM = Date.UTC(2024, 0, 1, 0, 0, 0);
const TO = FROM + 3_600_000;

describe('importer: pure mapping', () => {
  it('binds bounds: SQL parameters (ISO UTC or epoch units), InfluxQL time literals ($10 untouched), graphite (from, until]', () => {
    expect(sqlParams(FROM, TO, 'timestamp')).to.deep.equal(['2024-01-01T00:00:00.000Z', '2024-01-01T01:00:00.000Z']);
    expect(sqlParams(FROM, TO, 's')).to.deep.equal(['1704067200', '1704070800']);
    expect(sqlParams(FROM, TO, 'ns')).to.deep.equal(['1704067200000000000', '1704070800000000000']);
    expect(bindInfluxQL("SELECT x FROM m WHERE time >= $1 AND time < $2 AND a = '$10'", FROM, TO)).to.equal(
      "SELECT x FROM m WHERE time >= '2024-01-01T00:00:00.000Z' AND time < '2024-01-01T01:00:00.000Z' AND a = '$10'",
    );
    expect(graphiteRange(FROM, TO)).to.deep.equal({ from: 1704067199, until: 1704070799 });
  });

  it('reads InfluxDB answers (tags as columns; errors inside 200) and graphite series (nulls skipped)', () => {
    expect(
      influxRows({
        results: [
          {
            statement_id: 0,
            series: [
              {
                name: 'm',
                tags: { version: '1' },
                columns: ['time', 'sum'],
                values: [
                  [FROM, 3],
                  [FROM + 1, null],
                ],
              },
              { name: 'm', tags: { version: '2' }, columns: ['time', 'sum'], values: [[FROM, 4]] },
            ],
          },
        ],
      }),
    ).to.deep.equal({
      columns: ['measurement', 'version', 'time', 'sum'],
      rows: [
        ['m', '1', FROM, 3],
        ['m', '1', FROM + 1, null],
        ['m', '2', FROM, 4],
      ],
    });
    expect(() => influxRows({ results: [{ statement_id: 0, error: 'database not found: x' }] })).to.throw(SourceQueryError, 'database not found: x');
    expect(
      graphiteRows([
        {
          target: 'a',
          tags: { name: 'a', dc: 'x' },
          datapoints: [
            [1, 10],
            [null, 20],
            [2.5, 30],
          ],
        },
      ]),
    ).to.deep.equal({
      columns: ['target', 'dc', 'name', 'value', 'time'],
      rows: [
        ['a', 'x', 'a', 1, 10],
        ['a', 'x', 'a', 2.5, 30],
      ],
    });
  });

  it('reads times: Date, naive ISO as UTC, epoch numbers and numeric strings in the unit', () => {
    expect(rowTimeNs(new Date(FROM), 'timestamp')).to.equal(1704067200000000000n);
    expect(rowTimeNs('2024-01-01 00:00:00', 'timestamp')).to.equal(1704067200000000000n);
    expect(rowTimeNs('2024-01-01T01:00:00+01:00', 'timestamp')).to.equal(1704067200000000000n);
    expect(rowTimeNs(1704067200, 's')).to.equal(1704067200000000000n);
    expect(rowTimeNs('1704067200123', 'ms')).to.equal(1704067200123000000n);
    expect(rowTimeNs('soon', 'timestamp')).to.equal(undefined);
  });

  it('maps rows to one delta sum: constants then columns, NULL attributes left out, bad rows skipped with the first reason', () => {
    const spec = importerConfig({
      source: 'postgres',
      database: 'd',
      importers: [
        {
          name: 'i',
          query: 'q $1 $2',
          value_column: 'v',
          attributes: { version: 'app.version' },
          metric: { name: 'm', kind: 'delta_sum', unit: 'min', attributes: { env: 'prod' } },
          metric_group: 'G',
        },
      ],
    }).importers[0]!;
    const r = mapRows(
      {
        columns: ['version', 'v', 'time'],
        rows: [
          ['1.0', '2.5', new Date(FROM)],
          [null, 3, new Date(FROM + 1000)],
          ['1.0', null, new Date(FROM)],
          ['1.0', 1, new Date(TO)],
        ],
      },
      spec,
      'timestamp',
      FROM,
      TO,
      'importer/x',
    );
    expect([r.points, r.skipped, r.firstSkip]).to.deep.equal([2, 2, 'value NULL is not a number']);
    const sm = r.batch.resourceMetrics[0]!.scopeMetrics[0]!;
    expect(sm.scope).to.deep.equal({
      name: 'metricport/importer',
      version: '',
      attributes: { 'importer.name': 'i', 'importer.receiver': 'importer/x', 'metric.group': 'G' },
      droppedAttributesCount: 0,
    });
    expect(sm.metrics[0]).to.deep.equal({
      kind: 'sum',
      name: 'm',
      unit: 'min',
      description: '',
      temporality: 1,
      isMonotonic: true,
      points: [
        {
          attributes: { env: 'prod', 'app.version': '1.0' },
          startTimeUnixNano: 1704067200000000000n,
          timeUnixNano: 1704067200000000000n,
          flags: 0,
          value: 2.5,
        },
        { attributes: { env: 'prod' }, startTimeUnixNano: 1704067201000000000n, timeUnixNano: 1704067201000000000n, flags: 0, value: 3 },
      ],
    });
    expect(() => mapRows({ columns: ['x'], rows: [[1]] }, spec, 'timestamp', FROM, TO, 'i')).to.throw(
      'the value column "v" is not in the result (columns: "x")',
    );
  });
});
