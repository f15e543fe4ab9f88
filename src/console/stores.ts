/**
 * Metric stores from the console (docs/console.md): add, list, edit, remove.
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
 *   (`<state>/console-secrets/<store>.<option>.<random>`, mode 0600, the
 *   folder 0700)
 *   and the config refers to it as `${file:…}`.
 *
 * - `GET /api/v1/console/stores`: the stores the config file defines, each
 *   with the form options it sets (as written, an `${env:…}` reference
 *   included; a password in a URL masked), which secrets are set (never
 *   their values) and the pipelines that send to it.
 * - `PUT /api/v1/console/stores/:id`: changes the options given (an empty
 *   value removes the option: its default applies), replaces the secrets
 *   given (`null` removes one) and sets the pipelines when given; the rest of
 *   the store's entry (nested options, comments) stays as written.
 * - `DELETE /api/v1/console/stores/:id`: removes the store and its id from
 *   every pipeline; refused with the reason when a pipeline would be left
 *   without an exporter.
 * Each change is validated as a whole file first, written and reloaded as
 * above; secret files the change replaced or dropped are removed once the
 * reload took it, new ones removed when it did not.
 *
 * Writing needs --admin-console-allow-config-changes true; `"dry_run": true`
 * answers the YAML it would add or make (with the `${file:…}` references,
 * never the secret).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Document, isMap, isScalar, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from '../vendor/yaml.js';
import type { Field } from '../config/schema.js';
import { checkConfig } from '../config/service-config.js';
import { bad, keepFormatting, readConfigDocument, writeAndReload, type FieldError } from './configfile.js';
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

/** What a form asks to change: options to set or remove, secrets to write or remove. */
interface FormChange {
  set: Array<[string, string | number | boolean]>;
  unset: string[];
  secretValues: Array<[string, string]>;
  secretUnset: string[];
  pipelines: string[] | undefined;
}

function objectOf(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Check a form's options and secrets against the adapter's fields; every problem goes into `errors` with its field. */
function readForm(body: StoreBody, fields: Map<string, FormField>, errors: FieldError[]): FormChange {
  const change: FormChange = { set: [], unset: [], secretValues: [], secretUnset: [], pipelines: undefined };
  for (const [k, v] of Object.entries(objectOf(body.options))) {
    const f = fields.get(k);
    if (f === undefined || f.secret)
      errors.push({ path: `options.${k}`, field: k, message: f === undefined ? 'not an option of this adapter the form can set' : 'a secret goes in secrets' });
    else if (v === '' || v === null) change.unset.push(k);
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') change.set.push([k, v]);
    else errors.push({ path: `options.${k}`, field: k, message: 'expected a string, number or boolean' });
  }
  for (const [k, v] of Object.entries(objectOf(body.secrets))) {
    const f = fields.get(k);
    if (f === undefined || !f.secret) errors.push({ path: `secrets.${k}`, field: k, message: 'not a secret option of this adapter' });
    else if (v === null) change.secretUnset.push(k);
    else if (typeof v !== 'string') errors.push({ path: `secrets.${k}`, field: k, message: 'expected a string' });
    else if (v !== '') change.secretValues.push([k, v]);
  }
  if (body.pipelines !== undefined) {
    if (!Array.isArray(body.pipelines) || body.pipelines.some((p) => typeof p !== 'string'))
      errors.push({ path: 'pipelines', field: 'pipelines', message: 'expected a list of pipeline names' });
    else change.pipelines = body.pipelines as string[];
  }
  return change;
}

function keyOf(node: unknown): string {
  return String(isScalar(node) ? node.value : node);
}

/** The pipelines whose exporters list `id`. */
function pipelinesWith(doc: Document, id: string): string[] {
  const declared = doc.getIn(['service', 'pipelines'], true);
  if (!isMap(declared)) return [];
  return declared.items.flatMap((i) => {
    const list = isMap(i.value) ? i.value.get('exporters', true) : undefined;
    return isSeq(list) && list.items.some((x) => keyOf(x) === id) ? [keyOf(i.key)] : [];
  });
}

/** Make exactly `pipelines` send to `id` (added at the end of their exporters, removed from the others). */
function setPipelines(doc: Document, id: string, pipelines: string[], errors: FieldError[]): void {
  const declared = doc.getIn(['service', 'pipelines'], true);
  for (const p of pipelines) if (!isMap(declared) || !declared.has(p)) errors.push({ path: 'pipelines', field: 'pipelines', message: `no pipeline ${p}` });
  if (!isMap(declared) || errors.length > 0) return;
  for (const item of declared.items) {
    const pm = item.value;
    if (!isMap(pm)) continue;
    const want = pipelines.includes(keyOf(item.key));
    let list = pm.get('exporters', true);
    if (!isSeq(list)) {
      if (!want) continue;
      pm.set('exporters', doc.createNode([]));
      list = pm.get('exporters', true);
    }
    const seq = list as unknown as YAMLSeq;
    const at = seq.items.findIndex((x) => keyOf(x) === id);
    if (want && at < 0) seq.items.push(doc.createNode(id));
    else if (!want && at >= 0) seq.items.splice(at, 1);
  }
}

function secretsDir(ctx: AdminContext): string {
  return join(ctx.console.stateDir, 'console-secrets');
}

/** The console's secret files an exporter entry refers to (`${file:…}` under the state directory's console-secrets). */
function secretFilesOf(node: unknown, dir: string): string[] {
  const out: string[] = [];
  const json = isMap(node) ? (node.toJSON() as Record<string, unknown>) : {};
  for (const v of Object.values(json)) {
    const m = typeof v === 'string' ? /^\$\{file:(.+)\}$/.exec(v) : null;
    if (m !== null && m[1]!.startsWith(dir + '/')) out.push(m[1]!);
  }
  return out;
}

/**
 * Write each secret to a new 0600 file (a new name each time, so a refused
 * change leaves the file the config uses untouched) and point `node` at it.
 * Dry run: the reference only. Returns the files written.
 */
async function writeSecrets(
  ctx: AdminContext,
  id: string,
  secretValues: Array<[string, string]>,
  node: YAMLMap | Record<string, unknown>,
  dryRun: boolean,
): Promise<string[]> {
  const dir = secretsDir(ctx);
  const written: string[] = [];
  for (const [k, v] of secretValues) {
    const path = join(dir, `${id.replace('/', '_')}.${k}.${randomBytes(4).toString('hex')}`);
    const ref = `\${file:${path}}`;
    if (isMap(node)) node.set(k, ref);
    else node[k] = ref;
    if (dryRun) continue;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    await writeFile(path, v, { mode: 0o600 });
    await chmod(path, 0o600);
    written.push(path);
  }
  return written;
}

async function removeFiles(paths: string[]): Promise<void> {
  for (const p of paths) await rm(p, { force: true });
}

/**
 * Validate the changed document as a whole file; then (not a dry run) keep
 * the backup, write and reload. Secret files: `written` are removed when the
 * change is not applied, `dropped` when it is.
 */
async function apply(
  ctx: AdminContext,
  change: { id: string; text: string; doc: Document; written: string[]; dropped: string[]; dryRun: boolean; status: string; result: Record<string, unknown> },
): Promise<AdminReply> {
  const { id, text, doc, written, dropped, dryRun, status, result } = change;
  const file = ctx.console.configFile;
  const next = keepFormatting(text, doc.toString());
  const errs = checkConfig(next, file, registry).issues.filter((i) => i.severity === 'error');
  if (errs.length > 0) {
    await removeFiles(written);
    const prefix = `exporters.${id}.`;
    return bad(
      400,
      `the change would make the config invalid (${errs.length} error${errs.length === 1 ? '' : 's'}); nothing was written`,
      errs.map((i) => ({ path: i.path, message: i.message, ...(i.path.startsWith(prefix) ? { field: i.path.slice(prefix.length).split(/[.[]/)[0]! } : {}) })),
    );
  }
  if (dryRun) return { json: { status: 'preview', ...result } };
  const reply = await writeAndReload(ctx, text, next, status, result);
  if (reply.status !== undefined) {
    await removeFiles(written);
    return reply;
  }
  await removeFiles(dropped);
  ctx.logger.info({ store: id, change: status, file: basename(file) }, `console: ${status} a metric store in the config file and reloaded`);
  return reply;
}

/** What every change shares: the body as JSON, a config file to write, the permission. */
function prelude(raw: Buffer, ctx: AdminContext): { body: StoreBody; dryRun: boolean } | { reply: AdminReply } {
  let body: StoreBody;
  try {
    body = raw.length === 0 ? {} : (JSON.parse(raw.toString('utf8')) as StoreBody);
  } catch (e) {
    return { reply: bad(400, `the body is not JSON: ${(e as Error).message}`) };
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { reply: bad(400, 'the body must be a JSON object') };
  const c = ctx.console;
  const dryRun = body.dry_run === true;
  if (c.configFile === '')
    return { reply: bad(409, 'the service runs the embedded default config: start it with --config FILE to change stores from the console') };
  if (!dryRun && !c.allowConfigChanges)
    return { reply: bad(403, 'the console is read-only: start metricport with --admin-console-allow-config-changes true to write the config file') };
  return { body, dryRun };
}

function storeFactory(id: string): { type: string; fields: Map<string, FormField> } | undefined {
  const type = id.split('/')[0]!;
  const factory = STORE_TYPES.includes(type) ? registry.exporters.get(type) : undefined;
  return factory === undefined ? undefined : { type, fields: new Map(formFields(factory.configSchema).map((f) => [f.key, f])) };
}

/** The YAML of one exporter entry as the answer shows it. */
function snippetOf(id: string, node: unknown): string {
  return new Document({ [id]: isMap(node) ? node.toJSON() : node }).toString().replace(/\n$/, '');
}

/** A URL's password as "***" (the listing never shows a credential). */
function maskUrl(v: string): string {
  try {
    const u = new URL(v);
    if (u.password === '') return v;
    u.password = '***';
    return u.toString();
  } catch {
    return v;
  }
}

export async function listStoresRoute(ctx: AdminContext): Promise<AdminReply> {
  const c = ctx.console;
  const writable = c.allowConfigChanges && c.configFile !== '';
  if (c.configFile === '') return { json: { stores: [], writable } };
  const read = await readConfigDocument(c.configFile);
  if ('reply' in read) return read.reply;
  const { doc } = read;
  const exporters = doc.get('exporters', true);
  const stores = (isMap(exporters) ? exporters.items : []).flatMap((item) => {
    const id = keyOf(item.key);
    const sf = storeFactory(id);
    if (sf === undefined) return [];
    const json = isMap(item.value) ? (item.value.toJSON() as Record<string, unknown>) : {};
    const options: Record<string, string | number | boolean> = {};
    const secrets: Record<string, boolean> = {};
    for (const f of sf.fields.values()) {
      const v = json[f.key];
      if (f.secret) secrets[f.key] = v !== undefined && v !== null && v !== '';
      else if (typeof v === 'string') options[f.key] = f.type === 'url' || f.type === 'endpoint' ? maskUrl(v) : v;
      else if (typeof v === 'number' || typeof v === 'boolean') options[f.key] = v;
    }
    return [{ id, type: sf.type, options, secrets, pipelines: pipelinesWith(doc, id) }];
  });
  return { json: { stores, writable, config_file: basename(c.configFile) } };
}

export async function createStoreRoute(raw: Buffer, ctx: AdminContext): Promise<AdminReply> {
  const pre = prelude(raw, ctx);
  if ('reply' in pre) return pre.reply;
  const { body, dryRun } = pre;
  const type = typeof body.type === 'string' ? body.type : '';
  const sf = storeFactory(type);
  if (sf === undefined || type.includes('/'))
    return bad(400, `pick a store adapter: ${STORE_TYPES.join(', ')}`, [{ path: 'type', field: 'type', message: 'pick an adapter' }]);
  const name = typeof body.name === 'string' ? body.name.trim() : '';
  if (name !== '' && !NAME_RE.test(name))
    return bad(400, 'the name takes letters, digits, _, . and - (up to 64)', [{ path: 'name', field: 'name', message: 'letters, digits, _, . and -' }]);
  const id = name === '' ? type : `${type}/${name}`;
  const errors: FieldError[] = [];
  const change = readForm(body, sf.fields, errors);
  if (errors.length > 0) return bad(400, 'the form has errors', errors);
  const read = await readConfigDocument(ctx.console.configFile);
  if ('reply' in read) return read.reply;
  const { text, doc } = read;
  if (doc.hasIn(['exporters', id]))
    return bad(409, `the config already has a store ${JSON.stringify(id)}`, [
      { path: `exporters.${id}`, field: 'name', message: 'this name is taken; pick another' },
    ]);
  const pipelines = change.pipelines ?? [];
  setPipelines(doc, id, pipelines, errors);
  if (errors.length > 0) return bad(400, errors[0]!.message, errors);
  const node: Record<string, unknown> = Object.fromEntries(change.set);
  // secrets first, so that validation reads them; a dry run validates the reference's placeholder
  const written = await writeSecrets(ctx, id, change.secretValues, node, dryRun);
  const shown = { ...node };
  if (dryRun) for (const [k] of change.secretValues) node[k] = 'x';
  let exporters = doc.get('exporters', true);
  if (!isMap(exporters)) {
    doc.set('exporters', doc.createNode({}));
    exporters = doc.get('exporters', true);
  }
  (exporters as YAMLMap).set(id, doc.createNode(node));
  const result = { store: id, pipelines, yaml_added: snippetOf(id, shown), config_file: basename(ctx.console.configFile) };
  return apply(ctx, { id, text, doc, written, dropped: [], dryRun, status: 'created', result });
}

/** The store `id` of the file, or the answer saying why not. */
async function storeOf(
  id: string,
  ctx: AdminContext,
): Promise<{ text: string; doc: Document; sf: NonNullable<ReturnType<typeof storeFactory>> } | { reply: AdminReply }> {
  const sf = storeFactory(id);
  if (sf === undefined) return { reply: bad(404, `${JSON.stringify(id)} is not a metric store (adapters: ${STORE_TYPES.join(', ')})`) };
  const read = await readConfigDocument(ctx.console.configFile);
  if ('reply' in read) return read;
  if (!read.doc.hasIn(['exporters', id])) return { reply: bad(404, `the config file has no store ${JSON.stringify(id)}`) };
  return { ...read, sf };
}

export async function updateStoreRoute(id: string, raw: Buffer, ctx: AdminContext): Promise<AdminReply> {
  const pre = prelude(raw, ctx);
  if ('reply' in pre) return pre.reply;
  const { body, dryRun } = pre;
  const found = await storeOf(id, ctx);
  if ('reply' in found) return found.reply;
  const { text, doc, sf } = found;
  const errors: FieldError[] = [];
  const change = readForm(body, sf.fields, errors);
  if (errors.length > 0) return bad(400, 'the form has errors', errors);
  if (change.pipelines !== undefined) setPipelines(doc, id, change.pipelines, errors);
  if (errors.length > 0) return bad(400, errors[0]!.message, errors);
  let node = doc.getIn(['exporters', id], true);
  if (!isMap(node)) {
    doc.setIn(['exporters', id], doc.createNode({}));
    node = doc.getIn(['exporters', id], true);
  }
  const map = node as YAMLMap;
  const dir = secretsDir(ctx);
  const before = secretFilesOf(map, dir);
  for (const [k, v] of change.set) map.set(k, v);
  for (const k of [...change.unset, ...change.secretUnset]) map.delete(k);
  const written = await writeSecrets(ctx, id, change.secretValues, map, dryRun);
  const after = new Set(secretFilesOf(map, dir));
  const result = { store: id, pipelines: pipelinesWith(doc, id), yaml: snippetOf(id, map), config_file: basename(ctx.console.configFile) };
  if (dryRun) for (const [k] of change.secretValues) map.set(k, 'x');
  return apply(ctx, { id, text, doc, written, dropped: before.filter((p) => !after.has(p)), dryRun, status: 'updated', result });
}

export async function deleteStoreRoute(id: string, raw: Buffer, ctx: AdminContext): Promise<AdminReply> {
  const pre = prelude(raw, ctx);
  if ('reply' in pre) return pre.reply;
  const found = await storeOf(id, ctx);
  if ('reply' in found) return found.reply;
  const { text, doc } = found;
  const dropped = secretFilesOf(doc.getIn(['exporters', id], true), secretsDir(ctx));
  const was = pipelinesWith(doc, id);
  const errors: FieldError[] = [];
  setPipelines(doc, id, [], errors);
  doc.deleteIn(['exporters', id]);
  const result = { store: id, removed_from: was, config_file: basename(ctx.console.configFile) };
  return apply(ctx, { id, text, doc, written: [], dropped, dryRun: pre.dryRun, status: 'removed', result });
}
