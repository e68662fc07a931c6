/** The typed plugin helpers: with the core, `janus.attach(VideoRoom)` gives a VideoRoom on a new handle. */
export { PluginError, isPluginErrorData } from './common.js';
export type {
  JanusHandleEvent,
  JanusId,
  PluginErrorData,
  PluginErrorEvent,
  PluginEvent,
  UnrecognizedEvent,
} from './common.js';
export * from './echotest.js';
export * from './videoroom.js';
export * from './audiobridge.js';
export * from './streaming.js';
export * from './textroom.js';
export * from './sip.js';
