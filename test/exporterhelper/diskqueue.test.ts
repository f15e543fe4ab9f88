/**
 * The disk queue (LMDB): an entry whose commit is still in progress when a
 * consumer reaches its key is waited for, never skipped (a skipped entry was
 * never sent in this run, and its bytes stayed counted: with drop_policy
 * block the queue looked full for ever).
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiskQueue, type Codec, type LmdbEnv } from '../../src/exporterhelper/diskqueue.js';
import { deferred, waitFor } from './fakes.js';

const codec: Codec<string> = { encode: (s) => Buffer.from(s, 'utf8'), decode: (b) => Buffer.from(b).toString('utf8') };

describe('exporterhelper/diskqueue', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mp-dq-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a consumer that reaches a key whose commit is still in progress waits for it instead of skipping it', async () => {
    const q = new DiskQueue<string>({ dir, maxBytes: 1 << 20, numConsumers: 1, overflow: 'refuse' }, codec, () => undefined);
    await q.open();
    const got: string[] = [];
    const firstGate = deferred();
    q.start(async (item) => {
      if (item === 'first') await firstGate.promise;
      got.push(item);
    });
    expect(await q.offer('first', 1)).to.equal(true);
    await waitFor(() => q.entries() === 1 && q.size() > 0, 'first taken by the consumer');
    // the next commit is slow (a busy disk): hold it until the consumer has come round
    const env = (q as unknown as { env: LmdbEnv }).env;
    const commitGate = deferred();
    const transaction = env.transaction.bind(env);
    env.transaction = (async (fn: () => unknown) => {
      await commitGate.promise;
      return transaction(fn);
    }) as LmdbEnv['transaction'];
    const second = q.offer('second', 1);
    firstGate.resolve(); // the consumer finishes 'first', removes it and reaches the key of 'second' before it is committed
    await waitFor(() => got.length === 1, 'first consumed');
    await new Promise((r) => setImmediate(r));
    commitGate.resolve();
    expect(await second).to.equal(true);
    await waitFor(() => got.length === 2, `second consumed (got ${JSON.stringify(got)})`, 3000);
    expect(got).to.deep.equal(['first', 'second']);
    await waitFor(() => q.size() === 0, 'bytes released');
    await q.drain(AbortSignal.timeout(1000));
  });
});
