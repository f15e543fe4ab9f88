/**
 * CORS for the receivers that browser SDKs talk to (sentry, backtrace,
 * errors): `cors: { allowed_origins: [...] }` in the receiver's config.
 *
 * - A request without an `Origin` header (every server-side SDK, curl) is
 *   untouched.
 * - A request whose `Origin` is listed (or `"*"` is listed) is served as
 *   usual and every answer, errors and 429s included, carries
 *   `Access-Control-Allow-Origin: <that origin>`, `Vary: Origin` and
 *   `Access-Control-Expose-Headers` (Retry-After and the rate-limit headers),
 *   so the page's SDK can read the status and back off.
 * - A request whose `Origin` is not listed is refused 403 before its body is
 *   read (counted as reason `cors_origin`), without any CORS header, so the
 *   browser's CORS check fails in the page too: a web page on another site
 *   cannot feed events into a sidecar listening on loopback.
 * - A preflight (`OPTIONS` with `Access-Control-Request-Method`) on a
 *   receiver's path is answered 204 with `Access-Control-Allow-Methods: POST`,
 *   the requested headers that are in `allowed_headers` and
 *   `Access-Control-Max-Age`; from an origin not listed: 403.
 *   Credentials are never allowed (`Access-Control-Allow-Credentials` is
 *   never sent), so a browser never attaches cookies.
 * Preflights pass the receiver's guard like any request: the rate limit
 * applies to them (and a receiver with bearer `auth` refuses them, since a
 * browser sends no token on a preflight).
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Field } from '../config/schema.js';

export interface CorsConfig {
  allowed_origins: string[];
  allowed_headers: string[];
  /** ms */
  max_age: number;
}

const ORIGIN_RE = /^(?:\*|https?:\/\/(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?)$/;

const DEFAULT_CORS_HEADERS = ['content-type', 'content-encoding', 'x-sentry-auth'];

export const corsField: Field = {
  type: 'object',
  doc: 'Browsers (@sentry/browser, the Backtrace browser SDK, fetch from a page): the origins whose pages may send here. A request with an `Origin` header not listed is refused 403 (without CORS headers, so the browser refuses it too); requests without `Origin` (server-side SDKs) are not affected. Preflights are answered; credentials are never allowed.',
  fields: {
    allowed_origins: {
      type: 'array',
      default: [],
      items: {
        type: 'string',
        pattern: ORIGIN_RE,
        patternHint: 'an origin such as "https://shop.example.com" or "http://127.0.0.1:8080" (scheme, host, optional port; no path), or "*"',
        doc: 'one origin',
      },
      doc: 'Origins allowed to send (exact match of the `Origin` header: scheme://host[:port]); `"*"` allows every origin. Empty (the default): every request carrying an `Origin` header is refused.',
    },
    allowed_headers: {
      type: 'array',
      default: DEFAULT_CORS_HEADERS,
      items: { type: 'string', nonEmpty: true, doc: 'a request header name' },
      doc: 'Request headers a preflight may ask for (case-insensitive); a preflight asking for another is refused 403.',
    },
    max_age: {
      type: 'duration',
      default: '10m',
      min: '0s',
      max: '24h',
      doc: 'How long a browser may cache a preflight answer (`Access-Control-Max-Age`, whole seconds).',
    },
  },
};

/** Headers the page's SDK must be able to read on any answer. */
const EXPOSED = 'Retry-After, X-Sentry-Rate-Limits';

export type OriginCheck = { kind: 'none' } | { kind: 'allowed'; headers: OutgoingHttpHeaders } | { kind: 'refused'; origin: string };

export class Cors {
  private readonly any: boolean;
  private readonly origins: Set<string>;
  private readonly headers: Set<string>;
  private readonly maxAge: string;

  constructor(cfg: CorsConfig) {
    this.any = cfg.allowed_origins.includes('*');
    this.origins = new Set(cfg.allowed_origins.map((o) => o.toLowerCase()));
    this.headers = new Set(cfg.allowed_headers.map((h) => h.trim().toLowerCase()));
    this.maxAge = String(Math.floor(cfg.max_age / 1000));
  }

  /** The request's `Origin`: absent, allowed (with the headers every answer carries), or refused. */
  check(req: IncomingMessage): OriginCheck {
    const origin = req.headers.origin;
    if (origin === undefined) return { kind: 'none' };
    if (!this.any && !this.origins.has(origin.toLowerCase())) return { kind: 'refused', origin };
    return { kind: 'allowed', headers: { 'Access-Control-Allow-Origin': origin, Vary: 'Origin', 'Access-Control-Expose-Headers': EXPOSED } };
  }

  /**
   * A preflight's answer: 204 and its headers, or 403 and why. `req` is an
   * OPTIONS request whose origin `check` allowed.
   */
  preflight(req: IncomingMessage, allowed: OutgoingHttpHeaders): { status: 204; headers: OutgoingHttpHeaders } | { status: 403; message: string } {
    const method = req.headers['access-control-request-method'];
    if (typeof method !== 'string' || method.toUpperCase() !== 'POST') {
      return { status: 403, message: `preflight asks for method ${JSON.stringify(String(method ?? '')).slice(0, 40)}; only POST is served here` };
    }
    const asked = String(req.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter((h) => h !== '');
    for (const h of asked) {
      if (!this.headers.has(h)) return { status: 403, message: `preflight asks for header ${JSON.stringify(h.slice(0, 64))}, not in cors.allowed_headers` };
    }
    const headers: OutgoingHttpHeaders = {
      ...allowed,
      Vary: 'Origin, Access-Control-Request-Headers',
      'Access-Control-Allow-Methods': 'POST',
      'Access-Control-Max-Age': this.maxAge,
      'Content-Length': '0',
    };
    if (asked.length > 0) headers['Access-Control-Allow-Headers'] = asked.join(', ');
    return { status: 204, headers };
  }
}
