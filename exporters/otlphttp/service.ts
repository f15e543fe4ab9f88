/**
 * otlphttp transport: POST a body with node:http/https over a keep-alive
 * agent, and classify the answer the OTLP way (protocols.md §1):
 * 2xx success (partial success parsed, never retried); 429, 502, 503, 504
 * retryable with Retry-After honoured; every other status permanent (500
 * included); network errors retryable. Error messages name only the status,
 * its reason phrase and the endpoint host — never the URL path or headers.
 */
import http, { STATUS_CODES, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Logger } from '../../src/logger.js';
import type { PushResult } from '../../src/exporterhelper/exporter.js';
import { PermanentSendError, RetryableSendError, parseRetryAfter } from '../../src/exporterhelper/retry.js';
import { parseExportResponse, parseStatusMessage } from './request.js';

const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Most response bytes read (the rest is discarded). */
const MAX_RESPONSE_BYTES = 1 << 20;
const LOG_EVERY_MS = 10_000;

export class HttpSender {
  private readonly url: URL;
  private readonly headers: Record<string, string>;
  private readonly logger: Logger;
  private agent: http.Agent | undefined;
  private lastLog = 0;
  /** host[:port] only: safe to show */
  readonly host: string;

  constructor(url: URL, headers: Record<string, string>, logger: Logger) {
    this.url = url;
    this.headers = headers;
    this.logger = logger;
    this.host = url.host;
  }

  start(): void {
    if (this.agent !== undefined) return;
    const opts = { keepAlive: true, maxSockets: 16 };
    this.agent = this.url.protocol === 'https:' ? new https.Agent(opts) : new http.Agent(opts);
  }

  close(): void {
    this.agent?.destroy();
  }

  /** POST once. Resolves with the partial success; rejects RetryableSendError / PermanentSendError, or the signal's reason when aborted. */
  send(body: Buffer, headers: Record<string, string>, signal: AbortSignal): Promise<PushResult> {
    if (this.agent === undefined) return Promise.reject(new RetryableSendError(`exporter to ${this.host} is not started`, { reason: 'not_started' }));
    if (signal.aborted) return Promise.reject(signal.reason);
    const mod = this.url.protocol === 'https:' ? https : http;
    return new Promise<PushResult>((resolve, reject) => {
      let done = false;
      const fail = (e: unknown): void => {
        if (!done) {
          done = true;
          reject(e);
        }
      };
      const ok = (r: PushResult): void => {
        if (!done) {
          done = true;
          resolve(r);
        }
      };
      const req = mod.request(
        this.url,
        {
          method: 'POST',
          agent: this.agent,
          signal,
          headers: { ...this.headers, ...headers, 'Content-Length': String(body.length) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            if (size < MAX_RESPONSE_BYTES) {
              chunks.push(c);
              size += c.length;
            }
          });
          res.on('error', (e) => fail(signal.aborted ? signal.reason : this.networkError(e)));
          res.on('aborted', () =>
            fail(signal.aborted ? signal.reason : new RetryableSendError(`response from ${this.host} was cut short`, { reason: 'network' })),
          );
          res.on('end', () => {
            try {
              ok(this.classify(res, Buffer.concat(chunks)));
            } catch (e) {
              fail(e);
            }
          });
        },
      );
      req.on('error', (e) => fail(signal.aborted ? signal.reason : this.networkError(e)));
      req.end(body);
    });
  }

  private networkError(e: unknown): RetryableSendError {
    const code = (e as { code?: unknown })?.code;
    const c = typeof code === 'string' ? code : ((e as Error)?.name ?? 'error');
    return new RetryableSendError(`cannot send to ${this.host}: ${c}`, { reason: 'network', cause: e });
  }

  private classify(res: IncomingMessage, body: Buffer): PushResult {
    const status = res.statusCode ?? 0;
    const ctype = res.headers['content-type'];
    if (status >= 200 && status < 300) {
      const ps = parseExportResponse(body, ctype);
      return ps.rejected > 0 || ps.message !== '' ? { rejected: ps.rejected, message: ps.message } : {};
    }
    const what = `HTTP ${status}${STATUS_CODES[status] ? ` ${STATUS_CODES[status]}` : ''} from ${this.host}`;
    if (RETRYABLE_STATUS.has(status)) {
      const ra = res.headers['retry-after'];
      const retryAfterMs = parseRetryAfter(Array.isArray(ra) ? ra[0] : ra);
      throw new RetryableSendError(what, { status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    }
    this.logServerMessage(status, body, ctype);
    throw new PermanentSendError(what, { status });
  }

  /** The backend's own explanation of a permanent failure: logged (throttled), never put in status. */
  private logServerMessage(status: number, body: Buffer, ctype: string | undefined): void {
    const now = Date.now();
    if (now - this.lastLog < LOG_EVERY_MS) return;
    const msg = parseStatusMessage(body, ctype);
    if (msg === undefined || msg === '') return;
    this.lastLog = now;
    this.logger.warn({ status, endpoint: this.host, server_message: msg.slice(0, 300) }, 'OTLP endpoint refused the data');
  }
}
