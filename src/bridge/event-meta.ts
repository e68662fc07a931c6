/**
 * What an event says about itself, for consumers that filter without parsing JSON:
 * its NATS headers and, in typed mode, its subject. Pure functions.
 */
import type { JanusMessage } from '../janus/protocol.js';

export type EventSubjects = 'flat' | 'typed';

/** A NATS subject token made of `value`: dots, spaces, `*` and `>` become `_`. */
function token(value: string): string {
  const cleaned = value.replace(/[\s.*>]/g, '_');
  return cleaned === '' ? '_' : cleaned;
}

function pluginOf(message: JanusMessage): string | undefined {
  const plugin = (message.plugindata as { plugin?: unknown } | undefined)?.plugin;
  return typeof plugin === 'string' ? plugin : undefined;
}

/** `<base>` when flat; `<base>.<type>` or `<base>.plugin.<plugin>` when typed. */
export function eventSubject(base: string, message: JanusMessage, mode: EventSubjects): string {
  if (mode === 'flat') return base;
  const plugin = pluginOf(message);
  return plugin ? `${base}.plugin.${token(plugin)}` : `${base}.${token(message.janus)}`;
}

/** The headers of one event; `msgId` is its Nats-Msg-Id. */
export function eventHeaders(janusId: string, message: JanusMessage, msgId: string): Array<[string, string]> {
  const headers: Array<[string, string]> = [['Janus-Id', janusId], ['Janus-Type', message.janus]];
  if (typeof message.session_id === 'number') headers.push(['Janus-Session', String(message.session_id)]);
  if (typeof message.sender === 'number') headers.push(['Janus-Handle', String(message.sender)]);
  const plugin = pluginOf(message);
  if (plugin) headers.push(['Janus-Plugin', plugin]);
  if (typeof message.transaction === 'string') headers.push(['Janus-Transaction', message.transaction]);
  headers.push(['Nats-Msg-Id', msgId]);
  return headers;
}
