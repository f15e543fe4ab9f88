/**
 * Configuration of the `stability` processor: metric groups (a denominator
 * such as sessions started or minutes played, linked to attributes with
 * default values) and the errors normalised by them (semantics.md §8).
 */
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';

export interface StabilityGroup {
  name: string;
  /** linked attribute → default value ("" = none: a point without it is dropped) */
  attributes: Record<string, string>;
  metrics: string[];
  /** ms */
  window: number;
  errors: string;
  impacted: string;
  /** crashed units (crashed sessions, users with a crash): crash_free_rate_<out> = 1 − crashed ÷ denominator */
  crashed: string;
  /** errored units: errored_rate_<out> = errored ÷ denominator */
  errored: string;
  output: string;
}

export interface StabilityConfig {
  groups: StabilityGroup[];
  /** ms; undefined = one window */
  allowed_lateness?: number;
  max_entries: number;
}

export const stabilityConfigSchema: Schema = {
  groups: {
    type: 'array',
    required: true,
    minItems: 1,
    doc: 'Metric groups and the errors normalised by them.',
    items: {
      type: 'object',
      doc: 'one metric group',
      fields: {
        name: { type: 'string', required: true, nonEmpty: true, doc: 'Group name, e.g. "Sessions Started"; importers feed it with metric_group: <name>.' },
        attributes: {
          type: 'map',
          values: { type: 'string', doc: 'default value' },
          required: true,
          doc: 'Linked attributes with their default values, e.g. { app.version: unknown }. Imported rows without the attribute take the default ("" = none); other points of the group without it are dropped and counted.',
        },
        metrics: {
          type: 'array',
          items: { type: 'string', doc: 'metric name' },
          default: [],
          doc: 'Metrics (by name) that feed the group besides importers with metric_group: <name>, e.g. an OTLP counter of sessions.',
        },
        window: {
          type: 'duration',
          default: '1h',
          min: '1s',
          doc: "The denominator's window (its cadence: hourly imports → 1h). Errors windows inside it are summed.",
        },
        errors: {
          type: 'string',
          default: '',
          doc: 'The errors metric (from metricsets, grouped by the same attributes), e.g. ErrorsByVersion.unique._tx; emits errors_per_<output> = errors ÷ denominator. At least one of errors, crashed, errored is needed.',
        },
        impacted: { type: 'string', default: '', doc: 'Optional: the impacted metric, e.g. ErrorsByVersion.unique.guid; emits the share impacted.' },
        crashed: {
          type: 'string',
          default: '',
          doc: 'Release health: the metric counting the group\'s crashed units (crashed sessions for "Sessions Started", e.g. SessionsCrashed.sum.session.count; users with a crashed session for "Users", e.g. SessionsCrashed.unique.guid); emits crash_free_rate_<output> = 1 − crashed ÷ denominator (no crashed point in a window = 0 crashed: rate 1).',
        },
        errored: {
          type: 'string',
          default: '',
          doc: "Release health: the metric counting the group's errored units (errored sessions, crashed ones included, e.g. SessionsErrored.sum.session.count); emits errored_rate_<output> = errored ÷ denominator.",
        },
        output: {
          type: 'string',
          default: '',
          doc: 'Output name stem; default: the group name in lower case with non-alphanumerics as _ ("Sessions Started" → sessions_started).',
        },
      },
    },
  },
  allowed_lateness: {
    type: 'duration',
    doc: 'How long after a window ends its errors and denominators are still added; the scores are emitted then. Default: one window.',
  },
  max_entries: { type: 'int', default: 100_000, min: 1, doc: 'Open (group, attribute values, window) entries held at most; more are dropped and counted.' },
};

export function slug(name: string): string {
  return name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

export function validateStabilityConfig(cfg: StabilityConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  (cfg.groups ?? []).forEach((g, i) => {
    if (Object.keys(g.attributes ?? {}).length === 0)
      issues.push({ path: `groups[${i}].attributes`, message: 'link at least one attribute, e.g. { app.version: unknown }', severity: 'error' });
    const out = g.output !== '' ? g.output : slug(g.name);
    if (out === '') issues.push({ path: `groups[${i}].output`, message: 'the group name has no letters or digits: set output', severity: 'error' });
    if (seen.has(out)) issues.push({ path: `groups[${i}].name`, message: `two groups produce the output stem ${JSON.stringify(out)}`, severity: 'error' });
    seen.add(out);
    if (g.errors === g.impacted && g.impacted !== '') issues.push({ path: `groups[${i}].impacted`, message: 'must differ from errors', severity: 'error' });
    if (g.errors === '' && g.crashed === '' && g.errored === '')
      issues.push({
        path: `groups[${i}].errors`,
        message: 'set errors (errors ÷ the group), crashed (crash-free rate) or errored (errored rate)',
        severity: 'error',
      });
    if (g.impacted !== '' && g.errors === '') issues.push({ path: `groups[${i}].impacted`, message: 'impacted needs errors', severity: 'error' });
    const roles: Array<[string, string]> = [
      ['errors', g.errors],
      ['impacted', g.impacted],
      ['crashed', g.crashed],
      ['errored', g.errored],
    ];
    const used = new Map<string, string>();
    for (const [k, v] of roles) {
      if (v === '' || v === undefined) continue;
      const other = used.get(v);
      if (other !== undefined && !(k === 'impacted' && other === 'errors'))
        issues.push({ path: `groups[${i}].${k}`, message: `the metric ${JSON.stringify(v)} is already the group's ${other}`, severity: 'error' });
      if ((g.metrics ?? []).includes(v))
        issues.push({ path: `groups[${i}].${k}`, message: `the metric ${JSON.stringify(v)} is also in metrics (the denominator)`, severity: 'error' });
      used.set(v, k);
    }
  });
  if (cfg.allowed_lateness !== undefined && cfg.allowed_lateness < 0)
    issues.push({ path: 'allowed_lateness', message: 'must not be negative', severity: 'error' });
  return issues;
}
