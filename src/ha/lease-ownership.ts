/**
 * Several replicas, one owner per connection. Each replica watches the ownership bucket,
 * renews its heartbeat (the one write that keeps all its leases alive, whatever their
 * number), takes its fair share of the list with compare-and-set writes, hands connections
 * over without losing their session, and stops serving everything once it can no longer
 * prove it is alive.
 *
 * LeaseOwnership keeps the tick, the balance plan and the take and hand-over steps. What the
 * replica knows of the bucket is OwnershipView, kept true by BucketSync (the watch, reads from
 * the leader); winning a lease in the bucket is LeaseClaims; the heartbeat and the fence are
 * HeartbeatWriter; where each connection stands is in LeaseSlots (not held) and HeldLease
 * (held), whose methods are the only transitions; balances due before the next tick ring
 * BalanceAlarm.
 */
import type { ConnectionSpec } from '../connections/spec.js';
import type { Ownership } from '../connections/ownership.js';
import type { Logger } from '../log.js';
import { sleep } from '../sleep.js';
import { BalanceAlarm } from './balance-alarm.js';
import { describeLeft, fairShare, planBalance } from './balance.js';
import { BucketSync } from './bucket-sync.js';
import {
  DESIGNATED_FIRST_TICKS,
  designatedElsewhere as leftElsewhere,
  handOverTarget,
  leasesHeldBy,
  overdueAfterMs,
} from './designated-taker.js';
import { HeartbeatWriter } from './heartbeat.js';
import { HeldLease } from './held-lease.js';
import { LeaseClaims } from './lease-claim.js';
import { heartbeatKey, leaseKey, type Heartbeat, type Lease, type LeaseState } from './lease-record.js';
import { LeaseSlots } from './lease-slots.js';
import { OwnershipView, type SeenLease, type WatchedEntry } from './ownership-view.js';
import type { Bucket, ConnectionHost, LeaseMetrics, LeaseSettings, OwnerRow } from './lease-ownership-interfaces.js';

export type { Bucket, ConnectionHost, LeaseMetrics, LeaseSettings, OwnerRow } from './lease-ownership-interfaces.js';

/** Timer checks per TTL: fences are checked every tick. */
const TICKS_PER_TTL = 10;
/**
 * Heartbeat intervals an acknowledged heartbeat may stay unseen by the watch before the
 * watch is started again: its consumer may live on a node that died, and nats.js can take
 * 10 to 15 s to notice.
 */
const BLIND_WATCH_INTERVALS = 2;
/**
 * After its announcement, a replica waits this long before it takes anything: replicas started
 * together (a Deployment created, the benchmark) announce within a few hundred milliseconds
 * and first see each other, rather than one taking everything and handing most of it over.
 * Longer only delays every start: replicas that start further apart balance by hand-overs.
 */
const SETTLE_MS = 500;
/** What the view forgets, in TTLs without a write. */
const FORGET_AFTER_TTLS = 10;

export class LeaseOwnership implements Ownership {
  private readonly view: OwnershipView;
  private readonly sync: BucketSync;
  private readonly heartbeat: HeartbeatWriter;
  private listed = new Map<string, ConnectionSpec>();
  private readonly slots = new LeaseSlots();
  private leaving = false;
  private stopped = false;
  private ready = false;
  /** The heartbeat goes out once the first list is applied: a replica without a list has no room to offer. */
  private announced = false;
  /** No balancing before this: replicas started together first see each other's heartbeats. */
  private balanceFrom = Number.POSITIVE_INFINITY;
  private tickTimer: NodeJS.Timeout | undefined;
  /** Balances sooner than the next tick: after the settling time, at a silence, at the next taker's turn. */
  private readonly alarm: BalanceAlarm;
  private readonly claims: LeaseClaims;
  private balancing = false;
  private balanceAgain = false;
  /** The last debug line on what a balance left and why: written again only when it changes. */
  private leftSaid = '';
  private readonly tickMs: number;

  constructor(
    private readonly bucket: Bucket,
    private readonly host: ConnectionHost,
    private readonly settings: LeaseSettings,
    private readonly metrics: LeaseMetrics,
    private readonly log: Logger,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.view = new OwnershipView(settings.leaseTtlMs, settings.replicaId);
    this.heartbeat = new HeartbeatWriter(bucket, this.view, settings, metrics, log, clock);
    this.sync = new BucketSync(
      bucket,
      this.view,
      {
        entry: (entry) => this.onEntry(entry),
        ownLeaseAtLeader: (id, revision) => {
          const held = this.slots.held(id);
          if (held && !held.isFinished) held.leaderRevision(revision);
        },
      },
      {
        instance: settings.instance,
        restartAfterMs: BLIND_WATCH_INTERVALS * this.heartbeat.intervalMs,
        initTimeoutMs: Math.max(5000, settings.leaseTtlMs),
      },
      log,
      clock,
    );
    this.tickMs = Math.max(100, Math.floor(settings.leaseTtlMs / TICKS_PER_TTL));
    this.alarm = new BalanceAlarm(() => this.scheduleBalance(), clock);
    this.claims = new LeaseClaims(bucket, this.sync, this.view, settings, log, clock);
  }

  /** Connections this replica holds a lease on (serving, taking over or handing over). */
  get leasesHeld(): number {
    return this.slots.heldLeases().length;
  }

  /** Watches the bucket (resolving once its current content is known) and starts the timers. */
  async start(): Promise<void> {
    await this.sync.start();
    this.ready = true;
    const previous = this.view.liveReplicas(this.clock()).find((h) => h.replica === this.settings.replicaId);
    if (previous && previous.instance !== this.settings.instance) {
      this.log.warn(
        { replica: this.settings.replicaId, other_instance: previous.instance },
        'another process announced this replica id within the lease TTL: a previous run of this replica, or a second ' +
          'process with the same ha.replicaId',
      );
    }
    this.tickTimer = setInterval(() => this.tick(), this.tickMs);
  }

  /** NATS came back: the watch may have missed changes, so it starts again from the bucket's content. */
  resync(): void {
    this.sync.restart();
    this.scheduleBalance();
  }

  async offer(list: readonly ConnectionSpec[]): Promise<void> {
    this.listed = new Map(list.map((spec) => [spec.janusId, spec]));
    this.slots.keepOnly(new Set(this.listed.keys()));
    await this.applyListToHeld();
    for (const [id, held] of this.slots.heldLeases()) {
      if (this.listed.has(id)) continue;
      // Removed from the list: stopped with its session; nobody should take the lease (unless someone took it since).
      this.release(id, held);
      // A failed delete leaves a lease nobody serves: another replica's take (or the next list) deals with it.
      await this.bucket.delete(leaseKey(id), held.revision).catch(() => undefined);
    }
    if (!this.announced && !this.leaving) {
      this.announced = true;
      await this.heartbeat.write(false);
      const settle = Math.min(SETTLE_MS, this.settings.leaseTtlMs / 3);
      this.balanceFrom = this.clock() + settle;
      // Balanced as soon as it may, not at the next tick or watch entry (up to a tick later: 1 s by default).
      this.alarm.in(settle);
      this.log.info(
        {
          replica: this.settings.replicaId,
          instance: this.settings.instance,
          bucket: this.bucket.name,
          lease_ttl_ms: this.settings.leaseTtlMs,
        },
        'ownership: replica announced',
      );
    }
    this.scheduleBalance();
  }

  /**
   * Stops what left the list and restarts what moved, among the connections we serve. One
   * on the move keeps the spec it runs with; the new one applies once it serves again.
   */
  private async applyListToHeld(): Promise<void> {
    const running: ConnectionSpec[] = [];
    for (const [id, held] of this.slots.heldLeases()) {
      const listed = this.listed.get(id);
      if (!listed) continue;
      if (held.kind === 'serving') held.spec = listed;
      running.push(held.spec);
    }
    await this.host.applyList(running, (id) => this.slots.held(id)?.isFinished === false);
  }

  /** A connection that was on the move serves again: apply a list change that came meanwhile. */
  private async catchUpWithList(id: string): Promise<void> {
    const held = this.slots.held(id);
    const listed = this.listed.get(id);
    if (held && listed && listed !== held.spec) await this.applyListToHeld();
  }

  /** The ownership table as this replica sees it. */
  owners(): { bucket: string; replicas: Heartbeat[]; owners: OwnerRow[] } {
    const now = this.clock();
    const owners = this.view
      .allLeases()
      .filter(([, seen]) => this.view.leaseIsLive(seen, now))
      .map(([janusId, { lease }]) => ({
        janus_id: janusId,
        replica: lease.replica,
        instance: lease.instance,
        session_id: lease.session_id,
        since: lease.since,
        state: lease.state,
      }))
      .sort((a, b) => a.janus_id.localeCompare(b.janus_id));
    return { bucket: this.bucket.name, replicas: this.view.liveReplicas(now), owners };
  }

  /**
   * Shutdown: leaves the replica set, hands every connection over (or, when nobody takes
   * one in time, closes it keeping its session for the next owner), then stops.
   */
  async leave(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    // A taker slow to serve gets two hand-over timeouts; requests taken finish within the grace.
    const limit = sleep(2 * this.settings.handoverTimeoutMs + this.settings.requestGraceMs + 1000);
    // Still alive (its leases with it) until they are handed over, but out of the fair share.
    const leaveSet = this.announced ? this.heartbeat.write(true) : Promise.resolve();
    await Promise.race([leaveSet, limit]);
    this.scheduleBalance();
    const all = Promise.all(this.slots.heldLeases().map(([, held]) => held.finished));
    await Promise.race([all, limit]);
    this.stop();
    // Best effort on the way out: a heartbeat left behind goes silent and is counted dead.
    if (this.announced)
      await Promise.race([
        this.bucket.delete(heartbeatKey(this.settings.replicaId)).catch(() => undefined),
        sleep(1000),
      ]);
  }

  /** Stops timers and the watch; what is still held stays with the connections (the daemon stops them). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.tickTimer);
    this.alarm.stop();
    this.sync.stop();
  }

  private onEntry(entry: WatchedEntry): { stale?: true } {
    const applied = this.view.apply(entry, this.clock());
    const changed = applied.lease;
    if (changed !== undefined) {
      this.slots.leaseChanged(changed);
      const held = this.slots.held(changed);
      const seen = this.view.lease(changed);
      if (held && !held.isFinished && seen) this.heldLeaseChanged(changed, held, seen.lease, seen.revision);
    }
    this.scheduleBalance();
    return applied;
  }

  /** Someone wrote a lease we hold (or our own write shows up). */
  private heldLeaseChanged(id: string, held: HeldLease, lease: Lease, revision: number): void {
    if (lease.instance === this.settings.instance) {
      // Our own write, or one whose answer we missed: its revision is not taken from the watch, which may read a copy
      // numbered unlike the leader; a write refused over the old one reads the leader's (BucketSync).
      return;
    }
    if (held.kind !== 'releasing' && held.kind !== 'reclaiming')
      this.runDetached(this.dropLease(id, `lease taken by ${lease.replica}`));
    else if (lease.state === 'serving') this.runDetached(this.completeHandOver(id, lease.replica));
    // The taker gave it back (it could not reach Janus, or began to leave).
    else if (lease.state === 'free') this.runDetached(this.takerGaveUp(id, held, revision));
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.clock();
    this.view.prune(now, FORGET_AFTER_TTLS * this.settings.leaseTtlMs);
    for (const [id, held] of this.slots.heldLeases()) {
      const taker = this.takerOf(id, held);
      const moveStarted = held.moveStartedAt;
      if (taker && !this.view.leaseIsLive(taker, now)) {
        // The taker died before it served.
        this.runDetached(this.takerGaveUp(id, held, taker.revision));
      } else if (taker) {
        // We serve on until the taker serves, within bounds should it never get there.
        if (moveStarted !== undefined && now - moveStarted > 2 * this.settings.handoverTimeoutMs)
          this.runDetached(this.completeHandOver(id, taker.lease.replica));
      } else if (this.heartbeat.fenced(now)) {
        this.runDetached(this.dropLease(id, 'heartbeat not renewed in time (NATS unreachable?)'));
      } else if (
        held.kind === 'releasing' &&
        moveStarted !== undefined &&
        now - moveStarted > this.settings.handoverTimeoutMs
      ) {
        this.runDetached(this.releaseTimedOut(id, held));
      } else if (
        (held.kind === 'serving' || held.kind === 'releasing') &&
        held.writesInFlight === 0 &&
        differs(this.desiredLease(id, held), held.lease)
      ) {
        // A write that failed (or a session Janus replaced since) is written again; taking and reclaiming write their
        // own.
        this.runDetached(this.write(id, held));
      }
    }
    const blind = this.sync.blind(now);
    if (this.announced && (this.heartbeat.due(now, this.tickMs) || this.heartbeat.blindChanged(blind)))
      this.runDetached(this.heartbeat.write(this.leaving, blind));
    this.sync.checkWatch(now);
    this.scheduleBalance();
  }

  /** While we release a connection: the lease as another replica (the taker) wrote it, if it did. */
  private takerOf(id: string, held: HeldLease): SeenLease | undefined {
    if (held.kind !== 'releasing' && held.kind !== 'reclaiming') return undefined;
    const seen = this.view.lease(id);
    return seen && seen.lease.instance !== this.settings.instance ? seen : undefined;
  }

  /** Lets a step of the protocol run on without waiting for it; a failure is logged, never left unhandled. */
  private runDetached(step: Promise<unknown>): void {
    // With its stack: a failed step is a bug to find, not a condition to expect.
    step.catch((err: unknown) => this.log.error({ err }, 'ownership: step failed'));
  }

  /** What the lease of a connection we hold should say now (`state` overrides its own). */
  private desiredLease(id: string, held: HeldLease, state?: LeaseState): Lease {
    // The session may have been replaced since (Janus expired it): the next owner claims the current one.
    const session = this.host.sessionOf(id) ?? held.lease.session_id;
    const wanted = state ?? held.leaseState;
    // Only a releasing lease names a taker.
    const { to: _named, ...lease } = held.lease;
    const to = wanted === 'releasing' ? held.releaseTo : undefined;
    return { ...lease, session_id: session, state: wanted, ...(to !== undefined ? { to } : {}) };
  }

  /**
   * Writes a lease we hold over its last revision, saying what its state is (or `state`,
   * when given) at the moment the write runs: a write that failed is thus repeated by the
   * tick. One write at a time per lease (HeldLease's chain).
   */
  private async write(id: string, held: HeldLease, state?: LeaseState): Promise<boolean> {
    const result = await held.write(async () => {
      const lease = this.desiredLease(id, held, state);
      return {
        lease,
        result: await this.sync.writeLease(id, () => this.bucket.update(leaseKey(id), lease, held.revision)),
      };
    });
    if (!result || result.ok) return result?.ok ?? false;
    if (!result.conflict) {
      this.log.warn({ janus_id: id, reason: result.reason }, 'ownership: lease not written');
      return false;
    }
    // Someone wrote it since: a taker while we hand it over, or our own write whose answer we missed
    // (it timed out, yet the server applied it). The watch (or a read from the leader) tells which; the fence bounds
    // the wait.
    const seen = this.view.lease(id);
    if (seen && seen.revision > held.revision && !held.isFinished)
      this.heldLeaseChanged(id, held, seen.lease, seen.revision);
    return false;
  }

  /** A replica's heartbeat reaches its TTL of silence before the next tick: balance then. */
  private balanceAtNextSilence(now: number): void {
    const at = this.view.nextSilence(now);
    if (at !== undefined && at - now < this.tickMs) this.alarm.in(at - now);
  }

  private scheduleBalance(): void {
    if (!this.ready || this.stopped) return;
    const now = this.clock();
    if (!this.leaving && now < this.balanceFrom) {
      this.alarm.in(this.balanceFrom - now);
      return;
    }
    if (this.balancing) {
      this.balanceAgain = true;
      return;
    }
    this.balancing = true;
    // After the I/O callbacks of this turn: a burst of watch entries makes one balance, not one each.
    setImmediate(() => {
      try {
        this.balance();
      } finally {
        this.balancing = false;
        if (this.balanceAgain) {
          this.balanceAgain = false;
          this.scheduleBalance();
        }
      }
    });
  }

  private balance(): void {
    const now = this.clock();
    this.balanceAtNextSilence(now);
    // Nothing is taken before our heartbeat is written: others would see the new lease's holder as dead.
    if (this.heartbeat.fenced(now) && !this.leaving) {
      // Nothing waits for a turn meanwhile: our heartbeat, once written, comes back through the watch and balances.
      this.sayOnChange('fenced', {}, 'ownership: not balancing until our heartbeat is written');
      return;
    }
    const live = new Set(this.view.sharingReplicas(now).map((h) => h.replica));
    if (this.leaving) live.delete(this.settings.replicaId);
    else live.add(this.settings.replicaId);
    const held = this.slots.heldLeases();
    const inState = (...kinds: string[]): string[] =>
      held.filter(([, lease]) => kinds.includes(lease.kind)).map(([id]) => id);
    const takeReason = (id: string) => this.view.takeReason(id, this.settings.instance, now);
    for (const id of this.listed.keys()) {
      const why = this.slots.kindOf(id) === 'held' ? undefined : takeReason(id);
      this.slots.seenUnserved(id, why === 'free' || why === 'expired', now);
    }
    let leftToAnother = false;
    const self = { replica: this.settings.replicaId, instance: this.settings.instance };
    // A blind replica is out of the others' sharing set, so it comes after them in every ranking, as they see it.
    const ranked = this.sync.blind(now) ? new Set([...live].filter((r) => r !== self.replica)) : live;
    const designatedElsewhere = (id: string): boolean => {
      const seen = this.view.lease(id);
      const candidate = {
        janusId: id,
        why: takeReason(id),
        lease: seen?.lease,
        leaseSeenForMs: seen ? now - seen.seenAt : 0,
        unservedForMs: this.slots.unservedFor(id, now),
      };
      const elsewhere = leftElsewhere(candidate, self, ranked, this.designatedFirstMs);
      leftToAnother ||= elsewhere;
      return elsewhere;
    };
    const plan = planBalance({
      listed: [...this.listed.keys()],
      held: new Set([...inState('serving', 'taking'), ...this.slots.claiming()]),
      releasing: new Set(inState('releasing', 'reclaiming')),
      leftAlone: new Set([...this.listed.keys()].filter((id) => this.slots.isLeftAlone(id, now))),
      liveReplicas: Math.max(1, live.size),
      leaving: this.leaving,
      tieBreak: this.settings.instance,
      takeReason,
      // Our own lease that we do not serve (dropped at a fence) is ours to take back whatever the share: nobody else
      // may take it while our heartbeat lives. The share is restored by hand-overs after.
      // A dead owner's connection is taken beyond the share after everyone's turn (its designated taker may not see
      // the owner dead yet); a free one after a TTL, so that replicas started together, whose takes are still on their
      // way, do not take beyond their share and hand it back.
      overdue: (id) =>
        this.view.lease(id)?.lease.instance === this.settings.instance ||
        this.slots.unservedFor(id, now) >=
          (takeReason(id) === 'expired'
            ? overdueAfterMs(id, self.replica, ranked, this.designatedFirstMs, this.settings.leaseTtlMs)
            : this.settings.leaseTtlMs),
      designatedElsewhere,
    });
    if (plan.release.length > 0) {
      const others = [...live].filter((replica) => replica !== this.settings.replicaId);
      const standing = this.view
        .allLeases()
        .filter(([, seen]) => seen.lease.state !== 'free' && this.view.leaseIsLive(seen, now))
        .map(([, seen]) => seen.lease);
      const held = leasesHeldBy(others, standing);
      const share = fairShare(this.listed.size, Math.max(1, live.size));
      for (const id of plan.release) this.runDetached(this.startRelease(id, handOverTarget(id, held, share)));
    }
    for (const id of plan.take) this.runDetached(this.take(id));
    if (this.log.isLevelEnabled('debug')) {
      const left = describeLeft(plan.left);
      this.sayOnChange(
        left,
        { left, blind: this.sync.blind(now), sharing: [...ranked].sort() },
        'ownership: takeable connections left',
      );
    }
    // Left to another replica, or unserved and not ours yet: the turns of designatedElsewhere and overdueAfterMs pass
    // in steps of designatedFirstMs, sooner than the next tick.
    const waiting =
      leftToAnother ||
      [...this.listed.keys()].some((id) => this.slots.isUnserved(id) && this.slots.kindOf(id) === 'none');
    if (waiting) this.alarm.in(this.designatedFirstMs);
  }

  /** Why a balance took nothing or left takeable connections, in the debug log when that changes ('' says nothing). */
  private sayOnChange(said: string, fields: Record<string, unknown>, message: string): void {
    if (said === this.leftSaid) return;
    this.leftSaid = said;
    if (said) this.log.debug(fields, message);
  }

  private get designatedFirstMs(): number {
    return DESIGNATED_FIRST_TICKS * this.tickMs;
  }

  private async take(id: string): Promise<void> {
    if (!this.listed.has(id) || !this.slots.startClaim(id, this.clock())) return;
    try {
      const why = this.view.takeReason(id, this.settings.instance, this.clock());
      const claim = await this.claims.claim(id, why === 'expired');
      // Lost: waited out by the `finally` below, as every claim that ends without a lease.
      if (claim.outcome === 'lost') return;
      const spec = this.listed.get(id);
      if (this.stopped || this.leaving || !spec || claim.outcome === 'unchecked') {
        // Leaving, or no longer listed, since the take began, or the take could not be checked: give it straight back,
        // so that a lease nobody serves does not wait for us.
        this.slots.claimWithdrawn(id);
        await this.claims.giveBack(id, claim);
        return;
      }
      const { lease, previous } = claim;
      const from = lease.from;
      const held = new HeldLease(spec, lease, claim.revision);
      this.slots.claimed(id, held);
      this.log.info(
        { janus_id: id, from: from ?? null, session_id: lease.session_id, reason: why },
        'ownership: lease taken',
      );
      // A hand-over only moves a connection whose new owner reaches Janus; a failover takes it anyway.
      const served = await this.host.serve(spec, lease.session_id ?? undefined, why !== 'releasing');
      if (held.isFinished) return;
      if (!served.ready && why === 'releasing' && previous) {
        await this.giveBack(id, held, previous, 'Janus not reachable within ha.handoverTimeout');
        return;
      }
      held.served();
      const session = served.sessionId ?? lease.session_id;
      this.log.info({ janus_id: id, session_id: session, replica: this.settings.replicaId }, 'serving');
      // This write is what tells the old owner to close its WebSocket (a failed one is repeated by the tick).
      await this.write(id, held);
      await this.catchUpWithList(id);
      if (from && !held.isFinished) {
        this.host.ownerChanged(id, { old_replica: from, new_replica: this.settings.replicaId, session_id: session });
        if (why === 'expired') this.metrics.failover();
        else this.metrics.handOver('taken');
      }
    } finally {
      // A claim that ended without a lease (lost, or an exception) is tried again a tick later.
      this.slots.claimLost(id, this.clock() + this.tickMs);
      this.scheduleBalance();
    }
  }

  private async startRelease(id: string, to: string | undefined): Promise<void> {
    const held = this.slots.held(id);
    if (!held || !held.startRelease(this.clock(), to)) return;
    const stopRelay = await this.host.prepareHandOver(id);
    if (!held.relayListening(stopRelay)) {
      stopRelay();
      return;
    }
    this.log.info({ janus_id: id, leaving: this.leaving, to: to ?? null }, 'ownership: handing over');
    await this.write(id, held);
    // What follows comes from the watch (a taker serves) or from the tick (nobody took it in time).
  }

  private async completeHandOver(id: string, to: string): Promise<void> {
    const held = this.slots.held(id);
    if (!held || held.isFinished) return;
    await this.stopServing(id, held, { reason: `handed over to ${to}` }, 'info', async () => {
      await this.host.handOver(id, to);
      this.metrics.handOver('given');
    });
  }

  /** Nobody took a connection we release. */
  private async releaseTimedOut(id: string, held: HeldLease): Promise<void> {
    if (this.leaving) {
      // Close it keeping the session, and tell the next owner which session to claim. A conflict means a taker came:
      // the watch finishes.
      if (await this.write(id, held, 'free'))
        await this.dropLease(id, 'shutting down; no replica took the connection over', this.settings.requestGraceMs);
      return;
    }
    // Keep it; the state changes only once the lease says so, since a taker may still come first.
    if (!(await this.write(id, held, 'serving')) || held.kind !== 'releasing') return;
    held.keep(this.restUntil());
    this.log.info({ janus_id: id }, 'ownership: nobody took the connection; keeping it');
    await this.catchUpWithList(id);
  }

  /**
   * A take from a releasing owner that could not get ready: stop, and write the lease back
   * as the owner had it (it still serves, and carries on from that revision).
   */
  private async giveBack(id: string, held: HeldLease, owner: Lease, reason: string): Promise<void> {
    await this.stopServing(
      id,
      held,
      { reason, back_to: owner.replica },
      'warn',
      async () => {
        await this.host.drop(id, reason, 0);
        await this.sync.writeLease(id, () => this.bucket.update(leaseKey(id), owner, held.revision));
      },
      this.restUntil(),
    );
  }

  /** After a move that failed, this replica leaves the connection alone until then. */
  private restUntil(): number {
    return this.clock() + 3 * this.settings.handoverTimeoutMs;
  }

  /**
   * While we released it, the taker gave the lease back or died before serving: keep serving it, or let it go if we
   * leave.
   */
  private async takerGaveUp(id: string, held: HeldLease, revision: number): Promise<void> {
    if (this.leaving) {
      await this.dropLease(
        id,
        'shutting down; the replica taking the connection over gave up',
        this.settings.requestGraceMs,
      );
      return;
    }
    if (!held.startReclaim()) return;
    // Serving again: the lease no longer names a taker.
    const lease = this.desiredLease(id, held, 'serving');
    const result = await this.sync.writeLease(id, () => this.bucket.update(leaseKey(id), lease, revision));
    if (!result.ok) {
      held.reclaimFailed();
      return;
    }
    if (!held.reclaimed(lease, result.revision, this.restUntil())) return;
    this.log.info({ janus_id: id }, 'ownership: the taker gave the connection back; keeping it');
    await this.catchUpWithList(id);
  }

  /** Stops serving, keeping the session (another replica may claim it). */
  private async dropLease(id: string, reason: string, graceMs = 0): Promise<void> {
    const held = this.slots.held(id);
    if (!held || held.isFinished) return;
    await this.stopServing(id, held, { reason }, 'warn', () => this.host.drop(id, reason, graceMs));
  }

  /**
   * Finishes `held` at once (nothing else may act on it), logs why, runs `stop`, then lets
   * the slot go (resting until `restUntil` when given).
   */
  private async stopServing(
    id: string,
    held: HeldLease,
    why: Record<string, string>,
    level: 'info' | 'warn',
    stop: () => Promise<void>,
    restUntil?: number,
  ): Promise<void> {
    if (!held.finish()) return;
    this.log[level]({ janus_id: id, replica: this.settings.replicaId, ...why }, 'stopped serving');
    try {
      await stop();
    } finally {
      held.settle();
      this.slots.released(id, held, restUntil);
      this.scheduleBalance();
    }
  }

  /** Lets a lease go without stopping anything here (the list keeper stops the connection). */
  private release(id: string, held: HeldLease): void {
    held.finish();
    held.settle();
    this.slots.released(id, held);
    this.scheduleBalance();
  }
}

/** Whether a lease must be written again to say `wanted`. */
function differs(wanted: Lease, written: Lease): boolean {
  return wanted.state !== written.state || wanted.session_id !== written.session_id;
}
