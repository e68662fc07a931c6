/**
 * A push-fed async iterator: the producer pushes values (and ends it, possibly with an error),
 * one consumer pulls them with `for await`. Values pushed before the consumer starts are kept.
 * Breaking out of the loop (return()) runs `onReturn` once, with the values nobody took, so the
 * producer can stop feeding (and hand those back).
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly values: T[] = [];
  private head = 0;
  private waiting: { resolve: (result: IteratorResult<T>) => void; reject: (err: unknown) => void } | undefined;
  private finished = false;
  private failure: { error: unknown } | undefined;
  private returned = false;
  private emptied: Array<() => void> = [];

  constructor(private readonly onReturn?: (left: T[]) => void) {}

  /** Values pushed and not yet taken. */
  get size(): number {
    return this.values.length - this.head;
  }

  get ended(): boolean {
    return this.finished;
  }

  push(value: T): void {
    if (this.finished) return;
    if (this.waiting) {
      const waiter = this.waiting;
      this.waiting = undefined;
      waiter.resolve({ value, done: false });
      return;
    }
    this.values.push(value);
  }

  /** No more values: the consumer gets what is queued, then the end (or `error`, thrown from next()). */
  end(error?: unknown): void {
    if (this.finished) return;
    this.finished = true;
    if (error !== undefined) this.failure = { error };
    this.wakeEmptied();
    if (this.waiting && this.size === 0) {
      const waiter = this.waiting;
      this.waiting = undefined;
      if (this.failure) {
        const { error: thrown } = this.failure;
        this.failure = undefined;
        waiter.reject(thrown);
      } else {
        waiter.resolve({ value: undefined, done: true });
      }
    }
  }

  /** Takes what is queued without waiting (for a producer that must hand back what nobody took). */
  drain(): T[] {
    const rest = this.values.slice(this.head);
    this.values.length = 0;
    this.head = 0;
    return rest;
  }

  /** Resolves once every value pushed so far was taken (or the queue ended). */
  whenEmpty(): Promise<void> {
    if (this.size === 0 || this.finished) return Promise.resolve();
    return new Promise((resolve) => this.emptied.push(resolve));
  }

  private wakeEmptied(): void {
    for (const wake of this.emptied.splice(0)) wake();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.size > 0) {
      const value = this.values[this.head] as T;
      this.values[this.head] = undefined as T;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.values.length) {
        this.values.splice(0, this.head);
        this.head = 0;
      }
      if (this.size === 0) this.wakeEmptied();
      return Promise.resolve({ value, done: false });
    }
    if (this.finished) {
      if (this.failure) {
        const { error } = this.failure;
        this.failure = undefined;
        return Promise.reject(error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    if (this.waiting) return Promise.reject(new Error('AsyncQueue: next() called while a previous next() is pending'));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    if (!this.returned) {
      this.returned = true;
      this.end();
      this.onReturn?.(this.drain());
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
