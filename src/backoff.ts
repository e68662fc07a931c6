/**
 * Reconnect delays: exponential from `minDelay`, capped at `maxDelay`, with "equal
 * jitter" (half fixed, half random) so that many connections to one restarted Janus
 * do not dial in lock-step, yet none waits much longer than the cap.
 */
export interface BackoffPolicy {
  readonly minDelay: number;
  readonly maxDelay: number;
}

export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponential = policy.minDelay * 2 ** Math.min(Math.max(attempt, 0), 30);
  const ceiling = Math.min(policy.maxDelay, exponential);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
