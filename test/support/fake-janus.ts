/**
 * A FAKE Janus, for what a real one cannot be made to do: send malformed frames
 * (non-JSON, non-objects, binary, oversize). It answers just enough of the Janus API
 * (info, create, claim, keepalive, ping) for the bridge to hold a session.
 */
import { WebSocketServer, type WebSocket } from 'ws';

export interface FakeJanus {
  readonly url: string;
  /** Sends a raw frame to every connected client. */
  sendRaw(data: string | Buffer, options?: { binary?: boolean }): void;
  readonly connections: number;
  stop(): Promise<void>;
}

export async function startFakeJanus(): Promise<FakeJanus> {
  const server = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (protocols) => (protocols.has('janus-protocol') ? 'janus-protocol' : false),
  });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const clients = new Set<WebSocket>();
  let connections = 0;
  let nextSession = 1000;
  server.on('connection', (ws) => {
    connections++;
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
    ws.on('message', (data) => {
      const request = JSON.parse(data.toString()) as { janus: string; transaction: string; session_id?: number };
      const reply = (body: Record<string, unknown>): void =>
        ws.send(JSON.stringify({ ...body, transaction: request.transaction }));
      switch (request.janus) {
        case 'info':
          reply({ janus: 'server_info', version_string: 'fake', 'session-timeout': 60, 'reclaim-session-timeout': 0 });
          break;
        case 'create':
          reply({ janus: 'success', data: { id: ++nextSession } });
          break;
        case 'claim':
          reply({ janus: 'error', session_id: request.session_id, error: { code: 458, reason: 'No such session' } });
          break;
        case 'keepalive':
          reply({ janus: 'ack', session_id: request.session_id });
          break;
        case 'ping':
          reply({ janus: 'pong' });
          break;
        case 'destroy':
          reply({ janus: 'success', session_id: request.session_id });
          break;
        default:
          reply({ janus: 'error', error: { code: 457, reason: 'fake Janus: unknown request' } });
      }
    });
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}/janus`,
    sendRaw: (data, options) => {
      for (const ws of clients) ws.send(data, { binary: options?.binary ?? false });
    },
    get connections() {
      return connections;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const ws of clients) ws.terminate();
        server.close(() => resolve());
      }),
  };
}
