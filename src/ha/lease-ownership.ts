/**
 * Several replicas, one owner per connection. Each replica watches the ownership bucket,
 * holds a heartbeat, takes its fair share of the list with compare-and-set writes,
 * renews what it holds, hands connections over without losing their session, and
 * stops serving what it can no longer prove it owns.
 */
import type { ConnectionSpec } from '../connections/spec.js';
import type { Ownership } from '../connections/ownership.js';
import type { Logger } from '../log.js';
import { planBalance } from './balance.js';
import type { WriteResult } from './lease-bucket.js';
import { heartbeatKey, leaseKey, type Heartbeat, type Lease } from './lease-record.js';
import { OwnershipView, type WatchedEntry } from './ownership-view.js';

/** What the coordinator needs of the bucket (LeaseBucket). */
export interface Bucket {
  readonly name: string;
  create(key: string, record: Lease | Heartbeat): Promise<WriteResult>;
  update(key: string, record: Lease | Heartbeat, revision: number): Promise<WriteResult>;
  put(key: string, record: Lease | Heartbeat): Promise<WriteResult>;
  delete(key: string): Promise<void>;
  watch(onEntry: (entry: WatchedEntry) => void, onReady: () => void): Promise<{ stop(): void; done: Promise<void> }>;
}

/** What the coordinator needs of the connections this process runs. */
export interface ConnectionHost {
  /** Starts serving, claiming `sessionId` first; resolves with the session once requests are taken. */
  serve(spec: ConnectionSpec, sessionId: number | undefined): Promise<number | undefined>;
  /** From now on, answers owed to our requests that reach the taker come back to us; returns the way to stop. */
  prepareHandOver(janusId: string): Promise<() => void>;
  /** The taker serves: stop taking requests, finish those taken, close without destroying the session. */
  handOver(janusId: string, to: string): Promise<void>;
  /** Stop at once, without destroying the session (the lease is lost, or nobody took it). */
  drop(janusId: string, reason: string): Promise<void>;
  /** The list changed: stop (destroying the session) what left it, restart what moved, among what we own. */
  applyList(owned: readonly ConnectionSpec[]): Promise<void>;
  sessionOf(janusId: string): number | undefined;
  ownerChanged(janusId: string, change: { old_replica: string; new_replica: string; session_id: number | null }): void;
}

export interface LeaseMetrics {
  renewal(seconds: number, ok: boolean): void;
  handOver(direction: 'given' | 'taken'): void;
  failover(): void;
}

export interface LeaseSettings {
  readonly replicaId: string;
  readonly instance: string;
  readonly leaseTtlMs: number;
  readonly handoverTimeoutMs: number;
  /** How long requests already taken may run during a hand-over (janus.cmdTimeout). */
  readonly requestGraceMs: number;
}

type Phase = 'taking' | 'serving' | 'releasing';

/**
 * A holder stops serving when its last successful write is this share of a TTL old.
 * Others take a lease only once it has not been written for a whole TTL, so the holder
 * is gone (WebSocket closed) at least (1 - FENCE_SHARE - 1 / TICKS_PER_TTL) TTL before.
 */
const FENCE_SHARE = 0.7;
/** Timer checks per TTL: renewals are due every third, fences are checked every tick. */
const TICKS_PER_TTL = 10;

interface Held {
  spec: ConnectionSpec;
  phase: Phase;
  lease: Lease;
  revision: number;
  /** When the last successful write was sent: the server's expiry is at least a TTL after it. */
  lastWriteSent: number;
  writing: Promise<unknown>;
  releaseStarted?: number;
  stopRelay?: () => void;
  finishing?: boolean;
  finished: Promise<void>;
  finish: () => void;
}

export interface OwnerRow {
  janus_id: string;
  replica: string;
  instance: string;
  session_id: number | null;
  since: string;
  state: string;
}

export class LeaseOwnership implements Ownership {
  private readonly view: OwnershipView;
  private listed = new Map<string, ConnectionSpec>();
  private readonly held = new Map<string, Held>();
  private readonly busy = new Set<string>();
  /** Takes whose compare-and-set is on its way: they count against the share already. */
  private readonly takesInFlight = new Set<string>();
  private leaving = false;
  private stopped = false;
  private ready = false;
  /** No balancing before this: replicas started together first see each other's heartbeats. */
  private settleUntil = 0;
  private watcher: { stop(): void; done: Promise<void> } | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private lastRenewal = 0;
  private balancing = false;
  private balanceAgain = false;
  private readonly heartbeat: Heartbeat;
  private readonly clock: () => number;

  constructor(
    private readonly bucket: Bucket,
    private readonly host: ConnectionHost,
    private readonly settings: LeaseSettings,
    private readonly metrics: LeaseMetrics,
    private readonly log: Logger,
    clock: () => number = () => performance.now(),
  ) {
    this.clock = clock;
    this.view = new OwnershipView(settings.leaseTtlMs);
    this.heartbeat = { replica: settings.replicaId, instance: settings.instance, since: new Date().toISOString() };
  }

  /** Connections this replica holds a lease on (serving, taking over or handing over). */
  get leasesHeld(): number {
    return this.held.size;
  }

  /** Watches the bucket (resolving once its current content is known), announces this replica, starts the timers. */
  async start(): Promise<void> {
    await this.restartWatch();
    const previous = this.view.liveReplicas(this.clock()).find((h) => h.replica === this.settings.replicaId);
    if (previous && previous.instance !== this.settings.instance) {
      this.log.warn({ replica: this.settings.replicaId, other_instance: previous.instance },
        'another process announced this replica id within the lease TTL: a previous run of this replica, or a second process with the same ha.replicaId');
    }
    await this.bucket.put(heartbeatKey(this.settings.replicaId), this.heartbeat);
    this.settleUntil = this.clock() + Math.min(1000, this.settings.leaseTtlMs / 3);
    const tickMs = Math.max(100, Math.floor(this.settings.leaseTtlMs / TICKS_PER_TTL));
    this.tickTimer = setInterval(() => this.tick(), tickMs);
    this.log.info({ replica: this.settings.replicaId, instance: this.settings.instance, bucket: this.bucket.name, lease_ttl_ms: this.settings.leaseTtlMs }, 'ownership: replica announced');
  }

  /** NATS came back: the watch may have missed changes, so it starts again from the bucket's content. */
  async resync(): Promise<void> {
    if (this.stopped) return;
    this.watcher?.stop();
    await this.restartWatch().catch((err: Error) => this.log.warn({ err: err.message }, 'ownership: watch not restarted'));
    this.scheduleBalance();
  }

  async offer(list: readonly ConnectionSpec[]): Promise<void> {
    this.listed = new Map(list.map((spec) => [spec.janusId, spec]));
    const owned = [...this.held.keys()].map((id) => this.listed.get(id)).filter((spec): spec is ConnectionSpec => spec !== undefined);
    await this.host.applyList(owned);
    for (const [id, held] of [...this.held]) {
      const spec = this.listed.get(id);
      if (!spec) {
        // Removed from the list: the session was destroyed with it; nobody should take the lease.
        this.held.delete(id);
        held.stopRelay?.();
        held.finish();
        await this.bucket.delete(leaseKey(id)).catch(() => undefined);
      } else {
        held.spec = spec;
      }
    }
    this.scheduleBalance();
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
    await this.bucket.delete(heartbeatKey(this.settings.replicaId)).catch(() => undefined);
    this.scheduleBalance();
    const limit = this.settings.handoverTimeoutMs + this.settings.requestGraceMs + 1000;
    const all = Promise.all([...this.held.values()].map((held) => held.finished));
    await Promise.race([all, sleep(limit)]);
    this.stop();
  }

  /** Stops timers and the watch; what is still held stays with the connections (the daemon stops them). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.tickTimer);
    this.watcher?.stop();
  }

  private async restartWatch(): Promise<void> {
    let markReady: () => void = () => {};
    const initialised = new Promise<void>((resolve) => { markReady = resolve; });
    this.watcher = await this.bucket.watch((entry) => this.onEntry(entry), () => markReady());
    await initialised;
    this.ready = true;
  }

  private onEntry(entry: WatchedEntry): void {
    const changed = this.view.apply(entry, this.clock()).lease;
    const held = changed === undefined ? undefined : this.held.get(changed);
    if (held && changed !== undefined) {
      const seen = this.view.lease(changed);
      if (seen && seen.lease.instance !== this.settings.instance) {
        if (held.phase === 'releasing') {
          if (seen.lease.state === 'serving') void this.completeHandOver(changed, seen.lease.replica);
        } else {
          void this.dropLease(changed, `lease taken by ${seen.lease.replica}`);
        }
      }
    }
    this.scheduleBalance();
  }

  private tick(): void {
    if (this.stopped) return;
    const now = this.clock();
    const fenceMs = this.settings.leaseTtlMs * FENCE_SHARE;
    for (const [id, held] of this.held) {
      if (held.finishing) continue;
      const releasing = held.phase === 'releasing';
      // A taker holds the lease now: we serve on until it serves (or the hand-over times out), whatever our lease says.
      const holder = this.view.lease(id)?.lease.instance;
      const taken = releasing && holder !== undefined && holder !== this.settings.instance;
      if (!taken && now - held.lastWriteSent > fenceMs) {
        void this.dropLease(id, 'lease not renewed in time (NATS unreachable?)');
      } else if (releasing && now - held.releaseStarted! > this.settings.handoverTimeoutMs) {
        void this.releaseTimedOut(id);
      }
    }
    if (now - this.lastRenewal >= this.settings.leaseTtlMs / 3) {
      this.lastRenewal = now;
      this.renewAll();
    }
    this.scheduleBalance();
  }

  private renewAll(): void {
    if (!this.leaving) {
      void this.bucket.put(heartbeatKey(this.settings.replicaId), this.heartbeat);
    }
    for (const [id, held] of this.held) {
      if (!held.finishing) void this.write(id);
    }
  }

  /**
   * Writes a lease we hold over its last revision, with `change` applied to what it says
   * when the write runs; one write at a time per lease. Also the renewal.
   */
  private write(id: string, change: Partial<Lease> = {}): Promise<boolean> {
    const held = this.held.get(id);
    if (!held) return Promise.resolve(false);
    const next = held.writing.then(async () => {
      if (this.held.get(id) !== held || held.finishing) return false;
      // The session may have been replaced since (Janus expired it): the next owner claims the current one.
      const session = this.host.sessionOf(id);
      const lease: Lease = { ...held.lease, ...(session !== undefined ? { session_id: session } : {}), ...change };
      const sent = this.clock();
      const result = await this.bucket.update(leaseKey(id), lease, held.revision);
      this.metrics.renewal((this.clock() - sent) / 1000, result.ok);
      if (result.ok) {
        held.revision = result.revision;
        held.lease = lease;
        held.lastWriteSent = sent;
        return true;
      }
      if (result.conflict) this.onConflict(id, held);
      else this.log.warn({ janus_id: id, reason: result.reason }, 'ownership: lease not renewed');
      return false;
    });
    held.writing = next.catch(() => false);
    return next;
  }

  /**
   * Someone else wrote our lease. While we hand it over that is the taker (our watch may
   * not show it yet): the watch or the hand-over timeout finishes the move. Otherwise we
   * lost it and stop serving at once.
   */
  private onConflict(id: string, held: Held): void {
    if (held.phase === 'releasing') return;
    const seen = this.view.lease(id);
    const by = seen && seen.lease.instance !== this.settings.instance ? `lease taken by ${seen.lease.replica}` : 'lease written by another process';
    void this.dropLease(id, by);
  }

  private scheduleBalance(): void {
    if (!this.ready || this.stopped || this.clock() < this.settleUntil) return;
    if (this.balancing) {
      this.balanceAgain = true;
      return;
    }
    this.balancing = true;
    queueMicrotask(() => {
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
    const live = new Set(this.view.liveReplicas(now).map((h) => h.replica));
    if (!this.leaving) live.add(this.settings.replicaId);
    else live.delete(this.settings.replicaId);
    const phases = (phase: Phase): Set<string> => new Set([...this.held].filter(([, h]) => h.phase === phase && !h.finishing).map(([id]) => id));
    const plan = planBalance({
      listed: [...this.listed.keys()],
      held: new Set([...phases('serving'), ...phases('taking'), ...this.takesInFlight]),
      releasing: phases('releasing'),
      busy: this.busy,
      liveReplicas: Math.max(1, live.size),
      leaving: this.leaving,
      tieBreak: this.settings.instance,
      takeable: (id) => this.view.takeable(id, this.settings.instance, now),
    });
    for (const id of plan.release) void this.release(id);
    for (const id of plan.take) void this.take(id);
  }

  private async take(id: string): Promise<void> {
    const spec = this.listed.get(id);
    if (!spec || this.busy.has(id) || this.held.has(id)) return;
    this.busy.add(id);
    this.takesInFlight.add(id);
    try {
      const why = this.view.takeable(id, this.settings.instance, this.clock());
      const basis = this.view.takeBasis(id);
      const previous = basis.previous;
      const from = previous && previous.instance !== this.settings.instance && previous.state !== 'free' ? previous.replica : undefined;
      const lease: Lease = {
        replica: this.settings.replicaId, instance: this.settings.instance, session_id: previous?.session_id ?? null,
        since: new Date().toISOString(), state: 'taking', ...(from ? { from } : {}),
      };
      const sent = this.clock();
      let result = basis.revision !== undefined ? await this.bucket.update(leaseKey(id), lease, basis.revision) : await this.bucket.create(leaseKey(id), lease);
      // The key we saw may have expired meanwhile (the bucket's max age): then it is absent.
      if (!result.ok && result.conflict && basis.revision !== undefined && why === 'expired') result = await this.bucket.create(leaseKey(id), lease);
      if (!result.ok) {
        this.log.debug({ janus_id: id, reason: result.reason }, 'ownership: take lost to another replica');
        return;
      }
      if (this.stopped || this.leaving) {
        // Taken while we began to leave: give it straight back.
        await this.bucket.update(leaseKey(id), { ...lease, state: 'free' }, result.revision).catch(() => undefined);
        return;
      }
      let finish: () => void = () => {};
      const finished = new Promise<void>((resolve) => { finish = resolve; });
      const held: Held = { spec, phase: 'taking', lease, revision: result.revision, lastWriteSent: sent, writing: Promise.resolve(), finished, finish };
      this.held.set(id, held);
      this.takesInFlight.delete(id);
      this.log.info({ janus_id: id, from: from ?? null, session_id: lease.session_id, reason: why }, 'ownership: lease taken');
      const sessionId = await this.host.serve(spec, lease.session_id ?? undefined);
      if (this.held.get(id) !== held || held.phase !== 'taking') return;
      held.phase = 'serving';
      const sessionNow = sessionId ?? lease.session_id;
      this.log.info({ janus_id: id, session_id: sessionNow, replica: this.settings.replicaId }, 'serving');
      // This write is what tells the old owner to close its WebSocket.
      if (!(await this.write(id, { state: 'serving', session_id: sessionNow }))) return;
      if (from) {
        this.host.ownerChanged(id, { old_replica: from, new_replica: this.settings.replicaId, session_id: sessionNow });
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
    if (!held || held.phase !== 'serving' || this.busy.has(id)) return;
    this.busy.add(id);
    // Releasing from now on, for the balance; the lease says so once the relay listens.
    held.phase = 'releasing';
    held.releaseStarted = this.clock();
    held.stopRelay = await this.host.prepareHandOver(id);
    if (this.held.get(id) !== held || held.finishing) {
      held.stopRelay();
      this.busy.delete(id);
      return;
    }
    this.log.info({ janus_id: id, leaving: this.leaving }, 'ownership: handing over');
    await this.write(id, { state: 'releasing' });
    // What follows comes from the watch (a taker serves) or from the tick (nobody took it in time).
  }

  private async completeHandOver(id: string, to: string): Promise<void> {
    const held = this.held.get(id);
    if (!held || held.finishing) return;
    held.finishing = true;
    this.held.delete(id);
    this.log.info({ janus_id: id, replica: this.settings.replicaId, reason: `handed over to ${to}` }, 'stopped serving');
    try {
      await this.host.handOver(id, to);
      this.metrics.handOver('given');
    } finally {
      held.stopRelay?.();
      held.finish();
      this.busy.delete(id);
      this.scheduleBalance();
    }
  }

  private async releaseTimedOut(id: string): Promise<void> {
    const held = this.held.get(id);
    if (!held || held.finishing) return;
    const seen = this.view.lease(id);
    if (seen && seen.lease.instance !== this.settings.instance) {
      // A taker holds the lease but is not serving yet (its Janus is slow or down): it owns the connection now.
      await this.completeHandOver(id, seen.lease.replica);
      return;
    }
    if (!this.leaving) {
      held.phase = 'serving';
      held.releaseStarted = undefined;
      held.stopRelay?.();
      held.stopRelay = undefined;
      this.busy.delete(id);
      this.log.info({ janus_id: id }, 'ownership: nobody took the connection; keeping it');
      await this.write(id, { state: 'serving' });
      return;
    }
    // Leaving and nobody took it: close it keeping the session, and tell the next owner which session to claim.
    await this.write(id, { state: 'free' });
    await this.dropLease(id, 'shutting down; no replica took the connection over');
  }

  /** Stops serving at once, keeping the session (another replica may claim it). */
  private async dropLease(id: string, reason: string): Promise<void> {
    const held = this.held.get(id);
    if (!held || held.finishing) return;
    held.finishing = true;
    this.held.delete(id);
    this.log.warn({ janus_id: id, replica: this.settings.replicaId, reason }, 'stopped serving');
    try {
      await this.host.drop(id, reason);
    } finally {
      held.stopRelay?.();
      held.finish();
      this.busy.delete(id);
      this.scheduleBalance();
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
