/**
 * janus.plugin.textroom: text rooms over a WebRTC data channel. Through the Janus API
 * (`message`), the plugin only takes room management (create, edit, destroy, exists, list,
 * listparticipants, announcement, ...) and the negotiation of the data channel (`setup`,
 * answered with Janus's JSEP offer, and `ack` with the JSEP answer). Joining a room,
 * sending messages and leaving travel over the data channel itself, which this library
 * does not carry: Janus answers a `join` sent as a `message` with error 415 "Unknown
 * request". Room notifications (join, leave, message, announcement, destroyed) also only
 * reach data-channel participants, so `events()` here sees the answers and the core's
 * events, not the room's traffic. Fields checked against janus_textroom.c (Janus 1.1.2)
 * and the real plugin.
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

export interface TextRoomCreateOptions {
  /** Chosen by the plugin when left out. */
  readonly room?: JanusId;
  readonly admin_key?: string;
  readonly description?: string;
  readonly secret?: string;
  readonly pin?: string;
  readonly is_private?: boolean;
  /** Messages kept and replayed to new participants (0: none). */
  readonly history?: number;
  /** A backend to HTTP POST every message to. */
  readonly post?: string;
  readonly allowed?: readonly string[];
  readonly permanent?: boolean;
}

export interface TextRoomCreated {
  readonly textroom: 'created';
  readonly room: JanusId;
  readonly permanent: boolean;
}

export interface TextRoomEditOptions {
  readonly room: JanusId;
  readonly secret?: string;
  readonly new_description?: string;
  readonly new_secret?: string;
  readonly new_pin?: string;
  readonly new_is_private?: boolean;
  readonly new_post?: string;
  readonly permanent?: boolean;
}

export interface TextRoomEdited {
  readonly textroom: 'edited';
  readonly room: JanusId;
  readonly permanent: boolean;
}

export interface TextRoomDestroyOptions {
  readonly room: JanusId;
  readonly secret?: string;
  readonly permanent?: boolean;
}

export interface TextRoomDestroyed {
  readonly textroom: 'destroyed';
  readonly room: JanusId;
  readonly permanent: boolean;
}

export interface TextRoomExists {
  readonly textroom: 'success';
  readonly room: JanusId;
  readonly exists: boolean;
}

export interface TextRoomInfo {
  readonly room: JanusId;
  readonly description: string;
  readonly pin_required: boolean;
  readonly num_participants: number;
  /** How many messages the room replays to newcomers. */
  readonly history: number;
}

export interface TextRoomList {
  readonly textroom: 'success';
  readonly list: readonly TextRoomInfo[];
}

export interface TextRoomParticipant {
  readonly username: string;
  readonly display?: string;
}

/** The answer to `listparticipants`: the plugin sends it without a `textroom` field. */
export interface TextRoomParticipants {
  readonly room: JanusId;
  readonly participants: readonly TextRoomParticipant[];
}

export interface TextRoomAnnouncementOptions {
  readonly room: JanusId;
  readonly secret?: string;
  readonly text: string;
}

export interface TextRoomSuccess {
  readonly textroom: 'success';
}

/** The answer to `setup` (with Janus's JSEP offer for the data channel) and to `ack`. */
export interface TextRoomResult {
  readonly textroom: 'event';
  readonly result: 'ok';
}

export type TextRoomEvent = PluginEvent<'ok', TextRoomResult> | PluginErrorEvent | UnrecognizedEvent | JanusHandleEvent;

export class TextRoom {
  static readonly plugin = 'janus.plugin.textroom';

  constructor(readonly handle: PluginHandle) {}

  create(options: TextRoomCreateOptions = {}, requestOptions?: RequestOptions): Promise<TextRoomCreated> {
    return sendDataRequest(this.handle, { request: 'create', ...options }, requestOptions);
  }

  edit(options: TextRoomEditOptions, requestOptions?: RequestOptions): Promise<TextRoomEdited> {
    return sendDataRequest(this.handle, { request: 'edit', ...options }, requestOptions);
  }

  destroy(options: TextRoomDestroyOptions, requestOptions?: RequestOptions): Promise<TextRoomDestroyed> {
    return sendDataRequest(this.handle, { request: 'destroy', ...options }, requestOptions);
  }

  exists(room: JanusId, requestOptions?: RequestOptions): Promise<TextRoomExists> {
    return sendDataRequest(this.handle, { request: 'exists', room }, requestOptions);
  }

  list(options: { readonly admin_key?: string } = {}, requestOptions?: RequestOptions): Promise<TextRoomList> {
    return sendDataRequest(this.handle, { request: 'list', ...options }, requestOptions);
  }

  listParticipants(room: JanusId, requestOptions?: RequestOptions): Promise<TextRoomParticipants> {
    return sendDataRequest(this.handle, { request: 'listparticipants', room }, requestOptions);
  }

  /** A message from the room itself to everybody in it (over their data channels). */
  announcement(options: TextRoomAnnouncementOptions, requestOptions?: RequestOptions): Promise<TextRoomSuccess> {
    return sendDataRequest(this.handle, { request: 'announcement', ...options }, requestOptions);
  }

  /** Starts the data channel's negotiation: the answer carries Janus's JSEP offer, to answer with `ack`. */
  setup(requestOptions?: RequestOptions): Promise<PluginAnswer<TextRoomResult>> {
    return sendRequest(this.handle, { request: 'setup' }, undefined, requestOptions);
  }

  /** Completes the negotiation with the JSEP answer. */
  ack(answer: Jsep, requestOptions?: RequestOptions): Promise<TextRoomResult> {
    return sendRequest<TextRoomResult>(this.handle, { request: 'ack' }, answer, requestOptions).then(
      (reply) => reply.data,
    );
  }

  /** This handle's events from now on; call it before the request whose events you wait for. */
  events(): AsyncIterable<TextRoomEvent> {
    return classifiedEvents<TextRoomEvent>(
      this.handle,
      (data: Readonly<Record<string, unknown>>, event: HandleEvent) =>
        data.result === 'ok' ? pluginEvent('ok', data as unknown as TextRoomResult, event) : errorOrOther(data, event),
    );
  }
}
