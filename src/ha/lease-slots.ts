/**
 * Where each connection of the list stands for this replica: held (see HeldLease), being
 * claimed, waiting to try a claim again, or resting after a move of ours that failed.
 * One state per janus_id, changed only by the methods below, which refuse what the state
 * does not allow. Also when each connection was first seen unserved, for the balance.
 * No I/O; time comes in as an argument.
 */
import type { HeldLease } from './held-lease.js';

export type Slot =
  /** Our compare-and-set of the lease is on its way: it counts against our share already. */
  | { readonly kind: 'claiming' }
  /** A claim was lost (another replica wrote first, or the write failed): not before `at`. */
  | { readonly kind: 'retrying'; readonly at: number }
  /** A move of ours failed (a take given back): leave it alone until `until`. */
  | { readonly kind: 'resting'; readonly until: number }
  | { readonly kind: 'held'; readonly lease: HeldLease };

export type SlotKind = Slot['kind'] | 'none';

export class LeaseSlots {
  private readonly slots = new Map<string, Slot>();
  private readonly unserved = new Map<string, number>();

  kindOf(id: string): SlotKind {
    return this.slots.get(id)?.kind ?? 'none';
  }

  held(id: string): HeldLease | undefined {
    const slot = this.slots.get(id);
    return slot?.kind === 'held' ? slot.lease : undefined;
  }

  /** Every lease we hold, finished ones excluded. */
  heldLeases(): Array<[string, HeldLease]> {
    const out: Array<[string, HeldLease]> = [];
    for (const [id, slot] of this.slots) if (slot.kind === 'held' && !slot.lease.isFinished) out.push([id, slot.lease]);
    return out;
  }

  claiming(): string[] {
    return [...this.slots].filter(([, slot]) => slot.kind === 'claiming').map(([id]) => id);
  }

  /** Left alone by the balance now: a claim under way or waiting, a rest, a move of a held lease. */
  isLeftAlone(id: string, now: number): boolean {
    const slot = this.slots.get(id);
    if (!slot) return false;
    if (slot.kind === 'claiming') return true;
    if (slot.kind === 'retrying') return slot.at > now;
    if (slot.kind === 'resting') return slot.until > now;
    const lease = slot.lease;
    return lease.kind !== 'serving' || lease.restingAt(now);
  }

  /** none, a retry that is due, or a rest that is over → claiming. */
  startClaim(id: string, now: number): boolean {
    const slot = this.slots.get(id);
    const free =
      !slot || (slot.kind === 'retrying' && slot.at <= now) || (slot.kind === 'resting' && slot.until <= now);
    if (!free) return false;
    this.slots.set(id, { kind: 'claiming' });
    return true;
  }

  /** claiming → retrying. */
  claimLost(id: string, retryAt: number): boolean {
    if (this.slots.get(id)?.kind !== 'claiming') return false;
    this.slots.set(id, { kind: 'retrying', at: retryAt });
    return true;
  }

  /** claiming → none: the claim was given straight back (leaving, or no longer listed). */
  claimWithdrawn(id: string): boolean {
    if (this.slots.get(id)?.kind !== 'claiming') return false;
    this.slots.delete(id);
    return true;
  }

  /** claiming → held. */
  claimed(id: string, lease: HeldLease): boolean {
    if (this.slots.get(id)?.kind !== 'claiming') return false;
    this.slots.set(id, { kind: 'held', lease });
    this.unserved.delete(id);
    return true;
  }

  /** The lease changed in the bucket: a waiting claim may be tried at once. */
  leaseChanged(id: string): void {
    if (this.slots.get(id)?.kind === 'retrying') this.slots.delete(id);
  }

  /** held (finished) → none, or resting until `restUntil`. */
  released(id: string, lease: HeldLease, restUntil?: number): boolean {
    const slot = this.slots.get(id);
    if (slot?.kind !== 'held' || slot.lease !== lease || !lease.isFinished) return false;
    if (restUntil !== undefined) this.slots.set(id, { kind: 'resting', until: restUntil });
    else this.slots.delete(id);
    return true;
  }

  /** Forgets what concerns ids no longer listed (held ones are stopped by their own path). */
  keepOnly(listed: ReadonlySet<string>): void {
    for (const [id, slot] of this.slots)
      if (!listed.has(id) && slot.kind !== 'held' && slot.kind !== 'claiming') this.slots.delete(id);
    for (const id of this.unserved.keys()) if (!listed.has(id)) this.unserved.delete(id);
  }

  /** Another replica could take it and nobody serves it: noted the first time. */
  seenUnserved(id: string, unserved: boolean, now: number): void {
    if (!unserved) this.unserved.delete(id);
    else if (!this.unserved.has(id)) this.unserved.set(id, now);
  }

  isUnserved(id: string): boolean {
    return this.unserved.has(id);
  }

  unservedFor(id: string, now: number): number {
    const since = this.unserved.get(id);
    return since === undefined ? 0 : now - since;
  }
}
