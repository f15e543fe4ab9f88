/**
 * The `datadog` receiver: the Datadog HTTP API, so that an app whose Datadog
 * client posts series straight to Datadog only changes its API URL
 * (protocols.md §2; docs/receivers/datadog.md).
 *
 *   POST [prefix]/api/v1/series               JSON {"series":[{metric, points:[[ts,v]], type, interval, host, tags}]} → 202 {"status":"ok"}
 *   POST [prefix]/api/v2/series               JSON {"series":[{metric, type:0..3, points:[{timestamp,value}], resources, tags, unit}]}
 *                                             or protobuf MetricPayload (Content-Type application/x-protobuf) → 202 {"errors":[]}
 *   POST [prefix]/api/v1/distribution_points  JSON {"series":[{metric, points:[[ts,[v...]]], host, tags}]} → 202 {"status":"ok"}
 *   POST [prefix]/api/v1/check_run            JSON array of check runs: counted, answered 202 {"status":"ok"}
 *   GET  [prefix]/api/v1/validate             200 {"valid":true} for a configured key
 *
 * Every route checks the API key (`DD-API-KEY`, else `?api_key=`) against
 * `api_keys` in constant time: none or another → 403 {"errors":["Forbidden"]}
 * (counted, warned about rate-limited, never logged). Bodies: identity,
 * gzip, deflate (src/receiverhttp) or zstd/zstd1 (fzstd, loaded on first
 * use), at most max_request_body_size compressed and decompressed (413).
 * A body that does not decode → 400 {"errors":[message]}; invalid series or
 * points are rejected one by one (counted by reason) and named in `errors`
 * of a 202 while the rest goes on; 400 when nothing was valid. The pipeline's
 * refusal → 429/503 + Retry-After (the clients retry those).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Consumer, CreateSettings, Host, Receiver } from '../../src/component.js';
import type { BoundAddress } from '../../src/httpserver.js';
import type { MetricsBatch } from '../../src/model/index.js';
import { DecodeError } from '../../src/otlp/errors.js';
import { nowUnixNano, queryParam } from '../../src/receiverhttp/negotiate.js';
import { HttpReceiver, type Exchange } from '../../src/receiverhttp/receiver.js';
import type { DatadogReceiverConfig } from './config.js';
import { distSeries, REJECT_REASONS, SeriesMapper, v1Series, v2Series, type DdSeries, type MapOptions, type MapResult, type RejectReason } from './map.js';
import { scanV1Series } from './json.js';
import { decodeSeriesProto } from './proto.js';

type Kind = 'v1' | 'v2' | 'dist';

const OK_V1 = '{"status":"ok"}';
const OK_V2 = '{"errors":[]}';

/** `{"errors":[message]}`, Datadog's error body */
function errorBody(_status: number, message: string): { contentType: string; body: string } {
  return { contentType: 'application/json', body: JSON.stringify({ errors: [message] }) };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export class DatadogReceiver implements Receiver {
  private readonly http: HttpReceiver;
  private readonly keys: Buffer[];
  private readonly prefix: string;
  private readonly opts: Omit<MapOptions, 'nowNs'>;
  private readonly rejectedBy: Record<string, number> = {};
  private duplicateTags = 0;
  private checkRuns = 0;
  private validations = 0;

  constructor(
    set: CreateSettings,
    private readonly cfg: DatadogReceiverConfig,
    private readonly next: Consumer<MetricsBatch> | undefined,
  ) {
    this.http = new HttpReceiver(set, cfg, {
      name: 'datadog',
      errorBody,
      unsupportedEncodingStatus: 415,
      refusal: { minRetryAfter: 1 },
      authFailures: true,
      gauges: (tel, attrs) => {
        for (const r of REJECT_REASONS) {
          tel.gauge(
            'metricport_datadog_rejected_points',
            'Points (series: all their points) a datadog receiver rejected, by reason, cumulative',
            { ...attrs, reason: r },
            () => this.rejectedBy[r] ?? 0,
          );
        }
        tel.gauge(
          'metricport_datadog_check_runs',
          'Service check runs received on /api/v1/check_run (acknowledged, not turned into metrics), cumulative',
          attrs,
          () => this.checkRuns,
        );
      },
    });
    this.keys = cfg.api_keys.map((k) => digest(k.key));
    this.prefix = cfg.path_prefix;
    this.opts = {
      rateAs: cfg.rate,
      maxTags: cfg.max_tags_per_series,
      distributions: { explicitBounds: cfg.distributions.explicit_bounds, maxScale: cfg.distributions.max_scale, maxBuckets: cfg.distributions.max_buckets },
    };
  }

  async start(_host: Host): Promise<void> {
    if (this.next === undefined) return;
    const p = this.prefix;
    await this.http.listen((r) => {
      r.route('POST', `${p}/api/v1/series`, (x) => this.series(x, 'v1'));
      r.route('POST', `${p}/api/v2/series`, (x) => this.series(x, 'v2'));
      r.route('POST', `${p}/api/v1/distribution_points`, (x) => this.series(x, 'dist'));
      r.route('POST', `${p}/api/v1/check_run`, (x) => this.checkRun(x));
      r.route('GET', `${p}/api/v1/validate`, (x) => this.validate(x));
    });
  }

  shutdown(deadline: AbortSignal): Promise<void> {
    return this.http.shutdown(deadline);
  }

  boundAddress(): BoundAddress | undefined {
    return this.http.address();
  }

  status(): Record<string, unknown> {
    const p = this.prefix;
    return this.http.status(
      {
        paths: [`${p}/api/v1/series`, `${p}/api/v2/series`, `${p}/api/v1/distribution_points`, `${p}/api/v1/check_run`, `${p}/api/v1/validate`],
        keys: this.cfg.api_keys.map((k) => k.name),
        max_request_body_size: this.cfg.max_request_body_size,
      },
      { rejected_by_reason: { ...this.rejectedBy }, duplicate_tags: this.duplicateTags, check_runs: this.checkRuns, validations: this.validations },
    );
  }

  // ---- auth ---------------------------------------------------------------

  private requestKey(req: IncomingMessage): string | undefined {
    const h = req.headers['dd-api-key'];
    if (typeof h === 'string' && h !== '') return h;
    return queryParam(req.url ?? '', 'api_key');
  }

  /** constant time: the key's digest against every configured digest, no early exit */
  private authorised(x: Exchange): boolean {
    const key = this.requestKey(x.req);
    if (key === undefined) {
      x.authFailed(403, 'missing API key: send the DD-API-KEY header (or the api_key query parameter)');
      return false;
    }
    const d = digest(key);
    let ok = false;
    for (const k of this.keys) ok = timingSafeEqual(d, k) || ok;
    if (!ok) {
      x.authFailed(403, `unknown API key (DD-API-KEY); check it against receivers.${this.http.id}.api_keys`);
      return false;
    }
    return true;
  }

  // ---- bodies -------------------------------------------------------------

  /** the body with its Content-Encoding undone (zstd here, the others in src/receiverhttp); undefined when answered */
  private async body(x: Exchange): Promise<Buffer | undefined> {
    const max = this.cfg.max_request_body_size;
    const ce = x.req.headers['content-encoding'];
    if (typeof ce === 'string' && /^\s*zstd1?\s*$/i.test(ce)) {
      delete x.req.headers['content-encoding'];
      const raw = await x.body(max);
      if (raw === undefined) return undefined;
      const r = await unzstd(raw, max);
      if (typeof r === 'string') {
        if (r.startsWith('413 ')) x.fail(413, r.slice(4), 'too_large');
        else x.fail(400, r, 'decompression_failed');
        return undefined;
      }
      return r;
    }
    return x.body(max);
  }

  private json(x: Exchange, body: Buffer): unknown {
    const text = x.text(body);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text);
    } catch (err) {
      x.fail(400, `malformed JSON: ${(err as Error).message}`, 'malformed_json');
      return undefined;
    }
  }

  // ---- routes -------------------------------------------------------------

  private async series(x: Exchange, kind: Kind): Promise<void> {
    if (x.refuseOverMemory()) return;
    if (!this.authorised(x)) return;
    const body = await this.body(x);
    if (body === undefined) return;
    const nowNs = nowUnixNano();
    let mapper = new SeriesMapper({ ...this.opts, nowNs });
    if (kind === 'v2' && isProtobuf(x.req.headers['content-type'])) {
      let list: DdSeries[];
      try {
        list = decodeSeriesProto(body);
      } catch (err) {
        x.fail(400, err instanceof DecodeError ? err.message : `cannot decode protobuf: ${(err as Error).message}`, 'malformed_protobuf');
        return;
      }
      for (let i = 0; i < list.length; i++) mapper.add(list[i] as DdSeries, i);
    } else if (kind === 'v1' && scanV1Series(body, mapper)) {
      // the common v1 body, read straight from the bytes (json.ts)
    } else {
      // the general path (a fresh mapper: the fast path may have left part of the body in the first)
      if (kind === 'v1') mapper = new SeriesMapper({ ...this.opts, nowNs });
      const doc = this.json(x, body);
      if (doc === undefined) return;
      const series = doc !== null && typeof doc === 'object' ? (doc as { series?: unknown }).series : undefined;
      if (!Array.isArray(series)) {
        x.fail(400, 'the body must be a JSON object with a "series" array', 'malformed_json');
        return;
      }
      for (let i = 0; i < series.length; i++) {
        const o = series[i];
        if (o === null || typeof o !== 'object' || Array.isArray(o)) {
          mapper.reject(1, 'bad_series', `series[${i}]: must be an object`);
          continue;
        }
        const rec = o as Record<string, unknown>;
        if (kind === 'v1') mapper.add(v1Series(rec), i);
        else if (kind === 'dist') mapper.add(distSeries(rec), i);
        else {
          const s = v2Series(rec);
          if (typeof s === 'string') {
            mapper.reject(Array.isArray(rec.points) ? Math.max(1, rec.points.length) : 1, 'bad_series', `series[${i}].${s}`);
            continue;
          }
          mapper.add(s, i);
        }
      }
    }
    const r = mapper.result();
    this.count(r);
    if (r.points === 0 && r.rejected > 0) {
      x.json(400, JSON.stringify({ errors: r.errors }), 'invalid_series', r.errors[0]);
      return;
    }
    if (r.points > 0 && !(await x.consume(this.next!, r.batch, r.points, 'metrics'))) return;
    if (r.errors.length === 0) {
      x.json(202, kind === 'v2' ? OK_V2 : OK_V1);
      return;
    }
    x.json(202, JSON.stringify(kind === 'v2' ? { errors: r.errors } : { status: 'ok', errors: r.errors }));
  }

  private count(r: MapResult): void {
    if (r.rejected > 0) {
      this.http.tel.rejected(r.rejected, 'metrics');
      for (const k in r.byReason) this.rejectedBy[k] = (this.rejectedBy[k] ?? 0) + (r.byReason[k as RejectReason] as number);
    }
    this.duplicateTags += r.duplicateTags;
  }

  private async checkRun(x: Exchange): Promise<void> {
    if (x.refuseOverMemory()) return;
    if (!this.authorised(x)) return;
    const body = await this.body(x);
    if (body === undefined) return;
    const doc = this.json(x, body);
    if (doc === undefined) return;
    if (!Array.isArray(doc) && (doc === null || typeof doc !== 'object')) {
      x.fail(400, 'the body must be a JSON array of check runs', 'malformed_json');
      return;
    }
    this.checkRuns += Array.isArray(doc) ? doc.length : 1;
    x.json(202, OK_V1);
  }

  private validate(x: Exchange): void {
    if (!this.authorised(x)) return;
    this.validations++;
    x.json(200, '{"valid":true}');
  }
}

function isProtobuf(ct: string | undefined): boolean {
  if (ct === undefined) return false;
  const semi = ct.indexOf(';');
  const media = (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase();
  return media === 'application/x-protobuf' || media === 'application/protobuf';
}

type Fzstd = typeof import('fzstd');
let fzstd: Promise<Fzstd> | undefined;

/**
 * Undo zstd under `max` output bytes: the decompressed body, or a message
 * ("413 ..." when over the limit). A first frame that declares a content
 * size or window over the limit (and over 8 MiB) is refused before any
 * buffer is allocated for it.
 */
async function unzstd(raw: Buffer, max: number): Promise<Buffer | string> {
  if (raw.length === 0) return raw;
  const declared = zstdFrameSize(raw);
  const tooLarge = `413 decompressed request body exceeds max_request_body_size (${max} bytes)`;
  if (declared !== undefined && declared > max && declared > 8 * 1024 * 1024) return tooLarge;
  const z = await (fzstd ??= import('fzstd'));
  const parts: Uint8Array[] = [];
  let size = 0;
  let over = false;
  try {
    const d = new z.Decompress((chunk) => {
      size += chunk.length;
      if (size > max) {
        over = true;
        throw new Error('over');
      }
      parts.push(chunk);
    });
    d.push(raw, true);
  } catch (err) {
    if (over) return tooLarge;
    return `cannot decompress zstd body: ${(err as Error).message}`;
  }
  return Buffer.concat(parts, size);
}

/** the frame content size or window size the first zstd frame declares (the larger), undefined when it has neither or is not zstd */
function zstdFrameSize(b: Buffer): number | undefined {
  if (b.length < 6 || b.readUInt32LE(0) !== 0xfd2fb528) return undefined;
  const fhd = b[4] as number;
  const single = (fhd >> 5) & 1;
  const fcsFlag = fhd >> 6;
  const dictBytes = [0, 1, 2, 4][fhd & 3] as number;
  let pos = 5;
  let window = 0;
  if (!single) {
    const wd = b[pos++] as number;
    const base = 2 ** (10 + (wd >> 3));
    window = base + (base / 8) * (wd & 7);
  }
  pos += dictBytes;
  const fcsBytes = fcsFlag === 0 ? single : 1 << fcsFlag;
  let fcs = 0;
  if (fcsBytes > 0 && pos + fcsBytes <= b.length) {
    for (let i = fcsBytes - 1; i >= 0; i--) fcs = fcs * 256 + (b[pos + i] as number);
    if (fcsBytes === 2) fcs += 256;
  }
  return Math.max(window, fcs);
}
