/**
 * Bytes handed to the NATS client that the server has not confirmed yet. The server
 * confirms by answering a ping: every byte handed over before the ping was sent has then
 * been read. One ping is out at a time. Pure bookkeeping, no I/O, no clock of its own.
 */
export class PendingBudget {
  private handedTotal = 0;
  private confirmedTotal = 0;
  private probe: { readonly sentAt: number; readonly mark: number } | undefined;

  get unconfirmed(): number {
    return this.handedTotal - this.confirmedTotal;
  }

  handed(bytes: number): void {
    this.handedTotal += bytes;
  }

  /** Whether a ping is out. */
  get probing(): boolean {
    return this.probe !== undefined;
  }

  /** How long the ping out has waited, or undefined when none is out. */
  probeAge(now: number): number | undefined {
    return this.probe === undefined ? undefined : now - this.probe.sentAt;
  }

  /** A ping goes out now; returns the mark that its answer confirms. */
  startProbe(now: number): number {
    this.probe = { sentAt: now, mark: this.handedTotal };
    return this.probe.mark;
  }

  confirm(mark: number): void {
    this.confirmedTotal = Math.max(this.confirmedTotal, mark);
    this.probe = undefined;
  }

  /** The ping failed (the client was closing): a new one may go out. */
  abandonProbe(): void {
    this.probe = undefined;
  }

  /** The connection is gone: returns how many bytes it took with it, and starts over. */
  writeOffUnconfirmed(): number {
    const lost = this.unconfirmed;
    this.confirmedTotal = this.handedTotal;
    this.probe = undefined;
    return lost;
  }
}
