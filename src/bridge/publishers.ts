/**
 * What the bridge publishes about one connection: Janus's notifications on the event
 * subject (with headers that say what they are) and lifecycle changes on the status subject.
 */
import { randomBytes } from 'node:crypto';
import { headers } from 'nats';
import type { StatusChange } from '../janus/connection.js';
import type { JanusMessage } from '../janus/protocol.js';
import type { Logger } from '../log.js';
import type { NatsLink } from '../nats.js';
import type { ConnectionMetrics } from '../ops/metrics.js';
import { eventHeaders, eventSubject, type EventSubjects } from './event-meta.js';
import type { EventSink } from './event-sink.js';

export interface PublishTarget {
  readonly link: NatsLink;
  readonly janusId: string;
  /** Redacted: this goes to every subscriber. */
  readonly janusUrl: string;
  readonly log: Logger;
  readonly metrics: ConnectionMetrics;
}

/**
 * Publishes `{janus_id, janus_url, janus_body}`; the body is Janus's JSON text, spliced in
 * without a re-parse. Each event gets a Nats-Msg-Id unique to this process and connection.
 */
export function eventPublisher(target: PublishTarget, sink: EventSink, baseSubject: string, mode: EventSubjects): (message: JanusMessage, text: string) => void {
  const head = `{"janus_id":${JSON.stringify(target.janusId)},"janus_url":${JSON.stringify(target.janusUrl)},"janus_body":`;
  const idPrefix = `${randomBytes(6).toString('hex')}-${target.janusId}-`;
  let sequence = 0;
  const report = target.metrics.event;
  return (message, text) => {
    const msgId = idPrefix + (++sequence).toString(36);
    const h = headers();
    for (const [name, value] of eventHeaders(target.janusId, message, msgId)) h.set(name, value);
    sink.publish({ subject: eventSubject(baseSubject, message, mode), data: Buffer.from(head + text + '}'), headers: h, msgId, report });
  };
}

export function statusPublisher(target: PublishTarget, subject: string): (change: StatusChange) => void {
  return (change) => {
    target.metrics.status(change);
    const level = change.state === 'connected' || change.state === 'reconnecting' ? 'debug' : 'info';
    target.log[level]({ status: change }, `connection ${change.state}`);
    const message = { janus_id: target.janusId, janus_url: target.janusUrl, ...change, at: new Date().toISOString() };
    target.link.publish(subject, Buffer.from(JSON.stringify(message)));
  };
}
