/**
 * The HTTP port (/healthz, /readyz, /metrics) under clients that open connections and
 * hold them: idle, silent, or sending their headers a byte at a time. Each of those used
 * to keep a file descriptor for as long as its peer liked. Real sockets on loopback,
 * against the server the daemon starts.
 */
import { connect, type Socket } from 'node:net';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HTTP_LIMITS, startHttpServer, type HttpLimits } from '../../src/ops/http.js';
import { eventually } from '../support/bridge.js';

interface Held {
  readonly socket: Socket;
  /** performance.now() when the connection was made, and when it was closed. */
  connectedAt?: number;
  closedAt?: number;
  received: string;
}

/**
 * A server and the sockets opened to it, all closed when the test ends: each test has its
 * own, so that tests running side by side do not close each other's.
 */
function lab(onTestFinished: (fn: () => Promise<void>) => void) {
  const servers: Server[] = [];
  const sockets: Held[] = [];
  onTestFinished(async () => {
    for (const held of sockets) held.socket.destroy();
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    }
  });
  return {
    async start(limits: Partial<HttpLimits> = {}): Promise<number> {
      const started = await startHttpServer('127.0.0.1', 0, { notReadyBecause: () => [] }, new Registry(), limits);
      servers.push(started.server);
      return started.port;
    },
    /** A TCP connection to the port, tracked until it closes. */
    open(port: number): Promise<Held> {
      return new Promise((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        const held: Held = { socket, received: '' };
        sockets.push(held);
        socket.on('data', (chunk: Buffer) => {
          held.received += chunk.toString();
        });
        // A server that closes at once may reset: that is a close like any other here.
        socket.on('error', () => undefined);
        socket.once('close', () => {
          held.closedAt = performance.now();
        });
        socket.once('connect', () => {
          held.connectedAt = performance.now();
          resolve(held);
        });
        socket.once('error', reject);
      });
    },
  };
}

const isOpen = (held: Held): boolean => held.closedAt === undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** GET on a connection of its own, closed after the answer. */
async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    headers: { connection: 'close' },
    signal: AbortSignal.timeout(3000),
  });
  return { status: res.status, body: await res.text() };
}

/** Closed this many ms after it was opened. */
const lifetime = (held: Held): number => held.closedAt! - held.connectedAt!;

describe('HTTP connection limits', () => {
  it('keeps 64 of 200 idle connections, closes 136 at once, the 64 after 5 s idle, then answers /healthz', async ({
    onTestFinished,
  }) => {
    const { start, open } = lab(onTestFinished);
    expect(HTTP_LIMITS.maxConnections).toBe(64);
    const port = await start();
    const held = await Promise.all(Array.from({ length: 200 }, () => open(port)));
    await eventually(() => held.filter((h) => !isOpen(h)).length >= 136, 2000, 'the connections over the limit closed');
    await sleep(300);
    expect(held.filter(isOpen)).toHaveLength(64);
    for (const closed of held.filter((h) => !isOpen(h))) expect(lifetime(closed)).toBeLessThan(2000);

    await eventually(() => held.every((h) => !isOpen(h)), 8000, 'the idle connections closed');
    const idle = held
      .map(lifetime)
      .sort((a, b) => b - a)
      .slice(0, 64);
    expect(Math.min(...idle)).toBeGreaterThanOrEqual(4500);
    expect(Math.max(...idle)).toBeLessThan(6500);
    expect(await get(port, '/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
  }, 20_000);

  it('honours another maxConnections', async ({ onTestFinished }) => {
    const { start, open } = lab(onTestFinished);
    const port = await start({ maxConnections: 5 });
    const held = await Promise.all(Array.from({ length: 12 }, () => open(port)));
    await eventually(() => held.filter((h) => !isOpen(h)).length >= 7, 2000, 'the connections over the limit closed');
    await sleep(300);
    expect(held.filter(isOpen)).toHaveLength(5);
  });

  describe.concurrent('a connection is closed within about 6 s when it', () => {
    it('sends nothing', async ({ onTestFinished }) => {
      const { start, open } = lab(onTestFinished);
      const port = await start();
      const silent = await open(port);
      await eventually(() => !isOpen(silent), 8000, 'the silent connection closed');
      expect(lifetime(silent)).toBeGreaterThanOrEqual(4500);
      expect(lifetime(silent)).toBeLessThan(6500);
      expect(await get(port, '/healthz')).toMatchObject({ status: 200 });
    }, 15_000);

    it('sends part of a header line and then nothing', async ({ onTestFinished }) => {
      const { start, open } = lab(onTestFinished);
      const port = await start();
      const partial = await open(port);
      partial.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Wait: ');
      await eventually(() => !isOpen(partial), 8000, 'the half-sent connection closed');
      expect(lifetime(partial)).toBeLessThan(7000);
    }, 15_000);

    it('keeps sending its headers one byte a second', async ({ onTestFinished }) => {
      const { start, open } = lab(onTestFinished);
      const port = await start();
      const slow = await open(port);
      slow.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
      // Never idle, so only the headers deadline can end it.
      const drip = setInterval(() => {
        if (isOpen(slow)) slow.socket.write('a');
      }, 1000);
      try {
        await eventually(() => !isOpen(slow), 9000, 'the slow connection closed');
      } finally {
        clearInterval(drip);
      }
      // The headers deadline is checked once a second: 5 s, plus up to 1 s, plus scheduling.
      expect(lifetime(slow)).toBeLessThan(7000);
      expect(slow.received).not.toContain('200 OK');
    }, 15_000);
  });

  it('still answers several requests on one kept-alive connection', async ({ onTestFinished }) => {
    const { start, open } = lab(onTestFinished);
    const port = await start();
    const client = await open(port);
    for (const path of ['/healthz', '/readyz']) {
      const before = client.received.length;
      client.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      // The answer is chunked: complete at its last, empty chunk.
      await eventually(() => client.received.slice(before).endsWith('\r\n0\r\n\r\n'), 2000, `${path} answered`);
      expect(client.received.slice(before)).toMatch(/^HTTP\/1\.1 200 OK/);
    }
    expect(isOpen(client)).toBe(true);
  });
});
