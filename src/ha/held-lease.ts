/**
 * One lease this replica holds, and its life: one explicit state, changed only by the
 * methods below (each refuses a move its state does not allow, and says so by returning
 * false), and the one chain its writes go through, in order.
 *
 *   taking ──served──▶ serving ──startRelease──▶ releasing ──relayListening──▶ releasing (relay)
 *                        ▲  ▲                        │  ▲                          │
 *                        │  └─────────keep───────────┘  └──────reclaimFailed───────┤
 *                        └──────────reclaimed────────── reclaiming ◀──startReclaim─┘
 *   any state ──finish──▶ finished ──settle──▶ finished (connection stopped, relay closed)
 */
import type { ConnectionSpec } from '../connections/spec.js';
import type { WriteResult } from './lease-bucket.js';
import type { Lease, LeaseState } from './lease-record.js';

export type HeldState =
  /** The lease is ours; the connection is starting (claiming the session). */
  | { readonly kind: 'taking' }
  /** We answer requests. `restUntil`: a move that failed; no new one before then. */
  | { readonly kind: 'serving'; readonly restUntil?: number }
  /**
   * We want another replica to take it and serve on until one does. Until the relay (which
   * passes answers owed to our requests back to us) listens, the lease still says serving.
   */
  | { readonly kind: 'releasing'; readonly since: number; readonly to?: string; readonly stopRelay?: () => void }
  /** The taker gave the lease back (or died before serving): we write it back to us. */
  | { readonly kind: 'reclaiming'; readonly since: number; readonly stopRelay?: () => void }
  /**
   * No longer ours: nothing may act on it any more. Its connection is being stopped; the
   * relay, if any, listens until settle() says the connection is gone.
   */
  | { readonly kind: 'finished'; readonly stopRelay?: () => void; readonly settled: boolean };

export type HeldKind = HeldState['kind'];

export class HeldLease {
  private current: HeldState = { kind: 'taking' };
  /** What we last wrote, and its revision. */
  private written: { lease: Lease; revision: number };
  private chain: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private markFinished: () => void = () => {};
  /** Resolves once the lease is finished and its connection stopped (settle()). */
  readonly finished: Promise<void>;

  constructor(
    public spec: ConnectionSpec,
    lease: Lease,
    revision: number,
  ) {
    this.written = { lease, revision };
    this.finished = new Promise((resolve) => {
      this.markFinished = resolve;
    });
  }

  get state(): HeldState {
    return this.current;
  }

  get kind(): HeldKind {
    return this.current.kind;
  }

  get isFinished(): boolean {
    return this.current.kind === 'finished';
  }

  get lease(): Lease {
    return this.written.lease;
  }

  get revision(): number {
    return this.written.revision;
  }

  /** When the release (or the reclaim that followed it) began, if one is under way. */
  get moveStartedAt(): number | undefined {
    const state = this.current;
    return state.kind === 'releasing' || state.kind === 'reclaiming' ? state.since : undefined;
  }

  /** A move of ours that failed keeps this lease where it is until then. */
  restingAt(now: number): boolean {
    const state = this.current;
    return state.kind === 'serving' && state.restUntil !== undefined && state.restUntil > now;
  }

  /** What the lease should say in the bucket now. */
  get leaseState(): LeaseState {
    const state = this.current;
    if (state.kind === 'taking') return 'taking';
    // 'releasing' only once the relay listens: a taker may claim the session as soon as the lease says so.
    if (state.kind === 'releasing' && state.stopRelay) return 'releasing';
    return 'serving';
  }

  served(): boolean {
    return this.move('taking', { kind: 'serving' });
  }

  /** `to`: the replica we hand it to (the lease names it; others leave it to that one for a moment). */
  startRelease(now: number, to?: string): boolean {
    return this.move('serving', { kind: 'releasing', since: now, ...(to !== undefined ? { to } : {}) });
  }

  /** While the lease says releasing: the replica it names as the taker. */
  get releaseTo(): string | undefined {
    const state = this.current;
    return state.kind === 'releasing' ? state.to : undefined;
  }

  relayListening(stopRelay: () => void): boolean {
    const state = this.current;
    if (state.kind !== 'releasing' || state.stopRelay) return false;
    this.current = { ...state, stopRelay };
    return true;
  }

  /** The release did not happen (nobody took it in time): serving again, no move before `restUntil`. */
  keep(restUntil: number): boolean {
    const state = this.current;
    if (state.kind !== 'releasing') return false;
    state.stopRelay?.();
    this.current = { kind: 'serving', restUntil };
    return true;
  }

  startReclaim(): boolean {
    const state = this.current;
    if (state.kind !== 'releasing') return false;
    this.current = {
      kind: 'reclaiming',
      since: state.since,
      ...(state.stopRelay ? { stopRelay: state.stopRelay } : {}),
    };
    return true;
  }

  /** The lease is ours again (written back): serving, no move before `restUntil`. */
  reclaimed(lease: Lease, revision: number, restUntil: number): boolean {
    const state = this.current;
    if (state.kind !== 'reclaiming') return false;
    state.stopRelay?.();
    this.written = { lease, revision };
    this.current = { kind: 'serving', restUntil };
    return true;
  }

  /** Writing it back failed: still releasing, as before. */
  reclaimFailed(): boolean {
    const state = this.current;
    if (state.kind !== 'reclaiming') return false;
    this.current = {
      kind: 'releasing',
      since: state.since,
      ...(state.stopRelay ? { stopRelay: state.stopRelay } : {}),
    };
    return true;
  }

  /**
   * The one way out; false when it was finished already. A relay keeps listening (answers
   * owed to us may still reach the taker while the connection closes) until settle().
   */
  finish(): boolean {
    const state = this.current;
    if (state.kind === 'finished') return false;
    const stopRelay = state.kind === 'releasing' || state.kind === 'reclaiming' ? state.stopRelay : undefined;
    this.current = { kind: 'finished', settled: false, ...(stopRelay ? { stopRelay } : {}) };
    return true;
  }

  /** Finished, and its connection stopped: the relay stops listening and `finished` resolves. */
  settle(): boolean {
    const state = this.current;
    if (state.kind !== 'finished' || state.settled) return false;
    state.stopRelay?.();
    this.current = { kind: 'finished', settled: true };
    this.markFinished();
    return true;
  }

  /** Writes queued or running: a repeat is queued only when none is. */
  get writesInFlight(): number {
    return this.queued;
  }

  /**
   * Runs `attempt` after the writes queued before it (one at a time per lease). `attempt`
   * returns the lease it wrote and the bucket's answer, or undefined when it wrote nothing;
   * a successful write becomes what the lease says.
   */
  write(attempt: () => Promise<{ lease: Lease; result: WriteResult } | undefined>): Promise<WriteResult | undefined> {
    this.queued++;
    const next = this.chain.then(async () => {
      if (this.isFinished) return undefined;
      const done = await attempt();
      if (done?.result.ok) this.written = { lease: done.lease, revision: done.result.revision };
      return done?.result;
    });
    // The chain only orders the writes: each caller gets its own write's outcome from `next`.
    this.chain = next
      .catch(() => undefined)
      .finally(() => {
        this.queued--;
      });
    return next;
  }

  /**
   * The bucket's leader holds our own write at `revision`: carry on from it, even below what we
   * had (taken from a watch on a copy of the stream that numbers differently).
   */
  leaderRevision(revision: number): void {
    this.written = { ...this.written, revision };
  }

  private move(from: HeldKind, to: HeldState): boolean {
    if (this.current.kind !== from) return false;
    this.current = to;
    return true;
  }
}
