/**
 * One Janus Admin API WebSocket (subprotocol `janus-admin-protocol`), kept open and reconnected
 * with backoff, and the admin requests waiting on it. There is no session: the link is ready as
 * soon as the socket is open. Every request gets Janus's answer or a bridge error, never silence;
 * an answer that comes after its request ended has nobody to go to and is dropped.
 */
import { bridgeError } from '../errors.js';
import type { Logger } from '../log.js';
import { sleep } from '../sleep.js';
import { answeredTransaction, toAdminWire } from './admin-protocol.js';
import { backoffDelay, type BackoffPolicy } from '../backoff.js';
import { forClient, parseJanusFrame, type JanusMessage } from './protocol.js';
import { JanusSocket } from './socket.js';
import { TransactionTable, type AnswerOrError } from './transactions.js';
import type { JanusUrl } from './url.js';

/** Every state an Admin API link can be in. */
export const ADMIN_LINK_STATES = ['connecting', 'ready', 'disconnected', 'stopped'] as const;
export type AdminLinkState = (typeof ADMIN_LINK_STATES)[number];

/** What an Admin API link reports about itself. */
export interface AdminLinkStats {
  readonly state: AdminLinkState;
  /** Since when it is in that state (ms since the epoch). */
  readonly since: number;
  readonly pendingRequests: number;
  /** Frames written to Janus (requests that went out). */
  readonly framesSent: number;
}

export interface AdminLinkOptions {
  readonly url: JanusUrl;
  /** Put on every request as `admin_secret` (never logged); none: requests go without. */
  readonly adminSecret: string | undefined;
  readonly cmdTimeoutMs: number;
  readonly sendTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly maxMessageBytes: number;
  readonly reconnect: BackoffPolicy;
}

export class AdminLink {
  private socket: JanusSocket | undefined;
  private transactions: TransactionTable;
  private currentState: AdminLinkState = 'disconnected';
  private stateSince = Date.now();
  private failedAttempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Why stop() was called: what requests that come after it are told. */
  private stopReason = '';
  /** Frames written to Janus (see stats()). */
  private framesSent = 0;

  constructor(
    private readonly options: AdminLinkOptions,
    private readonly log: Logger,
  ) {
    this.transactions = new TransactionTable(options.cmdTimeoutMs);
  }

  get state(): AdminLinkState {
    return this.currentState;
  }

  stats(): AdminLinkStats {
    return {
      state: this.currentState,
      since: this.stateSince,
      pendingRequests: this.transactions.size,
      framesSent: this.framesSent,
    };
  }

  /** The URL as it may be shown: no admin secret (taken out), other credentials as `***`. */
  get redactedUrl(): string {
    return this.options.url.redacted;
  }

  start(): void {
    if (this.socket || this.stopping) return;
    this.connect();
  }

  /** Sends an admin request (already validated) and resolves with Janus's answer or a bridge error. */
  request(message: JanusMessage, clientTransaction: string | undefined, timeoutMs?: number): Promise<AnswerOrError> {
    if (this.currentState !== 'ready' || !this.socket) {
      return Promise.resolve({
        ok: false,
        // Stopped for good answers 613, as a stopped connection does: the next owner serves it.
        error:
          this.currentState === 'stopped'
            ? bridgeError('shutting_down', this.stopReason)
            : bridgeError('unavailable', `the Admin API link is ${this.currentState}`),
      });
    }
    const table = this.transactions;
    const transaction = table.nextTransaction();
    let text: string;
    try {
      text = JSON.stringify(toAdminWire(message, transaction, this.options.adminSecret));
    } catch (err) {
      return Promise.resolve({
        ok: false,
        error: bridgeError('invalid_json', `cannot be serialised (${(err as Error).message})`),
      });
    }
    const bytes = Buffer.byteLength(text);
    if (bytes > this.options.maxMessageBytes) {
      return Promise.resolve({
        ok: false,
        error: bridgeError('too_large', `${bytes} bytes with the admin secret, limit ${this.options.maxMessageBytes}`),
      });
    }
    return new Promise<AnswerOrError>((settle) => {
      table.add(transaction, { verb: message.janus, clientTransaction, sessionCommand: false, settle }, timeoutMs);
      if (!this.socket!.send(text)) {
        table.take(transaction);
        settle({ ok: false, error: bridgeError('unavailable', 'the Admin API socket closed') });
        return;
      }
      this.framesSent++;
    });
  }

  /**
   * Stops for good: requests already sent get up to `graceMs` to be answered, then fail with
   * `shutting_down`; the socket is closed and nothing reconnects.
   */
  async stop(reason: string, graceMs = 0): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopReason = reason;
    clearTimeout(this.reconnectTimer);
    if (graceMs > 0 && this.transactions.size > 0) await Promise.race([this.transactions.whenEmpty(), sleep(graceMs)]);
    this.setState('stopped');
    this.transactions.failAll(bridgeError('shutting_down', reason));
    this.socket?.close(reason);
    this.socket = undefined;
  }

  private connect(): void {
    if (this.stopping) return;
    this.setState('connecting');
    this.transactions = new TransactionTable(this.options.cmdTimeoutMs);
    this.socket = new JanusSocket(
      {
        url: this.options.url.wsUrl,
        subprotocol: 'janus-admin-protocol',
        sendTimeoutMs: this.options.sendTimeoutMs,
        pingIntervalMs: this.options.pingIntervalMs,
        maxMessageBytes: this.options.maxMessageBytes,
      },
      {
        onOpen: () => this.opened(),
        onText: (text) => this.frame(text),
        onDropped: (reason) => this.log.warn({ reason }, 'frame from the Janus Admin API dropped'),
        onClose: (reason) => this.closed(reason),
      },
    );
  }

  private opened(): void {
    if (this.stopping) return;
    this.failedAttempts = 0;
    this.setState('ready');
    this.log.info({ admin_url: this.options.url.redacted }, 'Janus Admin API link open');
  }

  private frame(text: string): void {
    const parsed = parseJanusFrame(text);
    if (!parsed.ok) {
      this.log.warn({ reason: parsed.reason }, 'frame from the Janus Admin API dropped');
      return;
    }
    const transaction = answeredTransaction(parsed.message);
    const pending = transaction === undefined ? undefined : this.transactions.take(transaction);
    if (!pending || transaction === undefined) {
      // A late answer (its request timed out), or an error Janus sent without a transaction.
      this.log.debug(
        { type: parsed.message.janus.slice(0, 64), late: transaction !== undefined },
        'Admin API message that answers no waiting request dropped',
      );
      return;
    }
    const { message, text: forTheClient } = forClient(parsed.message, text, transaction, pending.clientTransaction);
    pending.settle({ ok: true, answer: message, text: forTheClient });
  }

  private closed(reason: string): void {
    this.socket = undefined;
    const failed = this.transactions.failAll(bridgeError('connection_lost', reason));
    if (this.stopping || this.currentState === 'stopped') return;
    const wasUp = this.currentState === 'ready' || this.failedAttempts === 0;
    this.setState('disconnected');
    const delay = backoffDelay(this.failedAttempts, this.options.reconnect);
    this.failedAttempts++;
    if (wasUp)
      this.log.warn({ reason, failed_requests: failed, retry_in_ms: delay }, 'Janus Admin API link down; reconnecting');
    else
      this.log.debug(
        { reason, attempt: this.failedAttempts, retry_in_ms: delay },
        'Admin API reconnect attempt failed',
      );
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private setState(state: AdminLinkState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.stateSince = Date.now();
  }
}
