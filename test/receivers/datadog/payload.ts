/** MetricPayload bodies for the tests, encoded by protobufjs from proto/datadog/agent_payload.proto (independent of the receiver's hand-written decoder). */
export { encodeMetricPayload, metricPayloadType, type PayloadSeries } from '../../../receivers/datadog/schema.js';
