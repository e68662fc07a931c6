import { describe, expect, it } from 'vitest';
import { headers } from 'nats';
import {
  cleanHeaderValue,
  eventHeaders,
  eventSubject,
  isExactHeaderValue,
  MAX_HEADER_VALUE_BYTES,
} from '../../src/bridge/event-meta.js';

const pluginEvent = {
  janus: 'event',
  session_id: 11,
  sender: 22,
  transaction: 'client-tx',
  plugindata: { plugin: 'janus.plugin.videoroom', data: {} },
};

describe('eventSubject', () => {
  it('keeps the flat subject in flat mode', () => {
    expect(eventSubject('janus.event.j1', pluginEvent, 'flat')).toBe('janus.event.j1');
  });

  it.each([
    [pluginEvent, 'janus.event.j1.plugin.janus_plugin_videoroom'],
    [{ janus: 'detached', session_id: 1, sender: 2 }, 'janus.event.j1.detached'],
    [{ janus: 'webrtcup', session_id: 1, sender: 2 }, 'janus.event.j1.webrtcup'],
    [{ janus: 'event', session_id: 1, sender: 2 }, 'janus.event.j1.event'],
    [{ janus: 'odd type.with*chars>' }, 'janus.event.j1.odd_type_with_chars_'],
    [{ janus: 'event', plugindata: { plugin: 7 } }, 'janus.event.j1.event'],
    [{ janus: 'a\r\nb\u0000c\u007f' }, 'janus.event.j1.a__b_c_'],
  ])('types %j as %s', (message, subject) => {
    expect(eventSubject('janus.event.j1', message, 'typed')).toBe(subject);
  });

  it.each([
    [pluginEvent, 'janus.event.j1.handle.22'],
    [{ janus: 'detached', session_id: 1, sender: 9007199254740991 }, 'janus.event.j1.handle.9007199254740991'],
    [{ janus: 'timeout', session_id: 1 }, 'janus.event.j1.session'],
    [{ janus: 'pong', transaction: 't' }, 'janus.event.j1.session'],
    [{ janus: 'event', sender: '22' }, 'janus.event.j1.session'],
  ])('routes %j by handle to %s', (message, subject) => {
    expect(eventSubject('janus.event.j1', message, 'handle')).toBe(subject);
  });
});

describe('eventHeaders', () => {
  it('names id, type, session, handle, plugin, transaction and message id', () => {
    expect(eventHeaders('j1', pluginEvent, 'm-1')).toEqual([
      ['Janus-Id', 'j1'],
      ['Janus-Type', 'event'],
      ['Janus-Session', '11'],
      ['Janus-Handle', '22'],
      ['Janus-Plugin', 'janus.plugin.videoroom'],
      ['Janus-Transaction', 'client-tx'],
      ['Nats-Msg-Id', 'm-1'],
    ]);
  });

  it('leaves out what the event does not have', () => {
    expect(eventHeaders('j1', { janus: 'timeout', session_id: 5 }, 'm-2')).toEqual([
      ['Janus-Id', 'j1'],
      ['Janus-Type', 'timeout'],
      ['Janus-Session', '5'],
      ['Nats-Msg-Id', 'm-2'],
    ]);
  });
});

/** Values a client can put into a transaction (and so into Janus-Transaction), and a few more. */
const HOSTILE_VALUES: Array<[string, string]> = [
  ['LF', 'a\n'],
  ['CR LF and a forged header', 'a\r\nNats-Msg-Id: forged'],
  ['a lone CR', 'a\rb'],
  ['a NUL', 'a\u0000b'],
  ['ESC', '\u001b[31mred'],
  ['a tab', 'a\tb'],
  ['DEL', 'a\u007f'],
  ['NEL (C1)', 'a\u0085b'],
  ['a line separator', 'a\u2028b'],
  ['a paragraph separator', 'a\u2029b'],
  ['an unpaired high surrogate', 'a\ud800'],
  ['an unpaired low surrogate', '\udc00a'],
  ['a leading space', ' a'],
  ['a trailing space', 'a '],
  ['a no-break space at the end (JS trims it)', 'a\u00a0'],
  ['one byte over the bound', 'x'.repeat(MAX_HEADER_VALUE_BYTES + 1)],
  ['over the bound in multi-byte characters only', '€'.repeat(342)],
  ['100 KB', 'x'.repeat(100 * 1024)],
];

describe('isExactHeaderValue', () => {
  it.each([
    ['a plain transaction', 'client-tx'],
    ['an empty string', ''],
    ['inner spaces', 'a b c'],
    ['unicode with a surrogate pair', 'héllo 👋'],
    ['a colon, as in a forged header', 'Nats-Msg-Id: x'],
    ['exactly the bound', 'x'.repeat(MAX_HEADER_VALUE_BYTES)],
  ])('takes %s as it is', (_name, value) => {
    expect(isExactHeaderValue(value)).toBe(true);
    const h = headers();
    h.set('Janus-Transaction', value);
    expect(h.get('Janus-Transaction')).toBe(value);
  });

  it.each(HOSTILE_VALUES)('refuses %s', (_name, value) => {
    expect(isExactHeaderValue(value)).toBe(false);
  });
});

describe('cleanHeaderValue', () => {
  it('makes every control character a space and trims the ends', () => {
    expect(cleanHeaderValue(' a\r\nb\u0000c\u007fd\u0085e\u2028f\td ')).toBe('a  b c d e f d');
  });

  it('keeps a plain reason as it is', () => {
    expect(cleanHeaderValue('no answer from Janus within janus.cmdTimeout: 5000 ms')).toBe(
      'no answer from Janus within janus.cmdTimeout: 5000 ms',
    );
  });

  it('cuts beyond the bound on a character boundary, ending in …', () => {
    const cut = cleanHeaderValue('👋'.repeat(1000));
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_HEADER_VALUE_BYTES);
    expect(cut.endsWith('…')).toBe(true);
    expect(cut.slice(0, -1)).toBe('👋'.repeat((cut.length - 1) / 2));
  });

  it.each(HOSTILE_VALUES)('gives a value nats.js takes as it is, from %s', (_name, value) => {
    const cleaned = cleanHeaderValue(value);
    const h = headers();
    expect(() => h.set('Nats-Service-Error', cleaned)).not.toThrow();
    expect(h.get('Nats-Service-Error')).toBe(cleaned);
    expect(Buffer.byteLength(cleaned)).toBeLessThanOrEqual(MAX_HEADER_VALUE_BYTES);
  });
});

describe('eventHeaders with values that cannot go into a header as they are', () => {
  it.each(HOSTILE_VALUES)('leaves Janus-Transaction out for %s, and keeps the others', (_name, transaction) => {
    expect(eventHeaders('j1', { ...pluginEvent, transaction }, 'm-1')).toEqual([
      ['Janus-Id', 'j1'],
      ['Janus-Type', 'event'],
      ['Janus-Session', '11'],
      ['Janus-Handle', '22'],
      ['Janus-Plugin', 'janus.plugin.videoroom'],
      ['Nats-Msg-Id', 'm-1'],
    ]);
  });

  it('leaves out Janus-Type and Janus-Plugin that are not exact either', () => {
    expect(eventHeaders('j1', { janus: 'event\n', plugindata: { plugin: 'janus.plugin.x\r\n' } }, 'm-1')).toEqual([
      ['Janus-Id', 'j1'],
      ['Nats-Msg-Id', 'm-1'],
    ]);
  });

  it.each(HOSTILE_VALUES)(
    'gives only headers nats.js accepts and returns unchanged, with %s in every string field',
    (_name, value) => {
      const h = headers();
      const pairs = eventHeaders('j1', { janus: value, transaction: value, plugindata: { plugin: value } }, 'm-1');
      for (const [name, v] of pairs) h.set(name, v);
      for (const [name, v] of pairs) expect(h.get(name)).toBe(v);
    },
  );
});
