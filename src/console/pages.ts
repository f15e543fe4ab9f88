/**
 * The console's pages on the admin server: the login form (no script), the
 * app shell and its two static files (built by `npm run build` from console/
 * into dist/console/, served from the package: no CDN). Every page carries a
 * strict Content-Security-Policy: scripts, styles and connections from this
 * origin only, no inline script or style, no framing.
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AdminContext, AdminReply, AdminRequest } from '../extension.js';
import { packageRoot } from '../paths.js';

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};
const HTML = 'text/html; charset=utf-8';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function loginHtml(message: string | undefined): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>metricport console: log in</title><link rel="stylesheet" href="/console/assets/app.css"></head>
<body class="login"><main class="login-box">
<h1>metricport</h1>
<form method="post" action="/console/login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
${message !== undefined ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ''}
<button type="submit">Log in</button>
</form>
<p class="hint">The token is the admin server's (--admin-token / METRICPORT_ADMIN_TOKEN). The session is kept in a cookie for 12 hours.</p>
</main></body></html>`;
}

export function loginPage(_req: AdminRequest, ctx: AdminContext): AdminReply {
  if (!ctx.sessions.tokenRequired) return { status: 303, headers: { Location: '/console/' }, text: 'see /console/\n' };
  return { text: loginHtml(undefined), contentType: HTML, headers: PAGE_HEADERS };
}

export async function login(req: AdminRequest, ctx: AdminContext): Promise<AdminReply> {
  const form = new URLSearchParams((await req.body()).toString('utf8'));
  const cookie = ctx.sessions.login(form.get('token') ?? '');
  if (cookie === undefined) return { status: 401, text: loginHtml('That is not the admin token.'), contentType: HTML, headers: PAGE_HEADERS };
  return { status: 303, headers: { ...PAGE_HEADERS, Location: '/console/', 'Set-Cookie': cookie }, text: 'logged in; see /console/\n' };
}

export function logout(req: AdminRequest, ctx: AdminContext): AdminReply {
  return { status: 303, headers: { ...PAGE_HEADERS, Location: '/console/login', 'Set-Cookie': ctx.sessions.logout(req.headers) }, text: 'logged out\n' };
}

export function appPage(_req: AdminRequest, _ctx: AdminContext): AdminReply {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>metricport console</title><link rel="stylesheet" href="/console/assets/app.css"></head>
<body><div id="app"><p class="loading">Loading the console…</p></div><script type="module" src="/console/assets/app.js"></script></body></html>`;
  return { text: html, contentType: HTML, headers: PAGE_HEADERS };
}

const ASSETS: Record<string, string> = { 'app.js': 'text/javascript; charset=utf-8', 'app.css': 'text/css; charset=utf-8' };
const cache = new Map<string, Buffer>();

/** The built bundle's files, from dist/console/ of the package. */
export async function asset(file: string): Promise<AdminReply> {
  const type = ASSETS[file];
  if (type === undefined) return { status: 404, json: { error: `no console asset ${JSON.stringify(file)} (assets: ${Object.keys(ASSETS).join(', ')})` } };
  let body = cache.get(file);
  if (body === undefined) {
    try {
      body = await readFile(join(packageRoot(), 'dist', 'console', file));
    } catch {
      return { status: 503, json: { error: `the console bundle is missing (dist/console/${file}): run npm run build` } };
    }
    cache.set(file, body);
  }
  return { text: body, contentType: type, headers: { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-cache' } };
}

export function info(ctx: AdminContext): AdminReply {
  const c = ctx.console;
  const file = c.configFile === '' ? '' : basename(c.configFile);
  return {
    json: {
      allow_config_changes: c.allowConfigChanges,
      config_file: file,
      writable: c.allowConfigChanges && c.configFile !== '',
      read_only_reason: !c.allowConfigChanges
        ? 'read-only: start metricport with --admin-console-allow-config-changes true to change the config from the console'
        : c.configFile === ''
          ? 'read-only: the service runs the embedded default config; start it with --config FILE'
          : null,
      token_required: ctx.sessions.tokenRequired,
    },
  };
}
