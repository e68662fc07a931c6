/**
 * Where each message from Janus goes: to the request waiting for its transaction, to the
 * event subject (with the client's transaction put back while it is remembered), or
 * nowhere. It remembers ended requests, so that their late answers still find the way.
 */
import type { Logger } from '../log.js';
import {
  ackTransaction,
  forClient,
  isJanusId,
  mayHaveFollowUps,
  parseJanusFrame,
  route,
  type JanusMessage,
} from './protocol.js';
import { RecentTransactions, type PendingRequest, type TransactionTable } from './transactions.js';

export interface RouterHooks {
  /** The table of the current socket (a new one per socket). */
  transactions(): TransactionTable;
  sessionId(): number | undefined;
  onEvent(message: JanusMessage, text: string): void;
  /** A message with a transaction this connection never sent nor remembers. */
  onUnknownAnswer(message: JanusMessage, text: string): void;
  /** Janus said our session timed out. */
  onSessionExpired(): void;
  /** Janus created a session after we had given up on the request: it must be destroyed. */
  onLateSession(sessionId: number): void;
}

/** Our own timed-out session commands are rare (one per failed create, claim, keepalive): a few are enough. */
const MAX_ABANDONED_SESSION_COMMANDS = 100;

export class FrameRouter {
  private readonly recent: RecentTransactions;
  private readonly abandonedSessionCommands = new Map<string, string>();

  constructor(
    recent: { ttlMs: number; max: number },
    private readonly hooks: RouterHooks,
    private readonly log: Logger,
  ) {
    this.recent = new RecentTransactions(recent.max, recent.ttlMs);
  }

  /** A fire-and-forget request went out: its answers become events with the client's transaction. */
  sent(transaction: string, clientTransaction: string | undefined): void {
    this.recent.remember(transaction, clientTransaction);
  }

  /** A request ended without its answer (timeout, connection lost): keep track of what may still come. */
  abandoned(transaction: string, request: PendingRequest): void {
    if (!request.sessionCommand) {
      this.recent.remember(transaction, request.clientTransaction);
      return;
    }
    this.abandonedSessionCommands.set(transaction, request.verb);
    if (this.abandonedSessionCommands.size > MAX_ABANDONED_SESSION_COMMANDS)
      this.abandonedSessionCommands.delete(this.abandonedSessionCommands.keys().next().value!);
  }

  /** Handles one text frame from Janus; what goes wrong with it is logged and stays with it. */
  frame(text: string): void {
    try {
      this.route(text);
    } catch (err) {
      // The socket reader and every other frame must go on; the frame itself may hold secrets, so it is not logged.
      const message = err instanceof Error ? err.message : String(err);
      this.log.error(
        { err: message.length > 200 ? `${message.slice(0, 200)}…` : message, bytes: text.length },
        'frame handling failed',
      );
    }
  }

  private route(text: string): void {
    const ack = ackTransaction(text);
    if (ack !== undefined && route('ack', this.hooks.transactions().verbOf(ack)) === 'drop') return;
    const parsed = parseJanusFrame(text);
    if (!parsed.ok) {
      this.log.warn({ reason: parsed.reason, bytes: text.length }, 'frame from Janus dropped');
      return;
    }
    const message = parsed.message;
    if (typeof message.transaction !== 'string') {
      this.notification(message, text);
      return;
    }
    // Not ours (an answer to a request another process sent on a session we took over).
    if (!this.answer(message, text, message.transaction)) this.hooks.onUnknownAnswer(message, text);
  }

  /**
   * A frame that reached another process (which took our session over) and answers one of
   * our transactions; false, and nothing done, when it answers none of ours.
   */
  relayed(text: string): boolean {
    const parsed = parseJanusFrame(text);
    if (!parsed.ok || typeof parsed.message.transaction !== 'string') return false;
    return this.answer(parsed.message, text, parsed.message.transaction);
  }

  /** Routes a message with a transaction; false when the transaction is not one of ours. */
  private answer(message: JanusMessage, text: string, transaction: string): boolean {
    const transactions = this.hooks.transactions();
    const routing = route(message.janus, transactions.verbOf(transaction));
    if (routing === 'drop') return true;
    if (routing === 'answer') {
      const request = transactions.take(transaction)!;
      if (!request.sessionCommand && mayHaveFollowUps(request.verb))
        this.recent.remember(transaction, request.clientTransaction);
      // The bridge's own session commands read the answer only: no text to make for anyone.
      const { message: answer, text: answerText } = request.sessionCommand
        ? { message, text }
        : forClient(message, text, transaction, request.clientTransaction);
      request.settle({ ok: true, answer, text: answerText });
      return true;
    }
    const abandonedVerb = this.abandonedSessionCommands.get(transaction);
    if (abandonedVerb !== undefined) {
      this.abandonedSessionCommands.delete(transaction);
      this.lateSessionCommandAnswer(abandonedVerb, message);
      return true;
    }
    const known = this.recent.lookup(transaction);
    if (!known.found) return false;
    const event = forClient(message, text, transaction, known.client);
    this.hooks.onEvent(event.message, event.text);
    return true;
  }

  private notification(message: JanusMessage, text: string): void {
    if (message.janus === 'ack') return;
    this.hooks.onEvent(message, text);
    if (message.janus === 'timeout' && message.session_id === this.hooks.sessionId()) this.hooks.onSessionExpired();
  }

  /** Late answers to our own session commands are never events; a session created too late is given back. */
  private lateSessionCommandAnswer(verb: string, message: JanusMessage): void {
    const id = (message.data as { id?: unknown } | undefined)?.id;
    if (verb !== 'create' || message.janus !== 'success' || !isJanusId(id) || id === this.hooks.sessionId()) return;
    this.hooks.onLateSession(id);
  }
}
