/**
 * Security options shared by every server metricport runs (HTTP receivers on
 * the shared listener, the admin server, pull stores): TLS with optional
 * client certificates (mTLS), bearer tokens compared in constant time, and a
 * token-bucket request rate limit answered with 429 + Retry-After.
 *
 * ```yaml
 * tls: { cert_file: /etc/mp/server.crt, key_file: /etc/mp/server.key, client_ca_file: /etc/mp/ca.crt }
 * auth: { tokens: [ "${env:OTLP_TOKEN}" ] }
 * rate_limit: { requests_per_second: 200, burst: 400 }
 * ```
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';
import type { Field } from './schema.js';

export interface TlsConfig {
  cert_file: string;
  key_file: string;
  client_ca_file: string;
}
export interface AuthConfig {
  tokens: string[];
}
export interface RateLimitConfig {
  requests_per_second: number;
  burst: number;
}

/**
 * An HTTPS server. node:https (and TLS with it) is loaded on the first call,
 * so a process serving plain HTTP never loads it (~1 MiB at start).
 */
export function createTlsServer(options: Https.ServerOptions, listener: RequestListener): Https.Server {
  const https = createRequire(import.meta.url)('node:https') as typeof Https;
  return https.createServer(options, listener);
}

export const tlsField: Field = {
  type: 'object',
  optional: true,
  doc: 'Serve HTTPS instead of HTTP. Absent: plain HTTP.',
  fields: {
    cert_file: { type: 'string', required: true, nonEmpty: true, doc: 'PEM certificate chain of the server (read at start and on reload).' },
    key_file: { type: 'string', required: true, nonEmpty: true, doc: 'PEM private key of the server.' },
    client_ca_file: {
      type: 'string',
      default: '',
      doc: 'PEM CA bundle: when set, clients must present a certificate it signed (mTLS); others fail the handshake.',
    },
  },
};

export const authField: Field = {
  type: 'object',
  doc: 'Bearer-token authentication: with tokens set, a request needs `Authorization: Bearer <one of them>`; otherwise 401 (no or malformed header) or 403 (unknown token), counted. Tokens are secrets (never logged or shown).',
  fields: {
    tokens: {
      type: 'array',
      items: { type: 'string', secret: true, nonEmpty: true, doc: 'a token' },
      default: [],
      doc: 'Accepted tokens; empty = no authentication.',
    },
  },
};

export const rateLimitField: Field = {
  type: 'object',
  doc: 'Token-bucket request rate limit per receiver: beyond it requests get 429 with Retry-After (clients retry), counted.',
  fields: {
    requests_per_second: { type: 'number', default: 0, min: 0, doc: 'Sustained requests per second; 0 = no limit.' },
    burst: { type: 'int', default: 0, min: 0, doc: 'Bucket size (requests allowed at once); 0 = max(1, requests_per_second).' },
  },
};

/** The TLS options for `https.createServer`, read from the files; throws naming the file and config key. */
export function loadTlsOptions(
  cfg: TlsConfig,
  configKey: string,
): { cert: Buffer; key: Buffer; ca?: Buffer; requestCert: boolean; rejectUnauthorized: boolean; minVersion: 'TLSv1.2' } {
  const read = (file: string, key: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (e) {
      throw new Error(`cannot read ${configKey}.${key} ${JSON.stringify(file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const cert = read(cfg.cert_file, 'cert_file');
  const key = read(cfg.key_file, 'key_file');
  const mtls = cfg.client_ca_file !== '';
  return { cert, key, ...(mtls ? { ca: read(cfg.client_ca_file, 'client_ca_file') } : {}), requestCert: mtls, rejectUnauthorized: mtls, minVersion: 'TLSv1.2' };
}

/**
 * Constant-time membership of a presented secret among configured ones: each
 * side is hashed (equal lengths for timingSafeEqual) and every configured
 * secret is compared, so neither the match position nor a length leaks.
 */
class SecretSet {
  private readonly digests: Buffer[];
  constructor(secrets: readonly string[]) {
    this.digests = secrets.map((s) => createHash('sha256').update(s).digest());
  }
  get size(): number {
    return this.digests.length;
  }
  has(candidate: string): boolean {
    const d = createHash('sha256').update(candidate).digest();
    let ok = 0;
    for (const x of this.digests) ok |= timingSafeEqual(x, d) ? 1 : 0;
    return ok === 1;
  }
}

/** Constant-time equality of two secrets (any lengths). */
export function secretEquals(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** `Authorization: Bearer <token>` → the token; undefined when absent or another scheme. */
function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined) return undefined;
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(h);
  return m === null ? undefined : m[1];
}

/** A token bucket; `take()` returns 0 when allowed, else the seconds to wait (≥ 1). */
class TokenBucket {
  private tokens: number;
  private last: number;
  readonly burst: number;
  constructor(
    readonly rate: number,
    burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.burst = burst > 0 ? burst : Math.max(1, rate);
    this.tokens = this.burst;
    this.last = this.now();
  }
  take(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.tokens) / this.rate));
  }
}

export interface GuardCounters {
  unauthorized: number;
  forbidden: number;
  rate_limited: number;
}

/**
 * The checks in front of a route, in order: bearer token (401/403), then the
 * rate limit (429 + Retry-After). Returns true when the request may proceed;
 * otherwise it has been answered (plain text, no secret in it).
 */
export class RequestGuard {
  readonly counters: GuardCounters = { unauthorized: 0, forbidden: 0, rate_limited: 0 };
  private readonly tokens: SecretSet | undefined;
  private readonly bucket: TokenBucket | undefined;
  constructor(
    auth: AuthConfig | undefined,
    rate: RateLimitConfig | undefined,
    private readonly realm = 'metricport',
  ) {
    this.tokens = auth !== undefined && auth.tokens.length > 0 ? new SecretSet(auth.tokens) : undefined;
    this.bucket = rate !== undefined && rate.requests_per_second > 0 ? new TokenBucket(rate.requests_per_second, rate.burst) : undefined;
  }
  get active(): boolean {
    return this.tokens !== undefined || this.bucket !== undefined;
  }
  check(req: IncomingMessage, res: ServerResponse): boolean {
    if (this.tokens !== undefined) {
      const t = bearerToken(req);
      if (t === undefined) {
        this.counters.unauthorized++;
        answer(res, 401, 'missing bearer token: send Authorization: Bearer <token>\n', { 'WWW-Authenticate': `Bearer realm="${this.realm}"` });
        return false;
      }
      if (!this.tokens.has(t)) {
        this.counters.forbidden++;
        answer(res, 403, 'unknown bearer token\n', {});
        return false;
      }
    }
    if (this.bucket !== undefined) {
      const wait = this.bucket.take();
      if (wait > 0) {
        this.counters.rate_limited++;
        answer(res, 429, `rate limit exceeded (${this.bucket.rate}/s); retry after ${wait}s\n`, { 'Retry-After': String(wait) });
        return false;
      }
    }
    return true;
  }
}

function answer(res: ServerResponse, status: number, body: string, headers: Record<string, string>): void {
  // the body is not read: close the connection rather than drain an upload
  res.shouldKeepAlive = false;
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}
