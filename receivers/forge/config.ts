/**
 * Configuration of the `forge` receiver: polls the Atlassian GraphQL gateway's
 * Forge App metrics API (protocols.md §9).
 *
 * ```yaml
 * receivers:
 *   forge:
 *     app_id: ari:cloud:ecosystem::app/8ce114f4-d82c-45e2-b4fb-c6a0751d7d57
 *     environments: [8cb293d5-be08-47ae-a75c-95b89da5ad1d]
 *     email: ops@example.com
 *     api_token: ${env:FORGE_API_TOKEN}
 * ```
 */
import type { Schema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { clusterRunField } from '../../src/cluster/api.js';

/** The API's metric enum, in the order the documentation lists it. */
const FORGE_METRICS = [
  'FORGE_API_REQUEST_COUNT',
  'FORGE_API_REQUEST_LATENCY',
  'FORGE_BACKEND_INVOCATION_COUNT',
  'FORGE_BACKEND_INVOCATION_ERRORS',
  'FORGE_BACKEND_INVOCATION_LATENCY',
] as const;
export type ForgeMetric = (typeof FORGE_METRICS)[number];

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const APP_ID_RE = /^ari:cloud:ecosystem::app\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The API answers at most 15 minutes per call. */
export const MAX_WINDOW_MS = 15 * 60_000;
/** The API keeps 14 days. */
export const MAX_HISTORY_MS = 14 * 86_400_000;

export interface ForgeReceiverConfig {
  app_id: string;
  environments: string[];
  metrics: ForgeMetric[];
  email: string;
  api_token: string;
  endpoint: string;
  /** ms */
  interval: number;
  /** ms */
  history: number;
  /** ms */
  delay: number;
  /** ms */
  timeout: number;
  retry: { initial_interval: number; max_interval: number };
  cluster: { run: 'once' | 'everywhere' };
}

export const forgeConfigSchema: Schema = {
  app_id: {
    type: 'string',
    required: true,
    pattern: APP_ID_RE,
    patternHint: "ari:cloud:ecosystem::app/<uuid> (lower-case hex, as in the app's manifest.yml)",
    doc: 'The Forge app: ari:cloud:ecosystem::app/<uuid>. The account of `email` must own it.',
  },
  environments: {
    type: 'array',
    required: true,
    minItems: 1,
    items: { type: 'string', pattern: UUID_RE, patternHint: 'an environment UUID (8-4-4-4-12 lower-case hex)', doc: 'environment UUID' },
    doc: 'Environment UUIDs to poll (`forge environments list`); each has its own watermark.',
  },
  metrics: {
    type: 'array',
    minItems: 1,
    default: [...FORGE_METRICS],
    items: { type: 'enum', values: FORGE_METRICS, doc: 'a metric of the API' },
    doc: "Metrics to ask for (the API's enum names); default all five.",
  },
  email: { type: 'string', required: true, nonEmpty: true, doc: 'Atlassian account email for Basic auth; also the key of the shared 5 calls/min rate limit.' },
  api_token: {
    type: 'string',
    required: true,
    nonEmpty: true,
    secret: true,
    doc: 'Atlassian API token (id.atlassian.com/manage/api-tokens); put it in the environment: ${env:FORGE_API_TOKEN}.',
  },
  endpoint: { type: 'url', default: 'https://api.atlassian.com/graphql', doc: 'The GraphQL gateway URL.' },
  interval: { type: 'duration', default: '5m', min: '1m', doc: 'How often to poll once caught up.' },
  history: { type: 'duration', default: '1h', min: '1m', max: '14d', doc: 'How far back the first start (no watermark yet) begins.' },
  delay: {
    type: 'duration',
    default: '1m',
    max: '1h',
    doc: 'Safety margin: the newest window ends at now minus this, on a whole minute, so minutes still being aggregated are not asked for too early.',
  },
  timeout: { type: 'duration', default: '30s', min: '1s', max: '5m', doc: 'Deadline of one API call; a slower answer is abandoned and retried with backoff.' },
  retry: {
    type: 'object',
    doc: 'Backoff after HTTP 429, QueryError statusCode 429, 5xx, timeouts and network errors (Retry-After is honoured when longer).',
    fields: {
      initial_interval: { type: 'duration', default: '5s', min: '100ms', doc: 'First backoff; doubles each failed attempt (±20 % jitter).' },
      max_interval: { type: 'duration', default: '5m', min: '1s', doc: 'Longest backoff.' },
    },
  },
  cluster: clusterRunField,
};

export function validateForgeConfig(cfg: ForgeReceiverConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const envs = cfg.environments ?? [];
  const seen = new Set<string>();
  envs.forEach((e, i) => {
    if (seen.has(e)) issues.push({ path: `environments[${i}]`, message: `duplicate environment ${JSON.stringify(e)}`, severity: 'error' });
    seen.add(e);
  });
  const ms = cfg.metrics ?? [];
  const seenM = new Set<string>();
  ms.forEach((m, i) => {
    if (seenM.has(m)) issues.push({ path: `metrics[${i}]`, message: `duplicate metric ${JSON.stringify(m)}`, severity: 'error' });
    seenM.add(m);
  });
  const r = cfg.retry;
  if (r !== undefined && r.initial_interval > r.max_interval) {
    issues.push({ path: 'retry.initial_interval', message: 'must not exceed retry.max_interval', severity: 'error' });
  }
  return issues;
}
