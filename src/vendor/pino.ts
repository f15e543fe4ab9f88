/**
 * The `pino` package as metricport imports it (see ./yaml.ts: the build
 * replaces the compiled re-export with the package bundled into one module,
 * scripts/vendor.mjs). Import `pino` through this file, never directly.
 */
export { pino } from 'pino';
