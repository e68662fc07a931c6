/**
 * What the bridge reports about its work, and to whom: the outcomes, event results and
 * failure kinds it counts, and the small interfaces the operations layer implements
 * (src/ops/metrics.ts), so that the bridge never depends on it.
 */
import type { BridgeError, BridgeErrorName } from '../errors.js';
import type { StatusChange } from '../janus/connection.js';

/** How a request ended, as the `outcome` label says it. */
export const OUTCOMES = ['ok', 'janus_error', 'timeout', 'unavailable', 'rejected'] as const;
export type RequestOutcome = (typeof OUTCOMES)[number];

/** What became of an event: published, or dropped and why. */
export type EventResult = 'published' | 'nats_unavailable' | 'buffer_full' | 'refused' | 'too_large';

/**
 * What a message the bridge could not publish was: a reply to a Janus request, an event, a
 * status message, or an answer on the admin, service-discovery or relay subjects.
 */
export const PUBLISH_KINDS = ['reply', 'event', 'status', 'admin'] as const;
export type PublishKind = (typeof PUBLISH_KINDS)[number];

/**
 * Which subjects a request came on whose reply subject the bridge refused to answer on (adminapi:
 * <prefix>.adminapi.<janus_id>).
 */
export const REFUSED_REPLY_KINDS = ['request', 'admin', 'discovery', 'relay', 'adminapi'] as const;
export type RefusedReplyKind = (typeof REFUSED_REPLY_KINDS)[number];

/** What the parts that answer NATS requests report besides their own figures. */
export interface AnswerMetrics {
  /** NATS refused a message (the client threw): it was not sent. */
  publishFailed(kind: PublishKind): void;
  /** A request was refused unanswered because of its reply subject (see isAcceptableReplySubject). */
  replySubjectRefused(kind: RefusedReplyKind): void;
}

/** What one connection reports; handed to the parts that see the events. */
export interface ConnectionMetrics extends AnswerMetrics {
  request(outcome: RequestOutcome, seconds: number): void;
  event(result: EventResult): void;
  status(change: StatusChange): void;
  /** A request on <prefix>.adminapi.<janus_id> ended. */
  adminRequest(outcome: RequestOutcome): void;
}

/** What hands each connection its reporter, and forgets it when the connection is no longer served. */
export interface ConnectionMetricsSource {
  forConnection(janusId: string): ConnectionMetrics;
  /** Not when a newer reporter of the same janus_id (a takeover) is in use. */
  removeConnection(janusId: string, reporter?: ConnectionMetrics): void;
}

/** Bridge errors that say Janus could not be reached or the request could not run there: retrying may help. */
const UNAVAILABLE: ReadonlySet<BridgeErrorName> = new Set<BridgeErrorName>([
  'unavailable',
  'connection_lost',
  'shutting_down',
]);

/** The outcome of a request from Janus's answer, or from the bridge error it got instead. */
export function outcomeOf(reply: { janus: string } | Pick<BridgeError, 'name'>): RequestOutcome {
  if ('janus' in reply) return reply.janus === 'error' ? 'janus_error' : 'ok';
  if (reply.name === 'timeout') return 'timeout';
  return UNAVAILABLE.has(reply.name) ? 'unavailable' : 'rejected';
}
