/**
 * The bridge's own errors, one table: the daemon (janus-nats-bridge) answers with these codes
 * and this client tells them apart with the same table. Janus's codes are 403 and 450–499;
 * the bridge's are 600–699, so a client can always tell who refused a request.
 *
 * This module has no imports and no side effects, so the daemon can import it on its own
 * (`janus-nats-client/errors-table`).
 */
export const BRIDGE_ERRORS = {
  invalid_json: { code: 600, reason: 'request is not valid JSON', action: 'send a UTF-8 JSON object' },
  not_an_object: { code: 601, reason: 'request must be a JSON object', action: 'wrap the request in {...}' },
  missing_verb: {
    code: 602,
    reason: 'request needs a string "janus" field',
    action: 'set "janus" to the Janus verb, e.g. "attach"',
  },
  too_large: {
    code: 603,
    reason: 'message is larger than janus.maxMessageBytes',
    action: 'send smaller requests or raise janus.maxMessageBytes',
  },
  verb_refused: {
    code: 604,
    reason: 'the bridge owns the Janus session; create, destroy and claim are refused',
    action: "drop the verb: every request already runs on the bridge's session",
  },
  invalid_field: {
    code: 605,
    reason: 'a field has the wrong type',
    action: 'fix the named field (ids are positive integers, transaction is a string)',
  },
  unsafe_value: {
    code: 606,
    reason: 'the request cannot be passed on exactly',
    action: 'nest at most 64 levels, keep integers below 2^53, and leave out NUL characters and unpaired surrogates',
  },
  invalid_header: {
    code: 607,
    reason: 'a request header has a malformed value',
    action: 'send Janus-Timeout as a whole number of milliseconds from 1 to 2147483647, or leave it out',
  },
  admin_verb_refused: {
    code: 608,
    reason: 'this Admin API verb may change Janus and is not in adminApi.allowVerbs',
    action: 'use a read-only verb, or list the verb in adminApi.allowVerbs of the bridges that should pass it on',
  },
  admin_not_configured: {
    code: 609,
    reason: 'this connection has no Admin API URL',
    action: 'set janus_admin_url for this janus_id in the connection list',
  },
  timeout: {
    code: 610,
    reason: 'no answer from Janus within janus.cmdTimeout',
    action: 'retry; a late answer is published on the event subject',
  },
  unavailable: {
    code: 611,
    reason: 'the Janus connection is not ready',
    action: 'retry after the status subject says connected',
  },
  connection_lost: {
    code: 612,
    reason: 'the connection to Janus closed before it answered',
    action: 'retry after reconnect; the request may or may not have run',
  },
  shutting_down: {
    code: 613,
    reason:
      'the connection is stopped here (shutdown, removed from the list, new janus_url, or another replica serves it)',
    action: 'retry: another replica or the restarted daemon will answer',
  },
  reply_too_large: {
    code: 614,
    reason: "Janus's answer does not fit in a NATS message, even compact",
    action: "raise the NATS server's max_payload",
  },
} as const;

export type BridgeErrorName = keyof typeof BRIDGE_ERRORS;

/** One row of the table. */
export interface BridgeErrorEntry {
  readonly code: number;
  readonly reason: string;
  readonly action: string;
}

/**
 * The errors worth retrying: the request may succeed later (610 timeout, 611 unavailable,
 * 612 connection lost, 613 shutting down). The others say the request itself is wrong or
 * can never be answered as it is (600–609, 614).
 */
export const RETRYABLE_BRIDGE_ERRORS: ReadonlySet<BridgeErrorName> = new Set<BridgeErrorName>([
  'timeout',
  'unavailable',
  'connection_lost',
  'shutting_down',
]);

const BY_CODE: ReadonlyMap<number, BridgeErrorName> = new Map(
  (Object.keys(BRIDGE_ERRORS) as BridgeErrorName[]).map((name) => [BRIDGE_ERRORS[name].code, name]),
);

/** The table's name for a bridge error code, or undefined for a code it does not hold. */
export function bridgeErrorName(code: number): BridgeErrorName | undefined {
  return BY_CODE.get(code);
}

/** Whether `code` is in the bridge's range (600–699) rather than Janus's. */
export function isBridgeErrorCode(code: number): boolean {
  return Number.isInteger(code) && code >= 600 && code <= 699;
}
