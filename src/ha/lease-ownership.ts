/**
 * Several replicas, one owner per connection. Each replica watches the ownership bucket,
 * renews its heartbeat (the one write that keeps all its leases alive, whatever their
 * number), takes its fair share of the list with compare-and-set writes, hands connections
 * over without losing their session, and stops serving everything once it can no longer
 * prove it is alive.
 */
import type { ConnectionSpec } from '../connections/spec.js';
import type { Ownership } from '../connections/ownership.js';
import type { Logger } from '../log.js';
import { sleep } from '../sleep.js';
import { planBalance } from './balance.js';
import { BucketWatch } from './bucket-watch.js';
import { heartbeatKey, leaseKey, LEGACY_READERS_TTL_MS, type Heartbeat, type Lease, type LeaseState } from './lease-record.js';
import { OwnershipView, type SeenLease, type WatchedEntry } from './ownership-view.js';
import type { Bucket, ConnectionHost, LeaseMetrics, LeaseSettings, OwnerRow } from './ports.js';

export type { Bucket, ConnectionHost, LeaseMetrics, LeaseSettings, OwnerRow } from './ports.js';

type Phase = 'taking' | 'serving' | 'releasing';

/**
 * A holder stops serving when its last successful heartbeat write is this share of a TTL
 * old. Others take its leases only once its heartbeat has been silent for a whole TTL (of
 * time in which they could write), so the holder is gone (WebSocket closed) at least
 * (1 - FENCE_SHARE - 1 / TICKS_PER_TTL) TTL before.
 */
const FENCE_SHARE = 0.7;
/** Timer checks per TTL: fences are checked every tick. */
const TICKS_PER_TTL = 10;
/**
 * Heartbeats per TTL. Five (every 2 s with the default 10 s TTL) keep a replica within its
 * fence through a JetStream leader election (writes fail for 4–5 s, measured) that starts
 * just after a heartbeat.
 */
const HEARTBEATS_PER_TTL = 5;
/** What the view forgets, in TTLs without a write. */
const FORGET_AFTER_TTLS = 10;

interface Held {
  spec: ConnectionSpec;
  phase: Phase;
  /** What we last wrote. */
  lease: Lease;
  revision: number;
  writing: Promise<unknown>;
  /** Writes queued or running: a repeat is queued only when none is. */
  writesInFlight: number;
  releaseStarted?: number;
  stopRelay?: () => void;
  finishing?: boolean;
  /** Taking the lease back from a taker that gave up. */
  reclaiming?: boolean;
  finished: Promise<void>;
  finish: () => void;
}

export class LeaseOwnership implements Ownership {
  private readonly view: OwnershipView;
  private readonly watch: BucketWatch;
  private listed = new Map<string, ConnectionSpec>();
  private readonly held = new Map<string, Held>();
  /** Connections with a move of ours under way. */
  private readonly busy = new Set<string>();
  /** Takes whose compare-and-set is on its way: they count against the share already. */
  private readonly takesInFlight = new Set<string>();
  /** A take that failed is tried again after a tick, or when the lease changes. */
  private readonly retryTakeAt = new Map<string, number>();
  /** After a move that failed (a release nobody took, a take given back), this replica leaves the connection alone until then. */
  private readonly restUntil = new Map<string, number>();
  /** When we first saw a listed connection takeable and unserved. */
  private readonly unservedSince = new Map<string, number>();
  private leaving = false;
  private stopped = false;
  private ready = false;
  /** The heartbeat goes out once the first list is applied: a replica without a list has no room to offer. */
  private announced = false;
  /** No balancing before this: replicas started together first see each other's heartbeats. */
  private settleUntil = Number.POSITIVE_INFINITY;
  private tickTimer: NodeJS.Timeout | undefined;
  private lastHeartbeat = 0;
  /** When the last successful heartbeat write was sent: nobody may take our leases until a TTL after it. */
  private lastHeartbeatOk: number | undefined;
  private balancing = false;
  private balanceAgain = false;
  private readonly heartbeat: Heartbeat;
  private readonly tickMs: number;

  constructor(
    private readonly bucket: Bucket,
    private readonly host: ConnectionHost,
    private readonly settings: LeaseSettings,
    private readonly metrics: LeaseMetrics,
    private readonly log: Logger,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.view = new OwnershipView(settings.leaseTtlMs);
    this.watch = new BucketWatch(bucket, (entry) => this.onEntry(entry), log, Math.max(5000, settings.leaseTtlMs));
    this.heartbeat = { replica: settings.replicaId, instance: settings.instance, since: new Date().toISOString(), ttl_ms: settings.leaseTtlMs };
    this.tickMs = Math.max(100, Math.floor(settings.leaseTtlMs / TICKS_PER_TTL));
  }

  /** Connections this replica holds a lease on (serving, taking over or handing over). */
  get leasesHeld(): number {
    return this.held.size;
  }

  /** Watches the bucket (resolving once its current content is known) and starts the timers. */
  async start(): Promise<void> {
    await this.watch.start();
    this.ready = true;
    const previous = this.view.liveReplicas(this.clock()).find((h) => h.replica === this.settings.replicaId);
    if (previous && previous.instance !== this.settings.instance) {
      this.log.warn({ replica: this.settings.replicaId, other_instance: previous.instance },
        'another process announced this replica id within the lease TTL: a previous run of this replica, or a second process with the same ha.replicaId');
    }
    this.tickTimer = setInterval(() => this.tick(), this.tickMs);
  }

  /** NATS came back: the watch may have missed changes, so it starts again from the bucket's content. */
  resync(): void {
    this.watch.restart();
    this.scheduleBalance();
  }

  async offer(list: readonly ConnectionSpec[]): Promise<void> {
    this.listed = new Map(list.map((spec) => [spec.janusId, spec]));
    for (const times of [this.retryTakeAt, this.unservedSince]) for (const id of times.keys()) if (!this.listed.has(id)) times.delete(id);
    await this.applyListToHeld();
    for (const [id, held] of [...this.held]) {
      if (this.listed.has(id)) continue;
      // Removed from the list: stopped with its session; nobody should take the lease (unless someone took it since).
      this.forget(id, held);
      await this.bucket.delete(leaseKey(id), held.revision).catch(() => undefined);
    }
    if (!this.announced && !this.leaving) {
      this.announced = true;
      await this.writeHeartbeat();
      this.settleUntil = this.clock() + Math.min(1000, this.settings.leaseTtlMs / 3);
      this.log.info({ replica: this.settings.replicaId, instance: this.settings.instance, bucket: this.bucket.name, lease_ttl_ms: this.settings.leaseTtlMs }, 'ownership: replica announced');
    }
    this.scheduleBalance();
  }

  /**
   * Stops what left the list and restarts what moved, among the connections we serve. One
   * on the move keeps the spec it runs with; the new one applies once it serves again.
   */
  private async applyListToHeld(): Promise<void> {
    const settled = (id: string, held: Held): boolean => held.phase === 'serving' && !this.busy.has(id) && !held.finishing;
    const running = [...this.held].filter(([id]) => this.listed.has(id)).map(([id, held]) => (settled(id, held) ? this.listed.get(id)! : held.spec));
    for (const spec of running) this.held.get(spec.janusId)!.spec = spec;
    await this.host.applyList(running, (id) => {
      const held = this.held.get(id);
      return held !== undefined && !held.finishing;
    });
  }

  /** A connection that was on the move serves again: apply a list change that came meanwhile. */
  private async catchUpWithList(id: string): Promise<void> {
    const held = this.held.get(id);
    const listed = this.listed.get(id);
    if (held && listed && listed !== held.spec) await this.applyListToHeld();
  }

  /** The ownership table as this replica sees it. */
  owners(): { bucket: string; replicas: Heartbeat[]; owners: OwnerRow[] } {
    const now = this.clock();
    const owners = this.view.allLeases()
      .filter(([, seen]) => this.view.leaseIsLive(seen, now))
      .map(([janusId, { lease }]) => ({ janus_id: janusId, replica: lease.replica, instance: lease.instance, session_id: lease.session_id, since: lease.since, state: lease.state }))
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
    const leaveSet = this.announced ? this.writeHeartbeat() : Promise.resolve();
    await Promise.race([leaveSet, limit]);
    this.scheduleBalance();
    const all = Promise.all([...this.held.values()].map((held) => held.finished));
    await Promise.race([all, limit]);
    this.stop();
    if (this.announced) await Promise.race([this.bucket.delete(heartbeatKey(this.settings.replicaId)).catch(() => undefined), sleep(1000)]);
  }

  /** Stops timers and the watch; what is still held stays with the connections (the daemon stops them). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.tickTimer);
    this.watch.stop();
  }

  private onEntry(entry: WatchedEntry): void {
    const changed = this.view.apply(entry, this.clock()).lease;
    if (changed !== undefined) {
      this.retryTakeAt.delete(changed);
      const held = this.held.get(changed);
      const seen = this.view.lease(changed);
      if (held && !held.finishing && seen) this.heldLeaseChanged(changed, held, seen.lease, seen.revision);
    }
    this.scheduleBalance();
  }

  /** Someone wrote a lease we hold (or our own write shows up). */
  private heldLeaseChanged(id: string, held: Held, lease: Lease, revision: number): void {
    if (lease.instance === this.settings.instance) {
      // Our write whose answer we missed (it timed out, yet the server applied it): carry on from it.
      if (revision > held.revision) held.revision = revision;
      return;
    }
    if (held.phase !== 'releasing') this.background(this.dropLease(id, `lease taken by ${lease.replica}`));
    else if (lease.state === 'serving') this.background(this.completeHandOver(id, lease.replica));
    // The taker gave it back (it could not reach Janus, or began to leave).
    else if (lease.state === 'free') this.background(this.takerGaveUp(id, held, revision));
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.clock();
    this.view.prune(now, FORGET_AFTER_TTLS * this.settings.leaseTtlMs);
    for (const [id, held] of this.held) {
      if (held.finishing) continue;
      const taker = this.takerOf(id, held);
      if (taker && !this.view.leaseIsLive(taker, now)) {
        // The taker died before it served.
        this.background(this.takerGaveUp(id, held, taker.revision));
      } else if (taker) {
        // We serve on until the taker serves, within bounds should it never get there.
        if (now - held.releaseStarted! > 2 * this.settings.handoverTimeoutMs) this.background(this.completeHandOver(id, taker.lease.replica));
      } else if (this.fenced(now)) {
        this.background(this.dropLease(id, 'heartbeat not renewed in time (NATS unreachable?)'));
      } else if (held.phase === 'releasing' && now - held.releaseStarted! > this.settings.handoverTimeoutMs) {
        this.background(this.releaseTimedOut(id));
      }
    }
    if (this.announced && now - this.lastHeartbeat >= this.settings.leaseTtlMs / HEARTBEATS_PER_TTL) this.background(this.writeHeartbeat());
    for (const [id, held] of this.held) {
      // A write that failed (or a session Janus replaced since) is written again; a lease a taker holds is not ours to write.
      if (!held.finishing && held.writesInFlight === 0 && !this.takerOf(id, held) && differs(this.desiredLease(id, held), held.lease)) this.background(this.write(id));
    }
    this.scheduleBalance();
  }

  /** The one periodic write: it keeps every lease this replica holds alive, however many. */
  private async writeHeartbeat(): Promise<void> {
    const sent = this.clock();
    this.lastHeartbeat = sent;
    const record: Heartbeat = this.leaving ? { ...this.heartbeat, leaving: true } : this.heartbeat;
    const result = await this.bucket.put(heartbeatKey(this.settings.replicaId), record);
    this.metrics.renewal((this.clock() - sent) / 1000, result.ok);
    if (!result.ok) {
      this.log.warn({ reason: result.reason }, 'ownership: heartbeat not renewed');
      return;
    }
    this.lastHeartbeatOk = Math.max(this.lastHeartbeatOk ?? 0, sent);
    this.view.ownWriteSucceeded(sent);
  }

  /** Our heartbeat is too old for us to be sure nobody may take our leases: stop serving them. */
  private fenced(now: number): boolean {
    return this.lastHeartbeatOk === undefined || now - this.lastHeartbeatOk > this.settings.leaseTtlMs * FENCE_SHARE;
  }

  /** While we release a connection: the lease as another replica (the taker) wrote it, if it did. */
  private takerOf(id: string, held: Held): SeenLease | undefined {
    const seen = held.phase === 'releasing' ? this.view.lease(id) : undefined;
    return seen && seen.lease.instance !== this.settings.instance ? seen : undefined;
  }

  /** Runs a step of the protocol without waiting for it; a failure is logged, never left unhandled. */
  private background(step: Promise<unknown>): void {
    step.catch((err: Error) => this.log.error({ err: err.message }, 'ownership: step failed'));
  }

  /**
   * Writes a lease we hold over its last revision, saying what the connection's phase is
   * (or `state`, when given) at the moment the write runs: a write that failed is thus
   * repeated by the next renewal. One write at a time per lease.
   */
  private write(id: string, state?: LeaseState): Promise<boolean> {
    const held = this.held.get(id);
    if (!held) return Promise.resolve(false);
    held.writesInFlight++;
    const next = held.writing.then(async () => {
      if (this.held.get(id) !== held || held.finishing) return false;
      const lease = this.desiredLease(id, held, state);
      const result = await this.bucket.update(leaseKey(id), lease, held.revision);
      if (result.ok) {
        held.revision = result.revision;
        held.lease = lease;
        return true;
      }
      if (!result.conflict) {
        this.log.warn({ janus_id: id, reason: result.reason }, 'ownership: lease not renewed');
        return false;
      }
      // Someone wrote it since: a taker while we hand it over, or our own write whose answer we missed
      // (it timed out, yet the server applied it). The watch tells which; the fence bounds the wait.
      const seen = this.view.lease(id);
      if (seen && seen.revision > held.revision) this.heldLeaseChanged(id, held, seen.lease, seen.revision);
      return false;
    });
    held.writing = next.catch(() => false).finally(() => { held.writesInFlight--; });
    return next;
  }

  /** What the lease of a connection we hold should say now (`state` overrides its phase). */
  private desiredLease(id: string, held: Held, state?: LeaseState): Lease {
    // The session may have been replaced since (Janus expired it): the next owner claims the current one.
    const session = this.host.sessionOf(id) ?? held.lease.session_id;
    // 'releasing' only once the relay listens: a taker may claim the session as soon as the lease says so.
    const phase = held.phase === 'releasing' && !held.stopRelay ? 'serving' : held.phase;
    return { ...held.lease, session_id: session, state: state ?? phase };
  }

  private scheduleBalance(): void {
    if (!this.ready || this.stopped || (!this.leaving && this.clock() < this.settleUntil)) return;
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
    const live = new Set(this.view.sharingReplicas(now).map((h) => h.replica));
    if (this.leaving) live.delete(this.settings.replicaId);
    else live.add(this.settings.replicaId);
    const phases = (phase: Phase): string[] => [...this.held].filter(([, h]) => h.phase === phase && !h.finishing).map(([id]) => id);
    const waiting = (times: Map<string, number>): string[] => [...times].filter(([, at]) => at > now).map(([id]) => id);
    const takeable = (id: string) => this.view.takeable(id, this.settings.instance, now);
    for (const id of this.listed.keys()) {
      const why = this.held.has(id) ? undefined : takeable(id);
      const unserved = why === 'free' || why === 'expired';
      if (!unserved) this.unservedSince.delete(id);
      else if (!this.unservedSince.has(id)) this.unservedSince.set(id, now);
    }
    // Nothing is taken before our heartbeat is written: others would see the new lease's holder as dead.
    if (this.fenced(now)) return;
    const plan = planBalance({
      listed: [...this.listed.keys()],
      held: new Set([...phases('serving'), ...phases('taking'), ...this.takesInFlight]),
      releasing: new Set(phases('releasing')),
      busy: new Set([...this.busy, ...waiting(this.retryTakeAt), ...waiting(this.restUntil)]),
      liveReplicas: Math.max(1, live.size),
      leaving: this.leaving,
      tieBreak: this.settings.instance,
      takeable,
      overdue: (id) => now - (this.unservedSince.get(id) ?? now) >= this.settings.leaseTtlMs,
    });
    for (const id of plan.release) this.background(this.release(id));
    for (const id of plan.take) this.background(this.take(id));
  }

  private async take(id: string): Promise<void> {
    if (!this.listed.has(id) || this.busy.has(id) || this.held.has(id)) return;
    this.busy.add(id);
    this.takesInFlight.add(id);
    try {
      const why = this.view.takeable(id, this.settings.instance, this.clock());
      const { revision, previous } = this.view.takeBasis(id);
      const from = previous && previous.instance !== this.settings.instance ? previous.replica : undefined;
      const lease: Lease = {
        replica: this.settings.replicaId, instance: this.settings.instance, session_id: previous?.session_id ?? null,
        since: new Date().toISOString(), state: 'taking', ttl_ms: LEGACY_READERS_TTL_MS, v: 2, ...(from ? { from } : {}),
      };
      let result = revision !== undefined ? await this.bucket.update(leaseKey(id), lease, revision) : await this.bucket.create(leaseKey(id), lease);
      // The key we saw may be gone meanwhile (the bucket's max age removes leases and delete markers): then it is absent.
      if (!result.ok && result.conflict && revision !== undefined) result = await this.bucket.create(leaseKey(id), lease);
      if (!result.ok) {
        this.retryTakeAt.set(id, this.clock() + this.tickMs);
        this.log.debug({ janus_id: id, reason: result.reason }, 'ownership: take lost to another replica');
        return;
      }
      const spec = this.listed.get(id);
      if (this.stopped || this.leaving || !spec) {
        // Leaving, or no longer listed, since the take began: give it straight back.
        await this.bucket.update(leaseKey(id), { ...lease, state: 'free' }, result.revision);
        return;
      }
      let finish: () => void = () => {};
      const finished = new Promise<void>((resolve) => { finish = resolve; });
      const held: Held = { spec, phase: 'taking', lease, revision: result.revision, writing: Promise.resolve(), writesInFlight: 0, finished, finish };
      this.held.set(id, held);
      this.takesInFlight.delete(id);
      this.unservedSince.delete(id);
      this.log.info({ janus_id: id, from: from ?? null, session_id: lease.session_id, reason: why }, 'ownership: lease taken');
      // A hand-over only moves a connection whose new owner reaches Janus; a failover takes it anyway.
      const served = await this.host.serve(spec, lease.session_id ?? undefined, why !== 'releasing');
      if (this.held.get(id) !== held || held.finishing) return;
      if (!served.ready && why === 'releasing' && previous) {
        await this.giveBack(id, held, previous, 'Janus not reachable within ha.handoverTimeout');
        return;
      }
      held.phase = 'serving';
      const session = served.sessionId ?? lease.session_id;
      this.log.info({ janus_id: id, session_id: session, replica: this.settings.replicaId }, 'serving');
      // This write is what tells the old owner to close its WebSocket (a failed one is repeated by the renewals).
      await this.write(id);
      await this.catchUpWithList(id);
      if (from && this.held.get(id) === held) {
        this.host.ownerChanged(id, { old_replica: from, new_replica: this.settings.replicaId, session_id: session });
        if (why === 'expired') this.metrics.failover();
        else this.metrics.handOver('taken');
      }
    } finally {
      this.takesInFlight.delete(id);
      this.busy.delete(id);
      this.scheduleBalance();
    }
  }

  private async release(id: string): Promise<void> {
    const held = this.held.get(id);
    if (!held || held.phase !== 'serving' || held.finishing || this.busy.has(id)) return;
    this.busy.add(id);
    // Releasing from now on, for the balance; the lease says so once the relay listens.
    held.phase = 'releasing';
    held.releaseStarted = this.clock();
    held.stopRelay = await this.host.prepareHandOver(id);
    if (this.held.get(id) !== held || held.finishing) {
      held.stopRelay();
      return;
    }
    this.log.info({ janus_id: id, leaving: this.leaving }, 'ownership: handing over');
    await this.write(id);
    // What follows comes from the watch (a taker serves) or from the tick (nobody took it in time).
  }

  private async completeHandOver(id: string, to: string): Promise<void> {
    const held = this.held.get(id);
    if (!held || held.finishing) return;
    await this.stopServing(id, held, { reason: `handed over to ${to}` }, 'info', async () => {
      await this.host.handOver(id, to);
      this.metrics.handOver('given');
    });
  }

  /** Nobody took a connection we release. */
  private async releaseTimedOut(id: string): Promise<void> {
    const held = this.held.get(id);
    if (!held || held.finishing) return;
    if (this.leaving) {
      // Close it keeping the session, and tell the next owner which session to claim. A conflict means a taker came: the watch finishes.
      if (await this.write(id, 'free')) await this.dropLease(id, 'shutting down; no replica took the connection over', this.settings.requestGraceMs);
      return;
    }
    // Keep it; the phase changes only once the lease says so, since a taker may still come first.
    if (!(await this.write(id, 'serving')) || this.held.get(id) !== held || held.finishing) return;
    await this.keepServing(id, held, 'ownership: nobody took the connection; keeping it');
  }

  /** A release that did not happen: serving again, and no new attempt for a while. */
  private async keepServing(id: string, held: Held, message: string): Promise<void> {
    held.phase = 'serving';
    held.releaseStarted = undefined;
    held.stopRelay?.();
    held.stopRelay = undefined;
    this.busy.delete(id);
    this.restFromMoves(id);
    this.log.info({ janus_id: id }, message);
    await this.catchUpWithList(id);
  }

  /**
   * A take from a releasing owner that could not get ready: stop, and write the lease back
   * as the owner had it (it still serves, and carries on from that revision).
   */
  private async giveBack(id: string, held: Held, owner: Lease, reason: string): Promise<void> {
    try {
      await this.stopServing(id, held, { reason, back_to: owner.replica }, 'warn', async () => {
        await this.host.drop(id, reason, 0);
        await this.bucket.update(leaseKey(id), owner, held.revision);
      });
    } finally {
      this.restFromMoves(id);
    }
  }

  /** After a move that failed, this replica leaves the connection alone for a while. */
  private restFromMoves(id: string): void {
    this.restUntil.set(id, this.clock() + 3 * this.settings.handoverTimeoutMs);
  }

  /** While we released it, the taker gave the lease back or died before serving: keep serving it, or let it go if we leave. */
  private async takerGaveUp(id: string, held: Held, revision: number): Promise<void> {
    if (held.finishing || held.reclaiming) return;
    if (this.leaving) {
      await this.dropLease(id, 'shutting down; the replica taking the connection over gave up', this.settings.requestGraceMs);
      return;
    }
    held.reclaiming = true;
    const lease: Lease = { ...held.lease, session_id: this.host.sessionOf(id) ?? held.lease.session_id, state: 'serving' };
    const result = await this.bucket.update(leaseKey(id), lease, revision);
    held.reclaiming = false;
    if (!result.ok || this.held.get(id) !== held || held.finishing) return;
    Object.assign(held, { revision: result.revision, lease });
    await this.keepServing(id, held, 'ownership: the taker gave the connection back; keeping it');
  }

  /** Stops serving, keeping the session (another replica may claim it). */
  private async dropLease(id: string, reason: string, graceMs = 0): Promise<void> {
    const held = this.held.get(id);
    if (!held || held.finishing) return;
    await this.stopServing(id, held, { reason }, 'warn', () => this.host.drop(id, reason, graceMs));
  }

  /** Leaves `held` at once (nothing else may act on it), logs why, runs `stop`, then forgets the connection. */
  private async stopServing(id: string, held: Held, why: Record<string, string>, level: 'info' | 'warn', stop: () => Promise<void>): Promise<void> {
    held.finishing = true;
    this.held.delete(id);
    this.log[level]({ janus_id: id, replica: this.settings.replicaId, ...why }, 'stopped serving');
    try {
      await stop();
    } finally {
      this.forget(id, held);
    }
  }

  /** The one way out of `held`, whatever the reason. */
  private forget(id: string, held: Held): void {
    held.finishing = true;
    if (this.held.get(id) === held) this.held.delete(id);
    held.stopRelay?.();
    held.finish();
    this.busy.delete(id);
    this.restUntil.delete(id);
    this.scheduleBalance();
  }
}

/** Whether a lease must be written again to say `wanted`. */
function differs(wanted: Lease, written: Lease): boolean {
  return wanted.state !== written.state || wanted.session_id !== written.session_id;
}
