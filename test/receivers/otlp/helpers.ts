/**
 * Test helpers for the OTLP receiver: a recording consumer, a receiver on a
 * free port (port 0, read back through boundAddress()), a small HTTP client.
 */
import http from 'node:http';
import type { Consumer, Receiver, Signal, SignalData } from '../../../src/component.js';
import { validateSchema } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/logger.js';
import { ServiceTelemetry } from '../../../src/telemetry.js';
import { otlpReceiverFactory } from '../../../receivers/otlp/factory.js';
import type { OtlpReceiverConfig } from '../../../receivers/otlp/config.js';
import type { OtlpReceiver } from '../../../receivers/otlp/receiver.js';

// the registry is lazy: the implementation is imported on first use
await otlpReceiverFactory.load();

export class RecordingConsumer<T> implements Consumer<T> {
  readonly got: T[] = [];
  /** thrown by consume() when set */
  fail: unknown = undefined;
  async consume(data: T): Promise<void> {
    if (this.fail !== undefined) throw this.fail;
    this.got.push(data);
  }
}

export function otlpConfig(input: Record<string, unknown> = {}): OtlpReceiverConfig {
  const { value, issues } = validateSchema(otlpReceiverFactory.configSchema, input, '');
  if (issues.length > 0) throw new Error(issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return value as unknown as OtlpReceiverConfig;
}

export interface Started {
  rcv: OtlpReceiver;
  port: number;
  telemetry: ServiceTelemetry;
}

export function createReceiver(
  input: Record<string, unknown>,
  next: Partial<{ [S in Signal]: Consumer<SignalData[S]> }>,
  id = 'otlp',
): { rcv: OtlpReceiver; telemetry: ServiceTelemetry } {
  const telemetry = new ServiceTelemetry();
  const cfg = otlpConfig(input);
  const rcv = otlpReceiverFactory.create({ id, logger: silentLogger(), telemetry, stateDir: '/nonexistent' }, cfg, next) as Receiver as OtlpReceiver;
  return { rcv, telemetry };
}

/** A started receiver on 127.0.0.1:<free port> (unless the input names an endpoint). */
export async function startReceiver(input: Record<string, unknown>, next: Partial<{ [S in Signal]: Consumer<SignalData[S]> }>, id = 'otlp'): Promise<Started> {
  const withEndpoint = { ...input, protocols: { http: { endpoint: '127.0.0.1:0', ...((input.protocols as any)?.http ?? {}) } } };
  const { rcv, telemetry } = createReceiver(withEndpoint, next, id);
  const telemetryShim = { logger: silentLogger(), telemetry, stateDir: '/nonexistent' };
  await rcv.start(telemetryShim);
  const a = rcv.boundAddress();
  if (a === undefined) throw new Error('receiver started but has no bound address');
  return { rcv, port: a.port, telemetry };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** One request; `body` may be written in several chunks (chunked encoding when no Content-Length is given). */
export function request(
  port: number,
  method: string,
  path: string,
  body: Buffer | string | Buffer[] | undefined,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (err) => {
        if (!settled) {
          settled = true;
          reject(err);
        }
      });
    });
    // the server may answer (413) and close before the whole body is written
    req.on('error', (err) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
    });
    if (Array.isArray(body)) {
      for (const c of body) req.write(c);
      req.end();
    } else {
      req.end(body);
    }
  });
}

export function post(port: number, path: string, body: Buffer | string | Buffer[], contentType: string, headers: Record<string, string> = {}): Promise<Reply> {
  const h: Record<string, string> = { 'Content-Type': contentType, ...headers };
  if (!Array.isArray(body) && h['Content-Length'] === undefined && h['Transfer-Encoding'] === undefined) h['Content-Length'] = String(Buffer.byteLength(body));
  return request(port, 'POST', path, body, h);
}

/** google.rpc.Status from protobuf: code (field 1, varint), message (field 2, string). Details are skipped. */
export function decodeStatusProto(buf: Uint8Array): { code: number; message: string } {
  let pos = 0;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const b = buf[pos++] as number;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  };
  let code = 0;
  let message = '';
  while (pos < buf.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) {
      const v = varint();
      if (field === 1) code = v;
    } else if (wire === 2) {
      const len = varint();
      const bytes = buf.subarray(pos, pos + len);
      pos += len;
      if (field === 2) message = Buffer.from(bytes).toString('utf8');
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unexpected wire type ${wire}`);
  }
  return { code, message };
}

export const METRICS_JSON = JSON.stringify({
  resourceMetrics: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
      scopeMetrics: [
        {
          scope: { name: 'lib', version: '1.0.0' },
          metrics: [
            {
              name: 'http.requests',
              unit: '1',
              sum: {
                aggregationTemporality: 1,
                isMonotonic: true,
                dataPoints: [
                  {
                    asInt: '5',
                    startTimeUnixNano: '1700000000000000000',
                    timeUnixNano: '1700000010123456789',
                    attributes: [{ key: 'route', value: { stringValue: '/a' } }],
                  },
                ],
              },
            },
          ],
        },
      ],
    },
  ],
});

export const LOGS_JSON = JSON.stringify({
  resourceLogs: [
    {
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] },
      scopeLogs: [
        {
          scope: {},
          logRecords: [
            {
              timeUnixNano: '1700000000000000001',
              severityNumber: 17,
              severityText: 'ERROR',
              body: { stringValue: 'boom' },
              attributes: [
                { key: 'exception.type', value: { stringValue: 'TypeError' } },
                { key: 'count', value: { intValue: '3' } },
              ],
              traceId: '5b8efff798038103d269b633813fc60c',
              spanId: 'eee19b7ec3c1b174',
            },
            { attributes: [{ key: 'guid', value: { stringValue: 'u-1' } }] },
          ],
        },
      ],
    },
  ],
});
