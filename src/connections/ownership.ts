import type { ConnectionSpec } from './spec.js';

/**
 * Which of the listed connections this process serves. One process alone serves them
 * all (ServeEverything); with several replicas a lease per connection decides
 * (src/ha/lease-ownership.ts), and what is served then also changes on its own.
 */
export interface Ownership {
  /** Takes the full list; resolves once what this process serves of it has been settled. */
  offer(list: readonly ConnectionSpec[]): Promise<void>;
}

export class ServeEverything implements Ownership {
  constructor(private readonly serve: (specs: readonly ConnectionSpec[]) => Promise<unknown>) {}

  async offer(list: readonly ConnectionSpec[]): Promise<void> {
    await this.serve(list);
  }
}
