/**
 * The service configuration: otelcol-style `receivers`, `processors`,
 * `exporters` and `service.pipelines`. Defaults first, user values on top,
 * unknown keys rejected, pipelines type-checked; ALL issues are collected and
 * reported at once, each with its key path and file line:column.
 */
import { readFileSync } from 'node:fs';
import type { ExporterFactory, Factory, ProcessorFactory, ReceiverFactory, Signal } from '../component.js';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { closest, isPlainObject, validateSchema } from './schema.js';
import { parseYaml } from './yaml.js';
import { checkWindows } from './windows.js';
import { recordLoadedConfig } from './record.js';
import { memoryLimiterSchema, type MemoryLimiterConfig } from '../memorylimiter.js';
import { clusterSchema, validateClusterConfig, type ClusterConfig } from '../cluster/config.js';

export interface Registry {
  receivers: ReadonlyMap<string, ReceiverFactory>;
  processors: ReadonlyMap<string, ProcessorFactory>;
  exporters: ReadonlyMap<string, ExporterFactory>;
}

export interface ComponentConfig<F extends Factory = Factory> {
  id: string;
  type: string;
  name: string;
  factory: F;
  /** validated, defaults applied, frozen */
  config: Readonly<Record<string, unknown>>;
}

export interface PipelineConfig {
  id: string;
  /** the signal entering the pipeline (what its receivers produce) */
  signal: Signal;
  /** receiver ids (components under `receivers:`) */
  receivers: string[];
  /**
   * ids of other pipelines whose output (what reaches their exporters) this
   * pipeline takes as input: listed as `pipeline/<id>` among its receivers
   */
  inputs: string[];
  /** processor ids with the signal each one consumes */
  processors: Array<{ id: string; in: Signal; out: Signal }>;
  exporters: string[];
  /** the signal reaching the exporters */
  outSignal: Signal;
}

export interface ServiceConfig {
  file: string;
  receivers: Map<string, ComponentConfig<ReceiverFactory>>;
  processors: Map<string, ComponentConfig<ProcessorFactory>>;
  exporters: Map<string, ComponentConfig<ExporterFactory>>;
  pipelines: PipelineConfig[];
  /** warnings (unused components, YAML warnings) */
  warnings: ConfigIssue[];
  /** service.memory_limiter, defaults applied (docs/reliability.md) */
  memoryLimiter?: MemoryLimiterConfig;
  /** service.cluster, defaults applied (docs/cluster.md); absent = a single instance, no NATS */
  cluster?: ClusterConfig;
}

const ID_RE = /^([a-z][a-z0-9_]*)(?:\/([A-Za-z0-9_.-]+))?$/;
const SECTIONS = ['receivers', 'processors', 'exporters', 'service'] as const;
const PIPELINE_KEYS = ['receivers', 'processors', 'exporters', 'signal'];
/** a receiver entry `pipeline/<id>` takes the output of pipeline `<id>` */
const PIPELINE_REF = 'pipeline/';
const SIGNAL_ALIASES: Record<string, Signal> = { metrics: 'metrics', events: 'events', logs: 'events', errors: 'events' };

export function loadConfigFile(file: string, registry: Registry, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ConfigError(
      [
        {
          path: '',
          file,
          severity: 'error',
          message: `cannot read the config file (${err.code ?? err.message}); pass an existing file with --config or METRICPORT_CONFIG`,
        },
      ],
      'MP_CONFIG_READ',
    );
  }
  return parseConfig(text, file, registry, env);
}

/** Parse and validate; throws ConfigError listing every error. */
export function parseConfig(text: string, file: string, registry: Registry, env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const { config, issues } = checkConfig(text, file, registry, env);
  if (config === undefined || issues.some((i) => i.severity === 'error')) throw new ConfigError(issues);
  return config;
}

/** Parse and validate, returning every issue (for `metricport validate`). */
export function checkConfig(
  text: string,
  file: string,
  registry: Registry,
  env: NodeJS.ProcessEnv = process.env,
): { config?: ServiceConfig; issues: ConfigIssue[] } {
  const parsed = parseYaml(text, file, env);
  const issues: ConfigIssue[] = [...parsed.issues];
  const add = (path: string, message: string, severity: 'error' | 'warning' = 'error', preferKey = true) => {
    const pos = parsed.locate(path, preferKey);
    issues.push({ path, message, severity, file, line: pos?.line, column: pos?.column });
  };
  if (!parsed.syntaxOk) return { issues };
  // a value whose ${env:…} reference failed is reported once, by the expansion:
  // the schema's complaint about the empty result (and the component's own
  // cross-field checks) would only repeat it
  const envFailed = new Set(parsed.issues.filter((i) => i.severity === 'error' && i.path !== '').map((i) => i.path));
  const under = (path: string) => [...envFailed].some((p) => p === path || p.startsWith(`${path}.`) || p.startsWith(`${path}[`));
  const root = parsed.value ?? {};
  if (!isPlainObject(root)) {
    add('', 'the config must be a mapping with receivers, processors, exporters and service');
    return { issues };
  }
  for (const k of Object.keys(root)) {
    if (!(SECTIONS as readonly string[]).includes(k)) add(k, `unknown top-level key "${k}"${didYouMean(k, SECTIONS)} (valid: ${SECTIONS.join(', ')})`);
  }

  const cfg: ServiceConfig = { file, receivers: new Map(), processors: new Map(), exporters: new Map(), pipelines: [], warnings: [] };
  const sections: Array<['receivers' | 'processors' | 'exporters', ReadonlyMap<string, Factory>]> = [
    ['receivers', registry.receivers],
    ['processors', registry.processors],
    ['exporters', registry.exporters],
  ];
  for (const [section, factories] of sections) {
    const sec = root[section];
    if (sec === undefined || sec === null) continue;
    if (!isPlainObject(sec)) {
      add(section, `expected a mapping of component ids to their settings`);
      continue;
    }
    for (const [id, raw] of Object.entries(sec)) {
      const path = `${section}.${id}`;
      const m = ID_RE.exec(id);
      if (!m) {
        add(path, `invalid component id "${id}": use "type" or "type/name" (lower-case type; name of letters, digits, _ . -)`);
        continue;
      }
      const type = m[1] as string;
      const factory = factories.get(type);
      if (factory === undefined) {
        add(
          path,
          `unknown ${section.slice(0, -1)} type "${type}"${didYouMean(type, factories.keys())} (available: ${[...factories.keys()].sort().join(', ') || 'none'}; see \`metricport components\`)`,
        );
        continue;
      }
      const before = issues.length;
      const res = validateSchema(factory.configSchema, raw ?? {}, path);
      for (const i of res.issues) if (!envFailed.has(i.path)) add(i.path, i.message, i.severity, !i.message.startsWith('unknown key') ? false : true);
      if (issues.length === before && !under(path) && factory.validate) {
        for (const i of factory.validate(res.value)) add(i.path === '' ? path : `${path}.${i.path}`, i.message, i.severity, false);
      }
      const entry = { id, type, name: m[2] ?? '', factory, config: deepFreeze(res.value) } as ComponentConfig<never>;
      (cfg[section] as Map<string, ComponentConfig>).set(id, entry);
    }
  }

  // service.pipelines
  const service = root.service;
  if (service === undefined || service === null) {
    add('service', 'is required: define service.pipelines with at least one pipeline (receivers → processors → exporters)');
  } else if (!isPlainObject(service)) {
    add('service', 'expected a mapping with "pipelines"');
  } else {
    for (const k of Object.keys(service))
      if (k !== 'pipelines' && k !== 'memory_limiter' && k !== 'cluster')
        add(`service.${k}`, `unknown key "${k}"${didYouMean(k, ['pipelines', 'memory_limiter', 'cluster'])} (valid keys: pipelines, memory_limiter, cluster)`);
    if (service.cluster !== undefined && service.cluster !== null) {
      const cl = validateSchema(clusterSchema, service.cluster, 'service.cluster');
      for (const i of cl.issues) add(i.path, i.message, i.severity, i.message.startsWith('unknown key'));
      if (!cl.issues.some((i) => i.severity === 'error')) {
        const v = cl.value as unknown as ClusterConfig;
        for (const i of validateClusterConfig(v)) add(`service.cluster.${i.path}`, i.message, i.severity, false);
        cfg.cluster = deepFreeze(v);
      }
    }
    const ml = validateSchema(memoryLimiterSchema, service.memory_limiter ?? {}, 'service.memory_limiter');
    for (const i of ml.issues) if (!envFailed.has(i.path)) add(i.path, i.message, i.severity, i.message.startsWith('unknown key'));
    if (!ml.issues.some((i) => i.severity === 'error')) {
      const v = ml.value as unknown as MemoryLimiterConfig;
      if (v.soft_limit > 0 && v.hard_limit > 0 && v.soft_limit > v.hard_limit)
        add('service.memory_limiter.soft_limit', `must not exceed hard_limit (${v.hard_limit} bytes)`, 'error', false);
      cfg.memoryLimiter = v;
    }
    const pipelines = service.pipelines;
    if (!isPlainObject(pipelines) || Object.keys(pipelines).length === 0) {
      add('service.pipelines', 'needs at least one pipeline, e.g. `metrics: { receivers: [otlp], exporters: [debug] }`');
    } else {
      for (const [pid, raw] of Object.entries(pipelines)) checkPipeline(pid, raw, cfg, registry, add);
      checkPipelineLinks(cfg, add);
    }
  }

  // windows across components: store periods vs metric set windows (semantics.md §7)
  for (const i of checkWindows(cfg)) add(i.path, i.message, i.severity, false);

  // unused components: listed in no pipeline at all (a component listed in a
  // pipeline that has an error is not "unused": that error is the one to fix)
  const used = { receivers: new Set<string>(), processors: new Set<string>(), exporters: new Set<string>() };
  const pipelines = isPlainObject(root.service) ? root.service.pipelines : undefined;
  if (isPlainObject(pipelines)) {
    for (const raw of Object.values(pipelines)) {
      if (!isPlainObject(raw)) continue;
      for (const section of ['receivers', 'processors', 'exporters'] as const) {
        const ids = raw[section];
        if (Array.isArray(ids)) for (const id of ids) if (typeof id === 'string') used[section].add(id);
      }
    }
  }
  for (const section of ['receivers', 'processors', 'exporters'] as const) {
    for (const id of cfg[section].keys()) {
      if (!used[section].has(id)) add(`${section}.${id}`, `is configured but not used in any pipeline; it will not run`, 'warning');
    }
  }
  cfg.warnings = issues.filter((i) => i.severity === 'warning');
  if (!issues.some((i) => i.severity === 'error')) recordLoadedConfig(text, file, registry);
  return { config: cfg, issues };
}

function checkPipeline(
  pid: string,
  raw: unknown,
  cfg: ServiceConfig,
  registry: Registry,
  add: (path: string, msg: string, sev?: 'error' | 'warning', preferKey?: boolean) => void,
): void {
  const path = `service.pipelines.${pid}`;
  if (!isPlainObject(raw)) {
    add(path, 'expected a mapping with receivers, processors and exporters');
    return;
  }
  for (const k of Object.keys(raw))
    if (!PIPELINE_KEYS.includes(k)) add(`${path}.${k}`, `unknown key "${k}"${didYouMean(k, PIPELINE_KEYS)} (valid keys: ${PIPELINE_KEYS.join(', ')})`);
  const list = (key: string, required: boolean): string[] => {
    const v = raw[key];
    if (v === undefined || v === null) {
      if (required) add(path, `needs at least one entry in "${key}"`);
      return [];
    }
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
      add(`${path}.${key}`, 'expected a list of component ids');
      return [];
    }
    if (required && v.length === 0) add(`${path}.${key}`, `needs at least one entry`);
    const seen = new Set<string>();
    v.forEach((x: string, i: number) => {
      if (seen.has(x)) add(`${path}.${key}[${i}]`, `"${x}" is listed twice`, 'error', false);
      seen.add(x);
    });
    return v as string[];
  };
  const listed = list('receivers', true);
  const receivers = listed.filter((r) => !r.startsWith(PIPELINE_REF));
  const inputs = listed.filter((r) => r.startsWith(PIPELINE_REF)).map((r) => r.slice(PIPELINE_REF.length));
  const processors = list('processors', false);
  // a pipeline may have no exporters when another pipeline takes its output (checked in checkPipelineLinks)
  const exporters = list('exporters', false);

  // the pipeline's signal: explicit, from its id's type, or inferred
  const typeOfId = pid.split('/')[0] as string;
  let signal: Signal | undefined;
  if (raw.signal !== undefined) {
    if (raw.signal !== 'metrics' && raw.signal !== 'events') {
      add(`${path}.signal`, `expected "metrics" or "events", got ${JSON.stringify(raw.signal)}`, 'error', false);
      return;
    }
    signal = raw.signal;
  } else if (SIGNAL_ALIASES[typeOfId]) {
    signal = SIGNAL_ALIASES[typeOfId];
  } else {
    const first = processors[0] !== undefined ? cfg.processors.get(processors[0]) : undefined;
    const ins = first ? [...new Set(first.factory.signals.map((s) => s.in))] : [];
    if (ins.length === 1) signal = ins[0];
    else {
      const common = receivers
        .map((r) => cfg.receivers.get(r)?.factory.signals ?? [])
        .reduce<Signal[] | undefined>((acc, s) => (acc === undefined ? [...s] : acc.filter((x) => s.includes(x))), undefined);
      if (common && common.length === 1) signal = common[0];
    }
    if (signal === undefined) {
      add(path, `cannot tell which signal this pipeline carries: name it "metrics/${pid}" or "events/${pid}", or set signal: metrics|events`);
      return;
    }
  }

  let ok = true;
  listed.forEach((r, i) => {
    if (r.startsWith(PIPELINE_REF)) {
      const target = r.slice(PIPELINE_REF.length);
      if (target === pid) {
        ok = false;
        add(`${path}.receivers[${i}]`, `a pipeline cannot take its own output as input`, 'error', false);
      }
      return; // existence and signal are checked once every pipeline is known
    }
    const c = cfg.receivers.get(r);
    if (c === undefined) {
      ok = false;
      const known = registry.receivers.has(r.split('/')[0] as string);
      const hint = didYouMean(r, cfg.receivers.keys());
      const msg = known
        ? hint
          ? `receiver "${r}" is not defined under "receivers:"${hint} (or add it there, e.g. \`${r}: {}\`)`
          : `receiver "${r}" is not defined under "receivers:"; add it there (e.g. \`${r}: {}\`)`
        : hint
          ? `unknown receiver "${r}"${hint} (or define it under "receivers:")`
          : `unknown receiver "${r}": define it under "receivers:"`;
      add(`${path}.receivers[${i}]`, msg, 'error', false);
    } else if (!c.factory.signals.includes(signal as Signal)) {
      ok = false;
      add(`${path}.receivers[${i}]`, `receiver "${r}" does not produce ${signal} (it produces ${c.factory.signals.join(', ')})`, 'error', false);
    }
  });
  let cur: Signal = signal;
  const procs: PipelineConfig['processors'] = [];
  processors.forEach((p, i) => {
    const c = cfg.processors.get(p);
    if (c === undefined) {
      ok = false;
      add(`${path}.processors[${i}]`, `processor "${p}" is not defined under "processors:"${didYouMean(p, cfg.processors.keys())}`, 'error', false);
      return;
    }
    const pair = c.factory.signals.find((s) => s.in === cur && s.out === cur) ?? c.factory.signals.find((s) => s.in === cur);
    if (pair === undefined) {
      ok = false;
      add(
        `${path}.processors[${i}]`,
        `processor "${p}" does not accept ${cur} (it accepts ${[...new Set(c.factory.signals.map((s) => s.in))].join(', ')})`,
        'error',
        false,
      );
      return;
    }
    procs.push({ id: p, in: pair.in, out: pair.out });
    cur = pair.out;
  });
  exporters.forEach((e, i) => {
    const c = cfg.exporters.get(e);
    if (c === undefined) {
      ok = false;
      add(`${path}.exporters[${i}]`, `exporter "${e}" is not defined under "exporters:"${didYouMean(e, cfg.exporters.keys())}`, 'error', false);
      return;
    }
    if (!c.factory.signals.includes(cur)) {
      ok = false;
      add(
        `${path}.exporters[${i}]`,
        `exporter "${e}" does not accept ${cur}${cur !== signal ? ` (the pipeline's processors turn ${signal} into ${cur})` : ''}; it accepts ${c.factory.signals.join(', ')}`,
        'error',
        false,
      );
    }
  });
  if (ok) cfg.pipelines.push({ id: pid, signal, receivers, inputs, processors: procs, exporters, outSignal: cur });
}

/**
 * Pipelines feeding pipelines (`pipeline/<id>` among the receivers): the
 * source exists and its output signal is the signal the pipeline carries; no
 * cycles; a pipeline without exporters must feed another pipeline.
 */
function checkPipelineLinks(cfg: ServiceConfig, add: (path: string, msg: string, sev?: 'error' | 'warning', preferKey?: boolean) => void): void {
  const byId = new Map(cfg.pipelines.map((p) => [p.id, p]));
  const bad = new Set<string>();
  const fed = new Set<string>();
  for (const p of cfg.pipelines) {
    for (const src of p.inputs) {
      const path = `service.pipelines.${p.id}.receivers`;
      const s = byId.get(src);
      if (s === undefined) {
        add(
          path,
          `${PIPELINE_REF}${src}: there is no pipeline "${src}"${didYouMean(src, byId.keys())} (pipelines: ${[...byId.keys()].join(', ')})`,
          'error',
          false,
        );
        bad.add(p.id);
        continue;
      }
      fed.add(src);
      if (s.outSignal !== p.signal) {
        add(path, `${PIPELINE_REF}${src} carries ${s.outSignal} but pipeline "${p.id}" takes ${p.signal}`, 'error', false);
        bad.add(p.id);
      }
    }
  }
  // cycles: depth-first over "feeds" edges
  const state = new Map<string, 1 | 2>();
  const visit = (id: string, trail: string[]): void => {
    if (state.get(id) === 2) return;
    if (state.get(id) === 1) {
      add(`service.pipelines.${id}`, `pipelines feed each other in a cycle: ${[...trail.slice(trail.indexOf(id)), id].join(' → ')}`, 'error');
      bad.add(id);
      return;
    }
    state.set(id, 1);
    for (const q of cfg.pipelines) if (q.inputs.includes(id)) visit(q.id, [...trail, id]);
    state.set(id, 2);
  };
  for (const p of cfg.pipelines) visit(p.id, []);
  for (const p of cfg.pipelines) {
    if (p.exporters.length === 0 && !fed.has(p.id)) {
      add(
        `service.pipelines.${p.id}`,
        `needs at least one entry in "exporters" (or another pipeline must take its output with receivers: [${PIPELINE_REF}${p.id}])`,
      );
      bad.add(p.id);
    }
  }
  if (bad.size > 0) cfg.pipelines = cfg.pipelines.filter((p) => !bad.has(p.id));
}

/** `; did you mean "x"?` when `name` is close to one of `candidates` (a likely typo), else "" */
function didYouMean(name: string, candidates: Iterable<string>): string {
  const hint = closest(name, candidates);
  return hint !== undefined && hint !== name ? `; did you mean "${hint}"?` : '';
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}
