import { afterEach, describe, expect, it } from 'vitest';
import {
  ackTransaction,
  bindToSession,
  completes,
  errorReply,
  forClient,
  mayHaveFollowUps,
  parseClientRequest,
  parseJanusFrame,
  restoreTransaction,
  route,
  type JanusMessage,
  type ParsedRequest,
  unsafeContent,
  MAX_NESTING,
  describeValue,
} from '../../src/janus/protocol.js';
import { BRIDGE_ERRORS, bridgeError } from '../../src/errors.js';

const MAX = 1024;

function expectError(result: ParsedRequest, name: keyof typeof BRIDGE_ERRORS): Extract<ParsedRequest, { ok: false }> {
  if (result.ok) throw new Error(`expected error ${name}, got ok: ${JSON.stringify(result.message)}`);
  expect(result.error.name).toBe(name);
  expect(result.error.code).toBe(BRIDGE_ERRORS[name].code);
  expect(result.error.reason.startsWith(BRIDGE_ERRORS[name].reason)).toBe(true);
  return result;
}

function expectOk(result: ParsedRequest): Extract<ParsedRequest, { ok: true }> {
  if (!result.ok) throw new Error(`expected ok, got ${result.error.name}: ${result.error.reason}`);
  return result;
}

describe('parseClientRequest', () => {
  afterEach(() => {
    // Guard against a prototype-pollution test leaking into others.
    delete (Object.prototype as Record<string, unknown>).polluted;
  });

  it('accepts a valid request as a string and reports the client transaction', () => {
    const result = expectOk(
      parseClientRequest('{"janus":"attach","plugin":"janus.plugin.echotest","transaction":"abc"}', MAX),
    );
    expect(result.message).toEqual({ janus: 'attach', plugin: 'janus.plugin.echotest', transaction: 'abc' });
    expect(result.clientTransaction).toBe('abc');
  });

  it('accepts a valid request as bytes, also from a view into a larger buffer', () => {
    const whole = Buffer.from('XXXX{"janus":"info"}YYYY');
    const view = new Uint8Array(whole.buffer, whole.byteOffset + 4, whole.byteLength - 8);
    const result = expectOk(parseClientRequest(view, MAX));
    expect(result.message).toEqual({ janus: 'info' });
    expect(result.clientTransaction).toBeUndefined();
  });

  it('refuses invalid JSON with 600', () => {
    const result = expectError(parseClientRequest('{"janus":', MAX), 'invalid_json');
    expect(result.error.code).toBe(600);
    expect(result.clientTransaction).toBeUndefined();
  });

  it('refuses an empty payload with 600 (string and bytes)', () => {
    expect(expectError(parseClientRequest('', MAX), 'invalid_json').error.reason).toContain('empty payload');
    expect(expectError(parseClientRequest(new Uint8Array(0), MAX), 'invalid_json').error.reason).toContain(
      'empty payload',
    );
  });

  it.each([
    ['an array', '[{"janus":"info"}]'],
    ['null', 'null'],
    ['number', '42'],
    ['string', '"info"'],
    ['boolean', 'true'],
  ])('refuses a non-object (%s) with 601', (label, text) => {
    const result = expectError(parseClientRequest(text, MAX), 'not_an_object');
    expect(result.error.code).toBe(601);
    expect(result.error.reason).toContain(label);
    expect(result.clientTransaction).toBeUndefined();
  });

  it('refuses a missing verb with 602 and reports the client transaction', () => {
    const result = expectError(parseClientRequest('{"transaction":"t1"}', MAX), 'missing_verb');
    expect(result.error.code).toBe(602);
    expect(result.error.reason).toContain('"janus" is missing');
    expect(result.clientTransaction).toBe('t1');
  });

  it.each([
    ['a number', '{"janus":5,"transaction":"t2"}', 'the number 5'],
    ['null', '{"janus":null,"transaction":"t2"}', 'null'],
    ['an object', '{"janus":{},"transaction":"t2"}', 'object'],
    ['an array', '{"janus":["info"],"transaction":"t2"}', 'an array'],
  ])('refuses a non-string verb (%s) with 602', (_label, text, described) => {
    const result = expectError(parseClientRequest(text, MAX), 'missing_verb');
    expect(result.error.reason).toContain(described);
    expect(result.clientTransaction).toBe('t2');
  });

  it('refuses an empty verb with 602', () => {
    const result = expectError(parseClientRequest('{"janus":"","transaction":"t3"}', MAX), 'missing_verb');
    expect(result.clientTransaction).toBe('t3');
  });

  it.each(['create', 'destroy', 'claim'])('refuses the verb %s with 604 and reports the client transaction', (verb) => {
    const result = expectError(
      parseClientRequest(JSON.stringify({ janus: verb, transaction: 'tx' }), MAX),
      'verb_refused',
    );
    expect(result.error.code).toBe(604);
    expect(result.error.reason).toContain(`"${verb}"`);
    expect(result.clientTransaction).toBe('tx');
  });

  it('does not refuse verbs that only resemble refused ones', () => {
    expectOk(parseClientRequest('{"janus":"created"}', MAX));
    expectOk(parseClientRequest('{"janus":"detach","handle_id":1}', MAX));
  });

  it.each(['Create', 'DESTROY', 'Claim'])('refuses %s: Janus reads verbs in any case', (verb) => {
    expectError(parseClientRequest(JSON.stringify({ janus: verb }), MAX), 'verb_refused');
  });

  it('passes the verb on in lower case, so that the bridge and Janus read it alike', () => {
    const keepalive = expectOk(parseClientRequest('{"janus":"KeepAlive"}', MAX));
    expect(keepalive.message.janus).toBe('keepalive');
    expect(completes(keepalive.message.janus, 'ack')).toBe(true);
    const info = expectOk(parseClientRequest('{"janus":"INFO","session_id":5}', MAX));
    expect(bindToSession(info.message, 1234, 'ours').session_id).toBeUndefined();
  });

  it.each([
    ['a number', '{"janus":"info","transaction":7}', 'the number 7'],
    ['null', '{"janus":"info","transaction":null}', 'null'],
    ['an object', '{"janus":"info","transaction":{"a":1}}', 'object'],
  ])('refuses a non-string transaction (%s) with 605 and no client transaction', (_label, text, described) => {
    const result = expectError(parseClientRequest(text, MAX), 'invalid_field');
    expect(result.error.code).toBe(605);
    expect(result.error.reason).toContain('"transaction" must be a string');
    expect(result.error.reason).toContain(described);
    expect(result.clientTransaction).toBeUndefined();
  });

  it.each([
    ['a string', '"5"'],
    ['negative', '-3'],
    ['zero', '0'],
    ['a float', '1.5'],
    ['null', 'null'],
    ['beyond 2^53 (literal 9223372036854775807)', '9223372036854775807'],
    ['2^53 exactly', '9007199254740992'],
  ])('refuses handle_id %s with 605 and reports the client transaction', (_label, literal) => {
    const result = expectError(
      parseClientRequest(`{"janus":"message","handle_id":${literal},"transaction":"h"}`, MAX),
      'invalid_field',
    );
    expect(result.error.reason).toContain('"handle_id" must be a positive integer below 2^53');
    expect(result.clientTransaction).toBe('h');
  });

  it.each([
    ['a line break', '1\n2'],
    ['CR LF and a forged header', 'x\r\nNats-Service-Error-Code: 200'],
    ['a secret-looking string', 'apisecret=s3cr3t'],
    ['a long string', 'y'.repeat(100_000)],
  ])('says only the type and length of a string handle_id (%s), never the string', (_label, value) => {
    const result = expectError(
      parseClientRequest(JSON.stringify({ janus: 'message', handle_id: value, transaction: 'h' }), 200_000),
      'invalid_field',
    );
    expect(result.error.reason).toBe(
      `a field has the wrong type: "handle_id" must be a positive integer below 2^53, got a string of ` +
        `${value.length} characters`,
    );
  });

  it('says only the type of a non-object payload that is a string, never the string', () => {
    const result = expectError(parseClientRequest(JSON.stringify('ping\r\nsecret'), MAX), 'not_an_object');
    expect(result.error.reason).toBe('request must be a JSON object: got a string of 12 characters');
  });

  it('accepts the largest safe handle_id', () => {
    const result = expectOk(parseClientRequest('{"janus":"message","handle_id":9007199254740991}', MAX));
    expect(result.message.handle_id).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('accepts a payload of exactly maxBytes and refuses one byte more with 603', () => {
    const base = '{"janus":"info","x":""}';
    const exact = base.slice(0, -2) + 'a'.repeat(MAX - base.length) + '"}';
    expect(Buffer.byteLength(exact)).toBe(MAX);
    expectOk(parseClientRequest(exact, MAX));
    const over = base.slice(0, -2) + 'a'.repeat(MAX - base.length + 1) + '"}';
    const result = expectError(parseClientRequest(over, MAX), 'too_large');
    expect(result.error.code).toBe(603);
    expect(result.error.reason).toContain(`${MAX + 1} bytes, limit ${MAX}`);
  });

  it('counts bytes, not characters, for multi-byte unicode', () => {
    // 12 characters of "€" are 36 UTF-8 bytes.
    const text = `{"janus":"info","x":"${'€'.repeat(12)}"}`;
    expect(text.length).toBeLessThan(40);
    const bytes = Buffer.byteLength(text);
    expect(bytes).toBeGreaterThan(40);
    const result = expectError(parseClientRequest(text, 40), 'too_large');
    expect(result.error.reason).toContain(`${bytes} bytes, limit 40`);
    expectError(parseClientRequest(Buffer.from(text), 40), 'too_large');
    expectOk(parseClientRequest(text, bytes));
  });

  it('keeps a __proto__ key as an own property without polluting Object.prototype', () => {
    const result = expectOk(parseClientRequest('{"janus":"info","__proto__":{"polluted":true}}', MAX));
    expect(Object.hasOwn(result.message, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(result.message)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((result.message as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('does not take the verb or transaction from a __proto__ object', () => {
    const result = expectError(
      parseClientRequest('{"__proto__":{"janus":"info","transaction":"p"}}', MAX),
      'missing_verb',
    );
    expect(result.clientTransaction).toBeUndefined();
  });

  it('lets the last of duplicate keys win', () => {
    const result = expectOk(
      parseClientRequest('{"janus":"create","janus":"attach","transaction":"a","transaction":"b"}', MAX),
    );
    expect(result.message.janus).toBe('attach');
    expect(result.clientTransaction).toBe('b');
    expectError(parseClientRequest('{"janus":"attach","janus":"destroy"}', MAX), 'verb_refused');
  });
});

describe('bindToSession', () => {
  it('sets our session id and transaction on a session verb', () => {
    const message: JanusMessage = { janus: 'attach', plugin: 'p', transaction: 'client' };
    const bound = bindToSession(message, 1234, 'ours-1');
    expect(bound).toBe(message);
    expect(bound).toEqual({ janus: 'attach', plugin: 'p', transaction: 'ours-1', session_id: 1234 });
  });

  it('replaces a session id the client sent', () => {
    const message: JanusMessage = { janus: 'message', session_id: 999, handle_id: 5, transaction: 'c' };
    bindToSession(message, 42, 'ours-2');
    expect(message.session_id).toBe(42);
    expect(message.transaction).toBe('ours-2');
  });

  it('adds a transaction when the client sent none', () => {
    const message: JanusMessage = { janus: 'keepalive' };
    bindToSession(message, 7, 'ours-3');
    expect(message).toEqual({ janus: 'keepalive', session_id: 7, transaction: 'ours-3' });
  });

  it.each(['info', 'ping'])('removes the session id for the session-less verb %s', (verb) => {
    const message: JanusMessage = { janus: verb, session_id: 999, transaction: 'c' };
    bindToSession(message, 42, 'ours-4');
    expect(Object.hasOwn(message, 'session_id')).toBe(false);
    expect(message.transaction).toBe('ours-4');
  });

  it('removes the session id when there is no session', () => {
    const message: JanusMessage = { janus: 'attach', session_id: 999 };
    bindToSession(message, undefined, 'ours-5');
    expect(Object.hasOwn(message, 'session_id')).toBe(false);
  });
});

describe('completes and route', () => {
  const verbs = ['attach', 'message', 'detach', 'keepalive', 'trickle', 'info', 'ping', 'hangup'];

  for (const answer of ['success', 'error', 'event', 'pong', 'server_info']) {
    it(`"${answer}" ends a request of any verb`, () => {
      for (const verb of verbs) {
        expect(completes(verb, answer)).toBe(true);
        expect(route(answer, verb)).toBe('answer');
      }
    });
  }

  it.each(['keepalive', 'trickle'])('"ack" ends a %s request', (verb) => {
    expect(completes(verb, 'ack')).toBe(true);
    expect(route('ack', verb)).toBe('answer');
  });

  it.each(['message', 'attach', 'detach', 'info'])('"ack" does not end a %s request and is dropped', (verb) => {
    expect(completes(verb, 'ack')).toBe(false);
    expect(route('ack', verb)).toBe('drop');
  });

  it('only a plugin message may be followed by more messages with its transaction', () => {
    expect(mayHaveFollowUps('message')).toBe(true);
    for (const verb of ['attach', 'detach', 'hangup', 'keepalive', 'trickle', 'info', 'ping', 'claim'])
      expect(mayHaveFollowUps(verb)).toBe(false);
  });

  it.each(['webrtcup', 'media', 'hangup', 'slowlink', 'detached', 'timeout'])(
    'an unknown type (%s) with a waiting verb is an event',
    (type) => {
      expect(completes('message', type)).toBe(false);
      expect(route(type, 'message')).toBe('event');
    },
  );

  it.each(['success', 'error', 'event', 'pong', 'server_info', 'webrtcup', 'hangup'])(
    '"%s" with no waiting verb is an event',
    (type) => {
      expect(route(type, undefined)).toBe('event');
    },
  );

  it('"ack" with no waiting verb is dropped', () => {
    expect(route('ack', undefined)).toBe('drop');
  });
});

describe('restoreTransaction', () => {
  it('puts the client transaction back', () => {
    const message = { janus: 'success', transaction: 'ours' };
    expect(restoreTransaction(message, 'client')).toBe(message);
    expect(message.transaction).toBe('client');
  });

  it('removes our transaction when the client sent none', () => {
    const message: { janus: string; transaction?: string } = { janus: 'success', transaction: 'ours' };
    restoreTransaction(message, undefined);
    expect(Object.hasOwn(message, 'transaction')).toBe(false);
  });
});

describe('errorReply', () => {
  it('has Janus error shape with the client transaction', () => {
    const error = bridgeError('timeout', '5000 ms');
    expect(errorReply(error, 'abc')).toEqual({
      janus: 'error',
      transaction: 'abc',
      error: { code: 610, reason: 'no answer from Janus within janus.cmdTimeout: 5000 ms' },
    });
  });

  it('has no transaction key when the client sent none', () => {
    const reply = errorReply(bridgeError('unavailable'), undefined);
    expect(Object.hasOwn(reply, 'transaction')).toBe(false);
    expect(reply).toEqual({ janus: 'error', error: { code: 611, reason: BRIDGE_ERRORS.unavailable.reason } });
  });

  it('does not leak the internal error name', () => {
    const reply = errorReply(bridgeError('too_large'), 't');
    expect(Object.keys(reply.error as object).sort()).toEqual(['code', 'reason']);
  });
});

describe('parseJanusFrame', () => {
  it('refuses non-JSON', () => {
    expect(parseJanusFrame('not json')).toEqual({ ok: false, reason: 'frame is not JSON' });
  });

  it.each(['[{"janus":"ack"}]', 'null', '"ack"', '3'])('refuses a non-object %s', (text) => {
    expect(parseJanusFrame(text)).toEqual({ ok: false, reason: 'frame is not a JSON object' });
  });

  it.each(['{}', '{"janus":1}', '{"janus":null}', '{"transaction":"x"}'])(
    'refuses %s without a string janus field',
    (text) => {
      expect(parseJanusFrame(text)).toEqual({ ok: false, reason: 'frame has no string "janus" field' });
    },
  );

  it('accepts a Janus message', () => {
    const result = parseJanusFrame('{"janus":"success","transaction":"t","data":{"id":12}}');
    expect(result).toEqual({ ok: true, message: { janus: 'success', transaction: 't', data: { id: 12 } } });
  });
});

describe('unsafeContent', () => {
  it('passes ordinary requests, emoji (paired surrogates) included', () => {
    expect(
      unsafeContent({
        janus: 'message',
        handle_id: 1,
        body: { request: 'join', room: 1234, display: 'Zoë 👋', list: [1, [2, [3]]] },
      }),
    ).toBeUndefined();
  });

  it.each([
    ['an integer beyond 2^53', { a: [{ b: 2 ** 60 }] }, 'beyond 2^53'],
    ['a negative integer beyond 2^53', { a: -(2 ** 54) }, 'beyond 2^53'],
    [
      'nesting deeper than MAX_NESTING',
      JSON.parse('{"a":'.repeat(MAX_NESTING + 1) + '1' + '}'.repeat(MAX_NESTING + 1)),
      'nested deeper',
    ],
    ['a NUL character in a value', { a: 'x\u0000y' }, 'NUL'],
    ['an unpaired high surrogate', { a: 'x\ud800' }, 'unpaired surrogate'],
    ['an unpaired low surrogate', { a: '\udc00x' }, 'unpaired surrogate'],
    ['a NUL character in a key', { ['k\u0000']: 1 }, 'key'],
  ])('refuses %s', (_name, value, mention) => {
    expect(unsafeContent(value)).toContain(mention);
  });

  it('allows exactly MAX_NESTING levels and floats', () => {
    const atLimit = JSON.parse('{"a":'.repeat(MAX_NESTING) + '1.5' + '}'.repeat(MAX_NESTING));
    expect(unsafeContent(atLimit)).toBeUndefined();
  });
});

describe('JSON errors never quote the request', () => {
  it.each([
    '{"janus":"message","apisecret": s3cr3t-value}',
    '{"janus":"message","apisecret":"s3cr3t-value"',
    '{"janus":"message","apisecret":"s3cr3t-value"} trailing',
  ])('%s', (payload) => {
    const parsed = parseClientRequest(payload, 1024);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.error.code).toBe(600);
    expect(parsed.error.reason).not.toContain('s3cr3t');
    expect(parsed.error.reason).toMatch(/JSON/);
  });
});

describe('forClient', () => {
  const ours = '1a2b3c4d-7';
  // How Janus writes an answer with its default `json = "indented"`.
  const indented =
    `{\n   "janus": "success",\n   "session_id": 42,\n   "transaction": "${ours}",\n   "data": {\n    ` +
    `  "id": 7\n   }\n}`;

  it("edits Janus's own text: only the transaction's value changes, the layout stays", () => {
    const message = JSON.parse(indented) as JanusMessage;
    const result = forClient(message, indented, ours, 'client-"1"');
    expect(result.text).toBe(indented.replace(`"${ours}"`, '"client-\\"1\\""'));
    expect(JSON.parse(result.text)).toEqual({
      janus: 'success',
      session_id: 42,
      transaction: 'client-"1"',
      data: { id: 7 },
    });
    expect(result.message.transaction).toBe('client-"1"');
  });

  it('edits plain and compact layouts too', () => {
    for (const text of [
      `{"janus": "ack", "session_id": 42, "transaction": "${ours}"}`,
      `{"janus":"ack","session_id":42,"transaction":"${ours}"}`,
    ]) {
      const result = forClient(JSON.parse(text) as JanusMessage, text, ours, 'c');
      expect(result.text).toBe(text.replace(ours, 'c'));
    }
  });

  it('leaves a later plugin value equal to our transaction alone', () => {
    const text = `{"janus":"event","transaction":"${ours}","plugindata":{"data":{"echo":"${ours}"}}}`;
    const result = forClient(JSON.parse(text) as JanusMessage, text, ours, 'c');
    expect(JSON.parse(result.text)).toEqual({ janus: 'event', transaction: 'c', plugindata: { data: { echo: ours } } });
  });

  it('serialises the message when our transaction shows first somewhere else than as the transaction', () => {
    const text = `{"janus":"event","note":"${ours}","transaction":"${ours}"}`;
    const result = forClient(JSON.parse(text) as JanusMessage, text, ours, 'c');
    expect(JSON.parse(result.text)).toEqual({ janus: 'event', note: ours, transaction: 'c' });
  });

  it('serialises the message when an object opened before the transaction holds our value first', () => {
    const text = `{"janus":"event","plugindata":{"transaction":"${ours}"},"transaction":"${ours}"}`;
    const result = forClient(JSON.parse(text) as JanusMessage, text, ours, 'c');
    expect(JSON.parse(result.text)).toEqual({ janus: 'event', plugindata: { transaction: ours }, transaction: 'c' });
  });

  it('does not take a key that merely ends in "transaction" for the member', () => {
    const text = `{"janus":"event","x\\"transaction":"${ours}","transaction":"${ours}"}`;
    const result = forClient(JSON.parse(text) as JanusMessage, text, ours, 'c');
    expect(JSON.parse(result.text)).toEqual({ janus: 'event', 'x"transaction': ours, transaction: 'c' });
  });

  it('removes the transaction when the client sent none', () => {
    const result = forClient(JSON.parse(indented) as JanusMessage, indented, ours, undefined);
    expect(JSON.parse(result.text)).toEqual({ janus: 'success', session_id: 42, data: { id: 7 } });
    expect(result.message).not.toHaveProperty('transaction');
  });
});

describe('describeValue', () => {
  it.each([
    [null, 'null'],
    [[1], 'an array'],
    [{}, 'an object'],
    [true, 'a boolean'],
    [1.5, 'the number 1.5'],
    ['', 'an empty string'],
    ['a', 'a string of 1 character'],
    ['abc', 'a string of 3 characters'],
    ['\r\n', 'a string of 2 characters'],
  ])('describes %j as %s', (value, described) => {
    expect(describeValue(value)).toBe(described);
  });
});

describe('ackTransaction', () => {
  it('reads the transaction of an ack, compact or indented as Janus writes it', () => {
    expect(ackTransaction('{"janus":"ack","session_id":1,"transaction":"b7"}')).toBe('b7');
    expect(ackTransaction('{\n   "janus": "ack",\n   "session_id": 1,\n   "transaction": "b7"\n}')).toBe('b7');
    expect(ackTransaction('{"janus":"ack","transaction":"b7","hint":"x"}')).toBe('b7');
  });

  it('says nothing of what is not plainly an ack, so that it is parsed as usual', () => {
    expect(ackTransaction('{"janus":"event","transaction":"b7"}')).toBeUndefined();
    expect(ackTransaction('{"session_id":1,"janus":"ack","transaction":"b7"}')).toBeUndefined();
    expect(ackTransaction('{"janus":"acknowledged","transaction":"b7"}')).toBeUndefined();
    expect(ackTransaction('{"janus":"ack","session_id":1}')).toBeUndefined();
    expect(ackTransaction('{"janus":"ack","transaction":"a\\"b"}')).toBeUndefined();
    expect(ackTransaction('{"janus":"ack","hint":"\\"transaction\\": \\"x\\""}')).toBeUndefined();
  });
});
