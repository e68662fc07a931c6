/**
 * JanusNats: one Janus behind the bridge, as a service sees it. Requests go to
 * `<prefix>.request.<janus_id>` with NATS request/reply; handles follow their events and the
 * connection's status, and know when they are gone.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, headers as natsHeaders, type Msg, type NatsConnection, type Subscription } from 'nats';
import {
  errorFromReply,
  HandleEndedError,
  JanusError,
  JanusNatsError,
  NoRespondersError,
  TimeoutError,
} from './errors.js';
import { parseStatus, RecentIds, type JanusBody } from './events.js';
import type {
  Candidate,
  HandleEnd,
  HandleEvent,
  Jsep,
  PluginAnswer,
  PluginHandle,
  RequestOptions,
} from './handle-api.js';
import { AsyncQueue } from './queue.js';
import { checkJanusId, checkPrefix, DEFAULT_PREFIX, isJanusId, subjects } from './subjects.js';

/** Where a handle's events come from: see the bridge's events.subjects. */
export type EventSubscriptionMode = 'auto' | 'flat' | 'handle';

export interface JanusNatsOptions {
  /** The bridge's nats.subjectPrefix (default `janus`). */
  readonly prefix?: string;
  /** Default milliseconds every call waits for its answer (default 10 000). */
  readonly timeout?: number;
  /**
   * Which event subjects handles listen on: `flat` (`<prefix>.event.<janus_id>`, one shared
   * subscription, filtered on the Janus-Handle header), `handle` (`<prefix>.event.<janus_id>.handle.<id>`,
   * one subscription per handle), or `auto` (default: both; the bridge publishes on one of them).
   */
  readonly events?: EventSubscriptionMode;
}

export interface AttachOptions extends RequestOptions {
  /** Janus's opaque_id: a string of yours that Janus shows in its Admin API and event handlers. */
  readonly opaqueId?: string;
}

/** A plugin helper class: its plugin's package name, and a constructor wrapping a handle. */
export interface PluginHelper<T> {
  readonly plugin: string;
  new (handle: PluginHandle): T;
}

/** A Janus API request: a `janus` verb and its members. The transaction is added when missing. */
export interface JanusRequest {
  readonly janus: string;
  readonly [key: string]: unknown;
}

/** A Janus answer, as Janus sent it (the client's transaction put back by the bridge). */
export interface JanusReply {
  readonly janus: string;
  readonly transaction?: string;
  readonly session_id?: number;
  readonly sender?: number;
  readonly data?: Record<string, unknown>;
  readonly plugindata?: { readonly plugin: string; readonly data: Record<string, unknown> };
  readonly jsep?: Jsep;
  readonly [key: string]: unknown;
}

/** Janus's `server_info` (the answer to `info`), with the members most used named. */
export interface ServerInfo extends JanusReply {
  readonly janus: 'server_info';
  readonly name: string;
  /** E.g. 1102 for 1.1.2. */
  readonly version: number;
  readonly version_string: string;
  readonly author?: string;
  readonly 'session-timeout'?: number;
  readonly 'reclaim-session-timeout'?: number;
  readonly 'accepting-new-sessions'?: boolean;
  readonly api_secret?: boolean;
  readonly auth_token?: boolean;
  readonly plugins?: Record<
    string,
    {
      readonly name: string;
      readonly version: number;
      readonly version_string: string;
      readonly [key: string]: unknown;
    }
  >;
}

/** How much longer than the call's timeout the NATS request waits, so that the bridge's 610 arrives first. */
export const REPLY_GRACE_MS = 1000;

/** After a successful detach, how long the handle waits for Janus's `detached` event before it ends anyway. */
export const DETACHED_EVENT_WAIT_MS = 3000;

const DEFAULT_TIMEOUT_MS = 10_000;

/** The most events held back during a detach (see Handle.detach). */
const MAX_HELD_EVENTS = 1000;

/**
 * The longest timeout of a call: the NATS request waits REPLY_GRACE_MS more, and timers
 * (setTimeout, the bridge's too) take at most 2^31 - 1 ms.
 */
export const MAX_TIMEOUT_MS = 2_147_483_647 - REPLY_GRACE_MS;

function checkTimeout(value: number, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > MAX_TIMEOUT_MS) {
    throw new RangeError(
      `${what} must be a number of milliseconds above 0 and at most ${MAX_TIMEOUT_MS}, got ${String(value)}`,
    );
  }
  return Math.ceil(value);
}

export class JanusNats {
  readonly janusId: string;
  readonly prefix: string;
  /** Default timeout of every call, in milliseconds. */
  readonly timeout: number;
  readonly eventMode: EventSubscriptionMode;
  readonly requestSubject: string;

  private readonly live = new Map<number, Handle>();
  private readonly recent = new RecentIds();
  private readonly transactionPrefix = randomBytes(6).toString('hex');
  private sequence = 0;
  private flatSub: Subscription | undefined;
  private statusSub: Subscription | undefined;
  private closedBy: string | undefined;

  constructor(
    readonly nc: NatsConnection,
    janusId: string,
    options: JanusNatsOptions = {},
  ) {
    this.janusId = checkJanusId(janusId);
    this.prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
    this.timeout = checkTimeout(options.timeout ?? DEFAULT_TIMEOUT_MS, 'timeout');
    const mode = options.events ?? 'auto';
    if (mode !== 'auto' && mode !== 'flat' && mode !== 'handle')
      throw new TypeError(`events must be auto, flat or handle, got ${JSON.stringify(mode)}`);
    this.eventMode = mode;
    this.requestSubject = subjects.request(this.prefix, this.janusId);
    // closed() resolves (with the error, if any) and never rejects.
    void nc.closed().then(() => this.shutDown('the NATS connection closed'));
  }

  /** Whether close() was called or the NATS connection closed. */
  get isClosed(): boolean {
    return this.closedBy !== undefined;
  }

  /** The handles this instance follows now. */
  handles(): Handle[] {
    return [...this.live.values()];
  }

  /**
   * Sends any Janus request and returns Janus's answer as it is: the escape hatch for what the
   * typed calls do not cover. A `{"janus":"error"}` answer is thrown as JanusError (Janus's
   * codes) or BridgeError (the bridge's 600–699); no bridge for this janus_id throws
   * NoRespondersError, no reply in time TimeoutError.
   */
  async request(message: JanusRequest, options: RequestOptions = {}): Promise<JanusReply> {
    if (this.closedBy !== undefined) throw new JanusNatsError(`this JanusNats is closed (${this.closedBy})`);
    const timeout = checkTimeout(options.timeout ?? this.timeout, 'timeout');
    const payload = JSON.stringify({
      ...message,
      transaction: typeof message.transaction === 'string' ? message.transaction : this.nextTransaction(),
    });
    const h = natsHeaders();
    h.set('Janus-Timeout', String(timeout));
    const waitMs = timeout + REPLY_GRACE_MS;
    let msg: Msg;
    try {
      msg = await this.nc.request(this.requestSubject, payload, { timeout: waitMs, headers: h });
    } catch (err) {
      throw this.natsError(err, waitMs);
    }
    let reply: JanusReply;
    try {
      reply = JSON.parse(msg.string()) as JanusReply;
    } catch (err) {
      throw new JanusNatsError(`the reply on ${this.requestSubject} is not JSON`, { cause: err });
    }
    if (typeof reply !== 'object' || reply === null || typeof reply.janus !== 'string') {
      throw new JanusNatsError(`the reply on ${this.requestSubject} is not a Janus message`);
    }
    if (reply.janus === 'error') throw errorFromReply(reply, msg.headers?.get('Nats-Service-Error-Code'));
    return reply;
  }

  /** Janus's `server_info`, as returned. */
  async info(options?: RequestOptions): Promise<ServerInfo> {
    return (await this.request({ janus: 'info' }, options)) as ServerInfo;
  }

  /** Janus's `ping`: resolves on its `pong`. */
  async ping(options?: RequestOptions): Promise<void> {
    await this.request({ janus: 'ping' }, options);
  }

  /** Attaches a new handle to `plugin` (e.g. `janus.plugin.echotest`) on the bridge's session. */
  attach(plugin: string, options?: AttachOptions): Promise<Handle>;
  /** Attaches a new handle to the helper's plugin and wraps it in the helper. */
  attach<T>(helper: PluginHelper<T>, options?: AttachOptions): Promise<T>;
  async attach<T>(target: string | PluginHelper<T>, options: AttachOptions = {}): Promise<Handle | T> {
    const plugin = typeof target === 'string' ? target : target.plugin;
    if (typeof plugin !== 'string' || plugin === '')
      throw new TypeError('attach needs a plugin name, e.g. janus.plugin.echotest');
    // The shared subscriptions exist before the request, so nothing about the new handle is missed.
    const fresh = this.subscribeShared();
    if (fresh) await this.flush();
    const message: JanusRequest =
      options.opaqueId === undefined
        ? { janus: 'attach', plugin }
        : { janus: 'attach', plugin, opaque_id: options.opaqueId };
    const reply = await this.request(message, options);
    const id = reply.data?.id;
    if (!isJanusId(id))
      throw new JanusNatsError(`the attach answer carries no handle id: ${JSON.stringify(reply).slice(0, 200)}`);
    const handle = this.follow(id, plugin, reply.session_id);
    await this.flush();
    return typeof target === 'string' ? handle : new target(handle);
  }

  /**
   * A handle that exists already (attached earlier, by this service before a restart or by
   * another instance): handles live in the bridge's session, not in this process. Nothing is
   * sent to Janus; a handle that no longer exists fails its first call with JanusError 459
   * (and then ends).
   */
  handle(id: number, plugin?: string): Promise<Handle>;
  handle<T>(id: number, helper: PluginHelper<T>): Promise<T>;
  async handle<T>(id: number, target?: string | PluginHelper<T>): Promise<Handle | T> {
    if (!isJanusId(id)) throw new TypeError(`a handle id is a positive integer below 2^53, got ${String(id)}`);
    if (this.closedBy !== undefined) throw new JanusNatsError(`this JanusNats is closed (${this.closedBy})`);
    const plugin = typeof target === 'function' ? target.plugin : (target ?? '');
    this.subscribeShared();
    const handle = this.live.get(id) ?? this.follow(id, plugin, undefined);
    if (plugin && !handle.plugin) handle.learnPlugin(plugin);
    await this.flush();
    return typeof target === 'function' ? new target(handle) : handle;
  }

  /**
   * Stops following: every handle ends here with reason `closed` (they live on in Janus), the
   * subscriptions are removed, and later calls reject. The NATS connection stays open (it is yours).
   */
  async close(): Promise<void> {
    this.shutDown('closed by the application');
  }

  private shutDown(why: string): void {
    if (this.closedBy !== undefined) return;
    this.closedBy = why;
    for (const handle of [...this.live.values()]) handle.finish({ reason: 'closed', detail: why });
    this.flatSub?.unsubscribe();
    this.statusSub?.unsubscribe();
    this.flatSub = undefined;
    this.statusSub = undefined;
  }

  private nextTransaction(): string {
    return `${this.transactionPrefix}-${(++this.sequence).toString(36)}`;
  }

  private natsError(err: unknown, waitMs: number): JanusNatsError {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === ErrorCode.NoResponders) return new NoRespondersError(this.requestSubject, this.janusId, err);
    if (code === ErrorCode.Timeout) return new TimeoutError(this.requestSubject, waitMs, err);
    return new JanusNatsError(`request on ${this.requestSubject} failed: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
    });
  }

  private async flush(): Promise<void> {
    try {
      await this.nc.flush();
    } catch {
      // The connection is closing: every handle ends with it (constructor), nothing to add here.
    }
  }

  /** The status subscription and, unless in handle mode, the flat event subscription. True when one was made now. */
  private subscribeShared(): boolean {
    if (this.closedBy !== undefined) throw new JanusNatsError(`this JanusNats is closed (${this.closedBy})`);
    let made = false;
    if (!this.statusSub) {
      this.statusSub = this.nc.subscribe(subjects.status(this.prefix, this.janusId), {
        callback: (err, msg) => {
          if (!err) this.onStatus(msg);
        },
      });
      made = true;
    }
    if (this.eventMode !== 'handle' && !this.flatSub) {
      this.flatSub = this.nc.subscribe(subjects.event(this.prefix, this.janusId), {
        callback: (err, msg) => {
          if (!err) this.onFlatEvent(msg);
        },
      });
      made = true;
    }
    return made;
  }

  private follow(id: number, plugin: string, sessionId: number | undefined): Handle {
    const handle = new Handle(this, id, plugin, sessionId, (h) => {
      if (this.live.get(h.id) === h) this.live.delete(h.id);
    });
    if (this.closedBy !== undefined) {
      // Closed while the attach was under way: the handle exists in Janus, this client no longer follows anything.
      handle.finish({ reason: 'closed', detail: this.closedBy });
      return handle;
    }
    this.live.set(id, handle);
    if (this.eventMode !== 'flat') {
      handle.subscription = this.nc.subscribe(subjects.handleEvent(this.prefix, this.janusId, id), {
        callback: (err, msg) => {
          if (!err) this.deliver(handle, msg);
        },
      });
    }
    return handle;
  }

  private onFlatEvent(msg: Msg): void {
    if (this.live.size === 0) return;
    const header = msg.headers?.get('Janus-Handle');
    let handle: Handle | undefined;
    if (header) {
      handle = this.live.get(Number(header));
    } else {
      // A header the bridge left out (its value could not be sent exactly): the body tells.
      const body = bodyOf(msg);
      handle = typeof body?.sender === 'number' ? this.live.get(body.sender) : undefined;
    }
    if (handle) this.deliver(handle, msg);
  }

  private deliver(handle: Handle, msg: Msg): void {
    const msgId = msg.headers?.get('Nats-Msg-Id') ?? '';
    if (!this.recent.add(msgId)) return;
    const body = bodyOf(msg);
    if (body) handle.receive(body);
  }

  private onStatus(msg: Msg): void {
    const status = parseStatus(msg.data);
    if (!status) return;
    if (status.state === 'session-replaced') {
      const detail = `session ${status.old_session_id} replaced by ${status.new_session_id}: ${status.reason}`;
      for (const handle of [...this.live.values()]) {
        // A handle attached on the new session (its answer raced this message) lives on.
        if (handle.sessionId !== status.new_session_id) handle.finish({ reason: 'session-replaced', detail });
      }
    } else if (status.state === 'connected' && status.resumed === false) {
      // A bridge that started afresh (a restart without HA) says only this: handles known to be
      // on another session are gone with it.
      for (const handle of [...this.live.values()]) {
        if (handle.sessionId !== undefined && handle.sessionId !== status.session_id) {
          handle.finish({
            reason: 'session-replaced',
            detail: `the bridge connected with session ${status.session_id}; this handle was on ${handle.sessionId}`,
          });
        }
      }
    }
  }
}

function bodyOf(msg: Msg): JanusBody | undefined {
  try {
    const body = (JSON.parse(msg.string()) as { janus_body?: unknown }).janus_body as JanusBody | undefined;
    return typeof body === 'object' && body !== null && typeof body.janus === 'string' ? body : undefined;
  } catch {
    return undefined;
  }
}

/** One Janus handle, followed through NATS. */
export class Handle implements PluginHandle {
  readonly ended: Promise<HandleEnd>;
  /** The session the handle is on, once an answer or an event told. */
  sessionId: number | undefined;
  /** @internal the per-handle event subscription (handle and auto modes). */
  subscription: Subscription | undefined;

  private pluginName: string;
  private endedWith: HandleEnd | undefined;
  private resolveEnded!: (end: HandleEnd) => void;
  private readonly listeners = new Set<AsyncQueue<HandleEvent>>();
  private detachTimer: NodeJS.Timeout | undefined;
  /** While a detach is under way: the events it made Janus send, dropped if it succeeds. */
  private held: HandleEvent[] | undefined;

  /** @internal created by JanusNats.attach() and JanusNats.handle(). */
  constructor(
    readonly janus: JanusNats,
    readonly id: number,
    plugin: string,
    sessionId: number | undefined,
    private readonly onFinish: (handle: Handle) => void,
  ) {
    this.pluginName = plugin;
    this.sessionId = sessionId;
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
  }

  /** The plugin's package name; empty for a handle picked up by id without one, until an answer or event tells. */
  get plugin(): string {
    return this.pluginName;
  }

  /** Why the handle ended, once it did. */
  get end(): HandleEnd | undefined {
    return this.endedWith;
  }

  get isEnded(): boolean {
    return this.endedWith !== undefined;
  }

  /**
   * Sends `body` (and a JSEP) to the plugin. Resolves with the plugin's answer whether Janus
   * answered at once or with an asynchronous event (the bridge waits for it). A plugin's own
   * error (`data.error_code`) is an answer like any other: it resolves.
   */
  async message<T = Record<string, unknown>>(
    body: Record<string, unknown>,
    jsep?: Jsep,
    options?: RequestOptions,
  ): Promise<PluginAnswer<T>> {
    const reply = await this.request(
      jsep === undefined ? { janus: 'message', body } : { janus: 'message', body, jsep },
      options,
    );
    const plugindata = reply.plugindata;
    if (typeof plugindata?.plugin === 'string' && !this.pluginName) this.pluginName = plugindata.plugin;
    const data = (plugindata?.data ?? {}) as T;
    return reply.jsep === undefined ? { data } : { data, jsep: reply.jsep };
  }

  /** Sends ICE candidates: one, several (`candidates`), or `null` / `{ completed: true }` for the end of them. */
  async trickle(candidates: Candidate | readonly Candidate[] | null, options?: RequestOptions): Promise<void> {
    const message: JanusRequest =
      candidates === null
        ? { janus: 'trickle', candidate: { completed: true } }
        : Array.isArray(candidates)
          ? { janus: 'trickle', candidates }
          : { janus: 'trickle', candidate: candidates };
    await this.request(message, options);
  }

  /** Ends the handle's PeerConnection; the handle lives on (a `hangup` event follows). */
  async hangup(options?: RequestOptions): Promise<void> {
    await this.request({ janus: 'hangup' }, options);
  }

  /**
   * Detaches the handle. It ends with reason `detached` when Janus's `detached` event arrives
   * (events() iterations get that event, then finish), or DETACHED_EVENT_WAIT_MS after the
   * answer when none comes. From the call on, what the teardown itself makes Janus send (a
   * plugin's last event, such as echotest's `result: done`, or a `hangup`) is held back and
   * dropped once the detach succeeds, so `detached` is the next event; should the detach fail,
   * the held events are delivered and the handle goes on.
   */
  async detach(options?: RequestOptions): Promise<void> {
    if (this.endedWith) throw new HandleEndedError(this.id, this.endedWith);
    const holding = this.held === undefined;
    if (holding) this.held = [];
    try {
      await this.request({ janus: 'detach' }, options);
    } catch (err) {
      if (holding) this.release();
      throw err;
    }
    if (this.endedWith === undefined && this.detachTimer === undefined) {
      this.detachTimer = setTimeout(
        () => this.finish({ reason: 'detached', detail: 'detached by this client (no detached event seen)' }),
        DETACHED_EVENT_WAIT_MS,
      );
      this.detachTimer.unref?.();
    }
  }

  /** Any request on this handle (`handle_id` is set), answered as JanusNats.request() does. */
  async request(message: JanusRequest, options?: RequestOptions): Promise<JanusReply> {
    if (this.endedWith) throw new HandleEndedError(this.id, this.endedWith);
    let reply: JanusReply;
    try {
      reply = await this.janus.request({ ...message, handle_id: this.id }, options);
    } catch (err) {
      // Janus's "No such handle": it is gone, whatever we thought.
      if (err instanceof JanusError && err.code === 459)
        this.finish({ reason: 'detached', detail: `Janus does not know handle ${this.id} (459 ${err.reason})` });
      throw err;
    }
    if (typeof reply.session_id === 'number') this.sessionId = reply.session_id;
    return reply;
  }

  /**
   * This handle's events from now on (each call: a new iteration that sees every event), until
   * the handle ends: the iteration then finishes after the events already received. Leave the
   * loop (break) to stop listening.
   */
  events<T = Record<string, unknown>>(): AsyncIterableIterator<HandleEvent<T>> {
    const queue = new AsyncQueue<HandleEvent<T>>(() => this.listeners.delete(queue as AsyncQueue<HandleEvent>));
    if (this.endedWith) queue.end();
    else this.listeners.add(queue as AsyncQueue<HandleEvent>);
    return queue;
  }

  /** Stops following this handle here (it ends with reason `closed`); the handle lives on in Janus. */
  async close(): Promise<void> {
    this.finish({ reason: 'closed', detail: 'closed by the application; the handle lives on in Janus' });
  }

  /** @internal */
  learnPlugin(plugin: string): void {
    if (!this.pluginName) this.pluginName = plugin;
  }

  /** @internal an event for this handle, from either subscription. */
  receive(body: JanusBody): void {
    if (this.endedWith) return;
    if (typeof body.session_id === 'number') this.sessionId = body.session_id;
    const plugin = typeof body.plugindata?.plugin === 'string' ? body.plugindata.plugin : undefined;
    if (plugin && !this.pluginName) this.pluginName = plugin;
    const event: HandleEvent = {
      janus: body.janus,
      body,
      ...(body.plugindata?.data !== undefined ? { data: body.plugindata.data } : {}),
      ...(plugin !== undefined ? { plugin } : {}),
      ...(body.jsep !== undefined ? { jsep: body.jsep } : {}),
      ...(typeof body.transaction === 'string' ? { transaction: body.transaction } : {}),
    };
    if (body.janus === 'detached') {
      this.held = undefined;
      for (const queue of this.listeners) queue.push(event);
      this.finish({ reason: 'detached', detail: 'Janus sent detached' });
      return;
    }
    if (this.held) {
      if (this.held.length < MAX_HELD_EVENTS) this.held.push(event);
      return;
    }
    for (const queue of this.listeners) queue.push(event);
  }

  /** A detach failed: what was held back is delivered after all. */
  private release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    if (this.endedWith) return;
    for (const event of held) for (const queue of this.listeners) queue.push(event);
  }

  /** @internal ends the handle once: iterations finish, `ended` resolves, later calls reject. */
  finish(end: HandleEnd): void {
    if (this.endedWith) return;
    this.endedWith = end;
    clearTimeout(this.detachTimer);
    this.held = undefined;
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.onFinish(this);
    for (const queue of this.listeners) queue.end();
    this.listeners.clear();
    this.resolveEnded(end);
  }
}
