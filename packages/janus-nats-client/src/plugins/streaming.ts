/**
 * janus.plugin.streaming: relays media from mountpoints (RTP ports, files, RTSP) to viewers.
 * Mountpoint management (list, info, create, destroy, enable, disable) is synchronous;
 * watching (watch, start, pause, configure, stop) is asynchronous and answered by an event
 * whose `result.status` says where the viewer is. Fields checked against janus_streaming.c
 * (Janus 1.1.2) and the real plugin: `create` answers with `created` (the name) and
 * `stream`, `destroy` with `destroyed` (the id), not the fields the header comment lists.
 */
import type { HandleEvent, Jsep, PluginAnswer, PluginHandle, RequestOptions } from '../handle-api.js';
import {
  classifiedEvents,
  errorOrOther,
  pluginEvent,
  sendDataRequest,
  sendRequest,
  type JanusHandleEvent,
  type JanusId,
  type PluginErrorEvent,
  type PluginEvent,
  type UnrecognizedEvent,
} from './common.js';

/** One stream of a `list` answer. */
export interface StreamingListedMedia {
  readonly mid: string;
  readonly type: 'audio' | 'video' | 'data';
  readonly label: string;
  readonly msid?: string;
  /** Milliseconds since media last arrived (RTP mountpoints with a bound port). */
  readonly age_ms?: number;
}

export interface StreamingMountpointSummary {
  readonly id: JanusId;
  /** `live` (RTP, RTSP, live files) or `on demand`. */
  readonly type: 'live' | 'on demand';
  readonly description: string;
  readonly metadata?: string;
  readonly enabled: boolean;
  /** RTP mountpoints only. */
  readonly media?: readonly StreamingListedMedia[];
}

export interface StreamingList {
  readonly streaming: 'list';
  readonly list: readonly StreamingMountpointSummary[];
}

export interface StreamingInfoOptions {
  readonly id: JanusId;
  /** With the right secret, the answer also has the secret, PIN, ports and recordings. */
  readonly secret?: string;
}

export interface StreamingMediaInfo {
  readonly mindex?: number;
  readonly mid?: string;
  readonly type: 'audio' | 'video' | 'data';
  readonly label?: string;
  readonly msid?: string;
  readonly pt?: number;
  readonly codec?: string;
  readonly rtpmap?: string;
  readonly fmtp?: string;
  readonly videobufferkf?: true;
  readonly videosimulcast?: true;
  readonly videosvc?: true;
  readonly skew_compensation?: true;
  /** The ports, only with the secret. */
  readonly port?: number;
  readonly rtcpport?: number;
  readonly port2?: number;
  readonly port3?: number;
  readonly age_ms?: number;
  /** The recording file, only with the secret. */
  readonly recording?: string;
}

export interface StreamingMountpointInfo {
  readonly id: JanusId;
  /** Only with the secret. */
  readonly name?: string;
  readonly description: string;
  readonly metadata?: string;
  readonly secret?: string;
  readonly pin?: string;
  readonly is_private?: boolean;
  readonly viewers?: number;
  readonly enabled: boolean;
  readonly type: 'live' | 'on demand';
  readonly rtsp?: true;
  readonly srtp?: true;
  readonly collision?: number;
  readonly threads?: number;
  readonly host?: string;
  readonly filename?: string;
  readonly media: readonly StreamingMediaInfo[];
}

export interface StreamingInfo {
  readonly streaming: 'info';
  readonly info: StreamingMountpointInfo;
}

/** One stream of an RTP mountpoint. */
export interface StreamingRtpMedia {
  readonly type: 'audio' | 'video' | 'data';
  /** The mid offered to viewers; unique in the mountpoint. */
  readonly mid: string;
  readonly label?: string;
  readonly msid?: string;
  /** A multicast group to join. */
  readonly mcast?: string;
  /** The interface or address to bind to. */
  readonly iface?: string;
  /** The port to receive the stream on; 0 lets the plugin pick one (the answer says which). */
  readonly port: number;
  readonly rtcpport?: number;
  readonly pt?: number;
  readonly codec?: string;
  readonly fmtp?: string;
  readonly skew?: boolean;
  /** Video only. */
  readonly bufferkf?: boolean;
  readonly simulcast?: boolean;
  readonly port2?: number;
  readonly port3?: number;
  readonly svc?: boolean;
  /** Data only. */
  readonly buffermsg?: boolean;
}

interface StreamingCreateCommon {
  /** Chosen by the plugin when left out. */
  readonly id?: JanusId;
  /** Unique; chosen by the plugin when left out. */
  readonly name?: string;
  readonly description?: string;
  readonly metadata?: string;
  /** Left out of `list` answers (Janus's default is false). */
  readonly is_private?: boolean;
  readonly secret?: string;
  readonly pin?: string;
  readonly permanent?: boolean;
  readonly admin_key?: string;
}

export interface StreamingCreateRtpOptions extends StreamingCreateCommon {
  readonly type: 'rtp';
  readonly media: readonly StreamingRtpMedia[];
  /** Milliseconds before a new SSRC on a port replaces the current one. */
  readonly collision?: number;
  readonly threads?: number;
  readonly srtpsuite?: 32 | 80;
  readonly srtpcrypto?: string;
  readonly e2ee?: boolean;
  readonly playoutdelay_ext?: boolean;
}

/** A file streamed to all viewers (`live`) or to each from its start (`ondemand`): Opus, mu-law or A-law. */
export interface StreamingCreateFileOptions extends StreamingCreateCommon {
  readonly type: 'live' | 'ondemand';
  readonly filename: string;
  readonly audiocodec?: string;
  readonly audiofmtp?: string;
  readonly audiopt?: number;
}

export type StreamingCreateOptions = StreamingCreateRtpOptions | StreamingCreateFileOptions;

/** A port an RTP mountpoint listens on. */
export interface StreamingCreatedPort {
  readonly type: 'audio' | 'video' | 'data';
  readonly mid: string;
  readonly msid?: string;
  readonly port?: number;
  readonly rtcp_port?: number;
  readonly port_2?: number;
  readonly port_3?: number;
}

export interface StreamingCreated {
  readonly streaming: 'created';
  /** The mountpoint's name. */
  readonly created: string;
  readonly permanent: boolean;
  readonly stream: {
    readonly id: JanusId;
    readonly type: 'live' | 'on demand';
    readonly description: string;
    readonly is_private: boolean;
    /** RTP mountpoints: where to send the media. */
    readonly ports?: readonly StreamingCreatedPort[];
    readonly host?: string;
  };
}

export interface StreamingDestroyOptions {
  readonly id: JanusId;
  readonly secret?: string;
  readonly permanent?: boolean;
}

export interface StreamingDestroyed {
  readonly streaming: 'destroyed';
  /** The id of the destroyed mountpoint. */
  readonly destroyed: JanusId;
}

export interface StreamingToggleOptions {
  readonly id: JanusId;
  readonly secret?: string;
}

export interface StreamingDisableOptions extends StreamingToggleOptions {
  /** Stop recording too (default true). */
  readonly stop_recording?: boolean;
}

export interface StreamingOk {
  readonly streaming: 'ok';
}

export interface StreamingWatchOptions {
  readonly id: JanusId;
  readonly pin?: string;
  /** The mids to receive; all of them when left out or empty. */
  readonly media?: readonly string[];
}

/** Where a viewer is: the answer to watch (with Janus's JSEP offer), start, pause, stop. */
export type StreamingStatus =
  'preparing' | 'updating' | 'starting' | 'started' | 'pausing' | 'stopping' | 'stopped' | 'kicked_all';

export interface StreamingStatusResult<S extends StreamingStatus = StreamingStatus> {
  readonly streaming: 'event';
  readonly result: { readonly status: S };
}

export interface StreamingConfigureOptions {
  readonly mid?: string;
  /** Relay (true) or stop relaying the stream with `mid`. */
  readonly send?: boolean;
  readonly substream?: number;
  readonly temporal?: number;
  readonly fallback?: number;
  readonly spatial_layer?: number;
  readonly temporal_layer?: number;
  readonly min_delay?: number;
  readonly max_delay?: number;
}

export interface StreamingConfigured {
  readonly streaming: 'event';
  readonly result: { readonly event: 'configured' };
}

/** Another viewer-facing change: simulcast substream or temporal layer, SVC layer. */
export interface StreamingLayerEvent {
  readonly streaming: 'event';
  readonly result: {
    readonly substream?: number;
    readonly temporal?: number;
    readonly spatial_layer?: number;
    readonly temporal_layer?: number;
  };
}

/** The mountpoint's metadata changed (an `edit` with `edited_event`). */
export interface StreamingEditedEvent {
  readonly streaming: 'edited';
  readonly id: JanusId;
  readonly metadata?: string;
}

export type StreamingEvent =
  | PluginEvent<'status', StreamingStatusResult>
  | PluginEvent<'configured', StreamingConfigured>
  | PluginEvent<'layer', StreamingLayerEvent>
  | PluginEvent<'edited', StreamingEditedEvent>
  | PluginErrorEvent
  | UnrecognizedEvent
  | JanusHandleEvent;

type Data = Readonly<Record<string, unknown>>;

function classify(data: Data, event: HandleEvent): Exclude<StreamingEvent, JanusHandleEvent> {
  const as = <T>(value: Data): T => value as unknown as T;
  if (data.streaming === 'edited') return pluginEvent('edited', as<StreamingEditedEvent>(data), event);
  const result = data.result;
  if (data.streaming === 'event' && typeof result === 'object' && result !== null) {
    if ('status' in result) return pluginEvent('status', as<StreamingStatusResult>(data), event);
    if ('event' in result && (result as { event: unknown }).event === 'configured')
      return pluginEvent('configured', as<StreamingConfigured>(data), event);
    return pluginEvent('layer', as<StreamingLayerEvent>(data), event);
  }
  return errorOrOther(data, event);
}

export class Streaming {
  static readonly plugin = 'janus.plugin.streaming';

  constructor(readonly handle: PluginHandle) {}

  list(options: { readonly admin_key?: string } = {}, requestOptions?: RequestOptions): Promise<StreamingList> {
    return sendDataRequest(this.handle, { request: 'list', ...options }, requestOptions);
  }

  info(options: StreamingInfoOptions, requestOptions?: RequestOptions): Promise<StreamingInfo> {
    return sendDataRequest(this.handle, { request: 'info', ...options }, requestOptions);
  }

  create(options: StreamingCreateOptions, requestOptions?: RequestOptions): Promise<StreamingCreated> {
    return sendDataRequest(this.handle, { request: 'create', ...options }, requestOptions);
  }

  /** Its viewers get a `stopped` status and their PeerConnections close. */
  destroy(options: StreamingDestroyOptions, requestOptions?: RequestOptions): Promise<StreamingDestroyed> {
    return sendDataRequest(this.handle, { request: 'destroy', ...options }, requestOptions);
  }

  enable(options: StreamingToggleOptions, requestOptions?: RequestOptions): Promise<StreamingOk> {
    return sendDataRequest(this.handle, { request: 'enable', ...options }, requestOptions);
  }

  /** The mountpoint stays, but nobody can watch it until it is enabled again. */
  disable(options: StreamingDisableOptions, requestOptions?: RequestOptions): Promise<StreamingOk> {
    return sendDataRequest(this.handle, { request: 'disable', ...options }, requestOptions);
  }

  /** Prepares a viewer: the answer (`preparing`) carries Janus's JSEP offer; send the JSEP answer with `start`. */
  watch(
    options: StreamingWatchOptions,
    requestOptions?: RequestOptions,
  ): Promise<PluginAnswer<StreamingStatusResult<'preparing' | 'updating'>>> {
    return sendRequest(this.handle, { request: 'watch', ...options }, undefined, requestOptions);
  }

  /** With the JSEP answer: starts the viewer's media once the PeerConnection is up. Without: resumes after `pause`. */
  start(answer?: Jsep, requestOptions?: RequestOptions): Promise<StreamingStatusResult<'starting' | 'started'>> {
    return sendRequest<StreamingStatusResult<'starting' | 'started'>>(
      this.handle,
      { request: 'start' },
      answer,
      requestOptions,
    ).then((reply) => reply.data);
  }

  pause(requestOptions?: RequestOptions): Promise<StreamingStatusResult<'pausing'>> {
    return sendDataRequest(this.handle, { request: 'pause' }, requestOptions);
  }

  configure(options: StreamingConfigureOptions, requestOptions?: RequestOptions): Promise<StreamingConfigured> {
    return sendDataRequest(this.handle, { request: 'configure', ...options }, requestOptions);
  }

  /**
   * Ends the viewer's PeerConnection. Janus only answers once the PeerConnection was up:
   * for a viewer whose media never started it sends nothing at all (checked against Janus
   * 1.1.2), so this call then ends with the request's timeout. `handle.hangup()` ends such
   * a viewer instead.
   */
  stop(requestOptions?: RequestOptions): Promise<StreamingStatusResult<'stopping'>> {
    return sendDataRequest(this.handle, { request: 'stop' }, requestOptions);
  }

  /** This handle's events from now on; call it before the request whose events you wait for. */
  events(): AsyncIterable<StreamingEvent> {
    return classifiedEvents<StreamingEvent>(this.handle, classify);
  }
}
