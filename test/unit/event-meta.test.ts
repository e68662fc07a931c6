import { describe, expect, it } from 'vitest';
import { eventHeaders, eventSubject } from '../../src/bridge/event-meta.js';

const pluginEvent = { janus: 'event', session_id: 11, sender: 22, transaction: 'client-tx', plugindata: { plugin: 'janus.plugin.videoroom', data: {} } };

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
  ])('types %j as %s', (message, subject) => {
    expect(eventSubject('janus.event.j1', message, 'typed')).toBe(subject);
  });
});

describe('eventHeaders', () => {
  it('names id, type, session, handle, plugin, transaction and message id', () => {
    expect(eventHeaders('j1', pluginEvent, 'm-1')).toEqual([
      ['Janus-Id', 'j1'], ['Janus-Type', 'event'], ['Janus-Session', '11'], ['Janus-Handle', '22'],
      ['Janus-Plugin', 'janus.plugin.videoroom'], ['Janus-Transaction', 'client-tx'], ['Nats-Msg-Id', 'm-1'],
    ]);
  });

  it('leaves out what the event does not have', () => {
    expect(eventHeaders('j1', { janus: 'timeout', session_id: 5 }, 'm-2')).toEqual([
      ['Janus-Id', 'j1'], ['Janus-Type', 'timeout'], ['Janus-Session', '5'], ['Nats-Msg-Id', 'm-2'],
    ]);
  });
});
