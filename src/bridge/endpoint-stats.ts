/**
 * What one request endpoint counts for NATS service discovery (ADR-32: $SRV.STATS), kept by the connection it belongs
 * to.
 */

/** Statistics of one endpoint, in ADR-32's terms. */
export class EndpointStats {
  numRequests = 0;
  numErrors = 0;
  lastError = '';
  processingNanos = 0;

  constructor(
    readonly name: string,
    readonly subject: string,
    readonly queueGroup: string,
  ) {}

  record(seconds: number, error?: { code: number; reason: string }): void {
    this.numRequests++;
    this.processingNanos += Math.round(seconds * 1e9);
    if (error) {
      this.numErrors++;
      this.lastError = `${error.code}:${error.reason}`;
    }
  }

  info(): Record<string, unknown> {
    return { name: this.name, subject: this.subject, queue_group: this.queueGroup, metadata: null };
  }

  stats(): Record<string, unknown> {
    return {
      name: this.name,
      subject: this.subject,
      queue_group: this.queueGroup,
      num_requests: this.numRequests,
      num_errors: this.numErrors,
      last_error: this.lastError,
      processing_time: this.processingNanos,
      average_processing_time: this.numRequests ? Math.round(this.processingNanos / this.numRequests) : 0,
    };
  }
}
