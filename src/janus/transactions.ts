/**
 * Requests waiting for Janus on one connection, keyed by the transaction the bridge
 * put on the wire. Each entry leaves the table exactly once: answered, timed out, or
 * failed with the rest when the connection goes.
 */
import { randomBytes } from 'node:crypto';
import { bridgeError, type BridgeError } from '../errors.js';
import type { JanusMessage } from './protocol.js';

/**
 * `text`: the answer as JSON text, Janus's own; for a client's request with the client's transaction in it, ready to
 * pass on.
 */
export type AnswerOrError = { ok: true; answer: JanusMessage; text: string } | { ok: false; error: BridgeError };

export interface PendingRequest {
  readonly verb: string;
  /** The bridge's own command on its session (create, keepalive, …): no client waits for its late answers. */
  readonly sessionCommand: boolean;
  readonly clientTransaction: string | undefined;
  readonly settle: (outcome: AnswerOrError) => void;
}

interface Entry {
  readonly request: PendingRequest;
  /** When the table's own timeout ends it: insertion order is the order of these. */
  readonly deadline: number;
  /** A request that asked for less than the table's timeout has a timer of its own. */
  readonly shortTimer: NodeJS.Timeout | undefined;
}

/**
 * Every request of a table has the same timeout, so insertion order is deadline order:
 * one timer, armed for the oldest entry, expires requests in order. Only a request that
 * asked for a shorter deadline (Janus-Timeout) gets a timer of its own.
 */
export class TransactionTable {
  private readonly pending = new Map<string, Entry>();
  /** Unique per table: a reconnect makes a new table, so a stale answer never matches. */
  private readonly prefix = randomBytes(4).toString('hex') + '-';
  private counter = 0;
  private timer: NodeJS.Timeout | undefined;
  private emptyWaiters: Array<() => void> = [];

  /** `onAbandoned` sees every request that ends without its answer (timed out, or failed with the connection). */
  constructor(
    private readonly timeoutMs: number,
    private readonly onAbandoned: (transaction: string, request: PendingRequest) => void = () => {},
  ) {}

  get size(): number {
    return this.pending.size;
  }

  nextTransaction(): string {
    return this.prefix + (++this.counter).toString(36);
  }

  /** `timeoutMs`: this request's deadline when shorter than the table's. */
  add(transaction: string, request: PendingRequest, timeoutMs = this.timeoutMs): void {
    const shortTimer =
      timeoutMs < this.timeoutMs ? setTimeout(() => this.expireOne(transaction, timeoutMs), timeoutMs) : undefined;
    this.pending.set(transaction, { request, deadline: performance.now() + this.timeoutMs, shortTimer });
    if (!this.timer) this.timer = setTimeout(() => this.expire(), this.timeoutMs);
  }

  /** The verb waiting on `transaction`, without taking it. */
  verbOf(transaction: string): string | undefined {
    return this.pending.get(transaction)?.request.verb;
  }

  /** Removes and returns the request waiting on `transaction`. */
  take(transaction: string): PendingRequest | undefined {
    const entry = this.pending.get(transaction);
    if (!entry) return undefined;
    this.pending.delete(transaction);
    clearTimeout(entry.shortTimer);
    this.notifyIfEmpty();
    return entry.request;
  }

  /** Fails every waiting request with `error` and empties the table. */
  failAll(error: BridgeError): number {
    clearTimeout(this.timer);
    this.timer = undefined;
    const entries = [...this.pending.entries()];
    this.pending.clear();
    for (const [transaction, { request, shortTimer }] of entries) {
      clearTimeout(shortTimer);
      this.onAbandoned(transaction, request);
      request.settle({ ok: false, error });
    }
    this.notifyIfEmpty();
    return entries.length;
  }

  /** Times out every request past its deadline, then re-arms for the oldest one left. */
  private expire(): void {
    this.timer = undefined;
    // The monotonic clock, like the timers: a wall-clock step must not shorten or stretch a timeout.
    const now = performance.now();
    for (const [transaction, { request, deadline }] of this.pending) {
      if (deadline > now) {
        this.timer = setTimeout(() => this.expire(), Math.ceil(deadline - now));
        break;
      }
      this.pending.delete(transaction);
      this.onAbandoned(transaction, request);
      request.settle({ ok: false, error: bridgeError('timeout', `${this.timeoutMs} ms`) });
    }
    this.notifyIfEmpty();
  }

  private expireOne(transaction: string, timeoutMs: number): void {
    const entry = this.pending.get(transaction);
    if (!entry) return;
    this.pending.delete(transaction);
    this.onAbandoned(transaction, entry.request);
    entry.request.settle({ ok: false, error: bridgeError('timeout', `${timeoutMs} ms, the request's Janus-Timeout`) });
    this.notifyIfEmpty();
  }

  /** Resolves once no request is waiting (at once if none is). */
  whenEmpty(): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  private notifyIfEmpty(): void {
    if (this.pending.size !== 0 || this.emptyWaiters.length === 0) return;
    const waiters = this.emptyWaiters;
    this.emptyWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * Our transaction → the client's, kept a bounded time after the request ended (or
 * for fire-and-forget requests, which never wait): late answers and follow-up events
 * are then published with the client's own transaction. Bounded in count, oldest
 * first, and in age; expiry is lazy, so no timer runs.
 */
export class RecentTransactions {
  /**
   * One record per remembered transaction, shared by the Map and the eviction queue: the Map holds the newest for its
   * key.
   */
  private readonly entries = new Map<string, Remembered>();
  /** Records in the order they were remembered, consumed from `head`: eviction never walks the Map. */
  private order: Remembered[] = [];
  private head = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  remember(transaction: string, clientTransaction: string | undefined): void {
    const at = this.now();
    const record: Remembered = { key: transaction, client: clientTransaction, at };
    this.entries.set(transaction, record);
    this.order.push(record);
    while (this.head < this.order.length) {
      const oldest = this.order[this.head]!;
      if (this.entries.size <= this.maxEntries && at - oldest.at < this.ttlMs) break;
      // Only if the key was not remembered again since (then the Map holds a newer record).
      if (this.entries.get(oldest.key) === oldest) this.entries.delete(oldest.key);
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** `found` tells whether we knew the transaction at all; `client` is what the client sent. */
  lookup(transaction: string): { found: boolean; client: string | undefined } {
    const entry = this.entries.get(transaction);
    if (!entry || this.now() - entry.at >= this.ttlMs) return { found: false, client: undefined };
    return { found: true, client: entry.client };
  }
}

interface Remembered {
  readonly key: string;
  readonly client: string | undefined;
  readonly at: number;
}
