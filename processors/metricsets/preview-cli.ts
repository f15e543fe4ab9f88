/**
 * `metricport preview --config FILE --events FILE.ndjson [--set NAME] [--json]`:
 * runs a file of events (NDJSON, a JSON array or one object, as POSTed to
 * /v1/errors) through every metricsets processor in the config, by event
 * time with no lateness (nothing is late), and prints the series each window
 * would send. Other processors of the pipelines are not applied.
 */
import { readFileSync } from 'node:fs';
import { checkConfig } from '../../src/config/service-config.js';
import { formatIssue } from '../../src/errors.js';
import { registry } from '../../src/registry.js';
import { parseErrorsBody } from '../../src/eventsjson/parse.js';
import { MetricSetsEngine } from './engine.js';
import type { MetricSetsConfig } from './config.js';
import { compileOrThrow, engineOptions } from './processor.js';

const PREVIEW_HELP = `Usage: metricport preview --config FILE --events FILE [--set NAME] [--json]

Runs the events in FILE (NDJSON, a JSON array or one JSON object of
{"timestamp": ..., "attributes": {...}}, as POSTed to /v1/errors) through every
metricsets processor of the config and prints the series each window would
send: one line per metric, aggregate and group. Events are placed by their own
timestamps (events without one take the current time); nothing counts as late.
  --set NAME   only this metric set
  --json       JSON: [{processor, windows: [{start, end, series: [...]}]}]
`;

function flag(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${name}`) return args[i + 1];
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

function fmtAttrs(a: Record<string, unknown>): string {
  const ks = Object.keys(a);
  if (ks.length === 0) return '';
  return '{' + ks.map((k) => `${k}=${JSON.stringify(a[k])}`).join(', ') + '}';
}

export async function previewMain(args: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    out.write(PREVIEW_HELP);
    return 0;
  }
  const known = new Set(['--config', '--events', '--set', '--json']);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    if (!known.has(name)) {
      err.write(`metricport preview: unknown argument "${a}"\n${PREVIEW_HELP}`);
      return 2;
    }
    if (name !== '--json' && !a.includes('=')) i++;
  }
  const configFile = flag(args, 'config') ?? process.env.METRICPORT_CONFIG;
  const eventsFile = flag(args, 'events');
  const only = flag(args, 'set');
  const json = args.includes('--json');
  if (configFile === undefined || eventsFile === undefined) {
    err.write(`metricport preview: --config and --events are required\n${PREVIEW_HELP}`);
    return 2;
  }
  let text: string;
  let evText: string;
  try {
    text = readFileSync(configFile, 'utf8');
  } catch (e) {
    err.write(`metricport preview: cannot read ${configFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
  try {
    evText = readFileSync(eventsFile, 'utf8');
  } catch (e) {
    err.write(`metricport preview: cannot read ${eventsFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
    return 1;
  }
  const { config, issues } = checkConfig(text, configFile, registry);
  const errors = issues.filter((i) => i.severity === 'error');
  if (config === undefined || errors.length > 0) {
    err.write(`${configFile}: ${errors.length} error${errors.length === 1 ? '' : 's'}:\n`);
    for (const e of errors) err.write(`  error: ${formatIssue(e)}\n`);
    return 1;
  }
  const procs = [...config.processors].filter(([, c]) => c.type === 'metricsets');
  if (procs.length === 0) {
    err.write(`metricport preview: ${configFile} has no metricsets processor\n`);
    return 1;
  }
  const parsed = parseErrorsBody(
    evText,
    BigInt(Date.now()) * 1_000_000n,
    { maxEvents: Number.MAX_SAFE_INTEGER, maxAttributes: 1024, maxValueLength: 1 << 20, maxKeyLength: 1024 },
    true,
  );
  if (parsed.rejected > 0) {
    err.write(`${eventsFile}: ${parsed.rejected} event${parsed.rejected === 1 ? '' : 's'} skipped\n`);
    for (const r of parsed.rejections.slice(0, 10)) err.write(`  ${r.line !== undefined ? `line ${r.line}` : `event ${r.index}`}: ${r.reason}\n`);
  }
  if (!parsed.readable) {
    err.write(`metricport preview: ${eventsFile}: ${parsed.error ?? 'no events'}\n`);
    return 1;
  }
  const result: Array<{ processor: string; windows: ReturnType<MetricSetsEngine['preview']> }> = [];
  for (const [id, c] of procs) {
    const cfg = c.config as unknown as MetricSetsConfig;
    const specs = compileOrThrow(id, cfg);
    if (only !== undefined && !specs.some((s) => s.set === only)) continue;
    const engine = new MetricSetsEngine(specs, engineOptions(cfg, 'replay'));
    engine.add(parsed.events, Date.now());
    result.push({ processor: id, windows: engine.preview(only) });
  }
  if (only !== undefined && result.length === 0) {
    err.write(`metricport preview: no metric set named ${JSON.stringify(only)} in ${configFile}\n`);
    return 1;
  }
  if (json) {
    out.write(JSON.stringify(result, null, 2) + '\n');
    return 0;
  }
  let s = `${parsed.events.length} event${parsed.events.length === 1 ? '' : 's'} from ${eventsFile}\n`;
  for (const r of result) {
    for (const w of r.windows) {
      s += `\n[${r.processor}] window ${w.start} .. ${w.end}\n`;
      for (const ser of w.series) {
        for (const p of ser.points) s += `  ${ser.name}${fmtAttrs(p.attributes)} ${p.value}  (${ser.kind === 'sum' ? 'delta sum' : 'gauge'})\n`;
      }
    }
  }
  out.write(s);
  return 0;
}
