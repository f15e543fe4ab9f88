/**
 * The console (docs/console.md): a small browser client served by the admin
 * server (same listener, TLS and token) at /console/ (a browser asking for /
 * is sent there), with a login form that keeps the session in a cookie. Its
 * pages read the admin API; "Export as metric" writes the config file when
 * --admin-console-allow-config-changes is true. This file only lists the
 * routes: the pages and the config writer are imported on the first request,
 * so an idle process loads none of it.
 */
import type { AdminReply, Extension } from '../extension.js';

const DISABLED: AdminReply = { status: 404, json: { error: 'the console is off (--admin-console off / METRICPORT_ADMIN_CONSOLE=off)' } };

export const consoleExtension: Extension = {
  name: 'console',
  description: 'the console in the browser at / of the admin server (docs/console.md)',
  admin: [
    {
      method: 'GET',
      path: '/console/login',
      open: true,
      summary: "the console's login form (the admin token, kept in a session cookie)",
      handle: async (req, ctx) => (ctx.console.enabled ? (await import('./pages.js')).loginPage(req, ctx) : DISABLED),
    },
    {
      method: 'POST',
      path: '/console/login',
      open: true,
      summary: 'log in to the console with the admin token',
      handle: async (req, ctx) => (ctx.console.enabled ? (await import('./pages.js')).login(req, ctx) : DISABLED),
    },
    {
      method: 'POST',
      path: '/console/logout',
      open: true,
      summary: 'end the console session',
      handle: async (req, ctx) => (ctx.console.enabled ? (await import('./pages.js')).logout(req, ctx) : DISABLED),
    },
    {
      method: 'GET',
      path: '/console/',
      summary: 'the console (Overview, Explore, Metric sets, Metric stores, Importers)',
      handle: async (req, ctx) => (ctx.console.enabled ? (await import('./pages.js')).appPage(req, ctx) : DISABLED),
    },
    {
      method: 'GET',
      path: '/console/assets/:file',
      open: true,
      summary: "the console's script and stylesheet (built with the package)",
      handle: async (req, ctx) => (ctx.console.enabled ? (await import('./pages.js')).asset(req.params.file!) : DISABLED),
    },
    {
      method: 'GET',
      path: '/api/v1/console',
      summary: 'what the console may do: config changes allowed, the config file, the version',
      handle: async (_req, ctx) => (ctx.console.enabled ? (await import('./pages.js')).info(ctx) : DISABLED),
    },
    {
      method: 'POST',
      path: '/api/v1/console/export',
      summary: 'export a query as a metric into a metric set: the YAML it adds ("dry_run": true), or written to the config file and applied by a reload',
      handle: async (req, ctx) => (ctx.console.enabled ? (await import('./export.js')).exportRoute(await req.body(), ctx) : DISABLED),
    },
    {
      method: 'GET',
      path: '/api/v1/console/store-types',
      summary: "the metric store adapters with the form of each (from the component's config schema) and the pipelines a store can join",
      handle: async (_req, ctx) => (ctx.console.enabled ? (await import('./stores.js')).storeTypesRoute(ctx) : DISABLED),
    },
    {
      method: 'POST',
      path: '/api/v1/console/stores',
      summary:
        'add a metric store: the YAML it adds ("dry_run": true), or written to the config file (secrets into 0600 files, referenced as ${file:…}) and applied by a reload',
      handle: async (req, ctx) => (ctx.console.enabled ? (await import('./stores.js')).createStoreRoute(await req.body(), ctx) : DISABLED),
    },
    {
      method: 'GET',
      path: '/api/v1/console/stores',
      summary: 'the metric stores the config file defines: the options each sets (never a secret), which secrets are set, the pipelines that send to it',
      handle: async (_req, ctx) => (ctx.console.enabled ? (await import('./stores.js')).listStoresRoute(ctx) : DISABLED),
    },
    {
      method: 'PUT',
      path: '/api/v1/console/stores/:id',
      summary:
        'edit a metric store (id URL-encoded, e.g. influxdb%2Fprod): options set or removed, secrets replaced, pipelines; validated, written and reloaded',
      handle: async (req, ctx) => (ctx.console.enabled ? (await import('./stores.js')).updateStoreRoute(req.params.id!, await req.body(), ctx) : DISABLED),
    },
    {
      method: 'DELETE',
      path: '/api/v1/console/stores/:id',
      summary: 'remove a metric store and its id from every pipeline; validated, written and reloaded (its console secret files removed)',
      handle: async (req, ctx) => (ctx.console.enabled ? (await import('./stores.js')).deleteStoreRoute(req.params.id!, await req.body(), ctx) : DISABLED),
    },
  ],
};
