/** A loopback TCP proxy the test controls: cut every connection, refuse new ones, let them through again. */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { freePort } from './processes.js';

export interface TcpProxy {
  readonly port: number;
  /** Destroys every proxied connection and stops listening (new connections are refused). */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  open(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, options: { listening?: boolean } = {}): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  const open = async (): Promise<void> => {
    if (server) return;
    server = createServer((client) => {
      const upstream = connect({ port: targetPort, host: '127.0.0.1' });
      sockets.add(client).add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', () => resolve()));
  };
  const cut = async (): Promise<void> => {
    const closing = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };
  if (options.listening !== false) await open();
  return { port, cut, open, stop: cut };
}
