/**
 * Fair shares: which connections a replica should take or hand over, given what it
 * holds, what is takeable and how many replicas are alive. Pure; LeaseOwnership acts.
 */
import { createHash } from 'node:crypto';

/** Why a connection another replica does not serve can be taken, in order of preference. */
export type TakeReason =
  /** Its owner is leaving or over its share and waits for a taker. */
  | 'releasing'
  /** Nobody owns it (never taken, or given up without a taker). */
  | 'free'
  /** Its owner stopped renewing it: dead or cut off. */
  | 'expired';

export interface BalanceInput {
  /** janus_ids of the connection list. */
  readonly listed: readonly string[];
  /** Connections this replica serves or is taking over. */
  readonly held: ReadonlySet<string>;
  /** Connections this replica is handing over. */
  readonly releasing: ReadonlySet<string>;
  /** Connections with a move of this replica under way: left alone. */
  readonly leftAlone: ReadonlySet<string>;
  /** Live replicas, this one included. */
  readonly liveReplicas: number;
  /** This replica is shutting down: it hands everything over and takes nothing. */
  readonly leaving: boolean;
  /** Spreads the choices of replicas that decide at the same moment. */
  readonly tieBreak: string;
  takeReason(janusId: string): TakeReason | undefined;
  /**
   * Nobody has served it for a while although it is takeable: replicas disagree on the
   * share (lists differ during a reload) or none has room. Taken beyond the share.
   */
  overdue(janusId: string): boolean;
  /** Another replica is the one to take it first (designated-taker.ts): left alone for now. */
  designatedElsewhere(janusId: string): boolean;
}

/** Why a takeable connection is not in `take`: said in the debug log, for runs that go wrong. */
export type LeftReason =
  /** Another replica has the first turn (designatedElsewhere). */
  | 'designated elsewhere'
  /** This replica is at its share and the connection is not overdue yet. */
  | 'at share';

export interface BalancePlan {
  readonly take: string[];
  readonly release: string[];
  /** Takeable connections left this time, and why. */
  readonly left: ReadonlyArray<{ readonly janusId: string; readonly why: LeftReason }>;
}

/** At most this many connections per replica: the list spread evenly, rounded up. */
export function fairShare(connections: number, liveReplicas: number): number {
  return Math.ceil(connections / Math.max(1, liveReplicas));
}

const PREFERENCE: readonly TakeReason[] = ['releasing', 'free', 'expired'];

export function planBalance(input: BalanceInput): BalancePlan {
  const listed = new Set(input.listed);
  const keeping = [...input.held].filter((id) => listed.has(id) && !input.releasing.has(id));
  if (input.leaving) return { take: [], release: keeping.filter((id) => !input.leftAlone.has(id)), left: [] };
  const share = fairShare(listed.size, input.liveReplicas);
  if (keeping.length > share) {
    const movable = byOrder(
      keeping.filter((id) => !input.leftAlone.has(id)),
      input.tieBreak,
    );
    return { take: [], release: movable.slice(0, keeping.length - share), left: [] };
  }
  const releasing = [...input.releasing].filter((id) => listed.has(id)).length;
  const room = Math.max(0, share - keeping.length - releasing);
  const candidates: Array<{ id: string; rank: number; order: string }> = [];
  const left: Array<{ janusId: string; why: LeftReason }> = [];
  for (const id of listed) {
    if (input.held.has(id) || input.releasing.has(id) || input.leftAlone.has(id)) continue;
    const why = input.takeReason(id);
    if (!why) continue;
    if (input.designatedElsewhere(id)) left.push({ janusId: id, why: 'designated elsewhere' });
    else candidates.push({ id, rank: PREFERENCE.indexOf(why), order: order(id, input.tieBreak) });
  }
  candidates.sort((a, b) => a.rank - b.rank || a.order.localeCompare(b.order));
  const within = candidates.slice(0, room).map((c) => c.id);
  // An unserved connection is worse than an unfair share: the share is restored later by a hand-over.
  const beyond: string[] = [];
  for (const c of candidates.slice(room)) {
    if (c.rank !== PREFERENCE.indexOf('releasing') && input.overdue(c.id)) beyond.push(c.id);
    else left.push({ janusId: c.id, why: 'at share' });
  }
  return { take: [...within, ...beyond], release: [], left };
}

/** Sorted by `order`, each id hashed once. */
function byOrder(ids: string[], tieBreak: string): string[] {
  return ids
    .map((id) => ({ id, order: order(id, tieBreak) }))
    .sort((a, b) => a.order.localeCompare(b.order))
    .map((e) => e.id);
}

/** A per-replica order, so that replicas balancing at once mostly reach for different connections. */
function order(id: string, tieBreak: string): string {
  return createHash('sha1').update(tieBreak).update('\0').update(id).digest('hex');
}

/**
 * The connections a plan left, grouped by why, at most `limit` ids a group: one line of the
 * debug log that says why an unserved connection was not taken, written when it changes.
 */
export function describeLeft(left: BalancePlan['left'], limit = 20): string {
  const groups = new Map<LeftReason, string[]>();
  for (const { janusId, why } of left) {
    const ids = groups.get(why);
    if (ids) ids.push(janusId);
    else groups.set(why, [janusId]);
  }
  return [...groups]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([why, ids]) => {
      const sorted = [...ids].sort();
      const shown = sorted.slice(0, limit).join(',') + (sorted.length > limit ? `,+${sorted.length - limit}` : '');
      return `${why} ${ids.length}: ${shown}`;
    })
    .join('; ');
}
