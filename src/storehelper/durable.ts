/**
 * Durability of a push store with `sending_queue: { storage: disk }`
 * (docs/reliability.md):
 *
 * - the **write-ahead log** (`wal` database, same LMDB environment as the
 *   queue): every batch the store accepts is written (OTLP protobuf, behind
 *   the accumulator's open-window index at the time) before consume()
 *   resolves, i.e. before the receiver acknowledges it;
 * - the **flush watermark** (`meta.openFrom`): every window below it has been
 *   queued. It is written in the same transaction as the queued payloads, with
 *   the deletion of the log entries whose every point lies below it;
 * - after a restart the log is replayed into a fresh accumulator opened at
 *   the watermark, skipping points whose window was already queued, so a
 *   crash neither loses nor repeats a window.
 */
import { decodeMetricsProto, encodeMetricsProto } from '../otlp/proto.js';
import type { MetricsBatch } from '../model/metrics.js';
import type { Codec, DiskQueue, LmdbDb } from '../exporterhelper/diskqueue.js';
import type { QueueItem } from '../exporterhelper/exporter.js';
import type { PeriodAccumulator } from './accumulator.js';
import type { Payload } from './store.js';

/** A queued store job: the payload bodies (points are not kept on disk). */
export interface DurableJob {
  chunks: Payload[];
  n: number;
  rejected: number;
  messages: string[];
}

/** [u32 n][u32 chunks]{[u32 n][u32 len][body]}… */
export const jobCodec: Codec<QueueItem<DurableJob>> = {
  encode(item) {
    const chunks = item.data.chunks;
    let len = 8;
    for (const c of chunks) len += 8 + c.body.length;
    const out = Buffer.allocUnsafe(len);
    out.writeUInt32LE(item.n, 0);
    out.writeUInt32LE(chunks.length, 4);
    let o = 8;
    for (const c of chunks) {
      out.writeUInt32LE(c.n, o);
      out.writeUInt32LE(c.body.length, o + 4);
      out.set(c.body, o + 8);
      o += 8 + c.body.length;
    }
    return out;
  },
  decode(b) {
    const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
    if (buf.length < 8) throw new Error('queue entry too short');
    const n = buf.readUInt32LE(0);
    const count = buf.readUInt32LE(4);
    const chunks: Payload[] = [];
    let o = 8;
    for (let i = 0; i < count; i++) {
      if (o + 8 > buf.length) throw new Error('queue entry truncated');
      const cn = buf.readUInt32LE(o);
      const len = buf.readUInt32LE(o + 4);
      if (o + 8 + len > buf.length) throw new Error('queue entry truncated');
      // a copy: the store's buffer may be reused by the next read
      chunks.push({ points: [], n: cn, body: Uint8Array.prototype.slice.call(buf, o + 8, o + 8 + len) });
      o += 8 + len;
    }
    return { data: { chunks, n, rejected: 0, messages: [] }, n };
  },
};

interface LogEntry {
  seq: number;
  maxWindow: number;
}

export class WriteAheadLog {
  private wal: LmdbDb | undefined;
  private meta: LmdbDb | undefined;
  private seq = 1;
  private entries: LogEntry[] = [];
  private bytes = 0;
  /** counters for status */
  replayedBatches = 0;
  replayedPoints = 0;
  skippedPoints = 0;

  constructor(private readonly q: DiskQueue<QueueItem<DurableJob>>) {}

  /** Open, then replay the log into `acc` (a fresh accumulator). */
  async open(acc: PeriodAccumulator): Promise<void> {
    await this.q.open();
    this.wal = this.q.openDB('wal');
    this.meta = this.q.openDB('meta', 'json');
    const o = this.meta.get('openFrom');
    const watermark = typeof o === 'number' ? o : undefined;
    let reopened = false;
    for (const { key, value } of this.wal.getRange({})) {
      const seq = key as number;
      this.seq = seq + 1;
      const v = value as Uint8Array;
      this.bytes += v.length;
      const buf = Buffer.from(v.buffer, v.byteOffset, v.length);
      const openFromAtAdd = buf.readDoubleLE(0);
      // windows from the watermark on (or, never flushed, from the oldest entry's) are open again
      if (!reopened) {
        acc.reopenFrom(watermark ?? openFromAtAdd);
        reopened = true;
      }
      let batch: MetricsBatch;
      try {
        batch = decodeMetricsProto(buf.subarray(8)).data;
      } catch {
        continue;
      }
      const before = acc.counters.points;
      acc.add(batch, { openFromAtAdd, skipBelow: watermark ?? -Infinity });
      this.replayedBatches++;
      this.replayedPoints += acc.counters.points - before;
      this.entries.push({ seq, maxWindow: acc.lastMaxWindow });
    }
  }

  /** Log a batch already added to the accumulator; resolves once on disk. */
  append(batch: MetricsBatch, openFromAtAdd: number, maxWindow: number): Promise<boolean> {
    const proto = encodeMetricsProto(batch);
    const buf = Buffer.allocUnsafe(8 + proto.length);
    buf.writeDoubleLE(openFromAtAdd, 0);
    buf.set(proto, 8);
    const seq = this.seq++;
    this.entries.push({ seq, maxWindow });
    this.bytes += buf.length;
    return (this.wal as LmdbDb).put(seq, buf);
  }

  /**
   * Writes for the transaction that queues the windows below `openFrom`: the
   * watermark, and deletion of the entries wholly below it. The entries leave
   * this log's list only once those writes ran, so a checkpoint whose
   * transaction fails retires nothing and the next one retires them.
   */
  checkpoint(openFrom: number): () => void {
    const wal = this.wal as LmdbDb;
    const meta = this.meta as LmdbDb;
    return () => {
      meta.putSync('openFrom', openFrom);
      const keep: LogEntry[] = [];
      let freed = 0;
      for (const e of this.entries) {
        if (e.maxWindow >= openFrom) {
          keep.push(e);
          continue;
        }
        const v = wal.getBinary(e.seq);
        if (v !== undefined) freed += v.length;
        wal.removeSync(e.seq);
      }
      this.entries = keep;
      this.bytes -= freed;
    };
  }

  status(): Record<string, number> {
    return {
      wal_entries: this.entries.length,
      wal_bytes: Math.max(0, this.bytes),
      wal_replayed_batches: this.replayedBatches,
      wal_replayed_points: this.replayedPoints,
    };
  }
}
