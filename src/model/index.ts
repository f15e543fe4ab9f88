export * from './metrics.js';
export * from './events.js';
export * from './clone.js';
export * from './attributes.js';
