/**
 * A request's own deadline: the client may ask for less than janus.cmdTimeout with the
 * header Janus-Timeout (milliseconds), so that the bridge's 610 reaches it before its own
 * NATS request gives up and the late answer is still published as an event. Pure.
 */
import { bridgeError, type BridgeError } from '../errors.js';

export const TIMEOUT_HEADER = 'Janus-Timeout';

/** setTimeout's largest delay; nobody waits longer for one request. */
const MAX_TIMEOUT_MS = 2_147_483_647;
const WHOLE_NUMBER = /^[1-9][0-9]{0,9}$/;

export type Deadline = { ok: true; timeoutMs: number } | { ok: false; error: BridgeError };

/** `header`: the Janus-Timeout value, or undefined when the request has none. */
export function requestDeadline(header: string | undefined, cmdTimeoutMs: number): Deadline {
  if (header === undefined) return { ok: true, timeoutMs: cmdTimeoutMs };
  const value = header.trim();
  const ms = WHOLE_NUMBER.test(value) ? Number(value) : NaN;
  if (!(ms >= 1 && ms <= MAX_TIMEOUT_MS)) {
    // The value is the client's: described, never quoted.
    return {
      ok: false,
      error: bridgeError(
        'invalid_header',
        `${TIMEOUT_HEADER} must be a whole number of milliseconds from 1 to ${MAX_TIMEOUT_MS}, ` +
          `got ${value === '' ? 'an empty value' : `a value of ${value.length} characters`}`,
      ),
    };
  }
  return { ok: true, timeoutMs: Math.min(ms, cmdTimeoutMs) };
}
