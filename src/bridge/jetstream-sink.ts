/**
 * Events captured durably: published into a JetStream stream over `<prefix>.event.>`, in the
 * order Janus sent them, with at most `maxPending` waiting for their acknowledgement and at
 * most `bufferSize` queued. Requests never wait for any of it. A publish whose ack is lost is
 * sent again, from the first unacknowledged event on, with the same Nats-Msg-Id, so the
 * stream keeps order and stores it once.
 *
 * Each event goes out as a plain core NATS publish with a reply subject, not through nats.js's
 * `js.publish()`: that one makes a request per message (a token, promises, a timer and three
 * Error objects with their stack traces), which cost more than everything else the daemon
 * does for an event. Here the reply subject is `<inbox>.<token>`, one wildcard subscription
 * of the sink receives every acknowledgement, and one timer checks the deadlines. It is the
 * same exchange on the wire (a JetStream publish is a publish whose reply gets the PubAck),
 * so live subscribers of the event subjects receive each event the moment it is sent.
 */
import {
  createInbox,
  nanos,
  NatsError,
  StorageType,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type StreamConfig,
  type Subscription,
} from 'nats';
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
  /** While sent and not yet answered: when the sink stops waiting for the ack (performance.now(), monotonic). */
  deadline: number;
}

/** Why an attempt failed (for the log), and what follows from it. */
interface Failure {
  readonly reason: string;
  /** 503: nobody captures the subject (no responders), or JetStream is unavailable. */
  readonly unavailable: boolean;
  /** The stream answered and would refuse the event again (see isRefusal). */
  readonly refused: boolean;
}

const RETRY = { minDelay: 250, maxDelay: 5_000 };
export const ACK_TIMEOUT_MS = 5_000;
const MSG_ID = 'Nats-Msg-Id';
const NO_ACK: Failure = { reason: `no ack within ${ACK_TIMEOUT_MS} ms`, unavailable: false, refused: false };

export class JetStreamEventSink implements EventSink {
  /** Events in order; `entries[head]` is the oldest not yet acknowledged. */
  private entries: Entry[] = [];
  private head = 0;
  /** The next entry to send. */
  private next = 0;
  /** Sent entries waiting for their ack, by reply token, in the order they were sent (a Map keeps it). */
  private readonly inFlight = new Map<string, Entry>();
  /** Reply subjects are `<inbox>.<token>`; the sink's subscription is `<inbox>.*`. */
  private readonly replyPrefix = `${createInbox()}.`;
  private tokens = 0;
  private sub: Subscription | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
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
  private readonly readyWaiters: Array<() => void> = [];
  /** Since start (see stats()). */
  private readonly totals = { published: 0, dropped: 0, refused: 0, tooLarge: 0, retried: 0 };

  constructor(
    private readonly nc: NatsConnection,
    private readonly settings: StreamSettings,
    private readonly log: Logger,
  ) {
    this.oversize = new OversizeLog(log);
    void this.ensureStream(0);
  }

  /**
   * Resolves true once the stream is set up, or false after `timeoutMs`. The daemon waits for
   * it before it starts its connections: a status message (captureStatus) published before the
   * stream exists would not be captured, and it is the one a service that was away needs.
   */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Events in the buffer: not yet acknowledged, refused or dropped. */
  get waiting(): number {
    return this.entries.length - this.head;
  }

  stats(): EventSinkStats {
    return { ...this.totals, waiting: this.waiting };
  }

  publish(event: OutgoingEvent): void {
    withMsgId(event.headers, event.msgId);
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
    this.entries.push({ event, done: false, deadline: 0 });
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
    clearTimeout(this.deadlineTimer);
    this.sub?.unsubscribe();
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
      if (this.stopped) return;
      this.listen();
      this.ready = true;
      for (const wake of this.readyWaiters.splice(0)) wake();
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

  /** The one subscription every ack arrives on; made again when NATS closed it (a permissions error). */
  private listen(): void {
    if (this.sub && !this.sub.isClosed()) return;
    this.sub = this.nc.subscribe(`${this.replyPrefix}*`, { callback: (err, msg) => this.answered(err, msg) });
  }

  private pump(): void {
    if (!this.ready || this.stopped) return;
    while (!this.retrying && this.inFlight.size < this.settings.maxPending && this.next < this.entries.length) {
      const entry = this.entries[this.next++]!;
      // After a rewind, events acknowledged meanwhile need no second send.
      if (!entry.done) this.send(entry);
    }
    // A send can end at once (refused by the client), so the head may be done and a rewind due.
    this.trim();
    if (this.retrying && this.inFlight.size === 0 && this.rewindTimer === undefined) this.rewind();
  }

  private send(entry: Entry): void {
    const { event } = entry;
    const token = (++this.tokens).toString(36);
    try {
      // The headers carry the Nats-Msg-Id (see publish()), so a resend is stored once.
      this.nc.publish(event.subject, event.data, { reply: this.replyPrefix + token, headers: event.headers });
    } catch (err) {
      if (isMaxPayloadError(err)) {
        // Fitted when it was buffered; the server now connected takes less (another one, or one reconfigured).
        entry.done = true;
        this.tooLarge(event, publishedBytes(event), this.nc.info?.max_payload ?? 0);
      } else {
        // The client refused to send it (the connection is closing, for one): tried again later.
        this.retryFromOldest((err as Error).message);
      }
      return;
    }
    entry.deadline = performance.now() + ACK_TIMEOUT_MS;
    this.inFlight.set(token, entry);
    this.deadlineTimer ??= setTimeout(() => this.expire(), ACK_TIMEOUT_MS);
  }

  /** An ack, a JetStream error or a no-responders status, for the attempt whose token ends the subject. */
  private answered(err: NatsError | null, msg: Msg): void {
    if (err) {
      this.log.error({ err: err.message }, 'cannot receive the acknowledgements of the event stream');
      return;
    }
    const token = msg.subject.slice(this.replyPrefix.length);
    const entry = this.inFlight.get(token);
    // Unknown: the answer came after its deadline, and the event is (or was) sent again.
    if (!entry) return;
    this.inFlight.delete(token);
    const failure = ackFailure(msg);
    if (failure) this.failed(entry, failure);
    else if (!entry.done) {
      entry.done = true;
      this.failures = 0;
      this.noStream = 0;
      this.totals.published++;
      entry.event.report('published');
    }
    this.pump();
  }

  private failed(entry: Entry, failure: Failure): void {
    if (entry.done) return;
    if (failure.refused) {
      // The stream answered and refused it (full with discard new, message too large): retrying would not help.
      entry.done = true;
      this.totals.refused++;
      this.unlogged.refused++;
      this.unlogged.lastReason = failure.reason;
      this.scheduleLog();
      entry.event.report('refused');
      return;
    }
    if (failure.unavailable && ++this.noStream >= 3 && this.ready) {
      // Nobody captures the subject any more (the stream was deleted): set it up again.
      this.noStream = 0;
      this.ready = false;
      void this.ensureStream(0);
    }
    this.retryFromOldest(failure.reason);
  }

  /**
   * Gives up on the attempts past their deadline. One timer for the sink: entries are sent, and so
   * enter `inFlight`, in deadline order, so it waits for the oldest one's.
   */
  private expire(): void {
    this.deadlineTimer = undefined;
    if (this.stopped) return;
    const now = performance.now();
    for (const [token, entry] of this.inFlight) {
      if (entry.deadline > now) {
        this.deadlineTimer = setTimeout(() => this.expire(), entry.deadline - now);
        break;
      }
      this.inFlight.delete(token);
      this.failed(entry, NO_ACK);
    }
    this.pump();
  }

  /**
   * No ack (timeout, NATS away): stop sending, and once nothing is in flight, resend from the oldest unacknowledged.
   */
  private retryFromOldest(reason: string): void {
    if (this.retrying) return;
    this.retrying = true;
    this.totals.retried++;
    this.log.warn(
      { err: reason, waiting: this.entries.length - this.head },
      'JetStream did not acknowledge an event; resending from the oldest unacknowledged',
    );
  }

  private rewind(): void {
    const delay = backoffDelay(this.failures++, RETRY);
    this.rewindTimer = setTimeout(() => {
      this.rewindTimer = undefined;
      this.retrying = false;
      this.next = this.head;
      if (this.ready && !this.stopped) {
        try {
          this.listen();
        } catch {
          // The connection is closing: the sends below fail as well and are tried again after the next delay.
        }
      }
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
    if (this.head === this.entries.length && this.idleWaiters.length) {
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
 * The headers with the event's Nats-Msg-Id, which is what lets JetStream store a resent event
 * once. The publishers put it there already; set here when one did not (as js.publish() did).
 */
function withMsgId(headers: MsgHdrs, msgId: string): void {
  const present = headers.values(MSG_ID);
  if (present.length === 1 && present[0] === msgId) return;
  try {
    headers.set(MSG_ID, msgId);
  } catch {
    // A value nats.js refuses (CR or LF): sent without it, the event is stored all the same, only not deduplicated.
  }
}

/**
 * What JetStream answered to a publish, read without the layers of nats.js: a PubAck
 * (`{"stream":..,"seq":..,"duplicate":true?}`, a duplicate being stored already), a JetStream
 * error (`{"error":{"code":..,"err_code":..,"description":..}}`), or a status without a body
 * (503: no responders, nothing captures the subject). Undefined when the event is stored.
 */
export function ackFailure(msg: Pick<Msg, 'data' | 'headers' | 'string'>): Failure | undefined {
  if (isPlainAck(msg.data)) return undefined;
  if (msg.data.length === 0) {
    const code = msg.headers?.code ?? 0;
    return { reason: code === 503 ? 'no responders' : `status ${code}`, unavailable: code === 503, refused: false };
  }
  let answer: { stream?: unknown; error?: { code?: unknown; description?: unknown } };
  try {
    answer = JSON.parse(msg.string()) as typeof answer;
  } catch {
    return { reason: 'unreadable acknowledgement', unavailable: false, refused: false };
  }
  const { error } = answer;
  if (error) {
    const description = typeof error.description === 'string' ? error.description : '';
    return {
      reason: description || `error ${String(error.code)}`,
      unavailable: error.code === 503,
      refused: isRefusal(description),
    };
  }
  if (typeof answer.stream !== 'string' || answer.stream === '')
    return { reason: 'acknowledgement without a stream', unavailable: false, refused: false };
  return undefined;
}

/** How nats-server begins a PubAck, and the key of an error, as bytes. */
const ACK_START = new TextEncoder().encode('{"stream":"');
const ERROR_KEY = new TextEncoder().encode('"error"');
const QUOTE = 0x22;

/**
 * The common case, read without decoding nor parsing the JSON (which costs more than the rest of
 * the sink's work for an event): an ack that starts `{"stream":"` with a name, and holds no
 * `"error"` key (nats-server writes an error first, but wherever it stands it is seen). Anything
 * else, including a stream or domain named `error`, takes the full parse in ackFailure().
 */
function isPlainAck(data: Uint8Array): boolean {
  // A quote right after the start would be an empty stream name: not an ack.
  if (data.length <= ACK_START.length || data[ACK_START.length] === QUOTE) return false;
  for (let i = 0; i < ACK_START.length; i++) if (data[i] !== ACK_START[i]) return false;
  return !contains(data, ERROR_KEY);
}

function contains(data: Uint8Array, part: Uint8Array): boolean {
  search: for (let at = 0; at <= data.length - part.length; at++) {
    for (let i = 0; i < part.length; i++) if (data[at + i] !== part[i]) continue search;
    return true;
  }
  return false;
}

/**
 * JetStream answered and will say the same again: the stream is full and discards new
 * messages, or the message breaks one of its limits. Anything else (no answer, the system
 * temporarily unavailable during an election, no stream yet) is worth sending again.
 */
function isRefusal(description: string): boolean {
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
