/** The NATS subjects of the contract, in one place. */

export interface Subjects {
  request(janusId: string): string;
  event(janusId: string): string;
  status(janusId: string): string;
  /** Janus's Admin API, request/reply. */
  adminApi(janusId: string): string;
}

export function subjects(prefix: string): Subjects {
  return {
    request: (janusId) => `${prefix}.request.${janusId}`,
    event: (janusId) => `${prefix}.event.${janusId}`,
    status: (janusId) => `${prefix}.status.${janusId}`,
    adminApi: (janusId) => `${prefix}.adminapi.${janusId}`,
  };
}

/** Requests of every connection are served in this queue group, so a request runs once whatever the replica count. */
export const REQUEST_QUEUE_GROUP = 'janus-nats-bridge';

/**
 * The longest reply subject the bridge answers on. The server closes a connection whose
 * protocol line exceeds its max_control_line (4 KB by default): a client's PUB with a reply
 * subject just under that would make the bridge's HPUB, which carries the same subject and
 * more, cost the bridge its NATS connection.
 */
export const MAX_REPLY_SUBJECT_BYTES = 1024;

/**
 * Wildcards, whitespace (CR and LF included) and other control characters: none belongs in a subject a reply is
 * published on.
 */
const NOT_IN_A_REPLY_SUBJECT = /[\s\u0000-\u001f\u007f*>]/;

/**
 * Whether the bridge may publish a reply on `reply`, a subject the requester chose. A client
 * allowed to publish requests only could otherwise make the bridge publish, with the bridge's
 * rights, where it may not: on the bridge's own subjects (`<prefix>` and `<prefix>.…`: events,
 * status, the relay between replicas), on system and JetStream subjects (a token starting with
 * `$`), or on a pattern rather than a subject (wildcards, empty tokens, whitespace). Inboxes
 * (`_INBOX.…`, or a client's own inbox prefix) pass.
 */
export function isAcceptableReplySubject(reply: string, prefix: string): boolean {
  if (reply === '' || Buffer.byteLength(reply) > MAX_REPLY_SUBJECT_BYTES) return false;
  if (NOT_IN_A_REPLY_SUBJECT.test(reply)) return false;
  if (reply.split('.').some((token) => token === '' || token.startsWith('$'))) return false;
  return reply !== prefix && !reply.startsWith(`${prefix}.`);
}

/** The most of a client's subject a log line shows: enough to recognise it, not enough to flood the log. */
const SUBJECT_IN_LOG_CHARS = 128;

export function subjectForLog(subject: string): string {
  return subject.length > SUBJECT_IN_LOG_CHARS ? `${subject.slice(0, SUBJECT_IN_LOG_CHARS)}…` : subject;
}

/**
 * The prefix of a request subject (`<prefix>.request.<janus_id>` or `<prefix>.adminapi.<janus_id>`, janus_id being one
 * token):
 * what the request side needs to tell the bridge's own subjects from a client's.
 */
export function prefixOfRequestSubject(subject: string): string {
  return subject.split('.').slice(0, -2).join('.');
}
