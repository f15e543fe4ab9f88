/**
 * Process settings (convict): where the pipeline config is, the admin
 * endpoint, the state directory, the log level and the shutdown deadline.
 * Each comes from a CLI flag, else an environment variable, else its default.
 */
import convict from 'convict';
import { LOG_LEVELS, type LogLevel } from './logger.js';
import { parseDuration, parseEndpoint } from './config/schema.js';

export interface Settings {
  config: string;
  admin_endpoint: string;
  state_dir: string;
  log_level: LogLevel;
  /** milliseconds */
  shutdown_timeout: number;
  /** admin server TLS ('' = plain HTTP) */
  admin_tls_cert_file: string;
  admin_tls_key_file: string;
  admin_tls_client_ca_file: string;
  /** bearer token the admin API requires ('' = none); a secret */
  admin_token: string;
}

convict.addFormat({
  name: 'mp-duration',
  validate(v: unknown) {
    if (parseDuration(v) === undefined) throw new Error('expected a duration like "10s", "500ms", "1m" or a number of seconds');
  },
  coerce(v: unknown) {
    return parseDuration(typeof v === 'string' && /^\d+(\.\d+)?$/.test(v) ? Number(v) : v);
  },
});
convict.addFormat({
  name: 'mp-endpoint',
  validate(v: unknown) {
    if (typeof v !== 'string' || parseEndpoint(v) === undefined) throw new Error('expected host:port, e.g. 127.0.0.1:8888 or 0.0.0.0:8888');
  },
});

export const SETTINGS_SCHEMA = {
  config: { doc: 'Pipeline config file (YAML); empty = the embedded config/default.yaml', format: String, default: '', env: 'METRICPORT_CONFIG', arg: 'config' },
  admin_endpoint: { doc: 'host:port of the admin server (/healthz, /metrics, /api/v1/status)', format: 'mp-endpoint', default: '127.0.0.1:8888', env: 'METRICPORT_ADMIN_ENDPOINT', arg: 'admin-endpoint' },
  state_dir: { doc: 'Directory for state that survives restarts (watermarks, pull URLs, queues)', format: String, default: './data', env: 'METRICPORT_STATE_DIR', arg: 'state-dir' },
  log_level: { doc: 'Log level', format: LOG_LEVELS as unknown as string[], default: 'info', env: 'METRICPORT_LOG_LEVEL', arg: 'log-level' },
  shutdown_timeout: { doc: 'Deadline to drain and flush on SIGTERM/SIGINT', format: 'mp-duration', default: '10s', env: 'METRICPORT_SHUTDOWN_TIMEOUT', arg: 'shutdown-timeout' },
  admin_tls_cert_file: { doc: 'PEM certificate of the admin server; with admin-tls-key-file it serves HTTPS', format: String, default: '', env: 'METRICPORT_ADMIN_TLS_CERT_FILE', arg: 'admin-tls-cert-file' },
  admin_tls_key_file: { doc: 'PEM private key of the admin server', format: String, default: '', env: 'METRICPORT_ADMIN_TLS_KEY_FILE', arg: 'admin-tls-key-file' },
  admin_tls_client_ca_file: { doc: 'PEM CA bundle: admin clients must present a certificate it signed (mTLS)', format: String, default: '', env: 'METRICPORT_ADMIN_TLS_CLIENT_CA_FILE', arg: 'admin-tls-client-ca-file' },
  admin_token: { doc: 'Bearer token every admin request but GET /healthz needs (a secret: prefer the environment variable)', format: String, default: '', sensitive: true, env: 'METRICPORT_ADMIN_TOKEN', arg: 'admin-token' },
} as const;

export const KNOWN_FLAGS = new Set(Object.values(SETTINGS_SCHEMA).map((s) => s.arg));

/** Load settings from flags (`--config F` or `--config=F`) and the environment. Throws with a readable message. */
export function loadSettings(args: string[], env: NodeJS.ProcessEnv = process.env): Settings {
  const conf = convict(SETTINGS_SCHEMA as never, { args, env });
  try {
    conf.validate({ allowed: 'strict' });
  } catch (e) {
    throw new Error(`invalid settings: ${(e as Error).message.replace(/\n/g, '; ')}`);
  }
  const s = conf.getProperties() as unknown as Settings;
  // convict does not coerce defaults through the custom format
  if (typeof s.shutdown_timeout !== 'number') s.shutdown_timeout = parseDuration(s.shutdown_timeout) ?? 10_000;
  return s;
}

export function settingsHelp(): string {
  const rows = Object.entries(SETTINGS_SCHEMA).map(([, s]) => [`--${s.arg} <value>`, s.env, JSON.stringify(s.default), s.doc] as const);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map((r) => `  ${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[3]} (default ${r[2]})`).join('\n');
}
