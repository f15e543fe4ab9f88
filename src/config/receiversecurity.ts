/**
 * The security options of the HTTP receivers on the shared listener
 * (errors, sentry, backtrace — the otlp receiver has the same under
 * protocols.http): `tls`, `auth.tokens` (bearer), `rate_limit`, from
 * src/config/security.ts. The guard checks the bearer token, then the rate
 * limit, before the receiver's own handler (and its own keys) run.
 */
import { MetricportError } from '../errors.js';
import { acquireServer, type SharedServer, type TlsServerOptions } from '../httpserver.js';
import type { Logger } from '../logger.js';
import type { Schema } from './schema.js';
import { authField, loadTlsOptions, rateLimitField, RequestGuard, tlsField, type AuthConfig, type RateLimitConfig, type TlsConfig } from './security.js';

export interface ReceiverSecurityConfig {
  tls?: TlsConfig;
  auth: AuthConfig;
  rate_limit: RateLimitConfig;
}

/** schema fields to spread into a receiver's schema (top level, beside `endpoint`) */
export const receiverSecurityFields: Schema = { tls: tlsField, auth: authField, rate_limit: rateLimitField };

/** the guard (create it once, in the constructor: its counters live as long as the receiver) */
export function receiverGuard(cfg: ReceiverSecurityConfig): RequestGuard {
  return new RequestGuard(cfg.auth, cfg.rate_limit);
}

/** `acquireServer` options for the receiver's TLS and guard; reads the TLS files (errors name the config key, never the contents); `prefix`: where the options sit under receivers.<id>. */
function receiverServerOptions(id: string, cfg: ReceiverSecurityConfig, guard: RequestGuard, prefix = ''): { tls?: TlsServerOptions; guard: RequestGuard } {
  if (cfg.tls === undefined) return { guard };
  try {
    return { tls: { options: loadTlsOptions(cfg.tls, `receivers.${id}.${prefix}tls`), fingerprint: JSON.stringify(cfg.tls) }, guard };
  } catch (err) {
    throw new MetricportError('MP_START_FAILED', `receiver ${id}: ${(err as Error).message}`, { cause: err });
  }
}

/** status fields: tls mode, auth mode, guard counters (no secret) */
export function securityStatus(
  cfg: ReceiverSecurityConfig,
  guard: RequestGuard,
): { tls: false | 'tls' | 'mtls'; auth: 'bearer' | 'none'; rate_limit: number; guard: { unauthorized: number; forbidden: number; rate_limited: number } } {
  return {
    tls: cfg.tls === undefined ? false : cfg.tls.client_ca_file !== '' ? 'mtls' : 'tls',
    auth: (cfg.auth?.tokens.length ?? 0) > 0 ? 'bearer' : 'none',
    rate_limit: cfg.rate_limit?.requests_per_second ?? 0,
    guard: { ...guard.counters },
  };
}

/**
 * Lease the shared listener at `cfg.endpoint` with the receiver's TLS and
 * guard, mount its routes, listen; on any failure release the lease and throw
 * MP_START_FAILED naming the receiver. What every HTTP receiver's start() does
 * (through HttpReceiver.listen, src/receiverhttp/receiver.ts). `prefix`: where
 * endpoint and tls sit under receivers.<id>. (otlp: "protocols.http.").
 */
export async function listenReceiver(
  id: string,
  cfg: ReceiverSecurityConfig & { endpoint: string },
  guard: RequestGuard,
  logger: Logger,
  mount: (lease: SharedServer) => void,
  prefix = '',
): Promise<SharedServer> {
  const sec = receiverServerOptions(id, cfg, guard, prefix);
  const lease = acquireServer(cfg.endpoint, logger, { owner: `receiver ${id}`, configKey: `receivers.${id}.${prefix}endpoint`, ...sec });
  try {
    mount(lease);
    await lease.listen();
    return lease;
  } catch (err) {
    await lease.release(AbortSignal.abort());
    throw new MetricportError('MP_START_FAILED', `receiver ${id}: ${(err as Error).message}`, { cause: err });
  }
}
