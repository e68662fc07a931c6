/**
 * What this replica knows of the bucket, built from its watch: every lease and heartbeat
 * with its revision and when it was last seen written. A replica is dead when its heartbeat
 * has not been seen written for a lease TTL *while the bucket took writes*: this replica's
 * own heartbeat writes are the evidence, and at least WRITABLE_ROUNDS of them must have
 * succeeded since. So a JetStream leader election (nobody can write for a few seconds) never
 * makes another replica look dead. An own write counts only once the watch has delivered it:
 * the watch then has delivered every write made before it, so a replica whose watch went
 * blind (its consumer on a node that died) gathers no evidence while it sees nothing.
 * A version 2 lease lives while its holder's heartbeat
 * does; a version 1 lease (an older release) while it is renewed.
 *
 * A key's revision only grows on the stream's leader, but a watch reads whichever copy of the
 * stream its consumer lives on, and a copy on a node that was cut off or restarted can be
 * behind: a restarted watch may replay a lease as it was before the last take. So the view
 * never goes back: an entry older than what is known of its key (from the watch, from our own
 * acknowledged writes, or from the leader's answer to a refused write) is stale and ignored.
 * Pure: time comes in as an argument.
 */
import type { TakeReason } from './balance.js';
import {
  decodeHeartbeat,
  decodeLease,
  heartbeatKey,
  leaseKey,
  parseKey,
  type Heartbeat,
  type Lease,
} from './lease-record.js';

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

/** A version 1 lease is never trusted to live longer than this without a renewal. */
const LONGEST_V1_TTL_MS = 120_000;
/**
 * A heartbeat is never trusted to live longer than this without a renewal: the longest
 * `ha.leaseTtl` a replica can run with. A row with a larger `ttl_ms` (written by hand, or by
 * a hostile client) would otherwise keep a replica that does not exist in every fair share.
 */
const LONGEST_HEARTBEAT_TTL_MS = 300_000;

/** How to write a lease we take: over the revision we saw, or as a new key. */
export type TakeBasis =
  { revision: number; previous: Lease | undefined } | { revision: undefined; previous: Lease | undefined };

/** Heartbeat writes whose two revisions (acknowledged, watched) are kept for comparison. */
const NUMBERING_KEPT = 16;

/** Own successful writes since a heartbeat was last seen before its writer counts as dead (see above). */
export const WRITABLE_ROUNDS = 3;

export class OwnershipView {
  /**
   * When this replica's heartbeat writes, acknowledged and seen through the watch, were sent
   * (the last WRITABLE_ROUNDS).
   */
  private readonly ownWrites: number[] = [];
  /** Acknowledged heartbeat writes the watch has not delivered yet, oldest first. */
  private readonly unseenOwnWrites: Array<{ revision: number; sentAt: number }> = [];
  /** Our heartbeat writes by number (Heartbeat.n): the revision the leader acknowledged, the one the watch showed. */
  private readonly ownNumbering = new Map<number, { acked?: number; watched?: number }>();
  /** Since when the watch has shown one of our heartbeats at another revision than the leader acknowledged. */
  private numberingDiffersSince: number | undefined;
  /** Per key, the highest revision known to exist: older entries are stale. */
  private readonly revisions = new Map<string, number>();
  /** Per lease key, a revision the leader said exists (a refused write) that the watch has not delivered yet. */
  private readonly owed = new Map<string, { revision: number; since: number }>();
  private readonly leases = new Map<string, SeenLease>();
  /** Deleted lease keys: the revision of the delete, for a compare-and-set create. */
  private readonly deleted = new Map<string, { revision: number; seenAt: number }>();
  private readonly heartbeats = new Map<string, SeenHeartbeat>();

  constructor(
    private readonly ttlMs: number,
    /** This replica's id: its own heartbeats seen through the watch are the evidence that the bucket takes writes. */
    private readonly ownReplica?: string,
  ) {}

  /**
   * Takes one watch entry (or one read from the leader); returns the janus_id of a lease it
   * changed, if any, or `stale` when the entry is older than what the view knows of its key.
   */
  apply(entry: WatchedEntry, now: number): { lease?: string; heartbeat?: string; stale?: true } {
    const key = parseKey(entry.key);
    if (key.kind === 'other') return {};
    if (entry.revision < (this.revisions.get(entry.key) ?? 0)) return { stale: true };
    this.revisions.set(entry.key, entry.revision);
    this.owed.delete(entry.key);
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
    const heartbeat = removed ? undefined : decodeHeartbeat(entry.value);
    const known = this.heartbeats.get(key.replica);
    const seenAt = known?.revision === entry.revision ? known.seenAt : now;
    if (heartbeat) this.heartbeats.set(key.replica, { heartbeat, revision: entry.revision, seenAt });
    else this.heartbeats.delete(key.replica);
    if (heartbeat && key.replica === this.ownReplica) {
      if (heartbeat.n !== undefined) this.compareNumbering(heartbeat.n, { watched: entry.revision }, now);
      // A copy numbered unlike the leader proves nothing about what was written before.
      if (this.numberingDiffersSince === undefined) this.ownWriteSeen(entry.revision);
    }
    return { heartbeat: key.replica };
  }

  lease(janusId: string): SeenLease | undefined {
    return this.leases.get(janusId);
  }

  /** The bucket acknowledged one of this replica's heartbeat writes; it counts once the watch delivers it. */
  ownWriteAcknowledged(sentAt: number, revision: number, n?: number): void {
    // Not a floor for the watch: our earlier heartbeats it delivers still count as seen.
    this.unseenOwnWrites.push({ revision, sentAt });
    if (n !== undefined) this.compareNumbering(n, { acked: revision }, sentAt);
  }

  /**
   * The same heartbeat write at two revisions, the leader's and the watch's: the watch reads a
   * copy of the stream that numbers messages differently (nats-server 2.9 has left copies so
   * after a partition or a restart). Revisions from that copy mean nothing next to the leader's.
   */
  private compareNumbering(n: number, seen: { acked?: number; watched?: number }, now: number): void {
    const both = { ...this.ownNumbering.get(n), ...seen };
    this.ownNumbering.set(n, both);
    if (this.ownNumbering.size > NUMBERING_KEPT) this.ownNumbering.delete(this.ownNumbering.keys().next().value!);
    if (both.acked !== undefined && both.watched !== undefined && both.acked !== both.watched)
      this.numberingDiffersSince ??= now;
  }

  /** Since when the watch has read a copy of the stream numbered otherwise than the leader, if it has. */
  watchNumberingDiffers(): number | undefined {
    return this.numberingDiffersSince;
  }

  /**
   * The watch starts again on another copy: what was learnt of revisions from the one it read
   * (numbered otherwise than the leader) must not make the new copy's entries look stale.
   */
  forgetRevisions(): void {
    this.revisions.clear();
    // Evidence that the bucket takes writes came through that copy too: gathered again from the next one.
    this.ownWrites.length = 0;
    this.ownNumbering.clear();
    this.numberingDiffersSince = undefined;
  }

  /** The bucket acknowledged our write of `key` at `revision`: anything older the watch delivers is stale. */
  written(key: string, revision: number): void {
    if (revision > (this.revisions.get(key) ?? 0)) this.revisions.set(key, revision);
  }

  /**
   * A write over `janusId`'s lease was refused: the bucket's leader has it at `revision`.
   * 'behind' when the view has not seen that revision: the watch is slow, or reads a copy of the
   * stream that is behind; a watch that never delivers it must start again. 'ahead' when the
   * view has a later revision than the leader: it read a copy that differs (nats-server 2.9 can
   * leave a restarted node's copy so); the leader's numbering is taken as the truth from now on.
   * Either way the key is best read from the leader.
   */
  leaderHas(janusId: string, revision: number, now: number): 'ahead' | 'behind' | undefined {
    const key = leaseKey(janusId);
    const known = this.leases.get(janusId)?.revision ?? this.deleted.get(janusId)?.revision ?? 0;
    if (known > revision) {
      this.revisions.set(key, revision);
      this.owed.delete(key);
      return 'ahead';
    }
    if (known === revision) return undefined;
    if (!this.owed.has(key)) this.owed.set(key, { revision, since: now });
    this.written(key, revision);
    return 'behind';
  }

  /**
   * Since when the watch owes a write it should have delivered (our own acknowledged heartbeat,
   * or a lease revision the bucket told of): a watch that is blind or reads a stale copy shows here.
   */
  oldestUnseenWrite(): number | undefined {
    let oldest = this.unseenOwnWrites[0]?.sentAt;
    for (const { since } of this.owed.values()) if (oldest === undefined || since < oldest) oldest = since;
    return oldest;
  }

  private ownWriteSeen(revision: number): void {
    while (this.unseenOwnWrites.length > 0 && this.unseenOwnWrites[0]!.revision <= revision)
      this.ownWriteSucceeded(this.unseenOwnWrites.shift()!.sentAt);
  }

  /** One of this replica's heartbeat writes succeeded and the watch has delivered everything written before it. */
  ownWriteSucceeded(sentAt: number): void {
    this.ownWrites.push(sentAt);
    if (this.ownWrites.length > WRITABLE_ROUNDS) this.ownWrites.shift();
  }

  /**
   * Silent for `ttlMs` of time in which the bucket took writes: longer ago than the TTL, and
   * this replica wrote successfully at least WRITABLE_ROUNDS times since.
   */
  private silentFor(seenAt: number, ttlMs: number, now: number): boolean {
    if (now - seenAt <= ttlMs) return false;
    const oldest = this.ownWrites.length >= WRITABLE_ROUNDS ? this.ownWrites[0]! : undefined;
    return oldest !== undefined && oldest > seenAt;
  }

  private heartbeatIsLive(seen: SeenHeartbeat, now: number): boolean {
    return !this.silentFor(seen.seenAt, this.heartbeatTtl(seen), now);
  }

  /** Ours, or the writer's when longer (replicas may run with different ha.leaseTtl), within bounds. */
  private heartbeatTtl(seen: SeenHeartbeat): number {
    return Math.max(this.ttlMs, Math.min(seen.heartbeat.ttl_ms, LONGEST_HEARTBEAT_TTL_MS));
  }

  /**
   * Whether the lease's holder is alive: for a version 2 lease, its heartbeat (the same
   * instance) is live; for a version 1 lease, the lease itself was renewed within the TTL
   * (ours, or the writer's when longer: replicas may run with different ha.leaseTtl).
   */
  leaseIsLive(seen: SeenLease, now: number): boolean {
    if (seen.lease.v !== 2)
      return !this.silentFor(seen.seenAt, Math.max(this.ttlMs, Math.min(seen.lease.ttl_ms, LONGEST_V1_TTL_MS)), now);
    const heartbeat = this.heartbeats.get(seen.lease.replica);
    return (
      heartbeat !== undefined &&
      heartbeat.heartbeat.instance === seen.lease.instance &&
      this.heartbeatIsLive(heartbeat, now)
    );
  }

  /** Replicas whose heartbeat is live, leaving ones included. */
  liveReplicas(now: number): Heartbeat[] {
    return [...this.heartbeats.values()].filter((h) => this.heartbeatIsLive(h, now)).map((h) => h.heartbeat);
  }

  /**
   * The next moment a live replica's heartbeat will have been silent for its TTL (after `now`),
   * when its leases may become takeable: balancing then, not at the next tick, keeps a failover
   * within the TTL and a few milliseconds.
   */
  nextSilence(now: number): number | undefined {
    let next: number | undefined;
    for (const [replica, seen] of this.heartbeats) {
      if (replica === this.ownReplica) continue;
      const at = seen.seenAt + this.heartbeatTtl(seen) + 1;
      if (at > now && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  /** Live replicas that count in the fair share: not leaving, not blind. */
  sharingReplicas(now: number): Heartbeat[] {
    return this.liveReplicas(now).filter((h) => !h.leaving && !h.blind);
  }

  /**
   * Forgets what has not been written for `ageMs` (much longer than any TTL): pods come
   * and go with new names, and the session of a lease that old cannot be claimed anyway.
   */
  prune(now: number, ageMs: number): void {
    // A lease is not rewritten while nothing changes: it stays known while its holder lives.
    for (const [id, seen] of this.leases)
      if (now - seen.seenAt > ageMs && !this.leaseIsLive(seen, now))
        this.forget(leaseKey(id), () => this.leases.delete(id));
    for (const [replica, seen] of this.heartbeats)
      if (now - seen.seenAt > ageMs) this.forget(heartbeatKey(replica), () => this.heartbeats.delete(replica));
    for (const [id, deleted] of this.deleted)
      if (now - deleted.seenAt > ageMs) this.forget(leaseKey(id), () => this.deleted.delete(id));
    for (const [key, { since }] of this.owed) if (now - since > ageMs) this.owed.delete(key);
  }

  private forget(key: string, remove: () => void): void {
    remove();
    this.revisions.delete(key);
  }

  /** Whether, and why, a connection this instance does not serve could be taken now. */
  takeReason(janusId: string, instance: string, now: number): TakeReason | undefined {
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
    return deleted !== undefined
      ? { revision: deleted.revision, previous: undefined }
      : { revision: undefined, previous: undefined };
  }

  /** Every lease, for `<prefix>.admin.owners`. */
  allLeases(): Array<[string, SeenLease]> {
    return [...this.leases.entries()];
  }
}
