/**
 * Malformed and hostile requests from NATS: each gets its own error fast, nothing that
 * should not reach Janus does, and the bridge keeps serving. Real Janus, real NATS.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { eventually, natsPerFile, startBridge, type TestBridge } from '../support/bridge.js';
import { startJanus, type JanusServer } from '../support/processes.js';

const scope = natsPerFile({ beforeAll, afterEach, afterAll });
let janus: JanusServer;
let bridge: TestBridge;
let handle = 0;
const MAX = 32 * 1024;

beforeAll(async () => {
  janus = await startJanus();
  bridge = await startBridge({ nats: { servers: [scope.nats.url] }, janus: { maxMessageBytes: MAX }, connections: [{ janus_id: 'h', janus_url: janus.url }] });
  await eventually(() => bridge.daemon.served.get('h')?.connection.state === 'ready', 10_000, 'ready');
  handle = ((await scope.client.request('janus.request.h', { janus: 'attach', plugin: 'janus.plugin.echotest' })).json.data as { id: number }).id;
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
  ['unicode in the body', `{"janus":"message","handle_id":${H},"body":{"audio":true,"note":"héllo 👋 \\ud83d\\udc4b ünïcödé"}}`, 'event'],
  ['session_id of someone else', '{"janus":"attach","plugin":"janus.plugin.echotest","session_id":1}', 'success'],
  ['session_id as a string', '{"janus":"keepalive","session_id":"abc"}', 'ack'],
  ['unknown verb', '{"janus":"explode"}', 'error'],
  ['unknown plugin', '{"janus":"attach","plugin":"janus.plugin.nothing"}', 'error'],
  ['message to a handle that does not exist', '{"janus":"message","handle_id":123456789,"body":{}}', 'error'],
];

it(`has at least 40 hostile cases (${CASES.length})`, () => {
  expect(CASES.length).toBeGreaterThanOrEqual(40);
});

it.each(CASES)('%s', async (_name, raw, expected) => {
  const connection = bridge.daemon.served.get('h')!.connection;
  const before = connection.clientFramesSent;
  const payload = raw.includes(H) ? raw.replaceAll(`"${H}"`, `"${handle}"`).replaceAll(H, String(handle)) : raw;
  const data = payload.startsWith('\xff') ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(payload.slice(2))]) : payload;
  const reply = await scope.client.request('janus.request.h', data);
  if (typeof expected === 'number') {
    expect(reply.json.janus).toBe('error');
    expect((reply.json.error as { code: number }).code).toBe(expected);
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe(String(expected));
    expect(connection.clientFramesSent).toBe(before);
  } else {
    expect(reply.json.janus).toBe(expected);
    expect(reply.headers?.get('Nats-Service-Error-Code') ?? '').toBe('');
    expect(connection.clientFramesSent).toBe(before + 1);
  }
  expect(reply.ms).toBeLessThan(500);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});

it('keeps serving after all of them, with nothing left pending', async () => {
  expect((await scope.client.request('janus.request.h', { janus: 'ping' })).json).toEqual({ janus: 'pong' });
  const echo = await scope.client.request('janus.request.h', { janus: 'message', handle_id: handle, body: { audio: true } });
  expect(echo.json.janus).toBe('event');
  expect(bridge.daemon.served.get('h')!.connection.pendingRequests).toBe(0);
});
