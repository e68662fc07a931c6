/**
 * The daemon's own errors, one table. Janus's codes are 403 and 450–499; ours are
 * 600–699, so a client can always tell who refused a request. The README's error
 * table is checked against this one by a unit test.
 */
export const BRIDGE_ERRORS = {
  invalid_json: { code: 600, reason: 'request is not valid JSON', action: 'send a UTF-8 JSON object' },
  not_an_object: { code: 601, reason: 'request must be a JSON object', action: 'wrap the request in {...}' },
  missing_verb: { code: 602, reason: 'request needs a string "janus" field', action: 'set "janus" to the Janus verb, e.g. "attach"' },
  too_large: { code: 603, reason: 'message is larger than janus.maxMessageBytes', action: 'send smaller requests or raise janus.maxMessageBytes' },
  verb_refused: { code: 604, reason: 'the bridge owns the Janus session; create, destroy and claim are refused', action: 'drop the verb: every request already runs on the bridge\'s session' },
  invalid_field: { code: 605, reason: 'a field has the wrong type', action: 'fix the named field (ids are positive integers, transaction is a string)' },
  unsafe_value: { code: 606, reason: 'the request cannot be passed on exactly', action: 'nest at most 64 levels, keep integers below 2^53, and leave out NUL characters and unpaired surrogates' },
  invalid_header: { code: 607, reason: 'a request header has a malformed value', action: 'send Janus-Timeout as a whole number of milliseconds from 1 to 2147483647, or leave it out' },
  timeout: { code: 610, reason: 'no answer from Janus within janus.cmdTimeout', action: 'retry; a late answer is published on the event subject' },
  unavailable: { code: 611, reason: 'the Janus connection is not ready', action: 'retry after the status subject says connected' },
  connection_lost: { code: 612, reason: 'the connection to Janus closed before it answered', action: 'retry after reconnect; the request may or may not have run' },
  shutting_down: { code: 613, reason: 'the connection is being stopped (shutdown or removed from the list)', action: 'retry: another replica or the restarted daemon will answer' },
  reply_too_large: { code: 614, reason: 'Janus\'s answer does not fit in a NATS message, even compact', action: 'raise the NATS server\'s max_payload' },
} as const;

export type BridgeErrorName = keyof typeof BRIDGE_ERRORS;

export interface BridgeError {
  readonly name: BridgeErrorName;
  readonly code: number;
  /** The table's reason, plus the specific detail when there is one. */
  readonly reason: string;
}

export function bridgeError(name: BridgeErrorName, detail?: string): BridgeError {
  const { code, reason } = BRIDGE_ERRORS[name];
  return { name, code, reason: detail ? `${reason}: ${detail}` : reason };
}
