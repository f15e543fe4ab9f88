/**
 * "Add a metric store" from the console (docs/console.md):
 *
 * - `GET /api/v1/console/store-types`: the store adapters with the form of
 *   each, generated from the component's config schema (the top-level
 *   options a form can hold: strings, numbers, booleans, durations, sizes,
 *   choices, endpoints and URLs; each with its default, whether it is required
 *   and whether it is a secret), and the pipelines a store can join.
 * - `POST /api/v1/console/stores`: adds `exporters.<type>[/<name>]` with the
 *   options given (empty ones left to their defaults) and appends its id to
 *   the chosen pipelines' exporters, validates the whole file (every error
 *   returned with its key path and the form field), keeps `<file>.bak`,
 *   writes it atomically and reloads (the previous file put back if the reload
 *   refuses it). A secret typed into the form is never written into the
 *   config file nor answered back: it goes into a file of its own
 *   (`<state>/console-secrets/<store>.<option>`, mode 0600, the folder 0700)
 *   and the config refers to it as `${file:…}`.
 *
 * Writing needs --admin-console-allow-config-changes true; `"dry_run": true`
 * answers the YAML it would add (with the `${file:…}` references, never the
 * secret).
 */
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Document, isMap, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from '../vendor/yaml.js';
import type { Field } from '../config/schema.js';
import { checkConfig } from '../config/service-config.js';
import { bad, readConfigDocument, writeAndReload } from './configfile.js';
import type { AdminContext, AdminReply } from '../extension.js';
import { registry } from '../registry.js';

/** the exporters that are metric stores (docs/metric-stores.md), in the order the form offers them */
const STORE_TYPES = ['influxdb', 'graphite', 'datadog', 'grafana', 'circonus', 'prometheus'];
const FORM_TYPES = new Set(['string', 'int', 'number', 'boolean', 'duration', 'bytes', 'enum', 'endpoint', 'url']);
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

interface FormField {
  key: string;
  type: string;
  doc: string;
  required: boolean;
  secret: boolean;
  default?: unknown;
  values?: readonly string[];
}

function formFields(schema: Record<string, Field>): FormField[] {
  const out: FormField[] = [];
  for (const [key, f] of Object.entries(schema)) {
    if (!FORM_TYPES.has(f.type)) continue;
    const row: FormField = { key, type: f.type, doc: f.doc, required: f.required === true, secret: f.type === 'string' && f.secret === true };
    if ('default' in f && f.default !== undefined && !row.secret) row.default = f.default;
    if (f.type === 'enum') row.values = f.values;
    out.push(row);
  }
  return out;
}

async function pipelinesOf(file: string): Promise<string[]> {
  if (file === '') return [];
  try {
    const doc = parseDocument(await readFile(file, 'utf8'));
    const p = doc.getIn(['service', 'pipelines'], true);
    return isMap(p) ? p.items.map((i) => String((i.key as { value?: unknown })?.value ?? i.key)) : [];
  } catch {
    return [];
  }
}

export async function storeTypesRoute(ctx: AdminContext): Promise<AdminReply> {
  const types = STORE_TYPES.flatMap((t) => {
    const f = registry.exporters.get(t);
    return f === undefined ? [] : [{ type: t, description: f.description, fields: formFields(f.configSchema) }];
  });
  return { json: { types, pipelines: await pipelinesOf(ctx.console.configFile), writable: ctx.console.allowConfigChanges && ctx.console.configFile !== '' } };
}

interface StoreBody {
  type?: unknown;
  name?: unknown;
  pipelines?: unknown;
  options?: unknown;
  secrets?: unknown;
  dry_run?: unknown;
}

export async function createStoreRoute(raw: Buffer, ctx: AdminContext): Promise<AdminReply> {
  let body: StoreBody;
  try {
    body = JSON.parse(raw.toString('utf8')) as StoreBody;
  } catch (e) {
    return bad(400, `the body is not JSON: ${(e as Error).message}`);
  }
  const c = ctx.console;
  const dryRun = body.dry_run === true;
  if (c.configFile === '') return bad(409, 'the service runs the embedded default config: start it with --config FILE to add stores from the console');
  if (!dryRun && !c.allowConfigChanges)
    return bad(403, 'the console is read-only: start metricport with --admin-console-allow-config-changes true to write the config file');
  const type = typeof body.type === 'string' ? body.type : '';
  const factory = STORE_TYPES.includes(type) ? registry.exporters.get(type) : undefined;
  if (factory === undefined) return bad(400, `pick a store adapter: ${STORE_TYPES.join(', ')}`, [{ path: 'type', field: 'type', message: 'pick an adapter' }]);
  const name = typeof body.name === 'string' ? body.name.trim() : '';
  if (name !== '' && !NAME_RE.test(name))
    return bad(400, 'the name takes letters, digits, _, . and - (up to 64)', [{ path: 'name', field: 'name', message: 'letters, digits, _, . and -' }]);
  const id = name === '' ? type : `${type}/${name}`;
  const fields = new Map(formFields(factory.configSchema).map((f) => [f.key, f]));
  const options = body.options !== null && typeof body.options === 'object' ? (body.options as Record<string, unknown>) : {};
  const secrets = body.secrets !== null && typeof body.secrets === 'object' ? (body.secrets as Record<string, unknown>) : {};
  const errors: Array<{ path: string; message: string; field?: string }> = [];
  const node: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    const f = fields.get(k);
    if (f === undefined || f.secret)
      errors.push({ path: `options.${k}`, field: k, message: f === undefined ? 'not an option of this adapter the form can set' : 'a secret goes in secrets' });
    else if (v === '' || v === null || v === undefined) continue;
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') node[k] = v;
    else errors.push({ path: `options.${k}`, field: k, message: 'expected a string, number or boolean' });
  }
  const secretValues: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(secrets)) {
    const f = fields.get(k);
    if (f === undefined || !f.secret) errors.push({ path: `secrets.${k}`, field: k, message: 'not a secret option of this adapter' });
    else if (typeof v !== 'string') errors.push({ path: `secrets.${k}`, field: k, message: 'expected a string' });
    else if (v !== '') secretValues.push([k, v]);
  }
  const pipelines = Array.isArray(body.pipelines) ? body.pipelines.filter((p): p is string => typeof p === 'string') : [];
  if (errors.length > 0) return bad(400, 'the form has errors', errors);

  const file = c.configFile;
  const read = await readConfigDocument(file);
  if ('reply' in read) return read.reply;
  const { text, doc } = read;
  if (doc.hasIn(['exporters', id]))
    return bad(409, `the config already has a store ${JSON.stringify(id)}`, [
      { path: `exporters.${id}`, field: 'name', message: 'this name is taken; pick another' },
    ]);
  const declared = doc.getIn(['service', 'pipelines'], true);
  for (const p of pipelines) {
    if (!isMap(declared) || !declared.has(p))
      return bad(400, `no pipeline ${JSON.stringify(p)}`, [{ path: `pipelines`, field: 'pipelines', message: `no pipeline ${p}` }]);
  }

  // secrets: a file each, referenced as ${file:…}; written first so that validation reads them, removed if nothing is applied
  const dir = join(c.stateDir, 'console-secrets');
  const written: string[] = [];
  const cleanup = async (): Promise<void> => {
    for (const w of written) await rm(w, { force: true });
  };
  for (const [k, v] of secretValues) {
    const path = join(dir, `${id.replace('/', '_')}.${k}`);
    node[k] = `\${file:${path}}`;
    if (!dryRun) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await chmod(dir, 0o700);
      await writeFile(path, v, { mode: 0o600 });
      written.push(path);
    }
  }
  if (dryRun) for (const [k] of secretValues) node[k] = 'x'; // validated as a placeholder; answered as the reference below

  let exporters = doc.get('exporters', true);
  if (!isMap(exporters)) {
    doc.set('exporters', doc.createNode({}));
    exporters = doc.get('exporters', true);
  }
  (exporters as YAMLMap).set(id, doc.createNode(node));
  for (const p of pipelines) {
    const pm = (declared as YAMLMap).get(p, true) as unknown as YAMLMap;
    let list = pm.get('exporters', true);
    if (!isSeq(list)) {
      pm.set('exporters', doc.createNode([]));
      list = pm.get('exporters', true);
    }
    (list as unknown as YAMLSeq).items.push(doc.createNode(id));
  }
  const next = doc.toString();
  const { issues } = checkConfig(next, file, registry);
  const errs = issues.filter((i) => i.severity === 'error');
  if (errs.length > 0) {
    await cleanup();
    const prefix = `exporters.${id}.`;
    return bad(
      400,
      `the store would make the config invalid (${errs.length} error${errs.length === 1 ? '' : 's'}); nothing was written`,
      errs.map((i) => ({ path: i.path, message: i.message, ...(i.path.startsWith(prefix) ? { field: i.path.slice(prefix.length).split(/[.[]/)[0]! } : {}) })),
    );
  }
  for (const [k] of secretValues) node[k] = `\${file:${join(dir, `${id.replace('/', '_')}.${k}`)}}`;
  const snippet = new Document({ [id]: node }).toString().replace(/\n$/, '');
  const result = { store: id, pipelines, yaml_added: snippet, config_file: basename(file) };
  if (dryRun) return { json: { status: 'preview', ...result } };
  const reply = await writeAndReload(ctx, text, next, 'created', result);
  if (reply.status !== undefined) await cleanup();
  else ctx.logger.info({ store: id, pipelines, file: basename(file) }, 'console: added a metric store to the config file and reloaded');
  return reply;
}
