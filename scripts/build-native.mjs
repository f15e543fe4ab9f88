#!/usr/bin/env node
/**
 * `npm run build`, after tsc: compiles the statsd receiver's native reader
 * (receivers/statsd/native/udprecv.c, N-API, Linux recvmmsg) into
 * dist/receivers/statsd/native/udprecv.node with the system C compiler
 * against the running Node's headers (<prefix>/include/node).
 *
 * Optional by default: on another OS, without a compiler or without the
 * headers it prints why and exits 0 (the receiver then reads through
 * node:dgram and logs that once). With METRICPORT_REQUIRE_NATIVE=1 (the
 * Dockerfile, .ci/run) any of these fails the build.
 *
 *   node scripts/build-native.mjs
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'receivers/statsd/native/udprecv.c');
const OUT = join(ROOT, 'dist/receivers/statsd/native/udprecv.node');
const required = process.env.METRICPORT_REQUIRE_NATIVE === '1';

function skip(why) {
  if (required) {
    console.error(`build-native: ${why} (METRICPORT_REQUIRE_NATIVE=1)`);
    process.exit(1);
  }
  rmSync(OUT, { force: true });
  console.log(`build-native: statsd native reader not built: ${why}; the statsd receiver reads through node:dgram`);
  process.exit(0);
}

if (process.platform !== 'linux') skip(`recvmmsg is Linux only (this is ${process.platform})`);
const include = [join(dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node'].find((d) =>
  existsSync(join(d, 'node_api.h')),
);
if (include === undefined) skip(`no Node headers (node_api.h) beside ${process.execPath}`);
const cc = process.env.CC ?? 'cc';
mkdirSync(dirname(OUT), { recursive: true });
const tmp = `${OUT}.${process.pid}.tmp`;
try {
  execFileSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', `-I${include}`, '-o', tmp, SRC], { stdio: ['ignore', 'inherit', 'inherit'] });
} catch (err) {
  rmSync(tmp, { force: true });
  skip(`${cc} failed: ${err.message.split('\n')[0]}`);
}
renameSync(tmp, OUT);
console.log(`build-native: ${OUT.slice(ROOT.length + 1)}`);
