/** `metricport cluster` (table): the fleet part, per component and owned partition. */
import { expect } from 'chai';
import { formatCluster } from '../../src/cluster/cli.js';

describe('metricport cluster: fleet lag in the table', () => {
  it('prints per component its partials and per owned partition windows waiting, partials pending, publishers heard/expected', () => {
    const out = formatCluster({
      enabled: true,
      cluster: 'c',
      node_id: 'a',
      ready: true,
      nats: { state: 'connected', server: 'nats://x:1', rtt_ms: 1, reconnects: 0, last_error: null },
      nodes: [],
      partitions: [],
      leases: [],
      fleet: {
        metricsets: {
          publishing: { published: 12, queued_bytes: 345, publish_errors: 0 },
          publishers: ['a.1', 'b.1'],
          owner: {
            partials_merged: 7,
            partials_late: 1,
            partials_duplicate: 0,
            windows_exported: 3,
            partitions: [
              {
                partition: 5,
                windows_waiting: 2,
                partials_pending: 3,
                publishers_heard: ['a.1'],
                publishers_expected: ['a.1', 'b.1'],
                exported_through: '2026-12-03T10:00:00.000Z',
              },
            ],
          },
        },
      },
    });
    expect(out).to.contain(
      'metricsets (scope: cluster): 2 publishers; here: 12 partials published, 345 bytes queued on disk, 0 publish errors; as owner: 7 merged, 1 late, 0 duplicate, 3 windows exported',
    );
    expect(out).to.match(/\n5 +2 +3 +1\/2 +2026-12-03T10:00:00.000Z\n/);
  });
});
