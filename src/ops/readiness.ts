/** When the daemon is ready for traffic: a pure rule, so it is stated and tested in one place. */
export interface ReadinessInputs {
  readonly stopping: boolean;
  readonly natsConnected: boolean;
  /** Why the connection list is not loaded, or undefined once it is. */
  readonly listProblem: string | undefined;
  readonly connectionStates: readonly string[];
  /** Share (0–1) of listed connections that must be ready; 0 ignores Janus. */
  readonly readyShare: number;
  /**
   * With http.readyNeedsAdmin: the state of every Admin API link (connections with a janus_admin_url); undefined: they
   * do not count.
   */
  readonly adminStates?: readonly string[] | undefined;
}

export function readinessProblems(inputs: ReadinessInputs): string[] {
  const problems: string[] = [];
  if (inputs.stopping) problems.push('shutting down');
  if (!inputs.natsConnected) problems.push('NATS not connected');
  if (inputs.listProblem) problems.push(inputs.listProblem);
  const total = inputs.connectionStates.length;
  if (inputs.readyShare > 0 && total > 0) {
    const ready = inputs.connectionStates.filter((state) => state === 'ready').length;
    const needed = Math.ceil(inputs.readyShare * total);
    if (ready < needed) problems.push(`${ready} of ${total} Janus connections ready, http.readyShare needs ${needed}`);
  }
  const admin = inputs.adminStates;
  if (admin && admin.some((state) => state !== 'ready')) {
    const open = admin.filter((state) => state === 'ready').length;
    problems.push(`${open} of ${admin.length} Janus Admin API links open, http.readyNeedsAdmin needs all`);
  }
  return problems;
}
