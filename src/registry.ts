/**
 * Every component type metricport knows: one line per component.
 */
import type { ExporterFactory, ProcessorFactory, ReceiverFactory } from './component.js';
import type { Registry } from './config/service-config.js';
import { otlpReceiverFactory } from '../receivers/otlp/factory.js';
import { errorsReceiverFactory } from '../receivers/errors/factory.js';
import { metricsetsProcessorFactory } from '../processors/metricsets/factory.js';
import { forgeReceiverFactory } from '../receivers/forge/factory.js';
import { statsdReceiverFactory } from '../receivers/statsd/factory.js';
import { sentryReceiverFactory } from '../receivers/sentry/factory.js';
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
];
const processors: ProcessorFactory[] = [
  batchProcessorFactory,
  filterProcessorFactory,
  metricsetsProcessorFactory,
  stabilityProcessorFactory,
];
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
