/**
 * Keeps a watch on the ownership bucket running: restarted when it ends or fails, and
 * from scratch after a NATS reconnect (a new watch replays the bucket's current content).
 * Without it a replica would see no hand-overs and think every other replica dead.
 */
import { backoffDelay } from '../backoff.js';
import type { Logger } from '../log.js';
import { sleep } from '../sleep.js';
import type { WatchedEntry } from './ownership-view.js';

export interface Watchable {
  watch(onEntry: (entry: WatchedEntry) => void, onReady: () => void): Promise<{ stop(): void; done: Promise<void> }>;
}

const RETRY = { minDelay: 200, maxDelay: 5000 };

export class BucketWatch {
  private generation = 0;
  private current: { stop(): void } | undefined;
  private stopped = false;
  private firstReady: (() => void) | undefined;

  constructor(
    private readonly bucket: Watchable,
    private readonly onEntry: (entry: WatchedEntry) => void,
    private readonly log: Logger,
    /** How long the current values may take to arrive before the watch is started again. */
    private readonly initTimeoutMs: number,
  ) {}

  /** Starts watching; resolves once the bucket's current content has been delivered. */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve) => {
      this.firstReady = resolve;
    });
    this.restart();
    return ready;
  }

  /** Starts again from the bucket's current content. */
  restart(): void {
    if (this.stopped) return;
    const generation = ++this.generation;
    this.current?.stop();
    this.current = undefined;
    void this.run(generation);
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    this.current?.stop();
  }

  private async run(generation: number): Promise<void> {
    const live = (): boolean => !this.stopped && generation === this.generation;
    for (let attempt = 0; live(); attempt++) {
      try {
        let markReady: () => void = () => {};
        const initialised = new Promise<void>((resolve) => {
          markReady = resolve;
        });
        const watch = await this.bucket.watch(
          (entry) => {
            if (live()) this.onEntry(entry);
          },
          () => markReady(),
        );
        if (!live()) {
          watch.stop();
          return;
        }
        this.current = watch;
        const done = watch.done.then(
          () => 'ended' as const,
          (err: Error) => err,
        );
        const first = await Promise.race([
          initialised.then(() => 'ready' as const),
          done,
          sleep(this.initTimeoutMs).then(() => 'slow' as const),
        ]);
        if (first !== 'ready') {
          watch.stop();
          throw first instanceof Error
            ? first
            : new Error(first === 'slow' ? 'the current values did not arrive in time' : 'the watch ended at once');
        }
        attempt = 0;
        this.firstReady?.();
        this.firstReady = undefined;
        const end = await done;
        if (!live()) return;
        this.log.warn(
          { reason: end instanceof Error ? end.message : 'ended' },
          'ownership: the bucket watch stopped; starting it again',
        );
      } catch (err) {
        if (!live()) return;
        const delay = backoffDelay(attempt, RETRY);
        this.log.warn(
          { err: (err as Error).message, retry_in_ms: delay },
          'ownership: cannot watch the bucket; retrying',
        );
        await sleep(delay);
      }
    }
  }
}
