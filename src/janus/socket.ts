/**
 * One WebSocket to Janus (subprotocol `janus-protocol`, or `janus-admin-protocol`) with the guards a long-lived
 * link needs: a handshake deadline, WebSocket ping/pong to find a dead peer without
 * waiting for TCP, a deadline on every write, and a size limit on incoming messages.
 * It reports what happened; what to do about it is the connection's business.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';

export interface SocketOptions {
  readonly url: string;
  readonly sendTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly maxMessageBytes: number;
  /** The WebSocket subprotocol: `janus-protocol` (the default) or `janus-admin-protocol` for the Admin API. */
  readonly subprotocol?: string;
}

export interface SocketListener {
  onOpen(): void;
  onText(text: string): void;
  /** A frame that was dropped (binary, or its handling threw); the socket stays open. */
  onDropped(reason: string): void;
  /** Called once, whatever closed the socket. */
  onClose(reason: string): void;
}

export class JanusSocket {
  private readonly ws: WebSocket;
  private closed = false;
  private peerAlive = true;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Start times of writes not yet handed to the kernel, oldest first. */
  private readonly unflushed: number[] = [];
  private writeWatchdog: NodeJS.Timeout | undefined;
  private corked = false;

  constructor(
    private readonly options: SocketOptions,
    private readonly listener: SocketListener,
  ) {
    this.ws = new WebSocket(options.url, options.subprotocol ?? 'janus-protocol', {
      handshakeTimeout: options.sendTimeoutMs,
      maxPayload: options.maxMessageBytes,
      perMessageDeflate: false,
    });
    this.ws.on('open', () => {
      this.startHeartbeat();
      listener.onOpen();
    });
    this.ws.on('message', (data, isBinary) => {
      this.peerAlive = true;
      try {
        if (isBinary) listener.onDropped('binary frame');
        else listener.onText(data.toString());
      } catch (err) {
        // A throw would unwind into ws's reader, which then reads no further frame, and on to
        // the process as an uncaught exception: one frame must cost that frame only.
        this.reportFailedFrame(err);
      }
    });
    this.ws.on('pong', () => {
      this.peerAlive = true;
    });
    this.ws.on('unexpected-response', (_req, res) => this.close(`handshake refused: HTTP ${res.statusCode}`));
    this.ws.on('error', (err: Error & { code?: string }) => this.close(describeError(err)));
    this.ws.on('close', (code, reason) =>
      this.close(`closed by peer (${code}${reason.length ? ' ' + reason.toString() : ''})`),
    );
  }

  get isOpen(): boolean {
    return !this.closed && this.ws.readyState === WebSocket.OPEN;
  }

  /** Sends a text frame; a write that does not reach the kernel within sendTimeout resets the socket. */
  send(text: string): boolean {
    if (!this.isOpen) return false;
    this.corkUntilNextTick();
    this.unflushed.push(performance.now());
    if (!this.writeWatchdog) this.armWriteWatchdog();
    this.ws.send(text, (err) => {
      this.unflushed.shift();
      if (err) this.close(`write failed: ${err.message}`);
    });
    return true;
  }

  /**
   * Frames sent in the same tick (a batch of NATS requests read at once) leave in one
   * write instead of one system call each: the TCP socket is corked until the next tick.
   */
  private corkUntilNextTick(): void {
    if (this.corked) return;
    // ws keeps its net.Socket in _socket; it has no public handle for batching writes.
    const tcp = (this.ws as unknown as { _socket?: Socket })._socket;
    if (!tcp) return;
    this.corked = true;
    tcp.cork();
    process.nextTick(() => {
      this.corked = false;
      tcp.uncork();
    });
  }

  /** Closes the socket and reports `reason`; later calls do nothing. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.disarmWriteWatchdog();
    // terminate(), not close(): a peer that stopped reading would never complete a closing handshake.
    this.ws.removeAllListeners('close');
    this.ws.on('error', () => {});
    this.ws.terminate();
    this.listener.onClose(reason);
  }

  /** Says, as a dropped frame, that handling one failed: the error's message (bounded), never the frame. */
  private reportFailedFrame(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    try {
      this.listener.onDropped(`frame handling failed: ${message.length > 200 ? `${message.slice(0, 200)}…` : message}`);
    } catch {
      // Nothing is left to tell: the frame is dropped, the socket stays open.
    }
  }

  private startHeartbeat(): void {
    this.heartbeat = setInterval(() => {
      if (!this.peerAlive) {
        this.close(`no pong within ${this.options.pingIntervalMs} ms`);
        return;
      }
      this.peerAlive = false;
      this.ws.ping();
    }, this.options.pingIntervalMs);
  }

  /**
   * One timer for all writes, armed for the oldest unflushed one. It is left to run out
   * when everything was flushed (then it stops), not cleared and armed again on every
   * write: one request at a time would otherwise cost a timer each.
   */
  private armWriteWatchdog(): void {
    const oldest = this.unflushed[0] ?? performance.now();
    const wait = Math.max(0, oldest + this.options.sendTimeoutMs - performance.now());
    this.writeWatchdog = setTimeout(() => {
      this.writeWatchdog = undefined;
      const head = this.unflushed[0];
      if (head === undefined) return;
      if (performance.now() - head >= this.options.sendTimeoutMs) {
        this.close(`write not flushed within janus.sendTimeout (${this.options.sendTimeoutMs} ms)`);
      } else {
        this.armWriteWatchdog();
      }
    }, wait);
  }

  private disarmWriteWatchdog(): void {
    clearTimeout(this.writeWatchdog);
    this.writeWatchdog = undefined;
  }
}

function describeError(err: Error & { code?: string }): string {
  if (err.message.includes('Max payload size exceeded')) return 'incoming message larger than janus.maxMessageBytes';
  return err.code ? `${err.code}: ${err.message}` : err.message;
}
