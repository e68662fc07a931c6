/** Where events go: core NATS (fire and forget), or JetStream (see jetstream-sink.ts). */
import { ErrorCode, type MsgHdrs, type NatsConnection } from 'nats';
import type { Logger } from '../log.js';
import { HeaderBlock } from '../nats/header-block.js';
import type { NatsPublisher } from '../nats/publisher.js';
import type { EventResult } from './reporting.js';

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
  /** What it counted since start. */
  stats(): EventSinkStats;
}

/**
 * What an event sink counted since start. Through core NATS only the events too large for the
 * server (the publisher counts the rest); with JetStream capture, also what became of the others.
 */
export interface EventSinkStats {
  /** Events larger than the NATS server's max_payload, dropped before they were sent. */
  readonly tooLarge: number;
  /** Capture: events the stream acknowledged. */
  readonly published?: number;
  /** Capture: events dropped because the buffer was full. */
  readonly dropped?: number;
  /** Capture: events the stream refused. */
  readonly refused?: number;
  /** Capture: sends tried again (after a timeout or while the stream was missing). */
  readonly retried?: number;
  /** Capture: events in the buffer now, not yet acknowledged, refused or dropped. */
  readonly waiting?: number;
}

/** Drops and refusals are logged at most this often, with their counts. */
export const LOG_EVERY_MS = 5_000;

/**
 * The bytes a publish counts against the server's max_payload. The client and the server
 * both count the header block with the body, so an event whose body fits can still be
 * refused because of its headers.
 */
export function publishedBytes(event: Pick<OutgoingEvent, 'data' | 'headers'>): number {
  return event.data.byteLength + headerBlockBytes(event.headers);
}

/**
 * The length of the header block nats.js sends (`NATS/1.0`, one `\r\nName: value` per
 * value, `\r\n\r\n`; nothing at all when there are no headers). Worked out from the public
 * interface because MsgHdrs does not declare the encode() its implementation has.
 */
export function headerBlockBytes(headers: MsgHdrs): number {
  if (headers instanceof HeaderBlock) return headers.byteLength;
  let bytes = 0;
  for (const [name, values] of headers) {
    for (const value of values) bytes += 2 + Buffer.byteLength(name) + 2 + Buffer.byteLength(value);
  }
  return bytes === 0 ? 0 : Buffer.byteLength('NATS/1.0') + bytes + 4;
}

/**
 * Whether the server can never take a message of `bytes`: it closes the connection of a
 * client that sends one (and nats.js refuses to send it), so sending it again cannot help.
 * Without a server's INFO (never connected) nothing is known, so nothing is called too large.
 */
export function exceedsMaxPayload(bytes: number, maxPayload: number | undefined): boolean {
  return maxPayload !== undefined && maxPayload > 0 && bytes > maxPayload;
}

/** The error nats.js gives, thrown by publish() or as the rejection of request(), for a message over max_payload. */
export function isMaxPayloadError(err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === ErrorCode.MaxPayloadExceeded;
}

/**
 * Oversize events, logged once per burst with their count, the largest size and the limit.
 * Never the body: it is whatever Janus sent, and at this size it would flood the log.
 */
export class OversizeLog {
  private unlogged = { count: 0, largest: 0, maxPayload: 0, subject: '' };
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly log: Logger | undefined) {}

  note(subject: string, bytes: number, maxPayload: number): void {
    const unlogged = this.unlogged;
    unlogged.count++;
    unlogged.largest = Math.max(unlogged.largest, bytes);
    unlogged.maxPayload = maxPayload;
    unlogged.subject = subject;
    if (!this.timer) this.timer = setTimeout(() => this.flush(), LOG_EVERY_MS);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const { count, largest, maxPayload, subject } = this.unlogged;
    this.unlogged = { count: 0, largest: 0, maxPayload: 0, subject: '' };
    if (!count || !this.log) return;
    this.log.error(
      { too_large: count, largest_bytes: largest, max_payload: maxPayload, last_subject: subject },
      `${count} events dropped: larger than the NATS server's max_payload (${maxPayload} bytes)`,
    );
  }
}

/** What the core sink needs of the publisher: publishing, and the server's INFO for its max_payload. */
export type CorePublisher = Pick<NatsPublisher, 'publish'> & { readonly nc: Pick<NatsConnection, 'info'> };

export class CoreEventSink implements EventSink {
  private readonly oversize: OversizeLog;
  private tooLarge = 0;

  /** Without `log`, oversize events are still counted, just not logged. */
  constructor(
    private readonly publisher: CorePublisher,
    log?: Logger,
  ) {
    this.oversize = new OversizeLog(log);
  }

  publish(event: OutgoingEvent): void {
    // Checked here because the publisher would count the client's refusal as NATS being unavailable.
    const maxPayload = this.publisher.nc.info?.max_payload;
    const bytes = publishedBytes(event);
    if (exceedsMaxPayload(bytes, maxPayload)) {
      this.tooLarge++;
      this.oversize.note(event.subject, bytes, maxPayload!);
      event.report('too_large');
      return;
    }
    event.report(
      this.publisher.publish(event.subject, event.data, event.headers) === 'dropped' ? 'nats_unavailable' : 'published',
    );
  }

  async flush(): Promise<void> {}

  stats(): EventSinkStats {
    return { tooLarge: this.tooLarge };
  }

  stop(): void {
    this.oversize.flush();
  }
}
