/**
 * The OTLP/HTTP receiver: POST /v1/metrics (→ metrics) and POST /v1/logs
 * (→ events), protobuf or JSON, identity/gzip/deflate, on a shared listener.
 *
 * Status codes (the response uses the request's encoding; JSON when unknown):
 *   200  accepted ({} / empty proto), or partial success with the rejected count
 *   400  undecodable body, invalid UTF-8, bad compression, unsupported
 *        Content-Encoding (as the Collector), or a permanent downstream error
 *   405  not POST (Allow: POST)      413  body over max_request_body_size
 *   415  unsupported Content-Type    429/503  downstream refused (Retry-After)
 * Never 500 for a retryable condition.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Consumer, CreateSettings, Host, Receiver, Signal, SignalData } from '../../src/component.js';
import type { BoundAddress } from '../../src/httpserver.js';
import { countPoints, type EventBatch, type MetricsBatch } from '../../src/model/index.js';
import type { Event } from '../../src/model/events.js';
import { DecodeError } from '../../src/otlp/errors.js';
import type { DecodeLimits, DecodeResult } from '../../src/otlp/types.js';
import { decodeLogsJson, decodeMetricsJson, encodeExportResponseJson, encodeStatusJson } from '../../src/otlp/json.js';
import { scanMetricsJson } from '../../src/otlp/jsonscan.js';
import { decodeLogsProto, decodeMetricsProto, encodeExportResponseProto, encodeStatusProto } from '../../src/otlp/proto.js';
import { nowUnixNano, parseContentType, summarizeErrors, type BodyFormat } from '../../src/receiverhttp/negotiate.js';
import { HttpReceiver, type ErrorPayload, type Exchange } from '../../src/receiverhttp/receiver.js';
import { SEVERITY_NUMBER, type OtlpReceiverConfig } from './config.js';

/** google.rpc.Code of the Status body answered with an HTTP status */
function rpcCode(status: number): number {
  switch (status) {
    case 405:
      return 12; // UNIMPLEMENTED
    case 413:
      return 8; // RESOURCE_EXHAUSTED
    case 429:
    case 503:
      return 14; // UNAVAILABLE
    case 500:
      return 13; // INTERNAL
    default:
      return 3; // INVALID_ARGUMENT
  }
}

function statusBody(status: number, message: string, format: string): ErrorPayload {
  const code = rpcCode(status);
  return format === 'proto'
    ? { contentType: 'application/x-protobuf', body: encodeStatusProto(code, message) }
    : { contentType: 'application/json', body: encodeStatusJson(code, message) };
}

/** the format answers are written in: the request's, JSON when it has none we know */
function answerFormat(req: IncomingMessage): BodyFormat {
  const ct = parseContentType(req.headers['content-type']);
  return 'error' in ct ? 'json' : ct.format;
}

const JSON_HEADERS_200: OutgoingHttpHeaders = { 'Content-Type': 'application/json', 'Content-Length': '2' };
/** a string, so that Node sends headers and body in one write */
const JSON_BODY_200 = '{}';
const PROTO_HEADERS_200: OutgoingHttpHeaders = { 'Content-Type': 'application/x-protobuf', 'Content-Length': '0' };

interface RouteState {
  signal: Signal;
  path: string;
  consumer: Consumer<SignalData[Signal]>;
}

export class OtlpReceiver implements Receiver {
  readonly maxBody: number;
  private readonly http: HttpReceiver;
  private readonly limits: DecodeLimits;
  private readonly routes: RouteState[] = [];
  /** lowest severity number kept (0 = every record) */
  private readonly minSeverity: number;
  private readonly keepExceptions: boolean;
  private filteredLogs = 0;

  constructor(
    set: CreateSettings,
    private readonly cfg: OtlpReceiverConfig,
    next: Partial<{ [S in Signal]: Consumer<SignalData[S]> }>,
  ) {
    this.http = new HttpReceiver(set, cfg.protocols.http, { name: 'OTLP', errorBody: statusBody, format: answerFormat, configPrefix: 'protocols.http.' });
    this.maxBody = cfg.protocols.http.max_request_body_size;
    this.limits = {
      maxAttributes: cfg.limits.max_attributes,
      maxDepth: cfg.limits.max_depth,
      maxValueLength: cfg.limits.max_value_length,
    };
    this.minSeverity = SEVERITY_NUMBER[cfg.logs?.min_severity ?? 'ERROR'];
    this.keepExceptions = cfg.logs?.keep_exceptions ?? true;
    if (next.events !== undefined) {
      set.telemetry.gauge(
        'metricport_receiver_filtered_log_records',
        'Log records not turned into events (below logs.min_severity, no exception.* attribute), cumulative',
        { receiver: set.id },
        () => this.filteredLogs,
      );
    }
    if (next.metrics !== undefined) {
      this.routes.push({ signal: 'metrics', path: cfg.protocols.http.metrics_url_path, consumer: next.metrics as Consumer<SignalData[Signal]> });
    }
    if (next.events !== undefined) {
      this.routes.push({ signal: 'events', path: cfg.protocols.http.logs_url_path, consumer: next.events as Consumer<SignalData[Signal]> });
    }
  }

  async start(_host: Host): Promise<void> {
    await this.http.listen((r) => {
      for (const route of this.routes) r.route('POST', route.path, (x) => this.handle(route, x));
    });
  }

  shutdown(deadline: AbortSignal): Promise<void> {
    return this.http.shutdown(deadline);
  }

  /** The address the listener is bound to (port 0 resolved), once started. */
  boundAddress(): BoundAddress | undefined {
    return this.http.address();
  }

  status(): Record<string, unknown> {
    const paths: Record<string, string> = {};
    for (const r of this.routes) paths[r.signal] = r.path;
    const { tls, auth, guard } = this.http.security();
    return {
      endpoint: this.cfg.protocols.http.endpoint,
      listening: this.http.listening(),
      paths,
      max_request_body_size: this.maxBody,
      tls,
      auth,
      counters: this.http.counters({ ...guard, filtered_log_records: this.filteredLogs }),
      logs: { min_severity: this.cfg.logs?.min_severity ?? 'ERROR', keep_exceptions: this.keepExceptions },
    };
  }

  // ---- request path ------------------------------------------------------

  private async handle(route: RouteState, x: Exchange): Promise<void> {
    const arrivalNs = route.signal === 'events' ? nowUnixNano() : 0n;
    // above the memory limiter's soft limit: refuse before the body is read or decoded
    if (x.refuseOverMemory()) return;
    const ct = parseContentType(x.req.headers['content-type']);
    if ('error' in ct) {
      x.fail(415, ct.error, 'unsupported_media_type');
      return;
    }
    const body = await x.body(this.maxBody);
    if (body === undefined) return;
    const format = ct.format;

    let result: DecodeResult<MetricsBatch> | DecodeResult<EventBatch>;
    let fast: DecodeResult<MetricsBatch> | undefined;
    if (format === 'json' && route.signal === 'metrics' && (fast = scanMetricsJson(body, this.limits)) !== undefined) {
      // the common metrics body, read straight from the bytes (src/otlp/jsonscan.ts)
      result = fast;
    } else if (format === 'json') {
      // the general path: anything the fast path declined, answered as it always was
      const text = x.text(body);
      if (text === undefined) return;
      try {
        result = route.signal === 'metrics' ? decodeMetricsJson(text, this.limits) : decodeLogsJson(text, this.limits);
      } catch (err) {
        x.fail(400, decodeMessage(err, 'JSON'), 'malformed_json');
        return;
      }
    } else {
      try {
        result = route.signal === 'metrics' ? decodeMetricsProto(body, this.limits) : decodeLogsProto(body, this.limits);
      } catch (err) {
        x.fail(400, decodeMessage(err, 'protobuf'), 'malformed_protobuf');
        return;
      }
    }

    let n: number;
    if (route.signal === 'metrics') {
      n = countPoints(result.data as MetricsBatch);
    } else {
      const batch = result.data as EventBatch;
      if (this.minSeverity > 0) batch.events = this.keepErrors(batch.events);
      const events = batch.events;
      n = events.length;
      for (let i = 0; i < n; i++) {
        const e = events[i]!;
        if (e.timeUnixNano === 0n) e.timeUnixNano = arrivalNs;
      }
    }
    const rejected = result.rejected;
    if (rejected > 0) this.http.tel.rejected(rejected, route.signal);

    if (n > 0 && !(await x.consume(route.consumer, result.data, n, route.signal))) return;

    if (rejected === 0) {
      if (format === 'json') x.reply(200, JSON_HEADERS_200, JSON_BODY_200);
      else x.reply(200, PROTO_HEADERS_200);
      return;
    }
    const msg = summarizeErrors(result.errors);
    const signal = route.signal === 'metrics' ? 'metrics' : 'events';
    if (format === 'json') x.answer(200, 'application/json', encodeExportResponseJson(signal, rejected, msg));
    else x.answer(200, 'application/x-protobuf', encodeExportResponseProto(signal, rejected, msg));
  }

  /** Records with severity ≥ logs.min_severity, or (keep_exceptions) an exception.* attribute; the rest counted. */
  private keepErrors(events: Event[]): Event[] {
    let out: Event[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      const sev = e.attributes['log.severity_number'];
      let keep = typeof sev === 'number' && sev >= this.minSeverity;
      if (!keep && this.keepExceptions) {
        for (const k in e.attributes)
          if (k.startsWith('exception.')) {
            keep = true;
            break;
          }
      }
      if (keep) {
        out?.push(e);
        continue;
      }
      if (out === undefined) out = events.slice(0, i);
      this.filteredLogs++;
    }
    return out ?? events;
  }
}

function decodeMessage(err: unknown, what: string): string {
  if (err instanceof DecodeError) return err.message;
  const m = err instanceof Error ? err.message : String(err);
  return `cannot decode ${what} request: ${m}`;
}
