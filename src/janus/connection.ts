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
import { TransactionTable, type AnswerOrError } from './transactions.js';
import type { JanusCredentials, JanusUrl } from './url.js';

/**
 * A stop with a grace waits at least this long after the last fire-and-forget request: its
 * follow-up events may reach the session's next owner, which passes them back to us while we
 * finish (src/ha/relay.ts), and only we know the client's transaction to publish them with.
 */
export const FIRE_AND_FORGET_LINGER_MS = 1000;

/** Every state a connection can be in, in the order of its life. */
export const CONNECTION_STATES = ['connecting', 'opening-session', 'ready', 'disconnected', 'stopped'] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

/** A lifecycle change of the connection, published on the status subject. */
export type StatusChange =
  | { state: 'connected'; session_id: number; resumed: boolean; janus_version?: string }
  | { state: 'disconnected'; reason: string; failed_requests: number }
  | { state: 'reconnecting'; attempt: number; delay_ms: number }
  | { state: 'session-replaced'; old_session_id: number; new_session_id: number; reason: string }
  | { state: 'stopped'; reason: string };

/** What a connection reports about itself (admin.status, metrics, readiness). */
export interface JanusConnectionStats {
  readonly state: ConnectionState;
  /** Since when it is in that state (ms since the epoch). */
  readonly since: number;
  readonly sessionId: number | undefined;
  /** Requests waiting for Janus's answer: clients' and the bridge's own. */
  readonly pendingRequests: number;
  /** Frames written to Janus for clients (requests and fire-and-forget), not the bridge's own session commands. */
  readonly clientFramesSent: number;
}

export interface ConnectionListener {
  /** A Janus message that answers no waiting request: parsed, and as the JSON text to publish. */
  onEvent(message: JanusMessage, text: string): void;
  /**
   * An answer to a transaction this connection never sent (another process's request
   * on a session we took over); published as an event when absent.
   */
  onUnknownAnswer?(message: JanusMessage, text: string): void;
  onStatus(change: StatusChange): void;
  /**
   * Janus's answer to the first `info` of this connection (its version and timeouts), for a
   * higher layer to check Janus's settings against its own.
   */
  onFirstInfo?(info: JanusMessage): void;
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
}

export interface JanusStopOptions {
  readonly destroySession: boolean;
  /** How long requests already sent may take to be answered before they fail. */
  readonly graceMs: number;
  /** No `stopped` status: the connection lives on in another process. */
  readonly quiet?: boolean;
}

/** What goes into the transaction table with a request: whose it is, and for a client's, its transaction. */
type Sender =
  { readonly sessionCommand: true } | { readonly sessionCommand: false; readonly clientTransaction?: string };

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
  /** Why stop() was called: what requests that come after it are told. */
  private stopReason = '';
  /** Frames written to Janus on behalf of clients (see stats()). */
  private clientFramesSent = 0;
  /** performance.now() of the last fire-and-forget request sent (see FIRE_AND_FORGET_LINGER_MS). */
  private lastFireAndForgetAt = Number.NEGATIVE_INFINITY;

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
          void this.sessionCommand({ janus: 'destroy' }, id);
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

  stats(): JanusConnectionStats {
    return {
      state: this.currentState,
      since: this.stateSince,
      sessionId: this.session,
      pendingRequests: this.transactions.size,
      clientFramesSent: this.clientFramesSent,
    };
  }

  start(): void {
    if (this.currentState !== 'disconnected' || this.socket) return;
    this.connect();
  }

  /**
   * Sends a client's request (only while ready) and resolves with Janus's answer or a bridge
   * error. `timeoutMs`: this request's deadline, when shorter than janus.cmdTimeout.
   */
  request(message: JanusMessage, clientTransaction: string | undefined, timeoutMs?: number): Promise<AnswerOrError> {
    if (this.currentState !== 'ready') return Promise.resolve(this.unavailable());
    return this.transmit(message, this.session, { sessionCommand: false, clientTransaction }, timeoutMs);
  }

  /** Sends a client's request that nobody waits for (only while ready); its answers become events. */
  fireAndForget(message: JanusMessage, clientTransaction: string | undefined): BridgeError | undefined {
    if (this.currentState !== 'ready' || !this.socket) return this.notReady();
    const transaction = this.transactions.nextTransaction();
    const text = this.encode(bindToSession(message, this.session, transaction));
    if (typeof text !== 'string') return text;
    this.router.sent(transaction, clientTransaction);
    if (!this.socket.send(text)) return bridgeError('unavailable', 'socket closed');
    this.clientFramesSent++;
    this.lastFireAndForgetAt = performance.now();
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
  stop(reason: string, options: JanusStopOptions): Promise<void> {
    // Once asked, every later call gets the same stop, and nothing reconnects meanwhile.
    this.stopping ??= this.stopNow(reason, options);
    return this.stopping;
  }

  private async stopNow(reason: string, options: JanusStopOptions): Promise<void> {
    this.stopReason = reason;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.keepaliveTimer);
    // While we wait, `stopping` keeps connect(), becomeReady() and onSocketClosed() from arming timers again.
    if (options.graceMs > 0) {
      const deadline = performance.now() + options.graceMs;
      if (this.transactions.size > 0) await Promise.race([this.transactions.whenEmpty(), sleep(options.graceMs)]);
      const lingering = Math.min(deadline, this.lastFireAndForgetAt + FIRE_AND_FORGET_LINGER_MS) - performance.now();
      if (lingering > 0) await sleep(lingering);
    }
    const wasReady = this.currentState === 'ready';
    this.setState('stopped');
    this.transactions.failAll(bridgeError('shutting_down', reason));
    if (wasReady && options.destroySession && this.session !== undefined) {
      // Stopped already (nothing else may go out), yet the socket is still open for this last command.
      const outcome = await this.transmit({ janus: 'destroy' }, this.session, { sessionCommand: true });
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
    const info = await this.sessionCommand({ janus: 'info' });
    if (this.state !== 'opening-session') return;
    if (info.ok) {
      if (typeof info.answer.version_string === 'string') this.janusVersion = info.answer.version_string;
      this.checkTimeouts(info.answer);
    }
    const previous = this.previousSession;
    let replacedBecause = 'reconnected';
    if (previous !== undefined) {
      const claimed = await this.sessionCommand({ janus: 'claim' }, previous);
      if (this.state !== 'opening-session') return;
      if (claimed.ok && claimed.answer.janus === 'success') {
        this.becomeReady(previous, true);
        return;
      }
      const why = claimed.ok ? describeAnswer(claimed.answer) : claimed.error.reason;
      replacedBecause = `claim of session ${previous} failed: ${why}`;
    }
    await this.createSession(replacedBecause);
  }

  /** Creates a session on the open socket; when Janus will not, the socket is closed and the reconnect loop retries. */
  private async createSession(replacedBecause: string): Promise<void> {
    const created = await this.sessionCommand({ janus: 'create' });
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
    this.listener.onFirstInfo?.(info);
  }

  private async keepalive(): Promise<void> {
    const outcome = await this.sessionCommand({ janus: 'keepalive' });
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

  /**
   * The bridge's own command on its session (info, create, claim, keepalive, the destroy of a
   * session created too late): also while the session opens, not once stopped. `session`: the
   * one it is for, when not the current one (claim).
   */
  private sessionCommand(message: JanusMessage, session = this.session): Promise<AnswerOrError> {
    if (this.currentState === 'stopped') return Promise.resolve(this.unavailable());
    return this.transmit(message, session, { sessionCommand: true });
  }

  private unavailable(): AnswerOrError {
    return { ok: false, error: this.notReady() };
  }

  /**
   * Why nothing can be sent now: stopped for good (613: retrying here is useless, another replica or a restarted
   * daemon answers), or not ready yet (611).
   */
  private notReady(): BridgeError {
    return this.currentState === 'stopped'
      ? bridgeError('shutting_down', this.stopReason)
      : bridgeError('unavailable', `connection is ${this.currentState}`);
  }

  /** Writes a request on the socket and resolves with its answer; whether it may go now is the caller's to say. */
  private transmit(
    message: JanusMessage,
    session: number | undefined,
    sender: Sender,
    timeoutMs?: number,
  ): Promise<AnswerOrError> {
    if (!this.socket) return Promise.resolve(this.unavailable());
    const transaction = this.transactions.nextTransaction();
    const text = this.encode(bindToSession(message, session, transaction));
    if (typeof text !== 'string') return Promise.resolve({ ok: false, error: text });
    return new Promise<AnswerOrError>((settle) => {
      const table = this.transactions;
      const clientTransaction = sender.sessionCommand ? undefined : sender.clientTransaction;
      table.add(
        transaction,
        { verb: message.janus, clientTransaction, sessionCommand: sender.sessionCommand, settle },
        timeoutMs,
      );
      if (!this.socket!.send(text)) {
        table.take(transaction);
        settle({ ok: false, error: bridgeError('unavailable', 'socket closed') });
        return;
      }
      if (!sender.sessionCommand) this.clientFramesSent++;
    });
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
