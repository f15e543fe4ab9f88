import { cloneAttributes } from './attributes.js';
import type { EventBatch } from './events.js';
import type { Exemplar, Metric, MetricsBatch, ResourceMetrics } from './metrics.js';

function cloneExemplars(e: Exemplar[] | undefined): Exemplar[] | undefined {
  if (e === undefined) return undefined;
  return e.map((x) => ({ ...x, filteredAttributes: cloneAttributes(x.filteredAttributes) }));
}

function cloneMetric(m: Metric): Metric {
  const base = { ...m, metadata: m.metadata ? cloneAttributes(m.metadata) : undefined };
  if (base.metadata === undefined) delete base.metadata;
  switch (m.kind) {
    case 'gauge':
    case 'sum':
      return { ...base, points: m.points.map((p) => ({ ...p, attributes: cloneAttributes(p.attributes), exemplars: cloneExemplars(p.exemplars) })) } as Metric;
    case 'histogram':
      return {
        ...base,
        points: m.points.map((p) => ({
          ...p,
          attributes: cloneAttributes(p.attributes),
          bucketCounts: p.bucketCounts.slice(),
          explicitBounds: p.explicitBounds.slice(),
          exemplars: cloneExemplars(p.exemplars),
        })),
      } as Metric;
    case 'exponentialHistogram':
      return {
        ...base,
        points: m.points.map((p) => ({
          ...p,
          attributes: cloneAttributes(p.attributes),
          positive: { offset: p.positive.offset, bucketCounts: p.positive.bucketCounts.slice() },
          negative: { offset: p.negative.offset, bucketCounts: p.negative.bucketCounts.slice() },
          exemplars: cloneExemplars(p.exemplars),
        })),
      } as Metric;
    case 'summary':
      return {
        ...base,
        points: m.points.map((p) => ({
          ...p,
          attributes: cloneAttributes(p.attributes),
          quantileValues: p.quantileValues.map((q) => ({ ...q })),
          exemplars: cloneExemplars(p.exemplars),
        })),
      } as Metric;
  }
}

/** A deep copy: what a mutating consumer gets when others see the same batch. */
export function cloneMetricsBatch(b: MetricsBatch): MetricsBatch {
  return {
    resourceMetrics: b.resourceMetrics.map((rm): ResourceMetrics => ({
      schemaUrl: rm.schemaUrl,
      resource: { droppedAttributesCount: rm.resource.droppedAttributesCount, attributes: cloneAttributes(rm.resource.attributes) },
      scopeMetrics: rm.scopeMetrics.map((sm) => ({
        schemaUrl: sm.schemaUrl,
        scope: { ...sm.scope, attributes: cloneAttributes(sm.scope.attributes) },
        metrics: sm.metrics.map(cloneMetric),
      })),
    })),
  };
}

export function cloneEventBatch(b: EventBatch): EventBatch {
  return { events: b.events.map((e) => ({ timeUnixNano: e.timeUnixNano, attributes: cloneAttributes(e.attributes) })) };
}
