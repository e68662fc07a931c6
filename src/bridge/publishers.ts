/**
 * What the bridge publishes about one connection: Janus's notifications on the event
 * subject and lifecycle changes on the status subject.
 */
import type { StatusChange } from '../janus/connection.js';
import type { Logger } from '../log.js';
import type { NatsLink } from '../nats.js';
import type { ConnectionMetrics } from '../ops/metrics.js';

export interface PublishTarget {
  readonly link: NatsLink;
  readonly janusId: string;
  /** Redacted: this goes to every subscriber. */
  readonly janusUrl: string;
  readonly log: Logger;
  readonly metrics: ConnectionMetrics;
}

/** Publishes `{janus_id, janus_url, janus_body}`; the body is Janus's JSON text, spliced in without a re-parse. */
export function eventPublisher(target: PublishTarget, subject: string): (janusBody: string) => void {
  const head = `{"janus_id":${JSON.stringify(target.janusId)},"janus_url":${JSON.stringify(target.janusUrl)},"janus_body":`;
  return (janusBody) => {
    target.metrics.event(target.link.publish(subject, Buffer.from(head + janusBody + '}')) !== 'dropped');
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
