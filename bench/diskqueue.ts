/**
 * Persistent queue measurements (docs/reliability.md): LMDB write throughput
 * with one commit per entry (each awaited: one fsync per entry) and with the
 * writes of one event-loop turn batched into one commit, and read throughput
 * streaming the backlog back. `node dist/bench/diskqueue.js [entries] [bytes]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLmdb } from '../src/exporterhelper/diskqueue.js';

const N = Number(process.argv[2] ?? 2000);
const SIZE = Number(process.argv[3] ?? 16_384);
const open = await loadLmdb();
const dir = mkdtempSync(join(tmpdir(), 'mp-lmdb-bench-'));
const env = open({ path: dir, maxDbs: 4, compression: false });
const db = env.openDB({ name: 'queue', encoding: 'binary' });
const body = Buffer.alloc(SIZE, 7);
const mb = (n: number, ms: number) => ((n * SIZE) / 1048576 / (ms / 1000)).toFixed(1);

let t = performance.now();
for (let i = 0; i < N; i++) await db.put(i, body); // one durable commit per entry
let ms = performance.now() - t;
console.log(`sequential (1 commit+fsync per entry): ${(N / (ms / 1000)).toFixed(0)} entries/s, ${mb(N, ms)} MiB/s, ${(ms / N).toFixed(2)} ms/commit`);

t = performance.now();
const ps: Promise<boolean>[] = [];
for (let i = N; i < 2 * N; i++) {
  ps.push(db.put(i, body));
  if (ps.length === 64) {
    await Promise.all(ps);
    ps.length = 0;
  }
}
await Promise.all(ps);
ms = performance.now() - t;
console.log(`batched (64 concurrent puts per commit): ${(N / (ms / 1000)).toFixed(0)} entries/s, ${mb(N, ms)} MiB/s`);

t = performance.now();
let bytes = 0;
for (let i = 0; i < 2 * N; i++) bytes += db.getBinary(i)?.length ?? 0;
ms = performance.now() - t;
console.log(`read back one by one: ${((2 * N) / (ms / 1000)).toFixed(0)} entries/s, ${(bytes / 1048576 / (ms / 1000)).toFixed(0)} MiB/s`);
t = performance.now();
for (let i = 0; i < 2 * N; i += 64) {
  const rs: Promise<boolean>[] = [];
  for (let j = i; j < i + 64; j++) rs.push(db.remove(j));
  await Promise.all(rs);
}
ms = performance.now() - t;
console.log(`delete (64 per commit): ${((2 * N) / (ms / 1000)).toFixed(0)} entries/s; rss ${(process.memoryUsage().rss / 1048576).toFixed(0)} MiB`);
await env.close();
rmSync(dir, { recursive: true, force: true });
