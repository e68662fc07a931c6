/**
 * janus-nats-client: requests, handles and events of Janus WebRTC servers behind
 * janus-nats-bridge, over a nats.js connection you own.
 */
export {
  JanusNats,
  Handle,
  REPLY_GRACE_MS,
  DETACHED_EVENT_WAIT_MS,
  MAX_TIMEOUT_MS,
  type JanusNatsOptions,
  type AttachOptions,
  type PluginHelper,
  type JanusRequest,
  type JanusReply,
  type ServerInfo,
  type EventSubscriptionMode,
} from './client.js';
export {
  subscribeEvents,
  consumeEvents,
  subscribeStatus,
  parseEvent,
  parseStatus,
  type JanusBody,
  type JanusEvent,
  type EventHeaders,
  type EventStream,
  type SubscribeEventsOptions,
  type DurableEvent,
  type ConsumeEventsOptions,
  type EventConsumer,
  type BridgeStatus,
} from './events.js';
export {
  JanusNatsError,
  JanusError,
  BridgeError,
  NoRespondersError,
  TimeoutError,
  HandleEndedError,
  UNKNOWN_BRIDGE_ERROR,
  errorFromReply,
  type ErrorBody,
} from './errors.js';
export {
  BRIDGE_ERRORS,
  RETRYABLE_BRIDGE_ERRORS,
  bridgeErrorName,
  isBridgeErrorCode,
  type BridgeErrorName,
  type BridgeErrorEntry,
} from './errors-table.js';
export { defaultStreamName } from './subjects.js';
export type {
  Candidate,
  HandleEnd,
  HandleEvent,
  Jsep,
  PluginAnswer,
  PluginHandle,
  RequestOptions,
} from './handle-api.js';
