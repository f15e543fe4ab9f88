/**
 * Credentials of a pull store (Prometheus scrape endpoint, Circonus JSON:Pull):
 * a 128-bit random path token and, when Basic auth is on, a random username
 * and password. Generated on first start and kept in the store's state
 * directory (`credentials.json`, mode 0600, written atomically) so the URL
 * handed to the third party survives restarts; values set in the config win
 * and are never written there.
 *
 * Comparison is constant-time (`safeEqual`: SHA-256 of both sides, then
 * `timingSafeEqual`, so neither the content nor the length leaks).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Field } from '../config/schema.js';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PullCredentials {
  /** 32 lower-case hex characters (128 bits) unless set in the config */
  token: string;
  username: string;
  password: string;
}

export interface StoredCredentials extends Partial<PullCredentials> {
  created_at?: string;
}

const CREDENTIALS_FILE = 'credentials.json';

/** A token set in the config: at least 16 characters of `[A-Za-z0-9_-]`. */
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/** The `token` option of a pull store (secret; empty = generated on first start and kept in the state directory); `doc` says where it goes. */
export function tokenField(doc: string): Field {
  return {
    type: 'string',
    default: '',
    secret: true,
    pattern: /^(|[A-Za-z0-9_-]{16,128})$/,
    patternHint: '16-128 characters of [A-Za-z0-9_-]',
    doc: `${doc}; empty = a 128-bit random token generated on first start and kept in the state directory`,
  };
}

function newToken(): string {
  return randomBytes(16).toString('hex');
}
function newUsername(): string {
  return 'mp-' + randomBytes(6).toString('hex');
}
function newPassword(): string {
  return randomBytes(18).toString('base64url');
}

/** What the state directory holds, or undefined when nothing (or nothing readable) is there. */
export function readStoredCredentials(dir: string): StoredCredentials | undefined {
  try {
    const v = JSON.parse(readFileSync(join(dir, CREDENTIALS_FILE), 'utf8')) as unknown;
    if (v === null || typeof v !== 'object') return undefined;
    const o = v as Record<string, unknown>;
    const out: StoredCredentials = {};
    if (typeof o.token === 'string' && TOKEN_PATTERN.test(o.token)) out.token = o.token;
    if (typeof o.username === 'string' && o.username !== '') out.username = o.username;
    if (typeof o.password === 'string' && o.password !== '') out.password = o.password;
    if (typeof o.created_at === 'string') out.created_at = o.created_at;
    return out;
  } catch {
    return undefined;
  }
}

function writeStored(dir: string, c: StoredCredentials): void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, CREDENTIALS_FILE);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(c, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export interface CredentialOptions {
  /** from the config ('' = generate and keep) */
  token: string;
  basicAuth: boolean;
  username: string;
  password: string;
}

/**
 * The credentials to use: config values first, then the state directory,
 * else fresh random ones (written to the state directory). `generated` lists
 * what was created now (for the first-start log line).
 */
export function loadOrCreateCredentials(dir: string, o: CredentialOptions): { creds: PullCredentials; generated: string[] } {
  const stored = readStoredCredentials(dir) ?? {};
  const generated: string[] = [];
  const next: StoredCredentials = { ...stored };
  let token = o.token;
  if (token === '') {
    if (stored.token === undefined) {
      next.token = newToken();
      generated.push('token');
    }
    token = next.token as string;
  }
  let username = o.username;
  let password = o.password;
  if (o.basicAuth) {
    if (username === '') {
      if (stored.username === undefined) {
        next.username = newUsername();
        generated.push('username');
      }
      username = next.username as string;
    }
    if (password === '') {
      if (stored.password === undefined) {
        next.password = newPassword();
        generated.push('password');
      }
      password = next.password as string;
    }
  }
  if (generated.length > 0) {
    next.created_at ??= new Date().toISOString();
    writeStored(dir, next);
  }
  return { creds: { token, username, password }, generated };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Constant-time string comparison (length included). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** Check an `Authorization: Basic ...` header in constant time. */
export function checkBasicAuth(header: string | undefined, username: string, password: string): boolean {
  let user = '';
  let pass = '';
  if (header !== undefined && /^basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i >= 0) {
      user = decoded.slice(0, i);
      pass = decoded.slice(i + 1);
    }
  }
  // both compared every time: no early exit tells which one was wrong
  const u = safeEqual(user, username);
  const p = safeEqual(pass, password);
  return u && p && header !== undefined;
}
