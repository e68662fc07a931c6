/**
 * Malformed and hostile requests from NATS: each gets its own error fast, nothing that
 * should not reach Janus does, and the bridge keeps serving, also when nobody waits for the
 * answer (fire-and-forget) and when a string of the request ends up in an event's headers or
 * an error's. Real Janus, real NATS.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  natsPerFile,
  startBridge,
  type Collector,
  type Reply,
  type TestBridge,
} from '../support/bridge.js';
import { startJanus, type JanusServer } from '../support/processes.js';

const scope = natsPerFile({ beforeAll, afterEach, afterAll });
let janus: JanusServer;
let bridge: TestBridge;
let handle = 0;
let events: Collector;
/** Room for a 100 KB transaction. */
const MAX = 128 * 1024;

beforeAll(async () => {
  janus = await startJanus();
  bridge = await startBridge({
    nats: { servers: [scope.nats.url] },
    janus: { maxMessageBytes: MAX },
    connections: [{ janus_id: 'h', janus_url: janus.url }],
  });
  await eventually(() => bridge.daemon.connectionStats('h')?.state === 'ready', 10_000, 'ready');
  handle = (
    (await scope.client.request('janus.request.h', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json.data as {
      id: number;
    }
  ).id;
  events = scope.client.collect('janus.event.h');
  await scope.client.nc.flush();
});

afterAll(async () => {
  await bridge?.stop();
  await janus?.stop();
});

const deep = (levels: number): string => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
const H = '__HANDLE__';

/** [name, raw payload, expected bridge error code, or the Janus answer type when it is a legal request]. */
const CASES: Array<[string, string, number | string]> = [
  ['empty payload', '', 600],
  ['whitespace only', '   \n\t', 600],
  ['truncated JSON', '{"janus":"ping"', 600],
  ['single quotes', "{'janus':'ping'}", 600],
  ['trailing comma', '{"janus":"ping",}', 600],
  ['NaN literal', '{"janus":"ping","x":NaN}', 600],
  ['a comment', '{"janus":"ping"} // hi', 600],
  ['invalid UTF-8', '\xff\xfe{"janus":"ping"}', 600],
  ['null', 'null', 601],
  ['true', 'true', 601],
  ['a number', '12345', 601],
  ['a string', '"ping"', 601],
  ['an array', '[{"janus":"ping"}]', 601],
  ['an empty array', '[]', 601],
  ['an empty object', '{}', 602],
  ['verb null', '{"janus":null}', 602],
  ['verb number', '{"janus":1}', 602],
  ['verb array', '{"janus":["ping"]}', 602],
  ['verb object', '{"janus":{"a":1}}', 602],
  ['verb empty string', '{"janus":""}', 602],
  ['verb only in __proto__', '{"__proto__":{"janus":"ping"}}', 602],
  ['create', '{"janus":"create"}', 604],
  ['destroy', '{"janus":"destroy"}', 604],
  ['claim', '{"janus":"claim","session_id":1}', 604],
  ['duplicate keys, last one refused', '{"janus":"ping","janus":"destroy"}', 604],
  ['destroy in another case (Janus reads verbs in any case)', '{"janus":"Destroy"}', 604],
  ['create in capitals', '{"janus":"CREATE"}', 604],
  ['handle_id string', `{"janus":"message","handle_id":"${H}","body":{}}`, 605],
  ['handle_id float', '{"janus":"message","handle_id":1.5,"body":{}}', 605],
  ['handle_id negative', '{"janus":"message","handle_id":-3,"body":{}}', 605],
  ['handle_id zero', '{"janus":"message","handle_id":0,"body":{}}', 605],
  ['handle_id 2^63', '{"janus":"message","handle_id":9223372036854775807,"body":{}}', 605],
  ['handle_id 2^53+1', '{"janus":"message","handle_id":9007199254740993,"body":{}}', 605],
  ['handle_id null', '{"janus":"message","handle_id":null,"body":{}}', 605],
  ['handle_id object', '{"janus":"message","handle_id":{"$gt":0},"body":{}}', 605],
  ['transaction number', '{"janus":"ping","transaction":42}', 605],
  ['transaction object', '{"janus":"ping","transaction":{"a":1}}', 605],
  ['2^63 room id in the body', `{"janus":"message","handle_id":${H},"body":{"room":9223372036854775807}}`, 606],
  ['1e300 in the body', `{"janus":"message","handle_id":${H},"body":{"x":1e300}}`, 606],
  ['nesting 65 levels', `{"janus":"message","handle_id":${H},"body":${deep(64)}}`, 606],
  ['nesting 10000 levels', `{"janus":"ping","x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`, 606],
  ['a NUL character in a string', `{"janus":"message","handle_id":${H},"body":{"note":"a\\u0000b"}}`, 606],
  ['an unpaired surrogate in a string', `{"janus":"message","handle_id":${H},"body":{"note":"\\ud800"}}`, 606],
  ['a NUL character in a key', `{"janus":"message","handle_id":${H},"body":{"a\\u0000":1}}`, 606],
  ['payload over the limit', `{"janus":"message","handle_id":${H},"body":{"pad":"${'x'.repeat(MAX)}"}}`, 603],
  ['payload over the limit in multi-byte characters', `{"janus":"ping","pad":"${'€'.repeat(MAX / 3 + 10)}"}`, 603],
  ['__proto__ key with a legal verb', '{"janus":"ping","__proto__":{"polluted":true}}', 'pong'],
  ['constructor.prototype key', '{"janus":"ping","constructor":{"prototype":{"polluted":true}}}', 'pong'],
  [
    'unicode in the body',
    `{"janus":"message","handle_id":${H},"body":{"audio":true,"note":"héllo 👋 \\ud83d\\udc4b ünïcödé"}}`,
    'event',
  ],
  ['session_id of someone else', '{"janus":"attach","plugin":"janus.plugin.echotest","session_id":1}', 'success'],
  ['session_id as a string', '{"janus":"keepalive","session_id":"abc"}', 'ack'],
  ['unknown verb', '{"janus":"explode"}', 'error'],
  ['unknown plugin', '{"janus":"attach","plugin":"janus.plugin.nothing"}', 'error'],
  ['message to a handle that does not exist', '{"janus":"message","handle_id":123456789,"body":{}}', 'error'],
];

it(`has at least 40 hostile cases (${CASES.length})`, () => {
  expect(CASES.length).toBeGreaterThanOrEqual(40);
});

/** The case's payload as sent: the handle put in, and the invalid UTF-8 case as bytes. */
function payloadOf(raw: string): string | Buffer {
  const payload = raw.includes(H) ? raw.replaceAll(`"${H}"`, `"${handle}"`).replaceAll(H, String(handle)) : raw;
  return payload.startsWith('\xff')
    ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(payload.slice(2))])
    : payload;
}

it.each(CASES)('%s', async (_name, raw, expected) => {
  const connection = () => bridge.daemon.connectionStats('h')!;
  const before = connection().clientFramesSent;
  const data = payloadOf(raw);
  const reply = await scope.client.request('janus.request.h', data);
  if (typeof expected === 'number') {
    expect(reply.json.janus).toBe('error');
    expect((reply.json.error as { code: number }).code).toBe(expected);
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe(String(expected));
    expect(connection().clientFramesSent).toBe(before);
  } else {
    expect(reply.json.janus).toBe(expected);
    expect(reply.headers?.get('Nats-Service-Error-Code') ?? '').toBe('');
    expect(connection().clientFramesSent).toBe(before + 1);
  }
  expect(reply.ms).toBeLessThan(500);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

it('keeps serving after all of them, with nothing left pending', async () => {
  expect((await scope.client.request('janus.request.h', { janus: 'ping' })).json).toEqual({ janus: 'pong' });
  const echo = await scope.client.request('janus.request.h', {
    janus: 'message',
    handle_id: handle,
    body: { audio: true },
  });
  expect(echo.json.janus).toBe('event');
  expect(bridge.daemon.connectionStats('h')!.pendingRequests).toBe(0);
});

/** The bridge still answers, and nothing it did threw. */
async function expectStillServing(): Promise<void> {
  expect(
    (await scope.client.request('janus.request.h', { janus: 'ping', transaction: 'still-up' }, 5000)).json,
  ).toEqual({ janus: 'pong', transaction: 'still-up' });
  const failures = bridge
    .logs()
    .filter(
      (line) =>
        /handling failed|not published|not sent/.test(String(line.msg)) &&
        line.msg !== 'fire-and-forget request not sent',
    );
  expect(failures).toEqual([]);
}

it.each(CASES)('fire-and-forget: %s leaves the bridge serving', async (_name, raw, expected) => {
  const connection = () => bridge.daemon.connectionStats('h')!;
  const before = connection().clientFramesSent;
  scope.client.nc.publish('janus.request.h', payloadOf(raw));
  await expectStillServing();
  // The fire-and-forget came first on the same subscription: it was handled before the ping.
  expect(connection().clientFramesSent).toBe(before + (typeof expected === 'number' ? 1 : 2));
});

/**
 * Strings no NATS header can carry as they are (nats.js throws on CR and LF; trims spaces).
 * Each holds LEAK, to show it never reaches an error reason or a log line.
 */
const UNSAFE: Array<[string, string]> = [
  ['LF', 'LEAK-a\n'],
  ['CR LF and a forged header', 'LEAK-a\r\nNats-Msg-Id: forged'],
  ['a lone CR', 'LEAK\rb'],
  ['control characters', 'LEAK\u0001\u001b[0m\u007f\tb\u0085'],
  ['a line separator', 'LEAK\u2028b'],
  ['spaces around it', ' LEAK '],
  ['100 KB', 'LEAK' + 'x'.repeat(100 * 1024)],
];

interface Field {
  /** The request with `value` in the field (and `tx` as the transaction when the field is not it). */
  build(value: string, tx: string): Record<string, unknown>;
  /** A bridge error code, or the type of Janus's answer. */
  reply: number | string;
  /** The event type a fire-and-forget yields, if any. */
  event?: string;
  /** Whether the field is the transaction (it then comes back in the reply and event bodies). */
  isTransaction?: boolean;
}

const FIELDS: Record<string, Field> = {
  'the transaction of a ping': {
    build: (v) => ({ janus: 'ping', transaction: v }),
    reply: 'pong',
    event: 'pong',
    isTransaction: true,
  },
  'the transaction of a plugin message': {
    build: (v) => ({ janus: 'message', handle_id: handle, body: { audio: true }, transaction: v }),
    reply: 'event',
    event: 'event',
    isTransaction: true,
  },
  'the transaction of a refused verb': {
    build: (v) => ({ janus: 'create', transaction: v }),
    reply: 604,
    isTransaction: true,
  },
  'the transaction of a request with a malformed handle_id': {
    build: (v) => ({ janus: 'message', handle_id: '1\n2', body: {}, transaction: v }),
    reply: 605,
    isTransaction: true,
  },
  'handle_id as a string': {
    build: (v, tx) => ({ janus: 'message', handle_id: v, body: {}, transaction: tx }),
    reply: 605,
  },
  'the janus verb': { build: (v, tx) => ({ janus: `ping${v}`, transaction: tx }), reply: 'error', event: 'error' },
  'the plugin name of an attach': {
    build: (v, tx) => ({ janus: 'attach', plugin: `janus.plugin.${v}`, transaction: tx }),
    reply: 'error',
    event: 'error',
  },
  'the opaque_id of an attach': {
    build: (v, tx) => ({ janus: 'attach', plugin: 'janus.plugin.echotest', opaque_id: v, transaction: tx }),
    reply: 'success',
    event: 'success',
  },
  'a string in a plugin message body': {
    build: (v, tx) => ({ janus: 'message', handle_id: handle, body: { audio: true, note: v }, transaction: tx }),
    reply: 'event',
    event: 'event',
  },
};

const FIELD_CASES = Object.keys(FIELDS).flatMap((field) =>
  UNSAFE.map(([value, string]) => [field, value, string] as [string, string, string]),
);

/** A bridge error's service error header: sendable, and saying what was wrong without quoting it. */
function expectSafeServiceError(reply: Reply, code: number): void {
  expect(reply.json.janus).toBe('error');
  expect((reply.json.error as { code: number }).code).toBe(code);
  expect(reply.headers?.get('Nats-Service-Error-Code')).toBe(String(code));
  const reason = reply.headers?.get('Nats-Service-Error') ?? '';
  expect(reason).toMatch(/^[^\u0000-\u001f\u007f]+$/);
  expect(reason).toBe((reply.json.error as { reason: string }).reason);
  expect(reason).not.toContain('LEAK');
}

describe('a string that cannot go into a header, in each field that can reach a header or a log line', () => {
  let sequence = 0;

  it.each(FIELD_CASES)('%s holding %s: the request gets its answer', async (field, _what, value) => {
    const { build, reply: expected, isTransaction } = FIELDS[field]!;
    const tx = `req-${++sequence}`;
    const reply = await scope.client.request('janus.request.h', JSON.stringify(build(value, tx)), 5000);
    if (typeof expected === 'number') expectSafeServiceError(reply, expected);
    else {
      expect(reply.json.janus).toBe(expected);
      expect(reply.headers?.has('Nats-Service-Error')).toBeFalsy();
    }
    expect(reply.json.transaction).toBe(isTransaction ? value : tx);
    await expectStillServing();
  });

  it.each(FIELD_CASES)(
    '%s holding %s, fire-and-forget: the event comes whole, without the unsafe header',
    async (field, _what, value) => {
      const { build, event, isTransaction } = FIELDS[field]!;
      const tx = `ff-${++sequence}`;
      const transaction = isTransaction ? value : tx;
      const earlier = new Set(events.messages);
      scope.client.nc.publish('janus.request.h', JSON.stringify(build(value, tx)));
      await expectStillServing();
      if (!event) return;
      // Other cases sent the same transaction: only an event of this one counts.
      const published = await events.waitForMessage(
        (m) => !earlier.has(m) && (m.json.janus_body as { transaction?: unknown }).transaction === transaction,
        5000,
      );
      expect((published.json.janus_body as { janus: string }).janus).toBe(event);
      expect(published.headers?.get('Janus-Id')).toBe('h');
      expect(published.headers?.get('Janus-Type')).toBe(event);
      if (isTransaction) expect(published.headers?.has('Janus-Transaction')).toBe(false);
      else expect(published.headers?.get('Janus-Transaction')).toBe(tx);
    },
  );

  it('wrote none of those strings into a log line', () => {
    expect(JSON.stringify(bridge.logs())).not.toContain('LEAK');
  });
});
