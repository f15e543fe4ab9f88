/**
 * The config tools, contributed to the command line as an extension (not a
 * component): `metricport schema`. Each command imports its module when it
 * runs, so `--help` loads none of it.
 */
import type { Extension } from '../extension.js';

export const configToolsExtension: Extension = {
  name: 'config-tools',
  description: 'the config file\'s JSON Schema for editors',
  commands: [
    {
      verb: 'schema',
      usage: 'schema [--path]',
      summary: 'the JSON Schema of the config file, for editors (docs/configuration.md)',
      run: async (args, io) => (await import('./schema.js')).schemaCommand(args, io),
    },
  ],
};
