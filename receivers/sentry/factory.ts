import { defineReceiver } from '../../src/component.js';
import type { ConfigIssue } from '../../src/errors.js';
import { sentryConfigSchema, type SentryReceiverConfig } from './config.js';

/**
 * `sentry`: the Sentry SDKs' envelopes (`POST [/prefix]/api/<projectId>/envelope/`)
 * and legacy store requests → error events, on a shared HTTP listener.
 */
export const sentryReceiverFactory = defineReceiver<SentryReceiverConfig>({
  type: 'sentry',
  description: 'Sentry SDK receiver: POST [/prefix]/api/<projectId>/envelope/ (and /store/) from unmodified Sentry SDKs → error events',
  signals: ['events'],
  configSchema: sentryConfigSchema,
  validate(cfg) {
    const issues: ConfigIssue[] = [];
    const seen = new Set<string>();
    (cfg.keys ?? []).forEach((k, i) => {
      if (k === undefined || typeof k.key !== 'string') return;
      if (seen.has(k.key)) issues.push({ path: `keys[${i}].key`, message: 'the same key is listed twice', severity: 'error' });
      seen.add(k.key);
    });
    return issues;
  },
  load: async () => {
    const { SentryReceiver } = await import('./receiver.js');
    return { create: (set, cfg, next) => new SentryReceiver(set, cfg, next.events) };
  },
});

export type { SentryReceiverConfig } from './config.js';
