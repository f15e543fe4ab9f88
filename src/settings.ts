/**
 * Process settings: where the pipeline config is, the admin endpoint, the
 * state directory, the log level and the shutdown deadline. Each comes from a
 * CLI flag (`--name value` or `--name=value`), else an environment variable,
 * else its default. (Plain code, not convict: it cost ~1 MiB of heap and
 * 30 ms at start for nine settings.)
 */
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
  /** the console in the browser at / of the admin server (docs/console.md) */
  admin_console: 'on' | 'off';
  /** whether the console may write the config file (and reload it) */
  admin_console_allow_config_changes: 'false' | 'true';
}

type Format = 'string' | 'endpoint' | 'duration' | readonly string[];

interface SettingSpec {
  doc: string;
  format: Format;
  default: string;
  env: string;
  arg: string;
  sensitive?: true;
}

const SETTINGS_SCHEMA = {
  config: {
    doc: 'Pipeline config file (YAML); empty = the embedded config/default.yaml',
    format: 'string',
    default: '',
    env: 'METRICPORT_CONFIG',
    arg: 'config',
  },
  admin_endpoint: {
    doc: 'host:port of the admin server (/healthz, /metrics, /api/v1/status)',
    format: 'endpoint',
    default: '127.0.0.1:8888',
    env: 'METRICPORT_ADMIN_ENDPOINT',
    arg: 'admin-endpoint',
  },
  state_dir: {
    doc: 'Directory for state that survives restarts (watermarks, pull URLs, queues)',
    format: 'string',
    default: './data',
    env: 'METRICPORT_STATE_DIR',
    arg: 'state-dir',
  },
  log_level: { doc: 'Log level', format: LOG_LEVELS, default: 'info', env: 'METRICPORT_LOG_LEVEL', arg: 'log-level' },
  shutdown_timeout: {
    doc: 'Deadline to drain and flush on SIGTERM/SIGINT',
    format: 'duration',
    default: '10s',
    env: 'METRICPORT_SHUTDOWN_TIMEOUT',
    arg: 'shutdown-timeout',
  },
  admin_tls_cert_file: {
    doc: 'PEM certificate of the admin server; with admin-tls-key-file it serves HTTPS',
    format: 'string',
    default: '',
    env: 'METRICPORT_ADMIN_TLS_CERT_FILE',
    arg: 'admin-tls-cert-file',
  },
  admin_tls_key_file: {
    doc: 'PEM private key of the admin server',
    format: 'string',
    default: '',
    env: 'METRICPORT_ADMIN_TLS_KEY_FILE',
    arg: 'admin-tls-key-file',
  },
  admin_tls_client_ca_file: {
    doc: 'PEM CA bundle: admin clients must present a certificate it signed (mTLS)',
    format: 'string',
    default: '',
    env: 'METRICPORT_ADMIN_TLS_CLIENT_CA_FILE',
    arg: 'admin-tls-client-ca-file',
  },
  admin_token: {
    doc: 'Bearer token every admin request but GET /healthz needs (a secret: prefer the environment variable)',
    format: 'string',
    default: '',
    sensitive: true,
    env: 'METRICPORT_ADMIN_TOKEN',
    arg: 'admin-token',
  },
  admin_console: {
    doc: 'The console in the browser at / of the admin server (same listener, TLS and token; docs/console.md); loaded on the first request',
    format: ['on', 'off'],
    default: 'on',
    env: 'METRICPORT_ADMIN_CONSOLE',
    arg: 'admin-console',
  },
  admin_console_allow_config_changes: {
    doc: 'Let the console write the config file (backup kept, validated first, applied by reload); read-only otherwise',
    format: ['false', 'true'],
    default: 'false',
    env: 'METRICPORT_ADMIN_CONSOLE_ALLOW_CONFIG_CHANGES',
    arg: 'admin-console-allow-config-changes',
  },
} as const satisfies Record<keyof Settings, SettingSpec>;

export const KNOWN_FLAGS = new Set(Object.values(SETTINGS_SCHEMA).map((s) => s.arg));

/** One value checked against its format: the parsed value, or why not. */
function check(format: Format, v: string): { value: string | number } | { error: string } {
  if (format === 'string') return { value: v };
  if (format === 'endpoint') return parseEndpoint(v) === undefined ? { error: 'expected host:port, e.g. 127.0.0.1:8888 or 0.0.0.0:8888' } : { value: v };
  if (format === 'duration') {
    const ms = parseDuration(/^\d+(\.\d+)?$/.test(v) ? Number(v) : v);
    return ms === undefined ? { error: 'expected a duration like "10s", "500ms", "1m" or a number of seconds' } : { value: ms };
  }
  return format.includes(v) ? { value: v } : { error: `must be one of the possible values: ${JSON.stringify(format)}` };
}

/** Load settings from flags (`--config F` or `--config=F`) and the environment. Throws with a readable message naming every bad setting. */
export function loadSettings(args: string[], env: NodeJS.ProcessEnv = process.env): Settings {
  const byArg = new Map(Object.entries(SETTINGS_SCHEMA).map(([k, spec]) => [spec.arg as string, k as keyof Settings]));
  const fromArgs = new Map<keyof Settings, string>();
  const errors: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(args[i]!);
    const key = m === null ? undefined : byArg.get(m[1]!);
    if (m === null || key === undefined) {
      errors.push(`unknown flag ${JSON.stringify(args[i])}`);
      continue;
    }
    const v = m[2] ?? args[++i];
    if (v === undefined) {
      errors.push(`flag --${m[1]} needs a value`);
      continue;
    }
    fromArgs.set(key, v);
  }
  const out: Record<string, string | number> = {};
  for (const [k, spec] of Object.entries(SETTINGS_SCHEMA) as Array<[keyof Settings, SettingSpec]>) {
    const raw = fromArgs.get(k) ?? env[spec.env] ?? spec.default;
    const r = check(spec.format, raw);
    if ('error' in r) errors.push(`${k}: ${r.error}${spec.sensitive ? '' : `: value was ${JSON.stringify(raw)}`}`);
    else out[k] = r.value;
  }
  if (errors.length > 0) throw new Error(`invalid settings: ${errors.join('; ')}`);
  return out as unknown as Settings;
}

export function settingsHelp(): string {
  const rows = Object.entries(SETTINGS_SCHEMA).map(([, s]) => [`--${s.arg} <value>`, s.env, JSON.stringify(s.default), s.doc] as const);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  return rows.map((r) => `  ${r[0].padEnd(w0)}  ${r[1].padEnd(w1)}  ${r[3]} (default ${r[2]})`).join('\n');
}
