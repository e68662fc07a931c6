/**
 * What the bridge publishes about one connection: Janus's notifications on the event
 * subject (with headers that say what they are) and lifecycle changes on the status subject.
 */
import { randomBytes } from 'node:crypto';
import type { JanusMessage } from '../janus/protocol.js';
import type { Logger } from '../log.js';
import { HeaderBlock } from '../nats/header-block.js';
import type { NatsPublisher, PublishResult } from '../nats/publisher.js';
import type { ConnectionMetrics } from './reporting.js';
import { eventHeaderBuilder, eventSubject, type EventSubjects } from './event-meta.js';
import type { EventSink } from './event-sink.js';
import { errorCode, errorText } from './replies.js';

export interface PublishTarget {
  readonly publisher: NatsPublisher;
  readonly janusId: string;
  /** Redacted: this goes to every subscriber. */
  readonly janusUrl: string;
  readonly log: Logger;
  readonly metrics: ConnectionMetrics;
}

/**
 * Publishes `{janus_id, janus_url, janus_body}`; the body is Janus's JSON text, spliced in
 * without a re-parse. Each event gets a Nats-Msg-Id unique to this process and connection.
 * It never throws: it runs inside the WebSocket's message handler, for a frame from Janus
 * that may carry a client's transaction. An event that cannot be published is logged and
 * counted (publish failures, kind `event`).
 */
export function eventPublisher(
  target: PublishTarget,
  sink: EventSink,
  baseSubject: string,
  mode: EventSubjects,
): (message: JanusMessage, text: string) => void {
  const head =
    `{"janus_id":${JSON.stringify(target.janusId)},` + `"janus_url":${JSON.stringify(target.janusUrl)},"janus_body":`;
  const idPrefix = `${randomBytes(6).toString('hex')}-${target.janusId}-`;
  let sequence = 0;
  const report = target.metrics.event;
  const headersOf = eventHeaderBuilder(target.janusId);
  return (message, text) => {
    try {
      const msgId = idPrefix + (++sequence).toString(36);
      sink.publish({
        subject: eventSubject(baseSubject, message, mode),
        data: Buffer.from(head + text + '}'),
        // The values passed the header rule (eventHeaderBuilder): encoded once, not validated again by nats.js.
        headers: new HeaderBlock(headersOf(message, msgId)),
        msgId,
        report,
      });
    } catch (err) {
      target.log.error(
        { code: errorCode(err), err: errorText(err), type: String(message.janus).slice(0, 64) },
        'event not published',
      );
      target.metrics.publishFailed('event');
    }
  };
}

/**
 * A message for the status subject: `state` says what happened, the other fields tell more. The
 * connection's own changes (StatusChange), or one a higher layer announces (the HA layer's
 * `owner-changed`).
 */
export type StatusMessage = { readonly state: string } & Readonly<Record<string, unknown>>;

/**
 * Publishes each status message; one NATS did not take (refused, or dropped during an outage) is
 * counted (publish failures, kind `status`).
 */
export function statusPublisher(target: PublishTarget, subject: string): (change: StatusMessage) => void {
  return (change) => {
    const level = change.state === 'connected' || change.state === 'reconnecting' ? 'debug' : 'info';
    target.log[level]({ status: change }, `connection ${change.state}`);
    const message = { janus_id: target.janusId, janus_url: target.janusUrl, ...change, at: new Date().toISOString() };
    let result: PublishResult;
    try {
      result = target.publisher.publish(subject, Buffer.from(JSON.stringify(message)), undefined, 'status');
    } catch (err) {
      target.log.error({ code: errorCode(err), err: errorText(err) }, 'status not published');
      result = 'dropped';
    }
    if (result === 'dropped') target.metrics.publishFailed('status');
  };
}
