/**
 * `metricport schema`: the JSON Schema (draft 2020-12) of the config file,
 * generated from the registry's schema data (src/config/jsonschema.ts).
 * `--path` prints where the package's copy is (for the editor line
 * `# yaml-language-server: $schema=<path>`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { configJsonSchemaText } from '../config/jsonschema.js';
import { packageRoot } from '../paths.js';
import { registry } from '../registry.js';
import type { CliIO } from '../extension.js';

const SCHEMA_USAGE = `Usage: metricport schema [--path]

Prints the JSON Schema (draft 2020-12) of the config file: every component
type with its options, types, defaults and docs. Editors that speak
yaml-language-server (VS Code's YAML extension, Neovim, Helix, IntelliJ...)
complete and check a config that starts with
  # yaml-language-server: $schema=<path or URL of the schema>
  --path   print the path of the schema file shipped in the package instead
`;

export function schemaFilePath(): string {
  return join(packageRoot(), 'docs', 'metricport.schema.json');
}

export async function schemaCommand(args: string[], io: CliIO): Promise<number> {
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    io.stdout.write(SCHEMA_USAGE);
    return 0;
  }
  if (args.length === 1 && args[0] === '--path') {
    const file = schemaFilePath();
    if (!existsSync(file)) {
      io.stderr.write(`metricport schema: ${file} is not in this installation; write one with: metricport schema > metricport.schema.json\n`);
      return 1;
    }
    io.stdout.write(`${file}\n`);
    return 0;
  }
  if (args.length > 0) {
    io.stderr.write(`metricport schema: unknown argument "${args[0]}"\n\n${SCHEMA_USAGE}`);
    return 2;
  }
  io.stdout.write(configJsonSchemaText(registry));
  return 0;
}
