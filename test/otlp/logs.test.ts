import { expect } from 'chai';
import { DecodeError } from '../../src/otlp/errors.js';
import { decodeLogsJson } from '../../src/otlp/json.js';
import { decodeLogsProto } from '../../src/otlp/proto.js';
import { OTLP_TYPES, loadOtlpProtos } from '../../src/otlp/schema.js';

/** The same request in OTLP JSON (spec form) and, via the .proto schema, in protobuf. */
const REQUEST = {
  resourceLogs: [
    {
      resource: {
        attributes: [
          { key: 'service.name', value: { stringValue: 'svc' } },
          { key: 'shared', value: { stringValue: 'resource' } },
          { key: 'res.only', value: { intValue: '1' } },
        ],
      },
      scopeLogs: [
        {
          scope: {
            name: 'my.lib',
            version: '2.0',
            attributes: [
              { key: 'shared', value: { stringValue: 'scope' } },
              { key: 'scope.only', value: { boolValue: true } },
            ],
          },
          logRecords: [
            {
              timeUnixNano: '1700000000123456789',
              observedTimeUnixNano: '1700000000999999999',
              severityNumber: 17,
              severityText: 'ERROR',
              body: { stringValue: 'boom' },
              eventName: 'app.crash',
              attributes: [
                { key: 'exception.type', value: { stringValue: 'TypeError' } },
                { key: 'shared', value: { stringValue: 'record' } },
                { key: 'log.severity_text', value: { stringValue: 'overridden' } },
              ],
              traceId: '5b8efff798038103d269b633813fc60c',
              spanId: 'eee19b7ec3c1b174',
              flags: 1,
              droppedAttributesCount: 2,
            },
            {
              observedTimeUnixNano: '1700000000000000042',
              body: {
                kvlistValue: {
                  values: [
                    { key: 'msg', value: { stringValue: 'structured' } },
                    { key: 'n', value: { intValue: '1700000000123456789' } },
                  ],
                },
              },
            },
            {},
          ],
        },
      ],
    },
    {
      scopeLogs: [{ logRecords: [{ timeUnixNano: '5', severityNumber: 9 }] }],
    },
  ],
};

function protoRequest(obj: object): Uint8Array {
  const root = loadOtlpProtos();
  const T = root.lookupType(OTLP_TYPES.ExportLogsServiceRequest);
  const hexToBytes = (o: unknown): unknown => {
    if (Array.isArray(o)) return o.map(hexToBytes);
    if (o !== null && typeof o === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(o)) out[k] = k === 'traceId' || k === 'spanId' ? Buffer.from(v as string, 'hex') : hexToBytes(v);
      return out;
    }
    return o;
  };
  return T.encode(T.fromObject(hexToBytes(obj) as Record<string, unknown>)).finish();
}

const EXPECTED = [
  {
    timeUnixNano: 1700000000123456789n,
    attributes: {
      'service.name': 'svc',
      shared: 'record',
      'res.only': 1n,
      'scope.only': true,
      'otel.scope.name': 'my.lib',
      'otel.scope.version': '2.0',
      'exception.type': 'TypeError',
      'log.severity_text': 'ERROR',
      'log.severity_number': 17,
      'log.body': 'boom',
      trace_id: '5b8efff798038103d269b633813fc60c',
      span_id: 'eee19b7ec3c1b174',
      'log.event_name': 'app.crash',
    },
  },
  {
    timeUnixNano: 1700000000000000042n,
    attributes: {
      'service.name': 'svc',
      shared: 'scope',
      'res.only': 1n,
      'scope.only': true,
      'otel.scope.name': 'my.lib',
      'otel.scope.version': '2.0',
      'log.body': { msg: 'structured', n: 1700000000123456789n },
    },
  },
  {
    timeUnixNano: 0n,
    attributes: { 'service.name': 'svc', shared: 'scope', 'res.only': 1n, 'scope.only': true, 'otel.scope.name': 'my.lib', 'otel.scope.version': '2.0' },
  },
  { timeUnixNano: 5n, attributes: { 'log.severity_number': 9 } },
];

describe('otlp logs → events', () => {
  it('JSON: one event per record, attributes flattened record > scope > resource', () => {
    const r = decodeLogsJson(JSON.stringify(REQUEST));
    expect(r.rejected).to.equal(0);
    expect(r.data.events).to.deep.equal(EXPECTED);
  });

  it('protobuf: the same mapping', () => {
    const r = decodeLogsProto(protoRequest(REQUEST));
    expect(r.errors).to.deep.equal([]);
    expect(r.data.events).to.deep.equal(EXPECTED);
  });

  it('JSON leniency: severity names, snake_case, upper-case hex, numbers for timestamps', () => {
    const text = `{"resource_logs":[{"scope_logs":[{"log_records":[
      {"time_unix_nano": 1700000000123456789, "severity_number": "SEVERITY_NUMBER_FATAL2", "severity_text": "FATAL",
       "trace_id": "5B8EFFF798038103D269B633813FC60C", "span_id": "EEE19B7EC3C1B174", "event_name": "e", "body": {"string_value": "x"}},
      {"severityNumber": "SEVERITY_NUMBER_NONSENSE"}]}]}]}`;
    const r = decodeLogsJson(text);
    expect(r.data.events).to.deep.equal([
      {
        timeUnixNano: 1700000000123456789n,
        attributes: {
          'log.severity_number': 22,
          'log.severity_text': 'FATAL',
          'log.body': 'x',
          trace_id: '5b8efff798038103d269b633813fc60c',
          span_id: 'eee19b7ec3c1b174',
          'log.event_name': 'e',
        },
      },
    ]);
    expect(r.rejected).to.equal(1);
    expect(r.errors).to.deep.equal(['log record 1 (resourceLogs[0].scopeLogs[0]): unknown severityNumber "SEVERITY_NUMBER_NONSENSE"']);
  });

  it('garbage top level → DecodeError; garbage records are counted', () => {
    for (const body of ['[]', '"x"', '{"resourceLogs":"no"}']) {
      expect(() => decodeLogsJson(body), body).to.throw(DecodeError, /expected an ExportLogsServiceRequest object/);
    }
    const r = decodeLogsJson('{"resourceLogs":[{"scopeLogs":[{"logRecords":[1,"two",{"body":{"stringValue":"ok"}}]}]}]}');
    expect(r.data.events.length).to.equal(1);
    expect(r.rejected).to.equal(2);
  });

  it('protobuf: invalid UTF-8 → DecodeError; truncation → DecodeError', () => {
    const good = protoRequest(REQUEST);
    expect(() => decodeLogsProto(good.subarray(0, good.length - 3))).to.throw(DecodeError);
    // severity_text with a lone continuation byte
    const bad = new Uint8Array([0x0a, 0x09, 0x12, 0x07, 0x12, 0x05, 0x1a, 0x03, 0x61, 0x80, 0x62]);
    expect(() => decodeLogsProto(bad)).to.throw(DecodeError, /invalid UTF-8 in string field at byte offset 8/);
  });
});
