/**
 * An in-memory JetStream KV bucket for the ownership tests: compare-and-set revisions,
 * delete markers, watches that can lag, writes that can be made to fail, and an optional
 * max age. Every write is recorded (with the fake clock's time) for the tests to read.
 */
import type { WriteResult } from '../../src/ha/lease-bucket.js';
import { decodeLease, encodeRecord, leaseKey, type Heartbeat, type Lease } from '../../src/ha/lease-record.js';
import type { WatchedEntry } from '../../src/ha/ownership-view.js';
import type { Bucket } from '../../src/ha/lease-ownership-interfaces.js';

export type Op = 'create' | 'update' | 'put' | 'delete';

/** Far above what any test here writes (a few hundred at most). */
const WRITE_CAP = 5000;

export interface Attempt {
  readonly by: string;
  readonly op: Op;
  readonly key: string;
  readonly record?: Lease | Heartbeat;
  /** update: the revision the writer expects the key to be at. */
  readonly expected?: number;
}

export interface Written extends Attempt {
  readonly at: number;
  readonly outcome: 'ok' | 'conflict' | 'timeout';
  readonly revision?: number;
}

interface Stored {
  readonly operation: 'PUT' | 'DEL';
  readonly value: Uint8Array;
  readonly revision: number;
  readonly writtenAt: number;
}

interface Watcher {
  readonly by: string;
  readonly onEntry: (entry: WatchedEntry) => void;
  /** Entries held back (the watch lags) until released. */
  buffer: WatchedEntry[] | undefined;
}

/**
 * JetStream KV semantics: one sequence for the whole bucket (a key's revision is the
 * sequence of its last message); create works only when the key is absent (a delete marker
 * is a revision: LeaseBucket.create does not fall back as nats.js kv.create does); update
 * only over the key's last revision; delete leaves a DEL marker with a revision of its
 * own; max age removes messages (values and markers) without telling watchers.
 */
export class FakeKv {
  private seq = 0;
  readonly store = new Map<string, Stored>();
  readonly writes: Written[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly watchCounts = new Map<string, number>();
  /** Replicas whose watches lag, a watch started again included. */
  private readonly held = new Set<string>();
  private readonly failures: Array<{ match: (attempt: Attempt) => boolean; left: number; applied: boolean }> = [];

  constructor(
    private readonly events: string[],
    private readonly maxAgeMs: number | undefined,
  ) {}

  /** The bucket as one replica's LeaseOwnership uses it (writes are tagged with `by`). */
  bucket(by: string): Bucket {
    return {
      name: 'test_owners',
      create: async (key, record) => this.write({ by, op: 'create', key, record }),
      update: async (key, record, revision) => this.write({ by, op: 'update', key, record, expected: revision }),
      put: async (key, record) => this.write({ by, op: 'put', key, record }),
      delete: async (key) => {
        const result = await this.write({ by, op: 'delete', key });
        if (!result.ok) throw new Error(result.reason);
      },
      read: async (key) => {
        this.reads.push({ by, key });
        if (this.readFailures.some((match) => match(by, key))) throw new Error('timeout');
        this.expire();
        const stored = this.store.get(key);
        return stored && { key, operation: stored.operation, value: stored.value, revision: stored.revision };
      },
      watch: async (onEntry, onReady) => this.watch(by, onEntry, onReady),
    };
  }

  /** Keys read from the leader, and by whom. */
  readonly reads: Array<{ by: string; key: string }> = [];
  private readonly readFailures: Array<(by: string, key: string) => boolean> = [];

  /** Reads matching `match` fail as a timeout (the leader unreachable) until the returned function is called. */
  failReads(match: (by: string, key: string) => boolean): () => void {
    this.readFailures.push(match);
    return () => {
      this.readFailures.splice(this.readFailures.indexOf(match), 1);
    };
  }

  /** The leader numbers `key`'s last entry `revision` from now on (a new leader of a copy numbered otherwise). */
  renumber(key: string, revision: number): void {
    const stored = this.store.get(key);
    if (stored) this.store.set(key, { ...stored, revision });
    this.seq = Math.max(this.seq, revision);
  }

  /** The bucket's content now: what a copy of the stream that stops here would replay. */
  snapshot(): ReadonlyMap<string, WatchedEntry> {
    return new Map(
      [...this.store].map(([key, stored]) => [
        key,
        { key, operation: stored.operation, value: stored.value, revision: stored.revision },
      ]),
    );
  }

  /** `by`'s watch replays `copy`, as a watch started again on a copy of the stream that is behind. */
  replayTo(by: string, copy: ReadonlyMap<string, WatchedEntry>): void {
    const entries = [...copy.values()].sort((a, b) => a.revision - b.revision);
    for (const watcher of this.watchers) if (watcher.by === by) for (const entry of entries) watcher.onEntry(entry);
  }

  /**
   * Writes matching `match` fail as a timeout (NATS unreachable), `times` times; with `applied`, the
   * bucket applies them all the same (the answer is what got lost). Returns the way to end it.
   */
  failWrites(match: (attempt: Attempt) => boolean, times = Number.POSITIVE_INFINITY, applied = false): () => void {
    const rule = { match, left: times, applied };
    this.failures.push(rule);
    return () => {
      rule.left = 0;
    };
  }

  /**
   * Updates matching `match` are accepted whatever revision they expect, as nats-server has
   * accepted two compare-and-sets over one revision (nats-io/nats-server#4320, #8469).
   */
  acceptOverAnyRevision(match: (attempt: Attempt) => boolean): void {
    this.overAnyRevision.push(match);
  }

  private readonly overAnyRevision: Array<(attempt: Attempt) => boolean> = [];

  /** The key is gone as the bucket's max age removes it: no watch entry. */
  vanish(key: string): void {
    this.store.delete(key);
  }

  /** How many watches `by` has started. */
  watchesStarted(by: string): number {
    return this.watchCounts.get(by) ?? 0;
  }

  /** `by`'s watch stops delivering (entries are kept) until released; so does one it starts again meanwhile. */
  holdWatch(by: string): void {
    this.held.add(by);
    for (const watcher of this.watchers) if (watcher.by === by) watcher.buffer ??= [];
  }

  releaseWatch(by: string): void {
    this.held.delete(by);
    for (const watcher of this.watchers) {
      if (watcher.by !== by || !watcher.buffer) continue;
      const buffered = watcher.buffer;
      watcher.buffer = undefined;
      for (const entry of buffered) watcher.onEntry(entry);
    }
  }

  lease(janusId: string): Lease | undefined {
    this.expire();
    const stored = this.store.get(leaseKey(janusId));
    return stored?.operation === 'PUT' ? decodeLease(stored.value) : undefined;
  }

  operation(key: string): 'PUT' | 'DEL' | undefined {
    this.expire();
    return this.store.get(key)?.operation;
  }

  writesTo(key: string, by?: string): Written[] {
    return this.writes.filter((w) => w.key === key && (by === undefined || w.by === by));
  }

  private write(attempt: Attempt): WriteResult | Promise<never> {
    // A write storm (a retry loop on microtasks) would starve the fake timers and hang the
    // test: past this many writes, writes never answer, which ends the loop; the test then fails on its counts.
    if (this.writes.length >= WRITE_CAP) return new Promise<never>(() => {});
    this.expire();
    const now = Date.now();
    const state = attempt.record && 'state' in attempt.record ? ` ${attempt.record.state}` : '';
    const note = (outcome: Written['outcome'], revision?: number): void => {
      this.writes.push({ ...attempt, at: now, outcome, ...(revision !== undefined ? { revision } : {}) });
      this.events.push(`${attempt.by} ${attempt.op} ${attempt.key}${state} ${outcome}`);
    };
    const failure = this.failures.find((f) => f.left > 0 && f.match(attempt));
    if (failure) failure.left--;
    if (failure && !failure.applied) {
      note('timeout');
      return { ok: false, conflict: false, reason: 'timeout' };
    }
    const current = this.store.get(attempt.key);
    const accepted =
      attempt.op === 'create'
        ? !current
        : attempt.op === 'update'
          ? (current?.revision ?? 0) === attempt.expected || this.overAnyRevision.some((match) => match(attempt))
          : true;
    if (!accepted) {
      note('conflict');
      // As JetStream answers: the key's last revision (0 when it has none).
      const last = current?.revision ?? 0;
      return { ok: false, conflict: true, reason: `wrong last sequence: ${last}`, current: last };
    }
    const revision = ++this.seq;
    const stored: Stored =
      attempt.op === 'delete'
        ? { operation: 'DEL', value: new Uint8Array(), revision, writtenAt: now }
        : { operation: 'PUT', value: encodeRecord(attempt.record!), revision, writtenAt: now };
    this.store.set(attempt.key, stored);
    note(failure ? 'timeout' : 'ok', revision);
    for (const watcher of [...this.watchers])
      this.deliver(watcher, { key: attempt.key, operation: stored.operation, value: stored.value, revision });
    return failure ? { ok: false, conflict: false, reason: 'timeout' } : { ok: true, revision };
  }

  private deliver(watcher: Watcher, entry: WatchedEntry): void {
    if (watcher.buffer) watcher.buffer.push(entry);
    else watcher.onEntry(entry);
  }

  private watch(
    by: string,
    onEntry: (entry: WatchedEntry) => void,
    onReady: () => void,
  ): { stop(): void; done: Promise<void> } {
    this.expire();
    let ended: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      ended = resolve;
    });
    this.watchCounts.set(by, this.watchesStarted(by) + 1);
    const watcher: Watcher = { by, onEntry, buffer: this.held.has(by) ? [] : undefined };
    const current = [...this.store].sort(([, a], [, b]) => a.revision - b.revision);
    for (const [key, stored] of current) {
      const entry: WatchedEntry = { key, operation: stored.operation, value: stored.value, revision: stored.revision };
      if (watcher.buffer) watcher.buffer.push(entry);
      else onEntry(entry);
    }
    onReady();
    this.watchers.add(watcher);
    return {
      stop: () => {
        this.watchers.delete(watcher);
        ended();
      },
      done,
    };
  }

  private expire(): void {
    if (this.maxAgeMs === undefined) return;
    const now = Date.now();
    for (const [key, stored] of this.store) if (now - stored.writtenAt >= this.maxAgeMs) this.store.delete(key);
  }
}
