/**
 * The command line: `metricport [run|validate|components|stores|help|version] [flags]`,
 * and the verbs component factories and extensions contribute (`commands` in
 * src/extension.ts, collected by src/registry.ts: `forge`, `preview`,
 * `importer`, ...). This file imports no component; `--help`, `validate` and
 * `components` load no component implementation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkConfig, loadConfigFile } from './config/service-config.js';
import { describeSchema } from './config/schema.js';
import { formatIssue } from './errors.js';
import { defaultConfigPath } from './paths.js';
import { adminEndpoints } from './admin.js';
import { displayPath, type CliCommand } from './extension.js';
import { contributedCommands, registeredExtensions, registry } from './registry.js';
import { runCommand, version } from './run.js';
import { readStoredCredentials } from './pullstore/credentials.js';
import { formatStoreTable, pullUrl, STORE_TYPES, type StoreRow } from './pullstore/stores.js';
import { KNOWN_FLAGS, loadSettings, settingsHelp, type Settings } from './settings.js';

/** The verbs of this file (their flags are the settings); `run` is the default. */
const CORE_VERBS: ReadonlyArray<Pick<CliCommand, 'verb' | 'usage' | 'summary'>> = [
  { verb: 'run', usage: '[run] [flags]', summary: 'run the pipelines in the config (default verb)' },
  { verb: 'validate', usage: 'validate --config FILE', summary: 'check a config; prints every error with its key path and line, exit 1 if any' },
  { verb: 'components', usage: 'components [--json]', summary: 'list every receiver, processor and exporter with its options and defaults' },
  {
    verb: 'stores',
    usage: 'stores [--config FILE] [--json] [--show-credentials]',
    summary:
      "the metric stores (push and pull): live from the admin server when it runs,\nelse from the config and the state directory; pull URLs; with\n--show-credentials also the pull stores' generated usernames and passwords",
  },
];
const TAIL_VERBS: ReadonlyArray<Pick<CliCommand, 'verb' | 'usage' | 'summary'>> = [
  { verb: 'help', usage: 'help | --help', summary: 'this text' },
  { verb: 'version', usage: 'version | --version', summary: 'print the version' },
];

/** The contributed commands by verb; a verb taken twice (or a core verb) is a registry bug. */
function commands(): Map<string, CliCommand> {
  const m = new Map<string, CliCommand>();
  for (const { item, from } of contributedCommands()) {
    if (m.has(item.verb) || [...CORE_VERBS, ...TAIL_VERBS].some((v) => v.verb === item.verb))
      throw new Error(`command "${item.verb}" (from ${from}) is already taken`);
    m.set(item.verb, item);
  }
  return m;
}

function verbs(): string[] {
  return [...CORE_VERBS, ...commands().values(), ...TAIL_VERBS].map((v) => v.verb);
}

function helpText(): string {
  const lines: string[] = [];
  for (const c of [...CORE_VERBS, ...commands().values(), ...TAIL_VERBS]) {
    const head = `  metricport ${c.usage}`;
    const summary = c.summary.split('\n');
    if (head.length <= 38) lines.push(`${head.padEnd(40)}${summary[0]}`, ...summary.slice(1).map((l) => `${' '.repeat(40)}${l}`));
    else lines.push(head, ...summary.map((l) => `${' '.repeat(40)}${l}`));
  }
  return `metricport ${version()}: a metrics pipeline sidecar (OTLP, error events, StatsD, importers in; metric stores out)

Usage:
${lines.join('\n')}

Flags (each also read from its environment variable; flags win):
${settingsHelp()}

Admin endpoints (on --admin-endpoint; every one but GET /healthz needs --admin-token when it is set):
${adminEndpoints()
  .map((e) => `  ${e.endpoint.padEnd(38)}${e.summary}`)
  .join('\n')}

Without --config, metricport runs the embedded config/default.yaml: OTLP/HTTP on
127.0.0.1:4318 (POST /v1/metrics, /v1/logs) into the debug exporter.
Docs: docs/ in the package (one page per component).
`;
}

/** Split argv into a verb and flags; reject unknown flags with a hint. */
function parseArgv(argv: string[]): { verb: string; flags: string[]; json: boolean; showCredentials?: boolean; error?: string } {
  let verb = 'run';
  const flags: string[] = [];
  let json = false;
  let showCredentials = false;
  let i = 0;
  if (argv[0] !== undefined && !argv[0].startsWith('-')) {
    verb = argv[0];
    i = 1;
    if (!verbs().includes(verb)) return { verb, flags, json, error: `unknown command "${verb}" (commands: ${verbs().join(', ')}); see metricport --help` };
  }
  for (; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') return { verb: 'help', flags, json };
    if (a === '--version' || a === '-v') return { verb: 'version', flags, json };
    if (a === '--json') {
      json = true;
      continue;
    }
    if (a === '--show-credentials') {
      if (verb !== 'stores') return { verb, flags, json, error: '--show-credentials only goes with the stores command: metricport stores --show-credentials' };
      showCredentials = true;
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m || !KNOWN_FLAGS.has(m[1] as never)) return { verb, flags, json, error: `unknown flag "${a}"; see metricport --help` };
    if (m[2] !== undefined) flags.push(`--${m[1]}`, m[2]);
    else {
      const v = argv[i + 1];
      if (v === undefined) return { verb, flags, json, error: `flag --${m[1]} needs a value` };
      flags.push(`--${m[1]}`, v);
      i++;
    }
  }
  return showCredentials ? { verb, flags, json, showCredentials } : { verb, flags, json };
}

export async function main(argv: string[]): Promise<number> {
  const contributed = argv[0] === undefined ? undefined : commands().get(argv[0]);
  if (contributed !== undefined) return contributed.run(argv.slice(1), { stdout: process.stdout, stderr: process.stderr, env: process.env });
  const p = parseArgv(argv);
  if (p.error) {
    process.stderr.write(`metricport: ${p.error}\n`);
    return 2;
  }
  if (p.verb === 'help') {
    process.stdout.write(helpText());
    return 0;
  }
  if (p.verb === 'version') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  let settings;
  try {
    settings = loadSettings(p.flags);
  } catch (e) {
    process.stderr.write(`metricport: ${(e as Error).message}\n`);
    return 2;
  }
  switch (p.verb) {
    case 'validate':
      return validateCommand(settings.config === '' ? defaultConfigPath() : settings.config);
    case 'components':
      return componentsCommand(p.json);
    case 'stores':
      return storesCommand(settings, p.json, p.showCredentials === true);
    default:
      return runCommand(settings);
  }
}

function validateCommand(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    process.stderr.write(`metricport: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
  const { issues } = checkConfig(text, file, registry);
  const errors = issues.filter((i) => i.severity === 'error');
  const warnings = issues.filter((i) => i.severity === 'warning');
  for (const w of warnings) process.stderr.write(`warning: ${formatIssue(w)}\n`);
  if (errors.length > 0) {
    process.stderr.write(`${file}: ${errors.length} error${errors.length === 1 ? '' : 's'}:\n`);
    for (const e of errors) process.stderr.write(`  error: ${formatIssue(e)}\n`);
    return 1;
  }
  process.stdout.write(`${file}: valid${warnings.length ? ` (${warnings.length} warning${warnings.length === 1 ? '' : 's'})` : ''}\n`);
  return 0;
}

function componentsCommand(json: boolean): number {
  const contributions = (c: { admin?: readonly { method: string; path: string }[]; commands?: readonly { verb: string }[] }) => ({
    admin: (c.admin ?? []).map((r) => `${r.method} ${displayPath(r.path)}`),
    commands: (c.commands ?? []).map((x) => `metricport ${x.verb}`),
  });
  const all = [
    ...[...registry.receivers.values()].map((f) => ({
      kind: f.kind,
      type: f.type,
      description: f.description,
      signals: f.signals.join(', '),
      schema: f.configSchema,
      ...contributions(f),
    })),
    ...[...registry.processors.values()].map((f) => ({
      kind: f.kind,
      type: f.type,
      description: f.description,
      signals: f.signals.map((s) => `${s.in}→${s.out}`).join(', '),
      schema: f.configSchema,
      ...contributions(f),
    })),
    ...[...registry.exporters.values()].map((f) => ({
      kind: f.kind,
      type: f.type,
      description: f.description,
      signals: f.signals.join(', '),
      schema: f.configSchema,
      ...contributions(f),
    })),
  ];
  const extensions = registeredExtensions().map((e) => ({ kind: 'extension', name: e.name, description: e.description, ...contributions(e) }));
  if (json) {
    process.stdout.write(
      JSON.stringify(
        [
          ...all.map((c) => ({
            kind: c.kind,
            type: c.type,
            description: c.description,
            signals: c.signals,
            options: describeSchema(c.schema),
            admin: c.admin,
            commands: c.commands,
          })),
          ...extensions,
        ],
        null,
        2,
      ) + '\n',
    );
    return 0;
  }
  const adds = (c: { admin: string[]; commands: string[] }) =>
    c.admin.length + c.commands.length === 0 ? '' : `  adds: ${[...c.admin, ...c.commands].join(', ')}\n`;
  let out = '';
  for (const c of all) {
    out += `${c.kind} ${c.type}  [${c.signals}]\n  ${c.description}\n${adds(c)}`;
    const rows = describeSchema(c.schema);
    if (rows.length === 0) out += '  (no options)\n';
    const w = Math.max(0, ...rows.map((r) => r.key.length));
    const wt = Math.max(0, ...rows.map((r) => r.type.length));
    for (const r of rows)
      out += `    ${r.key.padEnd(w)}  ${r.type.padEnd(wt)}  ${r.default === '' ? '' : r.default === '(required)' ? 'required; ' : `default ${r.default}; `}${r.doc}${r.secret ? ' (secret)' : ''}\n`;
    out += '\n';
  }
  for (const e of extensions) out += `extension ${e.name}\n  ${e.description}\n${adds(e)}\n`;
  process.stdout.write(out);
  return 0;
}

/**
 * `metricport stores`: the live table from the admin server when it answers,
 * else the stores of the config with their pull URLs from the state
 * directory. `--show-credentials` adds the pull stores' generated usernames
 * and passwords (the only place besides the state directory itself).
 */
async function storesCommand(settings: Settings, json: boolean, showCredentials: boolean): Promise<number> {
  const file = settings.config === '' ? defaultConfigPath() : settings.config;
  let rows: StoreRow[] | undefined;
  let source = 'live';
  try {
    const r = await fetch(`http://${settings.admin_endpoint.replace(/^0\.0\.0\.0:|^:/, '127.0.0.1:')}/api/v1/stores`, { signal: AbortSignal.timeout(1500) });
    if (r.ok) rows = ((await r.json()) as { stores: StoreRow[] }).stores;
  } catch {
    /* not running: from the config */
  }
  let config;
  try {
    config = loadConfigFile(file, registry);
  } catch (e) {
    if (rows === undefined) {
      process.stderr.write(`metricport: ${(e as Error).message}\n`);
      return 1;
    }
  }
  const stateDirOf = (id: string) => join(settings.state_dir, 'exporter', id.replace('/', '_'));
  if (rows === undefined) {
    source = 'config (metricport is not running at ' + settings.admin_endpoint + ')';
    rows = [];
    for (const [id, c] of config!.exporters) {
      if (!STORE_TYPES.has(c.type)) continue;
      const cfg = c.config as Record<string, unknown>;
      const pull = c.type === 'prometheus' || cfg.mode === 'pull';
      const endpoint = typeof cfg.endpoint === 'string' ? cfg.endpoint : '';
      const row: StoreRow = {
        name: id,
        adapter: c.type,
        mode: pull ? 'pull' : 'push',
        period: typeof cfg.period === 'number' ? cfg.period / 1000 : null,
        last_error: null,
        target: pull ? endpoint : '',
      };
      if (pull) {
        const token = typeof cfg.token === 'string' && cfg.token !== '' ? cfg.token : readStoredCredentials(stateDirOf(id))?.token;
        const path = c.type === 'prometheus' ? '/metrics' : '';
        row.url =
          token === undefined ? null : pullUrl(typeof cfg.external_url === 'string' ? cfg.external_url : undefined, undefined, endpoint, `/${token}${path}`);
        row.last_scrape = null;
      } else row.last_transmission = null;
      rows.push(row);
    }
  }
  const creds: Array<{ name: string; url: string | null; username: string; password: string }> = [];
  if (showCredentials) {
    for (const r of rows) {
      if (r.mode !== 'pull') continue;
      const st = readStoredCredentials(stateDirOf(r.name));
      const cfg = (config?.exporters.get(r.name)?.config ?? {}) as {
        basic_auth?: { username?: string; password?: string };
        username?: string;
        password?: string;
      };
      const cu = cfg.basic_auth?.username ?? cfg.username ?? '';
      const cp = cfg.basic_auth?.password ?? cfg.password ?? '';
      creds.push({
        name: r.name,
        url: r.url ?? null,
        username: cu !== '' ? cu : (st?.username ?? ''),
        password: cp !== '' ? '(set in the config)' : (st?.password ?? ''),
      });
    }
  }
  if (json) {
    process.stdout.write(JSON.stringify(showCredentials ? { source, stores: rows, credentials: creds } : { source, stores: rows }, null, 2) + '\n');
    return 0;
  }
  process.stdout.write(rows.length === 0 ? `no metric stores in ${file}\n(source: ${source})\n` : formatStoreTable(rows, source));
  if (showCredentials) {
    for (const c of creds) {
      process.stdout.write(`\n${c.name}: ${c.url ?? '(no URL yet: start metricport once)'}\n`);
      process.stdout.write(c.username === '' ? '  no Basic auth\n' : `  username: ${c.username}\n  password: ${c.password}\n`);
    }
  }
  return 0;
}
