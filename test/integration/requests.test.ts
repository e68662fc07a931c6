/** The request rules of the contract, checked through NATS against a real Janus. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, NatsError } from 'nats';
import { Client, startBridge, type TestBridge } from '../support/bridge.js';
import { startJanus, startNats, type JanusServer, type NatsServer } from '../support/processes.js';

let nats: NatsServer;
let janus: JanusServer;
let bridge: TestBridge;
let client: Client;
const subject = 'janus.request.j1';

async function attach(plugin: string): Promise<number> {
  const reply = await client.request(subject, { janus: 'attach', plugin });
  expect(reply.json.janus).toBe('success');
  return (reply.json.data as { id: number }).id;
}

function framesSent(): number {
  return bridge.daemon.connectionStats('j1')!.clientFramesSent;
}

beforeAll(async () => {
  [nats, janus] = await Promise.all([startNats(), startJanus()]);
  bridge = await startBridge({
    nats: { servers: [nats.url] },
    janus: { cmdTimeout: 3000, maxMessageBytes: 64 * 1024 },
    connections: [{ janus_id: 'j1', janus_url: `${janus.url}?room=abcd&apisecret=not-for-your-eyes` }],
  });
  client = await Client.connect(nats.url);
  const deadline = Date.now() + 10_000;
  while (bridge.daemon.connectionStats('j1')?.state !== 'ready' && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
});

afterAll(async () => {
  await client?.close();
  await bridge?.stop();
  await Promise.all([janus?.stop(), nats?.stop()]);
});

describe('session injection', () => {
  it('sends info and ping without a session, even when the client sent one', async () => {
    const info = await client.request(subject, { janus: 'info', session_id: 42, transaction: 'i-1' });
    expect(info.json).toMatchObject({ janus: 'server_info', transaction: 'i-1' });
    const pong = await client.request(subject, { janus: 'ping', session_id: 42, transaction: 'p-1' });
    expect(pong.json).toEqual({ janus: 'pong', transaction: 'p-1' });
  });

  it('puts the bridge session on session verbs, replacing a client session_id', async () => {
    const session = bridge.daemon.connectionStats('j1')!.sessionId;
    const reply = await client.request(subject, {
      janus: 'attach',
      plugin: 'janus.plugin.echotest',
      session_id: 1234,
      transaction: 'a-1',
    });
    expect(reply.json).toMatchObject({ janus: 'success', session_id: session, transaction: 'a-1' });
  });
});

describe('transactions', () => {
  it('answers with the client transaction, or none when the client sent none', async () => {
    const withOne = await client.request(subject, { janus: 'ping', transaction: 'mine' });
    expect(withOne.json.transaction).toBe('mine');
    const without = await client.request(subject, { janus: 'ping' });
    expect(without.json).not.toHaveProperty('transaction');
  });

  it('keeps concurrent requests with the same client transaction apart', async () => {
    const handle = await attach('janus.plugin.videoroom');
    const rooms = [101, 202, 303, 404];
    const replies = await Promise.all(
      rooms.map((room) =>
        client.request(subject, {
          janus: 'message',
          handle_id: handle,
          transaction: 'same',
          body: { request: 'exists', room },
        }),
      ),
    );
    for (const [index, reply] of replies.entries()) {
      expect(reply.json.transaction).toBe('same');
      expect((reply.json.plugindata as { data: { room: number } }).data.room).toBe(rooms[index]);
    }
  });
});

describe('which message answers', () => {
  it('skips the ack of an asynchronous plugin message and answers with its event', async () => {
    const handle = await attach('janus.plugin.echotest');
    const reply = await client.request(subject, {
      janus: 'message',
      handle_id: handle,
      transaction: 'm-1',
      body: { audio: true },
    });
    expect(reply.json).toMatchObject({ janus: 'event', transaction: 'm-1', sender: handle });
    expect((reply.json.plugindata as { plugin: string }).plugin).toBe('janus.plugin.echotest');
  });

  it('answers keepalive and trickle with their ack', async () => {
    const handle = await attach('janus.plugin.echotest');
    expect((await client.request(subject, { janus: 'keepalive', transaction: 'k' })).json).toMatchObject({
      janus: 'ack',
      transaction: 'k',
    });
    const trickle = await client.request(subject, {
      janus: 'trickle',
      handle_id: handle,
      candidate: { completed: true },
      transaction: 't',
    });
    expect(trickle.json).toMatchObject({ janus: 'ack', transaction: 't' });
  });

  it('reads verbs in any case, as Janus does: KeepAlive ends with its ack, Info goes without a session', async () => {
    expect((await client.request(subject, { janus: 'KeepAlive', transaction: 'k2' })).json).toMatchObject({
      janus: 'ack',
      transaction: 'k2',
    });
    expect((await client.request(subject, { janus: 'Info', session_id: 42, transaction: 'i2' })).json).toMatchObject({
      janus: 'server_info',
      transaction: 'i2',
    });
  });

  it('returns a Janus error at once, as Janus sent it', async () => {
    const reply = await client.request(subject, {
      janus: 'message',
      handle_id: 987654321,
      body: {},
      transaction: 'e-1',
    });
    expect(reply.json).toMatchObject({ janus: 'error', transaction: 'e-1', error: { code: 459 } });
    expect(reply.ms).toBeLessThan(1000);
    expect(reply.headers?.get('Nats-Service-Error-Code') ?? '').toBe('');
  });
});

describe('refused requests never reach Janus', () => {
  const cases: Array<[string, unknown, number]> = [
    ['not JSON', '{"janus": ', 600],
    ['empty', '', 600],
    ['an array', [{ janus: 'ping' }], 601],
    ['a number', '42', 601],
    ['no verb', { transaction: 'x' }, 602],
    ['a numeric verb', { janus: 7, transaction: 'x' }, 602],
    ['create', { janus: 'create', transaction: 'x' }, 604],
    ['destroy', { janus: 'destroy', transaction: 'x' }, 604],
    ['claim', { janus: 'claim', transaction: 'x' }, 604],
    ['a string handle_id', { janus: 'message', handle_id: '12', transaction: 'x' }, 605],
    ['a handle_id beyond 2^53', '{"janus":"message","handle_id":9223372036854775807,"transaction":"x"}', 605],
    ['a numeric transaction', { janus: 'ping', transaction: 5 }, 605],
    [
      'an oversize payload',
      { janus: 'message', handle_id: 1, body: { pad: 'x'.repeat(70 * 1024) }, transaction: 'x' },
      603,
    ],
  ];
  it.each(cases)('%s gets its own error code and the service error headers', async (_name, payload, code) => {
    const before = framesSent();
    const reply = await client.request(subject, payload);
    expect(reply.json.janus).toBe('error');
    expect((reply.json.error as { code: number }).code).toBe(code);
    expect((reply.json.error as { reason: string }).reason.length).toBeGreaterThan(10);
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe(String(code));
    expect(reply.headers?.get('Nats-Service-Error')).toBe((reply.json.error as { reason: string }).reason);
    expect(reply.ms).toBeLessThan(500);
    expect(framesSent()).toBe(before);
  });

  it('echoes the client transaction in the error when there was one', async () => {
    const reply = await client.request(subject, { janus: 'create', transaction: 'c-9' });
    expect(reply.json).toMatchObject({ janus: 'error', transaction: 'c-9', error: { code: 604 } });
  });
});

describe('subjects', () => {
  it('gives "no responders" at once for an id nobody serves', async () => {
    const started = performance.now();
    const error = await client
      .request('janus.request.nobody-serves-this', { janus: 'ping' })
      .catch((e: NatsError) => e);
    expect(error).toBeInstanceOf(NatsError);
    expect((error as NatsError).code).toBe(ErrorCode.NoResponders);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('sends a request without a reply subject; its answer is an event with the client transaction', async () => {
    const handle = await attach('janus.plugin.echotest');
    const events = client.collect('janus.event.j1');
    await client.nc.flush();
    const before = framesSent();
    client.publish(subject, { janus: 'message', handle_id: handle, transaction: 'fire-1', body: { audio: true } });
    const event = await events.waitFor((m) => (m.janus_body as { transaction?: string }).transaction === 'fire-1');
    expect(event).toMatchObject({ janus_id: 'j1', janus_body: { janus: 'event', sender: handle } });
    expect(framesSent()).toBe(before + 1);
    events.stop();
  });

  it('publishes notifications with id, redacted url and body', async () => {
    const handle = await attach('janus.plugin.echotest');
    const events = client.collect('janus.event.j1');
    await client.nc.flush();
    await client.request(subject, { janus: 'detach', handle_id: handle });
    const detached = await events.waitFor((m) => (m.janus_body as { janus: string }).janus === 'detached');
    expect(detached.janus_id).toBe('j1');
    expect(detached.janus_url).toBe(`ws://127.0.0.1:${janus.wsPort}/janus?room=abcd`);
    expect(detached.janus_body).toMatchObject({
      sender: handle,
      session_id: bridge.daemon.connectionStats('j1')!.sessionId,
    });
    expect(JSON.stringify(events.messages)).not.toContain('not-for-your-eyes');
    events.stop();
  });

  it('leaves nothing pending once every request is answered', async () => {
    expect(bridge.daemon.connectionStats('j1')!.pendingRequests).toBe(0);
  });
});
