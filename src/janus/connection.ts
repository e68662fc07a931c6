/**
 * One Janus server: a socket, the bridge's session on it, and the requests waiting
 * for answers. It reconnects by itself and gets a session again; every request
 * either gets Janus's answer or a bridge error, never silence.
 */
import { bridgeError, type BridgeError } from '../errors.js';
import type { Logger } from '../log.js';
import { sleep } from '../sleep.js';
import { backoffDelay, type BackoffPolicy } from '../backoff.js';
import { FrameRouter } from './frame-router.js';
import { bindToSession, isJanusId, withCredentials, type JanusMessage } from './protocol.js';
import { JanusSocket } from './socket.js';
import { TransactionTable, type Outcome } from './transactions.js';
import type { JanusCredentials, JanusUrl } from './url.js';

export type ConnectionState = 'connecting' | 'opening-session' | 'ready' | 'disconnected' | 'stopped';

/** A lifecycle change, published on the status subject. */
export type StatusChange =
  | { state: 'connected'; session_id: number; resumed: boolean; janus_version?: string }
  | { state: 'disconnected'; reason: string; failed_requests: number }
  | { state: 'reconnecting'; attempt: number; delay_ms: number }
  | { state: 'session-replaced'; old_session_id: number; new_session_id: number; reason: string }
  | { state: 'stopped'; reason: string }
  /**
   * Published by the ownership layer: another replica serves the connection now, on the same session when it could be
   * claimed.
   */
  | { state: 'owner-changed'; old_replica: string; new_replica: string; session_id: number | null };

export interface ConnectionListener {
  /** A Janus message that answers no waiting request: parsed, and as the JSON text to publish. */
  onEvent(message: JanusMessage, text: string): void;
  /**
   * An answer to a transaction this connection never sent (another process's request
   * on a session we took over); published as an event when absent.
   */
  onUnknownAnswer?(message: JanusMessage, text: string): void;
  onStatus(change: StatusChange): void;
}

export interface ConnectionOptions {
  readonly janusId: string;
  readonly url: JanusUrl;
  readonly cmdTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly maxMessageBytes: number;
  readonly reconnect: BackoffPolicy;
  /** Janus API secret and token put on every request (never logged). */
  readonly credentials: JanusCredentials;
  /** How long, and how many, ended requests keep their client transaction for later events. */
  readonly recentTransactions: { ttlMs: number; max: number };
  /** The session of the connection this one replaces (its janus_url changed): services learn it was replaced. */
  readonly replaces?: { sessionId: number; reason: string };
  /** A session to take over with `claim` before creating one (another replica held it). */
  readonly resumeSession?: number;
  /**
   * Seconds Janus must keep a session after its WebSocket drops for a takeover to keep it (warned about when shorter).
   */
  readonly reclaimNeededSeconds?: number;
}

export interface StopOptions {
  readonly destroySession: boolean;
  /** How long requests already sent may take to be answered before they fail. */
  readonly graceMs: number;
  /** No `stopped` status: the connection lives on in another process. */
  readonly quiet?: boolean;
}

interface ExchangeOptions {
  readonly clientTransaction?: string;
  /** The bridge's own request (info, create, claim, keepalive, destroy). */
  readonly internal?: boolean;
  /** For the `destroy` sent while stopping. */
  readonly evenIfStopped?: boolean;
  /** The session the request is for, when not the current one (claim). */
  readonly session?: number;
  /** This request's deadline, when shorter than janus.cmdTimeout. */
  readonly timeoutMs?: number;
}

/** Once per Janus server and process: many connections often share one Janus. */
const serversWarnedAboutReclaim = new Set<string>();

export class JanusConnection {
  private socket: JanusSocket | undefined;
  private transactions: TransactionTable;
  private readonly router: FrameRouter;
  private currentState: ConnectionState = 'disconnected';
  private session: number | undefined;
  /** The last session we held, to tell services when theirs was replaced. */
  private previousSession: number | undefined;
  private failedAttempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private stateSince = Date.now();
  private timeoutsChecked = false;
  private janusVersion: string | undefined;
  private stopping: Promise<void> | undefined;
  /** Frames written to Janus on behalf of clients; tests use it to prove a refused request never left. */
  clientFramesSent = 0;

  constructor(
    private readonly options: ConnectionOptions,
    private readonly listener: ConnectionListener,
    private readonly log: Logger,
  ) {
    this.transactions = this.newTransactionTable();
    this.previousSession = options.resumeSession;
    this.router = new FrameRouter(
      options.recentTransactions,
      {
        transactions: () => this.transactions,
        sessionId: () => this.session,
        onEvent: (message, text) => listener.onEvent(message, text),
        onUnknownAnswer: (message, text) => (listener.onUnknownAnswer ?? listener.onEvent)(message, text),
        onSessionExpired: () => void this.replaceSession('Janus expired the session (timeout)'),
        onLateSession: (id) => {
          this.log.info({ session_id: id }, 'destroying a session whose create answer came too late');
          void this.exchange({ janus: 'destroy' }, { internal: true, session: id });
        },
      },
      log,
    );
  }

  private newTransactionTable(): TransactionTable {
    return new TransactionTable(this.options.cmdTimeoutMs, (transaction, request) =>
      this.router.abandoned(transaction, request),
    );
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  get sessionId(): number | undefined {
    return this.session;
  }

  get pendingRequests(): number {
    return this.transactions.size;
  }

  get since(): number {
    return this.stateSince;
  }

  start(): void {
    if (this.currentState !== 'disconnected' || this.socket) return;
    this.connect();
  }

  /** Sends a client's request and resolves with Janus's answer or a bridge error. */
  /** `timeoutMs`: this request's deadline, when shorter than janus.cmdTimeout. */
  request(message: JanusMessage, clientTransaction: string | undefined, timeoutMs?: number): Promise<Outcome> {
    return this.exchange(message, { clientTransaction, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
  }

  /** Sends a client's request that nobody waits for; its answers become events. */
  send(message: JanusMessage, clientTransaction: string | undefined): BridgeError | undefined {
    if (this.currentState !== 'ready' || !this.socket)
      return bridgeError('unavailable', `connection is ${this.currentState}`);
    const transaction = this.transactions.nextTransaction();
    const text = this.encode(bindToSession(message, this.session, transaction));
    if (typeof text !== 'string') return text;
    this.router.sent(transaction, clientTransaction);
    if (!this.socket.send(text)) return bridgeError('unavailable', 'socket closed');
    this.clientFramesSent++;
    return undefined;
  }

  /**
   * A frame another process received on our session (after it claimed the session) for a
   * request we sent: handled as if it had come on our socket. False when it is not ours.
   */
  routeRelayed(text: string): boolean {
    return this.router.relayed(text);
  }

  /**
   * Stops for good: waiting requests fail with `shutting_down`, the session is destroyed
   * when asked (not when another process will take it over), the socket is closed.
   */
  stop(reason: string, options: StopOptions): Promise<void> {
    // Once asked, every later call gets the same stop, and nothing reconnects meanwhile.
    this.stopping ??= this.stopNow(reason, options);
    return this.stopping;
  }

  private async stopNow(reason: string, options: StopOptions): Promise<void> {
    clearTimeout(this.reconnectTimer);
    clearInterval(this.keepaliveTimer);
    // While we wait, `stopping` keeps connect(), becomeReady() and onSocketClosed() from arming timers again.
    if (options.graceMs > 0 && this.transactions.size > 0) {
      await Promise.race([this.transactions.whenEmpty(), sleep(options.graceMs)]);
    }
    const wasReady = this.currentState === 'ready';
    this.setState('stopped');
    this.transactions.failAll(bridgeError('shutting_down', reason));
    if (wasReady && options.destroySession && this.session !== undefined) {
      const outcome = await this.exchange({ janus: 'destroy' }, { internal: true, evenIfStopped: true });
      if (!outcome.ok) this.log.warn({ reason: outcome.error.reason }, 'session not destroyed');
    }
    this.socket?.close(reason);
    this.socket = undefined;
    if (!options.quiet) this.listener.onStatus({ state: 'stopped', reason });
  }

  private connect(): void {
    if (this.stopping) return;
    this.setState('connecting');
    this.transactions = this.newTransactionTable();
    this.socket = new JanusSocket(
      {
        url: this.options.url.wsUrl,
        sendTimeoutMs: this.options.sendTimeoutMs,
        pingIntervalMs: this.options.pingIntervalMs,
        maxMessageBytes: this.options.maxMessageBytes,
      },
      {
        onOpen: () => void this.openSession(),
        onText: (text) => this.router.frame(text),
        onDropped: (reason) => this.log.warn({ reason }, 'frame from Janus dropped'),
        onClose: (reason) => this.onSocketClosed(reason),
      },
    );
  }

  /**
   * On a fresh socket: learn Janus's timeouts, then take the previous session back with
   * `claim` (its handles survive when Janus keeps sessions after a dropped transport,
   * reclaim_session_timeout), and only if that fails create a new one.
   */
  private async openSession(): Promise<void> {
    this.setState('opening-session');
    const info = await this.exchange({ janus: 'info' }, { internal: true });
    if (this.state !== 'opening-session') return;
    if (info.ok) {
      if (typeof info.answer.version_string === 'string') this.janusVersion = info.answer.version_string;
      this.checkTimeouts(info.answer);
    }
    const previous = this.previousSession;
    let replacedBecause = 'reconnected';
    if (previous !== undefined) {
      const claimed = await this.exchange({ janus: 'claim' }, { internal: true, session: previous });
      if (this.state !== 'opening-session') return;
      if (claimed.ok && claimed.answer.janus === 'success') {
        this.becomeReady(previous, true);
        return;
      }
      replacedBecause = `claim of session ${previous} failed: ${claimed.ok ? describeAnswer(claimed.answer) : claimed.error.reason}`;
    }
    await this.createSession(replacedBecause);
  }

  /** Creates a session on the open socket; when Janus will not, the socket is closed and the reconnect loop retries. */
  private async createSession(replacedBecause: string): Promise<void> {
    const created = await this.exchange({ janus: 'create' }, { internal: true });
    if (this.state !== 'opening-session') return;
    const id = created.ok ? (created.answer.data as { id?: unknown } | undefined)?.id : undefined;
    if (!created.ok || created.answer.janus !== 'success' || !isJanusId(id)) {
      const why = !created.ok ? created.error.reason : `Janus answered ${describeAnswer(created.answer)}`;
      this.socket?.close(`create failed: ${why}`);
      return;
    }
    this.announceReplacement(id, replacedBecause);
    this.becomeReady(id, false);
  }

  private becomeReady(sessionId: number, resumed: boolean): void {
    this.session = sessionId;
    this.previousSession = sessionId;
    this.failedAttempts = 0;
    clearInterval(this.keepaliveTimer);
    if (!this.stopping) this.keepaliveTimer = setInterval(() => void this.keepalive(), this.options.pingIntervalMs);
    this.setState('ready');
    if (resumed) this.log.info({ session_id: sessionId }, 'session claimed back');
    const version = this.janusVersion;
    this.listener.onStatus({
      state: 'connected',
      session_id: sessionId,
      resumed,
      ...(version ? { janus_version: version } : {}),
    });
  }

  /** A new session: tells services when it replaces one they knew (ours, or that of the connection we replace). */
  private announceReplacement(id: number, reason: string): void {
    this.log.info({ session_id: id }, 'session open');
    const ours = this.session ?? this.previousSession;
    const old = ours ?? this.options.replaces?.sessionId;
    if (old === undefined || old === id) return;
    const why = ours === undefined ? this.options.replaces!.reason : reason;
    this.listener.onStatus({ state: 'session-replaced', old_session_id: old, new_session_id: id, reason: why });
  }

  private checkTimeouts(info: JanusMessage): void {
    if (this.timeoutsChecked) return;
    this.timeoutsChecked = true;
    const timeout = info['session-timeout'];
    if (typeof timeout === 'number' && timeout > 0 && this.options.pingIntervalMs >= timeout * 1000) {
      this.log.warn(
        { session_timeout_s: timeout, ping_interval_ms: this.options.pingIntervalMs },
        "janus.pingInterval is not below Janus's session_timeout: the session will expire",
      );
    }
    const server = new URL(this.options.url.wsUrl).host;
    const reclaim = info['reclaim-session-timeout'];
    if (typeof reclaim !== 'number' || serversWarnedAboutReclaim.has(server)) return;
    const needed = this.options.reclaimNeededSeconds ?? 0;
    if (reclaim === 0) {
      serversWarnedAboutReclaim.add(server);
      this.log.warn(
        { server },
        'Janus has reclaim_session_timeout = 0: after a dropped WebSocket the session and its handles are lost (see docs/continuity.md)',
      );
    } else if (reclaim < needed) {
      serversWarnedAboutReclaim.add(server);
      this.log.warn(
        { server, reclaim_session_timeout_s: reclaim, needed_s: needed },
        "Janus's reclaim_session_timeout is shorter than a failover takes (ha.leaseTtl + connect): handles are lost when a replica dies (see docs/replicas.md)",
      );
    }
  }

  private async keepalive(): Promise<void> {
    const outcome = await this.exchange({ janus: 'keepalive' }, { internal: true });
    if (outcome.ok && outcome.answer.janus === 'error' && errorCode(outcome.answer) === 458) {
      await this.replaceSession('Janus no longer knows the session (458)');
    }
  }

  /** The session is gone but the socket is fine: create another on the same socket. */
  private async replaceSession(reason: string): Promise<void> {
    if (this.currentState !== 'ready') return;
    this.log.warn({ reason, session_id: this.session }, 'session lost');
    this.setState('opening-session');
    await this.createSession(reason);
  }

  private exchange(message: JanusMessage, options: ExchangeOptions): Promise<Outcome> {
    const internal = options.internal ?? false;
    if (!this.canSend(internal, options.evenIfStopped ?? false)) {
      return Promise.resolve({ ok: false, error: bridgeError('unavailable', `connection is ${this.currentState}`) });
    }
    const transaction = this.transactions.nextTransaction();
    const text = this.encode(bindToSession(message, options.session ?? this.session, transaction));
    if (typeof text !== 'string') return Promise.resolve({ ok: false, error: text });
    return new Promise<Outcome>((settle) => {
      const table = this.transactions;
      table.add(
        transaction,
        { verb: message.janus, clientTransaction: options.clientTransaction, internal, settle },
        options.timeoutMs,
      );
      if (!this.socket!.send(text)) {
        table.take(transaction);
        settle({ ok: false, error: bridgeError('unavailable', 'socket closed') });
        return;
      }
      if (!internal) this.clientFramesSent++;
    });
  }

  /** Clients only while ready; the bridge's own requests also while the session opens or closes. */
  private canSend(internal: boolean, evenIfStopped: boolean): boolean {
    if (!this.socket) return false;
    if (!internal) return this.currentState === 'ready';
    return this.currentState !== 'stopped' || evenIfStopped;
  }

  private encode(message: JanusMessage): string | BridgeError {
    withCredentials(message, this.options.credentials);
    let text: string;
    try {
      text = JSON.stringify(message);
    } catch (err) {
      return bridgeError('invalid_json', `cannot be serialised (${(err as Error).message})`);
    }
    const bytes = Buffer.byteLength(text);
    if (bytes > this.options.maxMessageBytes)
      return bridgeError('too_large', `${bytes} bytes, limit ${this.options.maxMessageBytes}`);
    return text;
  }

  private onSocketClosed(reason: string): void {
    clearInterval(this.keepaliveTimer);
    this.socket = undefined;
    const failed = this.transactions.failAll(bridgeError('connection_lost', reason));
    if (this.session !== undefined) this.previousSession = this.session;
    this.session = undefined;
    if (this.currentState === 'stopped') return;
    if (this.stopping) {
      this.setState('disconnected');
      return;
    }
    const wasUp = this.currentState === 'ready' || this.failedAttempts === 0;
    this.setState('disconnected');
    if (wasUp) {
      this.log.warn({ reason, failed_requests: failed }, 'disconnected from Janus');
      this.listener.onStatus({ state: 'disconnected', reason, failed_requests: failed });
    } else {
      this.log.debug({ reason }, 'reconnect attempt failed');
    }
    const delay = backoffDelay(this.failedAttempts, this.options.reconnect);
    this.failedAttempts++;
    this.listener.onStatus({ state: 'reconnecting', attempt: this.failedAttempts, delay_ms: delay });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private setState(state: ConnectionState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.stateSince = Date.now();
  }
}

function errorCode(message: JanusMessage): number | undefined {
  const error = message.error as { code?: unknown } | undefined;
  return typeof error?.code === 'number' ? error.code : undefined;
}

function describeAnswer(message: JanusMessage): string {
  const error = message.error as { code?: unknown; reason?: unknown } | undefined;
  return error ? `error ${String(error.code)} ${String(error.reason)}` : `"${message.janus}"`;
}
