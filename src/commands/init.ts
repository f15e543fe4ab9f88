/**
 * `metricport init`: asks what comes in and which stores go out (or takes
 * flags for it, so it works without a terminal), asks for the options that
 * have no usable default, and writes a commented config that validates; then
 * prints the two commands to run it.
 *
 *   metricport init                                         (questions on the terminal)
 *   metricport init --non-interactive --receivers otlp,statsd --exporters influxdb \
 *     --set exporters.influxdb.endpoint=http://127.0.0.1:8086 --set exporters.influxdb.db=metrics \
 *     [--output metricport.yaml] [--force]
 *
 * Everything comes from the registry's schema data: which options are asked
 * (required ones, the addresses receivers listen on, and whatever the config
 * check still finds missing, such as influxdb's `db` with api_version v1), their
 * docs and defaults; secrets are written as `${env:NAME}` references.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline/promises';
import { parse as parseYamlValue } from '../vendor/yaml.js';
import type { Factory, Signal } from '../component.js';
import { commentLines, optionLines, yamlInline } from '../config/commented.js';
import { closest, isPlainObject, validateSchema, type Field, type Schema } from '../config/schema.js';
import { checkConfig } from '../config/service-config.js';
import { formatIssue, type ConfigIssue } from '../errors.js';
import { registry } from '../registry.js';
import type { CliIO } from '../extension.js';
import { schemaFilePath } from './schema.js';

const USAGE = `Usage: metricport init [--receivers LIST] [--exporters LIST] [--set PATH=VALUE ...]
                       [--output FILE] [--force] [--non-interactive]

Writes a commented config. On a terminal it asks what comes in, which stores
go out, and the options without a usable default; flags answer questions
ahead. --non-interactive never asks (for scripts): a required option without
a --set is an error naming the flag to add.

  --receivers LIST     receiver types, comma-separated (e.g. otlp,statsd)
  --exporters LIST     exporter types, comma-separated (e.g. influxdb,prometheus)
  --set PATH=VALUE     an option, e.g. --set exporters.influxdb.endpoint=http://127.0.0.1:8086
                       (lists: a,b,c; list items: receivers.sentry.keys[0].application=shop)
  --output FILE, -o    where to write (default metricport.yaml); an existing file needs --force
  --force              overwrite the output file
  --non-interactive    do not ask; fail on what is missing
`;

type Section = 'receivers' | 'processors' | 'exporters';
type Path = Array<string | number>;

interface Options {
  receivers?: string[];
  exporters?: string[];
  sets: Array<{ raw: string; path: string; value: string }>;
  output: string;
  force: boolean;
  interactive: boolean;
}

class UsageError extends Error {}
/** Ctrl-C or the end of input while asking: nothing is written */
class Aborted extends Error {}

function parseArgs(args: string[], isTTY: boolean): Options | 'help' {
  const o: Options = { sets: [], output: 'metricport.yaml', force: false, interactive: isTTY };
  let nonInteractive = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--force') {
      o.force = true;
      continue;
    }
    if (a === '--non-interactive') {
      nonInteractive = true;
      continue;
    }
    const m = /^(--[a-z-]+|-o)(?:=(.*))?$/s.exec(a);
    const flag = m?.[1];
    if (!m || !['--receivers', '--exporters', '--set', '--output', '-o'].includes(flag as string)) throw new UsageError(`unknown flag "${a}"`);
    let v = m[2];
    if (v === undefined) {
      v = args[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
    }
    if (flag === '--receivers') o.receivers = splitList(v);
    else if (flag === '--exporters') o.exporters = splitList(v);
    else if (flag === '--output' || flag === '-o') o.output = v;
    else {
      const eq = v.indexOf('=');
      if (eq <= 0) throw new UsageError(`--set needs PATH=VALUE, got "${v}"`);
      o.sets.push({ raw: v, path: v.slice(0, eq).trim(), value: v.slice(eq + 1) });
    }
  }
  if (nonInteractive) o.interactive = false;
  else if (!isTTY && (o.receivers === undefined || o.exporters === undefined)) {
    throw new UsageError('no terminal to ask on: pass --non-interactive with --receivers and --exporters');
  }
  if (!o.interactive) {
    if (o.receivers === undefined || o.receivers.length === 0) throw new UsageError('--receivers is needed with --non-interactive');
    if (o.exporters === undefined || o.exporters.length === 0) throw new UsageError('--exporters is needed with --non-interactive');
  }
  return o;
}

function splitList(v: string): string[] {
  return v
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

/** `a.b[0].c` → ['a', 'b', 0, 'c'] */
function parsePath(p: string): Path {
  const out: Path = [];
  for (const part of p.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m || m[1] === '') throw new UsageError(`cannot read the option path "${p}"`);
    out.push(m[1] as string);
    for (const idx of (m[2] as string).matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

const pathText = (p: Path) => p.map((x, i) => (typeof x === 'number' ? `[${x}]` : i === 0 ? x : `.${x}`)).join('');

/** The field at a path inside a schema (list indexes step into the items), or a message saying which key is unknown. */
function fieldAt(schema: Schema, path: Path): Field | string {
  let fields: Schema | undefined = schema;
  let f: Field | undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i] as string | number;
    if (typeof seg === 'number') {
      if (f?.type !== 'array') return `${pathText(path.slice(0, i))} is not a list`;
      f = f.items;
      fields = f.type === 'object' ? f.fields : undefined;
      continue;
    }
    if (fields === undefined) return `${pathText(path.slice(0, i))} has no options`;
    f = fields[seg];
    if (f === undefined) {
      const hint = closest(seg, Object.keys(fields));
      return `unknown option "${pathText(path.slice(0, i + 1))}"${hint ? `; did you mean "${hint}"?` : ''}`;
    }
    fields = f.type === 'object' ? f.fields : undefined;
  }
  return f ?? 'empty path';
}

function setAt(root: Record<string, unknown>, path: Path, value: unknown): void {
  let cur: Record<string, unknown> | unknown[] = root;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i] as string | number;
    const nextIsIndex = typeof path[i + 1] === 'number';
    const c = cur as Record<string | number, unknown>;
    if (c[seg] === undefined || c[seg] === null || typeof c[seg] !== 'object') c[seg] = nextIsIndex ? [] : {};
    cur = c[seg] as Record<string, unknown> | unknown[];
  }
  (cur as Record<string | number, unknown>)[path[path.length - 1] as string | number] = value;
}

function getAt(root: unknown, path: Path): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** A typed answer or --set value as the option's value: lists comma-separated (or in YAML flow style), numbers, booleans and mappings read as YAML, text as typed. */
function coerce(f: Field, raw: string): unknown {
  const s = raw.trim();
  if (f.type === 'array' && !s.startsWith('[')) return splitList(s).map((x) => coerce(f.items, x));
  if (f.type === 'string' || f.type === 'enum' || f.type === 'endpoint' || f.type === 'url' || f.type === 'regex') return s;
  return yamlOr(s);
}

function yamlOr(s: string): unknown {
  try {
    return parseYamlValue(s);
  } catch {
    return s;
  }
}

/** The problem with a value for a field, or undefined when the loader takes it. */
function checkValue(f: Field, v: unknown): string | undefined {
  const r = validateSchema({ v: f } as Schema, { v }, '');
  const e = r.issues.find((i) => i.severity === 'error');
  return e === undefined ? undefined : `${e.path === 'v' ? '' : `${e.path.replace(/^v\.?/, '')}: `}${e.message}`;
}

/** The env var a secret is read from: the one its doc suggests (`${env:DD_API_KEY}`), else TYPE_OPTION. */
function secretEnvName(type: string, path: Path, f: Field): string {
  const m = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/.exec(f.doc);
  if (m) return m[1] as string;
  const last = [...path].reverse().find((x) => typeof x === 'string') ?? 'secret';
  return `${type}_${last}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

const isSecret = (f: Field) => f.type === 'string' && f.secret === true;
const hasDefault = (f: Field) => 'default' in f && f.default !== undefined;

interface Question {
  path: Path;
  field: Field;
  why: 'required' | 'listens on';
}

/**
 * What to ask of a component: options required without a default (inside
 * required lists: of their first item), and the host:port it listens on. Not
 * inside optional blocks (tls) or blocks switched off by default (enabled: false).
 */
function questionsFor(schema: Schema, prefix: Path = []): Question[] {
  const out: Question[] = [];
  for (const [k, f] of Object.entries(schema)) {
    const p = [...prefix, k];
    if (f.type === 'object') {
      if (f.optional) continue;
      const en = f.fields.enabled;
      if (en?.type === 'boolean' && en.default === false) continue;
      out.push(...questionsFor(f.fields, p));
    } else if (f.type === 'array' && f.items.type === 'object' && f.required && !hasDefault(f)) {
      out.push(...questionsFor(f.items.fields, [...p, 0]));
    } else if (f.type !== 'any' && f.required && !hasDefault(f)) {
      out.push({ path: p, field: f, why: 'required' });
    } else if (f.type === 'endpoint' && hasDefault(f)) {
      out.push({ path: p, field: f, why: 'listens on' });
    }
  }
  return out;
}

/** A ready-made metric set for error events, so events reach the stores as metrics without more questions. */
const DEFAULT_METRICSETS = {
  sets: [
    {
      name: 'Errors',
      metrics: [{ name: 'ErrorsByApplication', group_by: ['application'], group_by_defaults: { application: 'unknown' }, aggregates: ['count'] }],
    },
  ],
};

interface Plan {
  components: Record<Section, Map<string, Record<string, unknown>>>;
  pipelines: Array<{ id: string; receivers: string[]; processors: string[]; exporters: string[] }>;
}

function signalsOf(f: Factory): Signal[] {
  return f.kind === 'processor' ? [...new Set(f.signals.map((s) => s.in))] : [...f.signals];
}

/** The components and pipelines for a choice of receivers and exporters. */
function plan(receivers: string[], exporters: string[]): Plan {
  const components: Plan['components'] = { receivers: new Map(), processors: new Map(), exporters: new Map() };
  for (const r of receivers) components.receivers.set(r, {});
  for (const e of exporters) components.exporters.set(e, {});
  const pipelines: Plan['pipelines'] = [];
  const metricExporters = exporters.filter((e) => registry.exporters.get(e)!.signals.includes('metrics'));
  const metricReceivers = receivers.filter((r) => signalsOf(registry.receivers.get(r)!).includes('metrics'));
  const eventsOnly = receivers.filter((r) => !signalsOf(registry.receivers.get(r)!).includes('metrics'));
  if (metricReceivers.length > 0) {
    components.processors.set('batch', {});
    pipelines.push({ id: 'metrics', receivers: metricReceivers, processors: ['batch'], exporters: metricExporters });
  }
  if (eventsOnly.length > 0) {
    // error events become metrics (a count per application) on their way to the stores
    components.processors.set('metricsets', structuredClone(DEFAULT_METRICSETS));
    const eventReceivers = receivers.filter((r) => signalsOf(registry.receivers.get(r)!).includes('events'));
    pipelines.push({ id: 'events', receivers: eventReceivers, processors: ['metricsets'], exporters: metricExporters });
  }
  return { components, pipelines };
}

const factoryOf = (section: Section, type: string): Factory | undefined => (registry[section] as ReadonlyMap<string, Factory>).get(type);

function schemaFileLine(): string {
  const file = schemaFilePath();
  return existsSync(file)
    ? `# yaml-language-server: $schema=${file}`
    : '# (editor support: `metricport schema > metricport.schema.json`, then add the line  # yaml-language-server: $schema=metricport.schema.json)';
}

/** The config text for a plan: given values active, every other option commented with its default. */
function render(p: Plan, output: string): string {
  const lines: string[] = [schemaFileLine()];
  const ins = [...p.components.receivers.keys()].join(', ');
  const outs = [...p.components.exporters.keys()].join(', ');
  lines.push(`# Written by \`metricport init\`: ${ins} in; ${outs} out.`);
  lines.push(`# Check it: metricport validate --config ${output}`);
  lines.push(`# Run it:   metricport run --config ${output}`);
  lines.push('# Every option with its default is below as a comment; all of them: `metricport components`');
  lines.push('# or docs/reference/ in the package.');
  for (const section of ['receivers', 'processors', 'exporters'] as const) {
    lines.push('', `${section}:`);
    for (const [type, values] of p.components[section]) {
      const f = factoryOf(section, type)!;
      lines.push(...commentLines(`${f.description}`, '  '));
      lines.push(`  ${type}:`);
      lines.push(...optionLines(f.configSchema, values, '    ', true));
    }
  }
  lines.push('', 'service:', '  pipelines:');
  for (const pl of p.pipelines) {
    lines.push(`    ${pl.id}:`);
    lines.push(`      receivers: ${yamlInline(pl.receivers)}`);
    if (pl.processors.length > 0) lines.push(`      processors: ${yamlInline(pl.processors)}`);
    lines.push(`      exporters: ${yamlInline(pl.exporters)}`);
  }
  return lines.join('\n') + '\n';
}

/** The env var names referenced without a default, e.g. for secrets. */
function envRefs(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1] as string))];
}

class Asker {
  private rl: Interface;
  private closed = false;
  constructor(private io: CliIO) {
    this.rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    this.rl.on('close', () => {
      this.closed = true;
    });
    this.rl.on('SIGINT', () => {
      io.stdout.write('\n');
      this.rl.close();
    });
  }
  async ask(prompt: string): Promise<string> {
    if (this.closed) throw new Aborted();
    const ac = new AbortController();
    const onClose = () => ac.abort();
    this.rl.once('close', onClose);
    try {
      return await this.rl.question(prompt, { signal: ac.signal });
    } catch {
      throw new Aborted();
    } finally {
      this.rl.off('close', onClose);
    }
  }
  say(text: string): void {
    this.io.stdout.write(text);
  }
  close(): void {
    this.rl.close();
  }
}

function menu(section: 'receivers' | 'exporters'): string {
  const all = [...(registry[section] as ReadonlyMap<string, Factory>).values()];
  const w = Math.max(...all.map((f) => f.type.length));
  return all
    .map((f, i) => `  ${String(i + 1).padStart(2)}) ${f.type.padEnd(w)}  ${f.description.length > 90 ? `${f.description.slice(0, 89)}…` : f.description}\n`)
    .join('');
}

/** Types from names or menu numbers; a message for the first one that is neither. */
function pickTypes(section: 'receivers' | 'exporters', words: string[]): string[] | string {
  const all = [...(registry[section] as ReadonlyMap<string, Factory>).keys()];
  const out: string[] = [];
  for (const w of words) {
    const n = /^\d+$/.test(w) ? all[Number(w) - 1] : all.includes(w) ? w : undefined;
    if (n === undefined) {
      const hint = /^\d+$/.test(w) ? undefined : closest(w, all);
      return `unknown ${section.slice(0, -1)} "${w}"${hint ? `; did you mean "${hint}"?` : ''} (choose from: ${all.join(', ')})`;
    }
    if (!out.includes(n)) out.push(n);
  }
  return out.length === 0 ? `choose at least one (${all.join(', ')})` : out;
}

async function askValue(asker: Asker, label: string, f: Field, dflt: string | undefined): Promise<unknown> {
  for (;;) {
    const choices = f.type === 'enum' ? ` {${f.values.join('|')}}` : '';
    const a = (await asker.ask(`${label}${choices}${dflt !== undefined ? ` [${dflt}]` : ''}: `)).trim();
    const raw = a === '' ? dflt : a;
    if (raw === undefined || raw === '') {
      asker.say('  a value is needed\n');
      continue;
    }
    const v = coerce(f, raw);
    const problem = checkValue(f, v);
    if (problem === undefined) return v;
    asker.say(`  ${problem}\n`);
  }
}

export async function initCommand(args: string[], io: CliIO): Promise<number> {
  let o: Options | 'help';
  try {
    o = parseArgs(args, process.stdin.isTTY === true && process.stdout.isTTY === true);
  } catch (e) {
    io.stderr.write(`metricport init: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (o === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  const asker = o.interactive ? new Asker(io) : undefined;
  try {
    return await run(o, io, asker);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`metricport init: ${e.message}\n`);
      return 2;
    }
    if (e instanceof Aborted) {
      io.stderr.write('metricport init: stopped; nothing written\n');
      return 130;
    }
    throw e;
  } finally {
    asker?.close();
  }
}

async function run(o: Options, io: CliIO, asker: Asker | undefined): Promise<number> {
  if (asker) asker.say('metricport init: a config in a few questions (Enter takes the [default]).\n\n');
  const choose = async (section: 'receivers' | 'exporters', given: string[] | undefined, question: string): Promise<string[]> => {
    if (given !== undefined) {
      const r = pickTypes(section, given);
      if (typeof r === 'string') throw new UsageError(`--${section}: ${r}`);
      return r;
    }
    for (;;) {
      asker!.say(`${question} (numbers or names, comma-separated)\n${menu(section)}`);
      const r = pickTypes(section, splitList(await asker!.ask('> ')));
      if (typeof r !== 'string') return r;
      asker!.say(`  ${r}\n`);
    }
  };
  const receivers = await choose('receivers', o.receivers, 'What comes in?');
  const exporters = await choose('exporters', o.exporters, 'Which stores go out?');
  const p = plan(receivers, exporters);

  // --set values first: they answer questions ahead
  const setPaths = new Set<string>();
  for (const s of o.sets) {
    const path = parsePath(s.path);
    const [section, type] = path as [string, string];
    if (!['receivers', 'processors', 'exporters'].includes(section) || typeof type !== 'string' || path.length < 3) {
      throw new UsageError(`--set ${s.raw}: the path is <receivers|processors|exporters>.<type>.<option>`);
    }
    const values = p.components[section as Section].get(type);
    if (values === undefined)
      throw new UsageError(
        `--set ${s.raw}: no ${section.slice(0, -1)} "${type}" in this config (it has: ${[...p.components[section as Section].keys()].join(', ') || 'none'})`,
      );
    const f = fieldAt(factoryOf(section as Section, type)!.configSchema, path.slice(2));
    if (typeof f === 'string') throw new UsageError(`--set ${s.raw}: ${f}`);
    const v = coerce(f, s.value);
    const problem = checkValue(f, v);
    if (problem !== undefined) throw new UsageError(`--set ${s.raw}: ${problem}`);
    setAt(values, path.slice(2), v);
    setPaths.add(pathText(path));
  }

  // the questions of each component
  const missing: string[] = [];
  for (const section of ['receivers', 'exporters'] as const) {
    for (const [type, values] of p.components[section]) {
      const qs = questionsFor(factoryOf(section, type)!.configSchema);
      if (asker && qs.length > 0) asker.say(`\n${type} ${section.slice(0, -1)}:\n`);
      for (const q of qs) {
        if (setPaths.has(pathText([section, type, ...q.path])) || getAt(values, q.path) !== undefined) continue;
        const label = `  ${pathText(q.path)}`;
        if (isSecret(q.field)) {
          // secrets are read from the environment, never written into the file
          const env = secretEnvName(type, q.path, q.field);
          const name = asker
            ? String(
                await askValue(
                  asker,
                  `${label} (secret; ${q.field.doc}) — environment variable to read it from`,
                  { type: 'string', doc: '', pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, patternHint: 'an environment variable name' },
                  env,
                ),
              )
            : env;
          setAt(values, q.path, `\${env:${name}}`);
        } else if (q.why === 'listens on') {
          const d = (q.field as { default: string }).default;
          setAt(values, q.path, asker ? await askValue(asker, `${label} (${q.why})`, q.field, d) : d);
        } else if (asker) {
          setAt(values, q.path, await askValue(asker, `${label} (${q.field.doc})`, q.field, undefined));
        } else {
          missing.push(`${pathText([section, type, ...q.path])}: ${q.field.doc} (--set ${pathText([section, type, ...q.path])}=VALUE)`);
        }
      }
    }
  }
  if (missing.length > 0) throw new UsageError(`required options are missing:\n${missing.map((m) => `  ${m}\n`).join('')}`);

  // what the config check still finds (cross-field rules, e.g. influxdb db with api_version v1): ask, or fail naming the flag
  let text = '';
  for (let round = 0; ; round++) {
    text = render(p, o.output);
    const problems = remainingErrors(text, o.output);
    if (problems.length === 0) break;
    const askable = problems.map((i) => ({ issue: i, target: askTarget(p, i) }));
    if (!asker || round >= 5 || askable.some((a) => a.target === undefined)) {
      io.stderr.write(
        `metricport init: the config would not be valid:\n${problems.map((i) => `  ${formatIssue({ ...i, file: undefined, line: undefined })}\n`).join('')}`,
      );
      const flags = askable.filter((a) => a.target !== undefined).map((a) => `--set ${a.issue.path}=VALUE`);
      if (flags.length > 0) io.stderr.write(`add: ${flags.join(' ')}\n`);
      return 1;
    }
    for (const { issue, target } of askable) {
      const t = target!;
      asker.say(`\n${issue.path}: ${issue.message}\n`);
      setAt(t.values, t.path, await askValue(asker, `  ${pathText(t.path)} (${t.field.doc})`, t.field, undefined));
    }
  }

  // write
  let force = o.force;
  if (existsSync(o.output) && !force) {
    if (!asker) throw new UsageError(`${o.output} exists; pass --force to overwrite it, or --output another file`);
    force = /^y(es)?$/i.test((await asker.ask(`\n${o.output} exists. Overwrite it? [y/N] `)).trim());
    if (!force) {
      io.stderr.write('metricport init: nothing written\n');
      return 1;
    }
  }
  try {
    writeFileSync(o.output, text, { flag: force ? 'w' : 'wx' });
  } catch (e) {
    io.stderr.write(`metricport init: cannot write ${o.output}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
  const env = envRefs(text).filter((n) => (process.env[n] ?? '') === '');
  let out = `\nWrote ${o.output} (${receivers.join(', ')} in; ${exporters.join(', ')} out).\n`;
  if (env.length > 0)
    out += `It reads ${env.join(', ')} from the environment: set ${env.length === 1 ? 'it' : 'them'} first (export ${env.map((n) => `${n}=...`).join(' ')}).\n`;
  out += `Next:\n  metricport validate --config ${o.output}\n  metricport run --config ${o.output}\n`;
  io.stdout.write(out);
  return 0;
}

/** Errors of the rendered config; env vars it references that are not set yet (the secrets the user sets before running) stand in with a placeholder. */
function remainingErrors(text: string, file: string): ConfigIssue[] {
  const env = { ...process.env };
  for (const n of envRefs(text)) if ((env[n] ?? '') === '') env[n] = 'metricport-init-placeholder';
  return checkConfig(text, file, registry, env).issues.filter((i) => i.severity === 'error');
}

/** The component option an error is about, when it can be asked for. */
function askTarget(p: Plan, i: ConfigIssue): { values: Record<string, unknown>; path: Path; field: Field } | undefined {
  let path: Path;
  try {
    path = parsePath(i.path);
  } catch {
    return undefined;
  }
  const [section, id] = path as [Section, string];
  const values = p.components[section]?.get(id);
  if (values === undefined || path.length < 3) return undefined;
  const f = fieldAt(factoryOf(section, id)!.configSchema, path.slice(2));
  if (typeof f === 'string' || f.type === 'object' || f.type === 'any' || !isPlainObject(values)) return undefined;
  return { values, path: path.slice(2), field: f };
}
