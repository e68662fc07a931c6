/**
 * When a balance is due sooner than the next tick: after the settling time, at a replica's
 * TTL of silence, at the next taker's turn. One timer, set to ring no later than the earliest
 * time asked for. A later time asked for meanwhile is not kept: every balance asks again for
 * what it still waits for, so the ring's balance does.
 */
export class BalanceAlarm {
  private timer: NodeJS.Timeout | undefined;
  private due = Number.POSITIVE_INFINITY;
  private stopped = false;

  constructor(
    private readonly ring: () => void,
    private readonly clock: () => number,
  ) {}

  /** Rings in `delayMs`, unless it is set to ring sooner. */
  in(delayMs: number): void {
    const at = this.clock() + Math.max(0, delayMs);
    if (this.stopped || at >= this.due) return;
    clearTimeout(this.timer);
    this.due = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.due = Number.POSITIVE_INFINITY;
      this.ring();
    }, at - this.clock());
  }

  /** For good: a balance already under way when the replica stops cannot set it again. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.due = Number.POSITIVE_INFINITY;
  }
}
