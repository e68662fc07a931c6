/**
 * The HTTP side of operations: `/healthz` (the event loop answers), `/readyz` (ready to
 * serve, with the reasons when not), `/metrics` (Prometheus text format).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Readiness {
  /** Reasons not to send traffic here; empty when ready. */
  notReadyBecause(): string[];
}

/**
 * Bounds on what clients of the HTTP port may hold: without them every idle or half-sent
 * connection keeps a file descriptor for as long as its peer likes (3,000 idle sockets
 * held 3,000 descriptors for over a minute). The times are the ones the http.maxConnections
 * key documents.
 */
export interface HttpLimits {
  /** Most connections open at once; more are closed on arrival. */
  readonly maxConnections: number;
  /** A connection with nothing sent or received for this long is closed (keep-alive and never-spoken ones alike). */
  readonly idleMs: number;
  /** A request's headers must be complete within this long. */
  readonly headersMs: number;
  /** A whole request must arrive within this long. */
  readonly requestMs: number;
  /**
   * How often Node checks the headers and request deadlines: they hold only to within
   * this (Node's default, 30 s, would let a slow sender keep its socket that much longer).
   */
  readonly checkEveryMs: number;
}

export const HTTP_LIMITS: HttpLimits = {
  maxConnections: 64,
  idleMs: 5_000,
  headersMs: 5_000,
  requestMs: 10_000,
  checkEveryMs: 1_000,
};

export async function startHttpServer(
  host: string,
  port: number,
  readiness: Readiness,
  registry: Registry,
  limits: Partial<HttpLimits> = {},
): Promise<{ server: Server; port: number }> {
  const { maxConnections, idleMs, headersMs, requestMs, checkEveryMs } = { ...HTTP_LIMITS, ...limits };
  const server = createServer(
    { headersTimeout: headersMs, requestTimeout: requestMs, connectionsCheckingInterval: checkEveryMs },
    (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path === '/healthz') {
        sendJson(res, 200, { status: 'ok' });
      } else if (path === '/readyz') {
        const reasons = readiness.notReadyBecause();
        sendJson(
          res,
          reasons.length ? 503 : 200,
          reasons.length ? { status: 'not ready', reasons } : { status: 'ready' },
        );
      } else if (path === '/metrics') {
        registry.metrics().then(
          (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
          (err: Error) => sendJson(res, 500, { error: err.message }),
        );
      } else {
        sendJson(res, 404, { error: 'not found', paths: ['/healthz', '/readyz', '/metrics'] });
      }
    },
  );
  server.maxConnections = maxConnections;
  server.keepAliveTimeout = idleMs;
  // With no 'timeout' listener, Node destroys a socket idle this long: one that never sends a byte included.
  server.timeout = idleMs;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
