/**
 * The Janus API rules the bridge applies, as plain functions: what a client may
 * send, how a request is rewritten for the bridge's session, and which message
 * from Janus answers which request. No I/O here.
 */
import { bridgeError, type BridgeError } from '../errors.js';
import { jsonErrorWithoutInput } from '../json-errors.js';

/** A Janus API message: a JSON object with a string `janus` verb. */
export type JanusMessage = { janus: string; transaction?: string; session_id?: number; [key: string]: unknown };

/** Janus answers these with 453 when they carry a session: they must go without. */
export const SESSIONLESS_VERBS: ReadonlySet<string> = new Set(['info', 'ping']);

/** The bridge creates, keeps and destroys the session; clients may not. */
export const REFUSED_VERBS: ReadonlySet<string> = new Set(['create', 'destroy', 'claim']);

/** Messages that end a request, whatever its verb. */
const FINAL_TYPES: ReadonlySet<string> = new Set(['success', 'error', 'event', 'pong', 'server_info']);

/** Verbs whose complete answer is the `ack`; for the rest an `ack` only says "working on it". */
const ACK_IS_FINAL: ReadonlySet<string> = new Set(['keepalive', 'trickle']);

/**
 * What a kind of request may hold beyond the shared rules (JSON object, string verb, size,
 * nesting, safe integers and strings): the verbs refused outright, and the fields that must be
 * Janus ids when present.
 */
export interface RequestRules {
  readonly refusedVerbs: ReadonlySet<string>;
  readonly idFields: readonly string[];
}

/** The Janus API on `<prefix>.request.<janus_id>`: the session is the bridge's, so only `handle_id` is the client's. */
export const CLIENT_API_RULES: RequestRules = { refusedVerbs: REFUSED_VERBS, idFields: ['handle_id'] };

/** Janus's JSON parser (jansson) refuses deeper documents; no real request comes close. */
export const MAX_NESTING = 64;

export type ParsedRequest =
  | { ok: true; message: JanusMessage; clientTransaction: string | undefined }
  | { ok: false; error: BridgeError; clientTransaction: string | undefined };

/** Validates a client's request as it came off NATS (a Janus API request unless other `rules` are given). */
export function parseClientRequest(
  payload: Uint8Array | string,
  maxBytes: number,
  rules: RequestRules = CLIENT_API_RULES,
): ParsedRequest {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  if (size > maxBytes) return fail(bridgeError('too_large', `${size} bytes, limit ${maxBytes}`));
  if (size === 0) return fail(bridgeError('invalid_json', 'empty payload'));
  let value: unknown;
  try {
    value = JSON.parse(
      typeof payload === 'string'
        ? payload
        : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'),
    );
  } catch (err) {
    return fail(bridgeError('invalid_json', jsonErrorWithoutInput(err as Error)));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(bridgeError('not_an_object', `got ${describeValue(value)}`));
  }
  const message = value as Record<string, unknown>;
  const transaction = Object.hasOwn(message, 'transaction') ? message.transaction : undefined;
  if (transaction !== undefined && typeof transaction !== 'string') {
    return fail(bridgeError('invalid_field', `"transaction" must be a string, got ${describeValue(transaction)}`));
  }
  const clientTransaction = transaction;
  const written = Object.hasOwn(message, 'janus') ? message.janus : undefined;
  if (typeof written !== 'string' || written === '') {
    return fail(
      bridgeError('missing_verb', written === undefined ? '"janus" is missing' : `got ${describeValue(written)}`),
      clientTransaction,
    );
  }
  // Janus reads verbs in any case ("Destroy" destroys): every rule here, and Janus, see the same lower-case verb.
  const verb = written.toLowerCase();
  message.janus = verb;
  if (rules.refusedVerbs.has(verb)) return fail(bridgeError('verb_refused', `"${verb}"`), clientTransaction);
  for (const field of rules.idFields) {
    if (Object.hasOwn(message, field) && !isJanusId(message[field])) {
      return fail(
        bridgeError(
          'invalid_field',
          `"${field}" must be a positive integer below 2^53, got ${describeValue(message[field])}`,
        ),
        clientTransaction,
      );
    }
  }
  const unsafe = unsafeContent(message);
  if (unsafe) return fail(bridgeError('unsafe_value', unsafe), clientTransaction);
  return { ok: true, message: message as JanusMessage, clientTransaction };
}

/** Janus's JSON parser (jansson) refuses NUL characters and unpaired UTF-16 surrogates in strings. */
const REFUSED_BY_JANSSON = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * What in a parsed request would not reach Janus as the client wrote it: nesting deeper
 * than MAX_NESTING, an integer that JSON.parse already rounded (beyond 2^53), or a string
 * Janus's parser refuses (Janus would answer without a transaction, so the request could
 * only time out).
 */
export function unsafeContent(root: unknown): string | undefined {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value === 'string') {
      if (REFUSED_BY_JANSSON.test(value))
        return 'a string holds a NUL character or an unpaired surrogate, which Janus refuses';
      continue;
    }
    if (typeof value === 'number') {
      if (Number.isInteger(value) && !Number.isSafeInteger(value))
        return `the integer ${value} is beyond 2^53 and was rounded`;
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_NESTING) return `nested deeper than ${MAX_NESTING} levels`;
    if (Array.isArray(value)) {
      for (const child of value) stack.push([child, depth + 1]);
      continue;
    }
    for (const key of Object.keys(value)) {
      if (REFUSED_BY_JANSSON.test(key))
        return 'a key holds a NUL character or an unpaired surrogate, which Janus refuses';
      stack.push([(value as Record<string, unknown>)[key], depth + 1]);
    }
  }
  return undefined;
}

function fail(error: BridgeError, clientTransaction?: string): ParsedRequest {
  return { ok: false, error, clientTransaction };
}

/** Janus ids are JSON numbers below 2^53; anything beyond lost precision in JSON.parse. */
export function isJanusId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/**
 * What a client's value is, for an error reason: its type, and its length for a string, never
 * the string itself. Reasons go into the Nats-Service-Error header, the reply and log lines,
 * and a client's string may carry anything: line breaks, a megabyte, somebody's secret. A
 * number is shown: JSON.parse made it, so it is short and plain.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'string')
    return value === ''
      ? 'an empty string'
      : `a string of ${value.length} ${value.length === 1 ? 'character' : 'characters'}`;
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/**
 * Rewrites a request in place for the bridge's session: our transaction replaces
 * the client's, and the session id is ours (or absent for session-less verbs).
 * `claim` carries the session it claims, which the caller passes as `sessionId`.
 */
export function bindToSession(message: JanusMessage, sessionId: number | undefined, transaction: string): JanusMessage {
  message.transaction = transaction;
  if (SESSIONLESS_VERBS.has(message.janus) || sessionId === undefined) delete message.session_id;
  else message.session_id = sessionId;
  return message;
}

/**
 * Puts the bridge's Janus credentials on a request, replacing any the client sent:
 * the session is the bridge's, and so is the right to use it.
 */
export function withCredentials(
  message: JanusMessage,
  credentials: { apiSecret?: string; token?: string },
): JanusMessage {
  if (credentials.apiSecret) message.apisecret = credentials.apiSecret;
  else delete message.apisecret;
  if (credentials.token) message.token = credentials.token;
  else delete message.token;
  return message;
}

/** Whether a message of type `answerType` carrying a request's transaction ends that request. */
export function completes(requestVerb: string, answerType: string): boolean {
  if (answerType === 'ack') return ACK_IS_FINAL.has(requestVerb);
  return FINAL_TYPES.has(answerType);
}

/**
 * Whether more messages may carry a request's transaction after its answer: only a plugin
 * `message` (a plugin may push several events for one request). The core's requests end
 * with their answer, so the bridge need not remember their transactions.
 */
export function mayHaveFollowUps(requestVerb: string): boolean {
  return requestVerb === 'message';
}

const ACK_START = /^\s*\{\s*"janus"\s*:\s*"ack"\s*[,}]/;
const TRANSACTION_FIELD = /"transaction"\s*:\s*"([^"\\]*)"/;

/**
 * The transaction of an `ack` frame, read without parsing it; undefined when `text` is not
 * plainly one (then it is parsed as any frame). Janus writes `"janus"` first, and our own
 * transactions have no escapes, so a match is exact. Half the frames of a fire-and-forget
 * flow are acks that end nothing: the router drops those without a JSON.parse.
 */
export function ackTransaction(text: string): string | undefined {
  if (!ACK_START.test(text)) return undefined;
  const match = TRANSACTION_FIELD.exec(text);
  return match?.[1];
}

/** What to do with a message from Janus, given the verb of the request waiting for its transaction (if any). */
export type Routing = 'answer' | 'drop' | 'event';

export function route(answerType: string, waitingVerb: string | undefined): Routing {
  if (waitingVerb !== undefined && completes(waitingVerb, answerType)) return 'answer';
  // An ack that ends nothing says only "received": nobody needs it.
  if (answerType === 'ack') return 'drop';
  return 'event';
}

/** Puts the client's transaction back (or removes ours when the client sent none). */
export function restoreTransaction<T extends { transaction?: unknown }>(
  message: T,
  clientTransaction: string | undefined,
): T {
  if (clientTransaction === undefined) delete message.transaction;
  else message.transaction = clientTransaction;
  return message;
}

/** A message from Janus as the client gets it: the value, and the JSON text to send. */
export interface ClientMessage {
  readonly message: JanusMessage;
  readonly text: string;
}

/**
 * Janus's message with the client's transaction in place of ours (`ours`), as a value and as
 * text. The text is Janus's own with only the transaction's value replaced, not the whole
 * message serialised again (answers can be large). Janus writes `transaction` right after
 * `janus`, `session_id`, `sender` and `opaque_id`, before any object: so the member is the
 * first `"<ours>"`, preceded by `"transaction":` as a key of the outer object (no `{` or `[`
 * opened before it). When it is not found that way, or the member must go (the client sent
 * none), the value is serialised instead.
 */
export function forClient(
  message: JanusMessage,
  text: string,
  ours: string,
  client: string | undefined,
): ClientMessage {
  const restored = restoreTransaction(message, client);
  if (client !== undefined) {
    const at = topLevelTransactionValue(text, ours);
    if (at >= 0)
      return { message: restored, text: text.slice(0, at) + JSON.stringify(client) + text.slice(at + ours.length + 2) };
  }
  return { message: restored, text: JSON.stringify(restored) };
}

/** Where `"<ours>"` stands as the outer object's `transaction` value in `text`, or -1. */
function topLevelTransactionValue(text: string, ours: string): number {
  const at = text.indexOf(`"${ours}"`);
  if (at < 0) return -1;
  const opening = text.indexOf('{');
  const outer = text.lastIndexOf('{', at) === opening && text.lastIndexOf('[', at) === -1;
  return outer && TRANSACTION_KEY_BEFORE.test(text.slice(opening, at)) ? at : -1;
}

/**
 * A key `"transaction"` (after the object's `{` or a `,`: not the end of a string or key that
 * merely ends so) and its colon, with the whitespace of Janus's indented or plain JSON, up to
 * where the value starts.
 */
const TRANSACTION_KEY_BEFORE = /[{,]\s*"transaction"\s*:\s*$/;

/** The bridge's own errors in Janus's shape, so clients handle one kind of error. */
export function errorReply(error: BridgeError, clientTransaction: string | undefined): JanusMessage {
  const reply: JanusMessage = { janus: 'error' };
  if (clientTransaction !== undefined) reply.transaction = clientTransaction;
  reply.error = { code: error.code, reason: error.reason };
  return reply;
}

/** Parses a frame from Janus; anything but a JSON object with a string `janus` is refused. */
export function parseJanusFrame(text: string): { ok: true; message: JanusMessage } | { ok: false; reason: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'frame is not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, reason: 'frame is not a JSON object' };
  if (typeof (value as JanusMessage).janus !== 'string')
    return { ok: false, reason: 'frame has no string "janus" field' };
  return { ok: true, message: value as JanusMessage };
}
