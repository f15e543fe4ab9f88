/**
 * A local test double of the Atlassian GraphQL gateway's Forge App metrics
 * API (protocols.md §9), on loopback. It checks every call (method, path,
 * each header byte for byte, Basic credentials, the query text, the
 * variables, the window length ≤ 15 min and ≤ 14 days back, the call rate
 * ≤ 5 in any 60 s by the injected clock) and records violations; it answers
 * what the test scripts: the seed's sample, QueryErrors, GraphQL errors, HTTP
 * 429/5xx, or a slow answer held until released.
 */
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { ROOT } from '../../e2e/metricport.js';

export const SAMPLE_RESPONSE = readFileSync(join(ROOT, 'test/fixtures/forge/sample-response.json'), 'utf8');

/** The documentation's query text, whitespace-normalised. */
export const DOC_QUERY =
  'query Ecosystem($appId: ID!, $query: ForgeMetricsOtlpQueryInput!) { ecosystem { forgeMetrics(appId: $appId) { appMetrics(query: $query) { ... on ForgeMetricsOtlpData { resourceMetrics } ... on QueryError { message identifier extensions { statusCode errorType } } } } } }';
const ENUM = new Set([
  'FORGE_API_REQUEST_COUNT',
  'FORGE_API_REQUEST_LATENCY',
  'FORGE_BACKEND_INVOCATION_COUNT',
  'FORGE_BACKEND_INVOCATION_ERRORS',
  'FORGE_BACKEND_INVOCATION_LATENCY',
]);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const APP = /^ari:cloud:ecosystem::app\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export interface GatewayCall {
  /** by the injected clock */
  at: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
  appId: string;
  environments: string[];
  metrics: string[];
  start: number;
  end: number;
}

export type Reply =
  | { kind: 'sample' }
  | { kind: 'data'; resourceMetrics: unknown }
  | { kind: 'raw'; status?: number; body: string; headers?: Record<string, string> }
  | { kind: 'queryError'; statusCode: number; message: string; identifier?: string; errorType?: string }
  | { kind: 'graphqlErrors'; errors: unknown[] }
  | { kind: 'http'; status: number; body?: string; headers?: Record<string, string> }
  /** hold the answer until `release` resolves, then send `then` */
  | { kind: 'slow'; release: Promise<void>; then: Reply };

export interface GatewayOptions {
  now: () => number;
  email: string;
  token: string;
  appId?: string;
  /** calls allowed in any 60 s (by `now`) */
  maxPerMinute?: number;
  /** answer for calls the script does not cover */
  respond?: (call: GatewayCall) => Reply;
}

export class Gateway {
  readonly calls: GatewayCall[] = [];
  readonly violations: string[] = [];
  /** scripted answers, taken first-in first-out */
  readonly script: Reply[] = [];
  inFlight = 0;
  url = '';
  private server: http.Server | undefined;

  constructor(private readonly o: GatewayOptions) {}

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/graphql`;
    return this;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private violate(msg: string): void {
    if (this.violations.length < 50) this.violations.push(msg);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    this.inFlight++;
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void this.answer(req, res, Buffer.concat(chunks).toString('utf8')).finally(() => {
        this.inFlight--;
      });
    });
  }

  private check(req: http.IncomingMessage, body: string): GatewayCall | undefined {
    const o = this.o;
    const h = req.headers;
    if (req.method !== 'POST') this.violate(`method ${req.method}`);
    if (req.url !== '/graphql') this.violate(`path ${req.url}`);
    const expectedAuth = `Basic ${Buffer.from(`${o.email}:${o.token}`).toString('base64')}`;
    if (h.authorization !== expectedAuth) this.violate(`authorization header is not Basic base64(email:token)`);
    if (h['user-agent'] !== 'ForgeMetricsExportServer/1.0.0') this.violate(`user-agent ${JSON.stringify(h['user-agent'])}`);
    if (h['x-experimentalapi'] !== 'ForgeMetricsQuery') this.violate(`x-experimentalapi ${JSON.stringify(h['x-experimentalapi'])}`);
    if (h['content-type'] !== 'application/json') this.violate(`content-type ${JSON.stringify(h['content-type'])}`);
    let doc: { query?: unknown; variables?: any };
    try {
      doc = JSON.parse(body);
    } catch {
      this.violate('body is not JSON');
      return undefined;
    }
    const q = typeof doc.query === 'string' ? doc.query.replace(/\s+/g, ' ').trim() : '';
    if (q !== DOC_QUERY) this.violate(`query text differs: ${q.slice(0, 200)}`);
    const v = doc.variables;
    const keys = v && typeof v === 'object' ? Object.keys(v).sort().join(',') : '';
    if (keys !== 'appId,query') this.violate(`variables keys ${keys}`);
    const appId = v?.appId;
    if (typeof appId !== 'string' || !APP.test(appId)) this.violate(`appId ${JSON.stringify(appId)}`);
    if (o.appId !== undefined && appId !== o.appId) this.violate(`appId ${appId} != ${o.appId}`);
    const f = v?.query?.filters;
    if (Object.keys(v?.query ?? {}).join(',') !== 'filters') this.violate(`query keys ${Object.keys(v?.query ?? {})}`);
    if (
      Object.keys(f ?? {})
        .sort()
        .join(',') !== 'environments,interval,metrics'
    )
      this.violate(`filters keys ${Object.keys(f ?? {})}`);
    const envs: unknown = f?.environments;
    if (!Array.isArray(envs) || envs.length === 0 || !envs.every((e) => typeof e === 'string' && UUID.test(e)))
      this.violate(`environments ${JSON.stringify(envs)}`);
    const metrics: unknown = f?.metrics;
    if (!Array.isArray(metrics) || metrics.length === 0 || !metrics.every((m) => ENUM.has(m as string))) this.violate(`metrics ${JSON.stringify(metrics)}`);
    const s = f?.interval?.start,
      e = f?.interval?.end;
    if (typeof s !== 'string' || !ISO.test(s) || typeof e !== 'string' || !ISO.test(e)) {
      this.violate(`interval ${JSON.stringify(f?.interval)}`);
      return undefined;
    }
    const start = Date.parse(s),
      end = Date.parse(e);
    const now = o.now();
    if (!(end > start)) this.violate(`empty interval ${s}..${e}`);
    if (end - start > 15 * 60_000) this.violate(`window longer than 15 min: ${s}..${e}`);
    if (start < now - 14 * 86_400_000) this.violate(`window older than 14 days: start ${s}, now ${new Date(now).toISOString()}`);
    if (end > now) this.violate(`window in the future: end ${e}, now ${new Date(now).toISOString()}`);
    // rate: with this call, at most N calls in the last 60 s (inclusive)
    const max = o.maxPerMinute ?? 5;
    let n = 1;
    for (let i = this.calls.length - 1; i >= 0 && this.calls[i]!.at > now - 60_000; i--) n++;
    if (n > max) this.violate(`${n} calls within 60 s at ${new Date(now).toISOString()}`);
    return { at: now, headers: h, rawHeaders: req.rawHeaders, body, appId, environments: envs as string[], metrics: metrics as string[], start, end };
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse, body: string): Promise<void> {
    const call = this.check(req, body);
    if (call === undefined) {
      this.send(res, 400, JSON.stringify({ errors: [{ message: 'bad request (test double)' }] }));
      return;
    }
    this.calls.push(call);
    let reply: Reply = this.script.shift() ?? this.o.respond?.(call) ?? { kind: 'data', resourceMetrics: [] };
    while (reply.kind === 'slow') {
      await reply.release;
      reply = reply.then;
    }
    if (res.destroyed) return;
    switch (reply.kind) {
      case 'sample':
        return this.send(res, 200, SAMPLE_RESPONSE);
      case 'data':
        return this.send(res, 200, JSON.stringify({ data: { ecosystem: { forgeMetrics: { appMetrics: { resourceMetrics: reply.resourceMetrics } } } } }));
      case 'raw':
        return this.send(res, reply.status ?? 200, reply.body, reply.headers);
      case 'queryError':
        return this.send(
          res,
          200,
          JSON.stringify({
            data: {
              ecosystem: {
                forgeMetrics: {
                  appMetrics: {
                    message: reply.message,
                    identifier: reply.identifier ?? null,
                    extensions: { statusCode: reply.statusCode, errorType: reply.errorType ?? null },
                  },
                },
              },
            },
          }),
        );
      case 'graphqlErrors':
        return this.send(res, 200, JSON.stringify({ errors: reply.errors, data: null }));
      case 'http':
        return this.send(res, reply.status, reply.body ?? '', reply.headers);
    }
  }

  private send(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
    if (res.destroyed) return;
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), ...headers });
    res.end(body);
  }
}

/** The windows the gateway was asked for, as [startISO, endISO]. */
export function windowsOf(calls: GatewayCall[]): Array<[string, string]> {
  return calls.map((c) => [new Date(c.start).toISOString(), new Date(c.end).toISOString()]);
}
