/**
 * The rules of Janus's Admin API as the bridge passes it on (`<prefix>.adminapi.<janus_id>`),
 * as plain functions: which verbs go to Janus, how a request is rewritten (the bridge's
 * transaction and admin secret), which message answers which request. No I/O here.
 *
 * Janus (src/janus.c, janus_process_incoming_admin_request) answers every admin request with
 * exactly one message carrying its transaction (`success`, `error`, `pong`, `server_info`):
 * even the module queries (message_plugin, query_*) are answered synchronously, and nothing
 * else is ever sent on an Admin WebSocket. So the first message with a request's transaction
 * is its answer, whatever its type.
 */
import { bridgeError, type BridgeError } from '../errors.js';
import { parseClientRequest, type JanusMessage, type ParsedRequest, type RequestRules } from './protocol.js';

/**
 * Verbs that only read Janus's state and reveal no credential, passed on without being listed
 * in adminApi.allowVerbs. Janus dispatches an admin verb by its name alone (a name of one path
 * is "Unhandled request" on another), so the name says what a request can do:
 *
 * - `info`, `ping`: what the Janus API answers too (no admin secret needed);
 * - `get_status`: the core's settings (timeouts, log level, debug flags);
 * - `list_sessions`, `list_handles` (with `session_id`), `handle_info` (with `session_id` and
 *   `handle_id`): the ids, and one handle's state and plugin-specific data;
 * - `loops_info`: how many handles each static event loop runs.
 *
 * Everything else needs the allow-list, also verbs that change nothing in the core: `list_tokens`
 * answers the stored tokens themselves (credentials); `resolve_address` and `test_stun` make
 * Janus resolve names and send packets to addresses the caller picks; `message_plugin`,
 * `query_transport`, `query_eventhandler` and `query_logger` hand a request to a module that may
 * change its own settings (the WebSocket transport's `configure`, the sample event handler's
 * `tweak`); `custom_event` and `custom_logline` write into event handlers and the log. And any
 * verb a later Janus adds: an unknown verb is refused, not guessed at.
 */
export const READ_ONLY_ADMIN_VERBS: ReadonlySet<string> = new Set([
  'info',
  'ping',
  'get_status',
  'list_sessions',
  'list_handles',
  'handle_info',
  'loops_info',
]);

/**
 * Admin requests name their target themselves (`session_id`, `handle_id`: any session, not the
 * bridge's), so nothing is refused outright and both ids must be ids. Janus reads an id that is
 * not an integer as none: the request would then address the whole server instead.
 */
export const ADMIN_API_RULES: RequestRules = { refusedVerbs: new Set(), idFields: ['session_id', 'handle_id'] };

/**
 * Validates an admin request as it came off NATS, in this order: the same rules as for Janus API
 * requests (600–606), then whether the connection has an Admin API at all (609), then the verb
 * (608). Nothing that fails here reaches Janus.
 */
export function checkAdminRequest(
  payload: Uint8Array | string,
  maxBytes: number,
  link: { readonly configured: boolean; readonly allowVerbs: ReadonlySet<string> },
): ParsedRequest {
  const parsed = parseClientRequest(payload, maxBytes, ADMIN_API_RULES);
  if (!parsed.ok) return parsed;
  const refusal = link.configured
    ? adminVerbRefusal(parsed.message.janus, link.allowVerbs)
    : bridgeError('admin_not_configured', 'no janus_admin_url in its entry of the connection list');
  return refusal ? { ok: false, error: refusal, clientTransaction: parsed.clientTransaction } : parsed;
}

/**
 * Why the bridge will not pass `verb` on (it is in lower case, as parseClientRequest left it),
 * or undefined when it will: read-only verbs always, others only when listed.
 */
export function adminVerbRefusal(verb: string, allowVerbs: ReadonlySet<string>): BridgeError | undefined {
  if (READ_ONLY_ADMIN_VERBS.has(verb) || allowVerbs.has(verb)) return undefined;
  // The verb is shown only when it is a short plain name: the error reason never carries the client's arbitrary text.
  return bridgeError('admin_verb_refused', ADMIN_VERB.test(verb) ? `"${verb}"` : `a verb of ${verb.length} characters`);
}

/**
 * What an admin verb looks like (Janus's are lower-case words joined by `_`); the allow-list is checked against this
 * too.
 */
export const ADMIN_VERB = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * Rewrites a request in place for the wire: the bridge's transaction replaces the client's, and
 * the admin secret is the bridge's (a client's `admin_secret` is replaced, or removed when the
 * bridge has none: the right to administer Janus is given by the bridge's configuration, not by
 * whoever may publish on the subject).
 */
export function toAdminWire(message: JanusMessage, transaction: string, adminSecret: string | undefined): JanusMessage {
  message.transaction = transaction;
  if (adminSecret) message.admin_secret = adminSecret;
  else delete message.admin_secret;
  return message;
}

/** The transaction a message from the Admin WebSocket answers, if it carries one: that request ends with it. */
export function answeredTransaction(message: JanusMessage): string | undefined {
  return typeof message.transaction === 'string' ? message.transaction : undefined;
}

/**
 * The allow-list as configured: verbs in lower case (Janus reads them in any case), duplicates
 * merged. Read-only verbs may be listed; they change nothing.
 */
export function allowedVerbs(configured: readonly string[]): ReadonlySet<string> {
  return new Set(configured.map((verb) => verb.toLowerCase()));
}
