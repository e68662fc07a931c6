/**
 * Who should take a connection when several replicas could, so that they do not reach for
 * the same lease at the same moment. A compare-and-set decides between takers, but on a
 * clustered JetStream it is not serialisable: nats-server checks the expected revision before
 * the write goes through raft, so two updates over the same revision that arrive within a few
 * milliseconds can both be accepted (nats-io/nats-server#4320, in 2.9 up to 2.9.20; a
 * leader change can still do it later). Both takers then claim the Janus session, the last
 * claim wins the session's events, and the lease may say the other. Seen in the cluster test:
 * two replicas taking a dead replica's connection at the same TTL of silence.
 *
 * So each takeable lease has one designated taker: for a dead or absent owner, the live
 * replica that rendezvous hashing picks among those that share the load (every replica
 * computes the same from the same heartbeats); for a hand-over, the replica the owner names in
 * its lease (`to`). The others follow in the ranking's order, a moment (DESIGNATED_FIRST_TICKS) each: a
 * designated replica that is at its share, slow or dead does not strand it. Pure.
 */
import { createHash } from 'node:crypto';
import type { TakeReason } from './balance.js';
import type { Lease } from './lease-record.js';

/** Of a balancing tick: how long the others wait before they may take what is designated to another replica. */
export const DESIGNATED_FIRST_TICKS = 0.5;

/** The replicas in the order they may take `janusId` (rendezvous hashing): the first is its designated taker. */
export function takerRanking(janusId: string, replicas: Iterable<string>): string[] {
  const weighed = [...new Set(replicas)].map((replica) => ({
    replica,
    weight: createHash('sha1').update(replica).update('\0').update(janusId).digest('hex'),
  }));
  weighed.sort((a, b) => (a.weight !== b.weight ? (a.weight > b.weight ? -1 : 1) : a.replica < b.replica ? -1 : 1));
  return weighed.map(({ replica }) => replica);
}

/** The replica that takes `janusId` first among `replicas`, or undefined when there is none. */
export function designatedTaker(janusId: string, replicas: Iterable<string>): string | undefined {
  return takerRanking(janusId, replicas)[0];
}

/**
 * Whom a replica hands `janusId` over to: of the replicas that share the load (the giver
 * excluded, with the leases each holds), those below the fair `share` (all of them when none
 * is), one picked by rendezvous hashing, so that a giver of several connections spreads them.
 */
export function handOverTarget(janusId: string, held: ReadonlyMap<string, number>, share: number): string | undefined {
  const below = [...held].filter(([, count]) => count < share).map(([replica]) => replica);
  return designatedTaker(janusId, below.length > 0 ? below : held.keys());
}

/** What a replica knows of a connection it could take, for designatedElsewhere. */
export interface TakeCandidate {
  readonly janusId: string;
  readonly why: TakeReason | undefined;
  /** The lease as seen, if any, and how long ago its current revision was first seen. */
  readonly lease: Pick<Lease, 'instance' | 'to'> | undefined;
  readonly leaseSeenForMs: number;
  /** How long this replica has seen it free or expired. */
  readonly unservedForMs: number;
}

/**
 * Whether another replica is to take the candidate first: the one a releasing owner named, or
 * the one rendezvous hashing picks among the replicas that share the load (`sharing`) for a
 * connection nobody serves. Should that one not take it (it is at its share, slow, dead), the
 * next in the ranking may after `firstMs`, the one after that after twice that, and so on: two
 * replicas never become takers at the same moment. Our own lease (dropped at a fence) is ours
 * to take back: nobody else may while our heartbeat lives.
 */
export function designatedElsewhere(
  candidate: TakeCandidate,
  self: { readonly replica: string; readonly instance: string },
  sharing: Iterable<string>,
  firstMs: number,
): boolean {
  const { why, lease } = candidate;
  if (why === 'releasing') {
    const named = lease?.to;
    if (named === undefined || named === self.replica) return false;
    return candidate.leaseSeenForMs < (1 + rankOf(candidate.janusId, self.replica, sharing, named)) * firstMs;
  }
  if (why === undefined || lease?.instance === self.instance) return false;
  return candidate.unservedForMs < rankOf(candidate.janusId, self.replica, sharing) * firstMs;
}

/**
 * How long a connection must have been unserved before this replica takes it beyond its
 * share: once every sharing replica has had its turn (the designated ones may all be at
 * their share, or unable to take: blind, cut off), then again one at a time in the ranking's
 * order. Never longer than `longestMs` (a lease TTL).
 */
export function overdueAfterMs(
  janusId: string,
  self: string,
  sharing: ReadonlySet<string>,
  firstMs: number,
  longestMs: number,
): number {
  return Math.min(longestMs, (sharing.size + rankOf(janusId, self, sharing)) * firstMs);
}

/** Where `replica` stands in the ranking of `sharing` (without `except`); last when it does not share. */
function rankOf(janusId: string, replica: string, sharing: Iterable<string>, except?: string): number {
  const ranking = takerRanking(janusId, sharing).filter((other) => other !== except);
  const rank = ranking.indexOf(replica);
  return rank >= 0 ? rank : ranking.length;
}

/** How many of `leases` (those that count: live, not free) each replica of `others` holds, 0 for none. */
export function leasesHeldBy(others: Iterable<string>, leases: Iterable<Pick<Lease, 'replica'>>): Map<string, number> {
  const held = new Map<string, number>();
  for (const replica of others) held.set(replica, 0);
  for (const { replica } of leases) {
    const count = held.get(replica);
    if (count !== undefined) held.set(replica, count + 1);
  }
  return held;
}
