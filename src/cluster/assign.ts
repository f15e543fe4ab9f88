/**
 * Who should hold a lease (pure): rendezvous (highest random weight) hashing
 * over the live nodes that want it. Every node computes the same answer from
 * the same membership, and a join or leave moves only the leases whose
 * preferred node changed (about 1/n of them).
 */
import { createHash } from 'node:crypto';

function weight(lease: string, node: string): bigint {
  return createHash('sha256').update(lease).update('\0').update(node).digest().readBigUInt64BE(0);
}

/** The preferred holder of `lease` among `nodes` (undefined when none). */
export function preferredNode(lease: string, nodes: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestW = -1n;
  for (const n of nodes) {
    const w = weight(lease, n);
    if (w > bestW || (w === bestW && best !== undefined && n < best)) {
      best = n;
      bestW = w;
    }
  }
  return best;
}

export function partitionLease(p: number): string {
  return `p.${p}`;
}
