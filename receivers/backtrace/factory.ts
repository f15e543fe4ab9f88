import { defineReceiver } from '../../src/component.js';
import type { ConfigIssue } from '../../src/errors.js';
import { backtraceConfigSchema, type BacktraceReceiverConfig } from './config.js';

/**
 * `backtrace`: the Backtrace SDKs' report submissions (`POST /post?format=json&token=`,
 * `POST /<universe>/<token>/json`; JSON or multipart) → error events.
 */
export const backtraceReceiverFactory = defineReceiver<BacktraceReceiverConfig>({
  type: 'backtrace',
  description:
    'Backtrace SDK receiver: POST /post?format=json&token= and /<universe>/<token>/json (JSON or multipart) from unmodified Backtrace SDKs → error events, deduplicated by uuid',
  signals: ['events'],
  configSchema: backtraceConfigSchema,
  validate(cfg) {
    const issues: ConfigIssue[] = [];
    const seen = new Set<string>();
    (cfg.tokens ?? []).forEach((t, i) => {
      if (t === undefined || typeof t.token !== 'string') return;
      if (seen.has(t.token)) issues.push({ path: `tokens[${i}].token`, message: 'the same token is listed twice', severity: 'error' });
      if (t.token.includes('/'))
        issues.push({ path: `tokens[${i}].token`, message: 'a token cannot contain "/" (it is a URL path segment)', severity: 'error' });
      seen.add(t.token);
    });
    return issues;
  },
  load: async () => {
    const { BacktraceReceiver } = await import('./receiver.js');
    return { create: (set, cfg, next) => new BacktraceReceiver(set, cfg, next.events) };
  },
});

export type { BacktraceReceiverConfig } from './config.js';
