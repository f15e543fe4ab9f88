/**
 * The config JSON Schema checked with a real validator: ajv in draft 2020-12
 * mode, strict (unknown keywords and formats are errors), with the editor
 * keywords the schema uses declared.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { configJsonSchema, EDITOR_KEYWORDS, type JsonSchema, type SchemaRegistry } from '../../src/config/jsonschema.js';
import { registry } from '../../src/registry.js';

export function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
  for (const k of EDITOR_KEYWORDS) ajv.addKeyword(k);
  return ajv;
}

let cached: ValidateFunction | undefined;

/** The validator of the schema generated from `reg` (the real registry by default). */
export function configValidator(reg: SchemaRegistry = registry): ValidateFunction {
  if (reg === registry && cached) return cached;
  const v = newAjv().compile(configJsonSchema(reg));
  if (reg === registry) cached = v;
  return v;
}

export function compileSchema(schema: JsonSchema): ValidateFunction {
  return newAjv().compile(schema);
}

/** `/a/b/0/c` → `a.b[0].c` (the loader's key paths) */
export function pointerToPath(p: string): string {
  let out = '';
  for (const raw of p.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  }
  return out;
}

const join = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`);

/** Every key path an ajv error may be said to be about (a required option: the parent and the option; a duplicate: the list and both items). */
export function errorPaths(errors: readonly ErrorObject[] | null | undefined): Set<string> {
  const out = new Set<string>();
  for (const e of errors ?? []) {
    const p = pointerToPath(e.instancePath);
    out.add(p);
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'additionalProperties') out.add(join(p, params.additionalProperty as string));
    if (e.keyword === 'required') out.add(join(p, params.missingProperty as string));
    if (e.keyword === 'uniqueItems') {
      out.add(join(p, params.i as number));
      out.add(join(p, params.j as number));
    }
  }
  return out;
}

/** Validate YAML text as an editor sees it (before `${env:...}` expansion). */
export function validateYamlText(text: string, reg: SchemaRegistry = registry): { ok: boolean; errors: ErrorObject[]; paths: Set<string> } {
  const v = configValidator(reg);
  const ok = v(parse(text) ?? null) as boolean;
  const errors = ok ? [] : [...(v.errors ?? [])];
  return { ok, errors, paths: errorPaths(errors) };
}

export function describeErrors(errors: readonly ErrorObject[]): string {
  return errors
    .slice(0, 12)
    .map(
      (e) =>
        `${pointerToPath(e.instancePath) || '(root)'} ${e.message}${e.keyword === 'additionalProperties' ? ` (${(e.params as { additionalProperty: string }).additionalProperty})` : ''}`,
    )
    .join('; ');
}
