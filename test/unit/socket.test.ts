import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { JanusSocket } from '../../src/janus/socket.js';

let server: WebSocketServer | undefined;
let socket: JanusSocket | undefined;

afterEach(async () => {
  socket?.close('test over');
  const closing = server;
  if (closing) await new Promise<void>((done) => closing.close(() => done()));
});

/** A local WebSocket server that sends `frames` to whoever connects, and the port it listens on. */
async function serve(frames: string[]): Promise<number> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'janus-protocol' });
  server.on('connection', (peer: WebSocket) => {
    for (const frame of frames) peer.send(frame);
  });
  await new Promise((listening) => server!.once('listening', listening));
  return (server.address() as { port: number }).port;
}

describe('JanusSocket', () => {
  it('drops a frame whose handling throws, saying so with the error only, and reads the next frames', async () => {
    const port = await serve(['{"first":"s3cr3t"}', '{"second":1}', '{"third":1}']);
    const texts: string[] = [];
    const dropped: string[] = [];
    const closed: string[] = [];
    socket = new JanusSocket(
      { url: `ws://127.0.0.1:${port}`, sendTimeoutMs: 2000, pingIntervalMs: 60_000, maxMessageBytes: 1 << 20 },
      {
        onOpen: () => {},
        onText: (text) => {
          if (text.includes('first')) throw new Error('invalid header value');
          texts.push(text);
        },
        onDropped: (reason) => dropped.push(reason),
        onClose: (reason) => closed.push(reason),
      },
    );
    const deadline = Date.now() + 5000;
    while (texts.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(texts).toEqual(['{"second":1}', '{"third":1}']);
    expect(dropped).toEqual(['frame handling failed: invalid header value']);
    expect(closed).toEqual([]);
    expect(socket.isOpen).toBe(true);
  });
});
