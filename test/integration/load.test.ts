/** 500 concurrent requests on one connection, each answered with its own answer. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Client, eventually, startBridge, type TestBridge } from '../support/bridge.js';
import { startJanus, startNats, type JanusServer, type NatsServer } from '../support/processes.js';

let nats: NatsServer;
let janus: JanusServer;
let bridge: TestBridge;
let client: Client;

beforeAll(async () => {
  [nats, janus] = await Promise.all([startNats(), startJanus()]);
  bridge = await startBridge({
    nats: { servers: [nats.url] },
    connections: [{ janus_id: 'load', janus_url: janus.url }],
  });
  client = await Client.connect(nats.url);
  await eventually(() => bridge.daemon.connectionStats('load')?.state === 'ready', 10_000, 'ready');
});

afterAll(async () => {
  await client?.close();
  await bridge?.stop();
  await Promise.all([janus?.stop(), nats?.stop()]);
});

it('gives each of 500 concurrent requests its own answer', async () => {
  const attached = await client.request('janus.request.load', { janus: 'attach', plugin: 'janus.plugin.videoroom' });
  const handle = (attached.json.data as { id: number }).id;
  const echo = await client.request('janus.request.load', { janus: 'attach', plugin: 'janus.plugin.echotest' });
  const echoHandle = (echo.json.data as { id: number }).id;
  const started = performance.now();
  const requests = Array.from({ length: 500 }, (_, i) => {
    // Three kinds: synchronous plugin answers (each names its room), asynchronous
    // plugin answers (ack, then event), and session-less verbs.
    if (i % 3 === 0)
      return client.request('janus.request.load', {
        janus: 'message',
        handle_id: echoHandle,
        transaction: `t${i}`,
        body: { audio: i % 2 === 0 },
      });
    if (i % 3 === 1)
      return client.request('janus.request.load', {
        janus: 'message',
        handle_id: handle,
        transaction: `t${i}`,
        body: { request: 'exists', room: 10_000 + i },
      });
    return client.request('janus.request.load', { janus: 'ping', transaction: `t${i}` });
  });
  const replies = await Promise.all(requests);
  const elapsed = performance.now() - started;
  for (const [i, reply] of replies.entries()) {
    expect(reply.json.transaction).toBe(`t${i}`);
    if (i % 3 === 0)
      expect(reply.json).toMatchObject({ janus: 'event', sender: echoHandle, plugindata: { data: { result: 'ok' } } });
    if (i % 3 === 1)
      expect(reply.json).toMatchObject({ janus: 'success', plugindata: { data: { room: 10_000 + i, exists: false } } });
    if (i % 3 === 2) expect(reply.json.janus).toBe('pong');
  }
  expect(bridge.daemon.connectionStats('load')!.pendingRequests).toBe(0);
  console.log(`500 concurrent requests answered in ${elapsed.toFixed(0)} ms`);
});
