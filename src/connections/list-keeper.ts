/**
 * Keeps the connection list: loads it from its source at start (retrying while the
 * source is unreachable), reloads it on demand, and hands each new list to ownership
 * as a whole. A failed reload leaves the running list untouched.
 */
import { backoffDelay } from '../backoff.js';
import type { Logger } from '../log.js';
import { diffConnections } from './diff.js';
import { ListLoadError } from './list-errors.js';
import type { Ownership } from './ownership.js';
import type { ConnectionList, ConnectionSource, ConnectionSpec } from './spec.js';

export type ReloadResult =
  | {
      ok: true;
      source: string;
      added: string[];
      removed: string[];
      changed: string[];
      unchanged: string[];
      skipped: Array<{ row: string; janus_id: string; reason: string }>;
    }
  | { ok: false; source: string; error: { kind: string; message: string } };

/** Start-up retry delays while the source is unreachable. */
const START_RETRY = { minDelay: 500, maxDelay: 30_000 };

export class ListKeeper {
  private current: readonly ConnectionSpec[] | undefined;
  private lastSkipped = '';
  private queue: Promise<unknown> = Promise.resolve();
  private waitingReason: string | undefined;
  private cancelled = false;
  private wake: (() => void) | undefined;
  private queued = 0;

  constructor(
    private readonly source: ConnectionSource,
    private readonly ownership: Ownership,
    private readonly log: Logger,
  ) {}

  /** Why the list is not loaded yet (for readiness), if it is not. */
  get notLoadedBecause(): string | undefined {
    if (this.current) return undefined;
    return this.waitingReason ? `connection list not loaded: ${this.waitingReason}` : 'connection list not loaded';
  }

  /**
   * Loads the first list, retrying with backoff while that may help (database down or
   * busy). Throws a ListLoadError that retrying cannot fix (wrong table version, no table).
   */
  async start(): Promise<void> {
    for (let attempt = 0; !this.cancelled; attempt++) {
      try {
        const list = await this.source.load();
        if (this.cancelled) return;
        await this.apply(list, 'start');
        this.waitingReason = undefined;
        return;
      } catch (err) {
        const error = asListError(err);
        if (error.fatal) throw error;
        const delay = backoffDelay(attempt, START_RETRY);
        this.waitingReason = error.message;
        this.log.error(
          { source: this.source.description, reason: error.message, retry_in_ms: delay },
          'connection list unavailable; retrying',
        );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
  }

  /** Stops a start-up that is still retrying. */
  cancel(): void {
    this.cancelled = true;
    this.wake?.();
  }

  /** Loads the list again and applies the difference; one reload at a time. */
  reload(trigger: string): Promise<ReloadResult> {
    this.queued++;
    const next = this.queue
      .then(() => this.reloadNow(trigger))
      .finally(() => {
        this.queued--;
      });
    // The queue only orders the reloads: each caller gets its own result from `next`.
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Whether a reload is waiting or running (an interval tick then skips its turn). */
  get reloading(): boolean {
    return this.queued > 0;
  }

  private async reloadNow(trigger: string): Promise<ReloadResult> {
    if (!this.current)
      return {
        ok: false,
        source: this.source.description,
        error: { kind: 'not-started', message: 'the first load has not finished yet' },
      };
    if (this.cancelled)
      return {
        ok: false,
        source: this.source.description,
        error: { kind: 'stopping', message: 'the bridge is shutting down' },
      };
    try {
      const list = await this.source.load();
      if (this.cancelled)
        return {
          ok: false,
          source: this.source.description,
          error: { kind: 'stopping', message: 'the bridge is shutting down' },
        };
      const diff = diffConnections(this.current, list.specs);
      await this.apply(list, trigger);
      return {
        ok: true,
        source: this.source.description,
        added: diff.added.map((s) => s.janusId),
        removed: diff.removed.map((s) => s.janusId),
        changed: diff.changed.map((s) => s.janusId),
        unchanged: diff.unchanged.map((s) => s.janusId),
        skipped: list.skipped.map((s) => ({ row: s.row, janus_id: s.janusId, reason: s.reason })),
      };
    } catch (err) {
      const error = asListError(err);
      this.log.error(
        { trigger, source: this.source.description, kind: error.kind, reason: error.message },
        'reload failed; the running list is kept',
      );
      return { ok: false, source: this.source.description, error: { kind: error.kind, message: error.message } };
    }
  }

  private async apply(list: ConnectionList, trigger: string): Promise<void> {
    const skipped = JSON.stringify(list.skipped);
    if (skipped !== this.lastSkipped || trigger !== 'interval') {
      for (const entry of list.skipped)
        this.log.warn({ row: entry.row, janus_id: entry.janusId, reason: entry.reason }, 'connection row skipped');
    }
    this.lastSkipped = skipped;
    if (list.specs.length === 0)
      this.log.warn({ source: this.source.description }, 'the connection list is empty: no Janus to serve');
    await this.ownership.offer(list.specs);
    this.current = list.specs;
    this.log.info(
      { trigger, source: this.source.description, connections: list.specs.length, skipped: list.skipped.length },
      'connection list loaded',
    );
  }
}

function asListError(err: unknown): ListLoadError {
  return err instanceof ListLoadError ? err : new ListLoadError('query', (err as Error).message ?? String(err));
}
