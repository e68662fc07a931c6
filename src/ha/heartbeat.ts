/**
 * The one periodic write of a replica: its heartbeat, which keeps every lease it holds alive
 * however many, and the fence that follows from it: a replica whose last successful heartbeat
 * is too old can no longer be sure that nobody may take its leases, and stops serving them.
 */
import type { Logger } from '../log.js';
import type { Bucket, LeaseMetrics } from './lease-ownership-interfaces.js';
import { heartbeatKey, type Heartbeat } from './lease-record.js';
import type { OwnershipView } from './ownership-view.js';

/**
 * A holder stops serving when its last successful heartbeat write is this share of a TTL
 * old. Others take its leases only once its heartbeat has been silent for a whole TTL (of
 * time in which they could write), so the holder is gone (WebSocket closed) at least
 * (1 - FENCE_SHARE - 1 / ticks per TTL) TTL before (the fence is checked at every tick).
 */
const FENCE_SHARE = 0.7;
/**
 * Heartbeats per TTL. Five (every 2 s with the default 10 s TTL) keep a replica within its
 * fence through a JetStream leader election (writes fail for 4–10 s, measured) that starts
 * just after a heartbeat.
 */
export const HEARTBEATS_PER_TTL = 5;

export class HeartbeatWriter {
  private readonly record: Heartbeat;
  private lastSent = 0;
  private writes = 0;
  /** When the last successful write was sent: nobody may take our leases until a TTL after it. */
  private lastOk: number | undefined;
  private readonly fenceMs: number;
  readonly intervalMs: number;

  constructor(
    private readonly bucket: Pick<Bucket, 'put'>,
    private readonly view: OwnershipView,
    settings: { readonly replicaId: string; readonly instance: string; readonly leaseTtlMs: number },
    private readonly metrics: Pick<LeaseMetrics, 'renewal'>,
    private readonly log: Logger,
    private readonly clock: () => number,
  ) {
    this.record = {
      replica: settings.replicaId,
      instance: settings.instance,
      since: new Date().toISOString(),
      ttl_ms: settings.leaseTtlMs,
    };
    this.intervalMs = settings.leaseTtlMs / HEARTBEATS_PER_TTL;
    this.fenceMs = settings.leaseTtlMs * FENCE_SHARE;
  }

  /**
   * Whether the next heartbeat is due at a tick `tickMs` long. Half a tick early counts: timers
   * fire a hair early or late, and a tick that comes just before the interval is up must not
   * push the heartbeat a whole tick later (0.3 TTL apart instead of 0.2).
   */
  due(now: number, tickMs: number): boolean {
    return now - this.lastSent >= this.intervalMs - tickMs / 2;
  }

  /** What the last heartbeat written said of this replica's watch. */
  private wroteBlind = false;

  /** Whether the heartbeat must say anew whether this replica is blind (see Heartbeat.blind). */
  blindChanged(blind: boolean): boolean {
    return blind !== this.wroteBlind;
  }

  /** Writes the heartbeat (`leaving`, `blind`: out of the fair share, still alive). */
  async write(leaving: boolean, blind = false): Promise<void> {
    const sent = this.clock();
    this.lastSent = sent;
    const n = ++this.writes;
    const result = await this.bucket.put(heartbeatKey(this.record.replica), {
      ...this.record,
      ...(leaving ? { leaving: true } : {}),
      ...(blind ? { blind: true } : {}),
      n,
    });
    this.metrics.renewal((this.clock() - sent) / 1000, result.ok);
    if (!result.ok) {
      this.log.warn({ reason: result.reason }, 'ownership: heartbeat not renewed');
      // Tried again at the next tick, not a whole heartbeat interval later: the fence is running.
      this.lastSent = 0;
      return;
    }
    this.wroteBlind = blind;
    this.lastOk = Math.max(this.lastOk ?? 0, sent);
    this.view.ownWriteAcknowledged(sent, result.revision, n);
  }

  /** Our heartbeat is too old for us to be sure nobody may take our leases (or was never written). */
  fenced(now: number): boolean {
    return this.lastOk === undefined || now - this.lastOk > this.fenceMs;
  }
}
