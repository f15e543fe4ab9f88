/**
 * The `backtrace` receiver: what the unmodified Backtrace SDKs submit when
 * their url points at metricport (protocols.md §10).
 *
 *   POST /post?format=json&token=<token>       (@backtrace/node with `url` + `token`)
 *   POST [/prefix]/<universe>/<token>/json     (a submit.backtrace.io-style url; any prefix,
 *                                               e.g. http://host:port/submit.backtrace.io/<universe>/<token>/json,
 *                                               the form under which the SDK also finds the universe for metrics)
 *   POST /api/unique-events/submit?universe=&token=   metrics (metrics.enabled): unique events
 *   POST /api/summed-events/submit?universe=&token=   metrics: summed events (receivers/backtrace/metrics.ts)
 *
 * Body: the JSON report, or multipart/form-data with the report in part
 * `upload_file` (attachments such as breadcrumbs are skipped). No token → 401,
 * an unknown token → 403 (counted). Success is exactly `200` with a JSON
 * body (`{"response":"ok","_rxid":"<uuid>"}`): an empty 200 breaks the SDK.
 * A `uuid` seen within `dedupe.horizon` (the offline database resending) is
 * answered the same and counted as a duplicate, not passed on.
 * `annotations` (the app's whole `process.env`) are never read or logged.
 */
import type { Consumer, CreateSettings, Host, Receiver } from '../../src/component.js';
import { SeenIds } from '../../src/errorsdk/dedupe.js';
import type { BoundAddress } from '../../src/httpserver.js';
import type { EventBatch } from '../../src/model/index.js';
import { jsonObject } from '../../src/receiverhttp/body.js';
import { nowUnixNano, queryParam } from '../../src/receiverhttp/negotiate.js';
import { HttpReceiver, type Exchange } from '../../src/receiverhttp/receiver.js';
import type { BacktraceReceiverConfig } from './config.js';
import { mapBacktraceReport, type BacktraceMapOptions } from './map.js';
import { mapMetricsSubmission, type MetricsKind } from './metrics.js';
import { findPart, multipartBoundary } from './multipart.js';

const POST_ROUTE = '/post';
const TOKEN_ROUTE = '/{universe}/{token}/json';
const TOKEN_RE = /^(?:\/[^?#]*)?\/[^/?#]+\/[^/?#]+\/json\/?$/;
const UNIQUE_ROUTE = '/api/unique-events/submit';
const SUMMED_ROUTE = '/api/summed-events/submit';

export class BacktraceReceiver implements Receiver {
  private readonly http: HttpReceiver;
  private readonly tokens = new Map<string, BacktraceMapOptions>();
  private readonly seen: SeenIds;
  private duplicates = 0;
  private multipart = 0;
  /** metrics events passed on, by kind; events the SDK reported dropped on its side */
  private readonly metricEvents = { unique: 0, summed: 0, sdk_dropped: 0 };

  constructor(
    set: CreateSettings,
    private readonly cfg: BacktraceReceiverConfig,
    private readonly next: Consumer<EventBatch> | undefined,
  ) {
    this.http = new HttpReceiver(set, cfg, {
      name: 'backtrace',
      errorBody: (code, message) => ({ contentType: 'application/json', body: JSON.stringify({ response: 'error', error: { code, message } }) }),
      unsupportedEncodingStatus: 415,
      // the SDK's database retries later on 429
      refusal: { status: 429, message: 'the pipeline cannot accept reports right now; retry later', minRetryAfter: 1 },
      authFailures: true,
      cors: cfg.cors,
      gauges: (tel, attrs) => {
        tel.gauge(
          'metricport_backtrace_duplicate_reports',
          'Reports whose uuid was already seen within dedupe.horizon (answered 200, not passed on), cumulative',
          attrs,
          () => this.duplicates,
        );
        tel.gauge('metricport_backtrace_dedupe_entries', 'uuids remembered for deduplication', attrs, () => this.seen.size);
        if (cfg.metrics.enabled) {
          for (const k of ['unique', 'summed'] as const)
            tel.gauge(
              'metricport_backtrace_metric_events',
              'Backtrace metrics events passed on (unique: unique events; summed: summed events such as Application Launches), cumulative',
              { ...attrs, kind: k },
              () => this.metricEvents[k],
            );
        }
      },
    });
    for (const t of cfg.tokens)
      this.tokens.set(t.token, {
        application: t.application === '' ? undefined : t.application,
        maxValueLength: cfg.max_value_length,
        maxAttributes: cfg.max_attributes,
      });
    this.seen = new SeenIds(cfg.dedupe.horizon, cfg.dedupe.max_entries);
  }

  async start(_host: Host): Promise<void> {
    if (this.next === undefined) return;
    await this.http.listen((r) => {
      r.route('POST', POST_ROUTE, (x) => this.handle(x, queryParam(x.req.url ?? '', 'token')));
      r.routePattern('POST', TOKEN_ROUTE, TOKEN_RE, (x) => this.handle(x, tokenFromPath(x.req.url ?? '')));
      if (this.cfg.metrics.enabled) {
        r.route('POST', UNIQUE_ROUTE, (x) => this.handleMetrics(x, 'unique'));
        r.route('POST', SUMMED_ROUTE, (x) => this.handleMetrics(x, 'summed'));
      }
    });
  }

  shutdown(deadline: AbortSignal): Promise<void> {
    return this.http.shutdown(deadline);
  }

  boundAddress(): BoundAddress | undefined {
    return this.http.address();
  }

  status(): Record<string, unknown> {
    return this.http.status(
      { paths: this.cfg.metrics.enabled ? [POST_ROUTE, TOKEN_ROUTE, UNIQUE_ROUTE, SUMMED_ROUTE] : [POST_ROUTE, TOKEN_ROUTE], tokens: this.cfg.tokens.length },
      {
        duplicates: this.duplicates,
        multipart: this.multipart,
        dedupe_entries: this.seen.size,
        dedupe_evicted: this.seen.evicted,
        ...(this.cfg.metrics.enabled ? { metric_events: { ...this.metricEvents } } : {}),
      },
    );
  }

  private async handle(x: Exchange, token: string | undefined): Promise<void> {
    // above the memory limiter's soft limit: refuse before the body is read
    if (x.refuseOverMemory()) return;
    const format = queryParam(x.req.url ?? '', 'format');
    if (format !== undefined && format !== 'json') {
      x.fail(400, `format ${JSON.stringify(format.slice(0, 32))} is not supported; only format=json reports are accepted`, 'unsupported_format');
      return;
    }
    const opts = this.authorize(x, token, '/post?format=json&token=<token> or /<universe>/<token>/json');
    if (opts === undefined) return;
    const arrival = nowUnixNano();
    const body = await x.body(this.cfg.max_request_body_size);
    if (body === undefined) return;
    let json = body;
    const ct = x.req.headers['content-type'];
    const boundary = multipartBoundary(ct);
    if (boundary !== undefined) {
      const part = findPart(body, boundary, 'upload_file');
      if (!part.ok) {
        x.fail(400, part.error, 'malformed_multipart');
        return;
      }
      json = part.body;
      this.multipart++;
    } else if (ct !== undefined && /^\s*multipart\//i.test(ct)) {
      x.fail(400, 'multipart Content-Type without a boundary', 'malformed_multipart');
      return;
    }
    const report = jsonObject(json);
    if (report === undefined) {
      this.http.tel.rejected(1, 'events');
      x.fail(400, 'the report is not a JSON object', 'malformed_json');
      return;
    }
    const m = mapBacktraceReport(report, arrival, opts);
    if (!m.ok) {
      this.http.tel.rejected(1, 'events');
      x.fail(400, m.error, 'invalid_report');
      return;
    }
    if (this.seen.checkAndAdd(m.uuid)) {
      this.duplicates++;
      this.ok(x, m.uuid);
      return;
    }
    if (!(await x.consume(this.next!, { events: [{ timeUnixNano: m.timeUnixNano, attributes: m.attributes }] }, 1, 'events'))) {
      // a refused report is forgotten, so that its resend counts
      this.seen.remove(m.uuid);
      return;
    }
    this.ok(x, m.uuid);
  }

  /** The options of a known submission token; otherwise answers 401 (none given: `usage` says where it goes) or 403 and returns undefined. */
  private authorize(x: Exchange, token: string | undefined, usage: string) {
    if (token === undefined || token === '') {
      x.authFailed(401, `missing submission token: use ${usage}`);
      return undefined;
    }
    const opts = this.tokens.get(token);
    if (opts === undefined) x.authFailed(403, `unknown submission token; check the SDK's token against receivers.${this.http.id}.tokens`);
    return opts;
  }

  /** A metrics submission (unique or summed events): token-checked like reports, then one event per metrics event. */
  private async handleMetrics(x: Exchange, kind: MetricsKind): Promise<void> {
    if (x.refuseOverMemory()) return;
    const token = queryParam(x.req.url ?? '', 'token');
    const opts = this.authorize(x, token, `${kind === 'unique' ? UNIQUE_ROUTE : SUMMED_ROUTE}?universe=<universe>&token=<token>`);
    if (opts === undefined) return;
    const arrival = nowUnixNano();
    const body = await x.body(this.cfg.max_request_body_size);
    if (body === undefined) return;
    const json = jsonObject(body);
    if (json === undefined) {
      this.http.tel.rejected(1, 'events');
      x.fail(400, 'the metrics submission is not a JSON object', 'malformed_json');
      return;
    }
    const m = mapMetricsSubmission(kind, json, arrival, opts, this.cfg.metrics.max_events_per_request);
    if (!m.ok) {
      this.http.tel.rejected(1, 'events');
      x.fail(400, m.error, 'invalid_metrics');
      return;
    }
    this.metricEvents.sdk_dropped += m.dropped;
    if (m.events.length > 0 && !(await x.consume(this.next!, { events: m.events }, m.events.length, 'events'))) return;
    this.metricEvents[kind] += m.events.length;
    x.json(200, '{"response":"ok"}');
  }

  private ok(x: Exchange, uuid: string): void {
    x.json(200, `{"response":"ok","_rxid":${JSON.stringify(uuid)}}`);
  }
}

/** `<token>` of `[/prefix]/<universe>/<token>/json`: the segment before `json`. */
export function tokenFromPath(url: string): string | undefined {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const parts = path.split('/');
  if (parts.at(-1) === '') parts.pop();
  const t = parts.at(-2);
  if (t === undefined || t === '') return undefined;
  try {
    return decodeURIComponent(t);
  } catch {
    return undefined;
  }
}
