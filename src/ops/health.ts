/**
 * `/healthz`: the event loop answers. `/readyz`: NATS is connected, the connection
 * list is loaded and the daemon is not shutting down.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Readiness {
  /** Reasons not to send traffic here; empty when ready. */
  notReadyBecause(): string[];
}

export async function startHealthServer(host: string, port: number, readiness: Readiness): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      send(res, 200, { status: 'ok' });
    } else if (path === '/readyz') {
      const reasons = readiness.notReadyBecause();
      send(res, reasons.length ? 503 : 200, reasons.length ? { status: 'not ready', reasons } : { status: 'ready' });
    } else {
      send(res, 404, { error: 'not found', paths: ['/healthz', '/readyz'] });
    }
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

function send(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
