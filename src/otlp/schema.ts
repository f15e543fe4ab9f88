/**
 * The OTLP .proto schema shipped in proto/ (OTLP v1.11.0 plus google.rpc.Status),
 * loaded with protobufjs. The hot-path codecs in ./proto.ts do not use it; it is
 * for tests, tools and anyone who wants reflection (e.g. `Type.toObject`).
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { Root } from 'protobufjs';

/**
 * The package root: the nearest folder, walking up from this module (which runs
 * from src/otlp/ under tsx or dist/src/otlp/ when compiled), that holds both a
 * package.json and a proto/ folder.
 */
export function findPackageRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    const proto = join(dir, 'proto');
    if (existsSync(join(dir, 'package.json')) && existsSync(proto) && statSync(proto).isDirectory()) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the metricport package root (a folder with package.json and proto/) above ${from}`);
    dir = up;
  }
}

/** Absolute path of the proto/ folder. */
export function protoDir(): string {
  return join(findPackageRoot(), 'proto');
}

const OTLP_PROTO_FILES = [
  'opentelemetry/proto/common/v1/common.proto',
  'opentelemetry/proto/resource/v1/resource.proto',
  'opentelemetry/proto/metrics/v1/metrics.proto',
  'opentelemetry/proto/logs/v1/logs.proto',
  'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
  'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  'google/rpc/status.proto',
] as const;

/** Fully qualified names of the messages the service exchanges. */
export const OTLP_TYPES = {
  ExportMetricsServiceRequest: 'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest',
  ExportMetricsServiceResponse: 'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse',
  ExportLogsServiceRequest: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest',
  ExportLogsServiceResponse: 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse',
  Status: 'google.rpc.Status',
} as const;

let cached: Root | undefined;

/**
 * Load (once) the OTLP schema. `google/protobuf/*.proto` imports resolve to
 * protobufjs's bundled well-known types.
 */
export function loadOtlpProtos(): Root {
  if (cached !== undefined) return cached;
  const dir = protoDir();
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string => (target.startsWith('google/protobuf/') ? target : join(dir, target));
  root.loadSync(OTLP_PROTO_FILES as unknown as string[]);
  root.resolveAll();
  cached = root;
  return root;
}
