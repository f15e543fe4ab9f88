/**
 * The `yaml` package as metricport imports it. `tsc` compiles this file to a
 * plain re-export; the build then replaces dist/src/vendor/yaml.js with the
 * package bundled into one module (scripts/vendor.mjs): the config is read
 * at every start, and loading the package's ~70 CommonJS files one by one
 * cost ~40 ms of CPU there (docs/performance.md, "Start and idle"). Import
 * `yaml` through this file, never directly.
 */
export * from 'yaml';
