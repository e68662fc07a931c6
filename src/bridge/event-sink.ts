/** Where events go: core NATS (fire and forget), or JetStream (see jetstream-sink.ts). */
import type { MsgHdrs } from 'nats';
import type { NatsLink } from '../nats.js';
import type { EventResult } from '../ops/metrics.js';

export interface OutgoingEvent {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs;
  /** Nats-Msg-Id: the same on every attempt, so JetStream stores a retried event once. */
  readonly msgId: string;
  /** Told once what became of the event. */
  readonly report: (result: EventResult) => void;
}

export interface EventSink {
  /** Never blocks: the event is sent, queued, or dropped and reported. */
  publish(event: OutgoingEvent): void;
  /** Waits (up to timeoutMs) for events still queued, e.g. before shutdown. */
  flush(timeoutMs: number): Promise<void>;
  stop(): void;
}

export class CoreEventSink implements EventSink {
  constructor(private readonly link: NatsLink) {}

  publish(event: OutgoingEvent): void {
    event.report(this.link.publish(event.subject, event.data, event.headers) === 'dropped' ? 'nats_unavailable' : 'published');
  }

  async flush(): Promise<void> {}

  stop(): void {}
}
