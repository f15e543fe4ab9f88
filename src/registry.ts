/**
 * Every component type metricport knows: one line per component.
 */
import type { ExporterFactory, ProcessorFactory, ReceiverFactory } from './component.js';
import type { Registry } from './config/service-config.js';
import { otlpReceiverFactory } from '../receivers/otlp/factory.js';
import { batchProcessorFactory } from '../processors/batch/factory.js';
import { filterProcessorFactory } from '../processors/filter/factory.js';
import { debugExporterFactory } from '../exporters/debug/factory.js';
import { fileExporterFactory } from '../exporters/file/factory.js';
import { otlphttpExporterFactory } from '../exporters/otlphttp/factory.js';
import { nopExporterFactory } from '../exporters/nop/factory.js';

const receivers: ReceiverFactory[] = [
  otlpReceiverFactory,
];
const processors: ProcessorFactory[] = [
  batchProcessorFactory,
  filterProcessorFactory,
];
const exporters: ExporterFactory[] = [
  debugExporterFactory,
  fileExporterFactory,
  otlphttpExporterFactory,
  nopExporterFactory,
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
