/**
 * `metricport importer test --config F --importer NAME [--receiver ID]
 * [--since D] [--json]`: the seed's "Test query" from the command line. Runs
 * the importer's query once over [now − since, now) (default min(history,
 * chunk)), reports a missing $1/$2, the source's own error, or a preview of
 * the rows mapped to points. Nothing is sent anywhere; the watermark (read
 * from the state directory for display) does not move. Exit 0 when the query
 * ran and mapped, 1 with the problems, 2 for bad arguments.
 */
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/service-config.js';
import { parseDuration } from '../../src/config/schema.js';
import { silentLogger } from '../../src/logger.js';
import { registry } from '../../src/registry.js';
import { loadSettings } from '../../src/settings.js';
import { ServiceTelemetry } from '../../src/telemetry.js';
import { testSpanProblem, type ImporterReceiverConfig } from './config.js';
import { ImporterReceiver, type TestQueryResult } from './receiver.js';

const IMPORTER_HELP = `Usage:
  metricport importer test --config FILE --importer NAME [--receiver ID] [--since DURATION] [--json] [--state-dir DIR]

Runs one importer's query once ("Test query"): reports a missing $1/$2, the
source's own error (e.g. a syntax error), or a preview of the rows mapped to
points. Nothing is sent; the watermark does not move. Exit 0 ok, 1 problems, 2 usage.
  --importer NAME  the importer (its name under importers:)
  --receiver ID    which importer receiver, when several have an importer of that name
  --since D        span to query back from now (default: min(history, chunk); at most chunk)
`;

interface Args {
  config?: string;
  importer?: string;
  receiver?: string;
  since?: string;
  json: boolean;
  rest: string[];
}

function parse(argv: string[]): Args | string {
  const a: Args = { json: false, rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i] as string;
    const m = /^--(importer|receiver|since)(?:=(.*))?$/.exec(x);
    if (m) {
      const v = m[2] ?? argv[++i];
      if (v === undefined) return `flag --${m[1]} needs a value`;
      a[m[1] as 'importer' | 'receiver' | 'since'] = v;
    } else if (x === '--json') a.json = true;
    else a.rest.push(x);
  }
  return a;
}

export async function importerMain(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  if (argv[0] === undefined || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    out.write(IMPORTER_HELP);
    return argv[0] === undefined ? 2 : 0;
  }
  if (argv[0] !== 'test') {
    err.write(`metricport importer: unknown subcommand "${argv[0]}" (importer test)\n${IMPORTER_HELP}`);
    return 2;
  }
  const a = parse(argv.slice(1));
  if (typeof a === 'string') {
    err.write(`metricport importer test: ${a}\n`);
    return 2;
  }
  if (a.importer === undefined) {
    err.write(`metricport importer test: --importer NAME is required\n`);
    return 2;
  }
  let settings;
  try {
    settings = loadSettings(a.rest);
  } catch (e) {
    err.write(`metricport importer test: ${(e as Error).message}\n`);
    return 2;
  }
  if (settings.config === '') {
    err.write('metricport importer test: --config FILE is required\n');
    return 2;
  }
  const sinceMs = a.since === undefined ? undefined : parseDuration(a.since);
  if (a.since !== undefined && (sinceMs === undefined || sinceMs <= 0)) {
    err.write(`metricport importer test: --since expects a duration like 2h, got ${JSON.stringify(a.since)}\n`);
    return 2;
  }
  let cfg;
  try {
    cfg = loadConfigFile(settings.config, registry);
  } catch (e) {
    err.write(`metricport importer test: ${(e as Error).message}\n`);
    return 1;
  }
  const matches = [...cfg.receivers.values()].filter(
    (r) =>
      r.type === 'importer' &&
      (a.receiver === undefined || r.id === a.receiver) &&
      (r.config as unknown as ImporterReceiverConfig).importers.some((i) => i.name === a.importer),
  );
  if (matches.length === 0) {
    const all = [...cfg.receivers.values()]
      .filter((r) => r.type === 'importer')
      .flatMap((r) => (r.config as unknown as ImporterReceiverConfig).importers.map((i) => `${r.id}: ${i.name}`));
    err.write(
      `metricport importer test: no importer named ${JSON.stringify(a.importer)}${a.receiver ? ` in ${a.receiver}` : ''} (importers: ${all.join(', ') || 'none'})\n`,
    );
    return 1;
  }
  if (matches.length > 1) {
    err.write(
      `metricport importer test: ${matches.length} receivers have an importer ${JSON.stringify(a.importer)} (${matches.map((m) => m.id).join(', ')}); pass --receiver ID\n`,
    );
    return 2;
  }
  const c = matches[0]!;
  const spec = (c.config as unknown as ImporterReceiverConfig).importers.find((i) => i.name === a.importer)!;
  const tooLong = sinceMs === undefined ? undefined : testSpanProblem(spec, sinceMs);
  if (tooLong !== undefined) {
    err.write(`metricport importer test: --since ${a.since ?? ''} ${tooLong}\n`);
    return 2;
  }
  const telemetry = new ServiceTelemetry();
  const rcv = new ImporterReceiver(
    { id: c.id, logger: silentLogger(), telemetry, stateDir: join(settings.state_dir, 'receiver', c.id.replace('/', '_')) },
    c.config as unknown as ImporterReceiverConfig,
    {},
  );
  let res: TestQueryResult;
  try {
    res = (await rcv.testQuery(a.importer, sinceMs === undefined ? {} : { sinceMs }))!;
  } finally {
    await rcv.shutdown(AbortSignal.timeout(5000));
  }
  if (a.json) out.write(JSON.stringify(res, null, 2) + '\n');
  else out.write(formatTestResult(c.id, res));
  return res.ok ? 0 : 1;
}

function formatTestResult(receiver: string, r: TestQueryResult): string {
  let s = `importer ${r.importer} (${receiver}, ${r.source}) over [${r.from}, ${r.to})\n`;
  if (r.request !== undefined) s += `  sent: ${JSON.stringify(r.request)}\n`;
  for (const e of r.errors) s += `  error: ${e}\n`;
  if (r.columns !== undefined)
    s += `  columns: ${r.columns.join(', ')}\n  rows: ${r.rows}, points: ${r.points}, skipped: ${r.skipped_rows}${r.first_skip !== undefined ? ` (first: ${r.first_skip})` : ''}\n`;
  for (const p of r.preview ?? []) s += `  ${p.time}  ${p.metric}${Object.keys(p.attributes).length ? JSON.stringify(p.attributes) : ''} = ${p.value}\n`;
  s += `  watermark: ${r.watermark ?? 'none yet'} (unchanged)\n`;
  return s;
}
