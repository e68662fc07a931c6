/**
 * Reading what the bridge publishes: Janus's notifications (`<prefix>.event.…`), live or from
 * the bridge's JetStream capture as a durable consumer, and the connection lifecycle
 * (`<prefix>.status.<janus_id>`).
 */
import {
  AckPolicy,
  DeliverPolicy,
  type JsMsg,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from 'nats';
import { JanusNatsError } from './errors.js';
import type { Jsep } from './handle-api.js';
import { AsyncQueue } from './queue.js';
import { checkJanusId, checkPrefix, DEFAULT_PREFIX, defaultStreamName, subjects } from './subjects.js';

/** A message from Janus as the bridge forwards it (`janus_body`). */
export interface JanusBody {
  readonly janus: string;
  readonly session_id?: number;
  /** The handle the message is about. */
  readonly sender?: number;
  readonly transaction?: string;
  readonly plugindata?: { readonly plugin: string; readonly data: Record<string, unknown> };
  readonly jsep?: Jsep;
  readonly [key: string]: unknown;
}

/** What an event says about itself in its NATS headers (completed from the body where a header is missing). */
export interface EventHeaders {
  /** Janus-Type: event, webrtcup, media, slowlink, hangup, detached, timeout, trickle, … */
  readonly type: string;
  /** Janus-Session. */
  readonly session?: number;
  /** Janus-Handle (the body's `sender`). */
  readonly handle?: number;
  /** Janus-Plugin (`plugindata.plugin`). */
  readonly plugin?: string;
  /** Janus-Transaction: the client's transaction when the bridge still knew it, else the bridge's own. */
  readonly transaction?: string;
  /** Nats-Msg-Id: unique per event; the same when the bridge publishes an event again. */
  readonly msgId: string;
}

/** One event from the bridge. */
export interface JanusEvent<B extends JanusBody = JanusBody> {
  readonly janusId: string;
  /** The Janus's URL, as the bridge shows it (credentials redacted). */
  readonly janusUrl: string;
  /** Janus's message as Janus sent it. */
  readonly body: B;
  readonly headers: EventHeaders;
  /** The NATS subject it came on (flat, typed or per-handle, after the bridge's events.subjects). */
  readonly subject: string;
}

const decoder = new TextDecoder();

function numberOr(text: string | undefined, fallback: unknown): number | undefined {
  if (text) {
    const value = Number(text);
    if (Number.isSafeInteger(value)) return value;
  }
  return typeof fallback === 'number' ? fallback : undefined;
}

function header(h: MsgHdrs | undefined, name: string): string | undefined {
  const value = h?.get(name);
  return value ? value : undefined;
}

/**
 * An event message as a JanusEvent; undefined for a message that is not one (not JSON, no
 * `janus_body` object with a string `janus`).
 */
export function parseEvent(msg: Pick<Msg, 'subject' | 'headers' | 'data'>): JanusEvent | undefined {
  let envelope: { janus_id?: unknown; janus_url?: unknown; janus_body?: unknown };
  try {
    envelope = JSON.parse(decoder.decode(msg.data)) as typeof envelope;
  } catch {
    return undefined;
  }
  const body = envelope?.janus_body as JanusBody | undefined;
  if (typeof body !== 'object' || body === null || typeof body.janus !== 'string') return undefined;
  const h = msg.headers;
  const plugin =
    header(h, 'Janus-Plugin') ?? (typeof body.plugindata?.plugin === 'string' ? body.plugindata.plugin : undefined);
  const transaction =
    header(h, 'Janus-Transaction') ?? (typeof body.transaction === 'string' ? body.transaction : undefined);
  const session = numberOr(header(h, 'Janus-Session'), body.session_id);
  const handle = numberOr(header(h, 'Janus-Handle'), body.sender);
  return {
    janusId: typeof envelope.janus_id === 'string' ? envelope.janus_id : (header(h, 'Janus-Id') ?? ''),
    janusUrl: typeof envelope.janus_url === 'string' ? envelope.janus_url : '',
    body,
    headers: {
      type: header(h, 'Janus-Type') ?? body.janus,
      ...(session !== undefined ? { session } : {}),
      ...(handle !== undefined ? { handle } : {}),
      ...(plugin !== undefined ? { plugin } : {}),
      ...(transaction !== undefined ? { transaction } : {}),
      msgId: header(h, 'Nats-Msg-Id') ?? '',
    },
    subject: msg.subject,
  };
}

/** The last `size` Nats-Msg-Ids seen, to drop an event the bridge published again (JetStream capture resends). */
export class RecentIds {
  private readonly seen = new Set<string>();
  private readonly order: string[] = [];
  private next = 0;

  constructor(private readonly size = 1024) {}

  /** True the first time `id` is seen (an empty id is always new). */
  add(id: string): boolean {
    if (id === '') return true;
    if (this.seen.has(id)) return false;
    if (this.order.length < this.size) {
      this.order.push(id);
    } else {
      this.seen.delete(this.order[this.next] as string);
      this.order[this.next] = id;
      this.next = (this.next + 1) % this.size;
    }
    this.seen.add(id);
    return true;
  }
}

function typeFilter(type: string | readonly string[] | undefined): ((value: string) => boolean) | undefined {
  if (type === undefined) return undefined;
  const wanted = new Set(typeof type === 'string' ? [type] : type);
  return (value) => wanted.has(value);
}

/** The subjects that carry the events of one Janus (or of all), whatever the bridge's events.subjects mode. */
function eventSubjects(prefix: string, janusId: string | undefined): string[] {
  if (janusId === undefined) return [`${prefix}.event.>`];
  const flat = subjects.event(prefix, janusId);
  return [flat, `${flat}.>`];
}

export interface SubscribeEventsOptions {
  /** The bridge's nats.subjectPrefix (default `janus`). */
  readonly prefix?: string;
  /** One Janus; omitted: every Janus behind any bridge using that prefix. */
  readonly janusId?: string;
  /** Only these Janus-Type values (`hangup`, `event`, …), filtered on the header without parsing the rest. */
  readonly type?: string | readonly string[];
  /** A NATS queue group: instances of a service sharing one queue group share the events, each event going to one. */
  readonly queue?: string;
  /** Drop an event whose Nats-Msg-Id was among the last 1024 seen (the capture's resends; default true). */
  readonly dedupe?: boolean;
}

/** An async iterable of events that can also be closed from outside the loop. */
export interface EventStream<E> extends AsyncIterableIterator<E> {
  /** The NATS subjects subscribed to. */
  readonly subjects: readonly string[];
  /** Unsubscribes; a loop over the stream ends after the events already received. */
  close(): Promise<void>;
}

/**
 * Every event from now on, as plain NATS subscriptions (nothing is kept while nobody listens:
 * see consumeEvents for that). Subscribes to `<prefix>.event.<janus_id>` and
 * `<prefix>.event.<janus_id>.>` (or `<prefix>.event.>` for every Janus), so it works with any
 * events.subjects mode of the bridge. The subscriptions are sent before this returns; await
 * `nc.flush()` to be sure the server has them.
 */
export function subscribeEvents(nc: NatsConnection, options: SubscribeEventsOptions = {}): EventStream<JanusEvent> {
  const prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
  const janusId = options.janusId === undefined ? undefined : checkJanusId(options.janusId);
  const wanted = typeFilter(options.type);
  const recent = options.dedupe === false ? undefined : new RecentIds();
  const names = eventSubjects(prefix, janusId);
  const subs: Subscription[] = [];
  const stop = (): void => {
    for (const sub of subs) sub.unsubscribe();
  };
  const queue = new AsyncQueue<JanusEvent>(stop);
  const onMessage = (err: Error | null, msg: Msg): void => {
    if (err) {
      queue.end(new JanusNatsError(`event subscription failed: ${err.message}`, { cause: err }));
      stop();
      return;
    }
    const type = header(msg.headers, 'Janus-Type');
    if (wanted && type !== undefined && !wanted(type)) return;
    const event = parseEvent(msg);
    if (!event) return;
    if (wanted && type === undefined && !wanted(event.headers.type)) return;
    if (recent && !recent.add(event.headers.msgId)) return;
    queue.push(event);
  };
  for (const subject of names) {
    subs.push(nc.subscribe(subject, { callback: onMessage, ...(options.queue ? { queue: options.queue } : {}) }));
  }
  // closed() resolves (with the error, if any) and never rejects.
  void nc.closed().then(() => queue.end());
  return Object.assign(queue, {
    subjects: names,
    close: async (): Promise<void> => {
      stop();
      queue.end();
    },
  });
}

/** How long one pull request of consumeEvents waits for its batch: also the longest close() waits for it. */
const FETCH_EXPIRES_MS = 1000;

/** An event from the JetStream capture, to be acknowledged once handled. */
export interface DurableEvent extends JanusEvent {
  /** The stream's sequence number. */
  readonly seq: number;
  /** Whether JetStream delivered it before (not acknowledged in time, or nak'ed). */
  readonly redelivered: boolean;
  /** Handled: JetStream will not deliver it again (fire-and-forget; close() flushes what is pending). */
  ack(): void;
  /** Handled, and waits until the server confirmed the acknowledgement. */
  ackAck(): Promise<void>;
  /** Not handled: deliver it again (after `delayMs`). */
  nak(delayMs?: number): void;
  /** Never deliver it again, handled or not. */
  term(reason?: string): void;
  /** Still working on it: restarts the ack wait. */
  working(): void;
}

export interface ConsumeEventsOptions {
  /** The bridge's capture stream (events.stream.name; default from the prefix: `JANUS_EVENTS`). */
  readonly stream?: string;
  /** The durable consumer's name: the same name after a restart resumes where the last one acknowledged. */
  readonly durable: string;
  readonly prefix?: string;
  /**
   * Only the events of this Janus (the others are acknowledged and skipped, unless filterSubject narrows the
   * consumer).
   */
  readonly janusId?: string;
  /** Only these Janus-Type values (the others are acknowledged and skipped). */
  readonly type?: string | readonly string[];
  /**
   * For a consumer created here: its filter subject (default `<prefix>.event.>`). E.g.
   * `janus.event.edge-1` narrows it to one Janus on the server side in flat mode.
   */
  readonly filterSubject?: string;
  /** For a consumer created here: from the oldest event the stream holds (`all`, default) or from now (`new`). */
  readonly deliver?: 'all' | 'new';
  /**
   * For a consumer created here: milliseconds an unacknowledged event waits before it is delivered again
   * (default 30 000).
   */
  readonly ackWait?: number;
  /** Events pulled from the server at a time (default 64). */
  readonly batch?: number;
}

/** A durable consumer's events, until close(). */
export interface EventConsumer extends AsyncIterableIterator<DurableEvent> {
  readonly stream: string;
  readonly durable: string;
  /**
   * Stops pulling (after the pull request under way ends: within a second); events received and
   * not yet taken are handed back (nak) so that the next consumer with this durable name gets
   * them at once; acknowledgements are flushed. Leaving a `for await` loop (break) closes too.
   */
  close(): Promise<void>;
}

/**
 * Events from the bridge's JetStream capture (`events.stream.enabled`) as a durable consumer:
 * it resumes after a restart of this service with nothing lost while it was away. The consumer
 * is created when missing (explicit acknowledgement, the options above); an existing one is
 * used as it is. Acknowledge each event (ack) once handled: an event not acknowledged within
 * the ack wait is delivered again.
 */
export async function consumeEvents(nc: NatsConnection, options: ConsumeEventsOptions): Promise<EventConsumer> {
  const prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
  const stream = options.stream ?? defaultStreamName(prefix);
  const durable = options.durable;
  if (typeof durable !== 'string' || !/^[A-Za-z0-9_-]+$/.test(durable)) {
    throw new TypeError(`durable must be a consumer name (letters, digits, - and _), got ${JSON.stringify(durable)}`);
  }
  const janusId = options.janusId === undefined ? undefined : checkJanusId(options.janusId);
  const wanted = typeFilter(options.type);
  const batch = options.batch ?? 64;
  let consumer;
  try {
    const jsm = await nc.jetstreamManager();
    const exists = await jsm.consumers.info(stream, durable).then(
      () => true,
      (err: unknown) => {
        // 10014: consumer not found
        if ((err as { api_error?: { err_code?: number } }).api_error?.err_code === 10014) return false;
        throw err;
      },
    );
    if (!exists) {
      await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: options.deliver === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
        filter_subject: options.filterSubject ?? `${prefix}.event.>`,
        ack_wait: (options.ackWait ?? 30_000) * 1_000_000,
      });
    }
    consumer = await nc.jetstream().consumers.get(stream, durable);
  } catch (err) {
    throw new JanusNatsError(`cannot consume ${stream} as ${durable}: ${(err as Error).message}`, { cause: err });
  }
  // Pulled in batches with fetch(), each pull request ending when its batch is in or after
  // FETCH_EXPIRES_MS: so that on close() no pull request of ours is left on the server
  // (a message delivered to it then would wait out the ack wait), the pump stops only between
  // fetches, and everything received and not taken is handed back (nak) for the next consumer.
  let stopping = false;
  let closing: Promise<void> | undefined;
  let notTaken: DurableEvent[] = [];
  const queue = new AsyncQueue<DurableEvent>((left) => {
    notTaken = left;
    // close() does not reject: the pump catches its errors and the flush is best effort.
    void close();
  });
  const pump = (async () => {
    try {
      while (!stopping) {
        const messages = await consumer.fetch({ max_messages: batch, expires: FETCH_EXPIRES_MS });
        for await (const m of messages) {
          const event = durableEvent(m);
          const skip =
            !event ||
            (janusId !== undefined && event.janusId !== janusId) ||
            (wanted !== undefined && !wanted(event.headers.type));
          if (skip) m.ack();
          else if (stopping || queue.ended) event.nak();
          else queue.push(event);
        }
        // The next batch once the loop took this one (it is handling the last): at most `batch` wait here.
        await queue.whenEmpty();
      }
      queue.end();
    } catch (err) {
      // The NATS connection closing ends the iteration; anything else is an error for the loop.
      if (nc.isClosed()) queue.end();
      else
        queue.end(
          new JanusNatsError(`consuming ${stream} as ${durable} failed: ${(err as Error).message}`, { cause: err }),
        );
    }
  })();
  const close = (): Promise<void> => {
    closing ??= (async () => {
      stopping = true;
      queue.end();
      await pump;
      for (const event of [...notTaken, ...queue.drain()]) event.nak();
      notTaken = [];
      // The naks are best effort: unacknowledged events are redelivered after ack_wait anyway.
      await nc.flush().catch(() => undefined);
    })();
    return closing;
  };
  return Object.assign(queue, { stream, durable, close });
}

function durableEvent(m: JsMsg): DurableEvent | undefined {
  const event = parseEvent(m);
  if (!event) return undefined;
  return {
    ...event,
    seq: m.seq,
    redelivered: m.redelivered,
    ack: () => m.ack(),
    ackAck: async () => {
      if (!(await m.ackAck()))
        throw new JanusNatsError(
          `acknowledgement of ${event.headers.msgId || `stream sequence ${m.seq}`} not confirmed`,
        );
    },
    nak: (delayMs?: number) => m.nak(delayMs),
    term: (reason?: string) => m.term(reason),
    working: () => m.working(),
  };
}

/** A lifecycle message of one connection (README of janus-nats-bridge, "Status"). */
export type BridgeStatus = {
  readonly janus_id: string;
  readonly janus_url: string;
  /** ISO time. */
  readonly at: string;
} & (
  | {
      readonly state: 'connected';
      readonly session_id: number;
      readonly resumed: boolean;
      readonly janus_version?: string;
    }
  | { readonly state: 'disconnected'; readonly reason: string; readonly failed_requests: number }
  | { readonly state: 'reconnecting'; readonly attempt: number; readonly delay_ms: number }
  | {
      readonly state: 'session-replaced';
      readonly old_session_id: number;
      readonly new_session_id: number;
      readonly reason: string;
    }
  | { readonly state: 'stopped'; readonly reason: string }
  | {
      readonly state: 'owner-changed';
      readonly old_replica: string;
      readonly new_replica: string;
      readonly session_id: number | null;
    }
);

/** Parses a status message; undefined for one that is not (not JSON, no string `state`). */
export function parseStatus(data: Uint8Array): BridgeStatus | undefined {
  try {
    const value = JSON.parse(decoder.decode(data)) as { state?: unknown };
    return typeof value === 'object' && value !== null && typeof value.state === 'string'
      ? (value as BridgeStatus)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Lifecycle messages from now on: of one Janus, or of every Janus (`<prefix>.status.*`). */
export function subscribeStatus(
  nc: NatsConnection,
  options: { prefix?: string; janusId?: string } = {},
): EventStream<BridgeStatus> {
  const prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
  const subject =
    options.janusId === undefined ? `${prefix}.status.*` : subjects.status(prefix, checkJanusId(options.janusId));
  // The queue's close unsubscribes: it exists before the subscription it closes.
  const holder: { sub?: Subscription } = {};
  const queue = new AsyncQueue<BridgeStatus>(() => holder.sub?.unsubscribe());
  const sub = nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err) {
        queue.end(new JanusNatsError(`status subscription failed: ${err.message}`, { cause: err }));
        return;
      }
      const status = parseStatus(msg.data);
      if (status) queue.push(status);
    },
  });
  holder.sub = sub;
  // closed() resolves (with the error, if any) and never rejects.
  void nc.closed().then(() => queue.end());
  return Object.assign(queue, {
    subjects: [subject],
    close: async (): Promise<void> => {
      sub.unsubscribe();
      queue.end();
    },
  });
}
