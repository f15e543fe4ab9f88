/**
 * The Forge App metrics API as data (protocols.md §9): the query text, the
 * variables of one call, the headers, and the classification of an answer.
 * Pure functions; no I/O.
 */
import { quoteBigIntegers } from '../../src/otlp/json.js';

/** The query, as the documentation's sample (whitespace aside). */
const FORGE_METRICS_QUERY = `query Ecosystem($appId: ID!, $query: ForgeMetricsOtlpQueryInput!) {
  ecosystem {
    forgeMetrics(appId: $appId) {
      appMetrics(query: $query) {
        ... on ForgeMetricsOtlpData {
          resourceMetrics
        }
        ... on QueryError {
          message
          identifier
          extensions {
            statusCode
            errorType
          }
        }
      }
    }
  }
}`;

const USER_AGENT = 'ForgeMetricsExportServer/1.0.0';
const EXPERIMENTAL_API = 'ForgeMetricsQuery';

export interface ForgeVariables {
  appId: string;
  query: { filters: { environments: string[]; interval: { start: string; end: string }; metrics: string[] } };
}

export function buildVariables(appId: string, environment: string, startMs: number, endMs: number, metrics: readonly string[]): ForgeVariables {
  return {
    appId,
    query: {
      filters: {
        environments: [environment],
        interval: { start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString() },
        metrics: [...metrics],
      },
    },
  };
}

export function buildBody(vars: ForgeVariables): string {
  return JSON.stringify({ query: FORGE_METRICS_QUERY, variables: vars });
}

/** `Basic base64(email:token)`. */
export function basicAuth(email: string, token: string): string {
  return `Basic ${Buffer.from(`${email}:${token}`, 'utf8').toString('base64')}`;
}

export function buildHeaders(authorization: string): Record<string, string> {
  return {
    Authorization: authorization,
    'User-Agent': USER_AGENT,
    'X-ExperimentalApi': EXPERIMENTAL_API,
    'Content-Type': 'application/json',
    Accept: 'application/json',
  };
}

/** A `QueryError` from inside `data` (message, identifier, extensions). */
export interface QueryErrorInfo {
  message: string;
  identifier: string | null;
  statusCode: number | null;
  errorType: string | null;
}

export type ForgeAnswer =
  /** `appMetricsJson` is `{"resourceMetrics":[...]}` as text, exactly what a cron job POSTs to /v1/metrics */
  | { kind: 'data'; appMetricsJson: string; graphqlErrors: string[] }
  | { kind: 'query_error'; error: QueryErrorInfo; retryable: boolean; graphqlErrors: string[] }
  | { kind: 'graphql_errors'; messages: string[]; retryable: boolean }
  | { kind: 'invalid'; message: string };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
}

function num(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return null;
}

/** 429 and 5xx are worth retrying. */
function retryableStatus(code: number | null): boolean {
  return code === 429 || (code !== null && code >= 500 && code <= 599);
}

/** One line per GraphQL error: message, path, extensions.statusCode/errorType/classification when present. */
function graphqlErrorLines(errors: unknown): { lines: string[]; retryable: boolean } {
  const lines: string[] = [];
  let retryable = false;
  if (!Array.isArray(errors)) return { lines, retryable };
  for (const e of errors.slice(0, 10)) {
    if (!isObj(e)) {
      lines.push(String(e).slice(0, 300));
      continue;
    }
    const ext = isObj(e.extensions) ? e.extensions : {};
    const code = num(ext.statusCode);
    if (retryableStatus(code)) retryable = true;
    const parts = [str(e.message) ?? '(no message)'];
    if (Array.isArray(e.path)) parts.push(`path ${e.path.join('.')}`);
    if (code !== null) parts.push(`statusCode ${code}`);
    const et = str(ext.errorType) ?? str(ext.classification) ?? str(ext.code);
    if (et !== null) parts.push(`errorType ${et}`);
    lines.push(parts.join('; ').slice(0, 500));
  }
  if (errors.length > 10) lines.push(`… and ${errors.length - 10} more`);
  return { lines, retryable };
}

/**
 * Classify a 2xx answer body. Integers of 16+ digits are kept exact (quoted
 * before parsing, as the OTLP JSON decoder does), so the resourceMetrics text
 * handed on decodes exactly as the original would.
 */
export function parseAnswer(text: string): ForgeAnswer {
  let doc: unknown;
  try {
    doc = JSON.parse(quoteBigIntegers(text));
  } catch {
    try {
      doc = JSON.parse(text);
    } catch (err) {
      return { kind: 'invalid', message: `the gateway answered with invalid JSON: ${(err as Error).message}` };
    }
  }
  if (!isObj(doc)) return { kind: 'invalid', message: 'the gateway answered with JSON that is not an object' };
  const ge = graphqlErrorLines(doc.errors);
  const data = isObj(doc.data) ? doc.data : undefined;
  const eco = data !== undefined && isObj(data.ecosystem) ? data.ecosystem : undefined;
  const fm = eco !== undefined && isObj(eco.forgeMetrics) ? eco.forgeMetrics : undefined;
  const am = fm !== undefined && isObj(fm.appMetrics) ? fm.appMetrics : undefined;
  if (am === undefined) {
    if (ge.lines.length > 0) return { kind: 'graphql_errors', messages: ge.lines, retryable: ge.retryable };
    return { kind: 'invalid', message: 'the answer has no data.ecosystem.forgeMetrics.appMetrics and no errors' };
  }
  let rm = am.resourceMetrics;
  if (typeof rm === 'string') {
    // a JSON scalar delivered as text
    try {
      rm = JSON.parse(quoteBigIntegers(rm));
    } catch (err) {
      return { kind: 'invalid', message: `resourceMetrics is a string that is not JSON: ${(err as Error).message}` };
    }
  }
  if (rm === undefined || rm === null) {
    if ('message' in am || 'identifier' in am || 'extensions' in am) {
      const ext = isObj(am.extensions) ? am.extensions : {};
      const error: QueryErrorInfo = {
        message: (str(am.message) ?? '(no message)').slice(0, 500),
        identifier: str(am.identifier),
        statusCode: num(ext.statusCode),
        errorType: str(ext.errorType),
      };
      return { kind: 'query_error', error, retryable: retryableStatus(error.statusCode), graphqlErrors: ge.lines };
    }
    if (ge.lines.length > 0) return { kind: 'graphql_errors', messages: ge.lines, retryable: ge.retryable };
    // no data for the window
    return { kind: 'data', appMetricsJson: '{"resourceMetrics":[]}', graphqlErrors: [] };
  }
  return { kind: 'data', appMetricsJson: JSON.stringify({ resourceMetrics: rm }), graphqlErrors: ge.lines };
}

export function describeQueryError(e: QueryErrorInfo): string {
  const parts = [`QueryError: ${e.message}`];
  if (e.identifier !== null) parts.push(`identifier ${e.identifier}`);
  if (e.statusCode !== null) parts.push(`statusCode ${e.statusCode}`);
  if (e.errorType !== null) parts.push(`errorType ${e.errorType}`);
  return parts.join('; ');
}
