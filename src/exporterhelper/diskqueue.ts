/**
 * The persistent sending queue (`sending_queue: { storage: disk }`): the
 * SendQueue contract on an LMDB environment in the component's state
 * directory (docs/reliability.md says why LMDB).
 *
 * - `offer` resolves once the item is committed and flushed to disk (LMDB
 *   batches the writes of one event-loop turn into one transaction and one
 *   fsync), so an acknowledged item survives `kill -9` and power loss.
 * - Entries are keyed by a sequence number; consumers read them one at a
 *   time from the store (the backlog is never loaded into memory), and an
 *   entry is deleted only after its send settled — at-least-once: a crash
 *   while a send is in flight resends that entry after the restart (at most
 *   `num_consumers` entries per crash).
 * - Bounded in bytes (`max_size`, the encoded entries): when full, "refuse"
 *   rejects the new item, "drop_oldest" deletes the oldest entries not being
 *   sent (each handed to the drop handler, reason "queue_full"), "accept"
 *   takes it anyway (the owner applies backpressure upstream instead).
 * - At the drain deadline in-flight sends are aborted and their entries kept:
 *   what is left stays on disk for the next start and is not counted dropped.
 *
 * lmdb is imported dynamically in `open()`, so configurations without a disk
 * queue never load it.
 */
import { mkdirSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import type { DropHandler, QueueConsumer, SendQueue } from './queue.js';

export interface Codec<T> {
  encode(item: T): Uint8Array;
  decode(buf: Uint8Array): T;
}

export type DiskOverflow = 'refuse' | 'drop_oldest' | 'accept';

export interface DiskQueueOptions {
  /** directory of the LMDB environment (created) */
  dir: string;
  /** bound on the bytes of the encoded entries */
  maxBytes: number;
  numConsumers: number;
  overflow: DiskOverflow;
}

/* minimal structural types of the lmdb API used here (the package is loaded lazily) */
export interface LmdbDb {
  get(key: unknown): unknown;
  getBinary(key: unknown): Uint8Array | undefined;
  put(key: unknown, value: unknown): Promise<boolean>;
  putSync(key: unknown, value: unknown): boolean;
  remove(key: unknown): Promise<boolean>;
  removeSync(key: unknown): boolean;
  getRange(opts?: { start?: unknown; end?: unknown; limit?: number; reverse?: boolean }): Iterable<{ key: unknown; value: unknown }>;
  getKeys(opts?: { start?: unknown; end?: unknown; limit?: number; reverse?: boolean }): Iterable<unknown>;
}
export interface LmdbEnv extends LmdbDb {
  openDB(opts: { name: string; encoding?: string; keyEncoding?: string }): LmdbDb;
  transaction<R>(fn: () => R): Promise<R>;
  close(): Promise<void>;
  flushed: Promise<boolean>;
}

type Opener = (opts: Record<string, unknown>) => LmdbEnv;
let opener: Promise<Opener> | undefined;
/** The lmdb `open` function, imported once on first use. */
export function loadLmdb(): Promise<Opener> {
  opener ??= import('lmdb').then((m) => (m as unknown as { open: Opener }).open);
  return opener;
}

const HEADER = 0;

export class DiskQueue<T> implements SendQueue<T> {
  private readonly o: DiskQueueOptions;
  private readonly codec: Codec<T>;
  private readonly onDrop: DropHandler<T>;
  private env: LmdbEnv | undefined;
  private db: LmdbDb | undefined;
  private opening: Promise<void> | undefined;
  /** next key to write */
  private tail = 1;
  /** next key to hand to a consumer (keys below it are being sent or gone) */
  private cursor = 1;
  private used = 0;
  private readonly inflight = new Map<number, number>();
  private closed = false;
  private waiters: Array<() => void> = [];
  private loops: Promise<void>[] = [];
  private consumer: QueueConsumer<T> | undefined;
  private readonly stop = new AbortController();
  private draining: Promise<void> | undefined;
  private hook: (() => void) | undefined;
  /** keys handed out by offer() whose transaction has not settled: consumers and eviction wait for them, never skip them */
  private readonly pending = new Set<number>();
  /** entries found at open (the backlog of the previous run) */
  resumed = 0;
  readonly persistent = true;

  constructor(opts: DiskQueueOptions, codec: Codec<T>, onDrop: DropHandler<T>) {
    this.o = { ...opts, maxBytes: Math.max(1, opts.maxBytes), numConsumers: Math.max(1, opts.numConsumers) };
    this.codec = codec;
    this.onDrop = onDrop;
    setMaxListeners(0, this.stop.signal);
  }

  /** Open the environment and find the backlog (keys and sizes, not the data). Idempotent. */
  open(): Promise<void> {
    this.opening ??= (async () => {
      const open = await loadLmdb();
      mkdirSync(this.o.dir, { recursive: true });
      const env = open({ path: this.o.dir, maxDbs: 8, compression: false });
      this.env = env;
      this.db = env.openDB({ name: 'queue', encoding: 'binary' });
      let first = -1;
      for (const { key, value } of this.db.getRange({})) {
        const k = key as number;
        if (first < 0) first = k;
        this.used += (value as Uint8Array).length;
        this.tail = k + 1;
        this.resumed++;
      }
      this.cursor = first < 0 ? this.tail : first;
    })();
    return this.opening;
  }

  /** Another named database in the same environment (write-ahead logs of the owner); after open(). */
  openDB(name: string, encoding = 'binary'): LmdbDb {
    if (this.env === undefined) throw new Error('disk queue not open');
    return this.env.openDB({ name, encoding });
  }

  /** Run `fn` inside the transaction that commits the next offered item (or now, in a transaction of its own, with `commit`). */
  setCommitHook(fn: () => void): void {
    this.hook = fn;
  }

  /** Run `fn` in a write transaction; resolves once committed and flushed. */
  async commit(fn: () => void): Promise<void> {
    await this.open();
    await (this.env as LmdbEnv).transaction(fn);
  }

  /** true when the bytes on disk reach the bound */
  full(): boolean {
    return this.used >= this.o.maxBytes;
  }

  async offer(item: T, _size: number): Promise<boolean> {
    if (this.closed) return false;
    await this.open();
    if (this.closed) return false;
    const buf = this.codec.encode(item);
    const bytes = buf.length + HEADER;
    const waiting = this.tail - this.cursor;
    if (this.used + bytes > this.o.maxBytes && (waiting > 0 || this.inflight.size > 0)) {
      if (this.o.overflow === 'refuse') return false;
      if (this.o.overflow === 'drop_oldest') this.evict(bytes);
    }
    const key = this.tail++;
    this.pending.add(key);
    this.used += bytes;
    const db = this.db as LmdbDb;
    const hook = this.hook;
    this.hook = undefined;
    try {
      await (this.env as LmdbEnv).transaction(() => {
        db.putSync(key, buf);
        if (hook !== undefined) hook();
      });
    } catch (err) {
      this.used -= bytes;
      throw err;
    } finally {
      this.pending.delete(key);
      // a consumer may be waiting for this very key (committed, or failed: then it moves past it)
      this.wakeAll();
    }
    return true;
  }

  private evict(bytes: number): void {
    const db = this.db as LmdbDb;
    while (this.cursor < this.tail && this.used + bytes > this.o.maxBytes && !this.pending.has(this.cursor)) {
      const key = this.cursor++;
      const v = db.getBinary(key);
      if (v === undefined) continue;
      this.used -= v.length;
      let item: T | undefined;
      try {
        item = this.codec.decode(v);
      } catch {
        item = undefined;
      }
      void db.remove(key).catch(() => undefined);
      if (item !== undefined) {
        try {
          this.onDrop(item, v.length, 'queue_full');
        } catch {
          /* never */
        }
      }
    }
  }

  size(): number {
    return this.used;
  }
  capacity(): number {
    return this.o.maxBytes;
  }
  /** entries on disk (waiting + being sent) */
  entries(): number {
    return this.tail - this.cursor + this.inflight.size;
  }

  start(consumer: QueueConsumer<T>): void {
    if (this.consumer !== undefined || this.closed) return;
    this.consumer = consumer;
    for (let i = 0; i < this.o.numConsumers; i++) this.loops.push(this.loop());
  }

  private async loop(): Promise<void> {
    try {
      await this.open();
    } catch {
      return;
    }
    const consumer = this.consumer as QueueConsumer<T>;
    const db = this.db as LmdbDb;
    for (;;) {
      if (this.stop.signal.aborted) return;
      if (this.cursor >= this.tail || this.pending.has(this.cursor)) {
        if (this.closed && !this.pending.has(this.cursor)) return;
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      const key = this.cursor++;
      const v = db.getBinary(key);
      if (v === undefined) continue;
      const bytes = v.length;
      let item: T;
      try {
        item = this.codec.decode(v);
      } catch {
        // unreadable entry (cannot happen short of disk corruption): removed, not retried forever
        this.used -= bytes;
        void db.remove(key).catch(() => undefined);
        continue;
      }
      this.inflight.set(key, bytes);
      try {
        await consumer(item, this.stop.signal);
      } catch {
        /* consumers count their own failures */
      }
      this.inflight.delete(key);
      if (this.stop.signal.aborted) return; // cut short at the drain deadline: the entry stays for the next start
      this.used -= bytes;
      try {
        await db.remove(key);
      } catch {
        /* the entry is resent after a restart (at-least-once) */
      }
    }
  }

  private wakeAll(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  drain(deadline: AbortSignal): Promise<void> {
    this.draining ??= this.doDrain(deadline);
    return this.draining;
  }

  private async doDrain(deadline: AbortSignal): Promise<void> {
    this.closed = true;
    this.wakeAll();
    if (this.consumer !== undefined && !deadline.aborted) {
      let onAbort: () => void = () => undefined;
      const aborted = new Promise<void>((resolve) => {
        onAbort = resolve;
        deadline.addEventListener('abort', onAbort, { once: true });
      });
      await Promise.race([Promise.all(this.loops), aborted]);
      deadline.removeEventListener('abort', onAbort);
    }
    this.stop.abort(new Error('sending queue drain deadline passed'));
    this.wakeAll();
    if (this.loops.length > 0) {
      let t: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        t = setTimeout(resolve, 1000);
        t.unref();
      });
      await Promise.race([Promise.all(this.loops), grace]);
      clearTimeout(t);
    }
    // nothing is dropped: what is left stays on disk for the next start
    if (this.opening !== undefined) {
      try {
        await this.opening;
        await this.env?.close();
      } catch {
        /* closing twice or never opened */
      }
    }
  }
}
