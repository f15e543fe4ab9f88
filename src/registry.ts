/**
 * Every component type metricport knows, and every extension: one line
 * each. Factories are descriptors (type, schema, description, signals, the
 * admin routes and CLI commands they add); a component's implementation is
 * imported by its factory's `load()` only when a config uses it.
 */
import type { ExporterFactory, ProcessorFactory, ReceiverFactory } from './component.js';
import type { Registry } from './config/service-config.js';
import type { AdminRoute, CliCommand, Extension } from './extension.js';
import { configToolsExtension } from './commands/extension.js';
import { clusterExtension } from './cluster/extension.js';
import { consoleExtension } from './console/extension.js';
import { otlpReceiverFactory } from '../receivers/otlp/factory.js';
import { errorsReceiverFactory } from '../receivers/errors/factory.js';
import { metricsetsProcessorFactory } from '../processors/metricsets/factory.js';
import { forgeReceiverFactory } from '../receivers/forge/factory.js';
import { statsdReceiverFactory } from '../receivers/statsd/factory.js';
import { sentryReceiverFactory } from '../receivers/sentry/factory.js';
import { datadogReceiverFactory } from '../receivers/datadog/factory.js';
import { backtraceReceiverFactory } from '../receivers/backtrace/factory.js';
import { importerReceiverFactory } from '../receivers/importer/factory.js';
import { dogstatsdExporterFactory } from '../exporters/dogstatsd/factory.js';
import { batchProcessorFactory } from '../processors/batch/factory.js';
import { filterProcessorFactory } from '../processors/filter/factory.js';
import { stabilityProcessorFactory } from '../processors/stability/factory.js';
import { debugExporterFactory } from '../exporters/debug/factory.js';
import { fileExporterFactory } from '../exporters/file/factory.js';
import { otlphttpExporterFactory } from '../exporters/otlphttp/factory.js';
import { nopExporterFactory } from '../exporters/nop/factory.js';
import { graphiteExporterFactory } from '../exporters/graphite/factory.js';
import { influxdbExporterFactory } from '../exporters/influxdb/factory.js';
import { datadogExporterFactory } from '../exporters/datadog/factory.js';
import { grafanaExporterFactory } from '../exporters/grafana/factory.js';
import { circonusExporterFactory } from '../exporters/circonus/factory.js';
import { prometheusExporterFactory } from '../exporters/prometheus/factory.js';

const receivers: ReceiverFactory[] = [
  otlpReceiverFactory,
  errorsReceiverFactory,
  forgeReceiverFactory,
  statsdReceiverFactory,
  sentryReceiverFactory,
  backtraceReceiverFactory,
  importerReceiverFactory,
  datadogReceiverFactory,
];
const processors: ProcessorFactory[] = [batchProcessorFactory, filterProcessorFactory, metricsetsProcessorFactory, stabilityProcessorFactory];
const exporters: ExporterFactory[] = [
  debugExporterFactory,
  fileExporterFactory,
  otlphttpExporterFactory,
  nopExporterFactory,
  graphiteExporterFactory,
  influxdbExporterFactory,
  datadogExporterFactory,
  grafanaExporterFactory,
  circonusExporterFactory,
  dogstatsdExporterFactory,
  prometheusExporterFactory,
];

/** Contributors that are not components (src/<name>/extension.ts). */
const extensions: Extension[] = [configToolsExtension, clusterExtension, consoleExtension];

function byType<T extends { type: string }>(list: T[]): ReadonlyMap<string, T> {
  const m = new Map<string, T>();
  for (const f of list) {
    if (m.has(f.type)) throw new Error(`two components registered with type "${f.type}"`);
    m.set(f.type, f);
  }
  return m;
}

export const registry: Registry = {
  receivers: byType(receivers),
  processors: byType(processors),
  exporters: byType(exporters),
};

/** Who contributed a route or a command: `receiver importer`, `extension cluster`. */
export interface Contributed<T> {
  item: T;
  from: string;
}

function contributors(): Array<{ from: string; admin?: readonly AdminRoute[]; commands?: readonly CliCommand[] }> {
  return [
    ...receivers.map((f) => ({ from: `receiver ${f.type}`, admin: f.admin, commands: f.commands })),
    ...processors.map((f) => ({ from: `processor ${f.type}`, admin: f.admin, commands: f.commands })),
    ...exporters.map((f) => ({ from: `exporter ${f.type}`, admin: f.admin, commands: f.commands })),
    ...extensions.map((e) => ({ from: `extension ${e.name}`, admin: e.admin, commands: e.commands })),
  ];
}

/** Every admin route the factories and extensions contribute, in registry order. */
export function contributedRoutes(): Array<Contributed<AdminRoute>> {
  return contributors().flatMap((c) => (c.admin ?? []).map((item) => ({ item, from: c.from })));
}

/** Every CLI command the factories and extensions contribute, in registry order. */
export function contributedCommands(): Array<Contributed<CliCommand>> {
  return contributors().flatMap((c) => (c.commands ?? []).map((item) => ({ item, from: c.from })));
}

/** The extensions (not components), for listings. */
export function registeredExtensions(): readonly Extension[] {
  return extensions;
}
