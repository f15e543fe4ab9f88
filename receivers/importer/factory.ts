import { defineReceiver } from '../../src/component.js';
import { importerConfigSchema, validateImporterConfig, type ImporterReceiverConfig } from './config.js';

/**
 * `importer`: one metric source (postgres, redshift, influxdb, graphite) and
 * its importers: bounded queries `time >= $1 and time < $2` run every period,
 * history in chunks, a watermark per importer in the state directory.
 */
export const importerReceiverFactory = defineReceiver<ImporterReceiverConfig>({
  type: 'importer',
  description:
    'Imports metrics from PostgreSQL, Redshift, InfluxDB 1.x or graphite-web with bounded queries ($1/$2), history in chunks and a watermark per importer',
  signals: ['metrics'],
  configSchema: importerConfigSchema,
  validate: validateImporterConfig,
  load: async () => {
    const { ImporterReceiver } = await import('./receiver.js');
    return { create: (set, cfg, next) => new ImporterReceiver(set, cfg, next) };
  },
  admin: [
    {
      method: 'POST',
      path: '/api/v1/importers/:name/test',
      summary: "run one importer's test query (?since=1h, ?receiver=ID): nothing sent, no watermark moves",
      handle: async (req, ctx) => {
        const receiver = req.query.get('receiver') ?? undefined;
        const since = req.query.get('since') ?? undefined;
        const r = await (await import('./admin.js')).testImporter(ctx.service, req.params.name!, { receiver, since });
        return { status: r.status, json: r.body };
      },
    },
  ],
  commands: [
    {
      verb: 'importer',
      usage: 'importer test --config FILE --importer NAME [--since 1h] [--json]',
      summary: 'run one importer\'s query once ("Test query"): missing $1/$2, the\nsource\'s own error, or a preview of the mapped points; no watermark moves',
      run: async (args, io) => (await import('./test-cli.js')).importerMain(args, io.stdout, io.stderr),
    },
  ],
});
