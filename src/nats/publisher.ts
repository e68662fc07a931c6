/** Publishing to NATS for a daemon: within a memory bound, through outages and stalled servers. */
import type { MsgHdrs, NatsConnection } from 'nats';
import type { Logger } from '../log.js';
import { PendingBudget } from './pending-budget.js';

export type PublishResult = 'sent' | 'buffered' | 'dropped';

/** What a message is, for the counts and the log: events and status messages may be dropped, answers only loudly. */
export type PublishKind = 'event' | 'status' | 'reply';

export interface PublisherSettings {
  /** How long the server may leave a ping unanswered before the connection is taken as stalled. */
  readonly stallTimeoutMs: number;
  /** Most bytes handed over and not confirmed by the server, or kept while NATS is away. */
  readonly maxPendingBytes: number;
}

/** What the publisher reports: where it stands now, and what it counted since start. */
export interface PublisherStats {
  /** Connected to a server that answers (isConnected). */
  readonly connected: boolean;
  /** Bytes handed to the client and not yet confirmed, plus those kept during an outage (pendingBytes). */
  readonly pendingBytes: number;
  /** Messages kept while NATS was away (sent once it was back, unless dropped). */
  readonly buffered: number;
  /** Messages dropped because nats.maxPendingBytes was reached. */
  readonly dropped: number;
  /** Messages the client refused (it threw). */
  readonly failed: number;
  /** Servers left because they stopped answering pings. */
  readonly stalls: number;
  /** Bytes handed to connections that went away before the server confirmed them. */
  readonly lostBytes: number;
  /** Answers to requests dropped at the bound, or refused by the client when sent after an outage. */
  readonly droppedReplies: number;
}

interface Parked {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs | undefined;
  readonly kind: PublishKind;
  readonly bytes: number;
}

/**
 * Publishing that survives a NATS server that goes away or stops reading, within a memory
 * bound (`maxPendingBytes`):
 * - While connected, every message is handed to the client and counted until a ping sent
 *   after it is answered; past the bound, messages are dropped and counted.
 * - A ping left unanswered for `stallTimeoutMs` means the server stalled: the connection is
 *   dropped so that the client dials another server. nats.js cannot do this alone: before it
 *   gives a connection up it waits for its writes to be flushed, which a stopped server
 *   never does, and meanwhile everything published piles up in the socket.
 * - While NATS is away, messages are kept here, not in the client (which discards its own
 *   buffer at every dial attempt), and sent once it is back; past the bound, dropped and
 *   counted. One log line says what an outage cost.
 */
export class NatsPublisher {
  private connected = true;
  private readonly budget = new PendingBudget();
  private parked: Parked[] = [];
  private parkedBytes = 0;
  /** Of the current outage, for its log line. */
  private outage = { buffered: 0, dropped: 0, failed: 0, lost: 0 };
  /** Since start (see stats()). */
  private readonly totals = { buffered: 0, dropped: 0, failed: 0, stalls: 0, lostBytes: 0, droppedReplies: 0 };
  private readonly reconnectListeners: Array<() => void> = [];
  private readonly ticker: NodeJS.Timeout;
  /** Makes a ping answered after its connection was left count for nothing. */
  private generation = 0;

  constructor(
    readonly nc: NatsConnection,
    private readonly log: Logger,
    private readonly settings: PublisherSettings,
  ) {
    void this.watch();
    // A ping every quarter of the timeout (at most every second): a stall is seen within the timeout plus one tick.
    this.ticker = setInterval(() => this.tick(), Math.min(1000, Math.max(50, settings.stallTimeoutMs / 4)));
    this.ticker.unref();
  }

  /** Connected to a server that answers: what readiness asks. */
  get isConnected(): boolean {
    return this.connected && !this.nc.isClosed();
  }

  /** Bytes handed to the client and not yet confirmed, plus those kept during an outage. */
  get pendingBytes(): number {
    return this.budget.unconfirmed + this.parkedBytes;
  }

  stats(): PublisherStats {
    return { connected: this.isConnected, pendingBytes: this.pendingBytes, ...this.totals };
  }

  /** Called each time the client is connected again after an outage. */
  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  publish(subject: string, data: Uint8Array, headers?: MsgHdrs, kind: PublishKind = 'event'): PublishResult {
    const bytes = messageBytes(subject, data, headers);
    if (this.pendingBytes + bytes > this.settings.maxPendingBytes) return this.drop(kind, subject);
    if (!this.connected) {
      this.parked.push({ subject, data, headers, kind, bytes });
      this.parkedBytes += bytes;
      this.outage.buffered++;
      this.totals.buffered++;
      return 'buffered';
    }
    return this.handOver(subject, data, headers, bytes) ? 'sent' : 'dropped';
  }

  stop(): void {
    clearInterval(this.ticker);
  }

  private handOver(subject: string, data: Uint8Array, headers: MsgHdrs | undefined, bytes: number): boolean {
    try {
      this.nc.publish(subject, data, headers ? { headers } : undefined);
    } catch (err) {
      this.outage.failed++;
      this.totals.failed++;
      this.log.warn({ err: (err as Error).message, subject }, 'message not published');
      return false;
    }
    this.budget.handed(bytes);
    // Confirmation comes with an answered ping: under a heavy flow, ask for one before the bound is near, not only
    // once a second.
    if (this.budget.unconfirmed > this.settings.maxPendingBytes / 4 && !this.budget.probing)
      this.probe(performance.now());
    return true;
  }

  private drop(kind: PublishKind, subject: string): 'dropped' {
    this.outage.dropped++;
    this.totals.dropped++;
    // An answer is owed to someone waiting: never lost without a line.
    if (kind === 'reply') {
      this.totals.droppedReplies++;
      this.log.warn(
        { subject, pending_bytes: this.pendingBytes, limit: this.settings.maxPendingBytes },
        'answer dropped: NATS is not taking messages and nats.maxPendingBytes is reached',
      );
    }
    return 'dropped';
  }

  private tick(): void {
    if (!this.connected || this.nc.isClosed()) return;
    const now = performance.now();
    const waited = this.budget.probeAge(now);
    if (waited === undefined) this.probe(now);
    else if (waited > this.settings.stallTimeoutMs) this.leaveStalledServer(waited);
  }

  /** A ping now; its answer confirms every byte handed over before it. */
  private probe(now: number): void {
    const generation = this.generation;
    const mark = this.budget.startProbe(now);
    this.nc.flush().then(
      () => {
        if (generation === this.generation) this.budget.confirm(mark);
      },
      () => {
        if (generation === this.generation) this.budget.abandonProbe();
      },
    );
  }

  private leaveStalledServer(waitedMs: number): void {
    this.connected = false;
    this.totals.stalls++;
    this.log.warn(
      { server: this.nc.getServer(), waited_ms: Math.round(waitedMs), unconfirmed_bytes: this.budget.unconfirmed },
      'NATS server stalled: no answer to a ping within nats.stallTimeout; leaving it for another server',
    );
    this.writeOffUnconfirmed();
    dropConnection(this.nc, this.log);
  }

  /** What was handed to a connection that is gone never reached the server: counted, not waited for. */
  private writeOffUnconfirmed(): void {
    this.generation++;
    const lost = this.budget.writeOffUnconfirmed();
    this.outage.lost += lost;
    this.totals.lostBytes += lost;
  }

  private sendParked(): void {
    const parked = this.parked;
    this.parked = [];
    this.parkedBytes = 0;
    for (const message of parked) {
      if (!this.handOver(message.subject, message.data, message.headers, message.bytes) && message.kind === 'reply')
        this.totals.droppedReplies++;
    }
  }

  private async watch(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'pingTimer') continue;
      const data = typeof status.data === 'string' ? status.data : undefined;
      if (status.type === 'disconnect') {
        const wasConnected = this.connected;
        this.connected = false;
        this.writeOffUnconfirmed();
        if (wasConnected)
          this.log.warn({ nats_status: status.type, data }, 'NATS disconnected: messages are kept until it is back');
      } else if (status.type === 'reconnect') {
        this.connected = true;
        const { buffered, dropped, failed, lost } = this.outage;
        this.outage = { buffered: 0, dropped: 0, failed: 0, lost: 0 };
        this.sendParked();
        this.log.info(
          { nats_status: status.type, data, buffered_sent: buffered, dropped, failed, lost_bytes: lost },
          `NATS reconnected: ${buffered} messages kept during the outage sent, ${dropped} dropped`,
        );
        for (const listener of this.reconnectListeners) listener();
      } else {
        this.log[status.type === 'error' ? 'warn' : 'debug']({ nats_status: status.type, data }, `NATS ${status.type}`);
      }
    }
  }
}

/** What a message costs in the client's buffer, near enough: payload, subject, and a header block. */
function messageBytes(subject: string, data: Uint8Array, headers: MsgHdrs | undefined): number {
  return data.byteLength + subject.length + (headers ? HEADER_BLOCK_ESTIMATE : 0) + PROTOCOL_LINE_ESTIMATE;
}

/** The bridge's header blocks (event headers, service errors) are 100–300 bytes. */
const HEADER_BLOCK_ESTIMATE = 256;
const PROTOCOL_LINE_ESTIMATE = 32;

/** Where nats.js 2.x keeps its socket and its server list (not public API: each is checked before use). */
interface ClientInternals {
  transport?: { socket?: { destroy(err?: Error): void } };
  servers?: { servers?: unknown; getCurrentServer?: () => unknown };
}

/**
 * Moves the stalled server to the end of the client's list: nats.js dials the head of the list
 * next, which would be the server just left (a stopped one accepts the TCP connection and
 * says nothing, so that dial waits the whole dial timeout before the next server is tried).
 */
function leaveLast(servers: ClientInternals['servers']): void {
  const list = servers?.servers;
  const current = servers?.getCurrentServer?.();
  if (!Array.isArray(list) || current === undefined || list.length < 2) return;
  const at = list.indexOf(current);
  if (at < 0) return;
  list.splice(at, 1);
  list.push(current);
}

/**
 * Drops the client's connection at once so that it dials another server. nats.js's own
 * reconnect() first waits for its pending writes to be flushed, which never happens when the
 * server stopped reading; destroying the socket makes the client see an ordinary disconnect.
 * The socket is not public API: when it is not where nats.js 2.x keeps it, reconnect() is
 * the fallback (slower, but not stuck forever once the kernel gives the socket up).
 */
function dropConnection(nc: NatsConnection, log: Logger): void {
  const protocol = (nc as unknown as { protocol?: ClientInternals }).protocol;
  leaveLast(protocol?.servers);
  const socket = protocol?.transport?.socket;
  if (socket) {
    socket.destroy(new Error('NATS server stalled'));
    return;
  }
  log.warn('the NATS client keeps its socket elsewhere than expected: asking it to reconnect instead');
  // It rejects only when the client is closed, which the daemon watches (nc.closed()) and exits on.
  void nc.reconnect().catch(() => undefined);
}
