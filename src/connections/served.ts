/**
 * The connections this process runs right now. Given the set to serve, it starts what
 * is new, stops what is gone and restarts what moved, leaving the rest untouched.
 */
import type { Logger } from '../log.js';
import { diffConnections, onlyAdminUrlChanged, type ConnectionDiff } from './diff.js';
import type { ConnectionSpec } from './spec.js';

/** How a served connection stops. */
export interface StopOptions {
  readonly destroySession: boolean;
  /** How long requests already taken may still be answered. */
  readonly graceMs: number;
  /** Another replica serves it now: no `stopped` status, and requests already delivered are still taken. */
  readonly handedOver?: boolean;
}

/** A started connection: whatever the factory built for one spec. */
export interface ServedConnection {
  /** The Janus session it holds, if any. */
  readonly sessionId: number | undefined;
  stop(reason: string, options: StopOptions): Promise<void>;
  /**
   * Takes a spec whose janus_admin_url alone changed, without touching the session; absent: such a change restarts it.
   */
  changeAdminUrl?(spec: ConnectionSpec): Promise<void>;
}

/** Given when a connection replaces one whose janus_url changed. */
export interface Replaces {
  readonly sessionId: number;
  readonly reason: string;
}

/**
 * How a connection starts: fresh (no options), replacing one whose janus_url changed, or
 * taking over another replica's session.
 */
export interface StartOptions {
  readonly replaces?: Replaces;
  /** Claim this session first (it was another replica's); subscribe only once it is ready. */
  readonly takeOver?: { readonly sessionId: number | undefined };
}

export type StartConnection<C extends ServedConnection> = (spec: ConnectionSpec, options: StartOptions) => C;

export class ServedConnections<C extends ServedConnection> {
  private readonly running = new Map<string, { spec: ConnectionSpec; connection: C }>();
  private applying: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly start: StartConnection<C>,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.running.size;
  }

  get(janusId: string): C | undefined {
    return this.running.get(janusId)?.connection;
  }

  entries(): Array<{ spec: ConnectionSpec; connection: C }> {
    return [...this.running.values()];
  }

  /**
   * Applies `served` as a difference; calls are serialised so two updates never interleave.
   * `stillWanted` is asked again before a changed connection restarts (it may have moved
   * to another replica while its old self stopped).
   */
  apply(
    served: readonly ConnectionSpec[],
    stillWanted: (janusId: string) => boolean = () => true,
  ): Promise<ConnectionDiff> {
    const next = this.applying.then(() => this.applyNow(served, stillWanted));
    // The chain only orders the applications: each caller gets its own outcome from `next`.
    this.applying = next.catch(() => undefined);
    return next;
  }

  /** Starts one connection that is not running yet (a lease won). */
  add(spec: ConnectionSpec, options: StartOptions): C | undefined {
    if (this.closed || this.running.has(spec.janusId)) return undefined;
    const connection = this.start(spec, options);
    this.running.set(spec.janusId, { spec, connection });
    return connection;
  }

  /** Stops one connection (a lease handed over or lost). */
  async remove(janusId: string, reason: string, options: StopOptions): Promise<void> {
    const entry = this.running.get(janusId);
    if (!entry) return;
    this.running.delete(janusId);
    await entry.connection.stop(reason, options);
  }

  /** Stops everything (shutdown); later applies change nothing. */
  async stopAll(reason: string, options: StopOptions): Promise<void> {
    this.closed = true;
    await this.applying;
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map(({ connection }) => connection.stop(reason, options)));
  }

  private async applyNow(
    served: readonly ConnectionSpec[],
    stillWanted: (janusId: string) => boolean,
  ): Promise<ConnectionDiff> {
    const diff = diffConnections(
      [...this.running.values()].map((entry) => entry.spec),
      served,
    );
    if (this.closed) return { added: [], removed: [], changed: [], unchanged: diff.unchanged };
    const replaced = new Map<string, Replaces>();
    const stopping: Array<Promise<void>> = [];
    const restarted: ConnectionSpec[] = [];
    for (const spec of diff.changed) {
      const entry = this.running.get(spec.janusId)!;
      if (!entry.connection.changeAdminUrl || !onlyAdminUrlChanged(entry.spec, spec)) {
        restarted.push(spec);
        continue;
      }
      this.running.set(spec.janusId, { spec, connection: entry.connection });
      stopping.push(entry.connection.changeAdminUrl(spec));
    }
    for (const spec of [...diff.removed, ...restarted]) {
      const entry = this.running.get(spec.janusId)!;
      this.running.delete(spec.janusId);
      const removed = diff.removed.includes(spec);
      const reason = removed ? 'removed from the connection list' : 'janus_url changed';
      if (!removed && entry.connection.sessionId !== undefined)
        replaced.set(spec.janusId, { sessionId: entry.connection.sessionId, reason });
      stopping.push(entry.connection.stop(reason, { destroySession: true, graceMs: 0 }));
    }
    await Promise.all(stopping);
    for (const spec of [...diff.added, ...restarted]) {
      if (this.closed || this.running.has(spec.janusId) || !stillWanted(spec.janusId)) continue;
      const replaces = replaced.get(spec.janusId);
      this.running.set(spec.janusId, { spec, connection: this.start(spec, replaces ? { replaces } : {}) });
    }
    if (diff.added.length + diff.removed.length + diff.changed.length > 0) {
      this.log.info(
        {
          added: diff.added.map((s) => s.janusId),
          removed: diff.removed.map((s) => s.janusId),
          changed: diff.changed.map((s) => s.janusId),
          unchanged: diff.unchanged.length,
        },
        'connection list applied',
      );
    }
    return diff;
  }
}
