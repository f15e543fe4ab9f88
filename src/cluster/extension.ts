/**
 * The cluster layer's contributions (src/extension.ts): `GET /api/v1/cluster`
 * on the admin server and `metricport cluster` on the command line. Neither
 * loads the NATS client: the route reads the running node's status, the
 * command asks a running instance.
 */
import type { Extension } from '../extension.js';

export const clusterExtension: Extension = {
  name: 'cluster',
  description: 'cluster mode on NATS JetStream (service.cluster, docs/cluster.md)',
  admin: [
    {
      method: 'GET',
      path: '/api/v1/cluster',
      summary:
        'the cluster: NATS connection and round-trip time, nodes and last heartbeats, partition owners, poller leases ({"enabled": false} without service.cluster)',
      handle: (_req, ctx) => ({
        json: ctx.service.cluster?.status() ?? { enabled: false, hint: 'no service.cluster in the config: this instance runs alone (docs/cluster.md)' },
      }),
    },
  ],
  commands: [
    {
      verb: 'cluster',
      usage: 'cluster [--json] [--admin-endpoint HOST:PORT]',
      summary: 'the cluster seen by the running instance: NATS state and round-trip\ntime, nodes and last heartbeats, partition owners, poller leases',
      run: async (args, io) => (await import('./cli.js')).clusterMain(args, io),
    },
  ],
};
