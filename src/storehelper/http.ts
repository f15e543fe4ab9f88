/**
 * One HTTP(S) request per send attempt for the HTTP metric stores: a
 * keep-alive agent (optionally with a private CA), the request's abort
 * signal, the response read up to 64 KiB. Errors carry only the status and
 * the endpoint host — never the URL path, query or headers (they hold keys).
 */
import http, { STATUS_CODES } from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { PermanentSendError, RetryableSendError, parseRetryAfter } from '../exporterhelper/retry.js';
import { PayloadTooLargeError } from './store.js';

const MAX_RESPONSE_BYTES = 64 * 1024;

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export class StoreHttpClient {
  private readonly url: URL;
  private agent: http.Agent | undefined;
  private readonly caFile: string;
  /** host[:port]: safe to show */
  readonly host: string;

  constructor(url: string | URL, opts: { caFile?: string } = {}) {
    this.url = typeof url === 'string' ? new URL(url) : url;
    this.host = this.url.host;
    this.caFile = opts.caFile ?? '';
  }

  start(): void {
    if (this.agent !== undefined) return;
    const opts: https.AgentOptions = { keepAlive: true, maxSockets: 8 };
    if (this.url.protocol === 'https:' && this.caFile !== '') opts.ca = readFileSync(this.caFile);
    this.agent = this.url.protocol === 'https:' ? new https.Agent(opts) : new http.Agent(opts);
  }

  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  /** Send once; resolves with any answer (classify it with `classify`), rejects RetryableSendError on network errors or the signal's reason. */
  request(method: string, body: Uint8Array, headers: Record<string, string>, signal: AbortSignal, url: URL = this.url): Promise<HttpResponse> {
    if (this.agent === undefined) this.start();
    if (signal.aborted) return Promise.reject(signal.reason);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<HttpResponse>((resolve, reject) => {
      let done = false;
      const fail = (e: unknown): void => {
        if (!done) {
          done = true;
          reject(e);
        }
      };
      const net = (e: unknown): RetryableSendError => {
        const code = (e as { code?: unknown })?.code;
        return new RetryableSendError(`cannot send to ${this.host}: ${typeof code === 'string' ? code : ((e as Error)?.name ?? 'error')}`, {
          reason: 'network',
          cause: e,
        });
      };
      const req = mod.request(url, { method, agent: this.agent, signal, headers: { ...headers, 'Content-Length': String(body.length) } }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) {
            chunks.push(c);
            size += c.length;
          }
        });
        res.on('error', (e) => fail(signal.aborted ? signal.reason : net(e)));
        res.on('aborted', () =>
          fail(signal.aborted ? signal.reason : new RetryableSendError(`response from ${this.host} was cut short`, { reason: 'network' })),
        );
        res.on('end', () => {
          if (!done) {
            done = true;
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          }
        });
      });
      req.on('error', (e) => fail(signal.aborted ? signal.reason : net(e)));
      req.end(body);
    });
  }

  /**
   * The common rules: 2xx returns; 413 → PayloadTooLargeError (split and
   * resend); `retryable` statuses (and every 5xx unless listed in
   * `permanent`) → retry with Retry-After; everything else permanent.
   */
  classify(r: HttpResponse, rules: { permanent?: ReadonlySet<number>; retryable?: ReadonlySet<number>; split413?: boolean }): void {
    const status = r.status;
    if (status >= 200 && status < 300) return;
    const what = `HTTP ${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ''} from ${this.host}`;
    if (status === 413 && rules.split413 !== false) throw new PayloadTooLargeError(what);
    const retry = rules.retryable?.has(status) ?? false;
    const perm = rules.permanent?.has(status) ?? false;
    if (retry || (!perm && (status === 429 || status >= 500))) {
      const ra = r.headers['retry-after'];
      const retryAfterMs = parseRetryAfter(Array.isArray(ra) ? ra[0] : ra);
      throw new RetryableSendError(what, { status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    throw new PermanentSendError(what, { status });
  }
}
