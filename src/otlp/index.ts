export { DecodeError } from './errors.js';
export { type DecodeLimits, type DecodeResult, DEFAULT_DECODE_LIMITS } from './types.js';
export { decodeMetricsProto, decodeLogsProto, encodeMetricsProto, encodeExportResponseProto, encodeStatusProto } from './proto.js';
export { decodeMetricsJson, decodeLogsJson, encodeMetricsJson, encodeExportResponseJson, encodeStatusJson, quoteBigIntegers } from './json.js';
export { findPackageRoot, protoDir, loadOtlpProtos, OTLP_TYPES } from './schema.js';
