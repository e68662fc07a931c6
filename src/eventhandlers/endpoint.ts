/**
 * The endpoint Janus's WebSocket event handler connects to: a WebSocket server of its own
 * (eventHandler.host:eventHandler.port) where each Janus opens `/<janus_id>` and sends its
 * events. Every replica accepts every listed janus_id: this does not depend on who holds a
 * connection's lease, so a Kubernetes Service in front of all replicas works.
 *
 * An upgrade is refused, before any WebSocket exists, with 401 (wrong or missing secret),
 * 404 (a path that names no listed janus_id) or 503 (no connection list loaded yet): counted
 * each time, logged once per reason and janus_id (Janus retries every 8 s at most, forever).
 * A link whose janus_id leaves the list is closed; Janus then retries and gets 404.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EventSink } from '../bridge/event-sink.js';
import { shownJanusId } from '../connections/spec.js';
import type { Logger } from '../log.js';
import { admit, REFUSAL_STATUS, targetForLog, type Admission } from './admission.js';
import { EvhPublisher } from './publisher.js';
import type { EvhTallies } from './tally.js';

export interface EvhEndpointOptions {
  readonly host: string;
  readonly port: number;
  /** Empty: no secret asked. */
  readonly secret: string;
  readonly maxMessageBytes: number;
  /** A WebSocket ping to each link this often; a link that answered nothing since the last one is dropped. */
  readonly pingIntervalMs: number;
  /**
   * Whether the sink holds so much that reading should wait: the links are then paused (Janus
   * keeps its events: TCP back-pressure) and read again once it is false, or after
   * MAX_PAUSE_MS at most. Checked after each message.
   */
  readonly backlogged?: () => boolean;
  /** Tests: another MAX_PAUSE_MS. */
  readonly maxPauseMs?: number;
}

export interface EvhEndpointParts {
  readonly prefix: string;
  readonly sink: EventSink;
  readonly tallies: EvhTallies;
  readonly log: Logger;
}

interface Link {
  readonly janusId: string;
  readonly publisher: EvhPublisher;
  alive: boolean;
}

/** Distinct refusals logged (reason and janus_id or path); beyond, they are only counted. */
const MAX_LOGGED_REFUSALS = 1000;
/** Connections besides one link per listed Janus (a Janus restarting while its old link lingers, refused callers). */
const SPARE_CONNECTIONS = 64;
/** How often a backlog is looked at while the links wait. */
const BACKLOG_CHECK_MS = 10;
/**
 * The longest the links wait for a backlog: long enough for a burst (Janus's backlog after a
 * reconnect, NATS confirming once a second), short of holding Janus's memory through an outage.
 */
export const MAX_PAUSE_MS = 5_000;
const STATUS_TEXT: Record<number, string> = { 401: 'Unauthorized', 404: 'Not Found', 503: 'Service Unavailable' };

export class EvhEndpoint {
  private readonly wss: WebSocketServer;
  private readonly links = new Map<WebSocket, Link>();
  private listed: ReadonlySet<string> | undefined;
  private readonly loggedRefusals = new Set<string>();
  private readonly ticker: NodeJS.Timeout;
  private closing = false;
  /** While set, every link is paused and this timer looks for the backlog to clear. */
  private pausedBy: NodeJS.Timeout | undefined;
  private pausedAt = 0;
  /** A backlog outlasted MAX_PAUSE_MS: no pause until it clears (what does not fit is dropped and counted). */
  private overflowing = false;
  /** Times the links were paused, since start (for tests and the benchmark). */
  pauses = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly options: EvhEndpointOptions,
    private readonly parts: EvhEndpointParts,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      clientTracking: false,
      maxPayload: options.maxMessageBytes,
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.ticker = setInterval(() => this.ping(), options.pingIntervalMs);
    this.ticker.unref();
  }

  static async start(options: EvhEndpointOptions, parts: EvhEndpointParts): Promise<EvhEndpoint> {
    // Bounds for what never becomes a link: headers within 5 s, checked every second.
    const server = createServer(
      { headersTimeout: 5_000, requestTimeout: 10_000, connectionsCheckingInterval: 1_000 },
      (req, res) => {
        res
          .writeHead(426, { 'content-type': 'application/json', connection: 'close' })
          .end(JSON.stringify({ error: "WebSocket only: Janus's WebSocket event handler connects to /<janus_id>" }));
      },
    );
    server.maxConnections = SPARE_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => parts.log.error({ err: err.message }, 'event-handler endpoint error'));
    return new EvhEndpoint(server, (server.address() as AddressInfo).port, options, parts);
  }

  /** Links open now. */
  get linkCount(): number {
    return this.links.size;
  }

  /**
   * The current connection list: new links are admitted for these ids only; links of ids no longer in it are closed.
   */
  setListed(janusIds: Iterable<string>): void {
    const listed = new Set(janusIds);
    this.listed = listed;
    this.server.maxConnections = listed.size + SPARE_CONNECTIONS;
    for (const [ws, link] of this.links) {
      if (!listed.has(link.janusId)) ws.close(1008, 'janus_id no longer in the connection list');
    }
    for (const [janusId] of [...this.parts.tallies.entries()]) {
      if (!listed.has(janusId)) this.parts.tallies.remove(janusId);
    }
  }

  /**
   * Stops taking links and closes those open with 1001, waiting (up to timeoutMs) for each
   * Janus's answer to the close, so that everything it sent before is received and published;
   * what is still open then is cut.
   */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    clearInterval(this.ticker);
    this.resumeAll();
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const links = [...this.links.keys()];
    const closed = links.map(
      (ws) =>
        new Promise<void>((resolve) => {
          ws.once('close', () => resolve());
          ws.close(1001, 'bridge shutting down');
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    for (const ws of this.links.keys()) ws.terminate();
    this.server.closeAllConnections();
    await serverClosed;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const admission: Admission = this.closing
      ? { ok: false, reason: 'stopping', status: REFUSAL_STATUS.stopping }
      : admit(req.url, { secret: this.options.secret, isListed: (id) => this.listed?.has(id) });
    if (!admission.ok) {
      this.refuse(req, socket, admission);
      return;
    }
    const { janusId } = admission;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, janusId, req));
  }

  private refuse(req: IncomingMessage, socket: Duplex, refusal: Extract<Admission, { ok: false }>): void {
    this.parts.tallies.refusals[refusal.reason]++;
    const statusLine = `HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status] ?? 'Refused'}`;
    socket.end(`${statusLine}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    if (this.closing) return;
    const shown = refusal.janusId !== undefined ? shownJanusId(refusal.janusId) : targetForLog(req.url);
    const key = `${refusal.reason} ${shown}`;
    if (this.loggedRefusals.has(key) || this.loggedRefusals.size >= MAX_LOGGED_REFUSALS) return;
    this.loggedRefusals.add(key);
    this.parts.log.warn(
      {
        reason: refusal.reason,
        status: refusal.status,
        janus_id: refusal.janusId !== undefined ? shown : undefined,
        path: targetForLog(req.url),
        remote: req.socket.remoteAddress,
      },
      `event-handler connection refused (${refusal.reason}); further refusals like it are only counted`,
    );
  }

  private accept(ws: WebSocket, janusId: string, req: IncomingMessage): void {
    const { parts } = this;
    if (this.closing || this.listed?.has(janusId) !== true) {
      ws.close(1001, 'bridge shutting down');
      return;
    }
    const tally = parts.tallies.of(janusId);
    const publisher = new EvhPublisher({ prefix: parts.prefix, janusId, sink: parts.sink, tally, log: parts.log });
    const link: Link = { janusId, publisher, alive: true };
    this.links.set(ws, link);
    tally.links++;
    for (const key of [...this.loggedRefusals]) {
      if (key.endsWith(` ${shownJanusId(janusId)}`)) this.loggedRefusals.delete(key);
    }
    const remote = req.socket.remoteAddress;
    parts.log.info({ janus_id: janusId, remote, protocol: ws.protocol || undefined }, 'event-handler link opened');
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      link.alive = true;
      try {
        if (isBinary) publisher.malformedMessage(data.length);
        else publisher.message(data);
      } catch (err) {
        // Not expected (the publisher catches its own failures); a throw here would stop ws reading this link.
        parts.log.error({ janus_id: janusId, err }, 'event-handler message handling failed');
      }
      if (!this.pausedBy) this.checkBacklog();
    });
    ws.on('pong', () => {
      link.alive = true;
    });
    ws.on('error', (err: Error & { code?: string }) => {
      parts.log.warn({ janus_id: janusId, remote, code: err.code, err: err.message }, 'event-handler link failed');
    });
    if (this.pausedBy) ws.pause();
    ws.once('close', (code: number) => {
      this.links.delete(ws);
      tally.links--;
      publisher.stop();
      parts.log.info({ janus_id: janusId, remote, code }, 'event-handler link closed');
    });
  }

  private checkBacklog(): void {
    // Closing: the links must be read to the end (their close answers), backlog or not.
    if (this.closing) return;
    const backlogged = this.options.backlogged?.() ?? false;
    if (!backlogged) this.overflowing = false;
    else if (!this.overflowing) this.pauseAll();
  }

  /** Stops reading every link until the backlog clears (MAX_PAUSE_MS at most); Janus holds what it has not sent. */
  private pauseAll(): void {
    this.pauses++;
    if (this.pauses === 1 || this.pauses % 100 === 0) {
      this.parts.log.info(
        { pauses: this.pauses },
        'NATS takes events slower than the event handlers send them: their links wait for it ' +
          '(Janus keeps the events meanwhile)',
      );
    }
    for (const ws of this.links.keys()) ws.pause();
    this.pausedAt = performance.now();
    this.pausedBy = setInterval(() => {
      if (!this.options.backlogged?.()) {
        this.resumeAll();
      } else if (performance.now() - this.pausedAt > (this.options.maxPauseMs ?? MAX_PAUSE_MS)) {
        this.overflowing = true;
        this.parts.log.warn(
          { paused_ms: this.options.maxPauseMs ?? MAX_PAUSE_MS },
          'NATS did not catch up with the event handlers: reading them again; what does not fit is dropped and counted',
        );
        this.resumeAll();
      }
    }, BACKLOG_CHECK_MS);
  }

  private resumeAll(): void {
    if (!this.pausedBy) return;
    clearInterval(this.pausedBy);
    this.pausedBy = undefined;
    for (const [ws, link] of this.links) {
      // A pong that could not be read while paused is no sign of a dead peer.
      link.alive = true;
      ws.resume();
    }
  }

  private ping(): void {
    for (const [ws, link] of this.links) {
      if (this.pausedBy) {
        link.alive = true;
        continue;
      }
      if (!link.alive) {
        this.parts.log.warn(
          { janus_id: link.janusId, silent_ms: 2 * this.options.pingIntervalMs },
          'event-handler link silent: dropped',
        );
        ws.terminate();
        continue;
      }
      link.alive = false;
      ws.ping();
    }
  }
}
