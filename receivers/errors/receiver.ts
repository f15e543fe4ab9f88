/**
 * The `errors` receiver: POST /v1/errors with a JSON object, a JSON array or
 * NDJSON of error events (src/eventsjson/parse.ts), on the shared HTTP
 * listener (src/receiverhttp/), so it can share the otlp receiver's endpoint.
 *
 * Answers (always JSON):
 *   200 {"accepted": n, "rejected": m, "errors": [{"index", "line"?, "reason"}]}
 *       when at least one event could be read (rejected events listed, the first 100)
 *   400 {"accepted": 0, "rejected": m, "error": "...", "errors": [...]} when none could be read
 *   405 not POST   413 body too large   415 unsupported Content-Type
 *   429/503 downstream refused (Retry-After)
 */
import type { Consumer, CreateSettings, Host, Receiver, Signal, SignalData } from '../../src/component.js';
import type { BoundAddress } from '../../src/httpserver.js';
import type { EventBatch } from '../../src/model/index.js';
import { parseErrorsBytes, type ParseLimits } from '../../src/eventsjson/parse.js';
import { nowUnixNano } from '../../src/receiverhttp/negotiate.js';
import { HttpReceiver, jsonError, type Exchange } from '../../src/receiverhttp/receiver.js';
import type { ErrorsReceiverConfig } from './config.js';

const ACCEPTED_TYPES = 'application/json, application/x-ndjson (or application/jsonl, text/plain)';

type Format = 'json' | 'ndjson';

/** Content-Type → body format; undefined = unsupported. A missing Content-Type is sniffed as JSON/NDJSON. */
function errorsContentType(h: string | undefined): Format | undefined {
  if (h === undefined || h === '') return 'json';
  const media = (h.indexOf(';') < 0 ? h : h.slice(0, h.indexOf(';'))).trim().toLowerCase();
  switch (media) {
    case 'application/json':
      return 'json';
    case 'application/x-ndjson':
    case 'application/ndjson':
    case 'application/jsonl':
    case 'application/x-jsonlines':
    case 'application/jsonlines':
    case 'text/plain':
      return 'ndjson';
    default:
      return undefined;
  }
}

export class ErrorsReceiver implements Receiver {
  private readonly http: HttpReceiver;
  private readonly limits: ParseLimits;

  constructor(
    set: CreateSettings,
    private readonly cfg: ErrorsReceiverConfig,
    private readonly next: Consumer<EventBatch> | undefined,
  ) {
    this.http = new HttpReceiver(set, cfg, { name: 'errors', errorBody: jsonError('error'), cors: cfg.cors });
    this.limits = {
      maxEvents: cfg.max_events_per_request,
      maxAttributes: cfg.max_attributes,
      maxValueLength: cfg.max_value_length,
      maxKeyLength: cfg.max_key_length,
    };
  }

  async start(_host: Host): Promise<void> {
    if (this.next === undefined) return;
    await this.http.listen((r) => r.route('POST', this.cfg.url_path, (x) => this.handle(x)));
  }

  shutdown(deadline: AbortSignal): Promise<void> {
    return this.http.shutdown(deadline);
  }

  boundAddress(): BoundAddress | undefined {
    return this.http.address();
  }

  status(): Record<string, unknown> {
    return this.http.status({ path: this.cfg.url_path });
  }

  private async handle(x: Exchange): Promise<void> {
    const arrival = nowUnixNano();
    // above the memory limiter's soft limit: refuse before the body is read or parsed
    if (x.refuseOverMemory()) return;
    const format = errorsContentType(x.req.headers['content-type']);
    if (format === undefined) {
      x.fail(415, `unsupported Content-Type ${JSON.stringify(x.req.headers['content-type'])}; send ${ACCEPTED_TYPES}`, 'unsupported_media_type');
      return;
    }
    const body = await x.body(this.cfg.max_request_body_size);
    if (body === undefined) return;
    const bytes = x.utf8(body);
    if (bytes === undefined) return;
    const r = parseErrorsBytes(bytes, arrival, this.limits, format === 'ndjson');
    if (r.rejected > 0) this.http.tel.rejected(r.rejected, 'events');
    if (!r.readable || (r.events.length === 0 && r.rejected === 0)) {
      const error = r.error ?? 'no events';
      x.json(400, JSON.stringify({ accepted: 0, rejected: r.rejected, error, errors: r.rejections }), 'malformed_json', error);
      return;
    }
    const n = r.events.length;
    if (n > 0 && !(await x.consume(this.next!, { events: r.events }, n, 'events'))) return;
    if (r.rejected === 0) {
      x.json(200, `{"accepted":${n},"rejected":0}`);
      return;
    }
    x.json(
      200,
      JSON.stringify({ accepted: n, rejected: r.rejected, errors: r.rejections, ...(r.rejected > r.rejections.length ? { errors_truncated: true } : {}) }),
    );
  }
}

export function createErrorsReceiver(
  set: CreateSettings,
  cfg: ErrorsReceiverConfig,
  next: Partial<{ [S in Signal]: Consumer<SignalData[S]> }>,
): ErrorsReceiver {
  return new ErrorsReceiver(set, cfg, next.events);
}
