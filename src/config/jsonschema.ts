/**
 * The JSON Schema (draft 2020-12) of a whole config file, generated from the
 * registry's schema data only (each factory's type, description, signals and
 * configSchema; no component is created or loaded). Editors use it through
 * the `# yaml-language-server: $schema=...` line; `metricport schema` prints
 * it and scripts/gen-docs.ts writes docs/metricport.schema.json.
 *
 * The rule: the JSON Schema never rejects a file the loader accepts, and it
 * rejects what the loader rejects wherever a JSON Schema can say so (unknown
 * keys and component types, wrong types, enum values, duration and size
 * syntax, host:port, required options, pipeline lists). What it cannot say
 * (cross-field checks, bounds of durations written as strings, ids that are
 * not defined in the same file) is left to `metricport validate`.
 *
 * The file is read before `${env:NAME}` expansion, so every value that is not
 * a plain string also accepts a string holding an env reference; and the
 * loader's leniency is kept: numbers and booleans as strings ("42", "true"),
 * an empty value (null) for an option with a default or a section.
 */
import type { Signal } from '../component.js';
import { memoryLimiterSchema } from '../memorylimiter.js';
import { clusterSchema } from '../cluster/config.js';
import { BYTES_UNITS, DURATION_UNITS, parseBytes, parseDuration, type Field, type Schema } from './schema.js';

export type JsonSchema = { [k: string]: unknown };

/** What the generator reads of a factory: its schema data, never its implementation. */
export interface ComponentInfo {
  readonly kind: 'receiver' | 'processor' | 'exporter';
  readonly type: string;
  readonly description: string;
  readonly signals: readonly Signal[] | ReadonlyArray<{ readonly in: Signal; readonly out: Signal }>;
  readonly configSchema: Schema;
}

export interface SchemaRegistry {
  receivers: ReadonlyMap<string, ComponentInfo>;
  processors: ReadonlyMap<string, ComponentInfo>;
  exporters: ReadonlyMap<string, ComponentInfo>;
}

export const SECTIONS = ['receivers', 'processors', 'exporters'] as const;
export type Section = (typeof SECTIONS)[number];

/**
 * Keywords besides the standard ones: VS Code's JSON schema extensions, which
 * yaml-language-server reads (a better message than the pattern's source).
 * A strict validator must be told about them (ajv: `addKeyword`).
 */
export const EDITOR_KEYWORDS = ['patternErrorMessage'] as const;

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
/** a case-insensitive alternative of literal strings, longest first (JSON Schema patterns have no flags) */
const anyCase = (words: string[]) =>
  [...words]
    .sort((a, b) => b.length - a.length)
    .map((w) => [...w].map((c) => (c.toLowerCase() !== c.toUpperCase() ? `[${c.toLowerCase()}${c.toUpperCase()}]` : esc(c))).join(''))
    .join('|');

const D_UNIT = `(?:${Object.keys(DURATION_UNITS)
  .sort((a, b) => b.length - a.length)
  .map(esc)
  .join('|')})`;
const NUM = '\\d+(?:\\.\\d+)?';
/**
 * Exactly the strings parseDuration() accepts as a duration >= 0: one number
 * with an optional unit (spaces allowed around; a negative number only when
 * it is zero), or Go-style compounds like 1h30m.
 */
const DURATION_PATTERN = `^\\s*(?:(?:-?0+(?:\\.0+)?|${NUM})\\s*${D_UNIT}?|(?:${NUM}${D_UNIT})+)\\s*$`;
/** Exactly the strings parseBytes() accepts: a number and an optional unit, any case. */
const BYTES_PATTERN = `^\\s*${NUM}\\s*(?:${anyCase(Object.keys(BYTES_UNITS))})?\\s*$`;
const PORT = '(?:\\d{1,4}|[0-5]\\d{4}|6[0-4]\\d{3}|65[0-4]\\d{2}|655[0-2]\\d|6553[0-5])';
/** Exactly the strings parseEndpoint() accepts: host:port, [v6]:port, :port; port 0..65535. */
const ENDPOINT_PATTERN = `^\\s*(?:\\[[0-9a-fA-F:.]+\\]|[^:\\[\\]]*):${PORT}\\s*$`;
/** an http or https URL (the loader parses it with new URL(); this checks the scheme) */
const URL_PATTERN = '^[\\u0000-\\u0020]*[hH][tT][tT][pP][sS]?:';
/** a string with an `${env:NAME}`, `${env:NAME:-default}` or `${file:PATH}` reference, expanded at load */
const ENV_PATTERN = '\\$\\{(?:env:[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?|file:[^}]+)\\}';
const INT_STRING = '^\\s*[+-]?\\d+\\s*$';
const NUMBER_STRING = '^\\s*[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?\\s*$';

/** `$defs.envReference`, which option schemas refer to */
export const ENV_REFERENCE: JsonSchema = {
  description: 'A value read at load time: ${env:NAME} or ${env:NAME:-default} from the environment, ${file:PATH} from a file (a secret the console stored).',
  type: 'string',
  pattern: ENV_PATTERN,
  patternErrorMessage: 'expected ${env:NAME}, ${env:NAME:-default} or ${file:PATH}',
};
const ENV_REF = { $ref: '#/$defs/envReference' };
const orEnv = (pattern: string) => `${pattern}|${ENV_PATTERN}`;
const withNull = (types: string[], nullable: boolean) => (nullable ? [...types, 'null'] : types.length === 1 ? types[0] : types);

/** A field's value is absent-or-null-tolerant when the loader fills it (a default) or does not need it. */
function nullable(f: Field): boolean {
  if (f.type === 'object') return !objectRequired(f.fields);
  if (f.type === 'any') return true;
  return !(f.required && !('default' in f && f.default !== undefined));
}

/** true when validating `{}` against these fields fails: some option is required without a default, here or in a nested (non-optional) object */
export function objectRequired(fields: Schema): boolean {
  return Object.values(fields).some((f) =>
    f.type === 'object' ? !f.optional && objectRequired(f.fields) : f.type !== 'any' && f.required === true && !('default' in f && f.default !== undefined),
  );
}

/** The sentence about a value's syntax that the description ends with, for types whose syntax is not obvious. */
function syntaxNote(f: Field): string {
  switch (f.type) {
    case 'duration':
      return 'A duration: "250ms", "10s", "5m", "1h", "7d", "1h30m", or a number of seconds.';
    case 'bytes':
      return 'A size: "512KiB", "64MiB" (powers of 1024), "5MB" (powers of 1000), or a number of bytes.';
    case 'endpoint':
      return 'host:port, e.g. "127.0.0.1:4318", "0.0.0.0:4318", "[::1]:4318".';
    default:
      return '';
  }
}

function describe(f: Field): string {
  const note = syntaxNote(f);
  return note === '' ? f.doc : `${f.doc}${/[.!?)]$/.test(f.doc) ? '' : '.'} ${note}`;
}

/** JSON Schema of one option. */
export function fieldJsonSchema(f: Field): JsonSchema {
  const s: JsonSchema = { description: describe(f) };
  const n = nullable(f);
  if ('default' in f && f.default !== undefined) s.default = f.default;
  switch (f.type) {
    case 'string': {
      s.type = withNull(['string', 'number', 'boolean'], n);
      if (f.nonEmpty) s.minLength = 1;
      if (f.pattern) {
        s.pattern = orEnv(f.pattern.source);
        s.patternErrorMessage = `expected ${f.patternHint ?? `a string matching ${f.pattern.source}`}, or \${env:NAME}`;
      }
      if (f.secret) s.writeOnly = true;
      break;
    }
    case 'int':
    case 'number': {
      s.type = withNull([f.type === 'int' ? 'integer' : 'number', 'string'], n);
      if (f.min !== undefined) s.minimum = f.min;
      if (f.max !== undefined) s.maximum = f.max;
      s.pattern = orEnv(f.type === 'int' ? INT_STRING : NUMBER_STRING);
      s.patternErrorMessage = `expected ${f.type === 'int' ? 'an integer' : 'a number'}, or \${env:NAME}`;
      break;
    }
    case 'boolean':
      s.type = withNull(['boolean', 'string'], n);
      s.pattern = orEnv('^(?:true|false)$');
      s.patternErrorMessage = 'expected true or false, or ${env:NAME}';
      break;
    case 'duration':
    case 'bytes': {
      const parse = f.type === 'duration' ? (v: string | number) => (parseDuration(v) as number) / 1000 : (v: string | number) => parseBytes(v) as number;
      s.type = withNull(['number', 'string'], n);
      s.minimum = f.min !== undefined ? parse(f.min) : 0;
      if (f.max !== undefined) s.maximum = parse(f.max);
      s.pattern = orEnv(f.type === 'duration' ? DURATION_PATTERN : BYTES_PATTERN);
      s.patternErrorMessage =
        f.type === 'duration'
          ? 'expected a duration like "250ms", "10s", "5m", "1h30m", or a number of seconds'
          : 'expected a size like "512KiB", "64MiB", "5MB", or a number of bytes';
      break;
    }
    case 'enum':
      // the enum (completion offers its values) or an env reference
      s.anyOf = n ? [{ enum: [...f.values] }, ENV_REF, { type: 'null' }] : [{ enum: [...f.values] }, ENV_REF];
      break;
    case 'endpoint':
      s.type = withNull(['string'], n);
      s.pattern = orEnv(ENDPOINT_PATTERN);
      s.patternErrorMessage = 'expected host:port, e.g. "127.0.0.1:4318", "0.0.0.0:4318", "[::1]:4318", or ${env:NAME}';
      break;
    case 'url':
      s.type = withNull(['string'], n);
      s.pattern = orEnv(URL_PATTERN);
      s.patternErrorMessage = 'expected an http:// or https:// URL, or ${env:NAME}';
      break;
    case 'regex':
      s.type = withNull(['string'], n);
      break;
    case 'object':
      Object.assign(s, objectJsonSchema(f.fields), { type: withNull(['object'], n) });
      break;
    case 'array':
      s.type = withNull(['array'], n);
      s.items = fieldJsonSchema(f.items);
      if (f.minItems !== undefined) s.minItems = f.minItems;
      break;
    case 'map':
      s.type = withNull(['object'], n);
      s.additionalProperties = fieldJsonSchema(f.values);
      if (f.secretValues) (s.additionalProperties as JsonSchema).writeOnly = true;
      break;
    case 'any':
      break;
  }
  return s;
}

/** An object of options: every option a property, unknown keys rejected, required ones listed. */
function objectJsonSchema(fields: Schema): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [k, f] of Object.entries(fields)) {
    properties[k] = fieldJsonSchema(f);
    if (f.type === 'object' ? !f.optional && objectRequired(f.fields) : !nullable(f)) required.push(k);
  }
  const s: JsonSchema = { type: 'object', properties, additionalProperties: false };
  if (required.length > 0) s.required = required;
  return s;
}

/** What a component takes and gives, in words: "takes metrics", "takes events, gives metrics". */
export function signalsText(c: ComponentInfo): string {
  if (c.kind === 'receiver') return `gives ${(c.signals as Signal[]).join(' and ')}`;
  if (c.kind === 'exporter') return `takes ${(c.signals as Signal[]).join(' and ')}`;
  return (c.signals as Array<{ in: Signal; out: Signal }>).map((p) => `takes ${p.in}, gives ${p.out}`).join('; ');
}

const ID_NAME = '[A-Za-z0-9_.-]+';

function sectionJsonSchema(section: Section, comps: ReadonlyMap<string, ComponentInfo>): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const patternProperties: Record<string, JsonSchema> = {};
  for (const c of comps.values()) {
    const ref = { $ref: `#/$defs/${c.kind}.${c.type}` };
    properties[c.type] = ref;
    patternProperties[`^${esc(c.type)}/${ID_NAME}$`] = ref;
  }
  return {
    description: `${section[0]!.toUpperCase()}${section.slice(1)}: component id ("type" or "type/name") → its settings. Types: ${[...comps.keys()].join(', ')}.`,
    type: ['object', 'null'],
    properties,
    patternProperties,
    additionalProperties: false,
  };
}

function componentJsonSchema(c: ComponentInfo): JsonSchema {
  const s = objectJsonSchema(c.configSchema);
  return {
    title: `${c.type} ${c.kind}`,
    description: `${c.description} (${signalsText(c)})`,
    ...s,
    type: objectRequired(c.configSchema) ? 'object' : ['object', 'null'],
  };
}

/** A list of component ids in a pipeline: a known type, or type/name; receivers also `pipeline/<id>`. */
function idListJsonSchema(section: Section, comps: ReadonlyMap<string, ComponentInfo>, required: boolean): JsonSchema {
  const types = [...comps.keys()];
  const alternatives: JsonSchema[] = [{ enum: types }, { type: 'string', pattern: `^(?:${types.map(esc).join('|')})/${ID_NAME}$` }];
  if (section === 'receivers') alternatives.push({ type: 'string', pattern: '^pipeline/.+$', description: 'the output of another pipeline' });
  alternatives.push(ENV_REF);
  const what = section.slice(0, -1);
  return {
    description: `${what} ids (each defined under "${section}:")${section === 'receivers' ? ', or pipeline/<id> to take the output of another pipeline' : ''}${section === 'processors' ? ', in order' : ''}.${required ? ' At least one.' : ''}`,
    type: required ? 'array' : ['array', 'null'],
    items: { anyOf: alternatives },
    uniqueItems: true,
    ...(required ? { minItems: 1 } : {}),
  };
}

/** The JSON Schema of a whole config file for this registry. */
export function configJsonSchema(reg: SchemaRegistry): JsonSchema {
  const defs: Record<string, JsonSchema> = { envReference: ENV_REFERENCE };
  for (const section of SECTIONS) for (const c of reg[section].values()) defs[`${c.kind}.${c.type}`] = componentJsonSchema(c);
  const pipeline: JsonSchema = {
    description:
      'A pipeline: receivers → processors → exporters. Its id names the signal entering it (metrics, metrics/<name>, events, events/<name>; logs is an alias of events), or set `signal`.',
    type: 'object',
    properties: {
      receivers: idListJsonSchema('receivers', reg.receivers, true),
      processors: idListJsonSchema('processors', reg.processors, false),
      exporters: idListJsonSchema('exporters', reg.exporters, false),
      signal: { description: 'The signal entering the pipeline, when its id does not say it.', anyOf: [{ enum: ['metrics', 'events'] }, ENV_REF] },
    },
    required: ['receivers'],
    additionalProperties: false,
  };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'metricport configuration',
    description:
      'receivers, processors and exporters by id, and service.pipelines joining them. Generated from the component schemas (metricport schema); see docs/configuration.md.',
    type: 'object',
    properties: {
      receivers: sectionJsonSchema('receivers', reg.receivers),
      processors: sectionJsonSchema('processors', reg.processors),
      exporters: sectionJsonSchema('exporters', reg.exporters),
      service: {
        description: 'The pipelines, the memory limiter and the cluster.',
        type: 'object',
        properties: {
          pipelines: {
            description: 'Pipeline id → its receivers, processors and exporters. At least one.',
            type: 'object',
            minProperties: 1,
            additionalProperties: pipeline,
          },
          memory_limiter: {
            description: 'Refuse and shed data when the process uses too much memory (docs/reliability.md).',
            ...objectJsonSchema(memoryLimiterSchema),
            type: ['object', 'null'],
          },
          cluster: {
            description: 'Cluster mode on NATS JetStream: membership, partition and poller leases, shared watermarks (docs/cluster.md).',
            ...objectJsonSchema(clusterSchema),
            type: ['object', 'null'],
          },
        },
        required: ['pipelines'],
        additionalProperties: false,
      },
    },
    required: ['service'],
    additionalProperties: false,
    $defs: defs,
  };
}

/** The schema as the file written to docs/ and printed by `metricport schema`. */
export function configJsonSchemaText(reg: SchemaRegistry): string {
  return JSON.stringify(configJsonSchema(reg), null, 2) + '\n';
}
