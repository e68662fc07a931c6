/**
 * janus.plugin.audiobridge: an audio mixer. Room management (create, edit, destroy,
 * exists, list, listparticipants, mute, unmute) is synchronous; join, configure,
 * changeroom and leave are asynchronous and answered by an event. A participant joins
 * before (or without) negotiating its PeerConnection: `setup` in the participant lists
 * says whether it did. Fields checked against janus_audiobridge.c (Janus 1.1.2) and the
 * real plugin (where the two differ, e.g. `list` answers with `list`, not `rooms` as the
 * header comment says, the types follow what the plugin sends).
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

export interface AudioBridgeCreateOptions {
  /** Chosen by the plugin when left out. */
  readonly room?: JanusId;
  readonly permanent?: boolean;
  readonly description?: string;
  readonly secret?: string;
  readonly pin?: string;
  readonly is_private?: boolean;
  readonly allowed?: readonly string[];
  /** Hz; 16000 by default. */
  readonly sampling_rate?: number;
  readonly spatial_audio?: boolean;
  readonly audiolevel_ext?: boolean;
  readonly audiolevel_event?: boolean;
  readonly audio_active_packets?: number;
  readonly audio_level_average?: number;
  readonly default_prebuffering?: number;
  readonly default_expectedloss?: number;
  readonly default_bitrate?: number;
  readonly record?: boolean;
  readonly record_file?: string;
  readonly record_dir?: string;
  readonly mjrs?: boolean;
  readonly mjrs_dir?: string;
  /** Let participants join with plain RTP (the `rtp` join option) instead of WebRTC. */
  readonly allow_rtp_participants?: boolean;
  readonly groups?: readonly string[];
  readonly admin_key?: string;
}

export interface AudioBridgeCreated {
  readonly audiobridge: 'created';
  readonly room: JanusId;
  readonly permanent: boolean;
}

export interface AudioBridgeEditOptions {
  readonly room: JanusId;
  readonly secret?: string;
  readonly new_description?: string;
  readonly new_secret?: string;
  /** An empty string removes the PIN. */
  readonly new_pin?: string;
  readonly new_is_private?: boolean;
  readonly new_record_dir?: string;
  readonly new_mjrs_dir?: string;
  readonly permanent?: boolean;
}

export interface AudioBridgeEdited {
  readonly audiobridge: 'edited';
  readonly room: JanusId;
  /** False when a permanent change could not be saved. */
  readonly permanent: boolean;
}

export interface AudioBridgeDestroyOptions {
  readonly room: JanusId;
  readonly secret?: string;
  readonly permanent?: boolean;
}

export interface AudioBridgeDestroyed {
  readonly audiobridge: 'destroyed';
  readonly room: JanusId;
  /** Only in the answer to `destroy`, not in the event participants get. */
  readonly permanent?: boolean;
}

export interface AudioBridgeExists {
  readonly audiobridge: 'success';
  readonly room: JanusId;
  readonly exists: boolean;
}

export interface AudioBridgeRoomInfo {
  readonly room: JanusId;
  readonly description: string;
  readonly pin_required: boolean;
  readonly sampling_rate: number;
  readonly spatial_audio: boolean;
  readonly record: boolean;
  /** Whether the whole room is muted (mute_room). */
  readonly muted: boolean;
  readonly num_participants: number;
}

export interface AudioBridgeList {
  readonly audiobridge: 'success';
  readonly list: readonly AudioBridgeRoomInfo[];
}

export interface AudioBridgeParticipant {
  readonly id: JanusId;
  readonly display?: string;
  /** Whether its PeerConnection (or plain RTP session) is up. */
  readonly setup: boolean;
  readonly muted: boolean;
  /** Only when audio levels are in use. */
  readonly talking?: boolean;
  /** Only in rooms with spatial audio (0 left, 50 centre, 100 right). */
  readonly spatial_position?: number;
}

export interface AudioBridgeParticipants {
  readonly audiobridge: 'participants';
  readonly room: JanusId;
  readonly participants: readonly AudioBridgeParticipant[];
}

/** Plain RTP instead of WebRTC (rooms with `allow_rtp_participants`). */
export interface AudioBridgeRtpOptions {
  /** Where the participant wants the mix sent. */
  readonly ip?: string;
  readonly port?: number;
  readonly payload_type?: number;
  readonly audiolevel_ext?: number;
  readonly fec?: boolean;
}

export interface AudioBridgeJoinOptions {
  readonly room: JanusId;
  /** Chosen by the plugin when left out. */
  readonly id?: JanusId;
  readonly group?: string;
  readonly pin?: string;
  readonly display?: string;
  readonly token?: string;
  readonly muted?: boolean;
  /** opus (default), pcma or pcmu. */
  readonly codec?: 'opus' | 'pcma' | 'pcmu';
  readonly prebuffer?: number;
  readonly bitrate?: number;
  /** Opus complexity 0-10. */
  readonly quality?: number;
  /** Percent, 0-20. */
  readonly expected_loss?: number;
  /** Percent; 100 leaves the volume alone. */
  readonly volume?: number;
  readonly spatial_position?: number;
  /** The room secret: joins as an admin that mute_room does not mute. */
  readonly secret?: string;
  readonly audio_level_average?: number;
  readonly audio_active_packets?: number;
  readonly record?: boolean;
  readonly filename?: string;
  /** Have the plugin send the JSEP offer (answer it with `configure`). */
  readonly generate_offer?: boolean;
  readonly rtp?: AudioBridgeRtpOptions;
}

/** Where the plugin expects a plain-RTP participant's audio. */
export interface AudioBridgeRtpDetails {
  readonly ip: string;
  readonly port: number;
  readonly payload_type: number;
}

/** The answer to `join`: the others already in the room. */
export interface AudioBridgeJoined {
  readonly audiobridge: 'joined';
  readonly room: JanusId;
  /** This participant's id. */
  readonly id: JanusId;
  readonly participants: readonly AudioBridgeParticipant[];
  /** Only for a plain-RTP participant. */
  readonly rtp?: AudioBridgeRtpDetails;
}

/** Sent to the others when someone joins: the newcomer is the only participant, and there is no `id`. */
export interface AudioBridgeParticipantJoined {
  readonly audiobridge: 'joined';
  readonly room: JanusId;
  readonly participants: readonly AudioBridgeParticipant[];
}

export interface AudioBridgeConfigureOptions {
  readonly muted?: boolean;
  readonly display?: string;
  readonly prebuffer?: number;
  readonly bitrate?: number;
  readonly quality?: number;
  readonly expected_loss?: number;
  readonly volume?: number;
  readonly spatial_position?: number;
  readonly record?: boolean;
  readonly filename?: string;
  readonly group?: string;
  readonly generate_offer?: boolean;
  readonly update?: boolean;
}

/** The answer to `configure` (with a JSEP answer when the request carried an offer). */
export interface AudioBridgeConfigured {
  readonly audiobridge: 'event';
  readonly result: 'ok';
}

export interface AudioBridgeChangeRoomOptions {
  readonly room: JanusId;
  readonly id?: JanusId;
  readonly group?: string;
  readonly pin?: string;
  readonly display?: string;
  readonly token?: string;
  readonly muted?: boolean;
  readonly bitrate?: number;
  readonly quality?: number;
  readonly expected_loss?: number;
}

export interface AudioBridgeRoomChanged {
  readonly audiobridge: 'roomchanged';
  readonly room: JanusId;
  readonly id: JanusId;
  readonly participants: readonly AudioBridgeParticipant[];
}

/** The answer to `leave`. */
export interface AudioBridgeLeft {
  readonly audiobridge: 'left';
  readonly room: JanusId;
  readonly id: JanusId;
}

export interface AudioBridgeModerateOptions {
  readonly room: JanusId;
  readonly id: JanusId;
  readonly secret?: string;
}

/** The answer to `mute` and `unmute` (the header comment leaves `room` out; the plugin sends it). */
export interface AudioBridgeModerated {
  readonly audiobridge: 'success';
  readonly room: JanusId;
}

/** Changes about participants: mute, unmute, a new display name. */
export interface AudioBridgeParticipantsEvent {
  readonly audiobridge: 'event';
  readonly room: JanusId;
  readonly participants: readonly AudioBridgeParticipant[];
}

export interface AudioBridgeLeavingEvent {
  readonly audiobridge: 'event';
  readonly room: JanusId;
  readonly leaving: JanusId;
}

export interface AudioBridgeKickedEvent {
  readonly audiobridge: 'event';
  readonly room: JanusId;
  readonly kicked: JanusId;
}

/** The whole room was muted or unmuted (mute_room, unmute_room). */
export interface AudioBridgeRoomMutedEvent {
  readonly audiobridge: 'event';
  readonly room: JanusId;
  readonly muted: boolean;
}

export interface AudioBridgeTalkingEvent {
  readonly audiobridge: 'talking' | 'stopped-talking';
  readonly room: JanusId;
  readonly id: JanusId;
}

export type AudioBridgeEvent =
  | PluginEvent<'joined', AudioBridgeJoined | AudioBridgeParticipantJoined>
  | PluginEvent<'roomchanged', AudioBridgeRoomChanged>
  | PluginEvent<'left', AudioBridgeLeft>
  | PluginEvent<'destroyed', AudioBridgeDestroyed>
  | PluginEvent<'participants', AudioBridgeParticipantsEvent>
  | PluginEvent<'leaving', AudioBridgeLeavingEvent>
  | PluginEvent<'kicked', AudioBridgeKickedEvent>
  | PluginEvent<'room-muted', AudioBridgeRoomMutedEvent>
  | PluginEvent<'configured', AudioBridgeConfigured>
  | PluginEvent<'talking', AudioBridgeTalkingEvent>
  | PluginErrorEvent
  | UnrecognizedEvent
  | JanusHandleEvent;

type Data = Readonly<Record<string, unknown>>;

/** Names an audiobridge event: by `audiobridge`, and for `audiobridge: "event"` by the key that says what happened. */
function classify(data: Data, event: HandleEvent): Exclude<AudioBridgeEvent, JanusHandleEvent> {
  const as = <T>(value: Data): T => value as unknown as T;
  switch (data.audiobridge) {
    case 'joined':
      return pluginEvent('joined', as<AudioBridgeJoined | AudioBridgeParticipantJoined>(data), event);
    case 'roomchanged':
      return pluginEvent('roomchanged', as<AudioBridgeRoomChanged>(data), event);
    case 'left':
      return pluginEvent('left', as<AudioBridgeLeft>(data), event);
    case 'destroyed':
      return pluginEvent('destroyed', as<AudioBridgeDestroyed>(data), event);
    case 'talking':
    case 'stopped-talking':
      return pluginEvent('talking', as<AudioBridgeTalkingEvent>(data), event);
    case 'event': {
      if ('error_code' in data) break;
      if ('participants' in data) return pluginEvent('participants', as<AudioBridgeParticipantsEvent>(data), event);
      if ('leaving' in data) return pluginEvent('leaving', as<AudioBridgeLeavingEvent>(data), event);
      if ('kicked' in data) return pluginEvent('kicked', as<AudioBridgeKickedEvent>(data), event);
      if ('muted' in data) return pluginEvent('room-muted', as<AudioBridgeRoomMutedEvent>(data), event);
      if (data.result === 'ok') return pluginEvent('configured', as<AudioBridgeConfigured>(data), event);
      break;
    }
  }
  return errorOrOther(data, event);
}

export class AudioBridge {
  static readonly plugin = 'janus.plugin.audiobridge';

  constructor(readonly handle: PluginHandle) {}

  create(options: AudioBridgeCreateOptions = {}, requestOptions?: RequestOptions): Promise<AudioBridgeCreated> {
    return sendDataRequest(this.handle, { request: 'create', ...options }, requestOptions);
  }

  edit(options: AudioBridgeEditOptions, requestOptions?: RequestOptions): Promise<AudioBridgeEdited> {
    return sendDataRequest(this.handle, { request: 'edit', ...options }, requestOptions);
  }

  /** The participants get a `destroyed` event and their PeerConnections close. */
  destroy(options: AudioBridgeDestroyOptions, requestOptions?: RequestOptions): Promise<AudioBridgeDestroyed> {
    return sendDataRequest(this.handle, { request: 'destroy', ...options }, requestOptions);
  }

  exists(room: JanusId, requestOptions?: RequestOptions): Promise<AudioBridgeExists> {
    return sendDataRequest(this.handle, { request: 'exists', room }, requestOptions);
  }

  list(options: { readonly admin_key?: string } = {}, requestOptions?: RequestOptions): Promise<AudioBridgeList> {
    return sendDataRequest(this.handle, { request: 'list', ...options }, requestOptions);
  }

  listParticipants(room: JanusId, requestOptions?: RequestOptions): Promise<AudioBridgeParticipants> {
    return sendDataRequest(this.handle, { request: 'listparticipants', room }, requestOptions);
  }

  /**
   * Joins a room; the others get a `joined` event with the newcomer. A JSEP offer may come
   * with it (the answer then carries Janus's JSEP answer), or later with `configure`.
   */
  join(
    options: AudioBridgeJoinOptions,
    jsep?: Jsep,
    requestOptions?: RequestOptions,
  ): Promise<PluginAnswer<AudioBridgeJoined>> {
    return sendRequest(this.handle, { request: 'join', ...options }, jsep, requestOptions);
  }

  /**
   * Changes this participant's settings; a change of `muted` or `display` is announced to
   * the others in a `participants` event. With a JSEP offer, the answer carries Janus's answer.
   */
  configure(
    options: AudioBridgeConfigureOptions,
    jsep?: Jsep,
    requestOptions?: RequestOptions,
  ): Promise<PluginAnswer<AudioBridgeConfigured>> {
    return sendRequest(this.handle, { request: 'configure', ...options }, jsep, requestOptions);
  }

  /** Leaves this room and joins another one without renegotiating the PeerConnection. */
  changeRoom(options: AudioBridgeChangeRoomOptions, requestOptions?: RequestOptions): Promise<AudioBridgeRoomChanged> {
    return sendDataRequest(this.handle, { request: 'changeroom', ...options }, requestOptions);
  }

  /** Mutes another participant (a moderator's request); the room gets a `participants` event. */
  mute(options: AudioBridgeModerateOptions, requestOptions?: RequestOptions): Promise<AudioBridgeModerated> {
    return sendDataRequest(this.handle, { request: 'mute', ...options }, requestOptions);
  }

  unmute(options: AudioBridgeModerateOptions, requestOptions?: RequestOptions): Promise<AudioBridgeModerated> {
    return sendDataRequest(this.handle, { request: 'unmute', ...options }, requestOptions);
  }

  /** The others get a `leaving` event. */
  leave(requestOptions?: RequestOptions): Promise<AudioBridgeLeft> {
    return sendDataRequest(this.handle, { request: 'leave' }, requestOptions);
  }

  /** This handle's events from now on; call it before the request whose events you wait for. */
  events(): AsyncIterable<AudioBridgeEvent> {
    return classifiedEvents<AudioBridgeEvent>(this.handle, classify);
  }
}
