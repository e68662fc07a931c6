/**
 * janus.plugin.echotest: sends a peer's media back to it. One unnamed, asynchronous request
 * (audio/video on or off, a bitrate cap, recording, simulcast layer); its answer is an
 * event with `result: "ok"`, and with a JSEP answer when the request carried an offer.
 * Fields checked against janus_echotest.c (Janus 1.1.2) and the real plugin.
 */
import type { Jsep, PluginAnswer, PluginHandle, RequestOptions } from '../handle-api.js';
import {
  classifiedEvents,
  errorOrOther,
  pluginEvent,
  sendRequest,
  type JanusHandleEvent,
  type PluginErrorEvent,
  type PluginEvent,
  type UnrecognizedEvent,
} from './common.js';

export interface EchoTestOptions {
  /** Send the peer's audio back (true) or drop it. */
  readonly audio?: boolean;
  /** Send the peer's video back (true) or drop it. */
  readonly video?: boolean;
  /** Bits per second to cap the peer's video with (REMB); 0 removes the cap. */
  readonly bitrate?: number;
  readonly record?: boolean;
  /** Base path of the recordings; `-audio.mjr`, `-video.mjr`, `-data.mjr` are appended. */
  readonly filename?: string;
  /** Simulcast substream (0-2) and temporal layer (0-2) to send back. */
  readonly substream?: number;
  readonly temporal?: number;
  /** Microseconds without packets before dropping to the substream below. */
  readonly fallback?: number;
  /** Codec to force, only read while negotiating (a request with a JSEP offer). */
  readonly audiocodec?: string;
  readonly videocodec?: string;
  /** VP9 (0 or 2) or H.264 (e.g. 42e01f) profile, only read while negotiating. */
  readonly videoprofile?: string;
  /** Negotiate RED for Opus, only read while negotiating. */
  readonly opusred?: boolean;
  /** Playout-delay extension bounds, in blocks of 10 ms. */
  readonly min_delay?: number;
  readonly max_delay?: number;
}

/** The answer to every successful request. */
export interface EchoTestResult {
  readonly echotest: 'event';
  readonly result: 'ok';
}

/** `result: "done"`: the PeerConnection is gone and the echo is over. */
export interface EchoTestDone {
  readonly echotest: 'event';
  readonly result: 'done';
}

/** The peer's link is losing packets on the way back to it. */
export interface EchoTestSlowLink {
  readonly echotest: 'event';
  readonly event: 'slow_link';
  readonly media: 'audio' | 'video';
  /** The video bitrate cap in force (video only). */
  readonly 'current-bitrate'?: number;
}

/** The simulcast substream or temporal layer being sent back changed. */
export interface EchoTestSimulcastChange {
  readonly echotest: 'event';
  readonly videocodec: string;
  readonly substream?: number;
  readonly temporal?: number;
}

export type EchoTestEvent =
  | PluginEvent<'ok', EchoTestResult>
  | PluginEvent<'done', EchoTestDone>
  | PluginEvent<'slow_link', EchoTestSlowLink>
  | PluginEvent<'simulcast', EchoTestSimulcastChange>
  | PluginErrorEvent
  | UnrecognizedEvent
  | JanusHandleEvent;

export class EchoTest {
  static readonly plugin = 'janus.plugin.echotest';

  constructor(readonly handle: PluginHandle) {}

  /**
   * The echotest's only request. With a JSEP offer, the answer carries Janus's JSEP answer;
   * without one, it changes the settings of the running echo.
   */
  message(
    options: EchoTestOptions,
    jsep?: Jsep,
    requestOptions?: RequestOptions,
  ): Promise<PluginAnswer<EchoTestResult>> {
    return sendRequest<EchoTestResult>(this.handle, options as Readonly<Record<string, unknown>>, jsep, requestOptions);
  }

  /** This handle's events from now on; call it before the request whose events you wait for. */
  events(): AsyncIterable<EchoTestEvent> {
    return classifiedEvents<EchoTestEvent>(this.handle, (data, event) => {
      if (data.result === 'ok') return pluginEvent('ok', data as unknown as EchoTestResult, event);
      if (data.result === 'done') return pluginEvent('done', data as unknown as EchoTestDone, event);
      if (data.event === 'slow_link') return pluginEvent('slow_link', data as unknown as EchoTestSlowLink, event);
      if (typeof data.videocodec === 'string' && ('substream' in data || 'temporal' in data)) {
        return pluginEvent('simulcast', data as unknown as EchoTestSimulcastChange, event);
      }
      return errorOrOther(data, event);
    });
  }
}
