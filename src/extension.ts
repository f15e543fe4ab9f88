/**
 * Extension points: what a component factory, or an extension that is not a
 * component (the cluster layer, the console, `metricport schema`), adds to the
 * admin server and to the command line. The admin server and the CLI list and
 * dispatch what the registry collects (src/registry.ts); they import no
 * component folder.
 *
 * A handler or command imports its implementation when it runs (a dynamic
 * `import()` inside `handle`/`run`), so listing routes and verbs (`--help`, the
 * admin index) loads none of it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from './logger.js';
import type { Service } from './service.js';

export type AdminMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One request to a contributed admin route, already past the admin token and rate limit. */
export interface AdminRequest {
  method: AdminMethod;
  /** the path, without the query */
  path: string;
  /** the `:name` segments of the route's path, URL-decoded */
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** the request body (at most 1 MiB; a larger one is refused with 413 before the handler runs) */
  body(): Promise<Buffer>;
}

/** What a handler answers: JSON (`json`) or text (`text`, with `contentType`). */
export interface AdminReply {
  /** default 200 */
  status?: number;
  json?: unknown;
  text?: string | Buffer;
  /** default text/plain; charset=utf-8 for `text` */
  contentType?: string;
  headers?: Record<string, string>;
}

/** The console's settings and what it may do (src/console/). */
export interface ConsoleContext {
  /** --admin-console (default on) */
  enabled: boolean;
  /** --admin-console-allow-config-changes (default false): the console may write the config file */
  allowConfigChanges: boolean;
  /** the config file the service runs ('' = the embedded default, never written) */
  configFile: string;
  /** the state directory (secrets typed in the console are kept there) */
  stateDir: string;
  /** re-read the config file and apply it (the same path as POST /api/v1/reload) */
  reload?: () => Promise<{ ok: boolean; [k: string]: unknown }>;
}

/** The admin server's browser sessions (the console's login). */
export interface AdminSessions {
  /** whether requests need the admin token (false: the admin server is open) */
  readonly tokenRequired: boolean;
  /** a session for the right token: the Set-Cookie value; undefined for a wrong one (counted) */
  login(token: string): string | undefined;
  /** end the request's session: the Set-Cookie value that clears it */
  logout(headers: IncomingHttpHeaders): string;
}

/** What the admin server hands every handler. */
export interface AdminContext {
  /** the running service (routes with `open` may see null while it starts) */
  service: Service;
  logger: Logger;
  sessions: AdminSessions;
  console: ConsoleContext;
}

export interface AdminRoute {
  method: AdminMethod;
  /** `/api/v1/metricsets/:set/preview`: each `:name` segment matches one path segment */
  path: string;
  /** one line for the admin index, the 404 body and `metricport --help` */
  summary: string;
  /**
   * Answered without the admin token and while the service starts (then
   * `ctx.service` is null): the console's login page and its static files.
   * Still rate-limited, and a cross-site POST is still refused.
   */
  open?: boolean;
  /**
   * Answer the request. While the service is starting (and during a failed
   * start) the server answers 503 `{"state":"starting"}` without calling it.
   */
  handle(req: AdminRequest, ctx: AdminContext): AdminReply | Promise<AdminReply>;
}

export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export interface CliCommand {
  /** the first word: `metricport <verb> ...`; unique across the registry */
  verb: string;
  /** the synopsis after `metricport `, e.g. `forge pull --config FILE [--since 2h]` */
  usage: string;
  /** what it does, for `metricport --help` (may hold several lines) */
  summary: string;
  /** run with the words after the verb; resolves to the exit code (0 ok, 1 failure, 2 usage) */
  run(args: string[], io: CliIO): Promise<number>;
}

/** What a component factory or an extension may contribute besides its component. */
export interface Contributions {
  readonly admin?: readonly AdminRoute[];
  readonly commands?: readonly CliCommand[];
}

/**
 * A contributor that is not a component: one folder under src/ (e.g.
 * src/cluster/) with an `extension.ts` exporting one of these, and one line
 * in src/registry.ts.
 */
export interface Extension extends Contributions {
  /** e.g. `cluster` */
  readonly name: string;
  readonly description: string;
}

/** `:name` → `<name>`, for listings. */
export function displayPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '<$1>');
}
