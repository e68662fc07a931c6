/**
 * janus.plugin.sip: a SIP user agent per handle. Every request is asynchronous and its
 * answer only says the plugin started on it (`registering`, `calling`, `accepting` or
 * `accepted`, `declining`, `hangingup`); what SIP then does arrives as events: a REGISTER's
 * outcome (`registered`, `registration_failed`), a call's progress (`ringing`, `proceeding`,
 * `accepted` with the callee's JSEP answer, `hangup` with the SIP code), incoming calls
 * (`incomingcall` with the caller's JSEP offer). A call's events carry the transaction of
 * the `call` request; a REGISTER's outcome carries the last call's, or none. Plugin errors
 * (`error_code`) are the plugin refusing a request; SIP failures are events with a SIP
 * `code`. Fields checked against janus_sip.c (Janus 1.1.2) and the real plugin.
 */
import type { HandleEvent, Jsep, PluginAnswer, PluginHandle, RequestOptions } from '../handle-api.js';
import {
  classifiedEvents,
  errorOrOther,
  pluginEvent,
  sendDataRequest,
  sendRequest,
  type JanusHandleEvent,
  type PluginErrorEvent,
  type PluginEvent,
  type UnrecognizedEvent,
} from './common.js';

/** Custom SIP headers: name to value. */
export type SipHeaders = Readonly<Record<string, string>>;

export interface SipRegisterOptions {
  /** The SIP URI to register, e.g. `sip:alice@example.com`. */
  readonly username: string;
  /**
   * `guest`: no REGISTER, the URI is only used as From (calls out only); `helper`: an extra
   * handle for concurrent calls of an account registered on another handle (`master_id`).
   */
  readonly type?: 'guest' | 'helper';
  /** False: no REGISTER is sent (as with `guest`). */
  readonly send_register?: boolean;
  /** The password; the plugin requires it, or `ha1_secret`, unless `type` is guest or helper. */
  readonly secret?: string;
  readonly ha1_secret?: string;
  /** The user to authenticate as, when not the URI's. */
  readonly authuser?: string;
  readonly display_name?: string;
  readonly user_agent?: string;
  /** The registrar, e.g. `sip:example.com:5060`. */
  readonly proxy?: string;
  readonly outbound_proxy?: string;
  readonly force_udp?: boolean;
  readonly force_tcp?: boolean;
  readonly sips?: boolean;
  readonly rfc2543_cancel?: boolean;
  readonly headers?: SipHeaders;
  /** Extra Contact URI parameters: name to value. */
  readonly contact_params?: Readonly<Record<string, string>>;
  /** Header prefixes whose headers incoming events should carry (in `headers`). */
  readonly incoming_header_prefixes?: readonly string[];
  /** Only refresh the current registration. */
  readonly refresh?: boolean;
  /** The `master_id` of the registered handle this helper belongs to. */
  readonly master_id?: number;
  /** Seconds. */
  readonly register_ttl?: number;
}

export interface SipCallOptions {
  /** The SIP URI to call. */
  readonly uri: string;
  /** The Call-ID to use; the plugin makes one up when left out. */
  readonly call_id?: string;
  readonly headers?: SipHeaders;
  /** Offer or require SDES-SRTP towards the SIP side. */
  readonly srtp?: 'sdes_optional' | 'sdes_mandatory';
  readonly srtp_profile?:
    'AES_CM_128_HMAC_SHA1_32' | 'AES_CM_128_HMAC_SHA1_80' | 'AEAD_AES_128_GCM' | 'AEAD_AES_256_GCM';
  /** Accept re-INVITEs with a 200 OK by itself (default true) instead of relaying them. */
  readonly autoaccept_reinvites?: boolean;
  /** The `refer_id` of the `transfer` event this call follows up on. */
  readonly refer_id?: number;
  /** Credentials for an INVITE that needs authentication when no REGISTER was sent. */
  readonly secret?: string;
  readonly ha1_secret?: string;
  readonly authuser?: string;
}

export interface SipAcceptOptions {
  readonly srtp?: 'sdes_optional' | 'sdes_mandatory';
  readonly headers?: SipHeaders;
  readonly autoaccept_reinvites?: boolean;
}

export interface SipDeclineOptions {
  /** The SIP code to answer with (486 Busy Here by default). */
  readonly code?: number;
  readonly headers?: SipHeaders;
  readonly refer_id?: number;
}

export interface SipHangupOptions {
  readonly headers?: SipHeaders;
}

/** The `result` of each SIP event, by its `event` name. */
export interface SipResults {
  readonly registering: { readonly event: 'registering' };
  readonly registered: {
    readonly event: 'registered';
    /** The user part of the registered URI. */
    readonly username: string;
    /** False for guests and when `send_register` was false. */
    readonly register_sent: boolean;
    /** The id helpers register with. */
    readonly master_id?: number;
    readonly headers?: SipHeaders;
  };
  readonly registration_failed: {
    readonly event: 'registration_failed';
    /** The registrar's SIP status code. */
    readonly code: number;
    readonly reason: string;
    readonly headers?: SipHeaders;
  };
  readonly unregistering: { readonly event: 'unregistering' };
  readonly unregistered: { readonly event: 'unregistered'; readonly username: string; readonly headers?: SipHeaders };
  readonly calling: { readonly event: 'calling'; readonly call_id?: string };
  readonly ringing: { readonly event: 'ringing'; readonly headers?: SipHeaders };
  readonly proceeding: { readonly event: 'proceeding'; readonly code: number };
  /** 183 Session Progress: early media, with the callee's JSEP answer. */
  readonly progress: { readonly event: 'progress'; readonly username: string; readonly headers?: SipHeaders };
  /** The callee answered (with its JSEP answer), or the answer to our `accept` of an incoming call. */
  readonly accepted: { readonly event: 'accepted'; readonly username?: string; readonly headers?: SipHeaders };
  /** The answer to `accept` of an offerless INVITE: `accepted` follows with the caller's ACK. */
  readonly accepting: { readonly event: 'accepting' };
  readonly incomingcall: {
    readonly event: 'incomingcall';
    /** The caller's URI. */
    readonly username: string;
    readonly call_id?: string;
    readonly displayname?: string;
    /** The URI that was called. */
    readonly callee: string;
    readonly referred_by?: string;
    readonly replaces?: string;
    readonly srtp?: 'sdes_optional' | 'sdes_mandatory';
    readonly headers?: SipHeaders;
  };
  /** A re-INVITE: answer it with `update`. */
  readonly updatingcall: Omit<SipResults['incomingcall'], 'event'> & { readonly event: 'updatingcall' };
  /** An INVITE that arrived during another call on this handle (rejected with 486). */
  readonly missed_call: {
    readonly event: 'missed_call';
    readonly caller: string;
    readonly displayname?: string;
    readonly callee: string;
  };
  readonly declining: { readonly event: 'declining'; readonly code: number; readonly call_id?: string };
  readonly hangingup: { readonly event: 'hangingup' };
  /** The call ended: `code` and `reason` say how (200 for a BYE, 486 Busy Here, 603 Decline, ...). */
  readonly hangup: {
    readonly event: 'hangup';
    readonly code: number;
    readonly reason: string;
    readonly reason_header?: string;
    readonly reason_header_protocol?: string;
    readonly reason_header_cause?: string;
  };
}

export type SipEventName = keyof SipResults;

/** What the SIP plugin sends: `sip: "event"`, the call's id when there is one, and the result. */
export interface SipEventData<N extends SipEventName = SipEventName> {
  readonly sip: 'event';
  readonly call_id?: string;
  readonly result: SipResults[N];
}

export type SipEvent =
  | { readonly [N in SipEventName]: PluginEvent<N, SipEventData<N>> }[SipEventName]
  | PluginErrorEvent
  | UnrecognizedEvent
  | JanusHandleEvent;

const SIP_EVENT_NAMES: ReadonlySet<string> = new Set<SipEventName>([
  'registering',
  'registered',
  'registration_failed',
  'unregistering',
  'unregistered',
  'calling',
  'ringing',
  'proceeding',
  'progress',
  'accepted',
  'accepting',
  'incomingcall',
  'updatingcall',
  'missed_call',
  'declining',
  'hangingup',
  'hangup',
]);

function classify(data: Readonly<Record<string, unknown>>, event: HandleEvent): Exclude<SipEvent, JanusHandleEvent> {
  const name = (data.result as { event?: unknown } | undefined)?.event;
  if (data.sip === 'event' && typeof name === 'string' && SIP_EVENT_NAMES.has(name)) {
    // The set holds exactly SipResults' keys, so the cast names the event the data carries.
    return pluginEvent(name as SipEventName, data as unknown as SipEventData, event) as Exclude<
      SipEvent,
      JanusHandleEvent
    >;
  }
  return errorOrOther(data, event);
}

export class Sip {
  static readonly plugin = 'janus.plugin.sip';

  constructor(readonly handle: PluginHandle) {}

  /**
   * Starts a registration. The answer is `registering` (or `registered` at once when no
   * REGISTER is sent); the registrar's verdict comes as a `registered` or
   * `registration_failed` event, so read `events()` from before this call.
   */
  register(
    options: SipRegisterOptions,
    requestOptions?: RequestOptions,
  ): Promise<SipEventData<'registering' | 'registered'>> {
    return sendDataRequest(this.handle, { request: 'register', ...options }, requestOptions);
  }

  unregister(requestOptions?: RequestOptions): Promise<SipEventData<'unregistering'>> {
    return sendDataRequest(this.handle, { request: 'unregister' }, requestOptions);
  }

  /**
   * Sends an INVITE built from the JSEP offer; the plugin refuses a call without one
   * (error 448 "Missing SDP") and before a registration (447). The answer is `calling`;
   * the callee's answer comes as an `accepted` event (with its JSEP answer) or a `hangup`
   * event with its SIP code.
   */
  call(options: SipCallOptions, offer: Jsep, requestOptions?: RequestOptions): Promise<SipEventData<'calling'>> {
    return sendRequest<SipEventData<'calling'>>(
      this.handle,
      { request: 'call', ...options },
      offer,
      requestOptions,
    ).then((reply) => reply.data);
  }

  /**
   * Answers an `incomingcall` with a 200 OK: with the JSEP answer when the INVITE had an
   * offer (the answer is then `accepted`), or with a JSEP offer for an offerless INVITE
   * (`accepting`, and `accepted` arrives with the caller's ACK).
   */
  accept(
    options: SipAcceptOptions,
    jsep: Jsep,
    requestOptions?: RequestOptions,
  ): Promise<PluginAnswer<SipEventData<'accepted' | 'accepting'>>> {
    return sendRequest(this.handle, { request: 'accept', ...options }, jsep, requestOptions);
  }

  /** Rejects an `incomingcall` (486 unless `code` says otherwise); a `hangup` event follows. */
  decline(options: SipDeclineOptions = {}, requestOptions?: RequestOptions): Promise<SipEventData<'declining'>> {
    return sendDataRequest(this.handle, { request: 'decline', ...options }, requestOptions);
  }

  /** Ends the call (BYE, or CANCEL before an answer); a `hangup` event follows. */
  hangup(options: SipHangupOptions = {}, requestOptions?: RequestOptions): Promise<SipEventData<'hangingup'>> {
    return sendDataRequest(this.handle, { request: 'hangup', ...options }, requestOptions);
  }

  /** This handle's events from now on; call it before the request whose events you wait for. */
  events(): AsyncIterable<SipEvent> {
    return classifiedEvents<SipEvent>(this.handle, classify);
  }
}
