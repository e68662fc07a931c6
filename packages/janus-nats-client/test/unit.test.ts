/** The client's pure rules: the one error table, how a reply becomes an error class, the event parser, the queue. */
import { headers } from 'nats';
import { describe, expect, it } from 'vitest';
import {
  BRIDGE_ERRORS,
  BridgeError,
  errorFromReply,
  HandleEndedError,
  JanusError,
  JanusNats,
  JanusNatsError,
  MAX_TIMEOUT_MS,
  NoRespondersError,
  parseEvent,
  RETRYABLE_BRIDGE_ERRORS,
  TimeoutError,
} from '../src/index.js';
import { AsyncQueue } from '../src/queue.js';

describe('the one error table', () => {
  it('says which errors are worth retrying: 610–613, not 600–606 or 614', () => {
    const retryable = Object.entries(BRIDGE_ERRORS)
      .filter(([name]) => RETRYABLE_BRIDGE_ERRORS.has(name as keyof typeof BRIDGE_ERRORS))
      .map(([, e]) => e.code);
    expect(retryable.sort()).toEqual([610, 611, 612, 613]);
  });
});

describe('errors from replies', () => {
  it('tells the bridge from Janus by the code range', () => {
    const bridge = errorFromReply({
      janus: 'error',
      error: { code: 610, reason: 'no answer from Janus within janus.cmdTimeout: 1000 ms' },
    });
    expect(bridge).toBeInstanceOf(BridgeError);
    expect(bridge).toBeInstanceOf(JanusNatsError);
    expect(bridge).toMatchObject({ code: 610, name: 'timeout', retryable: true, action: BRIDGE_ERRORS.timeout.action });
    expect(bridge.message).toContain('610');

    const janus = errorFromReply({ janus: 'error', error: { code: 458, reason: 'No such session 1' } });
    expect(janus).toBeInstanceOf(JanusError);
    expect(janus).not.toBeInstanceOf(BridgeError);
    expect(janus).toMatchObject({ code: 458, reason: 'No such session 1', name: 'JanusError' });
  });

  it("takes the Nats-Service-Error-Code header as the bridge's word", () => {
    const error = errorFromReply({ janus: 'error', error: { code: 604, reason: 'refused' } }, '604');
    expect(error).toBeInstanceOf(BridgeError);
    expect(error).toMatchObject({ name: 'verb_refused', retryable: false });
  });

  it('names a 6xx code the table does not hold without failing', () => {
    expect(errorFromReply({ janus: 'error', error: { code: 699, reason: 'new' } })).toMatchObject({
      name: 'unknown_bridge_error',
      retryable: false,
      code: 699,
    });
  });

  it('gives every class its own name and the base class', () => {
    const end = { reason: 'detached' as const, detail: 'x' };
    for (const error of [
      new NoRespondersError('janus.request.x', 'x'),
      new TimeoutError('janus.request.x', 11_000),
      new HandleEndedError(1, end),
    ]) {
      expect(error).toBeInstanceOf(JanusNatsError);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(error.constructor.name);
    }
  });
});

describe('arguments', () => {
  const nc = { closed: () => new Promise(() => undefined) } as unknown as ConstructorParameters<typeof JanusNats>[0];

  it('refuses a timeout that is not a positive number of milliseconds within timer range', async () => {
    for (const timeout of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, MAX_TIMEOUT_MS + 1]) {
      expect(() => new JanusNats(nc, 'local', { timeout })).toThrow(RangeError);
    }
    await expect(new JanusNats(nc, 'local').ping({ timeout: 0 })).rejects.toThrow(RangeError);
  });

  it('refuses a janus_id or prefix that is not made of subject tokens, and an unknown event mode', () => {
    for (const id of ['', 'a.b', 'a b', '*', '>']) expect(() => new JanusNats(nc, id)).toThrow(TypeError);
    for (const prefix of ['', 'a..b', 'a.*']) expect(() => new JanusNats(nc, 'local', { prefix })).toThrow(TypeError);
    expect(() => new JanusNats(nc, 'local', { events: 'typed' as never })).toThrow(TypeError);
    expect(new JanusNats(nc, 'local', { prefix: 'tenant-1.janus' }).requestSubject).toBe(
      'tenant-1.janus.request.local',
    );
  });
});

describe('parseEvent', () => {
  it('reads the envelope and the headers, completing missing headers from the body', () => {
    const h = headers();
    h.set('Janus-Type', 'event');
    h.set('Janus-Handle', '22');
    h.set('Nats-Msg-Id', 'abc-local-1');
    const body = {
      janus: 'event',
      session_id: 11,
      sender: 22,
      transaction: 't',
      plugindata: { plugin: 'janus.plugin.echotest', data: { result: 'ok' } },
    };
    const event = parseEvent({
      subject: 'janus.event.local',
      headers: h,
      data: new TextEncoder().encode(
        JSON.stringify({ janus_id: 'local', janus_url: 'ws://x/janus', janus_body: body }),
      ),
    });
    expect(event).toEqual({
      janusId: 'local',
      janusUrl: 'ws://x/janus',
      body,
      headers: {
        type: 'event',
        session: 11,
        handle: 22,
        plugin: 'janus.plugin.echotest',
        transaction: 't',
        msgId: 'abc-local-1',
      },
      subject: 'janus.event.local',
    });
    expect(
      parseEvent({ subject: 's', headers: undefined, data: new TextEncoder().encode('not json') }),
    ).toBeUndefined();
    expect(
      parseEvent({ subject: 's', headers: undefined, data: new TextEncoder().encode('{"janus_body":[]}') }),
    ).toBeUndefined();
  });
});

describe('AsyncQueue', () => {
  it('keeps values pushed before the loop, ends after them, and hands back what nobody took on return', async () => {
    let handedBack: number[] = [];
    const queue = new AsyncQueue<number>((left) => {
      handedBack = left;
    });
    queue.push(1);
    queue.push(2);
    const got: number[] = [];
    const loop = (async () => {
      for await (const v of queue) got.push(v);
    })();
    await new Promise((r) => setTimeout(r, 5));
    queue.push(3);
    queue.end();
    queue.push(4);
    await loop;
    expect(got).toEqual([1, 2, 3]);

    const other = new AsyncQueue<number>((left) => {
      handedBack = left;
    });
    other.push(7);
    other.push(8);
    for await (const v of other) {
      expect(v).toBe(7);
      break;
    }
    expect(handedBack).toEqual([8]);
  });

  it('throws the error it was ended with, after the values', async () => {
    const queue = new AsyncQueue<number>();
    queue.push(1);
    queue.end(new Error('broken'));
    const got: number[] = [];
    await expect(
      (async () => {
        for await (const v of queue) got.push(v);
      })(),
    ).rejects.toThrow('broken');
    expect(got).toEqual([1]);
  });
});
