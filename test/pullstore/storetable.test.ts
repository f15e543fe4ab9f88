import { expect } from 'chai';
import { formatStoreTable, type StoreRow } from '../../src/pullstore/stores.js';

describe('metricport stores: the table (formatStoreTable)', () => {
  const rows: StoreRow[] = [
    {
      name: 'prometheus',
      adapter: 'prometheus',
      mode: 'pull',
      period: null,
      last_scrape: '2026-01-01T00:00:00.000Z',
      last_error: null,
      target: '127.0.0.1:9464',
      url: 'http://127.0.0.1:9464/0123456789abcdef0123456789abcdef/metrics',
    },
    {
      name: 'influxdb',
      adapter: 'influxdb',
      mode: 'push',
      period: 10,
      last_transmission: null,
      last_error: 'connect ECONNREFUSED 127.0.0.1:8086\n\tat TCPConnectWrap',
      target: '127.0.0.1:8086',
    },
  ];

  it('one line per store, the URL ends its line, the source is a line of its own after the table (one string, one stream)', () => {
    expect(formatStoreTable(rows, 'live')).to.equal(
      [
        'NAME        ADAPTER     MODE  PERIOD  LAST OK                   LAST ERROR                                             TARGET          URL',
        'prometheus  prometheus  pull  -       2026-01-01T00:00:00.000Z  -                                                      127.0.0.1:9464  http://127.0.0.1:9464/0123456789abcdef0123456789abcdef/metrics',
        'influxdb    influxdb    push  10s     -                         connect ECONNREFUSED 127.0.0.1:8086 at TCPConnectWrap  127.0.0.1:8086  -',
        '',
        '(source: live)',
        '',
      ].join('\n'),
    );
  });

  it('without a source: the table alone, newline-terminated', () => {
    const t = formatStoreTable(rows.slice(0, 1));
    expect(t.endsWith('/metrics\n')).to.equal(true);
    expect(t.split('\n')).to.have.length(3);
  });
});
