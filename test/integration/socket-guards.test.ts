/**
 * The WebSocket's guards: size limit on messages from Janus, write deadline, handshake
 * deadline. Real Janus where it can do the misbehaving (SIGSTOP makes it stop reading);
 * a bare TCP listener only for a handshake that never completes.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { eventually, natsPerFile, startBridge } from '../support/bridge.js';
import { startJanus } from '../support/processes.js';

const scope = natsPerFile({ beforeAll, afterEach, afterAll });
const running = scope.running;

it('closes the connection on a Janus message over janus.maxMessageBytes, fails the request, reconnects', async () => {
  const janus = await startJanus();
  running.push(janus);
  const status = scope.client.collect('janus.status.big');
  await scope.client.nc.flush();
  const bridge = await startBridge({
    nats: { servers: [scope.nats.url] },
    janus: { maxMessageBytes: 16 * 1024, reconnect: { minDelay: 50, maxDelay: 200 } },
    connections: [{ janus_id: 'big', janus_url: janus.url }],
  });
  running.push({
    stop: async () => {
      status.stop();
      await bridge.stop();
    },
  });
  const first = await status.waitFor((m) => m.state === 'connected');
  const handle = (
    (await scope.client.request('janus.request.big', { janus: 'attach', plugin: 'janus.plugin.videoroom' })).json
      .data as { id: number }
  ).id;
  // Rooms with long descriptions make the answer to "list" outgrow the limit.
  for (let i = 0; i < 40; i++) {
    const created = await scope.client.request('janus.request.big', {
      janus: 'message',
      handle_id: handle,
      body: { request: 'create', room: 50_000 + i, description: `room ${i} `.padEnd(500, 'x') },
    });
    expect(created.json.janus).toBe('success');
  }
  const reply = await scope.client.request('janus.request.big', {
    janus: 'message',
    handle_id: handle,
    body: { request: 'list' },
  });
  expect(reply.json).toMatchObject({ janus: 'error', error: { code: 612 } });
  expect((reply.json.error as { reason: string }).reason).toContain('janus.maxMessageBytes');
  const replaced = await status.waitFor((m) => m.state === 'session-replaced');
  expect(replaced.old_session_id).toBe(first.session_id);
  expect((await scope.client.request('janus.request.big', { janus: 'ping' })).json).toEqual({ janus: 'pong' });
});

it('resets the connection when a write is not flushed within janus.sendTimeout; other connections go on', async () => {
  const [janus, other] = await Promise.all([startJanus(), startJanus()]);
  running.push(janus, other);
  const status = scope.client.collect('janus.status.stall');
  await scope.client.nc.flush();
  const bridge = await startBridge({
    nats: { servers: [scope.nats.url] },
    janus: { sendTimeout: 500, pingInterval: 60, maxMessageBytes: 1024 * 1024 },
    connections: [
      { janus_id: 'stall', janus_url: janus.url },
      { janus_id: 'other', janus_url: other.url },
    ],
  });
  running.push({
    stop: async () => {
      status.stop();
      await bridge.stop();
    },
  });
  await status.waitFor((m) => m.state === 'connected');
  await eventually(() => bridge.daemon.connectionStats('other')?.state === 'ready', 5000, 'other ready');
  janus.pause();
  try {
    // Fire-and-forget messages of ~900 KB fill the kernel's buffers; then writes stall.
    const big = JSON.stringify({ janus: 'message', handle_id: 1, body: { pad: 'x'.repeat(900 * 1024) } });
    const started = performance.now();
    for (let i = 0; i < 80 && !status.messages.some((m) => m.json.state === 'disconnected'); i++) {
      scope.client.publish('janus.request.stall', big);
      await scope.client.nc.flush();
      await new Promise((r) => setTimeout(r, 20));
    }
    // How long the kernel's buffers take to fill depends on the machine's load; the reset itself comes 500 ms after the
    // first stalled write.
    const down = await status.waitFor((m) => m.state === 'disconnected', 15_000);
    expect(String(down.reason)).toContain('janus.sendTimeout (500 ms)');
    expect(performance.now() - started).toBeLessThan(15_000);
    const otherReply = await scope.client.request('janus.request.other', { janus: 'ping' });
    expect(otherReply.json).toEqual({ janus: 'pong' });
    expect(otherReply.ms).toBeLessThan(200);
  } finally {
    janus.resume();
  }
  // Serving again: with a new session, or the old one claimed back when Janus, paused, had not yet seen the old socket
  // close.
  const connectedAgain = () => status.messages.filter((m) => m.json.state === 'connected').length >= 2;
  await eventually(connectedAgain, 10_000, 'connected again after the reset');
}, 30_000);

it('gives up a WebSocket handshake not done within janus.sendTimeout (a TCP peer that never answers)', async () => {
  const sockets: Socket[] = [];
  const silent: Server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  const port = (silent.address() as { port: number }).port;
  running.push({
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        silent.close(() => r());
      }),
  });
  const status = scope.client.collect('janus.status.mute');
  await scope.client.nc.flush();
  const started = performance.now();
  const bridge = await startBridge({
    nats: { servers: [scope.nats.url] },
    janus: { sendTimeout: 300 },
    connections: [{ janus_id: 'mute', janus_url: `ws://127.0.0.1:${port}/janus` }],
  });
  running.push({
    stop: async () => {
      status.stop();
      await bridge.stop();
    },
  });
  const down = await status.waitFor((m) => m.state === 'disconnected', 3000);
  expect(String(down.reason)).toMatch(/handshake/i);
  expect(performance.now() - started).toBeLessThan(1500);
  expect((await scope.client.request('janus.request.mute', { janus: 'ping' })).json).toMatchObject({
    error: { code: 611 },
  });
});
