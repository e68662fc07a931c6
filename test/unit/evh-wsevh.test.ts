import { describe, expect, it } from 'vitest';
import type { OutgoingEvent } from '../../src/bridge/event-sink.js';
import { createLogger } from '../../src/log.js';
import { EvhPublisher } from '../../src/eventhandlers/publisher.js';
import { EvhTally } from '../../src/eventhandlers/tally.js';
import {
  EVH_TYPE_NAMES,
  EvhHeaders,
  evhHeaders,
  evhSubjects,
  evhTypeName,
  parseWsevhMessage,
  type EvhEvent,
} from '../../src/eventhandlers/wsevh.js';

const session = {
  emitter: 'MyJanusInstance',
  type: 1,
  timestamp: 1796103816493684,
  session_id: 4011520381924013,
  event: { name: 'created' },
};
const handle = {
  emitter: 'MyJanusInstance',
  type: 2,
  timestamp: 1796103816493685,
  session_id: 4011520381924013,
  handle_id: 8913885244594609,
  event: { name: 'attached', plugin: 'janus.plugin.echotest' },
};
const core = {
  emitter: 'MyJanusInstance',
  type: 256,
  subtype: 1,
  timestamp: 1796103816493600,
  event: { status: 'started' },
};

describe('evhTypeName', () => {
  it.each([
    [1, 'session'],
    [2, 'handle'],
    [4, 'external'],
    [8, 'jsep'],
    [16, 'webrtc'],
    [32, 'media'],
    [64, 'plugin'],
    [128, 'transport'],
    [256, 'core'],
  ])('names type %i %s', (type, name) => {
    expect(evhTypeName(type)).toBe(name);
  });

  it.each([[0], [3], [512], [-1], ['1'], [null], [undefined], [1.5], [{}]])('calls %j other', (type) => {
    expect(evhTypeName(type)).toBe('other');
  });

  it('has one subject per type name, each a single token under <prefix>.evh.<janus_id>', () => {
    const subjects = evhSubjects('janus', 'edge-1');
    expect(Object.keys(subjects)).toEqual([...EVH_TYPE_NAMES]);
    expect(subjects.session).toBe('janus.evh.edge-1.session');
    expect(subjects.other).toBe('janus.evh.edge-1.other');
    expect(evhSubjects('a.b', 'x').media).toBe('a.b.evh.x.media');
  });
});

describe('parseWsevhMessage', () => {
  it('takes a grouped message (an array) as its events, in order', () => {
    const parsed = parseWsevhMessage(JSON.stringify([core, session, handle], null, 3));
    expect(parsed).toEqual({ events: [core, session, handle], single: false, malformed: 0 });
  });

  it('takes one object (grouping off) as one event, marked single', () => {
    expect(parseWsevhMessage(JSON.stringify(session))).toEqual({ events: [session], single: true, malformed: 0 });
  });

  it('counts array elements that are not objects, keeps the others', () => {
    expect(parseWsevhMessage(JSON.stringify([session, 7, null, [handle], 'x', handle]))).toEqual({
      events: [session, handle],
      single: false,
      malformed: 4,
    });
  });

  it.each([['not json'], ['{"type":1'], ['42'], ['"text"'], ['null'], ['true'], ['']])(
    'counts %j as one malformed message',
    (text) => {
      expect(parseWsevhMessage(text)).toEqual({ events: [], single: false, malformed: 1 });
    },
  );

  it('takes an empty array as nothing', () => {
    expect(parseWsevhMessage('[]')).toEqual({ events: [], single: false, malformed: 0 });
  });
});

describe('evhHeaders', () => {
  it('names the Janus, the type, the session, the handle, the emitter and the message id', () => {
    expect(evhHeaders('edge-1', handle, 'handle', 'm-1')).toEqual([
      ['Janus-Id', 'edge-1'],
      ['Janus-Evh-Type', 'handle'],
      ['Janus-Session', '4011520381924013'],
      ['Janus-Handle', '8913885244594609'],
      ['Janus-Emitter', 'MyJanusInstance'],
      ['Nats-Msg-Id', 'm-1'],
    ]);
  });

  it('leaves out what the event lacks (a core event has no session nor handle)', () => {
    expect(evhHeaders('edge-1', core, 'core', 'm-2')).toEqual([
      ['Janus-Id', 'edge-1'],
      ['Janus-Evh-Type', 'core'],
      ['Janus-Emitter', 'MyJanusInstance'],
      ['Nats-Msg-Id', 'm-2'],
    ]);
  });

  it('leaves out ids that are not positive integers below 2^53, and an emitter that is not text', () => {
    const odd = { type: 2, session_id: '12', handle_id: 2 ** 53, emitter: 5 };
    expect(evhHeaders('j', odd, 'handle', 'm')).toEqual([
      ['Janus-Id', 'j'],
      ['Janus-Evh-Type', 'handle'],
      ['Nats-Msg-Id', 'm'],
    ]);
    expect(evhHeaders('j', { session_id: 0, handle_id: -3 }, 'other', 'm').map(([name]) => name)).toEqual([
      'Janus-Id',
      'Janus-Evh-Type',
      'Nats-Msg-Id',
    ]);
  });

  it.each([['line\r\nInjected: yes'], [' padded'], ['nul\u0000'], ['x'.repeat(1025)], ['\ud800']])(
    'leaves out an emitter the header rule refuses: %j',
    (emitter) => {
      expect(evhHeaders('j', { ...core, emitter }, 'core', 'm').some(([name]) => name === 'Janus-Emitter')).toBe(false);
    },
  );
});

describe("EvhHeaders (the publisher's faster evhHeaders)", () => {
  const events: EvhEvent[] = [
    core,
    session,
    handle,
    { ...core, emitter: 'line\r\nInjected: yes' },
    { ...handle, emitter: ' padded' },
    { ...handle, emitter: 'MyJanusInstance' },
    { type: 2, session_id: '12', handle_id: 2 ** 53, emitter: 5 },
    { session_id: 0, handle_id: -3 },
    { ...session, emitter: 'x'.repeat(1025) },
    session,
  ];

  it.each([['edge-1'], ['x'.repeat(201)], ['with space'], ['y'.repeat(1025)]])(
    'gives what evhHeaders gives, event after event, for janus_id %#',
    (janusId) => {
      const fast = new EvhHeaders(janusId);
      for (const [i, event] of events.entries()) {
        const typeName = evhTypeName(event.type);
        expect(fast.of(event, typeName, `abc-${janusId}-${i}`)).toEqual(
          evhHeaders(janusId, event, typeName, `abc-${janusId}-${i}`),
        );
      }
    },
  );
});

describe('EvhPublisher', () => {
  const log = createLogger('silent');

  function publisher() {
    const sent: OutgoingEvent[] = [];
    const tally = new EvhTally();
    const sink = {
      publish: (event: OutgoingEvent) => {
        sent.push(event);
        event.report('published');
      },
      flush: async () => {},
      stop: () => {},
      stats: () => ({ tooLarge: 0 }),
    };
    return { sent, tally, publisher: new EvhPublisher({ prefix: 'janus', janusId: 'edge-1', sink, tally, log }) };
  }

  it('publishes each event of a grouped message on its type subject, as compact JSON, with unique message ids', () => {
    const { sent, tally, publisher: p } = publisher();
    p.message(Buffer.from(JSON.stringify([core, session, handle, { type: 9, x: 1 }], null, 3)));
    expect(sent.map((e) => e.subject)).toEqual([
      'janus.evh.edge-1.core',
      'janus.evh.edge-1.session',
      'janus.evh.edge-1.handle',
      'janus.evh.edge-1.other',
    ]);
    expect(sent.map((e) => Buffer.from(e.data).toString())).toEqual(
      [core, session, handle, { type: 9, x: 1 }].map((e) => JSON.stringify(e)),
    );
    const ids = sent.map((e) => e.msgId);
    expect(new Set(ids).size).toBe(4);
    expect(sent.map((e) => e.headers.get('Nats-Msg-Id'))).toEqual(ids);
    expect(ids[0]).toMatch(/^[0-9a-f]{12}-edge-1-1$/);
    expect(sent[2]!.headers.get('Janus-Handle')).toBe('8913885244594609');
    expect(tally).toMatchObject({ received: 4, published: 4 });
  });

  it('publishes a single event (grouping off) as the bytes Janus sent', () => {
    const { sent, publisher: p } = publisher();
    const bytes = Buffer.from(JSON.stringify(session, null, 3));
    p.message(bytes);
    expect(sent).toHaveLength(1);
    expect(Buffer.from(sent[0]!.data).equals(bytes)).toBe(true);
    expect(sent[0]!.subject).toBe('janus.evh.edge-1.session');
  });

  it('counts malformed messages and elements as received and dropped, and publishes the rest', () => {
    const { sent, tally, publisher: p } = publisher();
    p.message(Buffer.from('not json'));
    p.message(Buffer.from(JSON.stringify([session, 1, 'two'])));
    p.malformedMessage(10);
    p.stop();
    expect(sent).toHaveLength(1);
    expect(tally.received).toBe(5);
    expect(tally.published).toBe(1);
    expect(tally.dropped.malformed).toBe(4);
  });

  it('counts what the sink reports as dropped, by reason', () => {
    const tally = new EvhTally();
    const sink = {
      publish: (event: OutgoingEvent) => event.report('nats_unavailable'),
      flush: async () => {},
      stop: () => {},
      stats: () => ({ tooLarge: 0 }),
    };
    new EvhPublisher({ prefix: 'janus', janusId: 'j', sink, tally, log }).message(
      Buffer.from(JSON.stringify([session, handle])),
    );
    expect(tally).toMatchObject({ received: 2, published: 0, dropped: { nats_unavailable: 2, malformed: 0 } });
  });
});
