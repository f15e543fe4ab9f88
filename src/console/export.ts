/**
 * "Export as metric" (POST /api/v1/console/export): a query built in Explore
 * becomes a metric of a metric set in the config file.
 *
 * The file is edited with the `yaml` library's document API, so comments and
 * formatting of everything else are kept; the new text is validated as a
 * whole (every error returned with its key path, and the same path relative
 * to the metric for the form) before anything is written; the previous file
 * is kept as `<file>.bak`; the new one is written atomically and applied by
 * the service's reload (the same as POST /api/v1/reload). If the reload
 * refuses it, the previous file is put back.
 *
 * `"dry_run": true` only answers the YAML it would add. Writing needs
 * --admin-console-allow-config-changes true and a config file (not the
 * embedded default).
 */
import { basename } from 'node:path';
import { Document, isMap, isSeq, parseDocument, type YAMLMap, type YAMLSeq } from '../vendor/yaml.js';
import { checkConfig } from '../config/service-config.js';
import { bad, keepFormatting, readConfigDocument, writeAndReload, type FieldError } from './configfile.js';
import type { AdminContext, AdminReply } from '../extension.js';
import { registry } from '../registry.js';

interface MetricIn {
  name?: unknown;
  description?: unknown;
  filter?: unknown;
  group_by?: unknown;
  group_by_defaults?: unknown;
  aggregates?: unknown;
}
interface ExportBody {
  set?: unknown;
  metric?: MetricIn;
  processor?: unknown;
  dry_run?: unknown;
}

/** The metric as it goes into the YAML: only what is set, in the documented key order. */
function metricNode(m: MetricIn): Record<string, unknown> {
  const out: Record<string, unknown> = { name: m.name };
  if (typeof m.description === 'string' && m.description !== '') out.description = m.description;
  if (m.filter !== undefined && m.filter !== null && !(typeof m.filter === 'object' && Object.keys(m.filter as object).length === 0)) out.filter = m.filter;
  if (Array.isArray(m.group_by) && m.group_by.length > 0) out.group_by = m.group_by;
  if (
    m.group_by_defaults !== undefined &&
    m.group_by_defaults !== null &&
    typeof m.group_by_defaults === 'object' &&
    Object.keys(m.group_by_defaults).length > 0
  )
    out.group_by_defaults = m.group_by_defaults;
  out.aggregates = m.aggregates;
  return out;
}

/** Short lists in flow style ([a, b]) as people write them. */
function flowLists(doc: Document, node: unknown): void {
  if (isMap(node)) for (const p of node.items) flowLists(doc, p.value);
  else if (isSeq(node)) {
    if (node.items.every((i) => !isMap(i) && !isSeq(i))) node.flow = true;
    else for (const i of node.items) flowLists(doc, i);
  }
}

/**
 * Insert `item` as the last entry of the block sequence `seq` of `text`,
 * touching nothing else (the document API would re-format the whole file):
 * the item is rendered alone and indented like the sequence's first entry.
 * Undefined when the sequence is empty or in flow style.
 */
function appendToBlockSeq(text: string, seq: YAMLSeq, item: unknown): string | undefined {
  if (seq.flow === true || seq.items.length === 0 || seq.range === undefined || seq.range === null) return undefined;
  const first = seq.items[0] as { range?: [number, number, number] | null };
  const last = seq.items[seq.items.length - 1] as { range?: [number, number, number] | null };
  if (!first.range || !last.range) return undefined;
  const dash = text.lastIndexOf('-', first.range[0]);
  const lineStart = text.lastIndexOf('\n', dash) + 1;
  const col = dash - lineStart;
  if (col < 0 || text.slice(lineStart, dash).trim() !== '') return undefined;
  const d = new Document([item]);
  flowLists(d, d.contents);
  const rendered =
    d
      .toString()
      .replace(/\n$/, '')
      .split('\n')
      .map((l) => ' '.repeat(col) + l)
      .join('\n') + '\n';
  // after the line where the last entry ends (its trailing comment included)
  let at = text.indexOf('\n', Math.max(last.range[1], last.range[0]) - 1);
  at = at < 0 ? text.length : at + 1;
  const before = text.slice(0, at);
  return (before.endsWith('\n') || before === '' ? before : before + '\n') + rendered + text.slice(at);
}

export async function exportRoute(raw: Buffer, ctx: AdminContext): Promise<AdminReply> {
  let body: ExportBody;
  try {
    body = JSON.parse(raw.toString('utf8')) as ExportBody;
  } catch (e) {
    return bad(400, `the body is not JSON: ${(e as Error).message}`);
  }
  const errors: FieldError[] = [];
  const setName = typeof body.set === 'string' ? body.set.trim() : '';
  if (setName === '') errors.push({ path: 'set', field: 'set', message: 'name the metric set (an existing one or a new one)' });
  const m = body.metric ?? {};
  if (typeof m.name !== 'string' || m.name.trim() === '')
    errors.push({ path: 'metric.name', field: 'name', message: 'name the metric (e.g. ErrorsByVersion)' });
  else if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(m.name))
    errors.push({ path: 'metric.name', field: 'name', message: 'use letters, digits, _, . and - (starting with a letter or _): it becomes the series name' });
  if (!Array.isArray(m.aggregates) || m.aggregates.length === 0)
    errors.push({ path: 'metric.aggregates', field: 'aggregates', message: 'add at least one aggregate' });
  if (errors.length > 0) return bad(400, 'the metric is incomplete', errors);
  const c = ctx.console;
  const dryRun = body.dry_run === true;
  if (c.configFile === '') return bad(409, 'the service runs the embedded default config: start it with --config FILE to export metrics into a file');
  if (!dryRun && !c.allowConfigChanges)
    return bad(403, 'the console is read-only: start metricport with --admin-console-allow-config-changes true to write the config file');
  const file = c.configFile;
  const read = await readConfigDocument(file);
  if ('reply' in read) return read.reply;
  const { text, doc } = read;
  const processors = doc.get('processors', true);
  const ids = isMap(processors)
    ? processors.items.map((p) => String((p.key as { value?: unknown })?.value ?? p.key)).filter((k) => k === 'metricsets' || k.startsWith('metricsets/'))
    : [];
  const wanted = typeof body.processor === 'string' && body.processor !== '' ? body.processor : ids[0];
  if (wanted === undefined || !ids.includes(wanted)) {
    return bad(
      409,
      ids.length === 0
        ? 'the config has no metricsets processor: add one to an events pipeline first'
        : `no processor ${JSON.stringify(wanted)} (metricsets processors: ${ids.join(', ')})`,
      [{ path: 'processor', field: 'processor', message: 'pick a metricsets processor' }],
    );
  }
  const procPath = ['processors', wanted];
  let proc = doc.getIn(procPath, true);
  if (!isMap(proc)) {
    doc.setIn(procPath, doc.createNode({}));
    proc = doc.getIn(procPath, true);
  }
  let sets = (proc as YAMLMap).get('sets', true);
  if (!isSeq(sets)) {
    (proc as YAMLMap).set('sets', doc.createNode([]));
    sets = (proc as YAMLMap).get('sets', true);
  }
  const seq = sets as unknown as YAMLSeq;
  let setIndex = seq.items.findIndex((s) => isMap(s) && s.get('name') === setName);
  const metric = metricNode(m);
  let added: Record<string, unknown>;
  let createdSet = false;
  let spliced: string | undefined;
  if (setIndex < 0) {
    spliced = appendToBlockSeq(text, seq, { name: setName, metrics: [metric] });
    const node = doc.createNode({ name: setName, metrics: [metric] });
    flowLists(doc, node);
    seq.items.push(node);
    setIndex = seq.items.length - 1;
    createdSet = true;
    added = { name: setName, metrics: [metric] };
  } else {
    const set = seq.items[setIndex] as YAMLMap;
    let metrics = set.get('metrics', true);
    if (!isSeq(metrics)) {
      set.set('metrics', doc.createNode([]));
      metrics = set.get('metrics', true);
    }
    const ms = metrics as unknown as YAMLSeq;
    const dup = ms.items.findIndex((x) => isMap(x) && x.get('name') === m.name);
    if (dup >= 0)
      return bad(409, `metric set ${JSON.stringify(setName)} already has a metric named ${JSON.stringify(m.name)}`, [
        { path: `processors.${wanted}.sets[${setIndex}].metrics[${dup}].name`, field: 'name', message: 'this name is taken in that set; pick another' },
      ]);
    spliced = appendToBlockSeq(text, ms, metric);
    const node = doc.createNode(metric);
    flowLists(doc, node);
    ms.items.push(node);
    added = metric;
  }
  // the text spliced in place when the document has the same data as the edited document; else the re-rendered document
  const same = spliced !== undefined && JSON.stringify(parseDocument(spliced).toJS()) === JSON.stringify(doc.toJS());
  const next = same ? spliced! : keepFormatting(text, doc.toString());
  const metricIndex = createdSet ? 0 : ((seq.items[setIndex] as YAMLMap).get('metrics') as YAMLSeq).items.length - 1;
  const metricPath = `processors.${wanted}.sets[${setIndex}].metrics[${metricIndex}]`;
  // validate the whole new file as the service would load it
  const { issues } = checkConfig(next, file, registry);
  const errs = issues.filter((i) => i.severity === 'error');
  if (errs.length > 0) {
    return bad(
      400,
      `the metric would make the config invalid (${errs.length} error${errs.length === 1 ? '' : 's'}); nothing was written`,
      errs.map((i) => {
        const rel = i.path.startsWith(metricPath + '.') ? i.path.slice(metricPath.length + 1) : undefined;
        return { path: i.path, message: i.message, ...(rel !== undefined ? { field: rel.split(/[.[]/)[0]! } : {}) };
      }),
    );
  }
  const snippet = new Document([added]);
  flowLists(snippet, snippet.contents);
  const yamlAdded = snippet.toString().replace(/\n$/, '');
  const result = {
    processor: wanted,
    set: setName,
    created_set: createdSet,
    metric: m.name,
    path: metricPath,
    yaml_added: yamlAdded,
    config_file: basename(file),
  };
  if (dryRun) return { json: { status: 'preview', ...result } };
  const reply = await writeAndReload(ctx, text, next, 'exported', result);
  if (reply.status === undefined)
    ctx.logger.info({ processor: wanted, set: setName, metric: m.name, file: basename(file) }, 'console: exported a metric into the config file and reloaded');
  return reply;
}
