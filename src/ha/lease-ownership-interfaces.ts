/** What LeaseOwnership needs from the rest of the daemon, and what it gives. */
import type { ConnectionSpec } from '../connections/spec.js';
import type { WriteResult } from './lease-bucket.js';
import type { Heartbeat, Lease } from './lease-record.js';
import type { WatchedEntry } from './ownership-view.js';

/** What LeaseOwnership needs of the bucket (LeaseBucket). */
export interface Bucket {
  readonly name: string;
  create(key: string, record: Lease | Heartbeat): Promise<WriteResult>;
  update(key: string, record: Lease | Heartbeat, revision: number): Promise<WriteResult>;
  put(key: string, record: Lease | Heartbeat): Promise<WriteResult>;
  /** With `revision`: only if nobody wrote the key since. */
  delete(key: string, revision?: number): Promise<void>;
  /** The key's last entry as the stream's leader has it. */
  read(key: string): Promise<WatchedEntry | undefined>;
  watch(onEntry: (entry: WatchedEntry) => void, onReady: () => void): Promise<{ stop(): void; done: Promise<void> }>;
}

/**
 * Published on a connection's status subject (`owner-changed`) when another replica serves it
 * now, on the same session when it could be claimed.
 */
export interface OwnerChanged {
  readonly old_replica: string;
  readonly new_replica: string;
  readonly session_id: number | null;
}

/** What LeaseOwnership needs of the connections this process runs. */
export interface ConnectionHost {
  /**
   * Starts the connection, claiming `sessionId` first. Resolves `ready` once the session is
   * ours and requests are taken, or not ready after ha.handoverTimeout without Janus (then
   * requests are taken all the same when `subscribeAnyway`).
   */
  serve(
    spec: ConnectionSpec,
    sessionId: number | undefined,
    subscribeAnyway: boolean,
  ): Promise<{ ready: boolean; sessionId: number | undefined }>;
  /** From now on, answers owed to our requests that reach the taker come back to us; returns the way to stop. */
  prepareHandOver(janusId: string): Promise<() => void>;
  /** The taker serves: stop taking requests, finish those taken, close without destroying the session. */
  handOver(janusId: string, to: string): Promise<void>;
  /** Stops without destroying the session (the lease is lost, or nobody took it); requests taken get `graceMs`. */
  drop(janusId: string, reason: string, graceMs: number): Promise<void>;
  /**
   * The list changed: stop (destroying the session) what left it, restart what moved, among
   * what we run; a restart happens only if `stillWanted` still says so when its turn comes.
   */
  applyList(running: readonly ConnectionSpec[], stillWanted: (janusId: string) => boolean): Promise<void>;
  sessionOf(janusId: string): number | undefined;
  /** Says on the connection's status subject that it changed hands. */
  ownerChanged(janusId: string, change: OwnerChanged): void;
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

/** One row of `<prefix>.admin.owners`. */
export interface OwnerRow {
  janus_id: string;
  replica: string;
  instance: string;
  session_id: number | null;
  since: string;
  state: string;
}
