/**
 * What an event says about itself, for consumers that filter without parsing JSON:
 * its NATS headers and, in typed mode, its subject. And the rule every header value the
 * bridge writes follows. Pure functions.
 */
import type { JanusMessage } from '../janus/protocol.js';

export type EventSubjects = 'flat' | 'typed' | 'handle';

/** A NATS subject token made of `value`: dots, whitespace, other control characters, `*` and `>` become `_`. */
function token(value: string): string {
  const cleaned = value.replace(/[\s\u0000-\u001f\u007f.*>]/g, '_');
  return cleaned === '' ? '_' : cleaned;
}

function pluginOf(message: JanusMessage): string | undefined {
  const plugin = (message.plugindata as { plugin?: unknown } | undefined)?.plugin;
  return typeof plugin === 'string' ? plugin : undefined;
}

/**
 * `<base>` when flat; `<base>.<type>` or `<base>.plugin.<plugin>` when typed; when by handle,
 * `<base>.handle.<handle id>` for a handle's events and `<base>.session` for the rest, so
 * that a service subscribes to exactly the handles it owns and NATS does the routing.
 */
export function eventSubject(base: string, message: JanusMessage, mode: EventSubjects): string {
  if (mode === 'flat') return base;
  if (mode === 'handle')
    return typeof message.sender === 'number' ? `${base}.handle.${message.sender}` : `${base}.session`;
  const plugin = pluginOf(message);
  return plugin ? `${base}.plugin.${token(plugin)}` : `${base}.${token(message.janus)}`;
}

/**
 * The headers of one event; `msgId` is its Nats-Msg-Id. A value that would not reach the
 * consumer exactly as the body has it (see isExactHeaderValue) is left out, header and all:
 * consumers match these values, and a missing header sends them to the body, where an
 * altered one would mislead them.
 */
export function eventHeaders(janusId: string, message: JanusMessage, msgId: string): Array<[string, string]> {
  return eventHeaderBuilder(janusId)(message, msgId);
}

/**
 * eventHeaders for one connection, for every event it publishes: the checks of values that
 * repeat (the janus_id, Janus's message types and plugin names) are made once each; numbers
 * (session, handle) need none; the transaction, the client's own, is checked every time.
 */
export function eventHeaderBuilder(janusId: string): (message: JanusMessage, msgId: string) => Array<[string, string]> {
  const checked = new Map<string, boolean>();
  const exactRepeated = (value: string): boolean => {
    let exact = checked.get(value);
    if (exact === undefined) {
      exact = isExactHeaderValue(value);
      // Janus has a few dozen types and plugins; a misbehaving one must not grow this without bound.
      if (checked.size < MAX_CHECKED_VALUES) checked.set(value, exact);
    }
    return exact;
  };
  const idIsExact = isExactHeaderValue(janusId);
  return (message, msgId) => {
    const headers: Array<[string, string]> = [];
    if (idIsExact) headers.push(['Janus-Id', janusId]);
    if (exactRepeated(message.janus)) headers.push(['Janus-Type', message.janus]);
    if (typeof message.session_id === 'number') headers.push(['Janus-Session', String(message.session_id)]);
    if (typeof message.sender === 'number') headers.push(['Janus-Handle', String(message.sender)]);
    const plugin = pluginOf(message);
    if (plugin && exactRepeated(plugin)) headers.push(['Janus-Plugin', plugin]);
    if (typeof message.transaction === 'string' && isExactHeaderValue(message.transaction))
      headers.push(['Janus-Transaction', message.transaction]);
    if (isExactHeaderValue(msgId)) headers.push(['Nats-Msg-Id', msgId]);
    return headers;
  };
}

const MAX_CHECKED_VALUES = 256;

/**
 * The longest header value the bridge writes, in UTF-8 bytes. Headers count towards the
 * server's max_payload, and a consumer that filters on them wants a short value, not a body.
 */
export const MAX_HEADER_VALUE_BYTES = 1024;

/**
 * What a header value cannot carry as it is: C0 control characters (CR and LF end a header
 * line: nats.js refuses them with BAD_HEADER, and other clients would split the header), DEL,
 * C1 control characters (NEL ends a line for some readers), the Unicode line and paragraph
 * separators, and unpaired surrogates (UTF-8 cannot encode them: they would arrive as U+FFFD).
 */
const UNSAFE_IN_HEADER =
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSAFE_IN_HEADER_ALL = new RegExp(UNSAFE_IN_HEADER.source, 'g');

/**
 * Whether `value` can be a header value that the consumer reads exactly as it is: no
 * character nats.js refuses or a reader splits on, no whitespace at either end (nats.js trims
 * values on both sides), and at most MAX_HEADER_VALUE_BYTES.
 */
export function isExactHeaderValue(value: string): boolean {
  return (
    value.length <= MAX_HEADER_VALUE_BYTES &&
    !UNSAFE_IN_HEADER.test(value) &&
    value.trim() === value &&
    Buffer.byteLength(value) <= MAX_HEADER_VALUE_BYTES
  );
}

/**
 * `text` made into a header value that can always be sent, for headers that are prose
 * (Nats-Service-Error) rather than values to match: each unsafe character becomes a space,
 * the ends are trimmed, and beyond MAX_HEADER_VALUE_BYTES it is cut (ending in `…`).
 */
export function cleanHeaderValue(text: string): string {
  const cleaned = text.replace(UNSAFE_IN_HEADER_ALL, ' ').trim();
  if (Buffer.byteLength(cleaned) <= MAX_HEADER_VALUE_BYTES) return cleaned;
  const ellipsis = '…';
  const room = MAX_HEADER_VALUE_BYTES - Buffer.byteLength(ellipsis);
  let bytes = 0;
  let end = 0;
  // By code point, so that a cut never splits a surrogate pair.
  for (const char of cleaned) {
    const size = Buffer.byteLength(char);
    if (bytes + size > room) break;
    bytes += size;
    end += char.length;
  }
  return cleaned.slice(0, end).trimEnd() + ellipsis;
}
