/**
 * proto/datadog/agent_payload.proto loaded with protobufjs: for tests, the
 * `datadog` benchmark's bare-parse baseline and tools. The receiver's hot
 * path decodes by hand (proto.ts) and never loads this.
 */
import { join } from 'node:path';
import protobuf from 'protobufjs';
import type { Type } from 'protobufjs';
import { protoDir } from '../../src/otlp/schema.js';

const METRIC_PAYLOAD = 'datadog.agentpayload.MetricPayload';

let cached: Type | undefined;

/** The MetricPayload type (loaded once). */
export function metricPayloadType(): Type {
  if (cached !== undefined) return cached;
  const root = protobuf.loadSync(join(protoDir(), 'datadog', 'agent_payload.proto'));
  root.resolveAll();
  cached = root.lookupType(METRIC_PAYLOAD);
  return cached;
}

export interface PayloadSeries {
  metric: string;
  type?: number;
  interval?: number;
  points: Array<{ timestamp: number; value: number }>;
  resources?: Array<{ type: string; name: string }>;
  tags?: string[];
  unit?: string;
  sourceTypeName?: string;
}

/** A MetricPayload body as the Datadog Agent sends it to /api/v2/series. */
export function encodeMetricPayload(series: PayloadSeries[]): Buffer {
  const t = metricPayloadType();
  return Buffer.from(t.encode(t.fromObject({ series })).finish());
}
