/**
 * What a plugin helper needs of a handle: the contract between the core (JanusNats, Handle)
 * and the typed plugin helpers (src/plugins/*). Types only.
 */

/** A JSEP offer or answer, as Janus and browsers exchange it. */
export interface Jsep {
  readonly type: 'offer' | 'answer' | 'pranswer' | 'rollback';
  readonly sdp?: string;
  readonly [key: string]: unknown;
}

/** An ICE candidate as Janus takes it in `trickle`; `null` or `{ completed: true }` ends the candidates. */
export type Candidate =
  | { readonly candidate: string; readonly sdpMid?: string | null; readonly sdpMLineIndex?: number | null }
  | { readonly completed: true };

/** A plugin's answer to `message`: its `plugindata.data`, and the JSEP when there is one. */
export interface PluginAnswer<T = Record<string, unknown>> {
  readonly data: T;
  readonly jsep?: Jsep;
}

/** An event of one handle, as Janus sent it, with the bridge's headers decoded. */
export interface HandleEvent<T = Record<string, unknown>> {
  /** Janus's message type: event, webrtcup, media, slowlink, hangup, detached, trickle, … */
  readonly janus: string;
  /** `plugindata.data` of a plugin event. */
  readonly data?: T;
  readonly plugin?: string;
  readonly jsep?: Jsep;
  /** The whole message from Janus. */
  readonly body: Readonly<Record<string, unknown>>;
  /** The client's transaction, when the event answers or follows one of its requests. */
  readonly transaction?: string;
}

/** Why a handle ended: detached, hung up for good, or its session was lost (every handle of it ended). */
export interface HandleEnd {
  readonly reason: 'detached' | 'session-replaced' | 'closed';
  readonly detail: string;
}

export interface RequestOptions {
  /** Milliseconds; sent to the bridge as Janus-Timeout, and the call itself waits a little longer. */
  readonly timeout?: number;
}

export interface PluginHandle {
  readonly id: number;
  readonly plugin: string;
  message<T = Record<string, unknown>>(
    body: Record<string, unknown>,
    jsep?: Jsep,
    options?: RequestOptions,
  ): Promise<PluginAnswer<T>>;
  trickle(candidates: Candidate | readonly Candidate[] | null, options?: RequestOptions): Promise<void>;
  hangup(options?: RequestOptions): Promise<void>;
  detach(options?: RequestOptions): Promise<void>;
  /** This handle's events from now on, until it ends (the iteration then finishes). */
  events<T = Record<string, unknown>>(): AsyncIterable<HandleEvent<T>>;
  /** Resolves once the handle ended, with why. */
  readonly ended: Promise<HandleEnd>;
}
