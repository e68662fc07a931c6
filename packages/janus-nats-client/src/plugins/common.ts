/**
 * What every plugin helper shares: the error a plugin answers with, the shape of the
 * events a helper yields, and the one way every helper sends a request (an answer that
 * carries `error_code` becomes a thrown PluginError, never a value the caller must inspect).
 */
import { JanusNatsError } from '../errors.js';
import type { HandleEvent, Jsep, PluginAnswer, PluginHandle, RequestOptions } from '../handle-api.js';

/**
 * A room, mountpoint or participant id. Numbers by default; strings when the plugin's
 * configuration sets `string_ids = true` (Janus then refuses numbers, and the other way round).
 */
export type JanusId = number | string;

/** How a plugin says no: Janus's own `error` answer is for the core, this one is the plugin's. */
export interface PluginErrorData {
  readonly error_code: number;
  readonly error: string;
}

/**
 * A plugin refused a request. Janus reports these as a successful `message` whose
 * plugin data carries `error_code` and `error`, so without this class every caller would
 * have to look inside each answer to notice the failure. A JanusNatsError like everything
 * else the package throws, so one `instanceof JanusNatsError` catches the lot.
 */
export class PluginError extends JanusNatsError {
  /** The plugin's own error code (videoroom 4xx, audiobridge 48x, sip 44x, …). */
  readonly error_code: number;
  /** The plugin's description of the cause. */
  readonly error: string;

  constructor(
    /** The plugin package, e.g. `janus.plugin.videoroom`. */
    readonly plugin: string,
    /** The request that was refused (`request` of the body; `message` for the echotest's unnamed request). */
    readonly request: string,
    /** The plugin data as Janus sent it. */
    readonly data: Readonly<PluginErrorData & Record<string, unknown>>,
  ) {
    super(`${plugin} refused "${request}": ${data.error_code} ${data.error}`);
    this.error_code = data.error_code;
    this.error = data.error;
  }
}

/** True when a plugin's data is a refusal (every plugin here puts a numeric `error_code` in it). */
export function isPluginErrorData(data: unknown): data is PluginErrorData & Record<string, unknown> {
  return typeof data === 'object' && data !== null && typeof (data as { error_code?: unknown }).error_code === 'number';
}

/**
 * Sends one request to the plugin on `handle` and returns its answer; a refusal throws a
 * PluginError. `T` is what the plugin sends when it agrees (the helpers' interfaces).
 */
export async function sendRequest<T>(
  handle: PluginHandle,
  body: Readonly<Record<string, unknown>>,
  jsep?: Jsep,
  options?: RequestOptions,
): Promise<PluginAnswer<T>> {
  const answer = await handle.message<Record<string, unknown>>({ ...body }, jsep, options);
  if (isPluginErrorData(answer.data)) {
    const request = typeof body.request === 'string' ? body.request : 'message';
    throw new PluginError(handle.plugin, request, answer.data);
  }
  return answer as unknown as PluginAnswer<T>;
}

/** Like sendRequest, for requests whose answer never carries a JSEP: the plugin data alone. */
export async function sendDataRequest<T>(
  handle: PluginHandle,
  body: Readonly<Record<string, unknown>>,
  options?: RequestOptions,
): Promise<T> {
  return (await sendRequest<T>(handle, body, undefined, options)).data;
}

/**
 * One plugin event, named: `name` says what happened (the discriminant to switch on),
 * `data` is the plugin data exactly as Janus sent it.
 */
export interface PluginEvent<Name extends string, Data> {
  readonly name: Name;
  readonly data: Data;
  /** An offer or answer the plugin sent with the event (a SIP incoming call, a renegotiation). */
  readonly jsep?: Jsep;
  /**
   * The client's transaction when the event follows one of its requests: the SIP plugin
   * sends a call's `accepted` and `hangup` with the transaction of the `call`.
   */
  readonly transaction?: string;
  /** The handle event it came in, whole. */
  readonly source: HandleEvent;
}

/**
 * Something Janus itself says about the handle, not its plugin: `webrtcup`, `media`,
 * `slowlink`, `hangup` (the PeerConnection closed), `detached`, `trickle`.
 */
export interface JanusHandleEvent {
  readonly name: 'janus';
  /** Janus's message type. */
  readonly janus: string;
  readonly source: HandleEvent;
}

/** A plugin event no helper type describes yet: kept, not dropped, so nothing is lost silently. */
export type UnrecognizedEvent = PluginEvent<'other', Readonly<Record<string, unknown>>>;

/** A refusal the plugin sent as an event rather than as the answer to a request. */
export type PluginErrorEvent = PluginEvent<'error', PluginErrorData & Readonly<Record<string, unknown>>>;

/** Turns plugin data into one named event of a plugin's union. */
export type Classifier<E> = (data: Readonly<Record<string, unknown>>, event: HandleEvent) => E;

/** Builds a PluginEvent from a handle event, with the fields every plugin event carries. */
export function pluginEvent<Name extends string, Data>(
  name: Name,
  data: Data,
  event: HandleEvent,
): PluginEvent<Name, Data> {
  return {
    name,
    data,
    ...(event.jsep ? { jsep: event.jsep } : {}),
    ...(event.transaction !== undefined ? { transaction: event.transaction } : {}),
    source: event,
  };
}

/**
 * The events of `handle`, each named by `classify` (plugin events) or as a JanusHandleEvent.
 * `handle.events()` is called, and its iterator taken, right away and not at the first
 * `next()`: the events a helper's caller waits for usually follow a request it is about to
 * send, and a listener that started late would miss them.
 */
export function classifiedEvents<E>(
  handle: PluginHandle,
  classify: Classifier<E>,
): AsyncIterable<E | JanusHandleEvent> {
  const source = handle.events<Record<string, unknown>>()[Symbol.asyncIterator]();
  let taken = false;
  const iterator: AsyncIterator<E | JanusHandleEvent> = {
    async next(): Promise<IteratorResult<E | JanusHandleEvent>> {
      const step = await source.next();
      if (step.done) return { done: true, value: undefined };
      const event = step.value;
      // Only a plugin's events carry plugin data, and a handle's plugin events all come from its one plugin.
      return {
        done: false,
        value:
          event.data !== undefined ? classify(event.data, event) : { name: 'janus', janus: event.janus, source: event },
      };
    },
    async return(): Promise<IteratorResult<E | JanusHandleEvent>> {
      await source.return?.();
      return { done: true, value: undefined };
    },
  };
  return {
    [Symbol.asyncIterator]() {
      // One consumer: a second loop over the same iterable would silently split the events between them.
      if (taken)
        throw new JanusNatsError('these events are already being read: call events() again for a second reader');
      taken = true;
      return iterator;
    },
  };
}

/** The refusal and the unknown cases every classifier ends with. */
export function errorOrOther(
  data: Readonly<Record<string, unknown>>,
  event: HandleEvent,
): PluginErrorEvent | UnrecognizedEvent {
  return isPluginErrorData(data) ? pluginEvent('error', data, event) : pluginEvent('other', data, event);
}
