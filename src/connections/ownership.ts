import type { ConnectionSpec } from './spec.js';

/**
 * Which of the listed connections this process serves. Today one process serves
 * them all; with several replicas a lease per connection will decide, and the
 * answer will change on its own (a lease won or lost), hence the listener.
 */
export interface Ownership {
  /** Takes the full list; reports the subset to serve now and whenever it changes. */
  offer(list: readonly ConnectionSpec[]): void;
  onServedChange(listener: (served: readonly ConnectionSpec[]) => void): void;
}

export class ServeEverything implements Ownership {
  private listener: (served: readonly ConnectionSpec[]) => void = () => {};

  offer(list: readonly ConnectionSpec[]): void {
    this.listener(list);
  }

  onServedChange(listener: (served: readonly ConnectionSpec[]) => void): void {
    this.listener = listener;
  }
}
