export * from './config.js';
export * from './retry.js';
export * from './queue.js';
export * from './exporter.js';
