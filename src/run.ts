/**
 * `metricport run`: load the config, build the pipelines, start the admin
 * server and the service, then wait for SIGTERM/SIGINT to drain and flush
 * within the deadline (--shutdown-timeout): the whole stop is bounded by it,
 * whatever the components or the log destination do. A second signal exits
 * at once.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdminServer } from './admin.js';
import { loadImplementations } from './component.js';
import { loadConfigFile } from './config/service-config.js';
import { ConfigError, MetricportError, formatIssue, type ConfigIssue } from './errors.js';
import { createLogger, flushLogger, logOutput, tolerateBrokenStderr, type Logger } from './logger.js';
import { defaultConfigPath, packageRoot } from './paths.js';
import { registry } from './registry.js';
import { Service, type ReloadSummary } from './service.js';
import type { Settings } from './settings.js';
import type { ClusterNode } from './cluster/node.js';
import { ServiceTelemetry } from './telemetry.js';

export function version(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Of the shutdown deadline, what is kept back from the components for closing the admin server and telemetry (at most this, at most a fifth). */
const STOP_RESERVE_MS = 1000;
/** How long the last log lines may take to reach their destination before the process exits. */
const FINAL_LOG_FLUSH_MS = 250;

export interface Running {
  admin: AdminServer;
  service: Service;
  stop(reason: string): Promise<void>;
  /** re-read the config file and apply it (SIGHUP, POST /api/v1/reload) */
  reload(trigger: string): Promise<ReloadOutcome>;
}

/** What a reload did: applied (with the summary) or not (every error, with its key path). */
export type ReloadOutcome =
  | { ok: true; summary: ReloadSummary; warnings: ConfigIssue[] }
  | { ok: false; status: number; error: string; errors: Array<{ path: string; line?: number; column?: number; message: string }> };

/** Start everything; resolves once the service is running (for tests and the CLI). */
async function startService(settings: Settings, logger: Logger): Promise<Running> {
  const file = settings.config === '' ? defaultConfigPath() : settings.config;
  const config = loadConfigFile(file, registry);
  for (const w of config.warnings) logger.warn({ path: w.path, line: w.line }, formatIssue(w));
  // only the component types this config uses are imported (with their dependencies)
  await loadImplementations(config);
  mkdirSync(settings.state_dir, { recursive: true });
  const telemetry = new ServiceTelemetry({ service_version: version() });
  telemetry.counter(
    'metricport_log_dropped_lines',
    'Log lines the log destination did not take (its reader has gone: a closed pipe; or the log buffer was full); they are dropped, never waited for',
    {},
    () => logOutput.droppedLines,
  );
  // the NATS client is loaded only when a cluster is configured
  let cluster: ClusterNode | undefined;
  if (config.cluster !== undefined) {
    const [{ ClusterNode }, { resolveNodeId }] = await Promise.all([import('./cluster/node.js'), import('./cluster/config.js')]);
    cluster = new ClusterNode(config.cluster, {
      nodeId: resolveNodeId(config.cluster.node_id, settings.state_dir),
      logger: logger.child({ component: 'cluster' }),
      telemetry,
      version: version(),
      admin: settings.admin_endpoint,
      stateDir: settings.state_dir,
    });
  }
  const service = new Service(config, {
    logger,
    telemetry,
    stateDir: settings.state_dir,
    stopTimeoutMs: settings.shutdown_timeout,
    ...(cluster !== undefined ? { cluster } : {}),
  });
  let ready: Service | null = null;
  const admin = new AdminServer({
    endpoint: settings.admin_endpoint,
    logger,
    telemetry,
    service: () => ready,
    reload: () => reload('POST /api/v1/reload'),
    ...(settings.admin_tls_cert_file !== '' || settings.admin_tls_key_file !== ''
      ? { tls: { cert_file: settings.admin_tls_cert_file, key_file: settings.admin_tls_key_file, client_ca_file: settings.admin_tls_client_ca_file } }
      : {}),
    token: settings.admin_token,
    console: {
      enabled: settings.admin_console === 'on',
      allowConfigChanges: settings.admin_console_allow_config_changes === 'true',
      configFile: settings.config,
      stateDir: settings.state_dir,
    },
    info: () => ({ version: version(), pid: process.pid, state_dir: settings.state_dir, admin_endpoint: settings.admin_endpoint }),
  });
  let stopping: Promise<void> | undefined;
  const reload = async (trigger: string): Promise<ReloadOutcome> => {
    if (stopping !== undefined) return { ok: false, status: 503, error: 'the service is shutting down', errors: [] };
    let next;
    try {
      next = loadConfigFile(file, registry);
    } catch (e) {
      if (e instanceof ConfigError) {
        const errors = e.issues.filter((i) => i.severity === 'error');
        // every error with its key path; the values themselves are never logged
        for (const i of errors) logger.error({ trigger, path: i.path, line: i.line, column: i.column }, `reload rejected: ${formatIssue(i)}`);
        logger.error({ trigger, errors: errors.length }, 'reload rejected: the config is invalid; the previous config keeps running');
        return {
          ok: false,
          status: 400,
          error: `the config is invalid (${errors.length} error${errors.length === 1 ? '' : 's'}); the previous config keeps running`,
          errors: errors.map((i) => ({
            path: i.path,
            ...(i.line !== undefined ? { line: i.line } : {}),
            ...(i.column !== undefined ? { column: i.column } : {}),
            message: i.message,
          })),
        };
      }
      throw e;
    }
    for (const w of next.warnings) logger.warn({ path: w.path, line: w.line }, formatIssue(w));
    try {
      const summary = await service.reload(next, settings.shutdown_timeout);
      return { ok: true, summary, warnings: next.warnings };
    } catch (e) {
      logger.error({ trigger, err: (e as Error).message }, 'reload failed; the previous config keeps running');
      return { ok: false, status: 409, error: (e as Error).message, errors: [] };
    }
  };
  // Settles within settings.shutdown_timeout: components get the deadline
  // minus a reserve for the admin server and telemetry; past the deadline it
  // rejects (MP_SHUTDOWN_TIMEOUT) even if something still hangs.
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      const total = settings.shutdown_timeout;
      const reserve = Math.min(STOP_RESERVE_MS, Math.floor(total / 5));
      logger.info({ reason, deadline_ms: total }, 'shutting down');
      const deadline = AbortSignal.timeout(total - reserve);
      const work = (async () => {
        await service.shutdown(deadline);
        await cluster?.shutdown(deadline);
        await admin.shutdown();
        await telemetry.shutdown();
      })();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), total);
      });
      const outcome = await Promise.race([work.then(() => 'done' as const), late]);
      clearTimeout(timer);
      if (outcome === 'late')
        throw new MetricportError('MP_SHUTDOWN_TIMEOUT', `shutdown did not finish within ${total} ms (--shutdown-timeout); exiting without waiting further`);
      logger.info('stopped');
    })();
    return stopping;
  };
  await admin.start();
  cluster?.start();
  try {
    await service.start();
  } catch (e) {
    await stop('start failed').catch(() => undefined);
    throw e;
  }
  ready = service;
  return { admin, service, stop, reload };
}

/** The `run` verb: exits 0 after a clean shutdown, 1 on a fatal error. */
export async function runCommand(settings: Settings): Promise<number> {
  const logger = createLogger(settings.log_level);
  tolerateBrokenStderr();
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled promise rejection (a bug; please report it)');
  });
  let running: Running;
  const t0 = process.hrtime.bigint();
  try {
    running = await startService(settings, logger);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`metricport: ${e.message}\n`);
    } else {
      process.stderr.write(`metricport: ${(e as Error).message}\n`);
      logger.fatal({ err: (e as Error).message }, 'failed to start');
    }
    await flushLogger(logger, FINAL_LOG_FLUSH_MS);
    return 1;
  }
  const addr = running.admin.address();
  logger.info({ admin: addr ? `${addr.address}:${addr.port}` : settings.admin_endpoint, startup_ms: Number(process.hrtime.bigint() - t0) / 1e6 }, 'ready');
  return await new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        process.stderr.write(`metricport: second ${sig}: exiting now without flushing\n`);
        process.exit(1);
      }
      running.stop(sig).then(
        () => flushLogger(logger, FINAL_LOG_FLUSH_MS).then(() => resolve(0)),
        (e) => {
          logger.error({ err: (e as Error).message }, 'shutdown failed');
          void flushLogger(logger, FINAL_LOG_FLUSH_MS).then(() => resolve(1));
        },
      );
    };
    // SIGHUP: reload the config file (errors are logged; the old config keeps running)
    let reloading: Promise<unknown> = Promise.resolve();
    process.on('SIGHUP', () => {
      reloading = reloading.then(() => running.reload('SIGHUP')).catch((e: unknown) => logger.error({ err: (e as Error).message }, 'reload failed'));
    });
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
