import { expect } from 'chai';
import { MemoryQueue, type QueueDropReason } from '../../src/exporterhelper/queue.js';
import { aborted, deferred, never, waitFor, type Deferred } from './fakes.js';

function recorder(): { drops: Array<[string, number, QueueDropReason]>; onDrop: (i: string, s: number, r: QueueDropReason) => void } {
  const drops: Array<[string, number, QueueDropReason]> = [];
  return { drops, onDrop: (i, s, r) => drops.push([i, s, r]) };
}

describe('exporterhelper/queue (MemoryQueue)', () => {
  it('refuses when full under the default policy, counting sizes', () => {
    const r = recorder();
    const q = new MemoryQueue<string>({ capacity: 5, numConsumers: 1, dropPolicy: 'refuse' }, r.onDrop);
    expect(q.offer('a', 2)).to.equal(true);
    expect(q.offer('b', 3)).to.equal(true);
    expect(q.size()).to.equal(5);
    expect(q.capacity()).to.equal(5);
    expect(q.offer('c', 1)).to.equal(false);
    expect(q.size()).to.equal(5);
    expect(r.drops).to.deep.equal([]);
  });

  it('drop_oldest evicts queued items to make room and reports them', () => {
    const r = recorder();
    const q = new MemoryQueue<string>({ capacity: 3, numConsumers: 1, dropPolicy: 'drop_oldest' }, r.onDrop);
    for (const x of ['a', 'b', 'c']) expect(q.offer(x, 1)).to.equal(true);
    expect(q.offer('d', 2)).to.equal(true);
    expect(r.drops).to.deep.equal([
      ['a', 1, 'queue_full'],
      ['b', 1, 'queue_full'],
    ]);
    expect(q.size()).to.equal(3);
  });

  it('accepts an item larger than the capacity only into an empty queue', () => {
    const q = new MemoryQueue<string>({ capacity: 2, numConsumers: 1, dropPolicy: 'refuse' }, () => undefined);
    expect(q.offer('big', 10)).to.equal(true);
    expect(q.size()).to.equal(10);
    expect(q.offer('small', 1)).to.equal(false);
  });

  it('sends in FIFO order with one consumer', async () => {
    const q = new MemoryQueue<number>({ capacity: 100, numConsumers: 1, dropPolicy: 'refuse' }, () => undefined);
    const got: number[] = [];
    for (let i = 0; i < 10; i++) q.offer(i, 1);
    q.start(async (i) => {
      got.push(i);
    });
    await waitFor(() => got.length === 10, 'all sent');
    expect(got).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(q.size()).to.equal(0);
    await q.drain(never());
  });

  it('runs num_consumers sends concurrently', async () => {
    const q = new MemoryQueue<number>({ capacity: 100, numConsumers: 3, dropPolicy: 'refuse' }, () => undefined);
    const gates: Deferred[] = [];
    let active = 0;
    let maxActive = 0;
    q.start(async () => {
      active++;
      maxActive = Math.max(maxActive, active);
      const d = deferred();
      gates.push(d);
      await d.promise;
      active--;
    });
    for (let i = 0; i < 6; i++) q.offer(i, 1);
    await waitFor(() => gates.length === 3, 'three in flight');
    expect(active).to.equal(3);
    expect(q.size()).to.equal(3);
    for (let k = 0; k < 6; k++) {
      await waitFor(() => gates.length > k, `send ${k}`);
      gates[k]!.resolve();
    }
    await q.drain(never());
    expect(maxActive).to.equal(3);
    expect(gates).to.have.length(6);
  });

  it('drain sends everything queued before resolving and then refuses offers', async () => {
    const r = recorder();
    const q = new MemoryQueue<number>({ capacity: 100, numConsumers: 2, dropPolicy: 'refuse' }, (i, s, re) => r.onDrop(String(i), s, re));
    const sent: number[] = [];
    q.start(async (i) => {
      await new Promise((res) => setImmediate(res));
      sent.push(i);
    });
    for (let i = 0; i < 20; i++) q.offer(i, 1);
    await q.drain(never());
    expect(sent.slice().sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 20 }, (_, i) => i));
    expect(r.drops).to.deep.equal([]);
    expect(q.offer(99, 1)).to.equal(false);
  });

  it('at the drain deadline drops what is left (reason shutdown) and aborts in-flight sends', async () => {
    const r = recorder();
    const q = new MemoryQueue<string>({ capacity: 100, numConsumers: 1, dropPolicy: 'refuse' }, r.onDrop);
    let sendSignal: AbortSignal | undefined;
    q.start((_i, signal) => {
      sendSignal = signal;
      return new Promise<void>((res) => signal.addEventListener('abort', () => res()));
    });
    for (const x of ['a', 'b', 'c']) q.offer(x, 1);
    await waitFor(() => sendSignal !== undefined, 'first send');
    const deadline = new AbortController();
    const start = Date.now();
    const d = q.drain(deadline.signal);
    setTimeout(() => deadline.abort(), 20);
    await d;
    expect(Date.now() - start).to.be.below(1000);
    expect(sendSignal!.aborted).to.equal(true);
    expect(r.drops).to.deep.equal([
      ['b', 1, 'shutdown'],
      ['c', 1, 'shutdown'],
    ]);
    expect(q.size()).to.equal(0);
  });

  it('drain without start drops everything; drain twice is the same drain', async () => {
    const r = recorder();
    const q = new MemoryQueue<string>({ capacity: 10, numConsumers: 2, dropPolicy: 'refuse' }, r.onDrop);
    q.offer('a', 2);
    const p1 = q.drain(aborted());
    const p2 = q.drain(never());
    expect(p1).to.equal(p2);
    await p1;
    expect(r.drops).to.deep.equal([['a', 2, 'shutdown']]);
  });

  it('survives a consumer that throws', async () => {
    const q = new MemoryQueue<number>({ capacity: 10, numConsumers: 1, dropPolicy: 'refuse' }, () => undefined);
    const seen: number[] = [];
    q.start(async (i) => {
      seen.push(i);
      if (i === 0) throw new Error('boom');
    });
    q.offer(0, 1);
    q.offer(1, 1);
    await q.drain(never());
    expect(seen).to.deep.equal([0, 1]);
  });
});
