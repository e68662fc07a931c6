/**
 * What this replica knows of the bucket, built from its watch: every lease and heartbeat
 * with its revision and when it was last seen written. The bucket's max age removes
 * what nobody renews without telling watchers, so "not seen for a lease TTL" is how
 * an expired lease or a dead replica shows. Pure: time comes in as an argument.
 */
import type { Takeable } from './balance.js';
import { decodeHeartbeat, decodeLease, parseKey, type Heartbeat, type Lease } from './lease-record.js';

export interface WatchedEntry {
  readonly key: string;
  readonly operation: 'PUT' | 'DEL' | 'PURGE';
  readonly value: Uint8Array;
  readonly revision: number;
}

export interface SeenLease {
  readonly lease: Lease;
  readonly revision: number;
  readonly seenAt: number;
}

interface SeenHeartbeat {
  readonly heartbeat: Heartbeat;
  readonly revision: number;
  readonly seenAt: number;
}

/** How to write a lease we take: over the revision we saw, or as a new key. */
export type TakeBasis = { revision: number; previous: Lease | undefined } | { revision: undefined; previous: Lease | undefined };

export class OwnershipView {
  private readonly leases = new Map<string, SeenLease>();
  /** Deleted lease keys: the revision of the delete, for a compare-and-set create. */
  private readonly deleted = new Map<string, { revision: number; seenAt: number }>();
  private readonly heartbeats = new Map<string, SeenHeartbeat>();

  constructor(private readonly ttlMs: number) {}

  /** Takes one watch entry; returns the janus_id of a lease it changed, if any. */
  apply(entry: WatchedEntry, now: number): { lease?: string; heartbeat?: string } {
    const key = parseKey(entry.key);
    const removed = entry.operation !== 'PUT';
    if (key.kind === 'lease') {
      const lease = removed ? undefined : decodeLease(entry.value);
      if (lease) {
        // A restarted watch replays the current values: an unchanged revision is no sign of life.
        const known = this.leases.get(key.janusId);
        const seenAt = known?.revision === entry.revision ? known.seenAt : now;
        this.leases.set(key.janusId, { lease, revision: entry.revision, seenAt });
        this.deleted.delete(key.janusId);
      } else {
        this.leases.delete(key.janusId);
        if (removed) this.deleted.set(key.janusId, { revision: entry.revision, seenAt: now });
      }
      return { lease: key.janusId };
    }
    if (key.kind === 'heartbeat') {
      const heartbeat = removed ? undefined : decodeHeartbeat(entry.value);
      const known = this.heartbeats.get(key.replica);
      const seenAt = known?.revision === entry.revision ? known.seenAt : now;
      if (heartbeat) this.heartbeats.set(key.replica, { heartbeat, revision: entry.revision, seenAt });
      else this.heartbeats.delete(key.replica);
      return { heartbeat: key.replica };
    }
    return {};
  }

  lease(janusId: string): SeenLease | undefined {
    return this.leases.get(janusId);
  }

  /** Renewed within the TTL: ours, or the writer's when longer (replicas may run with different ha.leaseTtl during an update). */
  leaseIsLive(seen: SeenLease, now: number): boolean {
    return now - seen.seenAt <= Math.max(this.ttlMs, seen.lease.ttl_ms);
  }

  /** Replicas whose heartbeat was renewed within the TTL. */
  liveReplicas(now: number): Heartbeat[] {
    return [...this.heartbeats.values()].filter((h) => now - h.seenAt <= Math.max(this.ttlMs, h.heartbeat.ttl_ms)).map((h) => h.heartbeat);
  }

  /**
   * Forgets what has not been written for `ageMs` (much longer than any TTL): pods come
   * and go with new names, and the session of a lease that old cannot be claimed anyway.
   */
  prune(now: number, ageMs: number): void {
    for (const [id, seen] of this.leases) if (now - seen.seenAt > ageMs) this.leases.delete(id);
    for (const [replica, seen] of this.heartbeats) if (now - seen.seenAt > ageMs) this.heartbeats.delete(replica);
    for (const [id, deleted] of this.deleted) if (now - deleted.seenAt > ageMs) this.deleted.delete(id);
  }

  /** Whether, and why, a connection this instance does not serve could be taken now. */
  takeable(janusId: string, instance: string, now: number): Takeable | undefined {
    const seen = this.leases.get(janusId);
    if (!seen) return 'free';
    // Our own lease, asked about only when we do not serve it (dropped while cut off from NATS): nobody serves it.
    if (seen.lease.instance === instance) return 'free';
    if (!this.leaseIsLive(seen, now)) return 'expired';
    if (seen.lease.state === 'free') return 'free';
    if (seen.lease.state === 'releasing') return 'releasing';
    return undefined;
  }

  /** What a take writes over. */
  takeBasis(janusId: string): TakeBasis {
    const seen = this.leases.get(janusId);
    if (seen) return { revision: seen.revision, previous: seen.lease };
    const deleted = this.deleted.get(janusId);
    return deleted !== undefined ? { revision: deleted.revision, previous: undefined } : { revision: undefined, previous: undefined };
  }

  /** Every lease, for `<prefix>.admin.owners`. */
  allLeases(): Array<[string, SeenLease]> {
    return [...this.leases.entries()];
  }
}
