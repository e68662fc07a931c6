/**
 * What Janus's WebSocket event handler (wsevh, src/events/janus_wsevh.c) sends, and what
 * the bridge makes of it: the type names, the subject and the headers of each event. Pure
 * functions, no I/O.
 *
 * wsevh sends each event as Janus built it (src/events.c): `emitter` (janus.jcfg's
 * server_name), `type`, `subtype` (some types), `timestamp` (µs), `session_id` (not for
 * core and external events), `handle_id` (handle, jsep, webrtc, media and some plugin
 * events), `opaque_id`, and `event` (the body). With `grouping = true` (its default) a
 * message is a JSON array of up to 100 events; without, one event object per message.
 */
import { isExactHeaderValue } from '../bridge/event-meta.js';

/** Janus's event types (src/events/eventhandler.h): a bit each. */
export const EVH_TYPES = {
  1: 'session',
  2: 'handle',
  4: 'external',
  8: 'jsep',
  16: 'webrtc',
  32: 'media',
  64: 'plugin',
  128: 'transport',
  256: 'core',
} as const;

export type EvhTypeName = (typeof EVH_TYPES)[keyof typeof EVH_TYPES] | 'other';

/** Every type name, `other` last: a subject token each. */
export const EVH_TYPE_NAMES: readonly EvhTypeName[] = [...Object.values(EVH_TYPES), 'other'];

/** The name of a `type` value; anything Janus does not define is `other`. */
export function evhTypeName(type: unknown): EvhTypeName {
  return (typeof type === 'number' ? (EVH_TYPES as Record<number, EvhTypeName>)[type] : undefined) ?? 'other';
}

/** One event as parsed: a JSON object (anything else in a message is malformed). */
export type EvhEvent = Record<string, unknown>;

export function isEvhEvent(value: unknown): value is EvhEvent {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * One message from wsevh, parsed once: `events` are what can be published, `single` says
 * the message was one event object (its text can then go out as it is), `malformed`
 * counts what cannot: a message that is not JSON, or neither an object nor an array,
 * counts one; in an array, each element that is not an object counts one.
 */
export interface ParsedMessage {
  readonly events: EvhEvent[];
  readonly single: boolean;
  readonly malformed: number;
}

const NOTHING: ParsedMessage = { events: [], single: false, malformed: 1 };

export function parseWsevhMessage(text: string): ParsedMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return NOTHING;
  }
  if (Array.isArray(value)) {
    let malformed = 0;
    for (const element of value) {
      if (!isEvhEvent(element)) malformed++;
    }
    return { events: malformed === 0 ? (value as EvhEvent[]) : value.filter(isEvhEvent), single: false, malformed };
  }
  return isEvhEvent(value) ? { events: [value], single: true, malformed: 0 } : NOTHING;
}

/** `<prefix>.evh.<janus_id>`: the subjects of one Janus's events are this plus `.<type name>`. */
export function evhSubjectBase(prefix: string, janusId: string): string {
  return `${prefix}.evh.${janusId}`;
}

/** `<prefix>.evh.<janus_id>.<type name>` for every type name, made once per link. */
export function evhSubjects(prefix: string, janusId: string): Record<EvhTypeName, string> {
  const base = evhSubjectBase(prefix, janusId);
  return Object.fromEntries(EVH_TYPE_NAMES.map((name) => [name, `${base}.${name}`])) as Record<EvhTypeName, string>;
}

/** A positive integer id as Janus writes them (below 2^53), as text; anything else is no id. */
function idText(value: unknown): string | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? String(value) : undefined;
}

/**
 * The headers of one event, the same rule as client events (isExactHeaderValue): a value
 * the consumer would not read exactly as the body has it is left out with its header.
 * Janus-Evh-Type is the type's name, as in the subject. (EvhHeaders gives the same, faster.)
 */
export function evhHeaders(
  janusId: string,
  event: EvhEvent,
  typeName: EvhTypeName,
  msgId: string,
): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  const add = (name: string, value: string | undefined): void => {
    if (value !== undefined && isExactHeaderValue(value)) headers.push([name, value]);
  };
  add('Janus-Id', janusId);
  add('Janus-Evh-Type', typeName);
  add('Janus-Session', idText(event.session_id));
  add('Janus-Handle', idText(event.handle_id));
  if (typeof event.emitter === 'string') add('Janus-Emitter', event.emitter);
  add('Nats-Msg-Id', msgId);
  return headers;
}

/**
 * evhHeaders for the events of one link, without checking again what cannot change: the
 * janus_id (and the message ids made from it) once, type names and integer ids never
 * (digits and names pass the rule), and the emitter once per value (Janus sends one).
 */
export class EvhHeaders {
  private readonly idExact: boolean;
  private emitter: string | undefined;
  private emitterExact = false;

  constructor(private readonly janusId: string) {
    this.idExact = isExactHeaderValue(janusId);
  }

  of(event: EvhEvent, typeName: EvhTypeName, msgId: string): Array<[string, string]> {
    const headers: Array<[string, string]> = [];
    if (this.idExact) headers.push(['Janus-Id', this.janusId]);
    headers.push(['Janus-Evh-Type', typeName]);
    const session = idText(event.session_id);
    if (session !== undefined) headers.push(['Janus-Session', session]);
    const handle = idText(event.handle_id);
    if (handle !== undefined) headers.push(['Janus-Handle', handle]);
    const emitter = event.emitter;
    if (typeof emitter === 'string') {
      if (emitter !== this.emitter) {
        this.emitter = emitter;
        this.emitterExact = isExactHeaderValue(emitter);
      }
      if (this.emitterExact) headers.push(['Janus-Emitter', emitter]);
    }
    // Made of the janus_id, hex digits and base-36 digits: exact when the janus_id is.
    if (this.idExact) headers.push(['Nats-Msg-Id', msgId]);
    else if (isExactHeaderValue(msgId)) headers.push(['Nats-Msg-Id', msgId]);
    return headers;
  }
}
