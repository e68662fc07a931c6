/**
 * The connections this process runs right now. Given the set to serve, it starts what
 * is new, stops what is gone and restarts what moved, leaving the rest untouched.
 */
import type { Logger } from '../log.js';
import { diffConnections, type ConnectionDiff } from './diff.js';
import type { ConnectionSpec } from './spec.js';

/** A started connection: whatever the factory built for one spec. */
export interface Running {
  /** The Janus session it holds, if any. */
  readonly sessionId: number | undefined;
  stop(reason: string, options: { destroySession: boolean; graceMs: number }): Promise<void>;
}

/** Given when a connection replaces one whose janus_url changed. */
export interface Replaces {
  readonly sessionId: number;
  readonly reason: string;
}

export type StartConnection<R extends Running> = (spec: ConnectionSpec, replaces?: Replaces) => R;

export class ServedConnections<R extends Running> {
  private readonly running = new Map<string, { spec: ConnectionSpec; instance: R }>();
  private applying: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(private readonly start: StartConnection<R>, private readonly log: Logger) {}

  get size(): number {
    return this.running.size;
  }

  get(janusId: string): R | undefined {
    return this.running.get(janusId)?.instance;
  }

  entries(): Array<{ spec: ConnectionSpec; instance: R }> {
    return [...this.running.values()];
  }

  /** Applies `served` as a difference; calls are serialised so two updates never interleave. */
  apply(served: readonly ConnectionSpec[]): Promise<ConnectionDiff> {
    const next = this.applying.then(() => this.applyNow(served));
    this.applying = next.catch(() => undefined);
    return next;
  }

  /** Stops everything (shutdown); later applies change nothing. */
  async stopAll(reason: string, options: { destroySession: boolean; graceMs: number }): Promise<void> {
    this.closed = true;
    await this.applying;
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map(({ instance }) => instance.stop(reason, options)));
  }

  private async applyNow(served: readonly ConnectionSpec[]): Promise<ConnectionDiff> {
    const diff = diffConnections([...this.running.values()].map((entry) => entry.spec), served);
    if (this.closed) return { added: [], removed: [], changed: [], unchanged: diff.unchanged };
    const replaced = new Map<string, Replaces>();
    const stopping: Array<Promise<void>> = [];
    for (const spec of [...diff.removed, ...diff.changed]) {
      const entry = this.running.get(spec.janusId)!;
      this.running.delete(spec.janusId);
      const removed = diff.removed.includes(spec);
      const reason = removed ? 'removed from the connection list' : 'janus_url changed';
      if (!removed && entry.instance.sessionId !== undefined) replaced.set(spec.janusId, { sessionId: entry.instance.sessionId, reason });
      stopping.push(entry.instance.stop(reason, { destroySession: true, graceMs: 0 }));
    }
    await Promise.all(stopping);
    for (const spec of [...diff.added, ...diff.changed]) {
      this.running.set(spec.janusId, { spec, instance: this.start(spec, replaced.get(spec.janusId)) });
    }
    if (diff.added.length + diff.removed.length + diff.changed.length > 0) {
      this.log.info({
        added: diff.added.map((s) => s.janusId), removed: diff.removed.map((s) => s.janusId),
        changed: diff.changed.map((s) => s.janusId), unchanged: diff.unchanged.length,
      }, 'connection list applied');
    }
    return diff;
  }
}
