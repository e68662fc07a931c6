/**
 * janus.plugin.videoroom: an SFU. Room management (create, edit, destroy, exists, list,
 * listparticipants, kick) is synchronous; joining, publishing, subscribing, configuring and
 * leaving are asynchronous and answered by an event. A publisher handle can join without
 * ever sending media (it then only gets the room's notifications); a subscriber handle can
 * only subscribe to a feed that is publishing, which takes a PeerConnection (or the room's
 * dummy publisher). Fields checked against janus_videoroom.c (Janus 1.1.2) and the real plugin.
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

// ---------------------------------------------------------------- room management

export interface VideoRoomCreateOptions {
  /** Chosen by the plugin when left out. */
  readonly room?: JanusId;
  /** Save the room in the plugin's configuration file. */
  readonly permanent?: boolean;
  readonly description?: string;
  /** Needed to edit or destroy the room. */
  readonly secret?: string;
  /** Needed to join the room. */
  readonly pin?: string;
  /** Left out of `list` answers. */
  readonly is_private?: boolean;
  /** Tokens a `join` must carry, when the ACL is enabled. */
  readonly allowed?: readonly string[];
  readonly require_pvtid?: boolean;
  readonly signed_tokens?: boolean;
  /** Most concurrent WebRTC publishers (default 3). */
  readonly publishers?: number;
  readonly bitrate?: number;
  readonly bitrate_cap?: boolean;
  /** Seconds between keyframe requests to publishers (0: none). */
  readonly fir_freq?: number;
  /** Comma-separated, in order of preference: opus, g722, pcmu, pcma, isac32, isac16. */
  readonly audiocodec?: string;
  /** Comma-separated, in order of preference: vp8, vp9, h264, av1, h265. */
  readonly videocodec?: string;
  readonly vp9_profile?: string;
  readonly h264_profile?: string;
  readonly opus_fec?: boolean;
  readonly opus_dtx?: boolean;
  readonly video_svc?: boolean;
  readonly audiolevel_ext?: boolean;
  readonly audiolevel_event?: boolean;
  readonly audio_active_packets?: number;
  readonly audio_level_average?: number;
  readonly videoorient_ext?: boolean;
  readonly playoutdelay_ext?: boolean;
  readonly transport_wide_cc_ext?: boolean;
  readonly record?: boolean;
  readonly rec_dir?: string;
  readonly lock_record?: boolean;
  /** Notify participants of every join, not only of new publishers. */
  readonly notify_joining?: boolean;
  readonly require_e2ee?: boolean;
  /**
   * A publisher that "publishes" one placeholder stream per room codec without any media:
   * subscriptions to it need no real publisher.
   */
  readonly dummy_publisher?: boolean;
  /** The dummy publisher's streams: codec (and optional fmtp) per stream. */
  readonly dummy_streams?: ReadonlyArray<{ readonly codec: string; readonly fmtp?: string }>;
  /** Needed when the plugin is configured with one. */
  readonly admin_key?: string;
}

export interface VideoRoomCreated {
  readonly videoroom: 'created';
  readonly room: JanusId;
  /** False when a permanent room could not be saved. */
  readonly permanent: boolean;
}

export interface VideoRoomEditOptions {
  readonly room: JanusId;
  readonly secret?: string;
  readonly new_description?: string;
  readonly new_is_private?: boolean;
  readonly new_secret?: string;
  readonly new_pin?: string;
  readonly new_require_pvtid?: boolean;
  readonly new_bitrate?: number;
  readonly new_fir_freq?: number;
  readonly new_publishers?: number;
  readonly new_lock_record?: boolean;
  readonly new_rec_dir?: string;
  readonly permanent?: boolean;
}

export interface VideoRoomEdited {
  readonly videoroom: 'edited';
  readonly room: JanusId;
  /** False when a permanent change could not be saved. */
  readonly permanent: boolean;
}

export interface VideoRoomDestroyOptions {
  readonly room: JanusId;
  readonly secret?: string;
  readonly permanent?: boolean;
}

export interface VideoRoomDestroyed {
  readonly videoroom: 'destroyed';
  readonly room: JanusId;
  readonly permanent: boolean;
}

export interface VideoRoomExists {
  readonly videoroom: 'success';
  readonly room: JanusId;
  readonly exists: boolean;
}

/** One room of a `list` answer. */
export interface VideoRoomInfo {
  readonly room: JanusId;
  readonly description: string;
  readonly pin_required: boolean;
  readonly is_private: boolean;
  readonly max_publishers: number;
  readonly bitrate: number;
  /** Only present (true) when the cap is enforced. */
  readonly bitrate_cap?: true;
  readonly fir_freq: number;
  readonly require_pvtid: boolean;
  readonly require_e2ee: boolean;
  readonly dummy_publisher: boolean;
  readonly notify_joining: boolean;
  readonly audiocodec: string;
  readonly videocodec: string;
  readonly opus_fec?: true;
  readonly opus_dtx?: true;
  readonly video_svc?: true;
  readonly record: boolean;
  /** Only present when a recording folder is set. */
  readonly rec_dir?: string;
  readonly lock_record: boolean;
  /** Participants (publishers, active or not; not subscribers). */
  readonly num_participants: number;
  readonly audiolevel_ext: boolean;
  readonly audiolevel_event: boolean;
  readonly audio_active_packets?: number;
  readonly audio_level_average?: number;
  readonly videoorient_ext: boolean;
  readonly playoutdelay_ext: boolean;
  readonly transport_wide_cc_ext: boolean;
}

export interface VideoRoomList {
  readonly videoroom: 'success';
  readonly list: readonly VideoRoomInfo[];
}

export interface VideoRoomParticipant {
  readonly id: JanusId;
  readonly display?: string;
  /** True only for the room's dummy publisher. */
  readonly dummy?: true;
  /** Whether it is publishing media now. */
  readonly publisher: boolean;
  readonly talking?: boolean;
}

export interface VideoRoomParticipants {
  readonly videoroom: 'participants';
  readonly room: JanusId;
  readonly participants: readonly VideoRoomParticipant[];
}

export interface VideoRoomKickOptions {
  readonly room: JanusId;
  readonly id: JanusId;
  readonly secret?: string;
}

export interface VideoRoomSuccess {
  readonly videoroom: 'success';
}

// ---------------------------------------------------------------- publishers

export interface VideoRoomPublisherJoinOptions {
  readonly room: JanusId;
  /** Chosen by the plugin when left out. */
  readonly id?: JanusId;
  readonly display?: string;
  readonly pin?: string;
  /** Invitation token, when the room has an ACL. */
  readonly token?: string;
}

/** A stream a publisher sends, as other participants learn of it. */
export interface VideoRoomPublishedStream {
  readonly type: 'audio' | 'video' | 'data';
  readonly mindex: number;
  readonly mid: string;
  /** True when the stream is inactive; codec and description are then left out. */
  readonly disabled?: true;
  readonly codec?: string;
  readonly description?: string;
  /** True while a moderator mutes it. */
  readonly moderated?: true;
  readonly simulcast?: true;
  readonly svc?: true;
  readonly stereo?: true;
  readonly fec?: true;
  readonly dtx?: true;
  readonly h264_profile?: string;
  readonly vp9_profile?: string;
  /** Only when audio levels are in use. */
  readonly talking?: boolean;
}

/** A participant that publishes media (or the room's dummy publisher). */
export interface VideoRoomPublisher {
  readonly id: JanusId;
  readonly display?: string;
  readonly dummy?: true;
  /** The first audio and video codec: kept by Janus for older clients. */
  readonly audio_codec?: string;
  readonly video_codec?: string;
  readonly streams: readonly VideoRoomPublishedStream[];
  readonly talking?: boolean;
}

export interface VideoRoomAttendee {
  readonly id: JanusId;
  readonly display?: string;
}

/** The answer to a publisher `join` (and to `joinandconfigure`). */
export interface VideoRoomJoined {
  readonly videoroom: 'joined';
  readonly room: JanusId;
  readonly description: string;
  /** This participant's id. */
  readonly id: JanusId;
  /** Ties this participant's subscriptions to it (see `private_id` when subscribing). */
  readonly private_id: number;
  /** Who publishes media now; a publisher that joined without media is not in it. */
  readonly publishers: readonly VideoRoomPublisher[];
  /** Only in rooms with `notify_joining`. */
  readonly attendees?: readonly VideoRoomAttendee[];
  readonly audio_active_packets?: number;
  readonly audio_level_average?: number;
}

export interface VideoRoomStreamDescription {
  readonly mid: string;
  readonly description: string;
}

export interface VideoRoomPublishOptions {
  readonly audiocodec?: string;
  readonly videocodec?: string;
  readonly bitrate?: number;
  readonly record?: boolean;
  readonly filename?: string;
  readonly display?: string;
  readonly audio_level_average?: number;
  readonly audio_active_packets?: number;
  /** Text descriptions of the published streams, by mid. */
  readonly descriptions?: readonly VideoRoomStreamDescription[];
}

/** `joinandconfigure`: join as a publisher and publish with the same request. */
export type VideoRoomJoinAndConfigureOptions = VideoRoomPublisherJoinOptions & VideoRoomPublishOptions;

export interface VideoRoomPublisherStreamSettings {
  readonly mid: string;
  readonly keyframe?: boolean;
  /** Relay (true) or stop relaying this stream to subscribers. */
  readonly send?: boolean;
  readonly min_delay?: number;
  readonly max_delay?: number;
}

/** `configure` on a publisher handle: change how it publishes (with a JSEP offer: renegotiate). */
export interface VideoRoomPublisherConfigureOptions extends VideoRoomPublishOptions {
  readonly keyframe?: boolean;
  readonly streams?: readonly VideoRoomPublisherStreamSettings[];
  /** Force an ICE restart along the offer. */
  readonly restart?: boolean;
  readonly update?: boolean;
}

export interface VideoRoomSubscriberStreamSettings {
  readonly mid: string;
  readonly send?: boolean;
  readonly substream?: number;
  readonly temporal?: number;
  readonly fallback?: number;
  readonly spatial_layer?: number;
  readonly temporal_layer?: number;
  readonly audio_level_average?: number;
  readonly audio_active_packets?: number;
  readonly min_delay?: number;
  readonly max_delay?: number;
}

/** `configure` on a subscriber handle: what to relay per stream, or an ICE restart. */
export interface VideoRoomSubscriberConfigureOptions {
  readonly streams?: readonly VideoRoomSubscriberStreamSettings[];
  /** Ask for a new offer with an ICE restart (answer it with `start`). */
  readonly restart?: boolean;
}

/** The answer to `configure` and `publish`: publishers also get their streams as Janus took them. */
export interface VideoRoomConfigured {
  readonly videoroom: 'event';
  readonly room: JanusId;
  readonly configured: 'ok';
  readonly audio_codec?: string;
  readonly video_codec?: string;
  readonly streams?: readonly VideoRoomPublishedStream[];
}

export interface VideoRoomUnpublished {
  readonly videoroom: 'event';
  readonly room: JanusId;
  readonly unpublished: 'ok';
}

/** The answer to a publisher's `leave`. */
export interface VideoRoomLeft {
  readonly videoroom: 'event';
  readonly room: JanusId;
  readonly leaving: 'ok';
}

// ---------------------------------------------------------------- subscribers

export interface VideoRoomSubscriptionStream {
  /** The publisher whose stream(s) to receive. */
  readonly feed: JanusId;
  /** One stream of that publisher; all of them when left out. */
  readonly mid?: string;
  /** An id of the caller's, echoed in the `streams` of the answer. */
  readonly crossrefid?: string;
  readonly send?: boolean;
  readonly substream?: number;
  readonly temporal?: number;
  readonly spatial_layer?: number;
  readonly temporal_layer?: number;
  readonly min_delay?: number;
  readonly max_delay?: number;
}

export interface VideoRoomSubscriberJoinOptions {
  readonly room: JanusId;
  readonly streams: readonly VideoRoomSubscriptionStream[];
  /** The subscribing participant's `private_id`; required in rooms with `require_pvtid`. */
  readonly private_id?: number;
  readonly use_msid?: boolean;
  /** Renegotiate by itself when a subscribed publisher leaves (default true). */
  readonly autoupdate?: boolean;
  readonly pin?: string;
}

/** One stream of a subscription. */
export interface VideoRoomSubscribedStream {
  readonly type: 'audio' | 'video' | 'data';
  /** False when the m-line has no source (its publisher left). */
  readonly active: boolean;
  readonly mindex: number;
  readonly mid: string;
  readonly crossrefid?: string;
  /** True once media can flow. */
  readonly ready: boolean;
  readonly send: boolean;
  readonly feed_id?: JanusId;
  readonly feed_display?: string;
  readonly feed_mid?: string;
  readonly feed_description?: string;
  readonly codec?: string;
  /** Data streams only: how many publishers feed it, and which. */
  readonly sources?: number;
  readonly source_ids?: readonly JanusId[];
}

/** The answer to a subscriber `join`: comes with Janus's JSEP offer, to answer with `start`. */
export interface VideoRoomAttached {
  readonly videoroom: 'attached';
  readonly room: JanusId;
  readonly streams: readonly VideoRoomSubscribedStream[];
}

export interface VideoRoomStarted {
  readonly videoroom: 'event';
  readonly room: JanusId;
  readonly started: 'ok';
}

export interface VideoRoomPaused {
  readonly videoroom: 'event';
  readonly room: JanusId;
  readonly paused: 'ok';
}

/** The answer to a subscriber's `leave`. */
export interface VideoRoomSubscriptionLeft {
  readonly videoroom: 'event';
  readonly room: JanusId;
  readonly left: 'ok';
}

// ---------------------------------------------------------------- notifications

/** New publishers in the room (each with its streams). */
export interface VideoRoomPublishersEvent {
  readonly videoroom: 'event';
  readonly room: JanusId;
  readonly publishers: readonly VideoRoomPublisher[];
}

/** A publisher stopped publishing (it stays in the room). */
export interface VideoRoomUnpublishedEvent {
  readonly videoroom: 'event';
  readonly room: JanusId;
  readonly unpublished: JanusId;
}

/**
 * A participant left the room. To the participant a moderator kicked, Janus sends
 * `leaving: "ok"` with `reason: "kicked"` instead.
 */
export interface VideoRoomLeavingEvent {
  readonly videoroom: 'event';
  readonly room: JanusId;
  readonly leaving: JanusId | 'ok';
  readonly reason?: 'kicked';
}

/** A moderator kicked a participant (sent to the others). */
export interface VideoRoomKickedEvent {
  readonly videoroom: 'event';
  readonly room: JanusId;
  readonly kicked: JanusId;
}

/** Someone joined without publishing (only in rooms with `notify_joining`). */
export interface VideoRoomJoiningEvent {
  readonly videoroom: 'event';
  readonly room: JanusId;
  readonly joining: VideoRoomAttendee;
}

/** The room was destroyed; the handle is out of it. */
export interface VideoRoomDestroyedEvent {
  readonly videoroom: 'destroyed';
  readonly room: JanusId;
}

export interface VideoRoomTalkingEvent {
  readonly videoroom: 'talking' | 'stopped-talking';
  readonly room: JanusId;
  readonly id: JanusId;
  readonly mindex: number;
  readonly mid: string;
  readonly 'audio-level-dBov-avg': number;
}

/** A moderator muted or unmuted one of this publisher's streams. */
export interface VideoRoomModerationEvent {
  readonly videoroom: 'event';
  readonly room: JanusId;
  readonly id: JanusId;
  readonly mid: string;
  readonly moderation: 'muted' | 'unmuted';
}

/** A subscription changed: with a JSEP offer when it needs renegotiating (answer with `start`). */
export interface VideoRoomUpdatedEvent {
  readonly videoroom: 'updated';
  readonly room: JanusId;
  readonly streams?: readonly VideoRoomSubscribedStream[];
}

export type VideoRoomEvent =
  | PluginEvent<'joined', VideoRoomJoined>
  | PluginEvent<'attached', VideoRoomAttached>
  | PluginEvent<'updated', VideoRoomUpdatedEvent>
  | PluginEvent<'destroyed', VideoRoomDestroyedEvent>
  | PluginEvent<'publishers', VideoRoomPublishersEvent>
  | PluginEvent<'unpublished', VideoRoomUnpublishedEvent | VideoRoomUnpublished>
  | PluginEvent<'leaving', VideoRoomLeavingEvent>
  | PluginEvent<'kicked', VideoRoomKickedEvent>
  | PluginEvent<'joining', VideoRoomJoiningEvent>
  | PluginEvent<'talking', VideoRoomTalkingEvent>
  | PluginEvent<'moderation', VideoRoomModerationEvent>
  | PluginEvent<'configured', VideoRoomConfigured>
  | PluginEvent<'started', VideoRoomStarted>
  | PluginEvent<'paused', VideoRoomPaused>
  | PluginEvent<'left', VideoRoomSubscriptionLeft>
  | PluginErrorEvent
  | UnrecognizedEvent
  | JanusHandleEvent;

type Data = Readonly<Record<string, unknown>>;

/** Names a videoroom event: by `videoroom`, and for `videoroom: "event"` by the key that says what happened. */
function classify(data: Data, event: HandleEvent): Exclude<VideoRoomEvent, JanusHandleEvent> {
  const as = <T>(value: Data): T => value as unknown as T;
  switch (data.videoroom) {
    case 'joined':
      return pluginEvent('joined', as<VideoRoomJoined>(data), event);
    case 'attached':
      return pluginEvent('attached', as<VideoRoomAttached>(data), event);
    case 'updated':
      return pluginEvent('updated', as<VideoRoomUpdatedEvent>(data), event);
    case 'destroyed':
      return pluginEvent('destroyed', as<VideoRoomDestroyedEvent>(data), event);
    case 'talking':
    case 'stopped-talking':
      return pluginEvent('talking', as<VideoRoomTalkingEvent>(data), event);
    case 'event': {
      if ('error_code' in data) break;
      if ('publishers' in data) return pluginEvent('publishers', as<VideoRoomPublishersEvent>(data), event);
      if ('unpublished' in data) return pluginEvent('unpublished', as<VideoRoomUnpublishedEvent>(data), event);
      if ('leaving' in data) return pluginEvent('leaving', as<VideoRoomLeavingEvent>(data), event);
      if ('kicked' in data) return pluginEvent('kicked', as<VideoRoomKickedEvent>(data), event);
      if ('joining' in data) return pluginEvent('joining', as<VideoRoomJoiningEvent>(data), event);
      if ('moderation' in data) return pluginEvent('moderation', as<VideoRoomModerationEvent>(data), event);
      if ('configured' in data) return pluginEvent('configured', as<VideoRoomConfigured>(data), event);
      if ('started' in data) return pluginEvent('started', as<VideoRoomStarted>(data), event);
      if ('paused' in data) return pluginEvent('paused', as<VideoRoomPaused>(data), event);
      if ('left' in data) return pluginEvent('left', as<VideoRoomSubscriptionLeft>(data), event);
      break;
    }
  }
  return errorOrOther(data, event);
}

export class VideoRoom {
  static readonly plugin = 'janus.plugin.videoroom';

  constructor(readonly handle: PluginHandle) {}

  create(options: VideoRoomCreateOptions = {}, requestOptions?: RequestOptions): Promise<VideoRoomCreated> {
    return sendDataRequest(this.handle, { request: 'create', ...options }, requestOptions);
  }

  edit(options: VideoRoomEditOptions, requestOptions?: RequestOptions): Promise<VideoRoomEdited> {
    return sendDataRequest(this.handle, { request: 'edit', ...options }, requestOptions);
  }

  /** Everybody in the room gets a `destroyed` event and their PeerConnections close. */
  destroy(options: VideoRoomDestroyOptions, requestOptions?: RequestOptions): Promise<VideoRoomDestroyed> {
    return sendDataRequest(this.handle, { request: 'destroy', ...options }, requestOptions);
  }

  exists(room: JanusId, requestOptions?: RequestOptions): Promise<VideoRoomExists> {
    return sendDataRequest(this.handle, { request: 'exists', room }, requestOptions);
  }

  /** Public rooms; private ones too with the plugin's admin key. */
  list(options: { readonly admin_key?: string } = {}, requestOptions?: RequestOptions): Promise<VideoRoomList> {
    return sendDataRequest(this.handle, { request: 'list', ...options }, requestOptions);
  }

  listParticipants(room: JanusId, requestOptions?: RequestOptions): Promise<VideoRoomParticipants> {
    return sendDataRequest(this.handle, { request: 'listparticipants', room }, requestOptions);
  }

  /** The kicked participant gets `leaving: "ok"` with `reason: "kicked"`, the others `kicked`. */
  kick(options: VideoRoomKickOptions, requestOptions?: RequestOptions): Promise<VideoRoomSuccess> {
    return sendDataRequest(this.handle, { request: 'kick', ...options }, requestOptions);
  }

  /** Joins as a participant that may publish later; works without any media. */
  joinAsPublisher(options: VideoRoomPublisherJoinOptions, requestOptions?: RequestOptions): Promise<VideoRoomJoined> {
    return sendDataRequest(this.handle, { request: 'join', ptype: 'publisher', ...options }, requestOptions);
  }

  /** Joins and publishes at once: needs the JSEP offer; the answer carries Janus's JSEP answer. */
  joinAndConfigure(
    options: VideoRoomJoinAndConfigureOptions,
    offer: Jsep,
    requestOptions?: RequestOptions,
  ): Promise<PluginAnswer<VideoRoomJoined>> {
    return sendRequest(
      this.handle,
      { request: 'joinandconfigure', ptype: 'publisher', ...options },
      offer,
      requestOptions,
    );
  }

  /** Starts publishing on a joined publisher handle: needs the JSEP offer; the answer carries Janus's JSEP answer. */
  publish(
    options: VideoRoomPublishOptions,
    offer: Jsep,
    requestOptions?: RequestOptions,
  ): Promise<PluginAnswer<VideoRoomConfigured>> {
    return sendRequest(this.handle, { request: 'publish', ...options }, offer, requestOptions);
  }

  unpublish(requestOptions?: RequestOptions): Promise<VideoRoomUnpublished> {
    return sendDataRequest(this.handle, { request: 'unpublish' }, requestOptions);
  }

  /**
   * `configure` on a publisher or a subscriber handle. With a JSEP offer (publishers), it
   * renegotiates and the answer carries Janus's JSEP answer; a subscriber's `restart` asks
   * for a new offer instead.
   */
  configure(
    options: VideoRoomPublisherConfigureOptions | VideoRoomSubscriberConfigureOptions,
    jsep?: Jsep,
    requestOptions?: RequestOptions,
  ): Promise<PluginAnswer<VideoRoomConfigured>> {
    return sendRequest(this.handle, { request: 'configure', ...options }, jsep, requestOptions);
  }

  /**
   * Subscribes this handle to publishers' streams. The answer carries Janus's JSEP offer:
   * send the JSEP answer with `start`. Every feed must be publishing media (Janus answers
   * 428 "No such feed" for a participant that only joined).
   */
  joinAsSubscriber(
    options: VideoRoomSubscriberJoinOptions,
    requestOptions?: RequestOptions,
  ): Promise<PluginAnswer<VideoRoomAttached>> {
    return sendRequest(this.handle, { request: 'join', ptype: 'subscriber', ...options }, undefined, requestOptions);
  }

  /** With the JSEP answer: completes a subscription. Without: resumes a paused one. */
  start(answer?: Jsep, requestOptions?: RequestOptions): Promise<VideoRoomStarted> {
    return sendRequest<VideoRoomStarted>(this.handle, { request: 'start' }, answer, requestOptions).then(
      (reply) => reply.data,
    );
  }

  /** Stops relaying media to this subscriber until the next `start`. */
  pause(requestOptions?: RequestOptions): Promise<VideoRoomPaused> {
    return sendDataRequest(this.handle, { request: 'pause' }, requestOptions);
  }

  /**
   * Leaves the room (publisher: the others get `leaving`, and `unpublished` if it was
   * publishing) or ends the subscription (subscriber).
   */
  leave(requestOptions?: RequestOptions): Promise<VideoRoomLeft | VideoRoomSubscriptionLeft> {
    return sendDataRequest(this.handle, { request: 'leave' }, requestOptions);
  }

  /** This handle's events from now on; call it before the request whose events you wait for. */
  events(): AsyncIterable<VideoRoomEvent> {
    return classifiedEvents<VideoRoomEvent>(this.handle, classify);
  }
}
