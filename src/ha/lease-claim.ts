/**
 * Winning a lease in the bucket, before anything is served: the compare-and-set over the
 * revision the view saw, checked with the bucket's leader before it is sent (a lease or a
 * holder's heartbeat the view has not shown yet) and read back after it was acknowledged (a
 * clustered JetStream can accept two compare-and-sets over one revision, see docs/replicas.md).
 * LeaseOwnership decides what to take and serves what is won.
 */
import type { Logger } from '../log.js';
import { sleep } from '../sleep.js';
import type { BucketSync } from './bucket-sync.js';
import type { Bucket } from './lease-ownership-interfaces.js';
import { leaseKey, LEGACY_READERS_TTL_MS, type Lease } from './lease-record.js';
import type { OwnershipView } from './ownership-view.js';

/**
 * A take is read back from the leader this long after it was sent, at least, before the
 * connection is served: a compare-and-set accepted alongside ours is applied within about
 * one more write's time.
 */
const TAKE_CHECK_MIN_MS = 50;
const TAKE_CHECK_WRITES = 2;
/** A slow leader (an election under way) must not hold a failover up for long. */
const TAKE_CHECK_MAX_MS = 1000;
/** Reads of the leader before a take that cannot be checked is given back. */
const TAKE_CHECK_ATTEMPTS = 3;

export type Claim =
  /** Ours, at `revision` (the leader's numbering); `previous`: the lease it was taken over. */
  | { readonly outcome: 'won'; readonly lease: Lease; readonly revision: number; readonly previous: Lease | undefined }
  /** Written, but the leader could not be read to check it: to be given back, not served. */
  | { readonly outcome: 'unchecked'; readonly lease: Lease; readonly revision: number }
  /** Not tried, refused, or another take stands: decide again. */
  | { readonly outcome: 'lost' };

export interface ClaimSettings {
  readonly replicaId: string;
  readonly instance: string;
}

export class LeaseClaims {
  constructor(
    private readonly bucket: Bucket,
    private readonly sync: BucketSync,
    private readonly view: OwnershipView,
    private readonly settings: ClaimSettings,
    private readonly log: Logger,
    private readonly clock: () => number,
  ) {}

  /** Writes a `taking` lease for `janusId` over what the view holds of it; `expired`: its holder went silent. */
  async claim(janusId: string, expired: boolean): Promise<Claim> {
    const seen = this.view.takeBasis(janusId);
    const { previous } = seen;
    // A key the view never saw written is created, which fails if it exists: no need to ask the leader first.
    const basis =
      seen.revision === undefined
        ? { revision: undefined }
        : await this.sync.leaderBasis(janusId, previous, expired).catch(() => 'unreachable' as const);
    if (typeof basis === 'string') {
      // The leader has another lease than the view showed, or the holder a newer heartbeat (now in the view), or
      // could not be read: decide again.
      this.log.debug({ janus_id: janusId, reason: basis }, 'ownership: take not tried');
      return { outcome: 'lost' };
    }
    const { revision } = basis;
    const from = previous && previous.instance !== this.settings.instance ? previous.replica : undefined;
    const lease: Lease = {
      replica: this.settings.replicaId,
      instance: this.settings.instance,
      session_id: previous?.session_id ?? null,
      since: new Date().toISOString(),
      state: 'taking',
      ttl_ms: LEGACY_READERS_TTL_MS,
      v: 2,
      ...(from ? { from } : {}),
    };
    const key = leaseKey(janusId);
    const sent = this.clock();
    let result = await this.sync.writeLease(janusId, () =>
      revision !== undefined ? this.bucket.update(key, lease, revision) : this.bucket.create(key, lease),
    );
    // The key may be gone meanwhile (an older bucket's max age removes leases and delete markers): then it is absent.
    if (!result.ok && result.conflict && revision !== undefined && !result.current)
      result = await this.sync.writeLease(janusId, () => this.bucket.create(key, lease));
    if (!result.ok) {
      this.log.debug({ janus_id: janusId, reason: result.reason }, 'ownership: take lost to another replica');
      return { outcome: 'lost' };
    }
    const stands = await this.stands(janusId, lease, result.revision, this.clock() - sent);
    if (stands === 'another') return { outcome: 'lost' };
    return stands === 'unchecked'
      ? { outcome: 'unchecked', lease, revision: result.revision }
      : { outcome: 'won', lease, revision: stands, previous };
  }

  /** A claim not to be served after all: `free` with its session (refused if another take was accepted after it). */
  async giveBack(janusId: string, claim: { lease: Lease; revision: number }): Promise<void> {
    await this.sync.writeLease(janusId, () =>
      this.bucket.update(leaseKey(janusId), { ...claim.lease, state: 'free' }, claim.revision),
    );
  }

  /**
   * Reads the leader a moment after our take was acknowledged, before we serve: another
   * compare-and-set over the same revision may have been accepted as well (BucketSync.takeStands).
   * The moment is long enough for a write proposed together with ours to have been applied.
   * Returns the revision our take stands at, 'another', or 'unchecked' (the leader could not be read).
   */
  private async stands(
    janusId: string,
    taken: Lease,
    revision: number,
    writeMs: number,
  ): Promise<number | 'another' | 'unchecked'> {
    const pause = Math.min(TAKE_CHECK_MAX_MS, Math.max(TAKE_CHECK_MIN_MS, TAKE_CHECK_WRITES * writeMs));
    for (let attempt = 1; attempt <= TAKE_CHECK_ATTEMPTS; attempt++) {
      await sleep(pause);
      const stands = await this.sync.takeStands(janusId, taken, revision).catch(() => undefined);
      if (typeof stands === 'number') return stands;
      if (stands === 'another') {
        this.log.warn({ janus_id: janusId, revision }, 'ownership: another take of this lease was accepted after ours');
        return 'another';
      }
    }
    this.log.warn(
      { janus_id: janusId, revision },
      'ownership: a take could not be checked with the leader; giving it back',
    );
    return 'unchecked';
  }
}
