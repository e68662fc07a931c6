/**
 * Events captured durably: published through JetStream into a stream over
 * `<prefix>.event.>`, in the order Janus sent them, with at most `maxPending` waiting
 * for their acknowledgement and at most `bufferSize` queued. Requests never wait for
 * any of it. A publish whose ack is lost is sent again, from the first unacknowledged
 * event on, with the same Nats-Msg-Id, so the stream keeps order and stores it once.
 */
import { nanos, NatsError, StorageType, type JetStreamClient, type NatsConnection, type StreamConfig } from 'nats';
import { backoffDelay } from '../backoff.js';
import type { Logger } from '../log.js';
import {
  exceedsMaxPayload,
  isMaxPayloadError,
  LOG_EVERY_MS,
  OversizeLog,
  publishedBytes,
  type EventSink,
  type EventSinkStats,
  type OutgoingEvent,
} from './event-sink.js';

export interface StreamSettings {
  readonly name: string;
  readonly subjects: string[];
  readonly maxAgeSeconds: number;
  readonly maxBytes: number;
  readonly storage: 'file' | 'memory';
  readonly replicas: number;
  readonly maxPending: number;
  readonly bufferSize: number;
}

interface Entry {
  readonly event: OutgoingEvent;
  done: boolean;
}

const RETRY = { minDelay: 250, maxDelay: 5_000 };
const ACK_TIMEOUT_MS = 5_000;

export class JetStreamEventSink implements EventSink {
  private readonly js: JetStreamClient;
  /** Events in order; `entries[head]` is the oldest not yet acknowledged. */
  private entries: Entry[] = [];
  private head = 0;
  /** The next entry to send. */
  private next = 0;
  private inFlight = 0;
  private ready = false;
  private retrying = false;
  private failures = 0;
  private noStream = 0;
  private stopped = false;
  private setupTimer: NodeJS.Timeout | undefined;
  private rewindTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private unlogged = { dropped: 0, refused: 0, lastReason: '' };
  private logTimer: NodeJS.Timeout | undefined;
  private readonly oversize: OversizeLog;
  /** Since start (see stats()). */
  private readonly totals = { published: 0, dropped: 0, refused: 0, tooLarge: 0, retried: 0 };

  constructor(
    private readonly nc: NatsConnection,
    private readonly settings: StreamSettings,
    private readonly log: Logger,
  ) {
    this.js = nc.jetstream();
    this.oversize = new OversizeLog(log);
    void this.ensureStream(0);
  }

  /** Events in the buffer: not yet acknowledged, refused or dropped. */
  get waiting(): number {
    return this.entries.length - this.head;
  }

  stats(): EventSinkStats {
    return { ...this.totals, waiting: this.waiting };
  }

  publish(event: OutgoingEvent): void {
    // Decided before it takes a place in the buffer: retried, it would hold every later event back for good.
    const bytes = publishedBytes(event);
    const maxPayload = this.nc.info?.max_payload;
    if (exceedsMaxPayload(bytes, maxPayload)) {
      this.tooLarge(event, bytes, maxPayload!);
      return;
    }
    if (this.waiting >= this.settings.bufferSize) {
      this.totals.dropped++;
      this.unlogged.dropped++;
      this.scheduleLog();
      event.report('buffer_full');
      return;
    }
    this.entries.push({ event, done: false });
    this.pump();
  }

  flush(timeoutMs: number): Promise<void> {
    if (this.entries.length === this.head) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.setupTimer);
    clearTimeout(this.rewindTimer);
    this.flushLog();
    this.oversize.flush();
  }

  private tooLarge(event: OutgoingEvent, bytes: number, maxPayload: number): void {
    this.totals.tooLarge++;
    this.oversize.note(event.subject, bytes, maxPayload);
    event.report('too_large');
  }

  /** Creates the stream, or checks the one that exists (reported when different, never changed). */
  private async ensureStream(attempt: number): Promise<void> {
    if (this.stopped) return;
    const wanted = this.streamConfig();
    try {
      const jsm = await this.nc.jetstreamManager();
      const existing = await jsm.streams.info(wanted.name).catch((err: NatsError) => {
        if (err.api_error?.err_code === 10059 || err.code === '404') return undefined;
        throw err;
      });
      if (!existing) {
        await jsm.streams.add(wanted);
        this.log.info({ stream: wanted.name, subjects: wanted.subjects }, 'event stream created');
      } else {
        const differences = describeDifferences(existing.config, wanted);
        if (differences.length) {
          this.log.error(
            { stream: wanted.name, differences },
            'the event stream exists with another configuration; it is used as it is, not changed',
          );
        }
      }
      this.ready = true;
      this.pump();
    } catch (err) {
      const delay = backoffDelay(attempt, RETRY);
      this.log.error(
        { stream: wanted.name, err: (err as Error).message, retry_in_ms: delay },
        'cannot set up the event stream; events wait in the buffer',
      );
      this.setupTimer = setTimeout(() => void this.ensureStream(attempt + 1), delay);
    }
  }

  private streamConfig(): Partial<StreamConfig> & { name: string; subjects: string[] } {
    return {
      name: this.settings.name,
      subjects: this.settings.subjects,
      max_age: nanos(this.settings.maxAgeSeconds * 1000),
      max_bytes: this.settings.maxBytes,
      storage: this.settings.storage === 'memory' ? StorageType.Memory : StorageType.File,
      num_replicas: this.settings.replicas,
    };
  }

  private pump(): void {
    if (!this.ready || this.retrying || this.stopped) return;
    while (this.inFlight < this.settings.maxPending && this.next < this.entries.length) {
      const entry = this.entries[this.next++]!;
      // After a rewind, events acknowledged meanwhile need no second send.
      if (!entry.done) this.send(entry);
    }
  }

  private send(entry: Entry): void {
    this.inFlight++;
    const { event } = entry;
    this.js
      .publish(event.subject, event.data, { msgID: event.msgId, headers: event.headers, timeout: ACK_TIMEOUT_MS })
      .then(
        () => {
          if (entry.done) return;
          entry.done = true;
          this.failures = 0;
          this.noStream = 0;
          this.totals.published++;
          event.report('published');
        },
        (err: NatsError) => {
          if (entry.done) return;
          if (isMaxPayloadError(err)) {
            // Fitted when it was buffered; the server now connected takes less (another one, or one reconfigured).
            entry.done = true;
            this.tooLarge(event, publishedBytes(event), this.nc.info?.max_payload ?? 0);
          } else if (isRefusal(err)) {
            // The stream answered and refused it (full with discard new, message too large): retrying would not help.
            entry.done = true;
            this.totals.refused++;
            this.unlogged.refused++;
            this.unlogged.lastReason = err.api_error?.description ?? err.message;
            this.scheduleLog();
            event.report('refused');
          } else {
            if (err.code === '503' && ++this.noStream >= 3) {
              // Nobody captures the subject any more (the stream was deleted): set it up again.
              this.noStream = 0;
              this.ready = false;
              void this.ensureStream(0);
            }
            this.retryFromOldest(err);
          }
        },
      )
      .finally(() => {
        this.inFlight--;
        this.trim();
        if (this.retrying && this.inFlight === 0) this.rewind();
        this.pump();
      });
  }

  /**
   * No ack (timeout, NATS away): stop sending, and once nothing is in flight, resend from the oldest unacknowledged.
   */
  private retryFromOldest(err: Error): void {
    if (this.retrying) return;
    this.retrying = true;
    this.totals.retried++;
    this.log.warn(
      { err: err.message, waiting: this.entries.length - this.head },
      'JetStream did not acknowledge an event; resending from the oldest unacknowledged',
    );
  }

  private rewind(): void {
    const delay = backoffDelay(this.failures++, RETRY);
    this.rewindTimer = setTimeout(() => {
      this.retrying = false;
      this.next = this.head;
      this.pump();
    }, delay);
  }

  /** Forgets acknowledged events at the head; wakes flush() when nothing is left. */
  private trim(): void {
    while (this.head < this.entries.length && this.entries[this.head]!.done) this.head++;
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.next -= this.head;
      this.head = 0;
    }
    if (this.head === this.entries.length) {
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private scheduleLog(): void {
    if (!this.logTimer) this.logTimer = setTimeout(() => this.flushLog(), LOG_EVERY_MS);
  }

  private flushLog(): void {
    clearTimeout(this.logTimer);
    this.logTimer = undefined;
    const { dropped, refused, lastReason } = this.unlogged;
    if (dropped)
      this.log.error(
        { dropped, buffer: this.settings.bufferSize },
        `${dropped} events dropped: JetStream is too slow or away and the buffer is full`,
      );
    if (refused) this.log.error({ refused, reason: lastReason }, `${refused} events refused by the event stream`);
    this.unlogged = { dropped: 0, refused: 0, lastReason: '' };
  }
}

/**
 * JetStream answered and will say the same again: the stream is full and discards new
 * messages, or the message breaks one of its limits. Anything else (no answer, the system
 * temporarily unavailable during an election, no stream yet) is worth sending again.
 */
function isRefusal(err: NatsError): boolean {
  const description = err.api_error?.description ?? '';
  return /maximum|exceed|too large|limit/i.test(description);
}

function describeDifferences(existing: StreamConfig, wanted: ReturnType<JetStreamEventSink['streamConfig']>): string[] {
  const differences: string[] = [];
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
  if (!same([...(existing.subjects ?? [])].sort(), [...wanted.subjects].sort()))
    differences.push(`subjects ${JSON.stringify(existing.subjects)} (configured ${JSON.stringify(wanted.subjects)})`);
  for (const key of ['max_age', 'max_bytes', 'storage', 'num_replicas'] as const) {
    if (!same(existing[key], wanted[key]))
      differences.push(`${key} ${String(existing[key])} (configured ${String(wanted[key])})`);
  }
  return differences;
}
