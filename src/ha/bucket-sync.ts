/**
 * Keeps this replica's view of the ownership bucket true. The watch feeds it; a watch that does
 * not deliver what the bucket is known to hold (our acknowledged heartbeat, a revision a refused
 * write told of) is started again; and every lease write's answer corrects it: an acknowledged
 * revision makes older entries stale, and a refused write reads the key from the stream's
 * leader rather than wait for a watch that may read a copy that is behind, or numbers
 * differently (nats-server 2.9 has left restarted nodes' copies so).
 */
import type { Logger } from '../log.js';
import { BucketWatch } from './bucket-watch.js';
import type { WriteResult } from './lease-bucket.js';
import type { Bucket } from './lease-ownership-interfaces.js';
import { decodeLease, heartbeatKey, leaseKey, type Lease } from './lease-record.js';
import type { OwnershipView, WatchedEntry } from './ownership-view.js';

export interface BucketSyncHandlers {
  /** One entry for the view, from the watch or read from the leader; says whether it was stale. */
  entry(entry: WatchedEntry): { stale?: true };
  /** The leader holds our own write of this lease at `revision`: the next write goes over it. */
  ownLeaseAtLeader(janusId: string, revision: number): void;
}

export interface BucketSyncSettings {
  /** This process: a lease it wrote is its own. */
  readonly instance: string;
  /** At most one watch restart this often; a write unseen this long restarts the watch. */
  readonly restartAfterMs: number;
  /** How long the current values may take to arrive before the watch is started again. */
  readonly initTimeoutMs: number;
}

export class BucketSync {
  private readonly watch: BucketWatch;
  private lastRestart = 0;
  private stopped = false;
  /** Leases being read from the bucket's leader. */
  private readonly reading = new Set<string>();

  constructor(
    private readonly bucket: Bucket,
    private readonly view: OwnershipView,
    private readonly handlers: BucketSyncHandlers,
    private readonly settings: BucketSyncSettings,
    private readonly log: Logger,
    private readonly clock: () => number,
  ) {
    this.watch = new BucketWatch(bucket, (entry) => void handlers.entry(entry), log, settings.initTimeoutMs);
  }

  /** Resolves once the bucket's current content has been delivered. */
  start(): Promise<void> {
    return this.watch.start();
  }

  /** From the bucket's current content again (NATS came back: the watch may have missed changes). */
  restart(): void {
    this.watch.restart();
  }

  stop(): void {
    this.stopped = true;
    this.watch.stop();
  }

  /**
   * Our acknowledged heartbeat, or a lease revision a refused write told of, has not come back
   * through the watch in time: the watch sees nothing, or a stale copy of the bucket; start it again.
   */
  checkWatch(now: number): void {
    const differsSince = this.view.watchNumberingDiffers();
    if (differsSince !== undefined && this.restartWatch(now, { reason: 'its copy numbers messages unlike the leader' }))
      return;
    const unseenSince = this.view.oldestUnseenWrite();
    if (unseenSince === undefined || now - unseenSince < this.settings.restartAfterMs) return;
    this.restartWatch(now, { unseen_for_ms: Math.round(now - unseenSince) });
  }

  /**
   * The watch has owed us a write for longer than `restartAfterMs`, or reads a copy numbered
   * unlike the leader: this replica cannot tell who is dead (see Heartbeat.blind).
   */
  blind(now: number): boolean {
    const unseenSince = this.view.oldestUnseenWrite();
    return (
      this.view.watchNumberingDiffers() !== undefined ||
      (unseenSince !== undefined && now - unseenSince >= this.settings.restartAfterMs)
    );
  }

  /**
   * What a take writes over, as the leader has it. The view may come from a copy of the stream
   * that numbers messages unlike the leader (nats-server 2.9 has left copies so): a
   * compare-and-set over its revision could then match another replica's newer write on the
   * leader, and two replicas would both take one lease (seen in the cluster test). So the key is
   * read from the leader first: its revision is used when its lease is the one the view shows
   * (same holder, state and session), and anything else goes into the view, the leader's
   * numbering winning over the view's, and ends the take.
   */
  async leaderBasis(
    janusId: string,
    seen: Lease | undefined,
    expired = false,
  ): Promise<{ revision: number | undefined } | 'differs' | 'holder lives'> {
    const entry = await this.bucket.read(leaseKey(janusId));
    // Never written: a create, which fails if anyone writes the key first.
    if (!entry) return { revision: undefined };
    const atLeader = entry.operation === 'PUT' ? decodeLease(entry.value) : undefined;
    if (sameLease(atLeader, seen))
      return expired && seen && (await this.holderLives(janusId, seen)) ? 'holder lives' : { revision: entry.revision };
    if (this.stopped) return 'differs';
    // A view ahead of the leader read a differing copy: without this the leader's entry would look stale, and the
    // watch, still on that copy, is started again (as after a refused write).
    const now = this.clock();
    if (this.view.leaderHas(janusId, entry.revision, now) === 'ahead')
      this.restartWatch(now, { janus_id: janusId, leader_revision: entry.revision, reason: 'a take read the leader' });
    this.handlers.entry(entry);
    return 'differs';
  }

  /**
   * Whether the holder of a lease the view counts as expired has written a heartbeat the view
   * has not seen. The view may be behind (its watch slow or reading a copy that is behind): a
   * holder back from a fence writes its heartbeat, then takes its own lease back; a replica
   * that took it as expired at the same moment has been accepted too (nats-server's
   * compare-and-set is not serializable under a leader change, nats-io/nats-server#8469).
   */
  private async holderLives(janusId: string, holder: Lease): Promise<boolean> {
    if (holder.v !== 2 || !(await this.readHeartbeat(holder.replica))) return false;
    const seen = this.view.lease(janusId);
    return seen !== undefined && this.view.leaseIsLive(seen, this.clock());
  }

  /**
   * The revision at which the leader has our take (`taken`, acknowledged at `revision`), read a
   * moment after the acknowledgement; 'another' when it has another lease. Two compare-and-sets
   * over one revision can both be accepted (the server bug above): the later one is the lease,
   * and the earlier taker must not serve. Our own record at another revision is still ours (a
   * new leader may number otherwise). Anything else the leader has goes into the view.
   */
  async takeStands(janusId: string, taken: Lease, revision: number): Promise<number | 'another'> {
    const entry = await this.bucket.read(leaseKey(janusId));
    if (entry?.revision === revision) return revision;
    const atLeader = entry?.operation === 'PUT' ? decodeLease(entry.value) : undefined;
    if (entry && atLeader?.instance === taken.instance && atLeader.since === taken.since && atLeader.state === 'taking')
      return entry.revision;
    if (entry && !this.stopped) this.handlers.entry(entry);
    return 'another';
  }

  /** Reads a replica's heartbeat from the leader into the view; says whether there was one. */
  private async readHeartbeat(replica: string): Promise<boolean> {
    const heartbeat = await this.bucket.read(heartbeatKey(replica));
    if (!heartbeat || this.stopped) return false;
    this.handlers.entry(heartbeat);
    return true;
  }

  /** Runs one lease write and learns from its answer. */
  async writeLease(janusId: string, write: () => Promise<WriteResult>): Promise<WriteResult> {
    const result = await write();
    if (result.ok) this.view.written(leaseKey(janusId), result.revision);
    else if (result.conflict) this.writeRefused(janusId, result.current);
    return result;
  }

  /** A lease write was refused: the leader has the key at `current`. Whatever the view says, the key is read again. */
  private writeRefused(janusId: string, current: number | undefined): void {
    const now = this.clock();
    const seen = this.view.lease(janusId)?.revision;
    const standing = current !== undefined ? this.view.leaderHas(janusId, current, now) : undefined;
    this.log.debug(
      { janus_id: janusId, leader_revision: current, seen_revision: seen },
      'ownership: lease write refused; reading the lease from the leader',
    );
    if (standing === 'ahead')
      this.restartWatch(now, { janus_id: janusId, leader_revision: current, seen_revision: seen });
    void this.readFromLeader(janusId);
  }

  /** Reads a lease from the bucket's leader, and its holder's heartbeat, into the view as if the watch had. */
  private async readFromLeader(janusId: string): Promise<void> {
    if (this.reading.has(janusId)) return;
    this.reading.add(janusId);
    try {
      const entry = await this.bucket.read(leaseKey(janusId));
      if (!entry || this.stopped || this.handlers.entry(entry).stale) return;
      const lease = this.view.lease(janusId)?.lease;
      if (lease?.instance === this.settings.instance) this.handlers.ownLeaseAtLeader(janusId, entry.revision);
      // Without its holder's heartbeat the view would count a live holder dead.
      else if (lease?.v === 2) await this.readHeartbeat(lease.replica);
    } catch (err) {
      this.log.debug(
        { janus_id: janusId, err: (err as Error).message },
        'ownership: cannot read a lease from the leader',
      );
    } finally {
      this.reading.delete(janusId);
    }
  }

  /**
   * Starts the watch again, at most once per `restartAfterMs`; says whether it did. When the
   * watch read a copy numbered unlike the leader, the revisions learnt from it are forgotten.
   */
  private restartWatch(now: number, why: Record<string, unknown>): boolean {
    if (now - this.lastRestart < this.settings.restartAfterMs) return false;
    this.lastRestart = now;
    this.log.warn(why, 'ownership: the bucket watch has not delivered what the bucket holds; starting it again');
    if (this.view.watchNumberingDiffers() !== undefined) this.view.forgetRevisions();
    this.watch.restart();
    return true;
  }
}

/** The same lease as far as a take is concerned: holder, state and session (or both absent). */
function sameLease(a: Lease | undefined, b: Lease | undefined): boolean {
  if (!a || !b) return a === b;
  return a.instance === b.instance && a.replica === b.replica && a.state === b.state && a.session_id === b.session_id;
}
