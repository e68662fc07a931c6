import type { ConnectionSpec } from './spec.js';

/**
 * Which of the listed connections this process serves. Today one process serves
 * them all; with several replicas a lease per connection will decide, and the
 * answer will change on its own (a lease won or lost), hence the listener.
 */
export interface Ownership {
  /** Takes the full list; resolves once the subset to serve now has been applied. */
  offer(list: readonly ConnectionSpec[]): Promise<void>;
  onServedChange(listener: (served: readonly ConnectionSpec[]) => Promise<unknown>): void;
}

export class ServeEverything implements Ownership {
  private listener: (served: readonly ConnectionSpec[]) => Promise<unknown> = async () => {};

  async offer(list: readonly ConnectionSpec[]): Promise<void> {
    await this.listener(list);
  }

  onServedChange(listener: (served: readonly ConnectionSpec[]) => Promise<unknown>): void {
    this.listener = listener;
  }
}
