/**
 * FleetOwner (src/fleet/owner.ts) without NATS: an in-memory stream and
 * cluster host, a clock the test moves. Pins the owner's rules: a window goes
 * out once every live publisher sent or its deadline passed; a partial of an
 * exported window is late (counted, not merged); a second copy is a
 * duplicate; a new owner of the partition resumes from the mark: it exports
 * the unfinished window and never the finished one again.
 */
import { expect } from 'chai';
import { silentLogger } from '../../src/logger.js';
import { ServiceTelemetry } from '../../src/telemetry.js';
import type { ClusterHost, FleetChannel, LeaseGrant, PartialDelivery, PublisherInfo, StateStore } from '../../src/cluster/api.js';
import type { MetricsBatch } from '../../src/model/metrics.js';
import { FleetOwner, type FleetAdapter } from '../../src/fleet/owner.js';
import { encodeEnvelope } from '../../src/fleet/wire.js';
import { waitFor } from '../harness/ports.js';

const P = 1000;

class Stream {
  msgs: Uint8Array[] = [];
  readers: Array<{ p: number; next: number; on: (d: PartialDelivery) => void; signal: AbortSignal }> = [];
  publish(pub: string, k: number, value: number, i = 0, n = 1): void {
    this.msgs.push(encodeEnvelope({ c: 'm', pub, from: 0, k, P, p: 0, i, n }, [JSON.stringify(value)]));
    this.pump();
  }
  pump(): void {
    for (const r of this.readers) {
      while (!r.signal.aborted && r.next <= this.msgs.length) {
        const seq = r.next++;
        r.on({ seq, data: this.msgs[seq - 1]!, pending: this.msgs.length - seq });
      }
    }
  }
}

function channel(stream: Stream, pubs: () => PublisherInfo[]): FleetChannel {
  return {
    id: 'm',
    announce: () => undefined,
    send: async () => undefined,
    publishers: pubs,
    read: (p, fromSeq, signal, on, caught) => {
      stream.readers.push({ p, next: fromSeq, on, signal });
      caught();
      stream.pump();
    },
    status: () => ({}),
    close: async () => undefined,
  };
}

function grant(kv: Map<string, Record<string, unknown>>, token: number): LeaseGrant {
  const ac = new AbortController();
  const store: StateStore = {
    load: async (k) => kv.get(k),
    save: async (k, f) => {
      kv.set(k, f);
    },
  };
  return {
    name: 'p.0',
    token,
    signal: ac.signal,
    valid: () => !ac.signal.aborted,
    check: async () => undefined,
    watermarks: () => {
      throw new Error('unused');
    },
    state: () => store,
    abort: () => ac.abort(),
  } as unknown as LeaseGrant;
}

function host(owned: Map<number, LeaseGrant>): ClusterHost {
  return {
    name: 'c',
    nodeId: 'n',
    instanceId: 'i',
    partitions: 1,
    lease: () => {
      throw new Error('unused');
    },
    ownedPartitions: () => owned,
    fleet: () => {
      throw new Error('unused');
    },
    report: () => undefined,
    status: () => ({}),
    health: () => ({ degraded: false }),
    readWatermark: async () => undefined,
  } as unknown as ClusterHost;
}

/** windows of one number each: the sum of the publishers' values */
const adapter: FleetAdapter<{ sum: number }> = {
  periodMs: P,
  latenessMs: 0,
  waitMs: 500,
  newWindow: () => ({ sum: 0 }),
  merge: (w, e) => {
    for (const x of e) w.sum += Number(x);
  },
  build: (k, w) =>
    ({
      resourceMetrics: [
        {
          resource: { attributes: {}, droppedAttributesCount: 0 },
          schemaUrl: '',
          scopeMetrics: [
            {
              scope: { name: 's', version: '', attributes: {}, droppedAttributesCount: 0 },
              schemaUrl: '',
              metrics: [
                {
                  kind: 'gauge',
                  name: `w${k}`,
                  description: '',
                  unit: '',
                  points: [{ attributes: {}, startTimeUnixNano: 0n, timeUnixNano: 0n, flags: 0, value: w.sum }],
                },
              ],
            },
          ],
        },
      ],
    }) as MetricsBatch,
};

function exported(out: MetricsBatch[]): Array<[string, number]> {
  return out.map((b) => {
    const m = b.resourceMetrics[0]!.scopeMetrics[0]!.metrics[0]!;
    return [m.name, Number((m.points[0] as { value: number }).value)];
  });
}

describe('FleetOwner: merge once, late and duplicate partials, takeover from the mark', () => {
  it('exports when every live publisher sent, else at the deadline; late and duplicate partials are counted, never merged', async () => {
    let now = 10 * P;
    const stream = new Stream();
    const kv = new Map<string, Record<string, unknown>>();
    const owned = new Map([[0, grant(kv, 1)]]);
    const pubs: PublisherInfo[] = [
      { node_id: 'a', instance: '1', from: 0, period: P },
      { node_id: 'b', instance: '1', from: 0, period: P },
    ];
    const out: MetricsBatch[] = [];
    const owner = new FleetOwner({
      id: 'm',
      cluster: host(owned),
      channel: channel(stream, () => pubs),
      adapter,
      deliver: async (b) => {
        out.push(b);
      },
      logger: silentLogger(),
      telemetry: new ServiceTelemetry(),
      now: () => now,
      tickMs: 10,
    });
    owner.start();
    try {
      stream.publish('a.1', 8, 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(out, 'b has not sent window 8 and its deadline (9.5 s) has not passed at 10 s? it has: exported').to.have.length(1);
      // (window 8's deadline 8*1000+1000+500 = 9500 < now: exported without b)
      expect(exported(out)).to.deep.equal([['w8', 1]]);
      expect(owner.counters.windows_without_all_publishers).to.equal(1);
      stream.publish('b.1', 8, 100); // late: never merged
      stream.publish('a.1', 9, 2);
      await new Promise((r) => setTimeout(r, 50));
      expect(out).to.have.length(1);
      expect(owner.counters.partials_late).to.equal(1);
      stream.publish('a.1', 9, 2); // a second copy (a resend past JetStream's duplicate window)
      stream.publish('b.1', 9, 20); // now complete: every live publisher sent
      await waitFor(() => out.length === 2, { timeoutMs: 2000, what: 'window 9 exported' });
      expect(exported(out)).to.deep.equal([
        ['w8', 1],
        ['w9', 22],
      ]);
      expect(owner.counters.partials_duplicate).to.equal(1);
      expect(kv.get('p0')).to.include({ exported: 9 });
      // window 10: a's partial only; the owner changes (its grant aborts) before the deadline
      now = 10.2 * P;
      stream.publish('a.1', 10, 3);
      await new Promise((r) => setTimeout(r, 50));
      expect(out).to.have.length(2);
      owner.stop();
      const out2: MetricsBatch[] = [];
      const owner2 = new FleetOwner({
        id: 'm',
        cluster: host(new Map([[0, grant(kv, 2)]])),
        channel: channel(stream, () => pubs),
        adapter,
        deliver: async (b) => {
          out2.push(b);
        },
        logger: silentLogger(),
        telemetry: new ServiceTelemetry(),
        now: () => now,
        tickMs: 10,
      });
      owner2.start();
      try {
        stream.publish('b.1', 10, 30);
        await waitFor(() => out2.length === 1, { timeoutMs: 2000, what: 'window 10 exported by the new owner' });
        // the new owner re-read window 10's partial of a from the stream (resume) and skipped windows 8 and 9 (exported), counting nothing late
        expect(exported(out2)).to.deep.equal([['w10', 33]]);
        expect(owner2.counters.partials_late).to.equal(0);
        expect(owner2.counters.partials_merged).to.equal(2);
      } finally {
        owner2.stop();
      }
    } finally {
      owner.stop();
    }
  });
});
