/**
 * A component's settings as commented YAML, from its schema: the values given
 * are written out, every other option is a comment with its default (and,
 * one level down from the component, its doc line above), so a user sees
 * what can be set and uncomments what they need. `metricport init` writes
 * configs with it.
 */
import { stringify } from '../vendor/yaml.js';
import type { Field, Schema } from './schema.js';

const WIDTH = 100;

/** A value as YAML on one line: scalars as the yaml library quotes them, lists and maps in flow style. */
export function yamlInline(v: unknown): string {
  return stringify(v, { collectionStyle: 'flow', flowCollectionPadding: false, lineWidth: 0 }).trimEnd();
}

/** `text` as comment lines at `indent`, wrapped at WIDTH columns. */
export function commentLines(text: string, indent: string): string[] {
  const words = text.split(/\s+/).filter((w) => w !== '');
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur !== '' && indent.length + 2 + cur.length + 1 + w.length > WIDTH) {
      lines.push(`${indent}# ${cur}`);
      cur = w;
    } else cur = cur === '' ? w : `${cur} ${w}`;
  }
  if (cur !== '') lines.push(`${indent}# ${cur}`);
  return lines;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The default of a field for display in a comment, or undefined when it has none. */
function shownDefault(f: Field): unknown {
  if (f.type === 'object' || f.type === 'any') return undefined;
  return 'default' in f ? f.default : undefined;
}

/**
 * Lines for the options of `schema` at `indent`: those in `values` active,
 * the others commented out. `docs` puts each option's doc line above it.
 */
export function optionLines(schema: Schema, values: Record<string, unknown>, indent: string, docs: boolean): string[] {
  const out: string[] = [];
  for (const [k, f] of Object.entries(schema)) {
    const has = Object.prototype.hasOwnProperty.call(values, k);
    if (docs) out.push(...commentLines(`${f.doc}${f.type !== 'object' && !has && f.required && shownDefault(f) === undefined ? ' (required)' : ''}`, indent));
    if (has) out.push(...activeLines(k, f, values[k], indent, docs));
    else out.push(...inactiveLines(k, f, indent));
  }
  return out;
}

function activeLines(k: string, f: Field, v: unknown, indent: string, docs: boolean): string[] {
  if (f.type === 'object' && isObj(v)) return [`${indent}${k}:`, ...optionLines(f.fields, v, `${indent}  `, docs)];
  if (f.type === 'array' && f.items.type === 'object' && Array.isArray(v) && v.some(isObj)) {
    // a list of mappings, block style: each item's values in schema order (no comments inside items)
    const fields = f.items.fields;
    return [
      `${indent}${k}:`,
      ...v.flatMap((item) => {
        const lines = isObj(item) ? valueLines(fields, item, `${indent}    `) : [`${indent}    ${yamlInline(item)}`];
        return lines.map((l, i) => (i === 0 ? `${indent}  - ${l.slice(indent.length + 4)}` : l));
      }),
    ];
  }
  return [`${indent}${k}: ${yamlInline(v)}`];
}

/** Only the options given, in schema order (keys the schema does not know last, as given). */
function valueLines(schema: Schema, values: Record<string, unknown>, indent: string): string[] {
  const out: string[] = [];
  for (const [k, f] of Object.entries(schema)) {
    if (!Object.prototype.hasOwnProperty.call(values, k)) continue;
    const v = values[k];
    if (f.type === 'object' && isObj(v)) out.push(`${indent}${k}:`, ...valueLines(f.fields, v, `${indent}  `));
    else out.push(...activeLines(k, f, v, indent, false));
  }
  for (const [k, v] of Object.entries(values)) if (!(k in schema)) out.push(`${indent}${k}: ${yamlInline(v)}`);
  return out;
}

/** An option left at its default, commented out: `# key: default`; an object as a block of its defaults (uncomment the block to edit it). */
function inactiveLines(k: string, f: Field, indent: string): string[] {
  return defaultLines(k, f, '').map((l) => `${indent}# ${l}`);
}

function defaultLines(k: string, f: Field, rel: string): string[] {
  if (f.type === 'object') return [`${rel}${k}:`, ...Object.entries(f.fields).flatMap(([ck, cf]) => defaultLines(ck, cf, `${rel}  `))];
  const d = shownDefault(f);
  return [d === undefined ? `${rel}${k}:` : `${rel}${k}: ${yamlInline(d)}`];
}
