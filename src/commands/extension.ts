/**
 * The config tools, contributed to the command line as an extension (not a
 * component): `metricport schema` and `metricport init`. Each command imports its module when it
 * runs, so `--help` loads none of it.
 */
import type { Extension } from '../extension.js';

export const configToolsExtension: Extension = {
  name: 'config-tools',
  description: "the config file's JSON Schema for editors; a config written from a few questions",
  commands: [
    {
      verb: 'schema',
      usage: 'schema [--path]',
      summary: 'the JSON Schema of the config file, for editors (docs/configuration.md)',
      run: async (args, io) => (await import('./schema.js')).schemaCommand(args, io),
    },
    {
      verb: 'init',
      usage: 'init [--non-interactive --receivers LIST --exporters LIST --set PATH=VALUE ...]',
      summary: 'write a commented config: asks what comes in and which stores go out (metricport init --help)',
      run: async (args, io) => (await import('./init.js')).initCommand(args, io),
    },
  ],
};
