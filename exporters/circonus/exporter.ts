/** The circonus exporter (the implementation its factory loads): push or pull by `mode`. */
import type { ExporterImpl } from '../../src/component.js';
import type { CirconusConfig } from './factory.js';
import { createCirconusPull } from './pull.js';
import { createCirconusPush } from './push.js';

/** What the factory's load() returns. */
export const circonusImpl: ExporterImpl<CirconusConfig> = {
  create(set, cfg, signal) {
    if (signal !== 'metrics') throw new Error(`circonus exporter does not support the ${signal} signal`);
    return cfg.mode === 'pull' ? createCirconusPull(set, cfg) : createCirconusPush(set, cfg);
  },
};
